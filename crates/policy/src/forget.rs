//! The forget planner: which generations a retention policy keeps, and why.
//!
//! The semantics are documented in the crate overview (`lib.rs`); this file follows it
//! step by step in [`plan_source`]. Every step only ADDS keep reasons, so the order of the
//! steps cannot make one rule undo another: a generation is removed only when no step
//! found a reason to keep it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::duration::{format_duration, serde_duration};
use crate::lock::{blockers, Blocker};
use crate::model::{Generation, PolicyError, RetentionPolicy, Verdict};

/// How far after `now` a commit time may be before it counts as "from the future".
/// Five minutes absorbs ordinary clock drift between repository nodes.
pub const FUTURE_TOLERANCE_MINUTES: i64 = 5;

/// Formats an instant the way plans and errors show it: RFC 3339 in UTC, whole seconds.
pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A calendar period in the policy's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "period", rename_all = "snake_case")]
pub enum Bucket {
    /// One clock hour of one local day.
    Hourly { date: NaiveDate, hour: u32 },
    /// One local calendar day.
    Daily { date: NaiveDate },
    /// One ISO 8601 week (Monday to Sunday); `iso_year` may differ from the calendar year
    /// around 1 January.
    Weekly { iso_year: i32, week: u32 },
    /// One local calendar month.
    Monthly { year: i32, month: u32 },
    /// One local calendar year.
    Yearly { year: i32 },
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bucket::Hourly { date, hour } => write!(f, "hourly {date} {hour:02}:00"),
            Bucket::Daily { date } => write!(f, "daily {date}"),
            Bucket::Weekly { iso_year, week } => write!(f, "weekly {iso_year}-W{week:02}"),
            Bucket::Monthly { year, month } => write!(f, "monthly {year}-{month:02}"),
            Bucket::Yearly { year } => write!(f, "yearly {year}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Period {
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// The bucket of `t` in `tz`, or `None` when local time would leave chrono's range
/// (within a day of year ±262,143); such a generation then takes no calendar slot.
fn bucket(period: Period, t: DateTime<Utc>, tz: FixedOffset) -> Option<Bucket> {
    // `with_timezone` would panic at the range edges, so add the offset checked.
    let local = t.naive_utc().checked_add_offset(tz)?;
    let date = local.date();
    Some(match period {
        Period::Hourly => Bucket::Hourly {
            date,
            hour: local.hour(),
        },
        Period::Daily => Bucket::Daily { date },
        Period::Weekly => {
            let w = date.iso_week();
            Bucket::Weekly {
                iso_year: w.year(),
                week: w.week(),
            }
        }
        Period::Monthly => Bucket::Monthly {
            year: date.year(),
            month: date.month(),
        },
        Period::Yearly => Bucket::Yearly { year: date.year() },
    })
}

/// Why a generation is kept. A generation with no reason is removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeepReason {
    /// The policy was refused by `validate`; nothing is removed.
    PolicyRefused { error: PolicyError },
    /// Committed more than the tolerance after `now`: kept, flagged, not counted.
    FutureCommit,
    /// The effective lock is after `now`.
    Locked { until: DateTime<Utc> },
    /// A legal hold is in place.
    LegalHold { reason: String },
    /// Among the `keep_last` newest non-suspicious generations; `rank` 1 is the newest.
    Last { rank: u32 },
    /// Newest non-suspicious generation of one of the most recent calendar buckets.
    Calendar { bucket: Bucket },
    /// Committed within `keep_within` of the source's newest generation.
    Within {
        #[serde(with = "serde_duration")]
        within: Duration,
    },
    /// Carries a tag listed in `keep_tags`.
    Tag { tag: String },
    /// The newest Clean generation of its source.
    NewestClean,
    /// The newest Unknown generation of a source that has no Clean one.
    NewestUnknown,
    /// The newest generation of a source whose generations are all Suspicious.
    NewestOfSource,
    /// The id appears more than once in the input; removing by id would be ambiguous.
    DuplicateId,
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::PolicyRefused { error } => {
                write!(f, "policy refused, nothing removed: {error}")
            }
            KeepReason::FutureCommit => f.write_str("committed in the future (clock anomaly)"),
            KeepReason::Locked { until } => write!(f, "locked until {}", fmt_time(*until)),
            KeepReason::LegalHold { reason } => write!(f, "legal hold: {reason}"),
            KeepReason::Last { rank } => write!(f, "last {rank}"),
            KeepReason::Calendar { bucket } => bucket.fmt(f),
            KeepReason::Within { within } => write!(f, "within {}", format_duration(*within)),
            KeepReason::Tag { tag } => write!(f, "tag {tag}"),
            KeepReason::NewestClean => f.write_str("newest clean generation"),
            KeepReason::NewestUnknown => f.write_str("newest unverified generation (no clean one)"),
            KeepReason::NewestOfSource => f.write_str("newest generation (all are suspicious)"),
            KeepReason::DuplicateId => f.write_str("id listed more than once"),
        }
    }
}

