//! `kura plan restore`, and restoring a system's sources from their clean generations
//! (shared with `kura drill`), with per-system progress.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use kura_audit::Outcome;
use kura_engine::restore::{restore, RestoreOptions};
use kura_engine::Progress;
use kura_recovery::{
    self as rec, Plan, RestoreError, RestoreEvent, RestoreJournal, RestoreOutcome, RunOptions,
    RunReport, System,
};
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::Repository;
use serde_json::json;

use super::{beside, clean_generations, ensure_valid, Clean};
use crate::args::Global;
use crate::args_plan::PlanRestoreArgs;
use crate::output::human_bytes;
use crate::{audit, exit, open};

/// How often long restores print their progress.
const TICK: Duration = Duration::from_secs(5);

/// One source restored into a system's directory.
#[derive(Clone)]
pub(super) struct SourceRun {
    pub(super) source: String,
    pub(super) id: String,
    pub(super) committed_at: DateTime<Utc>,
    pub(super) bytes: u64,
    pub(super) seconds: f64,
}

/// What restore functions need; shared by the worker threads of `run_plan`.
pub(super) struct Ctx<'a> {
    pub(super) repo: &'a Repository,
    pub(super) clean: &'a Clean,
    pub(super) threads: usize,
    pub(super) out: Out,
    pub(super) live: Live,
}

impl Ctx<'_> {
    /// Restores every source of `system` into `target` (overwriting: a rerun after an
    /// interruption finds a partly written target).
    pub(super) fn restore_sources(
        &self,
        system: &System,
        target: &Path,
        before: Option<DateTime<Utc>>,
    ) -> Result<Vec<SourceRun>, RestoreError> {
        let mut runs = Vec::new();
        for source in &system.sources {
            let entry = self.clean.pick(source, before).ok_or_else(|| {
                let when = before.map_or(String::new(), |b| {
                    format!(" at or before {}", b.to_rfc3339())
                });
                format!("source {source:?} has no clean generation{when}: back it up, choose another --before, or (a resumed restore keeps the time of its first run) move the journal away to start over")
            })?;
            runs.push(self.restore_one(system, entry, target)?);
        }
        Ok(runs)
    }

    fn restore_one(
        &self,
        system: &System,
        entry: &SnapshotEntry,
        target: &Path,
    ) -> Result<SourceRun, RestoreError> {
        let (source, short) = (&entry.snapshot.source, entry.id.short());
        let committed = entry.snapshot.committed_at;
        self.out.line(
            json!({"message_type": "source", "system": system.name, "source": source,
                   "generation": entry.id.to_hex(), "committed_at": committed, "target": target}),
            || {
                let at = committed.to_rfc3339_opts(SecondsFormat::Secs, true);
                format!(
                    "{}: restoring source {source} from generation {short} (committed {at}) into {}",
                    system.name,
                    target.display()
                )
            },
        );
        let progress = Arc::new(Progress::default());
        let label = format!("{}/{source}", system.name);
        self.live.insert(&label, progress.clone());
        let opts = RestoreOptions {
            target: target.to_path_buf(),
            includes: vec![],
            overwrite: true,
            threads: self.threads,
        };
        let started = Instant::now();
        let result = restore(self.repo, &entry.snapshot, &opts, &progress);
        let seconds = started.elapsed().as_secs_f64();
        self.live.remove(&label);
        let summary = result.map_err(|e| format!("source {source:?}, generation {short}: {e}"))?;
        if let Some(p) = summary.problems.first() {
            return Err(format!(
                "source {source:?}, generation {short}: {} file(s) could not be restored (first: {}: {}); run `kura check --read-data`",
                summary.problems.len(), p.path, p.message
            ).into());
        }
        Ok(SourceRun {
            source: source.clone(),
            id: entry.id.to_hex(),
            committed_at: committed,
            bytes: summary.bytes,
            seconds,
        })
    }
}

/// Where progress goes: JSON lines on stdout with --json, text on stderr otherwise.
#[derive(Clone, Copy)]
pub(super) struct Out {
    pub(super) json: bool,
    pub(super) quiet: bool,
}

impl Out {
    pub(super) fn line(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else if !self.quiet {
            eprintln!("{}", text());
        }
    }

    fn event(&self, e: &RestoreEvent) {
        let (v, t) = match e {
            RestoreEvent::Skipped { system } => (
                json!({"event": "skipped", "system": system}),
                format!("{system}: skipped, already restored (journal)"),
            ),
            RestoreEvent::Started { system } => (
                json!({"event": "started", "system": system}),
                format!("{system}: started"),
            ),
            RestoreEvent::Done {
                system,
                outcome,
                seconds,
            } => (
                json!({"event": "done", "system": system, "generation": outcome.generation,
                       "target": outcome.target, "bytes": outcome.bytes, "seconds": seconds}),
                format!(
                    "{system}: done, {} in {seconds:.1} s",
                    human_bytes(outcome.bytes)
                ),
            ),
            RestoreEvent::Failed { system, error } => (
                json!({"event": "failed", "system": system, "error": error}),
                format!("{system}: FAILED: {error}"),
            ),
            RestoreEvent::Blocked { system, by } => (
                json!({"event": "blocked", "system": system, "by": by}),
                format!("{system}: not restored, it depends on {by}, which is not restored"),
            ),
        };
        let mut v = v;
        v["message_type"] = json!("plan_restore");
        self.line(v, || t);
    }
}

