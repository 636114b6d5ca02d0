//! The settings page's cookies, as the OWASP session-management and CSRF
//! cheat sheets ask: `__Host-` names (so no subdomain or plain-HTTP page can
//! set or shadow them), `Secure`, `HttpOnly`, `Path=/`, and values signed
//! with a key every instance shares, so a cookie planted by someone else
//! cannot stand in for one this server made.
//!
//! `--insecure-cookies` drops the prefix and `Secure` for a browser talking
//! plain HTTP in local development; nothing else changes.

use http::header;

use crate::request::Call;

/// A cookie's name as this server sends it: `__Host-` + `base`, or `base`
/// alone with `--insecure-cookies`.
pub fn name(call: &Call<'_>, base: &str) -> String {
    if call.context().settings.insecure_cookies {
        base.to_string()
    } else {
        format!("__Host-{base}")
    }
}

/// The value of the request's cookie `base` (under its sent name).
pub fn get<'a>(call: &'a Call<'_>, base: &str) -> Option<&'a str> {
    let wanted = name(call, base);
    call.request()
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == wanted)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: always `Path=/` and `HttpOnly` (the `__Host-`
/// prefix requires the path), `Secure` unless cookies are insecure.
pub fn set(
    call: &Call<'_>,
    base: &str,
    value: &str,
    same_site: &str,
    max_age: Option<i64>,
) -> String {
    let mut cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite={same_site}",
        name(call, base)
    );
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if !call.context().settings.insecure_cookies {
        cookie.push_str("; Secure");
    }
    cookie
}
