//! Lockout after repeated failures, per account and per source address.
//!
//! Per account (persisted with the account, so a restart does not reset it): failures are
//! counted until a success. The `max_failures`-th consecutive failure locks the account for
//! `base_lock`; every further failure after a lock doubles the delay up to `max_lock`. Attempts
//! while locked are refused without checking the password and do not extend the lock (otherwise
//! anyone could keep a colleague locked out forever with one request per minute).
//!
//! Per source address (in memory only): failures from one address across all accounts are
//! counted in a fixed window; past `source_max_failures` the address is refused for
//! `source_block`. This stops one machine from walking through many accounts, each below its own
//! limit. The table is bounded so a flood of addresses cannot exhaust memory.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::error::AuthError;

/// NIST SP 800-63B §5.2.2: no more than 100 consecutive failures on one account.
pub const HARD_MAX_FAILURES: u32 = 100;
/// Most source addresses tracked at once.
const MAX_TRACKED_SOURCES: usize = 10_000;

/// Lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock an account (1..=100).
    pub max_failures: u32,
    /// First lock duration in seconds.
    pub base_lock_secs: i64,
    /// Longest lock duration in seconds.
    pub max_lock_secs: i64,
    /// Failures from one source within the window that block the source.
    pub source_max_failures: u32,
    /// Source counting window in seconds.
    pub source_window_secs: i64,
    /// How long a blocked source stays blocked, in seconds.
    pub source_block_secs: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 10,
            base_lock_secs: 60,
            max_lock_secs: 24 * 3600,
            source_max_failures: 50,
            source_window_secs: 15 * 60,
            source_block_secs: 15 * 60,
        }
    }
}

impl LockoutPolicy {
    /// Refuses settings that would disable or weaken the lockout beyond the rules.
    pub fn validate(&self) -> Result<(), AuthError> {
        let bad = |m: &str| Err(AuthError::Config(m.to_owned()));
        if self.max_failures == 0 || self.max_failures > HARD_MAX_FAILURES {
            return bad("lockout max_failures must be between 1 and 100 (NIST SP 800-63B)");
        }
        if self.base_lock_secs <= 0 || self.max_lock_secs < self.base_lock_secs {
            return bad("lockout needs 0 < base_lock_secs <= max_lock_secs");
        }
        if self.source_max_failures == 0
            || self.source_window_secs <= 0
            || self.source_block_secs <= 0
        {
            return bad("source limits must all be positive");
        }
        Ok(())
    }

    /// Lock duration after `failures` consecutive failures, or `None` below the threshold.
    pub fn lock_duration(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.max_failures)?;
        // 2^over with the exponent bounded so the shift cannot overflow.
        let factor = 1i64 << over.min(30);
        let secs = self
            .base_lock_secs
            .saturating_mul(factor)
            .min(self.max_lock_secs);
        Some(Duration::seconds(secs))
    }
}

/// Per-account failure state, stored with the account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLock {
    /// Consecutive failures since the last success.
    pub failures: u32,
    /// Locked until this time, if locked.
    pub locked_until: Option<DateTime<Utc>>,
}

impl AccountLock {
    /// The end of the lock if the account is locked at `now`.
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    /// Records a failure; returns the new lock end if this failure locked the account.
    pub fn record_failure(
        &mut self,
        policy: &LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.failures = self.failures.saturating_add(1);
        let until = now + policy.lock_duration(self.failures)?;
        self.locked_until = Some(until);
        Some(until)
    }

    /// A success clears everything.
    pub fn record_success(&mut self) {
        *self = AccountLock::default();
    }
}

/// Addresses are short; bounding the key keeps a misbehaving caller from filling memory.
fn key(source: &str) -> String {
    source.chars().take(64).collect()
}

#[derive(Debug, Clone)]
struct SourceEntry {
    window_start: DateTime<Utc>,
    failures: u32,
    blocked_until: Option<DateTime<Utc>>,
}

/// In-memory failure counters per source address.
#[derive(Debug, Default, Clone)]
pub struct SourceThrottle {
    entries: HashMap<String, SourceEntry>,
}

impl SourceThrottle {
    /// The end of the block if `source` is blocked at `now`.
    pub fn blocked(&self, source: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries
            .get(&key(source))
            .and_then(|e| e.blocked_until)
            .filter(|until| *until > now)
    }

