//! # kura-store: where repository files live
//!
//! One small trait, [`Backend`], that every storage backend implements (local directory now; S3 and
//! the remote vault later), and wrappers that add one capability each (fault injection for tests).
//!
//! The trait is deliberately *create-only*: [`Backend::create`] fails if the file exists, and there is
//! no way to modify a file in place. A repository's files are content-addressed, so a second writer of
//! the same name writes the same bytes and treats "exists" as success; nothing is ever overwritten.
//! Removal is a separate call that only garbage collection and key management use, and that a vault
//! can refuse to backup tokens entirely.
//!
//! The [`conformance`] module holds the suite every backend must pass.
#![forbid(unsafe_code)]

pub mod conformance;
pub mod direct;
pub mod fault;
pub mod local;
pub mod remote;
pub mod s3;

use std::fmt;
use std::time::SystemTime;

pub use local::LocalBackend;

/// The kinds of file in a repository, each in its own namespace (directory or key prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Config,
    Key,
    Pack,
    Index,
    Snapshot,
    /// Metadata records: policies, retention locks, holds, verdicts, prune marks.
    Meta,
}

impl FileKind {
    pub const ALL: [FileKind; 6] = [
        FileKind::Config,
        FileKind::Key,
        FileKind::Pack,
        FileKind::Index,
        FileKind::Snapshot,
        FileKind::Meta,
    ];

    /// Directory name in a local repository ("" for the single config file).
    pub fn dir(self) -> &'static str {
        match self {
            FileKind::Config => "",
            FileKind::Key => "keys",
            FileKind::Pack => "data",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshots",
            FileKind::Meta => "meta",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Config => "config",
            FileKind::Key => "key",
            FileKind::Pack => "pack",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshot",
            FileKind::Meta => "meta",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} file {name} already exists: repository files are never overwritten")]
    AlreadyExists { kind: FileKind, name: String },
    #[error("{kind} file {name} does not exist")]
    NotFound { kind: FileKind, name: String },
    #[error("{kind} file {name}: read {offset}+{len} is past its end ({size} bytes)")]
    OutOfRange {
        kind: FileKind,
        name: String,
        offset: u64,
        len: u64,
        size: u64,
    },
    #[error("the storage is full while writing {kind} file {name}: free space and run the command again; nothing was committed")]
    NoSpace { kind: FileKind, name: String },
    #[error("permission denied on {kind} file {name}: {detail}")]
    Denied {
        kind: FileKind,
        name: String,
        detail: String,
    },
    #[error("invalid file name {name:?}")]
    BadName { name: String },
    #[error("I/O error on {kind} file {name}: {source}")]
    Io {
        kind: FileKind,
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
    pub fn is_already_exists(&self) -> bool {
        matches!(self, StoreError::AlreadyExists { .. })
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A listed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub size: u64,
    /// When the file was stored, where the backend knows it (garbage collection never deletes a
    /// pack younger than its grace period, as a running backup may be about to index it).
    pub modified: Option<std::time::SystemTime>,
}

/// A place that stores repository files. Implementations must be safe to share between threads.
pub trait Backend: Send + Sync {
    /// Human-readable location, for messages.
    fn location(&self) -> String;
    /// Store a new file durably. Fails with [`StoreError::AlreadyExists`] if the name is taken; on
    /// any error no partial file is visible under the name.
    fn create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<()>;
    fn read(&self, kind: FileKind, name: &str) -> Result<Vec<u8>>;
    fn read_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>>;
    fn size(&self, kind: FileKind, name: &str) -> Result<u64>;
    fn list(&self, kind: FileKind) -> Result<Vec<FileInfo>>;
    fn remove(&self, kind: FileKind, name: &str) -> Result<()>;
    /// Commit a snapshot file and return the name it is stored under. Locally this is `create`;
    /// a vault, which must set the commit time itself so that clients cannot forge it, re-seals the
    /// snapshot with its own time and answers with the new name.
    fn commit_snapshot(&self, name: &str, data: &[u8]) -> Result<String> {
        self.create(FileKind::Snapshot, name, data)?;
        Ok(name.to_string())
    }
    /// Until when the store itself refuses to delete or replace this file (S3 Object Lock), if it
    /// does. Backends without store-enforced retention answer `None`. Prune asks before deleting,
    /// so that it can report what it waits for instead of failing on the store's refusal.
    fn store_lock_until(&self, kind: FileKind, name: &str) -> Result<Option<SystemTime>> {
        let _ = (kind, name);
        Ok(None)
    }
    /// Make the store keep this file at least until `until` (never shortens a lock). Returns
    /// `false`, changing nothing, when the backend has no store-enforced retention.
    fn extend_store_lock(&self, kind: FileKind, name: &str, until: SystemTime) -> Result<bool> {
        let _ = (kind, name, until);
        Ok(false)
    }
    /// True when the backend holds a repository (its config exists).
    fn exists(&self, kind: FileKind, name: &str) -> Result<bool> {
        match self.size(kind, name) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// File names are lower-case hex ids or short slugs; anything else is refused so that a name can
/// never escape its namespace.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadName {
            name: name.to_string(),
        })
    }
}
