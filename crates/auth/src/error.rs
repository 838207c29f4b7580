//! Error types. Rules: a message says what happened and what to do next; no message ever
//! contains a password, TOTP code, token, session id or hash; every login failure that could
//! reveal whether an account exists collapses into [`AuthError::InvalidCredentials`].

use std::path::PathBuf;

use crate::password::PasswordError;

/// A refused permission check, kept as a struct so the server can log the parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Account name or `token:<id>`.
    pub principal: String,
    /// What is missing, from [`crate::Permission::describe`].
    pub detail: String,
}

/// Errors from authentication, authorisation and account management.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The one answer to every failed login or token check. The reason is in the audit event.
    #[error(
        "login failed: the user name, password, second factor or token is not valid; \
         check them and try again (repeated failures temporarily lock the account)"
    )]
    InvalidCredentials,
    /// The session id is unknown, logged out or expired.
    #[error("the session has expired or was logged out; log in again")]
    SessionExpired,
    /// A permission check failed.
    #[error("{} is not allowed to do this: {}; ask an administrator for a grant", .0.principal, .0.detail)]
    Forbidden(Denied),
    /// The permission needs a second factor that this login did not use.
    #[error(
        "permission '{permission}' needs a login with a second factor; enrol TOTP and log in again"
    )]
    MfaRequired {
        /// The permission's name.
        permission: &'static str,
    },
    /// A new password broke the policy.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// A name failed validation.
    #[error("invalid {kind} name '{name}': {reason}")]
    InvalidName {
        /// What kind of name ("account", "repository", ...).
        kind: &'static str,
        /// The offending name, truncated.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// No such account.
    #[error("account '{0}' does not exist; list accounts to check the name")]
    NoSuchAccount(String),
    /// The account name is taken.
    #[error("account '{0}' already exists; choose another name")]
    AccountExists(String),
    /// `create_first_admin` was called when an administrator exists.
    #[error(
        "an administrator account already exists; log in as an administrator to create more accounts"
    )]
    AdminExists,
    /// The operation would leave no enabled account with a global admin grant.
    #[error("refused: this would leave no enabled administrator; create or enable another administrator first")]
    LastAdmin,
    /// A TOTP enrolment step was out of order or its code did not match.
    #[error("TOTP enrolment failed: {0}")]
    Totp(&'static str),
    /// No such token.
    #[error("API token '{0}' does not exist; list tokens to check the id")]
    NoSuchToken(String),
    /// Tokens may not carry this role.
    #[error("role '{0}' cannot be given to an API token: it needs a person with a second factor; grant it to an account instead")]
    TokenRoleRefused(crate::Role),
    /// The store configuration is unusable.
    #[error("invalid auth configuration: {0}")]
    Config(String),
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Errors from loading or saving the store file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O call failed.
    #[error("cannot {action} auth store file {path}: {source}; check the data directory's permissions and free space")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file parsed but failed validation, or did not parse.
    #[error("auth store file {path} is corrupt: {reason}; restore it from a backup of the data directory")]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Serialising the state failed (should not happen).
    #[error("cannot encode the auth store: {0}")]
    Encode(String),
    /// Hashing a password failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}
