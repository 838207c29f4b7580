//! Two-phase garbage-collection plan for packs.
//!
//! Deleting a pack is never decided from one observation. A pack that no index references
//! is first MARKED unused; only a later run that finds it still unreferenced, marked more
//! than `grace` ago, created more than `grace` ago and not locked DELETES it. In between,
//! a backup that started before the mark can still reference the pack (its index is
//! written last), and a pack referenced again is UNMARKED. A pack created less than
//! `grace` ago is never even marked, because a running backup may be writing the index
//! that references it. "More than `grace` ago" is strict: at exactly `grace` the pack waits.
//!
//! The store crate executes the plan; this module only decides.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What the repository knows about one pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackState {
    /// Pack id (hex).
    pub id: String,
    /// Repository time at which the pack was stored.
    pub created_at: DateTime<Utc>,
    /// Repository time at which a GC run marked it unused, if any.
    pub marked_unused_at: Option<DateTime<Utc>>,
    /// Object-lock retain-until of the stored pack, if any.
    pub locked_until: Option<DateTime<Utc>>,
}

/// What to do with one pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum GcAction {
    /// Referenced and not marked: nothing to do.
    InUse,
    /// Unreferenced but created at most `grace` ago: not marked yet; may be marked after `until`.
    TooYoung { until: DateTime<Utc> },
    /// Unreferenced and old enough: record it as unused now.
    Mark,
    /// Marked earlier but referenced again: clear the mark.
    Unmark,
    /// Marked and unreferenced but not deletable yet (grace or lock): deletable after `until`.
    Waiting { until: DateTime<Utc> },
    /// Marked more than `grace` ago, still unreferenced, old and unlocked: delete it.
    Delete,
    /// The id is listed more than once, so its state is ambiguous: nothing is done; run a check.
    Duplicate,
}

/// The decision for one pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackDecision {
    /// Pack id.
    pub id: String,
    /// What to do.
    pub action: GcAction,
}

/// The GC plan: one decision per input pack, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GcPlan {
    /// Decisions in input order.
    pub packs: Vec<PackDecision>,
}

impl GcPlan {
    fn ids_with(&self, pred: impl Fn(&GcAction) -> bool) -> Vec<&str> {
        self.packs
            .iter()
            .filter(|p| pred(&p.action))
            .map(|p| p.id.as_str())
            .collect()
    }

    /// Packs to mark unused.
    pub fn to_mark(&self) -> Vec<&str> {
        self.ids_with(|a| *a == GcAction::Mark)
    }

    /// Packs whose mark must be cleared.
    pub fn to_unmark(&self) -> Vec<&str> {
        self.ids_with(|a| *a == GcAction::Unmark)
    }

    /// Packs to delete.
    pub fn to_delete(&self) -> Vec<&str> {
        self.ids_with(|a| *a == GcAction::Delete)
    }

    /// Marked packs still waiting, with the time after which they become deletable.
    pub fn waiting(&self) -> Vec<(&str, DateTime<Utc>)> {
        self.packs
            .iter()
            .filter_map(|p| match p.action {
                GcAction::Waiting { until } => Some((p.id.as_str(), until)),
                _ => None,
            })
            .collect()
    }
}

/// Plans one GC run at `now`. A negative `grace` is treated as zero.
pub fn plan_gc(
    packs: &[PackState],
    referenced: &HashSet<String>,
    now: DateTime<Utc>,
    grace: Duration,
) -> GcPlan {
    let grace = grace.max(Duration::zero());
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in packs {
        *counts.entry(p.id.as_str()).or_default() += 1;
    }
    let packs = packs
        .iter()
        .map(|p| {
            let action = if counts.get(p.id.as_str()).copied().unwrap_or(0) > 1 {
                GcAction::Duplicate
            } else {
                decide(p, referenced.contains(&p.id), now, grace)
            };
            PackDecision {
                id: p.id.clone(),
                action,
            }
        })
        .collect();
    GcPlan { packs }
}

