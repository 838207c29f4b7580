//! Engine errors.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Repo(#[from] kura_repo::RepoError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the command {command:?} failed ({status}); no generation was written")]
    CommandFailed { command: String, status: String },
    #[error("invalid pattern {pattern:?}: {detail}")]
    BadPattern { pattern: String, detail: String },
    #[error("the restore target {0} is not empty: choose an empty directory or pass --overwrite")]
    TargetNotEmpty(String),
    #[error("{0}")]
    Invalid(String),
    /// Reading a source file failed (becomes a per-file warning in backups).
    #[error("read failed: {0}")]
    Read(#[from] std::io::Error),
}

impl EngineError {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

impl From<kura_store::StoreError> for EngineError {
    fn from(e: kura_store::StoreError) -> Self {
        EngineError::Repo(e.into())
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
