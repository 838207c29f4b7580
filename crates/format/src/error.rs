//! Errors raised while decoding or decrypting repository bytes.

use thiserror::Error;

/// Why a piece of repository data could not be decoded. Every variant names what was being read, so
/// that `check` can report it against the file it came from.
#[derive(Debug, Error)]
pub enum FormatError {
    #[error("{what} is truncated: needed {needed} bytes, found {found}")]
    Truncated {
        what: &'static str,
        needed: usize,
        found: usize,
    },
    #[error("{what} has a bad magic number: this is not a Kura file or it is damaged")]
    BadMagic { what: &'static str },
    #[error(
        "{what} uses format version {found}, this build reads up to {supported}: upgrade kura"
    )]
    UnsupportedVersion {
        what: &'static str,
        found: u32,
        supported: u32,
    },
    #[error("{what} failed authentication: the data was modified or damaged, or the key is wrong")]
    Authentication { what: &'static str },
    #[error("{what} declares a length of {len} bytes, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    #[error("{what} is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("decompressing {what} failed: {detail}")]
    Decompress { what: &'static str, detail: String },
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

impl FormatError {
    pub(crate) fn malformed(what: &'static str, detail: impl ToString) -> Self {
        FormatError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}
