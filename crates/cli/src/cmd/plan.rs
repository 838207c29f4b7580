//! Recovery-plan commands: `kura plan check|status|restore` and `kura drill` (issue 8).
//!
//! Every decision (validation, order, RPO/RTO judgement, journal, drill verdicts, the HTML
//! report) is made by `kura-recovery`; this file only gathers facts from the repository, hands
//! the library restore functions that call the engine, and prints.
//!
//! - **Clean generations.** A source's usable generations are those whose verdict from
//!   `kura_engine::retention::generations` is not `Suspicious` (Unknown counts as clean: a
//!   repository without detection must still be restorable), newest commit time first.
//! - **Drill measurements** live in `<plan>.drills.json` beside the plan, written crash-safely
//!   (temporary file, fsync, rename, fsync of the directory): per source the newest measured
//!   restore throughput, which `plan status` uses for RTO estimates, and a bounded history of
//!   drills. Each drill is also appended to the local audit log. (The repository's metadata
//!   records are a closed enum in kura-repo, so drill results are not stored in it yet.)
//! - **Drill directories** are cleared before a drill only if an earlier drill created them
//!   (a `.kura-drill` marker file inside), so stale files never make a check pass and a
//!   directory pointed at by mistake is never emptied.
//! - **Restore journal**: `<plan>.restore-journal.json` unless `--journal`; a rerun of the same
//!   restore (same plan, same `--before`) skips systems already done.

mod drill;
mod restore;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use kura_policy::Verdict;
use kura_recovery::{self as rec, Plan, PlanError, SourceFacts, SystemStatus};
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::Repository;
use serde_json::json;

use crate::args::Global;
use crate::args_plan::{PlanCommand, PlanSub};
use crate::output::human_bytes;
use crate::{exit, open};

use state::{DrillState, Measure};

pub fn run(g: &Global, c: &PlanCommand) -> Result<i32> {
    match c {
        PlanCommand::Plan { command } => match command {
            PlanSub::Check { plan } => check(g, plan),
            PlanSub::Status { plan } => status(g, plan),
            PlanSub::Restore(a) => restore::restore_plan(g, a),
        },
        PlanCommand::Drill(a) => drill::drill(g, a),
    }
}

// ---------------------------------------------------------------------------------------
// kura plan check

