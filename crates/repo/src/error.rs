//! Repository errors. Each says what happened, to which file or generation, and what to do.

use kura_format::FormatError;
use kura_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RepoError {
    #[error("no Kura repository at {location}: run `kura init` there first, or check --repo / KURA_REPOSITORY")]
    NotARepository { location: String },
    #[error("a repository already exists at {location}: refusing to initialize over it")]
    AlreadyInitialized { location: String },
    #[error("wrong password or recovery key: no key file of this repository opens with it")]
    WrongPassword,
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{file} is damaged: {source}")]
    Damaged {
        file: String,
        #[source]
        source: FormatError,
    },
    #[error("no generation matches {0:?}: list them with `kura snapshots`")]
    SnapshotNotFound(String),
    #[error("{0:?} matches more than one generation: give more digits of the ID")]
    AmbiguousSnapshot(String),
    #[error("blob {0} is not in the index: the repository is missing data (run `kura check`; `kura repair index` if index files were lost)")]
    BlobNotFound(String),
    #[error("blob {id} in pack {pack} is damaged: {detail}")]
    BlobDamaged {
        id: String,
        pack: String,
        detail: String,
    },
    #[error("{0}")]
    Refused(String),
}

impl RepoError {
    pub fn damaged(file: impl Into<String>, source: FormatError) -> Self {
        RepoError::Damaged {
            file: file.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, RepoError>;
