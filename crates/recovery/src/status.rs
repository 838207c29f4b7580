//! `kura plan status`: is each system's RPO and RTO met right now?
//!
//! **RPO.** A system is as fresh as its *stalest* source: a system held in two sources can
//! only be brought back to a consistent state no newer than the older of their newest clean
//! generations. The age is `now - committed_at` (the repository's commit time, which a
//! client cannot forge); a source without any clean generation misses the RPO.
//!
//! **RTO.** The own restore time of a system is the sum over its sources of
//! `size / throughput` (sources are restored one after another: a conservative figure).
//! The throughput is the one measured by the last drill of that source; without a drill the
//! plan's `default_restore_mib_per_s`, else [`DEFAULT_RESTORE_MIB_PER_S`], is used and the
//! result is flagged as an estimate. A system cannot be back before its dependencies are, so
//! the figure compared with the RTO is the *ready time*: its own restore time plus the
//! longest ready time among its dependencies (independent systems restore in parallel).
//!
//! Everything is a pure function of the plan, the facts and `now`, so the caller (the CLI,
//! the console) decides where facts come from and the tests can use any clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::order::{positions, restore_order};
use crate::plan::{Plan, Priority, Responsible, System};

/// Restore throughput assumed for a source never drilled, in MiB/s. Deliberately low: a
/// restore decrypts, decompresses and verifies every chunk and writes it to disk, typically
/// from a NAS or object storage over a 1 Gbit/s link (at most ~110 MiB/s); assuming half of
/// that keeps an undrilled estimate on the safe side. Run a drill to replace it.
pub const DEFAULT_RESTORE_MIB_PER_S: f64 = 50.0;

const MIB: f64 = 1024.0 * 1024.0;

/// What the repository knows about one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFacts {
    /// Kura source name.
    pub source: String,
    /// The newest generation of the source judged clean, if any.
    pub newest_clean: Option<GenerationRef>,
    /// Bytes a restore of that generation writes.
    pub size_bytes: u64,
    /// Restore throughput measured by the last drill, in bytes per second.
    pub measured_restore_throughput: Option<f64>,
}

/// A generation, as status and reports name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationRef {
    /// Full generation (snapshot) ID.
    pub id: String,
    /// When the repository committed it.
    pub committed_at: DateTime<Utc>,
}

/// The status of one system, as `kura plan status --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub name: String,
    pub title: Option<String>,
    pub priority: Priority,
    /// Position in the flattened restore order, starting at 1.
    pub restore_order: usize,
    /// Restore wave, starting at 1; systems of one level can be restored in parallel.
    pub restore_level: usize,
    /// True when every target is met.
    pub ok: bool,
    pub rpo_met: bool,
    pub rto_met: bool,
    /// RPO as written in the plan, and in seconds (absent if it does not parse).
    pub rpo: String,
    pub rpo_seconds: Option<i64>,
    pub rto: String,
    pub rto_seconds: Option<i64>,
    /// Age of the stalest newest-clean generation among the sources (absent if a source has
    /// no clean generation).
    pub newest_clean_age_seconds: Option<i64>,
    /// Newest clean generation of each source that has one.
    pub generations: Vec<SourceGeneration>,
    /// Total bytes to restore.
    pub size_bytes: u64,
    /// This system's own restore time.
    pub estimated_restore_seconds: f64,
    /// Own restore time plus the dependencies' ready time: compared with the RTO.
    pub estimated_ready_seconds: f64,
    /// True when at least one source has no drill measurement (default throughput used).
    pub throughput_estimated: bool,
    pub responsible: Option<Responsible>,
    /// Why a target is missed, one sentence each.
    pub problems: Vec<String>,
}

/// A source's newest clean generation within a [`SystemStatus`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceGeneration {
    pub source: String,
    pub id: String,
    pub committed_at: DateTime<Utc>,
    pub age_seconds: i64,
}

/// Per-system status, failing systems first, then in restore order.
pub fn status(plan: &Plan, facts: &[SourceFacts], now: DateTime<Utc>) -> Vec<SystemStatus> {
    let facts: BTreeMap<&str, &SourceFacts> =
        facts.iter().map(|f| (f.source.as_str(), f)).collect();
    let default_bps = plan
        .plan
        .default_restore_mib_per_s
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(DEFAULT_RESTORE_MIB_PER_S)
        * MIB;
    let pos = positions(&restore_order(plan));
    let mut own: BTreeMap<&str, (f64, bool)> = BTreeMap::new();
    for s in &plan.systems {
        own.insert(&s.name, own_restore_time(s, &facts, default_bps));
    }
    let mut ready_memo = BTreeMap::new();
    let mut out: Vec<SystemStatus> = Vec::new();
    for s in &plan.systems {
        if out.iter().any(|o| o.name == s.name) {
            continue; // duplicate name: validation reports it
        }
        let ready = ready_time(plan, &s.name, &own, &mut ready_memo, &mut Vec::new());
        let (position, level) = pos.get(&s.name).copied().unwrap_or((0, 0));
        out.push(system_status(
            s,
            &facts,
            now,
            own[s.name.as_str()],
            ready,
            position,
            level,
        ));
    }
    out.sort_by_key(|s| (s.ok, s.restore_order));
    out
}

/// True when every system meets both targets: the exit status of `kura plan status`.
pub fn all_met(statuses: &[SystemStatus]) -> bool {
    statuses.iter().all(|s| s.ok)
}

