//! The signed-in browser: its session cookie, the forms it posts and their
//! CSRF tokens (the session's synchronizer token, or, before sign-in, a
//! double-submit cookie the server signed).

use subtle::ConstantTimeEq as _;

use super::cookies;
use crate::auth::sessions::{self, Session};
use crate::error::Error;
use crate::request::Call;

/// Cookie names before the `__Host-` prefix ([`cookies::name`]).
pub const SESSION_COOKIE: &str = "anitrack_session";
pub(super) const LOGIN_CSRF_COOKIE: &str = "anitrack_login_csrf";
/// What the login CSRF cookie's signature is bound to.
pub(super) const LOGIN_CSRF_PURPOSE: &str = "login-csrf";

/// Constant-time equality of two tokens.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The form fields of a urlencoded body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(super) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The request's live session, with the cookie value that stands for it.
pub(super) async fn session<'a>(call: &'a Call<'_>) -> Result<Option<(Session, &'a str)>, Error> {
    let Some(value) = cookies::get(call, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(sessions::resume(&call.context().db, value)
        .await?
        .map(|s| (s, value)))
}

/// Whether the sign-in form's token matches a login CSRF cookie this
/// server signed.
pub(super) fn login_csrf_ok(call: &Call<'_>, form: &Form) -> bool {
    let sent = form.get("csrf_token");
    let signed = cookies::get(call, LOGIN_CSRF_COOKIE).unwrap_or("");
    match call.context().cookie_key.verify(LOGIN_CSRF_PURPOSE, signed) {
        Some(expected) => !sent.is_empty() && same(sent, expected),
        None => false,
    }
}