/// The plan for one generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Generation id.
    pub id: String,
    /// Host that produced it.
    pub host: String,
    /// Repository commit time.
    pub committed_at: DateTime<Utc>,
    /// Ransomware verdict.
    pub verdict: Verdict,
    /// Why it is kept, in rule order; empty means it is removed.
    pub reasons: Vec<KeepReason>,
}

impl Decision {
    /// Whether the generation is kept.
    pub fn is_kept(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The plan for one source, newest generation first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePlan {
    /// Source name.
    pub source: String,
    /// One decision per input generation of this source.
    pub decisions: Vec<Decision>,
}

/// Something in the input that looks wrong and that an operator should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anomaly {
    /// A commit time later than `now` plus the tolerance: a skewed or forged clock.
    FutureCommit {
        id: String,
        source: String,
        committed_at: DateTime<Utc>,
    },
    /// The same generation id appears `count` times.
    DuplicateId { id: String, count: usize },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anomaly::FutureCommit { id, source, committed_at } => write!(
                f,
                "generation {id} of {source} was committed at {}, in the future: check the \
                 repository clock; it is kept and not counted by any rule",
                fmt_time(*committed_at)
            ),
            Anomaly::DuplicateId { id, count } => write!(
                f,
                "generation id {id} appears {count} times: run a repository check; all copies are kept"
            ),
        }
    }
}

/// The result of [`plan_forget`]: per-source decisions plus anomalies. Printing it is the
/// dry run; executing it removes exactly [`ForgetPlan::removed_ids`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ForgetPlan {
    /// One entry per source, sorted by source name.
    pub sources: Vec<SourcePlan>,
    /// Anomalies found while planning.
    pub anomalies: Vec<Anomaly>,
}

impl ForgetPlan {
    /// Every decision, source by source, newest first within a source.
    pub fn decisions(&self) -> impl Iterator<Item = &Decision> {
        self.sources.iter().flat_map(|s| s.decisions.iter())
    }

    /// Ids of the generations to remove.
    pub fn removed_ids(&self) -> Vec<&str> {
        self.decisions()
            .filter(|d| !d.is_kept())
            .map(|d| d.id.as_str())
            .collect()
    }

    /// Ids of the generations kept.
    pub fn kept_ids(&self) -> Vec<&str> {
        self.decisions()
            .filter(|d| d.is_kept())
            .map(|d| d.id.as_str())
            .collect()
    }

    /// The first decision for `id`.
    pub fn decision(&self, id: &str) -> Option<&Decision> {
        self.decisions().find(|d| d.id == id)
    }
}

/// Plans which generations `policy` keeps at `now`, with calendar buckets in `tz`.
///
/// Pure: the result depends only on the arguments. If `policy.validate()` fails,
/// everything is kept with [`KeepReason::PolicyRefused`]; callers should still call
/// `validate` first and show its error.
pub fn plan_forget(
    generations: &[Generation],
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    tz: FixedOffset,
) -> ForgetPlan {
    let refused = policy.validate().err();
    let mut by_source: BTreeMap<&str, Vec<&Generation>> = BTreeMap::new();
    for g in generations {
        by_source.entry(g.source.as_str()).or_default().push(g);
    }
    let mut plan = ForgetPlan::default();
    for (source, gens) in by_source {
        let ctx = Ctx {
            policy,
            now,
            tz,
            refused: refused.as_ref(),
        };
        plan.sources
            .push(plan_source(source, gens, &ctx, &mut plan.anomalies));
    }
    keep_duplicate_ids(&mut plan);
    plan
}

