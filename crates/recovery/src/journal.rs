//! The restore journal: what a `kura plan restore` has finished, so a rerun after an
//! interruption (power cut, killed process, one failed system) skips it.
//!
//! The journal is a small JSON file, rewritten as a whole after every state change with the
//! classic crash-safe sequence: write a temporary file in the same directory, fsync it,
//! rename it over the journal, fsync the directory. A crash therefore leaves either the old
//! or the new journal, never a torn one. A system is marked `in_progress` *before* its
//! restore starts and `done` only after the restore function returned; a system found
//! `in_progress` when the journal is reopened was interrupted and is restored again (the
//! restore function must accept a partly written target, e.g. by overwriting).
//!
//! A journal belongs to one restore run, named by the caller (for instance
//! `"plan=/etc/kura/plan.toml before=2027-03-01T00:00:00Z"`): reopening it for a different
//! run is refused, because skipping systems restored to another point in time would mix
//! generations.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const VERSION: u32 = 1;

/// Why the journal could not be read or written.
#[derive(Debug, Error)]
pub enum JournalError {
    #[error("cannot {action} restore journal {path}: {source}; check the directory exists and is writable")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("restore journal {path} is damaged ({message}); move it away to start the restore from scratch")]
    Corrupt { path: PathBuf, message: String },
    #[error("restore journal {path} belongs to another restore ({found:?}, this one is {expected:?}); finish that restore, or move the journal away to start a new one")]
    OtherRun {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

/// Where a system stands in a restore run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    InProgress,
    Done,
    Failed,
}

/// The journal's record of one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub state: State,
    /// Generation restored (set when done).
    pub generation: Option<String>,
    /// Where it was restored to (set when done).
    pub target: Option<PathBuf>,
    /// How many times a restore of this system was started.
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Last error, if the last attempt failed.
    pub error: Option<String>,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            state: State::Pending,
            generation: None,
            target: None,
            attempts: 0,
            started_at: None,
            finished_at: None,
            error: None,
        }
    }
}

/// The on-disk journal of one restore run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreJournal {
    version: u32,
    run: String,
    systems: BTreeMap<String, Entry>,
    #[serde(skip)]
    path: PathBuf,
}

impl RestoreJournal {
    /// Opens the journal at `path` for run `run`, or creates (and writes) an empty one.
    pub fn open_or_create(path: &Path, run: &str) -> Result<RestoreJournal, JournalError> {
        let text = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let journal = RestoreJournal {
                    version: VERSION,
                    run: run.to_string(),
                    systems: BTreeMap::new(),
                    path: path.to_path_buf(),
                };
                journal.save()?;
                return Ok(journal);
            }
            Err(source) => return Err(io_err("read", path, source)),
        };
        let mut journal: RestoreJournal =
            serde_json::from_slice(&text).map_err(|e| JournalError::Corrupt {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if journal.version != VERSION {
            return Err(JournalError::Corrupt {
                path: path.to_path_buf(),
                message: format!("unknown version {}", journal.version),
            });
        }
        if journal.run != run {
            return Err(JournalError::OtherRun {
                path: path.to_path_buf(),
                found: journal.run,
                expected: run.to_string(),
            });
        }
        journal.path = path.to_path_buf();
        Ok(journal)
    }

    /// The run this journal belongs to.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record of `system` (pending if never started).
    pub fn entry(&self, system: &str) -> Entry {
        self.systems.get(system).cloned().unwrap_or_default()
    }

    /// Whether `system` was restored completely by this run.
    pub fn is_done(&self, system: &str) -> bool {
        self.systems
            .get(system)
            .is_some_and(|e| e.state == State::Done)
    }

    /// Records that a restore of `system` starts, and writes the journal.
    pub fn mark_started(&mut self, system: &str) -> Result<(), JournalError> {
        let e = self.systems.entry(system.to_string()).or_default();
        e.state = State::InProgress;
        e.attempts = e.attempts.saturating_add(1);
        e.started_at = Some(now());
        e.finished_at = None;
        e.error = None;
        self.save()
    }

    /// Records that `system` was restored from `generation` into `target`, and writes the journal.
    pub fn mark_done(
        &mut self,
        system: &str,
        generation: &str,
        target: &Path,
    ) -> Result<(), JournalError> {
        let e = self.systems.entry(system.to_string()).or_default();
        e.state = State::Done;
        e.generation = Some(generation.to_string());
        e.target = Some(target.to_path_buf());
        e.finished_at = Some(now());
        e.error = None;
        self.save()
    }

    /// Records that the restore of `system` failed, and writes the journal.
    pub fn mark_failed(&mut self, system: &str, error: &str) -> Result<(), JournalError> {
        let e = self.systems.entry(system.to_string()).or_default();
        e.state = State::Failed;
        e.finished_at = Some(now());
        e.error = Some(error.to_string());
        self.save()
    }

    /// Writes the journal crash-safely (temp file, fsync, rename, fsync directory).
    pub fn save(&self) -> Result<(), JournalError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| JournalError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .map_or_else(|| "journal".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            // The rename is only durable once the directory entry is.
            File::open(&dir)?.sync_all()
        };
        write().map_err(|source| {
            let _ = fs::remove_file(&tmp);
            io_err("write", &self.path, source)
        })
    }
}

fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("restore.json");
        let mut j = RestoreJournal::open_or_create(&path, "run-1").unwrap();
        assert!(path.exists(), "an empty journal is written at once");
        j.mark_started("ehr-db").unwrap();
        j.mark_done("ehr-db", "abc123", Path::new("/restore/ehr"))
            .unwrap();
        j.mark_started("orders").unwrap();
        drop(j);
        let j = RestoreJournal::open_or_create(&path, "run-1").unwrap();
        assert!(j.is_done("ehr-db"));
        assert_eq!(j.entry("ehr-db").generation.as_deref(), Some("abc123"));
        assert_eq!(j.entry("orders").state, State::InProgress);
        assert!(!j.is_done("orders"));
        assert_eq!(j.entry("lab").state, State::Pending);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn attempts_count_and_failure_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        let mut j = RestoreJournal::open_or_create(&path, "r").unwrap();
        j.mark_started("lab").unwrap();
        j.mark_failed("lab", "disk full").unwrap();
        j.mark_started("lab").unwrap();
        let e = RestoreJournal::open_or_create(&path, "r")
            .unwrap()
            .entry("lab");
        assert_eq!((e.state, e.attempts, e.error), (State::InProgress, 2, None));
    }

    #[test]
    fn another_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        RestoreJournal::open_or_create(&path, "before=2027-01-01").unwrap();
        let err = RestoreJournal::open_or_create(&path, "before=2027-02-01").unwrap_err();
        assert!(matches!(err, JournalError::OtherRun { .. }));
        assert!(err.to_string().contains("move the journal away"));
    }

    #[test]
    fn damaged_journal_is_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        fs::write(&path, b"{\"version\":1,\"run\":\"r\",\"syst").unwrap();
        let err = RestoreJournal::open_or_create(&path, "r").unwrap_err();
        assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
        fs::write(&path, b"{\"version\":9,\"run\":\"r\",\"systems\":{}}").unwrap();
        let err = RestoreJournal::open_or_create(&path, "r").unwrap_err();
        assert!(err.to_string().contains("unknown version 9"), "{err}");
    }

    #[test]
    fn unwritable_directory_is_an_error_naming_the_path() {
        let err =
            RestoreJournal::open_or_create(Path::new("/nonexistent-dir/j.json"), "r").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/j.json"), "{err}");
    }
}
