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
        let mut metadata = R::response_metadata();
        // Borrow dropshot's description of typed headers for ours.
        let documented = dropshot::HttpResponseHeaders::<
            dropshot::HttpResponseOk<()>,
            RateLimitHeaders,
        >::response_metadata();
        metadata.headers.extend(documented.headers);
        metadata
    }

    fn status_code(&self) -> StatusCode {
        match &self.outcome {
            Ok(success) => success.status_code(),
            Err(error) => error.status().as_status(),
        }
    }
}

/// The rate-limit headers every published operation's success carries
/// (documentation only: `Reply` writes them at run time). Header values are
/// strings: dropshot serializes typed headers from string fields only.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct RateLimitHeaders {
    /// Requests allowed per window (60 per token; 5 per email and per client
    /// address on `POST /auth/token`, and 20 token creations per hour per
    /// account).
    #[serde(rename = "X-RateLimit-Limit")]
    pub limit: String,
    /// Requests left in the current window.
    #[serde(rename = "X-RateLimit-Remaining")]
    pub remaining: String,
    /// IETF draft-ietf-httpapi-ratelimit-headers policy, e.g.
    /// `"token";q=60;w=60` (several policies comma-separated).
    #[serde(rename = "RateLimit-Policy")]
    pub policy: String,
    /// IETF draft-ietf-httpapi-ratelimit-headers state of the tightest
    /// policy, e.g. `"token";r=59;t=41` (r: remaining, t: seconds to reset).
    #[serde(rename = "RateLimit")]
    pub current: String,
}

/// A success whose headers are documented by `H` (written at run time with
/// [`WithHeaders::header`]), a `304 Not Modified` for a conditional read, or
/// an answer kept earlier and replayed byte for byte (an `Idempotency-Key`
/// retry).
#[derive(Debug)]
pub struct WithHeaders<R, H> {
    content: Content<R>,
    headers: Vec<(HeaderName, HeaderValue)>,
    documented: std::marker::PhantomData<fn() -> H>,
}

#[derive(Debug)]
enum Content<R> {
    Typed(R),
    NotModified,
    /// A JSON body (empty for a 204) as it was first sent.
    Kept {
        status: StatusCode,
        body: Vec<u8>,
    },
}

impl<R, H> WithHeaders<R, H> {
    fn with(content: Content<R>) -> Self {
        WithHeaders {
            content,
            headers: Vec::new(),
            documented: std::marker::PhantomData,
        }
    }

    pub fn new(response: R) -> Self {
        Self::with(Content::Typed(response))
    }

    /// `304 Not Modified`: the client's copy is current.
    pub fn not_modified() -> Self {
        Self::with(Content::NotModified)
    }

    /// An answer kept earlier: `status` with `body`, JSON unless empty.
    pub fn kept(status: StatusCode, body: Vec<u8>) -> Self {
        Self::with(Content::Kept { status, body })
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl<R, H> HttpResponse for WithHeaders<R, H>
where
    R: HttpResponse + Send + Sync + 'static,
    H: schemars::JsonSchema + serde::Serialize + Send + Sync + 'static,
{
    fn to_result(self) -> Result<http::Response<dropshot::Body>, dropshot::HttpError> {
        let mut response = match self.content {
            Content::Typed(success) => success.to_result()?,
            Content::NotModified => {
                let mut response = http::Response::new(dropshot::Body::empty());
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                response
            }
            Content::Kept { status, body } => {
                let json = !body.is_empty();
                let mut response = http::Response::new(dropshot::Body::from(body));
                *response.status_mut() = status;
                if json {
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                }
                response
            }
        };
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        Ok(response)
    }

    fn response_metadata() -> ApiEndpointResponse {
        let mut metadata = R::response_metadata();
        let documented =
            dropshot::HttpResponseHeaders::<dropshot::HttpResponseOk<()>, H>::response_metadata();
        metadata.headers.extend(documented.headers);
        metadata
    }

    fn status_code(&self) -> StatusCode {
        match &self.content {
            Content::Typed(success) => success.status_code(),
            Content::NotModified => StatusCode::NOT_MODIFIED,
            Content::Kept { status, .. } => *status,
        }
    }
}