struct Ctx<'a> {
    policy: &'a RetentionPolicy,
    now: DateTime<Utc>,
    tz: FixedOffset,
    refused: Option<&'a PolicyError>,
}

/// One source's generations, newest first, with the reasons gathered so far.
struct Work<'a> {
    gens: Vec<&'a Generation>,
    future: Vec<bool>,
    reasons: Vec<Vec<KeepReason>>,
}

impl Work<'_> {
    /// Indices of generations that count-based rules may use, newest first.
    fn countable(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.gens.len())
            .filter(|&i| !self.future[i] && self.gens[i].verdict != Verdict::Suspicious)
    }

    /// Indices of generations with a trustworthy time, newest first.
    fn present(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.gens.len()).filter(|&i| !self.future[i])
    }
}

fn plan_source(
    source: &str,
    mut gens: Vec<&Generation>,
    ctx: &Ctx<'_>,
    anomalies: &mut Vec<Anomaly>,
) -> SourcePlan {
    // Newest first; ties broken by id so the plan never depends on input order.
    gens.sort_by(|a, b| {
        b.committed_at
            .cmp(&a.committed_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    let tolerance = Duration::minutes(FUTURE_TOLERANCE_MINUTES);
    // If now + tolerance overflows, nothing can be later than it.
    let horizon = ctx.now.checked_add_signed(tolerance);
    let future = gens
        .iter()
        .map(|g| horizon.is_some_and(|h| g.committed_at > h))
        .collect();
    let reasons = vec![Vec::new(); gens.len()];
    let mut work = Work {
        gens,
        future,
        reasons,
    };

    keep_protected(&mut work, ctx, source, anomalies);
    if let Some(error) = ctx.refused {
        for r in &mut work.reasons {
            r.insert(
                0,
                KeepReason::PolicyRefused {
                    error: error.clone(),
                },
            );
        }
    } else {
        keep_last(&mut work, ctx.policy.keep_last);
        keep_calendar(&mut work, ctx);
        keep_within(&mut work, ctx.policy.keep_within);
        keep_tags(&mut work, &ctx.policy.keep_tags);
        keep_newest_clean(&mut work);
    }

    let decisions = work
        .gens
        .iter()
        .zip(work.reasons)
        .map(|(g, reasons)| Decision {
            id: g.id.clone(),
            host: g.host.clone(),
            committed_at: g.committed_at,
            verdict: g.verdict,
            reasons,
        })
        .collect();
    SourcePlan {
        source: source.to_string(),
        decisions,
    }
}

/// Rules 3 and 4 of the crate docs: future commits, locks and holds, whatever the policy.
fn keep_protected(work: &mut Work<'_>, ctx: &Ctx<'_>, source: &str, anomalies: &mut Vec<Anomaly>) {
    for (i, g) in work.gens.iter().enumerate() {
        if work.future[i] {
            work.reasons[i].push(KeepReason::FutureCommit);
            anomalies.push(Anomaly::FutureCommit {
                id: g.id.clone(),
                source: source.to_string(),
                committed_at: g.committed_at,
            });
        }
        for blocker in blockers(g, ctx.policy, ctx.now) {
            work.reasons[i].push(match blocker {
                Blocker::Locked { until } => KeepReason::Locked { until },
                Blocker::LegalHold { reason, .. } => KeepReason::LegalHold { reason },
            });
        }
    }
}

fn keep_last(work: &mut Work<'_>, n: Option<u32>) {
    let n = n.unwrap_or(0) as usize;
    let chosen: Vec<usize> = work.countable().take(n).collect();
    for (rank, i) in (1u32..).zip(chosen) {
        work.reasons[i].push(KeepReason::Last { rank });
    }
}

/// For each calendar rule, the newest countable generation of each of the N most recent
/// buckets that contain a countable generation.
fn keep_calendar(work: &mut Work<'_>, ctx: &Ctx<'_>) {
    let p = ctx.policy;
    let rules = [
        (Period::Hourly, p.keep_hourly),
        (Period::Daily, p.keep_daily),
        (Period::Weekly, p.keep_weekly),
        (Period::Monthly, p.keep_monthly),
        (Period::Yearly, p.keep_yearly),
    ];
    for (period, n) in rules {
        let mut left = n.unwrap_or(0);
        let mut last: Option<Bucket> = None;
        let countable: Vec<usize> = work.countable().collect();
        for i in countable {
            if left == 0 {
                break;
            }
            // Newest first and buckets are monotonic in time, so the first generation
            // seen in a bucket is its newest one.
            let Some(b) = bucket(period, work.gens[i].committed_at, ctx.tz) else {
                continue;
            };
            if last.as_ref() != Some(&b) {
                work.reasons[i].push(KeepReason::Calendar { bucket: b.clone() });
                last = Some(b);
                left -= 1;
            }
        }
    }
}

/// Keeps generations committed at or after (newest - within); the newest is the newest
/// generation of the source that is not from the future, whatever its verdict.
fn keep_within(work: &mut Work<'_>, within: Option<Duration>) {
    let Some(within) = within.filter(|d| *d > Duration::zero()) else {
        return;
    };
    let Some(newest) = work.present().next() else {
        return;
    };
    // Underflow means the window reaches before the calendar's start: keep all.
    let cutoff = work.gens[newest].committed_at.checked_sub_signed(within);
    let chosen: Vec<usize> = work
        .present()
        .filter(|&i| cutoff.is_none_or(|c| work.gens[i].committed_at >= c))
        .collect();
    for i in chosen {
        work.reasons[i].push(KeepReason::Within { within });
    }
}

fn keep_tags(work: &mut Work<'_>, tags: &[String]) {
    for (i, g) in work.gens.iter().enumerate() {
        // Policy order, so a generation matching two listed tags shows both predictably.
        for tag in tags.iter().filter(|t| g.tags.contains(t)) {
            work.reasons[i].push(KeepReason::Tag { tag: tag.clone() });
        }
    }
}

/// Rule 9 of the crate docs: the newest Clean generation, else the newest Unknown, else
/// the newest of all, among those with a trustworthy time.
fn keep_newest_clean(work: &mut Work<'_>) {
    let find = |v: Verdict| work.present().find(|&i| work.gens[i].verdict == v);
    let chosen = if let Some(i) = find(Verdict::Clean) {
        Some((i, KeepReason::NewestClean))
    } else if let Some(i) = find(Verdict::Unknown) {
        Some((i, KeepReason::NewestUnknown))
    } else {
        work.present()
            .next()
            .map(|i| (i, KeepReason::NewestOfSource))
    };
    if let Some((i, reason)) = chosen {
        work.reasons[i].push(reason);
    }
}

/// Rule 11 of the crate docs. Removal is by id, so if an id appears twice, removing one
/// copy would remove the other: every copy of a duplicated id is kept and reported.
fn keep_duplicate_ids(plan: &mut ForgetPlan) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for d in plan.decisions() {
        *counts.entry(d.id.clone()).or_default() += 1;
    }
    counts.retain(|_, n| *n > 1);
    if counts.is_empty() {
        return;
    }
    for d in plan.sources.iter_mut().flat_map(|s| s.decisions.iter_mut()) {
        if counts.contains_key(&d.id) {
            d.reasons.push(KeepReason::DuplicateId);
        }
    }
    let mut dups: Vec<(String, usize)> = counts.into_iter().collect();
    dups.sort();
    plan.anomalies.extend(
        dups.into_iter()
            .map(|(id, count)| Anomaly::DuplicateId { id, count }),
    );
}

#[cfg(test)]
#[path = "forget_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "forget_flood_tests.rs"]
mod flood_tests;
