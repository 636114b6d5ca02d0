//! The settings page's cookies, as the OWASP session-management and CSRF
//! cheat sheets ask: `__Host-` names (so no subdomain or plain-HTTP page can
//! set or shadow them), `Secure`, `HttpOnly`, `Path=/`, and values signed
//! with a key every instance shares, so a cookie planted by someone else
//! cannot stand in for one this server made.
//!
//! `--insecure-cookies` drops the prefix and `Secure` for a browser talking
//! plain HTTP in local development; nothing else changes.

use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use http::header;
use rand::RngCore as _;
use sha2::Sha256;

use crate::request::Call;

/// The HMAC-SHA256 key that signs cookie values, kept in the database so
/// that a cookie one instance made is good on every other.
#[derive(Clone)]
pub struct CookieKey(Arc<[u8]>);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey([redacted])")
    }
}

const KEY_NAME: &str = "cookie-hmac";

impl CookieKey {
    /// The shared key, made by the first instance that asks.
    pub async fn load(db: &deadpool_postgres::Pool) -> Result<CookieKey, crate::error::Error> {
        let mut candidate = [0u8; 32];
        rand::rng().fill_bytes(&mut candidate);
        let client = db.get().await?;
        let key = crate::db::secrets::get_or_create(&client, KEY_NAME, &candidate).await?;
        Ok(CookieKey(key.into()))
    }

    /// A key for unit tests.
    #[cfg(test)]
    pub fn fixed(bytes: &[u8]) -> CookieKey {
        CookieKey(bytes.into())
    }

    fn mac(&self, purpose: &str, value: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        mac
    }

    /// `value.signature`, the signature bound to `purpose` so that a cookie
    /// signed for one use is worthless for another.
    pub fn sign(&self, purpose: &str, value: &str) -> String {
        let tag = self.mac(purpose, value).finalize().into_bytes();
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag);
        format!("{value}.{tag}")
    }

    /// The value of a cookie this server signed for `purpose`, if it is one.
    pub fn verify<'a>(&self, purpose: &str, signed: &'a str) -> Option<&'a str> {
        let (value, tag) = signed.rsplit_once('.')?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .ok()?;
        // verify_slice compares in constant time.
        self.mac(purpose, value).verify_slice(&tag).ok()?;
        Some(value)
    }
}

/// A random, URL-safe value of 256 bits.
pub fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_value_verifies_only_for_its_purpose_and_key() {
        let key = CookieKey::fixed(&[7; 32]);
        let signed = key.sign("login-csrf", "nonce123");
        assert_eq!(key.verify("login-csrf", &signed), Some("nonce123"));
        assert_eq!(key.verify("device", &signed), None);
        assert_eq!(
            CookieKey::fixed(&[8; 32]).verify("login-csrf", &signed),
            None
        );
        assert_eq!(key.verify("login-csrf", "nonce123"), None);
        assert_eq!(key.verify("login-csrf", "nonce124.AAAA"), None);
        let forged = signed.replace("nonce123", "nonce124");
        assert_eq!(key.verify("login-csrf", &forged), None);
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let key = CookieKey::fixed(b"super-secret-key-bytes-0123456789");
        assert!(!format!("{key:?}").contains("super-secret"));
    }
}