fn check(g: &Global, path: &Path) -> Result<i32> {
    let plan = Plan::load(path)?;
    let known = match &g.repo {
        Some(_) => Some(clean_generations(&open::open(g)?, g.quiet)?.sources),
        None => None,
    };
    // Without a repository every source the plan names is taken as known: the rest is checked.
    let known_list = known.clone().unwrap_or_else(|| plan_sources(&plan));
    let findings = rec::lint(&plan, &known_list);
    let errors: Vec<String> = texts(&findings, true);
    let warnings: Vec<String> = texts(&findings, false);
    let levels = rec::restore_order(&plan);
    if g.json {
        let v = json!({
            "plan": path, "valid": errors.is_empty(), "sources_checked": known.is_some(),
            "errors": errors, "warnings": warnings, "restore_levels": levels,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for e in &errors {
            eprintln!("error: {e}");
        }
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        if known.is_none() && !g.quiet {
            eprintln!("note: no repository given (KURA_REPOSITORY or --repo): the sources were not checked against it");
        }
        if errors.is_empty() && !g.quiet {
            println!(
                "plan {} is valid: {} systems; restore order: {}",
                path.display(),
                plan.systems.len(),
                order_text(&levels)
            );
        } else if !errors.is_empty() {
            eprintln!("plan {} has {} error(s)", path.display(), errors.len());
        }
    }
    Ok(if errors.is_empty() {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

fn texts(findings: &[PlanError], errors: bool) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.is_error() == errors)
        .map(ToString::to_string)
        .collect()
}

/// "1. ehr-db  2. ssmix2 | 3. orders" — levels separated by `|` (a level restores in parallel).
fn order_text(levels: &[Vec<String>]) -> String {
    let mut n = 0;
    let levels: Vec<String> = levels
        .iter()
        .map(|level| {
            let names: Vec<String> = level
                .iter()
                .map(|name| {
                    n += 1;
                    format!("{n}. {name}")
                })
                .collect();
            names.join("  ")
        })
        .collect();
    levels.join(" | ")
}

fn plan_sources(plan: &Plan) -> Vec<String> {
    let set: BTreeSet<&String> = plan.systems.iter().flat_map(|s| &s.sources).collect();
    set.into_iter().cloned().collect()
}

/// Refuses a plan with errors (printing all of them); prints warnings unless quiet.
fn ensure_valid(g: &Global, plan: &Plan, known: &[String], ignore_restore_to: bool) -> Result<()> {
    let findings: Vec<PlanError> = rec::lint(plan, known)
        .into_iter()
        .filter(|f| !(ignore_restore_to && matches!(f, PlanError::MissingRestoreTo { .. })))
        .collect();
    if !g.quiet {
        for w in texts(&findings, false) {
            eprintln!("warning: {w}");
        }
    }
    let errors = texts(&findings, true);
    if !errors.is_empty() {
        bail!(
            "the recovery plan has {} error(s):\n  - {}\nfix them first (`kura plan check --plan FILE` lists them)",
            errors.len(),
            errors.join("\n  - ")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Facts from the repository

/// The generations usable for recovery, per source, newest commit first.
struct Clean {
    by_source: BTreeMap<String, Vec<SnapshotEntry>>,
    /// Every source that has any generation (clean or not): what `plan check` knows.
    sources: Vec<String>,
}

impl Clean {
    /// The newest clean generation of `source` committed at or before `before`.
    fn pick(&self, source: &str, before: Option<DateTime<Utc>>) -> Option<&SnapshotEntry> {
        let list = self.by_source.get(source)?;
        newest_at_or_before(list, before, |e| e.snapshot.committed_at)
    }
}

/// The first of `newest_first` committed at or before `before` (any, without `before`).
fn newest_at_or_before<T>(
    newest_first: &[T],
    before: Option<DateTime<Utc>>,
    committed_at: impl Fn(&T) -> DateTime<Utc>,
) -> Option<&T> {
    newest_first
        .iter()
        .find(|e| before.is_none_or(|b| committed_at(e) <= b))
}

fn clean_generations(repo: &Repository, quiet: bool) -> Result<Clean> {
    let list = repo.list_snapshots()?;
    if !quiet {
        for (name, e) in &list.damaged {
            eprintln!(
                "warning: generation {name} cannot be read ({e}); it is not used; run `kura check`"
            );
        }
    }
    let state = repo
        .retention_state()
        .context("reading the repository's metadata (locks, holds, verdicts)")?;
    let verdicts = kura_engine::retention::generations(&list.snapshots, &state);
    let mut by_source: BTreeMap<String, Vec<SnapshotEntry>> = BTreeMap::new();
    let mut sources = BTreeSet::new();
    for (entry, generation) in list.snapshots.into_iter().zip(verdicts) {
        sources.insert(entry.snapshot.source.clone());
        if is_clean(generation.verdict) {
            by_source
                .entry(entry.snapshot.source.clone())
                .or_default()
                .push(entry);
        }
    }
    for list in by_source.values_mut() {
        list.sort_by_key(|e| std::cmp::Reverse(e.snapshot.committed_at));
    }
    Ok(Clean {
        by_source,
        sources: sources.into_iter().collect(),
    })
}

/// Unknown counts as clean: without detection every generation is Unknown, and a hospital
/// must still be able to restore; only a generation flagged Suspicious is passed over.
fn is_clean(verdict: Verdict) -> bool {
    verdict != Verdict::Suspicious
}

/// `<plan><suffix>` beside the plan file.
fn beside(plan: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(plan.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

// ---------------------------------------------------------------------------------------
// kura plan status

fn status(g: &Global, path: &Path) -> Result<i32> {
    let plan = Plan::load(path)?;
    // Structure only: a source without generations shows up below as a missed RPO.
    ensure_valid(g, &plan, &plan_sources(&plan), true)?;
    let repo = open::open(g)?;
    let clean = clean_generations(&repo, g.quiet)?;
    let drills = DrillState::load(&beside(path, ".drills.json")).unwrap_or_else(|e| {
        eprintln!("warning: {e:#}; restore times are estimated without drill measurements");
        DrillState::default()
    });
    let facts: Vec<SourceFacts> = plan_sources(&plan)
        .into_iter()
        .map(|source| source_facts(&clean, &drills, source))
        .collect();
    let statuses = rec::status(&plan, &facts, Utc::now());
    if g.json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
    } else if !g.quiet {
        print_status(&plan, &statuses);
        let tz = rec::parse_offset(&plan.plan.timezone).unwrap_or(kura_policy::JST);
        let last = drills.last_drill_text(tz);
        println!(
            "{}",
            last.unwrap_or_else(|| "no drill yet: run `kura drill`".into())
        );
    }
    Ok(if rec::all_met(&statuses) {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

fn source_facts(clean: &Clean, drills: &DrillState, source: String) -> SourceFacts {
    let newest = clean.pick(&source, None);
    SourceFacts {
        newest_clean: newest.map(|e| rec::GenerationRef {
            id: e.id.to_hex(),
            committed_at: e.snapshot.committed_at,
        }),
        size_bytes: newest.map_or(0, |e| e.snapshot.stats.bytes_total),
        measured_restore_throughput: drills.sources.get(&source).and_then(Measure::throughput),
        source,
    }
}

fn print_status(plan: &Plan, statuses: &[SystemStatus]) {
    let failing = statuses.iter().filter(|s| !s.ok).count();
    println!(
        "{}: {} of {} systems meet their RPO and RTO",
        plan.plan.hospital,
        statuses.len() - failing,
        statuses.len()
    );
    for s in statuses {
        let age = s
            .newest_clean_age_seconds
            .map_or_else(|| "none".to_string(), |a| rec::human(a as f64));
        let how = if s.throughput_estimated {
            "estimated, no drill"
        } else {
            "from drills"
        };
        println!(
            "{:<4} #{:<2} {} {:<16} RPO {:>4}: newest clean {} old | RTO {:>4}: ready in {} ({how}, {})",
            if s.ok { "ok" } else { "FAIL" },
            s.restore_order,
            s.priority,
            s.name,
            s.rpo,
            age,
            s.rto,
            rec::human(s.estimated_ready_seconds),
            human_bytes(s.size_bytes),
        );
        for p in &s.problems {
            println!("           - {p}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn newest_at_or_before_picks_the_newest_generation_not_after_the_cutoff() {
        let t = |h| Utc.with_ymd_and_hms(2027, 4, 1, h, 0, 0).unwrap();
        let newest_first = [("c", t(12)), ("b", t(9)), ("a", t(6))];
        let pick = |before| newest_at_or_before(&newest_first, before, |g| g.1).map(|g| g.0);
        assert_eq!(pick(None), Some("c"));
        assert_eq!(pick(Some(t(9))), Some("b"), "at the cutoff counts");
        assert_eq!(pick(Some(t(8))), Some("a"));
        assert_eq!(pick(Some(t(5))), None);
    }

    #[test]
    fn only_suspicious_generations_are_passed_over() {
        assert!(is_clean(Verdict::Clean));
        assert!(
            is_clean(Verdict::Unknown),
            "no detection must not block recovery"
        );
        assert!(!is_clean(Verdict::Suspicious));
    }

    #[test]
    fn order_text_numbers_systems_across_levels() {
        let levels = vec![
            vec!["ehr-db".to_string(), "ssmix2".to_string()],
            vec!["orders".to_string()],
        ];
        assert_eq!(order_text(&levels), "1. ehr-db  2. ssmix2 | 3. orders");
        assert_eq!(order_text(&[]), "");
    }

    #[test]
    fn state_files_go_beside_the_plan() {
        let p = beside(Path::new("/etc/kura/plan.toml"), ".drills.json");
        assert_eq!(p, Path::new("/etc/kura/plan.toml.drills.json"));
    }
}
