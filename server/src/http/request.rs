//! The one wrapper every handler goes through: bearer authentication and
//! the API-access flag on the way in, error mapping and the request log on
//! the way out. Plain functions, so every handler shows what it runs.

use anitrack_spec::{ApiError, Reply};
use dropshot::{HttpResponse, RequestContext};
use http::header;

use super::ApiContext;
use crate::auth::token::{self, TokenHash};
use crate::db::tokens::{self, Principal};
use crate::error::Error;

/// Query parameters that would carry a bearer token (RFC 6750's
/// `access_token`, Laravel's `api_token`). Tokens in URLs leak into logs and
/// histories, so a request carrying one is refused outright.
const TOKEN_QUERY_PARAMS: &[&str] = &["access_token", "api_token"];

fn token_in_query(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            TOKEN_QUERY_PARAMS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
        })
    })
}

/// The token from `Authorization: Bearer <token>`, if the header is exactly
/// that (scheme case-insensitive, one space, one token).
fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, credentials) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(credentials)
}

/// Resolves the request's bearer token to the account it acts as.
pub async fn authenticate(rqctx: &RequestContext<ApiContext>) -> Result<Principal, Error> {
    let request = &rqctx.request;
    if token_in_query(request.uri().query()) {
        return Err(Error::Unauthenticated);
    }
    let candidate = bearer(request.headers()).ok_or(Error::Unauthenticated)?;
    if !token::is_well_formed(candidate) {
        return Err(Error::Unauthenticated);
    }
    let db = rqctx.context().db.get().await?;
    let principal = tokens::authenticate(&db, &TokenHash::of(candidate))
        .await?
        .ok_or(Error::Unauthenticated)?;
    if !principal.account.api_access {
        return Err(Error::ApiAccessDisabled);
    }
    Ok(principal)
}

/// Turns a handler's outcome into its response and logs it. Internal causes
/// of 5xx go to the log, never to the client; no header or body is logged.
pub fn respond<R: HttpResponse>(
    rqctx: &RequestContext<ApiContext>,
    outcome: Result<R, Error>,
) -> Reply<R> {
    let outcome = outcome.map_err(ApiError::from);
    let request = &rqctx.request;
    let status = match &outcome {
        Ok(response) => response.status_code(),
        Err(error) => error.status().as_status(),
    };
    match &outcome {
        Err(error) if status.is_server_error() => tracing::error!(
            request_id = %rqctx.request_id,
            method = %request.method(),
            path = %request.uri().path(),
            status = status.as_u16(),
            error = %error,
            "request failed"
        ),
        _ => tracing::info!(
            request_id = %rqctx.request_id,
            method = %request.method(),
            path = %request.uri().path(),
            status = status.as_u16(),
            "request completed"
        ),
    }
    Reply::from_result(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_the_query_string_are_spotted() {
        assert!(token_in_query(Some("access_token=atk_x")));
        assert!(token_in_query(Some("status=watching&api_token=x")));
        assert!(token_in_query(Some("ACCESS_TOKEN")));
        assert!(!token_in_query(Some("status=watching")));
        assert!(!token_in_query(Some("x_access_token=1")));
        assert!(!token_in_query(None));
    }

    #[test]
    fn only_a_single_bearer_credential_is_read() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer atk_abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("atk_abc"));
        headers.insert(header::AUTHORIZATION, "bearer atk_abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("atk_abc"));
        headers.insert(header::AUTHORIZATION, "Basic dXNlcjpwdw==".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer a".parse().unwrap());
        headers.append(header::AUTHORIZATION, "Bearer b".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
