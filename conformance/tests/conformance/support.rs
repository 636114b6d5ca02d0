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

/// Raw `GET path` with the token, as sent (for what the client cannot
/// send, or a response whose headers matter).
pub async fn get_response(env: &TestEnv, token: &str, path: &str) -> reqwest::Response {
    env.http
        .get(env.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Raw `GET path` with the token: status and body as sent (see
/// [`get_response`]).
pub async fn get_as_sent(env: &TestEnv, token: &str, path: &str) -> (u16, Value) {
    status_json(get_response(env, token, path).await).await
}

/// What a generated-client call returns.
pub type Answer<T> =
    Result<anitrack_client::ResponseValue<T>, anitrack_client::Error<types::Error>>;

/// The error response of a failed generated-client call, whole: its
/// status, headers and body.
pub fn error_response<T: std::fmt::Debug>(
    result: Answer<T>,
) -> anitrack_client::ResponseValue<types::Error> {
    match result {
        Err(anitrack_client::Error::ErrorResponse(response)) => response,
        other => panic!("expected an error response, got {other:?}"),
    }
}

/// The status and error body of a failed generated-client call.
pub fn api_error<T: std::fmt::Debug>(result: Answer<T>) -> (u16, types::Error) {
    let response = error_response(result);
    (response.status().as_u16(), response.into_inner())
}

/// The status and headers of a generated-client call the server answered,
/// whether the contract calls the answer a success or an error.
pub fn head<T: std::fmt::Debug>(result: &Answer<T>) -> (u16, &reqwest::header::HeaderMap) {
    match result {
        Ok(response) => (response.status().as_u16(), response.headers()),
        Err(anitrack_client::Error::ErrorResponse(response)) => {
            (response.status().as_u16(), response.headers())
        }
        Err(other) => panic!("expected an answer, got {other:?}"),
    }
}

/// [`api_error`] with the body as JSON, to compare with the contract's
/// bodies written as JSON (or with another response's body).
pub fn api_error_json<T: std::fmt::Debug>(result: Answer<T>) -> (u16, Value) {
    refusal_json(error_response(result))
}

/// The status and body, as JSON, of an error response whose headers were
/// read first (see [`error_response`]).
pub fn refusal_json(response: anitrack_client::ResponseValue<types::Error>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = serde_json::to_value(response.into_inner()).expect("an error body serializes");
    (status, body)
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

/// The sign-in form's CSRF token and its cookie (`name=value`), as a
/// browser would get them.
pub async fn login_form(http: &reqwest::Client, base: &str) -> (String, String) {
    let response = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("login CSRF cookie")
        .to_string();
    let page = response.text().await.expect("page");
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf_token field")
        .to_string();
    (token, cookie)
}

/// A client that does not follow redirects, to see the settings page's
/// own answers.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Signs in on the settings page with a fresh form, as a browser at
/// `client` (sent as `X-Forwarded-For`; the server must trust 127.0.0.1).
pub async fn web_sign_in(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
    client: &str,
) -> reqwest::Response {
    web_sign_in_with(http, base, email, password, client, None).await
}

/// [`web_sign_in`] from a browser that also sends `extra_cookie`
/// (`name=value`), such as a device cookie from an earlier sign-in.
pub async fn web_sign_in_with(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
    client: &str,
    extra_cookie: Option<&str>,
) -> reqwest::Response {
    let (token, csrf_cookie) = login_form(http, base).await;
    let cookie = match extra_cookie {
        Some(extra) => format!("{csrf_cookie}; {extra}"),
        None => csrf_cookie,
    };
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf_token", &token)
        .append_pair("email", email)
        .append_pair("password", password)
        .finish();
    http.post(format!("{base}/login"))
        .header("cookie", cookie)
        .header("x-forwarded-for", client)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST /login")
}

/// The `name=value` of the response's `Set-Cookie` whose name contains
/// `name` (the `__Host-` prefix aside).
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .find(|pair| pair.split('=').next().is_some_and(|n| n.ends_with(name)))
        .map(String::from)
}

/// Signs in on the settings page as `email` (with [`PASSWORD`]); returns
/// the session cookie (`name=value`) and the tokens page's CSRF token.
pub async fn settings_session(env: &TestEnv, email: &str) -> (String, String) {
    let http = no_redirects();
    let response = web_sign_in(&http, &env.server.base_url(), email, PASSWORD, "127.0.0.1").await;
    assert_eq!(response.status().as_u16(), 303, "signing in as {email}");
    let session = set_cookie(&response, "anitrack_session").expect("session cookie");
    let page = http
        .get(env.url("/settings/tokens"))
        .header("cookie", &session)
        .send()
        .await
        .expect("GET /settings/tokens")
        .text()
        .await
        .expect("page");
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf_token field")
        .to_string();
    (session, csrf)
}

/// The status of `GET /user` with `token`.
pub async fn user_status(env: &TestEnv, token: &str) -> u16 {
    env.http
        .get(env.url("/api/v1/user"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

/// `POST /auth/token` as sent by a client at `client` (`X-Forwarded-For`).
pub async fn issue_from(
    env: &TestEnv,
    client: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    env.http
        .post(env.url("/api/v1/auth/token"))
        .header("x-forwarded-for", client)
        .json(&serde_json::json!({"email": email, "password": password, "device_name": "x"}))
        .send()
        .await
        .expect("POST /auth/token")
}
