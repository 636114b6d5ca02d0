//! Argon2id password hashing, off the async worker threads.
//!
//! Hashing is deliberately expensive (19 MiB, 2 passes: OWASP's minimum for
//! Argon2id), so it runs on tokio's blocking pool behind a semaphore that
//! bounds how many hashes run at once: a login storm queues instead of
//! exhausting memory or starving the request workers. An unknown email is
//! verified against a dummy hash so both paths cost the same.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use tokio::sync::Semaphore;

/// OWASP minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed: {0}")]
    Task(String),
    /// Every hashing slot stayed taken for [`HASH_WAIT`]: answer 503.
    #[error("every password-hashing slot is busy")]
    Busy,
}

impl From<PasswordError> for crate::error::Error {
    fn from(error: PasswordError) -> Self {
        match error {
            PasswordError::Busy => crate::error::Error::Busy("every password-hashing slot"),
            other => crate::error::Error::Internal(other.to_string()),
        }
    }
}

/// Longest a sign-in waits for a hashing slot. Past it the answer is a 503
/// with `Retry-After`, so a storm of sign-ins queues for about a second,
/// never until the request timeout, and a real sign-in is answered within
/// this wait plus one hash.
pub const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string (blocking; call from a blocking context).
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Verifies a password against a PHC string (blocking). A malformed stored
/// hash verifies as false rather than failing the request.
fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    match argon2() {
        Ok(argon2) => argon2.verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Bounded, non-blocking access to password hashing.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// `concurrency` hashes may run at once (each holds 19 MiB).
    pub async fn new(concurrency: usize) -> Result<Self, PasswordError> {
        // A hash of a random password with the same parameters as real
        // hashes, so verifying an unknown email costs what a real one does.
        let dummy = tokio::task::spawn_blocking(|| {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            hash_blocking(&hex(&secret))
        })
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))??;
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy.into(),
        })
    }

    /// Verifies `password` against `stored`, or against the dummy hash when
    /// there is no account; the latter always answers false. Waits at most
    /// [`HASH_WAIT`] for a slot ([`PasswordError::Busy`] then).
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        self.verify_waiting(password, stored, HASH_WAIT).await
    }

    async fn verify_waiting(
        &self,
        password: String,
        stored: Option<String>,
        wait: std::time::Duration,
    ) -> Result<bool, PasswordError> {
        let permit = tokio::time::timeout(wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| PasswordError::Busy)?
            .map_err(|e| PasswordError::Task(e.to_string()))?;
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        // The slot travels with the hash: if this request is dropped (its
        // timeout, a client gone), the hash still runs to its end on the
        // blocking pool and keeps the slot until then, so slots are never
        // oversubscribed.
        let verified = tokio::task::spawn_blocking(move || {
            let verified = verify_blocking(&password, &phc);
            drop(permit);
            verified
        })
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?;
        Ok(known && verified)
    }

    /// Hashing slots free right now.
    pub fn free_slots(&self) -> usize {
        self.permits.available_permits()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_strength() {
        let phc = hash_blocking("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking("correct horse", &phc));
        assert!(!verify_blocking("Correct horse", &phc));
        assert!(!verify_blocking("correct horse", "not a phc string"));
    }

    #[tokio::test]
    async fn waiting_for_a_slot_is_bounded() {
        let passwords = Passwords::new(1).await.unwrap();
        let phc = hash_blocking("secret").unwrap();
        let held = passwords.permits.clone().acquire_owned().await.unwrap();
        let waited = passwords
            .verify_waiting(
                "secret".into(),
                Some(phc.clone()),
                Duration::from_millis(50),
            )
            .await;
        assert!(matches!(waited, Err(PasswordError::Busy)), "{waited:?}");
        drop(held);
        assert!(passwords.verify("secret".into(), Some(phc)).await.unwrap());
    }

    #[tokio::test]
    async fn an_abandoned_hash_keeps_its_slot_until_it_finishes() {
        let passwords = Passwords::new(1).await.unwrap();
        let phc = hash_blocking("secret").unwrap();
        // Give up on the request as soon as the hash has started.
        let abandoned = tokio::time::timeout(
            Duration::from_millis(1),
            passwords.verify("secret".into(), Some(phc.clone())),
        )
        .await;
        assert!(abandoned.is_err(), "the hash should still be running");
        assert_eq!(passwords.free_slots(), 0, "the running hash holds its slot");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while passwords.free_slots() == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(passwords.free_slots(), 1, "the slot is back once it ends");
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify() {
        let passwords = Passwords::new(2).await.unwrap();
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
        let phc = hash_blocking("secret").unwrap();
        assert!(
            passwords
                .verify("secret".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("wrong".into(), Some(phc)).await.unwrap());
    }
}