/// Byte counters of the restores running now, printed every [`TICK`] while `ticking` runs,
/// so a long restore shows per-system progress.
#[derive(Default)]
pub(super) struct Live(Mutex<BTreeMap<String, Arc<Progress>>>);

impl Live {
    fn insert(&self, label: &str, p: Arc<Progress>) {
        self.lock().insert(label.to_string(), p);
    }

    fn remove(&self, label: &str) {
        self.lock().remove(label);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Progress>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn ticking<T>(&self, out: Out, work: impl FnOnce() -> T) -> T {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if last.elapsed() >= TICK {
                        last = Instant::now();
                        self.print(out);
                    }
                }
            });
            let result = work();
            stop.store(true, Ordering::Relaxed);
            result
        })
    }

    fn print(&self, out: Out) {
        for (label, p) in self.lock().iter() {
            let (done, total) = (Progress::get(&p.bytes_done), Progress::get(&p.bytes_total));
            out.line(
                json!({"message_type": "status", "restoring": label, "bytes_done": done, "total_bytes": total}),
                || format!("{label}: {} of {}", human_bytes(done), human_bytes(total)),
            );
        }
    }
}

pub(super) fn restore_plan(g: &Global, a: &PlanRestoreArgs) -> Result<i32> {
    let plan = Plan::load(&a.plan)?;
    let repo = open::open_with_index(g)?;
    let clean = clean_generations(&repo, g.quiet)?;
    ensure_valid(g, &plan, &clean.sources, a.target_root.is_some())?;
    let tz = rec::parse_offset(&plan.plan.timezone).unwrap_or(kura_policy::JST);
    let before = a
        .before
        .as_deref()
        .map(|b| kura_policy::parse_date_or_time(b, tz))
        .transpose()
        .context("--before")?;
    let journal_path = a
        .journal
        .clone()
        .unwrap_or_else(|| beside(&a.plan, ".restore-journal.json"));
    let plan_id = std::fs::canonicalize(&a.plan).unwrap_or_else(|_| a.plan.clone());
    let (run_key, before) = run_cutoff(&journal_path, &plan_id, before);
    let mut journal = RestoreJournal::open_or_create(&journal_path, &run_key)?;
    let levels = rec::restore_order(&plan);
    if rec::remaining(&levels, &journal).is_empty() {
        println!(
            "every system is already restored according to {}; move that journal away to restore again",
            journal_path.display()
        );
        return Ok(exit::SUCCESS);
    }
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
    let restore_fn = |s: &System| -> Result<RestoreOutcome, RestoreError> {
        let target = match &a.target_root {
            Some(root) => root.join(&s.name),
            None => s.restore_to.clone().ok_or("the system has no restore_to")?,
        };
        let runs = ctx.restore_sources(s, &target, before)?;
        Ok(RestoreOutcome {
            generation: runs
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
            target,
            bytes: runs.iter().map(|r| r.bytes).sum(),
        })
    };
    let progress = |e: &RestoreEvent| ctx.out.event(e);
    let options = RunOptions {
        parallelism: a.parallel,
        progress: &progress,
    };
    let report = ctx.live.ticking(ctx.out, || {
        rec::run_plan(&plan, &levels, &mut journal, restore_fn, &options)
    })?;
    finish_restore(g, a, &journal_path, &report)
}

/// The journal's run key and the cutoff time of this restore. Without `--before`, a restore is
/// pinned to the moment its first run started (kept in the journal's run key), so a rerun after
/// an interruption restores the remaining systems from the same point in time even if backups
/// ran in between; systems from different points in time would not fit together.
fn run_cutoff(
    journal: &Path,
    plan_id: &Path,
    before: Option<DateTime<Utc>>,
) -> (String, Option<DateTime<Utc>>) {
    let plan = format!("plan={}", plan_id.display());
    if let Some(b) = before {
        return (format!("{plan} before={}", b.to_rfc3339()), Some(b));
    }
    let prefix = format!("{plan} newest-at=");
    let pinned = std::fs::read(journal)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v["run"].as_str().map(str::to_string))
        .and_then(|run| {
            let at = run.strip_prefix(&prefix)?;
            DateTime::parse_from_rfc3339(at).ok()
        })
        .map(|t| t.with_timezone(&Utc));
    let at = pinned.unwrap_or_else(Utc::now);
    (format!("{prefix}{}", at.to_rfc3339()), Some(at))
}

fn finish_restore(g: &Global, a: &PlanRestoreArgs, journal: &Path, r: &RunReport) -> Result<i32> {
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let restored: Vec<&str> = r.restored.iter().map(|(n, _, _)| n.as_str()).collect();
    let details = json!({
        "journal": journal, "before": a.before, "restored": restored, "skipped": r.skipped,
        "failed": names(&r.failed), "blocked": names(&r.blocked), "complete": r.complete(),
    });
    let outcome = if r.complete() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    audit::record(
        "plan-restore",
        &a.plan.display().to_string(),
        outcome,
        details.clone(),
    );
    if g.json {
        let mut v = details;
        v["message_type"] = json!("summary");
        println!("{v}");
    } else if !g.quiet || !r.complete() {
        println!(
            "restored {}, skipped {} (done earlier), failed {}, blocked {}; journal: {}",
            r.restored.len(),
            r.skipped.len(),
            r.failed.len(),
            r.blocked.len(),
            journal.display()
        );
        if !r.complete() {
            println!("fix the failures above and run the same command again: finished systems are not restored twice");
        }
    }
    Ok(if r.complete() {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}