fn throughput(f: Option<&&SourceFacts>) -> Option<f64> {
    f.and_then(|f| f.measured_restore_throughput)
        .filter(|t| t.is_finite() && *t > 0.0)
}

/// (seconds, whether the default throughput was used for any source).
fn own_restore_time(
    s: &System,
    facts: &BTreeMap<&str, &SourceFacts>,
    default_bps: f64,
) -> (f64, bool) {
    let mut seconds = 0.0;
    let mut estimated = false;
    for source in &s.sources {
        let f = facts.get(source.as_str());
        let size = f.map_or(0, |f| f.size_bytes) as f64;
        let bps = throughput(f).unwrap_or_else(|| {
            estimated = true;
            default_bps
        });
        seconds += size / bps;
    }
    (seconds, estimated)
}

/// Own time plus the longest ready time of the dependencies; a dependency cycle is cut
/// (validation reports it) so this always terminates.
fn ready_time<'a>(
    plan: &'a Plan,
    name: &'a str,
    own: &BTreeMap<&str, (f64, bool)>,
    memo: &mut BTreeMap<&'a str, f64>,
    stack: &mut Vec<&'a str>,
) -> f64 {
    if let Some(t) = memo.get(name) {
        return *t;
    }
    let Some(s) = plan.system(name) else {
        return 0.0;
    };
    if stack.contains(&name) {
        return 0.0;
    }
    stack.push(name);
    let deps = s
        .depends_on
        .iter()
        .map(|d| ready_time(plan, d, own, memo, stack))
        .fold(0.0, f64::max);
    stack.pop();
    let t = own.get(name).map_or(0.0, |o| o.0) + deps;
    memo.insert(name, t);
    t
}

#[allow(clippy::too_many_arguments)]
fn system_status(
    s: &System,
    facts: &BTreeMap<&str, &SourceFacts>,
    now: DateTime<Utc>,
    (own_seconds, estimated): (f64, bool),
    ready_seconds: f64,
    position: usize,
    level: usize,
) -> SystemStatus {
    let mut problems = Vec::new();
    let (generations, age) = newest_clean(s, facts, now, &mut problems);
    let rpo_seconds = s.rpo().ok().map(|d| d.num_seconds());
    let rto_seconds = s.rto().ok().map(|d| d.num_seconds());
    let rpo_met = judge_rpo(s, age, rpo_seconds, &mut problems);
    let rto_met = match rto_seconds {
        Some(rto) if ready_seconds <= rto as f64 => true,
        Some(_) => {
            problems.push(format!(
                "estimated restore takes {}{} with dependencies, RTO is {}",
                human(ready_seconds),
                if estimated { " (no drill yet)" } else { "" },
                s.rto
            ));
            false
        }
        None => {
            problems.push(format!("RTO {:?} is not a duration", s.rto));
            false
        }
    };
    let size_bytes = s
        .sources
        .iter()
        .filter_map(|src| facts.get(src.as_str()).map(|f| f.size_bytes))
        .sum();
    SystemStatus {
        name: s.name.clone(),
        title: s.title.clone(),
        priority: s.priority,
        restore_order: position,
        restore_level: level,
        ok: rpo_met && rto_met,
        rpo_met,
        rto_met,
        rpo: s.rpo.clone(),
        rpo_seconds,
        rto: s.rto.clone(),
        rto_seconds,
        newest_clean_age_seconds: age,
        generations,
        size_bytes,
        estimated_restore_seconds: own_seconds,
        estimated_ready_seconds: ready_seconds,
        throughput_estimated: estimated,
        responsible: s.responsible.clone(),
        problems,
    }
}

fn judge_rpo(
    s: &System,
    age: Option<i64>,
    rpo_seconds: Option<i64>,
    problems: &mut Vec<String>,
) -> bool {
    match (age, rpo_seconds) {
        (Some(age), Some(rpo)) if age <= rpo => true,
        (Some(age), Some(_)) => {
            problems.push(format!(
                "newest clean generation is {} old, RPO is {}",
                human(age as f64),
                s.rpo
            ));
            false
        }
        (_, None) => {
            problems.push(format!("RPO {:?} is not a duration", s.rpo));
            false
        }
        (None, _) => false,
    }
}

/// The newest clean generation of each source and the age of the stalest one (absent when a
/// source has none, which is also added to `problems`).
fn newest_clean(
    s: &System,
    facts: &BTreeMap<&str, &SourceFacts>,
    now: DateTime<Utc>,
    problems: &mut Vec<String>,
) -> (Vec<SourceGeneration>, Option<i64>) {
    let mut generations = Vec::new();
    let mut missing = false;
    for source in &s.sources {
        match facts
            .get(source.as_str())
            .and_then(|f| f.newest_clean.as_ref())
        {
            Some(g) => generations.push(SourceGeneration {
                source: source.clone(),
                id: g.id.clone(),
                committed_at: g.committed_at,
                // A generation committed "in the future" (clock skew) counts as age 0.
                age_seconds: (now - g.committed_at).num_seconds().max(0),
            }),
            None => {
                missing = true;
                problems.push(format!("source {source:?} has no clean generation"));
            }
        }
    }
    let age = (!missing && !generations.is_empty())
        .then(|| generations.iter().map(|g| g.age_seconds).max().unwrap_or(0));
    (generations, age)
}

/// `3h 25m`, `45s`, `2d 4h`: for messages and reports.
pub fn human(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".to_string();
    }
    let s = seconds.round() as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
