//! Errors of the vault. Each message says what happened and what to do next; the HTTP layer maps
//! them to status codes with [`ServerError::status`].

use std::path::PathBuf;

use kura_auth::AuthError;
use kura_repo::RepoError;
use kura_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration {}: {detail}; fix the file (see CONFIG.md) and start again", path.display())]
    Config { path: PathBuf, detail: String },
    #[error("cannot {op} {}: {source}; check that the path exists, the disk is not full and this account may write it", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Audit(#[from] kura_audit::AuditError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A permission check failed; the text names the missing permission.
    #[error("refused: {0}")]
    Forbidden(String),
    #[error(
        "no repository named '{0}' on this vault; create it with `kura admin repo create NAME`"
    )]
    NoSuchRepo(String),
    #[error("repository '{0}' already exists on this vault")]
    RepoExists(String),
    #[error("bad request: {0}")]
    BadRequest(String),
}

pub type Result<T> = std::result::Result<T, ServerError>;

impl ServerError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ServerError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The HTTP status for this error. Store errors keep their meaning (409 for "exists", 404,
    /// 416, 507) because the client maps them back to the same [`StoreError`] variants.
    pub fn status(&self) -> u16 {
        match self {
            ServerError::Auth(AuthError::InvalidCredentials | AuthError::SessionExpired) => 401,
            ServerError::Auth(AuthError::Forbidden(_) | AuthError::MfaRequired { .. }) => 403,
            ServerError::Forbidden(_) => 403,
            ServerError::NoSuchRepo(_) => 404,
            ServerError::RepoExists(_) => 409,
            ServerError::BadRequest(_) | ServerError::Auth(_) => 400,
            ServerError::Store(e) | ServerError::Repo(RepoError::Store(e)) => store_status(e),
            _ => 500,
        }
    }
}

fn store_status(e: &StoreError) -> u16 {
    match e {
        StoreError::AlreadyExists { .. } => 409,
        StoreError::NotFound { .. } => 404,
        StoreError::OutOfRange { .. } => 416,
        StoreError::NoSpace { .. } => 507,
        StoreError::Denied { .. } => 403,
        StoreError::BadName { .. } => 400,
        _ => 500,
    }
}
