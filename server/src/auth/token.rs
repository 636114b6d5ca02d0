//! Bearer token format.
//!
//! `atk_` + 30 base62 characters of randomness (≈178 bits, above the
//! contract's 160) + 6 base62 characters of the CRC32 of those 30. The prefix
//! and checksum let secret scanners tell a real token from a look-alike (as
//! GitHub's `ghp_` tokens do) and let the server reject garbage without a
//! database round trip. Base62 is a subset of RFC 6750's `b64token`
//! characters. Only the SHA-256 of the whole token is stored.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "atk_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
pub const TOKEN_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-256 of a token, the only form kept in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Lower-case hex, for keys in this instance's memory.
    pub fn hex(&self) -> String {
        // Every authenticated request builds one: a single allocation, not
        // a formatted string per byte.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Constant-time equality, so comparing a candidate against a stored hash
    /// takes the same time wherever they first differ.
    pub fn matches(&self, stored: &[u8]) -> bool {
        self.0.ct_eq(stored).into()
    }
}

/// A freshly minted token: the plain text (shown once) and its hash.
pub struct NewToken {
    pub plain: String,
    pub hash: TokenHash,
}

/// Mints a token from the operating system's CSPRNG.
pub fn mint() -> NewToken {
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect();
    let plain = format!("{PREFIX}{random}{}", checksum(&random));
    let hash = TokenHash::of(&plain);
    NewToken { plain, hash }
}

fn checksum(random: &str) -> String {
    let mut value = crc32fast::hash(random.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    // 62^6 > 2^32, so six digits always hold the checksum.
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `candidate` has the shape of an AniTrack token with a valid
/// checksum. Anything else is rejected before touching the database.
pub fn is_well_formed(candidate: &str) -> bool {
    if candidate.len() != TOKEN_LEN {
        return false;
    }
    let Some(body) = candidate.strip_prefix(PREFIX) else {
        return false;
    };
    if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    checksum(random) == sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_have_the_documented_shape() {
        let token = mint();
        assert_eq!(token.plain.len(), TOKEN_LEN);
        assert!(token.plain.starts_with("atk_"));
        assert!(is_well_formed(&token.plain));
        assert_eq!(token.hash, TokenHash::of(&token.plain));
        // RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" then "="*
        assert!(
            token
                .plain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        );
    }

    #[test]
    fn the_hex_of_a_hash_is_lower_case_and_two_digits_a_byte() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0x0a;
        bytes[31] = 0xff;
        let hex = TokenHash(bytes).hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.starts_with("0a00") && hex.ends_with("00ff"), "{hex}");
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(mint().plain, mint().plain);
    }

    #[test]
    fn a_corrupted_token_fails_the_checksum() {
        let token = mint().plain;
        for i in PREFIX.len()..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let corrupted = String::from_utf8(bytes).unwrap();
            assert!(!is_well_formed(&corrupted), "{corrupted}");
        }
    }

    #[test]
    fn malformed_candidates_are_rejected() {
        let token = mint().plain;
        for bad in [
            "",
            "atk_",
            &token[..token.len() - 1],
            &format!("{token}x"),
            &token.replacen("atk_", "ghp_", 1),
            &format!("atk_{}", "é".repeat(18)),
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn hash_comparison_is_exact() {
        let token = mint();
        assert!(token.hash.matches(&token.hash.0));
        let mut other = token.hash.0;
        other[31] ^= 1;
        assert!(!token.hash.matches(&other));
        assert!(!token.hash.matches(&token.hash.0[..31]));
    }
}
