//! `<plan>.drills.json`: drill measurements (restore throughput per source, read by
//! `plan status`) and a bounded drill history, written crash-safely.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use kura_recovery::{DrillReport, DrilledGeneration};
use serde::{Deserialize, Serialize};

use super::restore::SourceRun;

/// Drills kept in the history of `<plan>.drills.json`.
const DRILL_HISTORY: usize = 100;

/// Drill measurements and history beside a plan.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct DrillState {
    /// Newest restore measurement per source: what `plan status` estimates with.
    pub(super) sources: BTreeMap<String, Measure>,
    /// Newest last; at most [`DRILL_HISTORY`].
    drills: Vec<DrillRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Measure {
    generation: String,
    drilled_at: DateTime<Utc>,
    bytes: u64,
    seconds: f64,
}

impl Measure {
    /// Bytes per second, when the measurement says anything (an empty restore does not).
    pub(super) fn throughput(&self) -> Option<f64> {
        (self.bytes > 0 && self.seconds > 0.0).then(|| self.bytes as f64 / self.seconds)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DrillRecord {
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    passed: bool,
    report: PathBuf,
    systems: Vec<SystemRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SystemRecord {
    name: String,
    passed: bool,
    restore_seconds: f64,
    rto: String,
    rto_met: bool,
    bytes: u64,
    generations: Vec<DrilledGeneration>,
}

impl DrillState {
    /// The state at `path`; a missing file is an empty state, a damaged one an error.
    pub(super) fn load(path: &Path) -> Result<DrillState> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!("drill record {} is damaged; move it away (drill history and measured restore times start over)", path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DrillState::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read drill record {}", path.display())),
        }
    }

    pub(super) fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        write_atomic(path, &bytes)
            .with_context(|| format!("writing drill record {}", path.display()))
    }

    /// Adds a drill: its summary to the history, its per-source restore times as the newest
    /// measurements (only sources whose restore succeeded measured anything).
    pub(super) fn record(&mut self, report: &DrillReport, runs: &[SourceRun], html: &Path) {
        for r in runs {
            self.sources.insert(
                r.source.clone(),
                Measure {
                    generation: r.id.clone(),
                    drilled_at: report.finished_at,
                    bytes: r.bytes,
                    seconds: r.seconds,
                },
            );
        }
        let systems = report
            .systems
            .iter()
            .map(|s| SystemRecord {
                name: s.name.clone(),
                passed: s.passed,
                restore_seconds: s.restore_seconds,
                rto: s.rto.clone(),
                rto_met: s.rto_met,
                bytes: s.bytes,
                generations: s.generations.clone(),
            })
            .collect();
        self.drills.push(DrillRecord {
            started_at: report.started_at,
            finished_at: report.finished_at,
            passed: report.passed,
            report: html.to_path_buf(),
            systems,
        });
        let excess = self.drills.len().saturating_sub(DRILL_HISTORY);
        self.drills.drain(..excess);
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new file, never a torn one.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
