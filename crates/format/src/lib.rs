//! # kura-format: the bytes of a Kura repository
//!
//! Everything that is written to a repository is defined here, and nothing here does I/O.
//! FORMAT.md at the top of the workspace is the prose version of this crate; the two change together.
//!
//! The layers, from the bottom up:
//! - [`id`]: 32-byte identifiers. Blob (chunk and tree) ids are *keyed* BLAKE3 of the plaintext, so an
//!   outsider who holds a known file cannot test whether it is in the repository. File (pack, index,
//!   snapshot, key) ids are plain BLAKE3 of the bytes as stored, so storage can be verified without a key.
//! - [`crypto`]: the master key, the Argon2id key-wrapping of it ([`keyfile`]) and the *envelope*:
//!   every stored object is `version | nonce | XChaCha20-Poly1305(ciphertext) | tag` over a plaintext
//!   that starts with a compression byte.
//! - [`pack`]: blobs grouped into pack files with an encrypted header at the end, so an index can be
//!   rebuilt from the packs alone.
//! - [`index`]: the map from blob id to (pack, offset, length).
//! - [`tree`] and [`snapshot`]: the generation itself, as JSON inside envelopes.
//!
//! Every decoder bounds the lengths it reads before it allocates and never panics on any input.
#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
pub mod error;
pub mod id;
pub mod index;
pub mod keyfile;
pub mod pack;
#[cfg(test)]
mod proptests;
pub mod snapshot;
pub mod tree;

pub use error::FormatError;
pub use id::{BlobId, FileId};

/// Repository format version written by this build. Readers refuse newer versions.
pub const FORMAT_VERSION: u32 = 1;
