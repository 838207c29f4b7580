//! Retention locks (compliance semantics) and legal holds.
//!
//! A lock is a date before which a generation cannot be deleted. It can be extended, never
//! shortened, and there is no unlock: [`check_lock_change`] is the only way to compute a
//! new lock and it has no "remove" input. A hold has no date and blocks deletion until it
//! is released (releasing is a privileged, audited operation outside this crate).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{Generation, PolicyError, RetentionPolicy};

/// The lock that actually applies to `generation`: the later of its own `lock_until` and
/// `committed_at + policy.min_lock_days`. `None` when neither exists.
///
/// A lock too far in the future to represent saturates to the largest time, so an
/// absurd `min_lock_days` locks forever rather than not at all.
pub fn effective_lock(generation: &Generation, policy: &RetentionPolicy) -> Option<DateTime<Utc>> {
    let from_policy = policy.min_lock_days.filter(|d| *d > 0).map(|days| {
        Duration::try_days(i64::from(days))
            .and_then(|d| generation.committed_at.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    });
    match (generation.lock_until, from_policy) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Why a requested lock change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LockError {
    /// The new date is earlier than the current lock.
    #[error(
        "refusing to shorten the retention lock from {current} to {requested}: locks can only be \
         extended (compliance mode); request {current} or later"
    )]
    Shorten {
        current: DateTime<Utc>,
        requested: DateTime<Utc>,
    },
    /// The new date is not in the future, so it would protect nothing.
    #[error(
        "refusing to set a retention lock at {requested}, which is not after now ({now}); \
         give a future date"
    )]
    InPast {
        requested: DateTime<Utc>,
        now: DateTime<Utc>,
    },
}

/// Validates a request to set a generation's lock to `requested`.
///
/// Returns the lock to store. A lock can be extended (or re-set to the same date, which is
/// a no-op); it can never be shortened, and there is no unlock. A date that is not after
/// `now` is refused even when no lock exists, because it would look like protection while
/// protecting nothing.
pub fn check_lock_change(
    current: Option<DateTime<Utc>>,
    requested: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, LockError> {
    if requested <= now {
        return Err(LockError::InPast { requested, now });
    }
    match current {
        Some(current) if requested < current => Err(LockError::Shorten { current, requested }),
        _ => Ok(requested),
    }
}

/// Why a policy change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyChangeError {
    /// The new policy itself is invalid.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// `min_lock_days` would go down, which would shorten the lock of every generation
    /// that relies on it.
    #[error(
        "refusing to lower min_lock_days from {current} to {requested}: it would shorten the \
         retention lock of existing generations; keep {current} or raise it"
    )]
    LowerMinLock { current: u32, requested: u32 },
}

/// Validates replacing the stored policy `current` with `requested`.
///
/// `min_lock_days` is part of every generation's effective lock, so lowering or removing it
/// would shorten existing locks: refused, like [`check_lock_change`]. Every other field may
/// change (who may change it, and with how many approvals, is the server's business), but
/// the new policy must pass [`RetentionPolicy::validate`].
pub fn check_policy_change(
    current: &RetentionPolicy,
    requested: &RetentionPolicy,
) -> Result<(), PolicyChangeError> {
    requested.validate()?;
    let current = current.min_lock_days.unwrap_or(0);
    let requested = requested.min_lock_days.unwrap_or(0);
    if requested < current {
        return Err(PolicyChangeError::LowerMinLock { current, requested });
    }
    Ok(())
}

/// One thing that prevents a generation from being deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// The effective lock is after `now`.
    Locked { until: DateTime<Utc> },
    /// A legal hold is in place.
    LegalHold {
        reason: String,
        added_by: String,
        added_at: DateTime<Utc>,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Locked { until } => {
                write!(f, "locked until {}", crate::forget::fmt_time(*until))
            }
            Blocker::LegalHold {
                reason,
                added_by,
                added_at,
            } => write!(
                f,
                "legal hold: {reason} (placed by {added_by} at {})",
                crate::forget::fmt_time(*added_at)
            ),
        }
    }
}

