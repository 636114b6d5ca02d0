//! [`StreamedOk`]: a 200 JSON response whose body is written while it is
//! being sent.
//!
//! `HttpResponseOk<T>` serializes the whole value before the first byte
//! leaves, so a large list costs its full size in memory per request and
//! the database and the serializer work one after the other. `StreamedOk<T>`
//! takes a body that produces the same JSON in chunks, and borrows
//! `HttpResponseOk<T>`'s OpenAPI metadata, so the published document cannot
//! tell the two apart: the schema is `T`, the status 200, the media type
//! `application/json`.
//!
//! Whoever builds the body owes the schema: the chunks must concatenate to
//! a JSON value of `T`. A body that fails part-way must end with an error,
//! never cleanly, so that the client sees a broken transfer rather than a
//! complete-looking truncated document.

use std::marker::PhantomData;

use dropshot::{ApiEndpointResponse, Body, HttpResponse, HttpResponseOk};
use http::{StatusCode, header};

#[derive(Debug)]
pub struct StreamedOk<T> {
    body: Body,
    // `fn() -> T`: the schema type is only documentation, so it must not
    // make the response `!Send` or `!Sync`.
    schema: PhantomData<fn() -> T>,
}

impl<T> StreamedOk<T> {
    /// `body` must yield a JSON document of schema `T`.
    pub fn new(body: Body) -> Self {
        StreamedOk {
            body,
            schema: PhantomData,
        }
    }
}

impl<T> HttpResponse for StreamedOk<T>
where
    T: schemars::JsonSchema + serde::Serialize + Send + Sync + 'static,
{
    fn to_result(self) -> Result<http::Response<Body>, dropshot::HttpError> {
        Ok(http::Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON)
            .body(self.body)?)
    }

    fn response_metadata() -> ApiEndpointResponse {
        HttpResponseOk::<T>::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, schemars::JsonSchema)]
    struct Thing {
        name: String,
    }

    #[test]
    fn documents_exactly_like_http_response_ok() {
        let streamed = StreamedOk::<Thing>::response_metadata();
        let buffered = HttpResponseOk::<Thing>::response_metadata();
        assert_eq!(streamed.success, buffered.success);
        assert_eq!(streamed.description, buffered.description);
        assert_eq!(
            format!("{:?}", streamed.schema),
            format!("{:?}", buffered.schema)
        );
        assert_eq!(streamed.headers.len(), buffered.headers.len());
    }

    #[test]
    fn answers_200_with_json_and_the_given_body() {
        let response = StreamedOk::<Thing>::new(Body::from("{\"name\":\"x\"}"))
            .to_result()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            dropshot::CONTENT_TYPE_JSON
        );
    }
}
