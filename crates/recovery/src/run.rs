//! `kura plan restore`: restore every system in dependency order, resumably.
//!
//! [`run_plan`] walks the restore levels in order. Within a level the systems are handed to
//! up to `parallelism` worker threads (they do not depend on each other); the next level
//! starts only when the whole level has finished, because its systems may depend on any of
//! them. The journal is consulted before each system (done ones are skipped) and updated
//! around each restore, so a rerun after an interruption continues where the last run
//! stopped. When a system fails, every system that depends on it (directly or through
//! others) is *blocked*, not attempted: restoring order entry on top of a missing EHR
//! database would only produce errors; independent systems still go ahead.
//!
//! The restore itself is a function passed in (the CLI restores a Kura generation; tests
//! record calls), so this crate does not depend on the repository crates. A panic in it is
//! caught and counted as that system's failure.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

use crate::journal::{JournalError, RestoreJournal};
use crate::plan::{Plan, System};

/// What a successful restore of one system produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreOutcome {
    /// Generation restored.
    pub generation: String,
    /// Where it was written.
    pub target: PathBuf,
    /// Bytes written (for throughput measurement).
    pub bytes: u64,
}

/// The error a restore function returns.
pub type RestoreError = Box<dyn std::error::Error + Send + Sync>;

/// Progress of a run, reported as it happens (from worker threads).
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreEvent {
    /// Already done in the journal: not restored again.
    Skipped {
        system: String,
    },
    Started {
        system: String,
    },
    Done {
        system: String,
        outcome: RestoreOutcome,
        seconds: f64,
    },
    Failed {
        system: String,
        error: String,
    },
    /// Not attempted because a system it depends on failed or was blocked.
    Blocked {
        system: String,
        by: String,
    },
}

/// How to run.
pub struct RunOptions<'a> {
    /// Most systems restored at the same time (at least 1 is used).
    pub parallelism: usize,
    /// Called for each [`RestoreEvent`]; must be cheap and thread-safe.
    pub progress: &'a (dyn Fn(&RestoreEvent) + Sync),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunReport {
    /// Restored by this run, in completion order, with seconds taken.
    pub restored: Vec<(String, RestoreOutcome, f64)>,
    /// Done by an earlier run.
    pub skipped: Vec<String>,
    /// Failed in this run: (system, error).
    pub failed: Vec<(String, String)>,
    /// Not attempted: (system, the failed or blocked dependency).
    pub blocked: Vec<(String, String)>,
}

impl RunReport {
    /// True when every system of the run is now done.
    pub fn complete(&self) -> bool {
        self.failed.is_empty() && self.blocked.is_empty()
    }
}

struct Shared<'j> {
    journal: &'j mut RestoreJournal,
    report: RunReport,
    journal_error: Option<JournalError>,
}

fn lock<'a, T>(m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    // Nothing panics while holding these locks; recover the data if it ever happens.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Restores the systems of `levels` (from [`crate::restore_order`], possibly filtered) in
/// order, honouring and updating `journal`.
///
/// Returns an error only if the journal cannot be written: then no new restore is started
/// (continuing would lose track of what was done) and the error says which file failed.
pub fn run_plan<F>(
    plan: &Plan,
    levels: &[Vec<String>],
    journal: &mut RestoreJournal,
    restore_fn: F,
    options: &RunOptions<'_>,
) -> Result<RunReport, JournalError>
where
    F: Fn(&System) -> Result<RestoreOutcome, RestoreError> + Sync,
{
    let shared = Mutex::new(Shared {
        journal,
        report: RunReport::default(),
        journal_error: None,
    });
    // Systems that failed or were blocked, with the root cause to name.
    let mut unavailable: BTreeMap<String, String> = BTreeMap::new();
    for level in levels {
        let mut runnable: VecDeque<&System> = VecDeque::new();
        for name in level {
            let Some(system) = plan.system(name) else {
                continue;
            };
            prepare(system, &shared, &mut unavailable, &mut runnable, options);
        }
        run_level(runnable, &shared, &restore_fn, options);
        let s = lock(&shared);
        if s.journal_error.is_some() {
            break;
        }
        for (name, _) in &s.report.failed {
            unavailable
                .entry(name.clone())
                .or_insert_with(|| name.clone());
        }
    }
    let shared = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    match shared.journal_error {
        Some(e) => Err(e),
        None => Ok(shared.report),
    }
}

