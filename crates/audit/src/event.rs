//! The audit record itself: who did what to what, when, from where, and how it ended.
//!
//! An [`AuditEvent`] is what callers hand to [`crate::AuditLog::append`]; a [`StoredEntry`] is
//! what comes back from the file: the event plus its position (`seq`) and its two chain hashes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Well-known action names. Other crates should use these constants rather than string
/// literals so that filters such as "every `forget.*` action" stay reliable.
///
/// Actions are dotted names; an export filter matches them by prefix, so `forget` selects
/// `forget.plan` and `forget.approve`.
pub mod actions {
    /// A successful login.
    pub const LOGIN: &str = "login";
    /// A failed login (wrong password, wrong TOTP code, unknown account).
    pub const LOGIN_FAILED: &str = "login.failed";
    /// An account was locked after repeated failures.
    pub const LOCKOUT: &str = "lockout";
    /// An API token was used.
    pub const TOKEN_USE: &str = "token.use";
    /// A backup generation was written.
    pub const BACKUP: &str = "backup";
    /// Data was restored.
    pub const RESTORE: &str = "restore";
    /// A repository check or verification ran.
    pub const CHECK: &str = "check";
    /// A forget (retention) plan was produced.
    pub const FORGET_PLAN: &str = "forget.plan";
    /// A forget plan was approved by a second administrator.
    pub const FORGET_APPROVE: &str = "forget.approve";
    /// Unreferenced data was pruned.
    pub const PRUNE: &str = "prune";
    /// A retention lock was extended.
    pub const LOCK_EXTEND: &str = "lock.extend";
    /// A legal hold was placed.
    pub const HOLD_ADD: &str = "hold.add";
    /// An account was created.
    pub const ACCOUNT_CREATE: &str = "account.create";
    /// An account changed its own password.
    pub const PASSWORD_CHANGE: &str = "account.password_change";
    /// An administrator set an account's password (the user must change it at the next login).
    pub const PASSWORD_RESET: &str = "account.password_reset";
    /// A role was granted to an account.
    pub const ROLE_GRANT: &str = "role.grant";
    /// Configuration changed.
    pub const CONFIG_CHANGE: &str = "config.change";
    /// Clinical data was viewed (emergency viewer, patient summary).
    pub const CLINICAL_VIEW: &str = "clinical.view";
    /// The audit log itself recovered from a torn last line (written by this crate).
    pub const AUDIT_TAIL_RECOVERED: &str = "audit.tail_recovered";
}

/// How an audited action ended.
///
/// `Denied` is kept apart from `Failure` because auditors look for refused attempts
/// (permission checks, locks) separately from operations that broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action completed.
    Success,
    /// The action was attempted and failed (I/O error, wrong password, ...).
    Failure,
    /// The action was refused by policy (missing role, retention lock, lockout).
    Denied,
}

impl Outcome {
    /// The lowercase name used in the log and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audited event, before it is placed in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When the event happened (UTC, from the caller's NTP-synchronised clock).
    pub time: DateTime<Utc>,
    /// Account or token name that acted; for a failed login, the name that was tried.
    pub actor: String,
    /// Role the actor acted under, if any.
    pub role: Option<String>,
    /// Network address or terminal the request came from, if known.
    pub source_addr: Option<String>,
    /// Dotted action name, see [`actions`].
    pub action: String,
    /// What the action was applied to (generation id, account, patient id, config key).
    pub target: String,
    /// How it ended.
    pub result: Outcome,
    /// Why it failed or was denied, or a free-text justification (e.g. break-glass reason).
    pub reason: Option<String>,
    /// Structured extra data; `null` when there is none.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// An event timestamped now, with no role, source, reason or details.
    pub fn now(
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        result: Outcome,
    ) -> Self {
        Self::at(Utc::now(), actor, action, target, result)
    }

    /// An event with an explicit timestamp (tests, importing events recorded elsewhere).
    pub fn at(
        time: DateTime<Utc>,
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        result: Outcome,
    ) -> Self {
        AuditEvent {
            time,
            actor: actor.into(),
            role: None,
            source_addr: None,
            action: action.into(),
            target: target.into(),
            result,
            reason: None,
            details: serde_json::Value::Null,
        }
    }

    /// Sets the role the actor acted under.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Sets the source address.
    pub fn with_source(mut self, source_addr: impl Into<String>) -> Self {
        self.source_addr = Some(source_addr.into());
        self
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Position of the newest entry: what the repository records with each generation and what
/// [`crate::verify`] checks the file against to detect a truncated tail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Head {
    /// Sequence number of the newest entry (1 for the first entry, so it is also the count).
    pub seq: u64,
    /// Lowercase hex BLAKE3 hash of that entry.
    pub hash: String,
}

impl Head {
    /// Builds a head from its parts.
    pub fn new(seq: u64, hash: impl Into<String>) -> Self {
        Head {
            seq,
            hash: hash.into(),
        }
    }
}

impl From<(u64, String)> for Head {
    fn from((seq, hash): (u64, String)) -> Self {
        Head { seq, hash }
    }
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq {} hash {}", self.seq, self.hash)
    }
}

/// An event as stored in the log, with its place in the hash chain.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    /// 1-based position in the log; consecutive with no gaps.
    pub seq: u64,
    /// Hash of the previous entry, or 64 zeros for the first entry.
    pub prev: String,
    /// The event.
    pub event: AuditEvent,
    /// Hash of this entry (see the crate docs for exactly which bytes are hashed).
    pub hash: String,
}

impl StoredEntry {
    /// The head this entry represents if it is the newest.
    pub fn head(&self) -> Head {
        Head::new(self.seq, self.hash.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_serializes_lowercase() {
        let json = serde_json::to_string(&Outcome::Denied).unwrap();
        assert_eq!(json, "\"denied\"");
        let back: Outcome = serde_json::from_str("\"failure\"").unwrap();
        assert_eq!(back, Outcome::Failure);
    }

    #[test]
    fn builder_sets_optional_fields() {
        let e = AuditEvent::now("alice", actions::RESTORE, "gen-7", Outcome::Success)
            .with_role("restore-operator")
            .with_source("10.0.0.5")
            .with_reason("drill")
            .with_details(serde_json::json!({"files": 3}));
        assert_eq!(e.role.as_deref(), Some("restore-operator"));
        assert_eq!(e.source_addr.as_deref(), Some("10.0.0.5"));
        assert_eq!(e.reason.as_deref(), Some("drill"));
        assert_eq!(e.details["files"], 3);
        assert_eq!(e.action, "restore");
    }

    #[test]
    fn head_from_tuple_and_display() {
        let h: Head = (3, "ab".to_string()).into();
        assert_eq!(h, Head::new(3, "ab"));
        assert_eq!(h.to_string(), "seq 3 hash ab");
    }
}
