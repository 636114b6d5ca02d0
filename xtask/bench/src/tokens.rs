//! Bearer tokens in bulk, minted to the published format rather than by
//! the server's code: the seed needs 100,000 of them, and a process per
//! token (`anitrack-server token create`) would take many minutes.
//!
//! The format is part of the contract (`spec/openapi.json`: `atk_`, 30
//! base62 characters, then their CRC32 in 6 base62 characters; only the
//! SHA-256 of the whole token is stored), so the bench mints exactly what
//! a client could check. Two guards keep it honest: the seed asks the
//! server's CLI for a token and checks it has this shape
//! ([`is_well_formed`]), and the bench fails before any scenario unless
//! the server accepts a token minted here.

use std::fmt::Write as _;

use rand::Rng as _;
use sha2::{Digest as _, Sha256};

const PREFIX: &str = "atk_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token and the SHA-256 the database keeps of it.
pub struct Minted {
    pub plain: String,
    pub hash: [u8; 32],
}

/// A fresh token from the thread's CSPRNG.
pub fn mint() -> Minted {
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect();
    let plain = format!("{PREFIX}{random}{}", checksum(&random));
    let hash = sha256(&plain);
    Minted { plain, hash }
}

/// The CRC32 of the random part, as 6 base62 digits (62^6 > 2^32).
fn checksum(random: &str) -> String {
    let mut value = u64::from(crc32fast::hash(random.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `token` has the published shape and a valid checksum.
pub fn is_well_formed(token: &str) -> bool {
    let Some(body) = token.strip_prefix(PREFIX) else {
        return false;
    };
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    checksum(random) == sum
}

pub fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lower-case hex, as `bytea`'s `\x...` form and PostgreSQL's log print it.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_have_the_published_shape() {
        let token = mint();
        assert_eq!(token.plain.len(), 40);
        assert!(token.plain.starts_with("atk_"));
        assert!(is_well_formed(&token.plain), "{}", token.plain);
        assert_eq!(token.hash, sha256(&token.plain));
        assert_ne!(mint().plain, token.plain);
    }

    /// A token the server minted (an earlier `cargo xtask dev` run), and
    /// the same token with one character changed.
    #[test]
    fn the_checksum_is_checked() {
        let real = "atk_HdNBYZ2HS6m5LH4fKY9RG9n6L77cUs0vTYma";
        assert!(is_well_formed(real));
        for i in PREFIX.len()..real.len() {
            let mut bytes = real.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let corrupted = String::from_utf8_lossy(&bytes).into_owned();
            assert!(!is_well_formed(&corrupted), "{corrupted}");
        }
        assert!(!is_well_formed("atk_"));
        assert!(!is_well_formed(&real.replace("atk_", "ghp_")));
    }

    #[test]
    fn hashes_print_as_postgres_prints_bytea() {
        assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
        assert_eq!(
            hex(&sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
