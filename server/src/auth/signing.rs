//! Values signed with a key every instance shares (cookies this server
//! made, and nobody else can).

use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The HMAC-SHA256 key that signs cookie values, kept in the database so
/// that a cookie one instance made is good on every other.
#[derive(Clone)]
pub struct SigningKey(Arc<[u8]>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// The name of the key in `server_secrets` (kept from its first use, for cookies).
const KEY_NAME: &str = "cookie-hmac";

impl SigningKey {
    /// The shared key, made by the first instance that asks.
    pub async fn load(db: &deadpool_postgres::Pool) -> Result<SigningKey, crate::error::Error> {
        let key = super::sessions::shared_secret(db, KEY_NAME).await?;
        Ok(SigningKey(key.into()))
    }

    /// A key for unit tests.
    #[cfg(test)]
    pub fn fixed(bytes: &[u8]) -> SigningKey {
        SigningKey(bytes.into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_value_verifies_only_for_its_purpose_and_key() {
        let key = SigningKey::fixed(&[7; 32]);
        let signed = key.sign("login-csrf", "nonce123");
        assert_eq!(key.verify("login-csrf", &signed), Some("nonce123"));
        assert_eq!(key.verify("device", &signed), None);
        assert_eq!(
            SigningKey::fixed(&[8; 32]).verify("login-csrf", &signed),
            None
        );
        assert_eq!(key.verify("login-csrf", "nonce123"), None);
        assert_eq!(key.verify("login-csrf", "nonce124.AAAA"), None);
        let forged = signed.replace("nonce123", "nonce124");
        assert_eq!(key.verify("login-csrf", &forged), None);
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let key = SigningKey::fixed(b"super-secret-key-bytes-0123456789");
        assert!(!format!("{key:?}").contains("super-secret"));
    }
}
