//! Secret generation and hashing of high-entropy secrets.
//!
//! Session ids, API tokens and recovery codes are 128 to 256 random bits from the OS, so a fast
//! hash (BLAKE3, domain-separated) is enough to store them: there is nothing to brute-force.
//! Passwords are the only low-entropy secrets and go through Argon2id instead.

use data_encoding::BASE32_NOPAD;
use rand::RngCore;

/// `bytes` random bytes from the operating system.
pub fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

/// A printable secret: `<prefix>_<base32 of n random bytes>`.
pub fn token_string(prefix: &str, bytes: usize) -> String {
    format!("{prefix}_{}", BASE32_NOPAD.encode(&random_bytes(bytes)))
}

/// Hex of a domain-separated BLAKE3 hash. `domain` keeps a session id from ever matching a
/// token hash or a recovery code hash.
pub fn secret_hash(domain: &str, secret: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new_derive_key(&format!("kura-auth 2025 {domain}"));
    hasher.update(secret);
    hasher.finalize().to_hex().to_string()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = token_string("kura_tok", 32);
        let b = token_string("kura_tok", 32);
        assert_ne!(a, b);
        assert!(a.starts_with("kura_tok_"));
        // 256 bits in base32 without padding is 52 characters.
        assert_eq!(a.len(), "kura_tok_".len() + 52);
    }

    #[test]
    fn hashes_are_domain_separated() {
        assert_ne!(secret_hash("session", b"x"), secret_hash("token", b"x"));
        assert_eq!(secret_hash("token", b"x"), secret_hash("token", b"x"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
