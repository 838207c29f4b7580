//! Key files: the master key wrapped by a key derived from a password (or the recovery key) with
//! Argon2id. A repository may hold several; each opens it on its own, and removing one leaves the
//! others working.
//!
//! Key files are JSON (see FORMAT.md "Key files"). The KDF parameters are stored in the file and are
//! *capped when read back*: a crafted file asking for 64 GiB of memory is refused before any work.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use data_encoding::{BASE32_NOPAD, BASE64};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::crypto::MasterKey;
use crate::FormatError;

const WRAP_AAD: &[u8] = b"kura-keyfile-v1";
/// Caps applied to parameters read from disk (memory in KiB).
pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
pub const MAX_ITERATIONS: u32 = 16;
pub const MAX_PARALLELISM: u32 = 8;
/// A key file larger than this is not a key file.
pub const MAX_KEYFILE_LEN: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Password,
    Recovery,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub algorithm: String,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Base64 of 16 random bytes.
    pub salt: String,
}

impl KdfParams {
    /// Defaults: 64 MiB, 3 passes, 1 lane (about 0.2 s on a modest server; OWASP's floor is 19 MiB/2).
    pub fn generate() -> Self {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        KdfParams {
            algorithm: "argon2id".into(),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
            salt: BASE64.encode(&salt),
        }
    }

    fn derive(&self, secret: &[u8]) -> Result<[u8; 32], FormatError> {
        if self.algorithm != "argon2id" {
            return Err(FormatError::malformed(
                "key file",
                format!("unknown KDF {:?}", self.algorithm),
            ));
        }
        if self.memory_kib > MAX_MEMORY_KIB
            || self.iterations > MAX_ITERATIONS
            || self.parallelism > MAX_PARALLELISM
        {
            return Err(FormatError::TooLarge {
                what: "key file KDF parameters",
                len: self.memory_kib as u64,
                limit: MAX_MEMORY_KIB as u64,
            });
        }
        let salt = BASE64
            .decode(self.salt.as_bytes())
            .map_err(|e| FormatError::malformed("key file salt", e))?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| FormatError::Kdf(e.to_string()))?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret, &salt, &mut out)
            .map_err(|e| FormatError::Kdf(e.to_string()))?;
        Ok(out)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    pub version: u32,
    pub kind: KeyKind,
    pub label: String,
    pub created: DateTime<Utc>,
    pub host: String,
    pub user: String,
    pub kdf: KdfParams,
    /// Base64 of nonce (24) | XChaCha20-Poly1305 ciphertext of the 64-byte master key | tag (16).
    pub wrapped: String,
}

impl KeyFile {
    pub fn wrap(
        master: &MasterKey,
        secret: &[u8],
        kind: KeyKind,
        label: &str,
        host: &str,
        user: &str,
    ) -> Result<Self, FormatError> {
        let kdf = KdfParams::generate();
        let kek = kdf.derive(secret)?;
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&kek));
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &master.to_bytes(),
                    aad: WRAP_AAD,
                },
            )
            .map_err(|_| FormatError::Kdf("wrapping failed".into()))?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&ct);
        Ok(KeyFile {
            version: 1,
            kind,
            label: label.to_string(),
            created: Utc::now(),
            host: host.to_string(),
            user: user.to_string(),
            kdf,
            wrapped: BASE64.encode(&wrapped),
        })
    }

    /// Unwrap the master key. `Ok(None)` means the secret does not open this key file.
    pub fn unwrap_key(&self, secret: &[u8]) -> Result<Option<MasterKey>, FormatError> {
        let wrapped = BASE64
            .decode(self.wrapped.as_bytes())
            .map_err(|e| FormatError::malformed("key file", e))?;
        if wrapped.len() != 24 + 64 + 16 {
            return Err(FormatError::malformed(
                "key file",
                "wrapped key has the wrong length",
            ));
        }
        let kek = self.kdf.derive(secret)?;
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&kek));
        match cipher.decrypt(
            XNonce::from_slice(&wrapped[..24]),
            Payload {
                msg: &wrapped[24..],
                aad: WRAP_AAD,
            },
        ) {
            Ok(plain) => Ok(Some(MasterKey::from_bytes(&plain)?)),
            Err(_) => Ok(None),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("key file serializes")
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, FormatError> {
        if b.len() > MAX_KEYFILE_LEN {
            return Err(FormatError::TooLarge {
                what: "key file",
                len: b.len() as u64,
                limit: MAX_KEYFILE_LEN as u64,
            });
        }
        let kf: KeyFile =
            serde_json::from_slice(b).map_err(|e| FormatError::malformed("key file", e))?;
        if kf.version != 1 {
            return Err(FormatError::UnsupportedVersion {
                what: "key file",
                found: kf.version,
                supported: 1,
            });
        }
        Ok(kf)
    }
}

/// A one-time recovery key: 256 random bits shown to the person who runs `init`, as 13 groups of
/// base32. It is used exactly like a password against a key file of kind `recovery`.
pub fn generate_recovery_key() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let text = BASE32_NOPAD.encode(&raw);
    text.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Normalize a recovery key as typed (case, dashes, spaces) to the secret fed to the KDF.
pub fn normalize_recovery_key(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_and_wrong_password() {
        let mk = MasterKey::generate();
        let kf =
            KeyFile::wrap(&mk, b"correct horse", KeyKind::Password, "admin", "h", "u").unwrap();
        let back = KeyFile::from_bytes(&kf.to_bytes()).unwrap();
        let got = back.unwrap_key(b"correct horse").unwrap().unwrap();
        assert_eq!(got.to_bytes(), mk.to_bytes());
        assert!(back.unwrap_key(b"wrong").unwrap().is_none());
    }

    #[test]
    fn crafted_kdf_parameters_are_capped() {
        let mk = MasterKey::generate();
        let mut kf = KeyFile::wrap(&mk, b"pw", KeyKind::Password, "", "", "").unwrap();
        kf.kdf.memory_kib = u32::MAX;
        assert!(matches!(
            kf.unwrap_key(b"pw"),
            Err(FormatError::TooLarge { .. })
        ));
        kf.kdf.memory_kib = 64 * 1024;
        kf.kdf.iterations = 1000;
        assert!(kf.unwrap_key(b"pw").is_err());
    }

    #[test]
    fn recovery_key_normalizes() {
        let k = generate_recovery_key();
        assert_eq!(
            normalize_recovery_key(&k.to_lowercase().replace('-', " ")),
            k.replace('-', "")
        );
        assert_eq!(normalize_recovery_key(&k).len(), 52);
    }
}
