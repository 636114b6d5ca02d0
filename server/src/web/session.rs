//! The signed-in browser: its session cookie, the forms it posts and their
//! CSRF tokens (the session's synchronizer token, or, before sign-in, a
//! double-submit cookie the server signed).

use subtle::ConstantTimeEq as _;

use super::cookies;
use crate::auth::sessions::{self, Session};
use crate::auth::throttle::Device;
use crate::error::Error;
use crate::request::Call;

/// Cookie names before the `__Host-` prefix ([`cookies::name`]).
pub const SESSION_COOKIE: &str = "anitrack_session";
/// The browser that signed in to an account before ([`device`]).
pub(super) const DEVICE_COOKIE: &str = "anitrack_device";
/// What a device cookie's signature is bound to.
const DEVICE_PURPOSE: &str = "device";
/// A device cookie lasts a year from its last sign-in.
pub(super) const DEVICE_MAX_AGE_SECS: i64 = 365 * 24 * 3600;
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
    match call
        .context()
        .signing_key
        .verify(LOGIN_CSRF_PURPOSE, signed)
    {
        Some(expected) => !sent.is_empty() && same(sent, expected),
        None => false,
    }
}

/// The device this browser's signed cookie names, if it carries one this
/// server made (a cookie for `account.nonce`).
pub(super) fn device(call: &Call<'_>) -> Option<Device> {
    let signed = cookies::get(call, DEVICE_COOKIE)?;
    let value = call.context().signing_key.verify(DEVICE_PURPOSE, signed)?;
    let (account, id) = value.split_once('.')?;
    Some(Device {
        account_id: account.parse().ok()?,
        id: id.to_string(),
    })
}

/// A device cookie's value for `account_id`: the browser's existing device
/// id when it has one for this account, else a new one.
pub(super) fn device_cookie_value(call: &Call<'_>, account_id: i64) -> String {
    let id = device(call)
        .filter(|d| d.account_id == account_id)
        .map(|d| d.id)
        .unwrap_or_else(sessions::random_value);
    call.context()
        .signing_key
        .sign(DEVICE_PURPOSE, &format!("{account_id}.{id}"))
}
