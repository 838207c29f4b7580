//! The recovery plan file: its data model and the TOML parser.
//!
//! Parsing only checks the *shape* of the file (types, required fields, known keys), so that
//! a typo such as `depend_on` is reported with its line instead of being silently ignored.
//! Everything that needs to look across systems or at the repository (cycles, unknown
//! sources, bad durations) is left to [`crate::validate`], which reports *all* problems at
//! once. Durations therefore stay as the text the hospital wrote until they are used.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::Duration;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a plan file could not be read.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read from disk.
    #[error("cannot read recovery plan {path}: {source}; check the path given with --plan")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the shape of a plan.
    #[error("recovery plan {origin} is not valid: {message}(see crates/recovery/PLAN.md for every field)")]
    Syntax { origin: String, message: String },
}

/// A whole recovery plan: hospital-wide settings and one entry per system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Hospital-wide settings (`[plan]`).
    pub plan: PlanHeader,
    /// The systems to protect (`[[system]]`), in the order the file lists them.
    #[serde(rename = "system", default)]
    pub systems: Vec<System>,
}

/// The `[plan]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanHeader {
    /// Hospital name as it should appear on drill reports.
    pub hospital: String,
    /// UTC offset used on reports, e.g. `+09:00` (JST).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Where drills restore to when a system has no `drill_to` of its own.
    #[serde(default)]
    pub scratch_dir: Option<PathBuf>,
    /// Restore throughput assumed for a source that has no drill measurement yet, in MiB/s.
    #[serde(default)]
    pub default_restore_mib_per_s: Option<f64>,
    /// Who owns the plan (e.g. 医療情報システム安全管理責任者); printed on reports.
    #[serde(default)]
    pub owner: Option<String>,
    /// Plan revision or date, printed on reports so an inspector sees which version was drilled.
    #[serde(default)]
    pub revision: Option<String>,
    /// Environment variables for every verification command (e.g. `PGHOST`, the scratch
    /// database name); a check's own `env` and the drill's variables take precedence.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn default_timezone() -> String {
    "+09:00".to_string()
}

/// One system of the hospital (EHR database, SS-MIX2 storage, PACS, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// Short unique name used in `depends_on`, journals and JSON (e.g. `ehr-db`).
    pub name: String,
    /// Human-readable name for reports (e.g. `電子カルテ DB`).
    #[serde(default)]
    pub title: Option<String>,
    /// Clinical priority: P1 comes back first.
    pub priority: Priority,
    /// Names of systems that must be restored before this one.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Recovery point objective as written in the file (`"1h"`, `"24h"`).
    pub rpo: String,
    /// Recovery time objective as written in the file (`"4h"`, `"3d"`).
    pub rto: String,
    /// Kura source names (`kura backup --source NAME`) that hold this system's data.
    pub sources: Vec<String>,
    /// Directory a real restore writes to.
    #[serde(default)]
    pub restore_to: Option<PathBuf>,
    /// Directory a drill writes to; defaults to `<scratch_dir>/<name>`.
    #[serde(default)]
    pub drill_to: Option<PathBuf>,
    /// Who restores and verifies this system (責任分界).
    #[serde(default)]
    pub responsible: Option<Responsible>,
    /// Checks run after a drill restore; all must pass.
    #[serde(default)]
    pub verify: Vec<Check>,
    /// Free text printed on reports (manual steps, where the runbook is).
    #[serde(default)]
    pub notes: Option<String>,
}

impl System {
    /// The RPO as a duration, or why the text is not one.
    pub fn rpo(&self) -> Result<Duration, kura_policy::ParseError> {
        kura_policy::parse_duration(&self.rpo)
    }

    /// The RTO as a duration, or why the text is not one.
    pub fn rto(&self) -> Result<Duration, kura_policy::ParseError> {
        kura_policy::parse_duration(&self.rto)
    }

    /// The title if given, else the name.
    pub fn display_name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
}

/// Clinical priority of a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    /// Needed for patient safety right away (EHR, orders).
    P1,
    /// Needed within the day (lab, imaging).
    P2,
    /// Can wait (scanned documents, statistics).
    P3,
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        })
    }
}

/// Who is responsible for restoring a system: the 責任分界 the MHLW guideline asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responsible {
    /// `hospital` or `vendor`.
    pub party: Party,
    /// Department or company name.
    pub name: String,
    /// How to reach them during an outage (phone, not only e-mail).
    #[serde(default)]
    pub contact: Option<String>,
    /// What exactly they are responsible for.
    #[serde(default)]
    pub scope: Option<String>,
}

