//! Request extractors that keep dropshot's OpenAPI metadata but answer with
//! the contract's status codes instead of dropshot's blanket 400s.

use std::marker::PhantomData;

use dropshot::{
    ApiEndpointBodyContentType, ClientErrorStatusCode, ExclusiveExtractor, ExtractorMetadata,
    HttpError, RequestContext, ServerContext, StreamingBody, TypedBody,
};
use http::header;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::messages;

/// A JSON request body documented as `T` but kept as a raw JSON value, so the
/// server can validate every field itself and report all failures at once as
/// a Laravel-style 422 (dropshot's `TypedBody` stops at the first problem and
/// answers 400).
///
/// Transport-level problems are answered here: a body over the limit is 413
/// (refused from `Content-Length` before reading, or as soon as the stream
/// passes the limit), a `Content-Type` other than JSON is 415, and bytes that
/// are not JSON at all are 400. An empty body counts as `{}`, so a missing
/// field is a 422 like any other.
#[derive(Debug)]
pub struct JsonBody<T> {
    value: serde_json::Value,
    documented: PhantomData<fn() -> T>,
}

impl<T> JsonBody<T> {
    pub fn new(value: serde_json::Value) -> Self {
        JsonBody {
            value,
            documented: PhantomData,
        }
    }

    pub fn into_value(self) -> serde_json::Value {
        self.value
    }
}

// dropshot's extractor trait fixes the error type to `HttpError`; its status
// and message pass unchanged through `From<HttpError> for ApiError`.
fn client_error(status: ClientErrorStatusCode, message: String) -> HttpError {
    HttpError::for_client_error(None, status, message)
}

fn is_json_media_type(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

#[async_trait::async_trait]
impl<T> ExclusiveExtractor for JsonBody<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        let limit = rqctx.request_body_max_bytes();
        let too_large = || {
            client_error(
                ClientErrorStatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body must not be larger than {limit} bytes."),
            )
        };
        let headers = request.headers();
        if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
            let acceptable = content_type
                .to_str()
                .map(is_json_media_type)
                .unwrap_or(false);
            if !acceptable {
                return Err(client_error(
                    ClientErrorStatusCode::UNSUPPORTED_MEDIA_TYPE,
                    messages::UNSUPPORTED_MEDIA_TYPE.to_string(),
                ));
            }
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }

        let streaming = StreamingBody::from_request(rqctx, request).await?;
        let mut bytes = Vec::new();
        let mut stream = std::pin::pin!(streaming.into_stream());
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            match chunk {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                // dropshot reports the cap as a 400; the contract says 413.
                Err(error) if error.external_message.contains("exceeded maximum size") => {
                    return Err(too_large());
                }
                Err(error) => return Err(error),
            }
        }

        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody::new(serde_json::Value::Object(Default::default())));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody::new)
            .map_err(|_| {
                client_error(
                    ClientErrorStatusCode::BAD_REQUEST,
                    messages::BODY_NOT_JSON.to_string(),
                )
            })
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        // Reuse TypedBody's description so the document shows `T` as the
        // required JSON request body.
        TypedBody::<T>::metadata(content_type)
    }
}

/// A numeric id in a URL path, documented as an int64.
///
/// A segment that is not a positive integer (`/list/abc`) names no resource,
/// so it is a 404 like any other missing object, instead of dropshot's 400
/// from a failed path parse: [`PathId::get`] returns `None` and the handler
/// answers 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathId(Option<i64>);

impl PathId {
    pub fn get(self) -> Option<i64> {
        self.0
    }
}

impl From<i64> for PathId {
    fn from(value: i64) -> Self {
        PathId(Some(value).filter(|v| *v > 0))
    }
}

impl<'de> Deserialize<'de> for PathId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // Only plain decimal digits: no sign, no spaces, no leading `+`.
        let id = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<i64>().ok().filter(|v| *v > 0)
        } else {
            None
        };
        Ok(PathId(id))
    }
}

impl JsonSchema for PathId {
    fn schema_name() -> String {
        "PathId".to_string()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        i64::json_schema(generator)
    }
}

/// A path segment that must equal a fixed literal; see [`crate::routes`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct LiteralSegment(String);

impl LiteralSegment {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl JsonSchema for LiteralSegment {
    fn schema_name() -> String {
        "LiteralSegment".to_string()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(generator)
    }
}

/// Query parameters documented as `T` (every field optional) but kept as raw
/// name/value pairs, so the server validates them itself and answers a bad
/// filter with a Laravel-style 422 naming the parameter, instead of
/// dropshot's 400. Repeated names keep their last value.
#[derive(Debug)]
pub struct QueryParams<T> {
    pairs: Vec<(String, String)>,
    documented: PhantomData<fn() -> T>,
}

impl<T> QueryParams<T> {
    pub fn from_query(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        QueryParams {
            pairs,
            documented: PhantomData,
        }
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[async_trait::async_trait]
impl<T> dropshot::SharedExtractor for QueryParams<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, HttpError> {
        Ok(Self::from_query(rqctx.request.uri().query()))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Query<T> as dropshot::SharedExtractor>::metadata(content_type)
    }
}

/// Request headers documented as `T` (every field optional) but kept raw,
/// so the server judges each value itself (dropshot's `Header` refuses the
/// whole request when any header, even one it does not document, is not
/// visible ASCII).
#[derive(Debug)]
pub struct RequestHeaders<T> {
    headers: http::HeaderMap,
    documented: PhantomData<fn() -> T>,
}

impl<T> RequestHeaders<T> {
    pub fn from_map(headers: http::HeaderMap) -> Self {
        RequestHeaders {
            headers,
            documented: PhantomData,
        }
    }

    /// Every value of `name`, joined with `, ` as HTTP list headers combine;
    /// bytes that are not UTF-8 become U+FFFD, which no rule accepts.
    pub fn get(&self, name: &str) -> Option<String> {
        let mut values = self.headers.get_all(name).iter().peekable();
        values.peek()?;
        let joined: Vec<String> = values
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        Some(joined.join(", "))
    }
}

#[async_trait::async_trait]
impl<T> dropshot::SharedExtractor for RequestHeaders<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, HttpError> {
        Ok(Self::from_map(rqctx.request.headers().clone()))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Header<T> as dropshot::SharedExtractor>::metadata(content_type)
    }
}
