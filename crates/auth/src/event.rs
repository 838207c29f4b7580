//! What really happened during an authentication attempt, for the audit log.
//!
//! The client always gets the same [`crate::AuthError::InvalidCredentials`]; the server logs
//! the [`AuditRecord`] returned alongside, which says whether the account was unknown, the
//! password wrong, the account locked, and so on. Records never contain the secret typed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AuthError;

/// The internal reason behind an authentication result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum AuthEvent {
    /// Password (and second factor, if enrolled) accepted.
    LoginSucceeded {
        /// Whether a second factor was used.
        mfa: bool,
        /// Whether the second factor was a recovery code.
        recovery_code_used: bool,
        /// Recovery codes left after this login.
        recovery_codes_left: usize,
        /// Whether the stored hash was upgraded to the current Argon2 parameters.
        rehashed: bool,
    },
    /// No such account (a dummy Argon2 check was run).
    UnknownAccount,
    /// The account is disabled.
    AccountDisabled,
    /// The account had been unused too long and was disabled by this attempt.
    DisabledForInactivity {
        /// Last activity.
        last_used: DateTime<Utc>,
    },
    /// The account was already locked; the password was not checked.
    AccountLocked {
        /// Lock end.
        until: DateTime<Utc>,
    },
    /// The source address is blocked; nothing was checked.
    SourceBlocked {
        /// Block end.
        until: DateTime<Utc>,
    },
    /// Wrong password.
    WrongPassword {
        /// Consecutive failures now.
        failures: u32,
        /// Set if this failure locked the account.
        locked_until: Option<DateTime<Utc>>,
    },
    /// The password was right but no second factor was given although one is enrolled.
    SecondFactorMissing {
        /// Consecutive failures now.
        failures: u32,
        /// Set if this failure locked the account.
        locked_until: Option<DateTime<Utc>>,
    },
    /// The password was right but the TOTP or recovery code was wrong.
    WrongSecondFactor {
        /// Consecutive failures now.
        failures: u32,
        /// Set if this failure locked the account.
        locked_until: Option<DateTime<Utc>>,
    },
    /// The password was right and the TOTP code valid but already used (replay).
    TotpReplayed {
        /// Consecutive failures now.
        failures: u32,
        /// Set if this failure locked the account.
        locked_until: Option<DateTime<Utc>>,
    },
    /// An API token was accepted.
    TokenAccepted {
        /// Token id.
        token_id: String,
    },
    /// The token string is malformed or unknown.
    TokenUnknown,
    /// The token was revoked.
    TokenRevoked {
        /// Token id.
        token_id: String,
    },
    /// The token has expired.
    TokenExpired {
        /// Token id.
        token_id: String,
    },
}

impl AuthEvent {
    /// Whether this event is a success.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            AuthEvent::LoginSucceeded { .. } | AuthEvent::TokenAccepted { .. }
        )
    }
}

/// One audit record for an authentication attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// The account name as typed (truncated, control characters removed) or `token:<id>`.
    pub claimed: String,
    /// Remote address as given by the server.
    pub remote: String,
    /// What happened.
    pub event: AuthEvent,
    /// Set if this failure made the remote address blocked, until then.
    pub remote_blocked_until: Option<DateTime<Utc>>,
    /// Set if saving the updated counters to disk failed (the in-memory state still applies).
    pub store_error: Option<String>,
}

/// An authentication result plus the audit record the server must log.
#[derive(Debug)]
pub struct Outcome<T> {
    /// What the client sees.
    pub result: Result<T, AuthError>,
    /// What the audit log records.
    pub audit: AuditRecord,
}

/// Makes client-provided text safe to put in a record: no control characters, bounded length.
pub fn sanitise(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}
