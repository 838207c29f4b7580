//! Login sessions: random 256-bit ids, stored only as hashes, with idle and absolute expiry.
//!
//! Sessions live in memory, not in the store file: a restart of the vault server logs everyone
//! out, which is the safe direction, and a request does not cost a disk write. Each session
//! keeps the account name, not a copy of its rights, so disabling an account or revoking a
//! grant takes effect on the next request.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

use crate::error::AuthError;
use crate::random::{secret_hash, token_string};

/// Prefix of session ids, so they are recognisable in leaked logs and secret scanners.
pub const SESSION_PREFIX: &str = "kura_ses";
/// Most concurrent sessions per account; the oldest is dropped beyond this.
const MAX_SESSIONS_PER_ACCOUNT: usize = 16;

/// Session lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    /// A session unused this long ends (seconds).
    pub idle_timeout_secs: i64,
    /// A session ends this long after login whatever its use (seconds).
    pub absolute_timeout_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout_secs: 15 * 60,
            absolute_timeout_secs: 8 * 3600,
        }
    }
}

impl SessionPolicy {
    /// Refuses non-positive or inverted lifetimes.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.idle_timeout_secs <= 0 || self.absolute_timeout_secs < self.idle_timeout_secs {
            return Err(AuthError::Config(
                "sessions need 0 < idle_timeout_secs <= absolute_timeout_secs".to_owned(),
            ));
        }
        Ok(())
    }
}

/// A session id as given to the client once. Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    /// The id to put in the cookie or header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(<redacted>)")
    }
}

/// Why a session id was not accepted (for the audit log; the client sees one error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionEnd {
    /// Unknown id or logged out.
    Unknown,
    /// Unused longer than the idle timeout.
    Idle,
    /// Older than the absolute timeout.
    Absolute,
}

#[derive(Debug, Clone)]
struct SessionRecord {
    account: String,
    mfa: bool,
    created_at: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// The live sessions, keyed by the hash of their id.
#[derive(Debug, Default, Clone)]
pub struct SessionTable {
    policy: SessionPolicy,
    by_hash: HashMap<String, SessionRecord>,
}

fn hash_of(secret: &str) -> String {
    secret_hash("session", secret.as_bytes())
}

impl SessionTable {
    /// An empty table with `policy`.
    pub fn new(policy: SessionPolicy) -> Self {
        SessionTable {
            policy,
            by_hash: HashMap::new(),
        }
    }

    /// Starts a session for `account`.
    pub fn create(&mut self, account: &str, mfa: bool, now: DateTime<Utc>) -> SessionSecret {
        self.purge_expired(now);
        self.limit_account(account);
        let secret = token_string(SESSION_PREFIX, 32);
        self.by_hash.insert(
            hash_of(&secret),
            SessionRecord {
                account: account.to_owned(),
                mfa,
                created_at: now,
                last_seen: now,
            },
        );
        SessionSecret(secret)
    }

    fn limit_account(&mut self, account: &str) {
        let mut mine: Vec<(DateTime<Utc>, String)> = self
            .by_hash
            .iter()
            .filter(|(_, r)| r.account == account)
            .map(|(h, r)| (r.created_at, h.clone()))
            .collect();
        if mine.len() < MAX_SESSIONS_PER_ACCOUNT {
            return;
        }
        mine.sort();
        let excess = mine.len() + 1 - MAX_SESSIONS_PER_ACCOUNT;
        for (_, hash) in mine.into_iter().take(excess) {
            self.by_hash.remove(&hash);
        }
    }

    /// Checks a session id and refreshes its idle timer. Returns (account, mfa).
    pub fn touch(
        &mut self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), SessionEnd> {
        let hash = hash_of(secret);
        let record = self.by_hash.get_mut(&hash).ok_or(SessionEnd::Unknown)?;
        let end = if now - record.created_at >= Duration::seconds(self.policy.absolute_timeout_secs)
        {
            Some(SessionEnd::Absolute)
        } else if now - record.last_seen >= Duration::seconds(self.policy.idle_timeout_secs) {
            Some(SessionEnd::Idle)
        } else {
            None
        };
        if let Some(end) = end {
            self.by_hash.remove(&hash);
            return Err(end);
        }
        // A clock that steps backwards must not extend a session.
        record.last_seen = record.last_seen.max(now);
        Ok((record.account.clone(), record.mfa))
    }

    /// Ends one session (logout). Returns whether it existed.
    pub fn remove(&mut self, secret: &str) -> bool {
        self.by_hash.remove(&hash_of(secret)).is_some()
    }

    /// Ends every session of `account` (disable, delete, password change).
    pub fn remove_account(&mut self, account: &str) {
        self.by_hash.retain(|_, r| r.account != account);
    }

    /// Drops expired sessions.
    pub fn purge_expired(&mut self, now: DateTime<Utc>) {
        let idle = Duration::seconds(self.policy.idle_timeout_secs);
        let absolute = Duration::seconds(self.policy.absolute_timeout_secs);
        self.by_hash
            .retain(|_, r| now - r.created_at < absolute && now - r.last_seen < idle);
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).single().unwrap()
    }

    fn table() -> SessionTable {
        SessionTable::new(SessionPolicy {
            idle_timeout_secs: 600,
            absolute_timeout_secs: 3600,
        })
    }

    #[test]
    fn idle_timeout_ends_session() {
        let mut t = table();
        let s = t.create("alice", true, t0());
        assert!(s.expose().starts_with("kura_ses_"));
        assert_eq!(
            t.touch(s.expose(), t0() + Duration::seconds(599)),
            Ok(("alice".into(), true))
        );
        // Touch refreshed the idle timer, so 599 s after that is still fine...
        assert!(t.touch(s.expose(), t0() + Duration::seconds(1198)).is_ok());
        // ...but 600 s of silence ends it, and it stays ended.
        let late = t0() + Duration::seconds(1798);
        assert_eq!(t.touch(s.expose(), late), Err(SessionEnd::Idle));
        assert_eq!(t.touch(s.expose(), late), Err(SessionEnd::Unknown));
    }

    #[test]
    fn absolute_timeout_ends_busy_session() {
        let mut t = table();
        let s = t.create("alice", false, t0());
        let mut now = t0();
        for _ in 0..11 {
            now += Duration::seconds(300);
            assert!(t.touch(s.expose(), now).is_ok(), "{now}");
        }
        now += Duration::seconds(300);
        assert_eq!(now - t0(), Duration::seconds(3600));
        assert_eq!(t.touch(s.expose(), now), Err(SessionEnd::Absolute));
    }

    #[test]
    fn logout_and_account_removal() {
        let mut t = table();
        let a = t.create("alice", false, t0());
        let b = t.create("bob", false, t0());
        assert!(t.remove(a.expose()));
        assert!(!t.remove(a.expose()));
        assert_eq!(t.touch(a.expose(), t0()), Err(SessionEnd::Unknown));
        t.remove_account("bob");
        assert_eq!(t.touch(b.expose(), t0()), Err(SessionEnd::Unknown));
        assert!(t.is_empty());
    }

    #[test]
    fn sessions_per_account_are_bounded_and_ids_redacted() {
        let mut t = table();
        let first = t.create("alice", false, t0());
        for i in 1..40 {
            t.create("alice", false, t0() + Duration::seconds(i));
        }
        assert_eq!(t.len(), MAX_SESSIONS_PER_ACCOUNT);
        assert!(t
            .touch(first.expose(), t0() + Duration::seconds(41))
            .is_err());
        assert!(!format!("{first:?}").contains("kura_ses"));
    }
}
