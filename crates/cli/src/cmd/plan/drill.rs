//! `kura drill`: restore every system into a scratch directory, verify, time, report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use kura_audit::Outcome;
use kura_format::FileId;
use kura_recovery::{
    self as rec, DrillReport, DrillRestore, DrilledGeneration, Plan, RestoreError, System,
    VerifyEnv,
};
use kura_repo::meta::MetaRecord;
use kura_repo::Repository;
use serde_json::json;

use super::restore::{Ctx, Live, Out, SourceRun};
use super::state::{write_atomic, DrillState};
use super::{beside, clean_generations, ensure_valid};
use crate::args::Global;
use crate::args_plan::DrillArgs;
use crate::output::human_bytes;
use crate::{audit, exit, open};

/// Name of the file that marks a directory as created by a drill (safe to clear).
const DRILL_MARKER: &str = ".kura-drill";

pub(super) fn drill(g: &Global, a: &DrillArgs) -> Result<i32> {
    let plan = drill_plan(a)?;
    let state_path = beside(&a.plan, ".drills.json");
    // Read before drilling: a damaged state file should stop us before an hour-long drill.
    let mut state = DrillState::load(&state_path)?;
    let repo = open::open_with_index(g)?;
    let clean = clean_generations(&repo, g.quiet)?;
    ensure_valid(g, &plan, &clean.sources, true)?;
    let ctx = Ctx {
        repo: &repo,
        clean: &clean,
        threads: g.threads,
        out: Out {
            json: g.json,
            quiet: g.quiet,
        },
        live: Live::default(),
    };
    let runs: Mutex<Vec<SourceRun>> = Mutex::default();
    let restore_fn = |s: &System, dir: &Path| -> Result<DrillRestore, RestoreError> {
        prepare_drill_dir(dir)?;
        let done = ctx.restore_sources(s, dir, None)?;
        // The library verifies next; say so, since loading a large dump can take an hour.
        ctx.out.line(
            json!({"message_type": "verify", "system": s.name, "checks": s.verify.len()}),
            || format!("{}: restored; running {} check(s)", s.name, s.verify.len()),
        );
        runs.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(done.iter().cloned());
        Ok(drill_restore(&done))
    };
    let levels = rec::restore_order(&plan);
    let report = ctx.live.ticking(ctx.out, || {
        rec::run_drill(&plan, &levels, restore_fn, VerifyEnv::default())
    });
    let runs = runs.into_inner().unwrap_or_else(|e| e.into_inner());
    let html = a
        .report
        .clone()
        .unwrap_or_else(|| default_report_path(&a.plan, &report));
    write_atomic(&html, rec::render_html(&report).as_bytes())
        .with_context(|| format!("writing the drill report {}", html.display()))?;
    state.record(&report, &runs, &html);
    state.save(&state_path)?;
    record_drill_audit(&a.plan, &report, &html);
    record_on_generations(&repo, &report, g.quiet);
    print_drill(g, &report, &html)?;
    Ok(if report.passed {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

fn drill_restore(done: &[SourceRun]) -> DrillRestore {
    DrillRestore {
        generations: done
            .iter()
            .map(|r| DrilledGeneration {
                source: r.source.clone(),
                id: r.id.clone(),
                committed_at: r.committed_at,
            })
            .collect(),
        bytes: done.iter().map(|r| r.bytes).sum(),
    }
}

/// The plan with `--scratch` applied; refused if some system would have nowhere to go.
fn drill_plan(a: &DrillArgs) -> Result<Plan> {
    let mut plan = Plan::load(&a.plan)?;
    if let Some(dir) = &a.scratch {
        plan.plan.scratch_dir = Some(dir.clone());
        for s in &mut plan.systems {
            s.drill_to = None;
        }
    }
    if let Some(s) = plan.systems.iter().find(|s| plan.drill_dir(s).is_none()) {
        bail!("system {:?} has no drill_to and the plan has no scratch_dir: pass --scratch DIR (a directory outside the production paths)", s.name);
    }
    Ok(plan)
}

/// Empties a drill directory left by an earlier drill and marks it as a drill's.
fn prepare_drill_dir(dir: &Path) -> Result<(), RestoreError> {
    let marker = dir.join(DRILL_MARKER);
    let non_empty = std::fs::read_dir(dir)?.next().is_some();
    if non_empty && !marker.exists() {
        return Err(format!(
            "drill directory {} is not empty and was not created by a drill; empty it or choose another with --scratch",
            dir.display()
        ).into());
    }
    if non_empty {
        std::fs::remove_dir_all(dir)?;
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &marker,
        b"created by kura drill; emptied by the next drill\n",
    )?;
    Ok(())
}

fn default_report_path(plan: &Path, report: &DrillReport) -> PathBuf {
    let tz = rec::parse_offset(&report.timezone).unwrap_or(kura_policy::JST);
    let stamp = report
        .started_at
        .with_timezone(&tz)
        .format("%Y-%m-%d-%H%M%S");
    let dir = plan.parent().unwrap_or(Path::new("."));
    dir.join(format!("drill-report-{stamp}.html"))
}

fn record_drill_audit(plan: &Path, report: &DrillReport, html: &Path) {
    let systems: Vec<serde_json::Value> = report
        .systems
        .iter()
        .map(|s| {
            json!({"system": s.name, "passed": s.passed, "restore_seconds": s.restore_seconds,
                   "rto": s.rto, "rto_met": s.rto_met,
                   "generations": s.generations.iter().map(|g| &g.id).collect::<Vec<_>>()})
        })
        .collect();
    let outcome = if report.passed {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let details = json!({"passed": report.passed, "report": html, "systems": systems,
                         "failures": report.failures()});
    audit::record("drill", &plan.display().to_string(), outcome, details);
}

/// Keep each system's result with every generation it restored (a `drill` metadata record), so
/// the proof that a generation restores travels with it into copies and exported media. Best
/// effort: the report and the audit entry are already written, and a repository that refuses the
/// record (read-only medium, a token without the drill permission) must not fail the drill.
fn record_on_generations(repo: &Repository, report: &DrillReport, quiet: bool) {
    let actor = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    for s in &report.systems {
        let mut failures: Vec<String> = s.restore_error.iter().cloned().collect();
        failures.extend(s.verification.iter().flat_map(|v| v.failures()));
        for generation in &s.generations {
            let Ok(snapshot) = FileId::from_hex(&generation.id) else {
                continue;
            };
            let record = MetaRecord::Drill {
                snapshot,
                system: s.name.clone(),
                plan: report.hospital.clone(),
                passed: s.passed,
                restore_seconds: s.restore_seconds,
                rto_met: s.rto_met,
                failures: failures.clone(),
                created_at: report.finished_at,
                actor: actor.clone(),
            };
            if let Err(e) = repo.save_meta(&record) {
                if !quiet {
                    eprintln!(
                        "warning: the drill result of {} could not be recorded on generation {}: {e}",
                        s.name,
                        &generation.id[..generation.id.len().min(12)]
                    );
                }
            }
        }
    }
}

fn print_drill(g: &Global, report: &DrillReport, html: &Path) -> Result<()> {
    if g.json {
        println!(
            "{}",
            json!({"message_type": "summary", "report": html, "drill": report})
        );
        return Ok(());
    }
    for s in &report.systems {
        let rto = if s.rto_met { "met" } else { "MISSED" };
        let verdict = if s.passed { "PASS" } else { "FAIL" };
        let checks = s.verification.as_ref().map_or(0, |v| v.checks.len());
        println!(
            "{verdict} {}: restored {} in {:.2} s (RTO {}: {rto}), {checks} check(s) in {:.2} s",
            s.name,
            human_bytes(s.bytes),
            s.restore_seconds,
            s.rto,
            s.verify_seconds
        );
    }
    for f in report.failures() {
        eprintln!("drill failure: {f}");
    }
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    println!("drill {verdict}; report: {}", html.display());
    std::io::stdout().flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drill_directory_is_marked_and_cleared_only_when_a_drill_made_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ehr-db");
        std::fs::create_dir_all(&dir).unwrap();
        prepare_drill_dir(&dir).unwrap();
        assert!(dir.join(DRILL_MARKER).exists());
        std::fs::write(dir.join("stale.dump"), b"last drill").unwrap();
        prepare_drill_dir(&dir).unwrap();
        assert!(
            !dir.join("stale.dump").exists(),
            "stale files never feed a check"
        );
        assert!(dir.join(DRILL_MARKER).exists());

        let foreign = tmp.path().join("production");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("patients.db"), b"keep me").unwrap();
        let err = prepare_drill_dir(&foreign).unwrap_err().to_string();
        assert!(err.contains("not created by a drill"), "{err}");
        assert_eq!(
            std::fs::read(foreign.join("patients.db")).unwrap(),
            b"keep me"
        );
    }
}