/// Sorts one system into skipped, blocked or runnable.
fn prepare<'p>(
    system: &'p System,
    shared: &Mutex<Shared<'_>>,
    unavailable: &mut BTreeMap<String, String>,
    runnable: &mut VecDeque<&'p System>,
    options: &RunOptions<'_>,
) {
    let mut s = lock(shared);
    if s.journal.is_done(&system.name) {
        s.report.skipped.push(system.name.clone());
        (options.progress)(&RestoreEvent::Skipped {
            system: system.name.clone(),
        });
        return;
    }
    let blocker = system
        .depends_on
        .iter()
        .find_map(|d| unavailable.get(d).map(|root| (d, root)));
    if let Some((dep, root)) = blocker {
        let by = if dep == root {
            dep.clone()
        } else {
            format!("{dep} (blocked by {root})")
        };
        unavailable.insert(system.name.clone(), root.clone());
        s.report.blocked.push((system.name.clone(), by.clone()));
        (options.progress)(&RestoreEvent::Blocked {
            system: system.name.clone(),
            by,
        });
        return;
    }
    runnable.push_back(system);
}

fn run_level<F>(
    runnable: VecDeque<&System>,
    shared: &Mutex<Shared<'_>>,
    restore_fn: &F,
    options: &RunOptions<'_>,
) where
    F: Fn(&System) -> Result<RestoreOutcome, RestoreError> + Sync,
{
    let workers = options.parallelism.max(1).min(runnable.len());
    let queue = Mutex::new(runnable);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if lock(shared).journal_error.is_some() {
                    return;
                }
                let Some(system) = lock(&queue).pop_front() else {
                    return;
                };
                restore_one(system, shared, restore_fn, options);
            });
        }
    });
}

fn restore_one<F>(
    system: &System,
    shared: &Mutex<Shared<'_>>,
    restore_fn: &F,
    options: &RunOptions<'_>,
) where
    F: Fn(&System) -> Result<RestoreOutcome, RestoreError> + Sync,
{
    let name = system.name.clone();
    {
        let mut s = lock(shared);
        if let Err(e) = s.journal.mark_started(&name) {
            s.journal_error.get_or_insert(e);
            return;
        }
    }
    (options.progress)(&RestoreEvent::Started {
        system: name.clone(),
    });
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| restore_fn(system)))
        .unwrap_or_else(|panic| Err(panic_message(&panic).into()));
    let seconds = started.elapsed().as_secs_f64();
    let mut s = lock(shared);
    let (saved, event) = match result {
        Ok(outcome) => {
            let saved = s
                .journal
                .mark_done(&name, &outcome.generation, &outcome.target);
            s.report
                .restored
                .push((name.clone(), outcome.clone(), seconds));
            let event = RestoreEvent::Done {
                system: name,
                outcome,
                seconds,
            };
            (saved, event)
        }
        Err(e) => {
            let error = e.to_string();
            let saved = s.journal.mark_failed(&name, &error);
            s.report.failed.push((name.clone(), error.clone()));
            (
                saved,
                RestoreEvent::Failed {
                    system: name,
                    error,
                },
            )
        }
    };
    if let Err(e) = saved {
        s.journal_error.get_or_insert(e);
    }
    drop(s);
    (options.progress)(&event);
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!("the restore panicked: {text}")
}

/// The names of all systems in `levels` that are not done in `journal`.
pub fn remaining(levels: &[Vec<String>], journal: &RestoreJournal) -> BTreeSet<String> {
    levels
        .iter()
        .flatten()
        .filter(|n| !journal.is_done(n))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