/// `t + grace`, saturating so that an overflow means "not yet" rather than "already".
fn plus_grace(t: DateTime<Utc>, grace: Duration) -> DateTime<Utc> {
    t.checked_add_signed(grace)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn decide(p: &PackState, referenced: bool, now: DateTime<Utc>, grace: Duration) -> GcAction {
    let created_ok = plus_grace(p.created_at, grace);
    match (referenced, p.marked_unused_at) {
        (true, None) => GcAction::InUse,
        (true, Some(_)) => GcAction::Unmark,
        (false, None) if now > created_ok => GcAction::Mark,
        (false, None) => GcAction::TooYoung { until: created_ok },
        (false, Some(marked)) => {
            // A mark in the future (clock skew) simply pushes deletion later.
            let grace_done = plus_grace(marked, grace).max(created_ok);
            // A lock protects while it is after `now`, the same rule as for generations.
            let locked = p.locked_until.is_some_and(|lock| lock > now);
            if now > grace_done && !locked {
                GcAction::Delete
            } else {
                let until = p
                    .locked_until
                    .map_or(grace_done, |lock| grace_done.max(lock));
                GcAction::Waiting { until }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    fn pack(id: &str, created: &str, marked: Option<&str>, locked: Option<&str>) -> PackState {
        PackState {
            id: id.into(),
            created_at: t(created),
            marked_unused_at: marked.map(t),
            locked_until: locked.map(t),
        }
    }

    #[test]
    fn gc_case_table() {
        let now = t("2026-11-20T12:00:00Z");
        let grace = Duration::hours(24);
        let old = "2026-11-01T00:00:00Z";
        let cases: Vec<(&str, PackState, bool, GcAction)> = vec![
            (
                "referenced unmarked",
                pack("a", old, None, None),
                true,
                GcAction::InUse,
            ),
            (
                "referenced again",
                pack("b", old, Some("2026-11-10T00:00:00Z"), None),
                true,
                GcAction::Unmark,
            ),
            (
                "unreferenced old gets marked",
                pack("c", old, None, None),
                false,
                GcAction::Mark,
            ),
            (
                "locked unreferenced still marked",
                pack("c2", old, None, Some("2027-01-01T00:00:00Z")),
                false,
                GcAction::Mark,
            ),
            (
                "young never marked",
                pack("d", "2026-11-20T00:00:00Z", None, None),
                false,
                GcAction::TooYoung {
                    until: t("2026-11-21T00:00:00Z"),
                },
            ),
            (
                "age exactly grace is still young",
                pack("d2", "2026-11-19T12:00:00Z", None, None),
                false,
                GcAction::TooYoung {
                    until: t("2026-11-20T12:00:00Z"),
                },
            ),
            (
                "marked long ago gets deleted",
                pack("e", old, Some("2026-11-10T00:00:00Z"), None),
                false,
                GcAction::Delete,
            ),
            (
                "marked recently waits",
                pack("f", old, Some("2026-11-20T00:00:00Z"), None),
                false,
                GcAction::Waiting {
                    until: t("2026-11-21T00:00:00Z"),
                },
            ),
            (
                "marked exactly grace ago waits",
                pack("f2", old, Some("2026-11-19T12:00:00Z"), None),
                false,
                GcAction::Waiting {
                    until: t("2026-11-20T12:00:00Z"),
                },
            ),
            (
                "locked waits for the lock",
                pack(
                    "g",
                    old,
                    Some("2026-11-10T00:00:00Z"),
                    Some("2027-01-01T00:00:00Z"),
                ),
                false,
                GcAction::Waiting {
                    until: t("2027-01-01T00:00:00Z"),
                },
            ),
            (
                "expired lock is deleted",
                pack(
                    "h",
                    old,
                    Some("2026-11-10T00:00:00Z"),
                    Some("2026-11-15T00:00:00Z"),
                ),
                false,
                GcAction::Delete,
            ),
            (
                "marked but created recently (bad mark) waits for creation grace",
                pack(
                    "i",
                    "2026-11-20T06:00:00Z",
                    Some("2026-11-01T00:00:00Z"),
                    None,
                ),
                false,
                GcAction::Waiting {
                    until: t("2026-11-21T06:00:00Z"),
                },
            ),
            (
                "mark from the future waits",
                pack("j", old, Some("2027-03-01T00:00:00Z"), None),
                false,
                GcAction::Waiting {
                    until: t("2027-03-02T00:00:00Z"),
                },
            ),
        ];
        for (name, p, referenced, expected) in cases {
            let refs: HashSet<String> = if referenced {
                [p.id.clone()].into()
            } else {
                HashSet::new()
            };
            let plan = plan_gc(std::slice::from_ref(&p), &refs, now, grace);
            assert_eq!(
                plan.packs,
                vec![PackDecision {
                    id: p.id.clone(),
                    action: expected
                }],
                "{name}"
            );
        }
    }

    #[test]
    fn plan_lists_and_duplicates() {
        let now = t("2026-11-20T12:00:00Z");
        let old = "2026-11-01T00:00:00Z";
        let packs = vec![
            pack("m", old, None, None),
            pack("u", old, Some(old), None),
            pack("d", old, Some(old), None),
            pack("w", old, Some(old), Some("2027-01-01T00:00:00Z")),
            pack("dup", old, Some(old), None),
            pack("dup", old, None, None),
        ];
        let refs: HashSet<String> = ["u".to_string()].into();
        let plan = plan_gc(&packs, &refs, now, Duration::hours(1));
        assert_eq!(plan.to_mark(), vec!["m"]);
        assert_eq!(plan.to_unmark(), vec!["u"]);
        assert_eq!(plan.to_delete(), vec!["d"]);
        assert_eq!(plan.waiting(), vec![("w", t("2027-01-01T00:00:00Z"))]);
        assert_eq!(plan.packs[4].action, GcAction::Duplicate);
        assert_eq!(plan.packs[5].action, GcAction::Duplicate);
    }

    #[test]
    fn negative_grace_is_zero_and_overflow_never_deletes() {
        let now = t("2026-11-20T12:00:00Z");
        let p = pack("n", "2026-11-20T12:00:00Z", None, None);
        let plan = plan_gc(
            std::slice::from_ref(&p),
            &HashSet::new(),
            now,
            Duration::hours(-5),
        );
        assert_eq!(plan.packs[0].action, GcAction::TooYoung { until: now });
        let p = pack(
            "o",
            "2026-11-01T00:00:00Z",
            Some("2026-11-02T00:00:00Z"),
            None,
        );
        let plan = plan_gc(
            std::slice::from_ref(&p),
            &HashSet::new(),
            now,
            Duration::MAX,
        );
        assert_eq!(
            plan.packs[0].action,
            GcAction::Waiting {
                until: DateTime::<Utc>::MAX_UTC
            }
        );
    }
}