    /// Records a failure from `source`; returns the block end if this failure blocked it.
    pub fn record_failure(
        &mut self,
        policy: &LockoutPolicy,
        source: &str,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let source = key(source);
        if !self.entries.contains_key(&source) && self.entries.len() >= MAX_TRACKED_SOURCES {
            self.evict(policy, now);
        }
        let window = Duration::seconds(policy.source_window_secs);
        let entry = self.entries.entry(source).or_insert(SourceEntry {
            window_start: now,
            failures: 0,
            blocked_until: None,
        });
        if now - entry.window_start >= window {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= policy.source_max_failures {
            let until = now + Duration::seconds(policy.source_block_secs);
            entry.blocked_until = Some(until);
            entry.failures = 0;
            entry.window_start = now;
            return Some(until);
        }
        None
    }

    /// Drops expired entries; if the table is still full, drops the oldest windows.
    fn evict(&mut self, policy: &LockoutPolicy, now: DateTime<Utc>) {
        let window = Duration::seconds(policy.source_window_secs);
        self.entries.retain(|_, e| {
            e.blocked_until.is_some_and(|u| u > now) || now - e.window_start < window
        });
        if self.entries.len() >= MAX_TRACKED_SOURCES {
            let mut starts: Vec<(DateTime<Utc>, String)> = self
                .entries
                .iter()
                .filter(|(_, e)| e.blocked_until.is_none_or(|u| u <= now))
                .map(|(k, e)| (e.window_start, k.clone()))
                .collect();
            starts.sort();
            for (_, key) in starts.into_iter().take(MAX_TRACKED_SOURCES / 10) {
                self.entries.remove(&key);
            }
        }
    }

    /// Number of tracked sources (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).single().unwrap()
    }

    #[test]
    fn locks_at_threshold_and_doubles_to_cap() {
        let policy = LockoutPolicy {
            max_lock_secs: 600,
            ..LockoutPolicy::default()
        };
        assert_eq!(policy.lock_duration(9), None);
        assert_eq!(policy.lock_duration(10), Some(Duration::seconds(60)));
        assert_eq!(policy.lock_duration(11), Some(Duration::seconds(120)));
        assert_eq!(policy.lock_duration(13), Some(Duration::seconds(480)));
        assert_eq!(policy.lock_duration(14), Some(Duration::seconds(600)));
        assert_eq!(policy.lock_duration(u32::MAX), Some(Duration::seconds(600)));
    }

    #[test]
    fn account_lock_lifecycle() {
        let policy = LockoutPolicy::default();
        let mut lock = AccountLock::default();
        for _ in 0..9 {
            assert_eq!(lock.record_failure(&policy, t0()), None);
        }
        let until = lock
            .record_failure(&policy, t0())
            .expect("10th failure locks");
        assert_eq!(until, t0() + Duration::seconds(60));
        assert_eq!(lock.locked_at(t0()), Some(until));
        assert_eq!(lock.locked_at(until), None, "lock ends");
        lock.record_success();
        assert_eq!(lock, AccountLock::default());
    }

    #[test]
    fn policy_validation() {
        assert!(LockoutPolicy::default().validate().is_ok());
        for bad in [0, 101] {
            let p = LockoutPolicy {
                max_failures: bad,
                ..LockoutPolicy::default()
            };
            assert!(p.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn source_is_blocked_after_many_failures_and_window_resets() {
        let policy = LockoutPolicy {
            source_max_failures: 3,
            ..LockoutPolicy::default()
        };
        let mut s = SourceThrottle::default();
        assert_eq!(s.record_failure(&policy, "10.0.0.5", t0()), None);
        // A failure outside the window starts a new count.
        let later = t0() + Duration::seconds(policy.source_window_secs);
        assert_eq!(s.record_failure(&policy, "10.0.0.5", later), None);
        assert_eq!(s.record_failure(&policy, "10.0.0.5", later), None);
        let until = s
            .record_failure(&policy, "10.0.0.5", later)
            .expect("blocked");
        assert_eq!(s.blocked("10.0.0.5", later), Some(until));
        assert_eq!(s.blocked("10.0.0.6", later), None);
        assert_eq!(s.blocked("10.0.0.5", until), None);
    }

    #[test]
    fn source_table_is_bounded() {
        let policy = LockoutPolicy::default();
        let mut s = SourceThrottle::default();
        for i in 0..(MAX_TRACKED_SOURCES + 50) {
            s.record_failure(&policy, &format!("src-{i}"), t0());
        }
        assert!(s.tracked() <= MAX_TRACKED_SOURCES);
    }
}
