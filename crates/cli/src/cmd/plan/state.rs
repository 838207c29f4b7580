//! `<plan>.drills.json`: drill measurements (restore throughput per source, read by
//! `plan status`) and a bounded drill history, written crash-safely.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, Utc};
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

    /// "last drill 2027-04-01 09:00 +09:00: PASSED (report: ...)", in the plan's timezone.
    pub(super) fn last_drill_text(&self, tz: FixedOffset) -> Option<String> {
        let d = self.drills.last()?;
        let at = d.started_at.with_timezone(&tz).format("%Y-%m-%d %H:%M %:z");
        let verdict = if d.passed { "PASSED" } else { "FAILED" };
        Some(format!(
            "last drill {at}: {verdict} (report: {})",
            d.report.display()
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn report(minute: u32) -> DrillReport {
        let at = Utc.with_ymd_and_hms(2027, 4, 1, 9, 0, 0).unwrap()
            + chrono::Duration::minutes(i64::from(minute));
        DrillReport {
            hospital: "Test".into(),
            owner: None,
            plan_revision: None,
            timezone: "+09:00".into(),
            started_at: at,
            finished_at: at,
            systems: vec![],
            passed: true,
        }
    }

    fn run(source: &str, bytes: u64, seconds: f64) -> SourceRun {
        SourceRun {
            source: source.into(),
            id: format!("{source}-gen"),
            committed_at: Utc.with_ymd_and_hms(2027, 4, 1, 8, 0, 0).unwrap(),
            bytes,
            seconds,
        }
    }

    #[test]
    fn the_newest_measurement_per_source_wins_and_history_is_bounded() {
        let mut state = DrillState::default();
        state.record(
            &report(0),
            &[run("ehr-db", 100, 1.0), run("pacs", 0, 0.5)],
            Path::new("r0.html"),
        );
        state.record(&report(1), &[run("ehr-db", 400, 2.0)], Path::new("r1.html"));
        assert_eq!(state.sources["ehr-db"].throughput(), Some(200.0));
        assert_eq!(
            state.sources["pacs"].throughput(),
            None,
            "nothing restored, nothing measured"
        );
        for m in 2..(DRILL_HISTORY as u32 + 5) {
            state.record(&report(m), &[], Path::new("r.html"));
        }
        assert_eq!(state.drills.len(), DRILL_HISTORY);
        let jst = FixedOffset::east_opt(9 * 3600).unwrap();
        assert_eq!(
            state.last_drill_text(jst).unwrap(),
            "last drill 2027-04-01 19:44 +09:00: PASSED (report: r.html)"
        );
        assert_eq!(
            state.drills[0].started_at,
            report(5).started_at,
            "oldest dropped first"
        );
    }

    #[test]
    fn state_round_trips_and_a_damaged_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("plan.toml.drills.json");
        assert_eq!(DrillState::load(&path).unwrap(), DrillState::default());
        let mut state = DrillState::default();
        state.record(&report(0), &[run("ehr-db", 100, 1.0)], Path::new("r.html"));
        state.save(&path).unwrap();
        assert_eq!(DrillState::load(&path).unwrap(), state);
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        std::fs::write(&path, b"{\"sources\": {").unwrap();
        let err = format!("{:#}", DrillState::load(&path).unwrap_err());
        assert!(
            err.contains("plan.toml.drills.json") && err.contains("move it away"),
            "{err}"
        );
    }
}
