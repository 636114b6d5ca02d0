//! Safe retries: the `Idempotency-Key` of list writes
//! (draft-ietf-httpapi-idempotency-key-header). The first successful answer
//! is kept in the write's own transaction and replayed to retries.

use crate::db::sql::Db;
use anitrack_spec::error::FieldErrors;
use anitrack_spec::limits::{IDEMPOTENCY_KEY_HOURS, IDEMPOTENCY_KEY_MAX};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::db::idempotency::{self, Kept};
use crate::error::Error;

pub const KEY_MALFORMED: &str =
    "The Idempotency-Key header must be 1 to 255 visible ASCII characters.";
/// The name the 422 of a reused key is filed under.
pub const KEY_FIELD: &str = "Idempotency-Key";

/// A write sent with an `Idempotency-Key`.
pub struct Retry {
    key: String,
    /// SHA-256 of the operation, its entry and its body.
    fingerprint: Vec<u8>,
    /// The key's advisory lock (per account and key).
    lock: i64,
}

/// An answer kept earlier, to send again.
#[derive(Debug)]
pub struct Replay {
    pub status: u16,
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

/// The header's key: visible ASCII, optionally as a structured-field string
/// (`"..."`, as the draft writes it).
pub fn parse_key(value: &str) -> Result<String, Error> {
    let value = value.trim();
    let key = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let visible = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX || !visible {
        return Err(Error::BadHeader(KEY_MALFORMED));
    }
    Ok(key.to_string())
}

impl Retry {
    pub fn new(
        account_id: i64,
        key: String,
        operation: &str,
        entry_id: Option<i64>,
        body: &Value,
    ) -> Result<Retry, Error> {
        // serde_json's maps keep keys sorted, so equal bodies serialize
        // alike whatever order their keys came in (a unit test guards it).
        let body = serde_json::to_vec(body).map_err(|e| Error::Internal(e.to_string()))?;
        let mut request = Sha256::new();
        request.update(operation.as_bytes());
        request.update(b"\0");
        request.update(entry_id.unwrap_or(0).to_be_bytes());
        request.update(b"\0");
        request.update(&body);
        let lock = Sha256::new()
            .chain_update(b"idempotency\0")
            .chain_update(account_id.to_be_bytes())
            .chain_update(key.as_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&lock[..8]);
        Ok(Retry {
            key,
            fingerprint: request.finalize().to_vec(),
            lock: i64::from_be_bytes(first),
        })
    }

    /// Inside the write's transaction, before it writes: the kept answer to
    /// replay, `Ok(None)` to go on (the key is then this transaction's until
    /// it ends), 409 while another request holds the key, 422 when the key
    /// was used for another request.
    pub async fn claim(&self, tx: &impl Db, account_id: i64) -> Result<Option<Replay>, Error> {
        if !idempotency::try_lock(tx, self.lock).await? {
            return Err(Error::InFlight);
        }
        let hours = IDEMPOTENCY_KEY_HOURS as i32;
        let Some(kept) = idempotency::find(tx, account_id, &self.key, hours).await? else {
            return Ok(None);
        };
        if kept.fingerprint != self.fingerprint {
            let mut errors = FieldErrors::new();
            errors.add(
                KEY_FIELD,
                anitrack_spec::error::messages::IDEMPOTENCY_KEY_REUSED,
            );
            return Err(Error::Invalid(errors));
        }
        Ok(Some(Replay {
            status: u16::try_from(kept.status).unwrap_or(200),
            body: kept.body,
            etag: kept.etag,
        }))
    }

    /// Keeps the answer, in the same transaction as the write.
    pub async fn keep(
        &self,
        tx: &impl Db,
        account_id: i64,
        status: u16,
        body: Vec<u8>,
        etag: Option<String>,
    ) -> Result<(), Error> {
        let kept = Kept {
            fingerprint: self.fingerprint.clone(),
            status: status as i16,
            body,
            etag,
        };
        idempotency::keep(tx, account_id, &self.key, &kept).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_visible_ascii_optionally_quoted() {
        assert_eq!(parse_key("abc-123").unwrap(), "abc-123");
        assert_eq!(parse_key("\"8e03978e\"").unwrap(), "8e03978e");
        for bad in ["", "\"\"", "a b", "é", &"k".repeat(256)] {
            assert!(
                matches!(parse_key(bad), Err(Error::BadHeader(_))),
                "{bad:?}"
            );
        }
        assert!(parse_key(&"k".repeat(255)).is_ok());
    }

    #[test]
    fn equal_requests_have_equal_fingerprints_whatever_their_key_order() {
        let a: Value = serde_json::from_str(r#"{"status":"watching","anime_id":1}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"anime_id":1,"status":"watching"}"#).unwrap();
        let fp = |op: &str, id: Option<i64>, body: &Value| {
            Retry::new(1, "k".into(), op, id, body).unwrap().fingerprint
        };
        assert_eq!(fp("create", None, &a), fp("create", None, &b));
        assert_ne!(fp("create", None, &a), fp("update", None, &a));
        assert_ne!(fp("update", Some(1), &a), fp("update", Some(2), &a));
        assert_ne!(
            fp("create", None, &a),
            fp("create", None, &json!({"anime_id": 2}))
        );
    }

    #[test]
    fn the_lock_is_per_account_and_key() {
        let lock = |account: i64, key: &str| {
            Retry::new(account, key.into(), "create", None, &json!({}))
                .unwrap()
                .lock
        };
        assert_eq!(lock(1, "k"), lock(1, "k"));
        assert_ne!(lock(1, "k"), lock(2, "k"));
        assert_ne!(lock(1, "k"), lock(1, "j"));
    }
}