/// A generation cannot be deleted now; lists every reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "generation {id} cannot be deleted: {}; wait until the lock expires and/or have the hold \
     released by a retention administrator",
    join_blockers(.blockers)
)]
pub struct DeletionBlocked {
    /// The generation's id.
    pub id: String,
    /// Every lock and hold that applies, lock first.
    pub blockers: Vec<Blocker>,
}

fn join_blockers(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(Blocker::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything that blocks deleting `generation` at `now` (empty = deletable).
pub fn blockers(
    generation: &Generation,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Vec<Blocker> {
    let mut out = Vec::new();
    if let Some(until) = effective_lock(generation, policy).filter(|until| *until > now) {
        out.push(Blocker::Locked { until });
    }
    out.extend(generation.holds.iter().map(|h| Blocker::LegalHold {
        reason: h.reason.clone(),
        added_by: h.added_by.clone(),
        added_at: h.added_at,
    }));
    out
}

/// Whether `generation` may be deleted at `now`: no effective lock after `now` and no hold.
pub fn can_delete(
    generation: &Generation,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<(), DeletionBlocked> {
    let blockers = blockers(generation, policy, now);
    if blockers.is_empty() {
        Ok(())
    } else {
        Err(DeletionBlocked {
            id: generation.id.clone(),
            blockers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Hold, Verdict};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    fn gen(lock: Option<&str>) -> Generation {
        Generation {
            id: "g1".into(),
            source: "ehr-db".into(),
            host: "h".into(),
            committed_at: t("2026-11-01T00:00:00Z"),
            tags: vec![],
            lock_until: lock.map(t),
            holds: vec![],
            verdict: Verdict::Clean,
        }
    }

    fn min_lock(days: u32) -> RetentionPolicy {
        RetentionPolicy {
            keep_last: Some(1),
            min_lock_days: Some(days),
            ..Default::default()
        }
    }

    #[test]
    fn effective_lock_is_the_later_of_both() {
        let none = RetentionPolicy::default();
        assert_eq!(effective_lock(&gen(None), &none), None);
        assert_eq!(effective_lock(&gen(None), &min_lock(0)), None);
        assert_eq!(
            effective_lock(&gen(None), &min_lock(10)),
            Some(t("2026-11-11T00:00:00Z"))
        );
        let g = gen(Some("2026-11-05T00:00:00Z"));
        assert_eq!(effective_lock(&g, &none), Some(t("2026-11-05T00:00:00Z")));
        assert_eq!(
            effective_lock(&g, &min_lock(10)),
            Some(t("2026-11-11T00:00:00Z"))
        );
        assert_eq!(
            effective_lock(&g, &min_lock(2)),
            Some(t("2026-11-05T00:00:00Z"))
        );
    }

    #[test]
    fn absurd_min_lock_saturates_instead_of_unlocking() {
        let mut g = gen(None);
        g.committed_at = t("9999-01-01T00:00:00Z");
        let lock = effective_lock(&g, &min_lock(u32::MAX)).expect("locked");
        assert_eq!(lock, DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn lock_changes() {
        let now = t("2026-11-20T00:00:00Z");
        let cur = Some(t("2027-01-01T00:00:00Z"));
        let later = t("2027-06-01T00:00:00Z");
        let earlier = t("2026-12-01T00:00:00Z");
        let past = t("2026-11-19T00:00:00Z");
        assert_eq!(check_lock_change(cur, later, now), Ok(later));
        assert_eq!(
            check_lock_change(cur, t("2027-01-01T00:00:00Z"), now),
            Ok(t("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            check_lock_change(cur, earlier, now),
            Err(LockError::Shorten {
                current: t("2027-01-01T00:00:00Z"),
                requested: earlier
            })
        );
        assert_eq!(check_lock_change(None, later, now), Ok(later));
        assert_eq!(
            check_lock_change(None, past, now),
            Err(LockError::InPast {
                requested: past,
                now
            })
        );
        assert_eq!(
            check_lock_change(None, now, now),
            Err(LockError::InPast {
                requested: now,
                now
            })
        );
        // An expired lock can be renewed with any future date.
        assert_eq!(check_lock_change(Some(past), earlier, now), Ok(earlier));
        // A past date is refused even when it is after an expired lock.
        let older = Some(t("2026-01-01T00:00:00Z"));
        assert!(matches!(
            check_lock_change(older, past, now),
            Err(LockError::InPast { .. })
        ));
    }

    #[test]
    fn shorten_message_says_what_to_do() {
        let msg = check_lock_change(
            Some(t("2027-01-01T00:00:00Z")),
            t("2026-12-01T00:00:00Z"),
            t("2026-11-20T00:00:00Z"),
        )
        .expect_err("refused")
        .to_string();
        assert!(msg.contains("can only be extended"), "{msg}");
    }

    #[test]
    fn can_delete_names_lock_and_holds() {
        let now = t("2026-11-20T00:00:00Z");
        let policy = RetentionPolicy::default();
        assert_eq!(can_delete(&gen(None), &policy, now), Ok(()));
        assert_eq!(
            can_delete(&gen(Some("2026-11-19T00:00:00Z")), &policy, now),
            Ok(())
        );
        // A lock that ends exactly now no longer protects.
        assert_eq!(
            can_delete(&gen(Some("2026-11-20T00:00:00Z")), &policy, now),
            Ok(())
        );

        let mut g = gen(Some("2027-01-01T00:00:00Z"));
        g.holds.push(Hold {
            reason: "case 2026-17".into(),
            added_by: "legal".into(),
            added_at: now,
        });
        let err = can_delete(&g, &policy, now).expect_err("blocked");
        assert_eq!(err.blockers.len(), 2);
        let msg = err.to_string();
        assert!(msg.contains("generation g1 cannot be deleted"), "{msg}");
        assert!(msg.contains("locked until 2027-01-01T00:00:00Z"), "{msg}");
        assert!(
            msg.contains("legal hold: case 2026-17 (placed by legal"),
            "{msg}"
        );

        let mut held = gen(None);
        held.holds = g.holds.clone();
        let err = can_delete(&held, &policy, now).expect_err("hold blocks without a date");
        assert!(matches!(
            err.blockers.as_slice(),
            [Blocker::LegalHold { .. }]
        ));
    }

    #[test]
    fn can_delete_applies_min_lock_days() {
        let g = gen(None); // committed 2026-11-01
        let policy = min_lock(30);
        let err = can_delete(&g, &policy, t("2026-11-20T00:00:00Z")).expect_err("locked by policy");
        assert_eq!(
            err.blockers,
            vec![Blocker::Locked {
                until: t("2026-12-01T00:00:00Z")
            }]
        );
        assert_eq!(can_delete(&g, &policy, t("2026-12-01T00:00:01Z")), Ok(()));
    }

    #[test]
    fn policy_change_cannot_lower_min_lock() {
        let cur = min_lock(30);
        assert_eq!(check_policy_change(&cur, &min_lock(30)), Ok(()));
        assert_eq!(check_policy_change(&cur, &min_lock(90)), Ok(()));
        assert_eq!(
            check_policy_change(&cur, &min_lock(7)),
            Err(PolicyChangeError::LowerMinLock {
                current: 30,
                requested: 7
            })
        );
        let removed = RetentionPolicy {
            keep_last: Some(1),
            ..Default::default()
        };
        assert_eq!(
            check_policy_change(&cur, &removed),
            Err(PolicyChangeError::LowerMinLock {
                current: 30,
                requested: 0
            })
        );
        assert_eq!(
            check_policy_change(&removed, &RetentionPolicy::default()),
            Err(PolicyChangeError::Invalid(PolicyError::NoKeepRule))
        );
        let msg = check_policy_change(&cur, &min_lock(7))
            .expect_err("refused")
            .to_string();
        assert!(msg.contains("keep 30 or raise it"), "{msg}");
    }
}
