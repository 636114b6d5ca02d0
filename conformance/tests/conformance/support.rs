//! Small helpers shared by the suite's modules.

use anitrack_client::types;
use serde_json::Value;

pub use anitrack_conformance::harness::{CliOutput, PASSWORD, TestEnv};

/// Status and parsed JSON body of a raw response.
pub async fn status_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, json)
}

/// The status and error body of a failed generated-client call.
pub fn api_error<T: std::fmt::Debug>(
    result: Result<anitrack_client::ResponseValue<T>, anitrack_client::Error<types::Error>>,
) -> (u16, types::Error) {
    match result {
        Err(anitrack_client::Error::ErrorResponse(response)) => {
            (response.status().as_u16(), response.into_inner())
        }
        other => panic!("expected an error response, got {other:?}"),
    }
}

/// The body of the contract's 401.
pub fn unauthenticated() -> Value {
    serde_json::json!({"message": "Unauthenticated."})
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// An RFC 3339 UTC timestamp with a `Z` suffix and whole seconds.
pub fn is_contract_timestamp(text: &str) -> bool {
    text.len() == 20 && text.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}
