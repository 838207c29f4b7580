//! Stored records (accounts, tokens) and the secret-free summaries handed out to callers.
//!
//! Records are plain data; the rules that change them live in `store`. Debug output of a record
//! never shows a hash, a TOTP secret or a recovery code hash.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::lockout::AccountLock;
use crate::role::{Grant, Role};
use crate::totp::TotpSecret;

/// Why an account is disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum DisableReason {
    /// An administrator disabled it (e.g. the person left).
    ByAdmin {
        /// Who disabled it.
        by: String,
    },
    /// It was not used for the configured number of days.
    Inactive {
        /// Last login (or creation) time.
        last_used: DateTime<Utc>,
    },
}

/// A disabled account's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disabled {
    /// When it was disabled.
    pub at: DateTime<Utc>,
    /// Why.
    #[serde(flatten)]
    pub reason: DisableReason,
}

/// An enrolled TOTP second factor.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpRecord {
    /// The shared secret.
    pub secret: TotpSecret,
    /// Last accepted time step; codes at or before it are replays.
    pub last_step: Option<u64>,
    /// BLAKE3 hashes of unused recovery codes.
    pub recovery_hashes: Vec<String>,
    /// When it was enrolled.
    pub enrolled_at: DateTime<Utc>,
}

/// One account as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Unique lower-case name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Who created it ("bootstrap" for the first administrator).
    pub created_by: String,
    /// Current Argon2id PHC hash.
    pub password_hash: String,
    /// Earlier hashes, newest first, so reuse can be refused.
    #[serde(default)]
    pub password_history: Vec<String>,
    /// When the password was last set.
    pub password_changed_at: DateTime<Utc>,
    /// Set when an administrator chose the password; the user should change it.
    #[serde(default)]
    pub must_change_password: bool,
    /// Enrolled second factor.
    #[serde(default)]
    pub totp: Option<TotpRecord>,
    /// A TOTP secret shown to the user but not yet confirmed with a code.
    #[serde(default)]
    pub pending_totp: Option<TotpSecret>,
    /// Roles granted.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Set while disabled.
    #[serde(default)]
    pub disabled: Option<Disabled>,
    /// Last successful login.
    #[serde(default)]
    pub last_login: Option<DateTime<Utc>>,
    /// Last time an administrator enabled the account; inactivity counts from here too.
    #[serde(default)]
    pub enabled_at: Option<DateTime<Utc>>,
    /// Failure counter and lock.
    #[serde(default)]
    pub lock: AccountLock,
}

impl Account {
    /// The latest of creation, re-enabling and last login: the start of inactivity.
    pub fn last_activity(&self) -> DateTime<Utc> {
        [Some(self.created_at), self.enabled_at, self.last_login]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.created_at)
    }

    /// Whether the account holds a global admin grant.
    pub fn is_admin(&self) -> bool {
        self.grants
            .iter()
            .any(|g| g.allows(crate::Permission::ManageAccounts, "*", None))
    }

    /// A secret-free view.
    pub fn summary(&self, now: DateTime<Utc>) -> AccountSummary {
        AccountSummary {
            name: self.name.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            grants: self.grants.clone(),
            disabled: self.disabled.clone(),
            totp_enrolled: self.totp.is_some(),
            recovery_codes_left: self.totp.as_ref().map_or(0, |t| t.recovery_hashes.len()),
            last_login: self.last_login,
            password_changed_at: self.password_changed_at,
            must_change_password: self.must_change_password,
            failures: self.lock.failures,
            locked_until: self.lock.locked_at(now),
        }
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("grants", &self.grants)
            .field("disabled", &self.disabled)
            .field("totp_enrolled", &self.totp.is_some())
            .field("password_hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// What an administrator or auditor may see about an account (access review, MHLW 14④).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Creator.
    pub created_by: String,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Disabled state.
    pub disabled: Option<Disabled>,
    /// Whether TOTP is enrolled.
    pub totp_enrolled: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// Last login.
    pub last_login: Option<DateTime<Utc>>,
    /// Last password change.
    pub password_changed_at: DateTime<Utc>,
    /// Whether the user must change an administrator-set password.
    pub must_change_password: bool,
    /// Consecutive failures.
    pub failures: u32,
    /// Lock end if locked now.
    pub locked_until: Option<DateTime<Utc>>,
}

/// One API token as stored (the token itself is never stored).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id, used to list and revoke.
    pub id: String,
    /// Descriptive name ("ehr-db01 nightly").
    pub name: String,
    /// Domain-separated BLAKE3 hash of the token string.
    pub hash: String,
    /// The single grant the token carries.
    pub grant: Grant,
    /// Account that created it.
    pub created_by: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Optional expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set when revoked; revoked tokens are kept for the audit trail.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// A secret-free view.
    pub fn summary(&self) -> TokenSummary {
        TokenSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.grant.role,
            grant: self.grant.clone(),
            created_by: self.created_by.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("grant", &self.grant)
            .field("hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// What may be shown about a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    /// Public id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The role (also inside `grant`; here for convenience).
    pub role: Role,
    /// The grant.
    pub grant: Grant,
    /// Creator.
    pub created_by: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}