/// Which side of the 責任分界 a responsibility falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// The hospital's own staff.
    Hospital,
    /// A vendor under contract.
    Vendor,
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Party::Hospital => "病院 / hospital",
            Party::Vendor => "ベンダー / vendor",
        })
    }
}

/// One verification command of a drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Unique within the system; other checks refer to it as `system/name`.
    pub name: String,
    /// Program and arguments, run without a shell.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// A script run with `sh -c` (pipes, variables).
    #[serde(default)]
    pub shell: Option<String>,
    /// Longest the command may run (`"10m"`); default 10 minutes.
    #[serde(default)]
    pub timeout: Option<String>,
    /// What counts as success; default: exit status 0.
    #[serde(default)]
    pub expect: Expect,
    /// Extra environment variables for this command only.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// What a check's result must look like. The exit status is always checked; at most one of
/// the output conditions may be given (validation refuses more).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Required exit status (default 0).
    #[serde(default)]
    pub exit_code: i32,
    /// Standard output, trimmed, must equal this text.
    #[serde(default)]
    pub output: Option<String>,
    /// Standard output, trimmed, must be an integer at least this large.
    #[serde(default)]
    pub at_least: Option<i64>,
    /// Standard output, trimmed, must equal the output of another check (`system/check`,
    /// or `check` in the same system) that ran earlier in the same drill.
    #[serde(default)]
    pub same_as: Option<String>,
}

impl Expect {
    /// How many output conditions are set (validation requires at most one).
    pub fn output_conditions(&self) -> usize {
        usize::from(self.output.is_some())
            + usize::from(self.at_least.is_some())
            + usize::from(self.same_as.is_some())
    }
}

impl Plan {
    /// Parses a plan from TOML text; `origin` names it in errors (usually the file path).
    pub fn parse(text: &str, origin: &str) -> Result<Plan, LoadError> {
        toml::from_str(text).map_err(|e| LoadError::Syntax {
            origin: origin.to_string(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a plan file.
    pub fn load(path: &Path) -> Result<Plan, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Plan::parse(&text, &path.display().to_string())
    }

    /// The system with this name, if any.
    pub fn system(&self, name: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.name == name)
    }

    /// Where a drill of `system` restores to: its `drill_to`, else `<scratch_dir>/<name>`.
    pub fn drill_dir(&self, system: &System) -> Option<PathBuf> {
        system.drill_to.clone().or_else(|| {
            self.plan
                .scratch_dir
                .as_ref()
                .map(|dir| dir.join(&system.name))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[plan]
hospital = "Test Hospital"

[[system]]
name = "ehr-db"
priority = "P1"
rpo = "1h"
rto = "4h"
sources = ["ehr-db"]
restore_to = "/restore/ehr"
"#;

    #[test]
    fn minimal_plan_parses_with_defaults() {
        let plan = Plan::parse(MINIMAL, "test").unwrap();
        assert_eq!(plan.plan.timezone, "+09:00");
        let s = &plan.systems[0];
        assert_eq!(s.priority, Priority::P1);
        assert!(s.depends_on.is_empty());
        assert_eq!(s.rpo().unwrap(), Duration::hours(1));
        assert_eq!(s.rto().unwrap(), Duration::hours(4));
        assert!(s.verify.is_empty());
    }

    #[test]
    fn unknown_key_is_refused_with_its_name() {
        let text = MINIMAL.replace("restore_to", "depend_on = []\nrestore_to");
        let err = Plan::parse(&text, "plan.toml").unwrap_err().to_string();
        assert!(err.contains("depend_on"), "{err}");
        assert!(err.contains("plan.toml"), "{err}");
    }

    #[test]
    fn unknown_priority_is_refused() {
        let text = MINIMAL.replace("\"P1\"", "\"P4\"");
        let err = Plan::parse(&text, "plan.toml").unwrap_err().to_string();
        assert!(err.contains("P4"), "{err}");
    }

    #[test]
    fn missing_sources_is_refused() {
        let text = MINIMAL.replace("sources = [\"ehr-db\"]", "");
        let err = Plan::parse(&text, "plan.toml").unwrap_err().to_string();
        assert!(err.contains("sources"), "{err}");
    }

    #[test]
    fn drill_dir_falls_back_to_scratch_dir() {
        let text = MINIMAL.replace("[[system]]", "scratch_dir = \"/scratch\"\n[[system]]");
        let plan = Plan::parse(&text, "t").unwrap();
        assert_eq!(
            plan.drill_dir(&plan.systems[0]),
            Some(PathBuf::from("/scratch/ehr-db"))
        );
    }

    #[test]
    fn load_names_a_missing_file() {
        let err = Plan::load(Path::new("/nonexistent/plan.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/plan.toml"));
    }
}
