//! Retention ("forget") policies, retention locks, legal holds and pack GC plans for Kura.
//!
//! Everything here is a pure function of its arguments: no I/O, and the crate is built
//! without chrono's `clock` feature, so it cannot read the system clock. The caller passes
//! `now` (the repository's trusted time) and gets back a *plan* that can be printed
//! (dry run), approved and executed once by another crate.
//!
//! # Forget semantics
//!
//! [`plan_forget`] decides, for every generation, Keep (with every reason that applies) or
//! Remove. The rules follow restic's `forget` (`doc/060_forget.rst`) with ransomware-safe
//! additions:
//!
//! 1. **Per source.** Generations are grouped by `source`; each group is planned alone, so
//!    one source's generations never affect another's. Within a group they are ordered
//!    newest first by `committed_at`, ties broken by id (descending), so the plan does not
//!    depend on input order.
//! 2. **Repository time only.** Every rule uses `committed_at`, the time the repository
//!    recorded at commit, never a time claimed by the backup client.
//! 3. **Future commits.** A generation with `committed_at` more than 5 minutes after `now`
//!    (a skewed or forged clock) is kept ("committed in the future"), reported in
//!    [`ForgetPlan::anomalies`], and ignored by rules 5-7 and 9: it takes no count slot, is
//!    not the reference for `keep_within`, and is not the "newest clean" generation. One
//!    exactly 5 minutes ahead is tolerated as clock drift and treated normally.
//! 4. **Locks and holds win.** A generation whose effective lock — the later of its
//!    `lock_until` and `committed_at + min_lock_days` — is after `now` is kept ("locked
//!    until ..."), as is any generation with a legal hold (`legal hold: <reason>`),
//!    whatever the policy says, even a refused one. A lock ending exactly at `now` no
//!    longer protects.
//! 5. **`keep_last N`** keeps the N newest *countable* generations ("last 1" is the newest).
//!    Countable means: not Suspicious and not from the future (Unknown counts like Clean).
//!    A Suspicious generation never takes a slot, so flooding a source with suspicious
//!    generations cannot push a clean one out.
//! 6. **`keep_hourly/daily/weekly/monthly/yearly N`** keep, for each of the N most recent
//!    calendar buckets that contain a countable generation, the newest countable generation
//!    in it ("daily 2026-11-20"). Empty periods do not count: with one backup every Sunday,
//!    `keep_daily 4` keeps the last four Sundays. Buckets are computed in the time zone
//!    passed in (`+09:00` for Japanese hospitals), so 2026-11-20T15:00Z is already
//!    2026-11-21 for `keep_daily`. Hours are `:00`-`:59`, days `00:00`-`23:59`, weeks are
//!    ISO 8601 weeks (Monday to Sunday, shown as `2026-W53`, with the ISO year), months
//!    and years are calendar months and years.
//! 7. **`keep_within D`** keeps every generation (of any verdict) committed at or after
//!    `newest - D`, where `newest` is the newest generation of the source that is not from
//!    the future. The window is anchored on the newest generation, not on `now`, so a
//!    backup job that stopped does not make every generation expire ("within 30d").
//! 8. **`keep_tags`** keeps every generation (of any verdict) carrying at least one of the
//!    listed tags ("tag monthly-archive"). Matching is exact and case-sensitive.
//! 9. **Newest clean.** The newest Clean generation of each source is always kept ("newest
//!    clean generation"); if the source has no Clean one, its newest Unknown one is kept;
//!    if all its generations are Suspicious, its newest one is kept. So a forget never
//!    removes the last trustworthy restore point, and never empties a source.
//! 10. **OR.** A generation is kept if any rule keeps it; all its reasons are listed.
//! 11. **Duplicate ids.** Removal is by id, so an id that appears more than once in the
//!     input is kept everywhere and reported as an anomaly.
//!
//! A policy with no keep rule — every count absent or 0, no positive `keep_within`, no
//! `keep_tags` — is refused by [`RetentionPolicy::validate`] ("refusing to forget with no
//! keep rule: it would remove every generation"). `min_lock_days` alone is not a keep
//! rule. If [`plan_forget`] is called with a refused policy anyway, it keeps everything.
//!
//! Deliberate differences from restic: `keep_within` is inclusive at its boundary (restic
//! keeps strictly newer); count rules skip Suspicious generations; restic's "oldest"
//! extra snapshot and `keep_within_daily` etc. are not implemented.
//!
//! # Locks, holds and deletion
//!
//! [`effective_lock`] is `max(lock_until, committed_at + min_lock_days)`. A lock can only
//! be extended: [`check_lock_change`] refuses a shorter date and a date not after `now`,
//! and there is no unlock. [`can_delete`] refuses while the effective lock is after `now`
//! or any hold exists, naming each lock date and hold. A plan is computed at one instant:
//! whoever executes it must call [`can_delete`] again for each generation right before
//! deleting it, because a hold may have been placed since. [`check_policy_change`] refuses
//! lowering `min_lock_days`, since that would shorten the lock of existing generations.
//!
//! # Durations and dates
//!
//! [`parse_duration`] reads `30m` (MINUTES), `24h`, `7d`, `2w`, `1y` (365 days), `1y6d`:
//! units `y w d h m s`, each at most once, largest first; no months. [`parse_date_or_time`]
//! reads `2027-01-01` as the END of that day in the given zone (00:00 of the next day) or
//! an RFC 3339 time with an offset.
//!
//! # Pack garbage collection
//!
//! [`plan_gc`] is two-phase (mark, then delete a later run after a grace period); see the
//! [`gc`] module documentation.
//!
//! # Example
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use kura_policy::{plan_forget, Generation, RetentionPolicy, Verdict};
//!
//! let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
//! let gen = |id: &str, at: &str| Generation {
//!     id: id.into(), source: "ehr-db".into(), host: "db1".into(), committed_at: t(at),
//!     tags: vec![], lock_until: None, holds: vec![], verdict: Verdict::Clean,
//! };
//! let generations = vec![
//!     gen("a1", "2026-11-19T01:00:00Z"),
//!     gen("a2", "2026-11-20T01:00:00Z"),
//!     gen("a3", "2026-11-20T02:00:00Z"),
//! ];
//! let policy = RetentionPolicy { keep_daily: Some(7), ..Default::default() };
//! policy.validate()?;
//! let plan = plan_forget(&generations, &policy, t("2026-11-21T00:00:00Z"), kura_policy::JST);
//! assert_eq!(plan.removed_ids(), vec!["a2"]);
//! let reasons = &plan.decision("a3").unwrap().reasons;
//! assert_eq!(reasons[0].to_string(), "daily 2026-11-20");
//! # Ok::<(), kura_policy::PolicyError>(())
//! ```
#![forbid(unsafe_code)]

mod duration;
mod forget;
pub mod gc;
mod lock;
mod model;

pub use duration::{format_duration, parse_date_or_time, parse_duration, ParseError};
pub use forget::{
    plan_forget, Anomaly, Bucket, Decision, ForgetPlan, KeepReason, SourcePlan,
    FUTURE_TOLERANCE_MINUTES,
};
pub use gc::{plan_gc, GcAction, GcPlan, PackDecision, PackState};
pub use lock::{
    blockers, can_delete, check_lock_change, check_policy_change, effective_lock, Blocker,
    DeletionBlocked, LockError, PolicyChangeError,
};
pub use model::{Generation, Hold, PolicyError, RetentionPolicy, Verdict};

/// Japan Standard Time (UTC+09:00, no daylight saving time): the zone for calendar buckets
/// and bare dates in Japanese hospitals.
pub const JST: chrono::FixedOffset = match chrono::FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    // Evaluated at compile time: an out-of-range constant fails the build, never a run.
    None => panic!("UTC+09:00 is a valid offset"),
};
