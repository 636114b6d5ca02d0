//! [`Reply`]: the response type of every operation.
//!
//! dropshot lets a handler's error type choose only a status and a body, but
//! the contract needs headers on errors (`WWW-Authenticate` on 401,
//! `Retry-After` on 429/503) and extra headers on successes (rate-limit
//! headers). `Reply<R>` implements `HttpResponse` by delegating the OpenAPI
//! metadata to the typed success response `R`, so the document still shows
//! the real success type, while at run time it can answer with any
//! [`ApiError`] and attach headers to either outcome.

use dropshot::{ApiEndpointResponse, HttpResponse};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::ApiError;

#[derive(Debug)]
pub struct Reply<R> {
    outcome: Result<R, ApiError>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl<R> Reply<R> {
    pub fn ok(response: R) -> Self {
        Reply {
            outcome: Ok(response),
            headers: Vec::new(),
        }
    }

    pub fn error(error: ApiError) -> Self {
        Reply {
            outcome: Err(error),
            headers: Vec::new(),
        }
    }

    pub fn from_result(outcome: Result<R, ApiError>) -> Self {
        Reply {
            outcome,
            headers: Vec::new(),
        }
    }

    /// Adds a header to whichever response this turns out to be.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn outcome(&self) -> &Result<R, ApiError> {
        &self.outcome
    }
}

impl<R> HttpResponse for Reply<R>
where
    R: HttpResponse + Send + Sync + 'static,
{
    fn to_result(self) -> Result<http::Response<dropshot::Body>, dropshot::HttpError> {
        let mut response = match self.outcome {
            Ok(success) => success.to_result()?,
            Err(error) => error.into_response(),
        };
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        Ok(response)
    }

    fn response_metadata() -> ApiEndpointResponse {
        R::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        match &self.outcome {
            Ok(success) => success.status_code(),
            Err(error) => error.status().as_status(),
        }
    }
}
