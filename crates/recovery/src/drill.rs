//! `kura drill`: restore every system into a scratch location, verify it, time it.
//!
//! [`run_drill`] goes through the systems one at a time in restore order. Sequential on
//! purpose: the achieved restore time of each system is the measurement a drill exists for,
//! and systems restored side by side would slow each other down and make the figures
//! meaningless (the real restore runs them in parallel; its time is then at most the sum).
//! Restore order also means a `same_as` check can compare with the output of a system
//! verified earlier (SS-MIX2 patient count against the EHR database).
//!
//! A system whose restore fails is reported and the drill goes on with the next one, so one
//! broken source does not hide the state of the others. The drill *passes* when every system
//! was restored and all its checks passed; whether the achieved time met the RTO is reported
//! per system alongside (a slow restore is a finding for the BCP, not a broken backup).

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::{Plan, Priority, Responsible, System};
use crate::run::RestoreError;
use crate::verify::{run_verification, VerificationResult, VerifyEnv};

/// What the caller's restore function reports for one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRestore {
    /// The generation restored from each source.
    pub generations: Vec<DrilledGeneration>,
    /// Bytes written.
    pub bytes: u64,
}

/// One source's generation used in a drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrilledGeneration {
    pub source: String,
    pub id: String,
    pub committed_at: DateTime<Utc>,
}

/// The drill of one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemDrill {
    pub name: String,
    pub title: Option<String>,
    pub priority: Priority,
    pub responsible: Option<Responsible>,
    pub restored_to: Option<PathBuf>,
    pub generations: Vec<DrilledGeneration>,
    pub bytes: u64,
    /// Achieved restore time (the restore only, not the checks).
    pub restore_seconds: f64,
    /// Time the checks took.
    pub verify_seconds: f64,
    pub rto: String,
    pub rto_seconds: Option<i64>,
    /// Whether the achieved restore time is within the RTO.
    pub rto_met: bool,
    /// Why the restore failed, if it did (then no checks were run).
    pub restore_error: Option<String>,
    pub verification: Option<VerificationResult>,
    /// Restored and every check passed.
    pub passed: bool,
}

impl SystemDrill {
    /// Measured restore throughput in bytes per second, for `plan status` estimates.
    pub fn throughput(&self) -> Option<f64> {
        (self.restore_error.is_none() && self.bytes > 0 && self.restore_seconds > 0.0)
            .then(|| self.bytes as f64 / self.restore_seconds)
    }
}

/// The whole drill: what the BCP binder and an inspector get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    pub hospital: String,
    pub owner: Option<String>,
    pub plan_revision: Option<String>,
    /// UTC offset used to print times (`+09:00`).
    pub timezone: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub systems: Vec<SystemDrill>,
    pub passed: bool,
}

impl DrillReport {
    /// One line per problem, each naming the system (and the check); empty when passed.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.systems {
            if let Some(e) = &s.restore_error {
                out.push(format!("system {:?}: restore failed: {e}", s.name));
            }
            if let Some(v) = &s.verification {
                out.extend(v.failures());
            }
        }
        out
    }

    /// Systems whose achieved restore time exceeded their RTO.
    pub fn rto_missed(&self) -> Vec<&str> {
        self.systems
            .iter()
            .filter(|s| s.restore_error.is_none() && !s.rto_met)
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// Drills the systems named in `levels` (normally [`crate::restore_order`]) in that order.
///
/// `restore_fn(system, dir)` restores the system's sources into the empty directory `dir`
/// (its `drill_to`, else `<scratch_dir>/<name>`, created here if missing).
pub fn run_drill<F>(
    plan: &Plan,
    levels: &[Vec<String>],
    mut restore_fn: F,
    mut env: VerifyEnv,
) -> DrillReport
where
    F: FnMut(&System, &Path) -> Result<DrillRestore, RestoreError>,
{
    let started_at = wall_clock();
    if env.scratch_dir.is_none() {
        env.scratch_dir.clone_from(&plan.plan.scratch_dir);
    }
    for (k, v) in &plan.plan.env {
        env.vars.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut systems = Vec::new();
    for name in levels.iter().flatten() {
        let Some(system) = plan.system(name) else {
            continue;
        };
        let drill = drill_one(plan, system, &mut restore_fn, &env);
        if let Some(v) = &drill.verification {
            env.record(v);
        }
        systems.push(drill);
    }
    DrillReport {
        hospital: plan.plan.hospital.clone(),
        owner: plan.plan.owner.clone(),
        plan_revision: plan.plan.revision.clone(),
        timezone: plan.plan.timezone.clone(),
        started_at,
        finished_at: wall_clock(),
        passed: !systems.is_empty() && systems.iter().all(|s| s.passed),
        systems,
    }
}

fn drill_one<F>(plan: &Plan, system: &System, restore_fn: &mut F, env: &VerifyEnv) -> SystemDrill
where
    F: FnMut(&System, &Path) -> Result<DrillRestore, RestoreError>,
{
    let rto_seconds = system.rto().ok().map(|d| d.num_seconds());
    let mut drill = SystemDrill {
        name: system.name.clone(),
        title: system.title.clone(),
        priority: system.priority,
        responsible: system.responsible.clone(),
        restored_to: plan.drill_dir(system),
        generations: Vec::new(),
        bytes: 0,
        restore_seconds: 0.0,
        verify_seconds: 0.0,
        rto: system.rto.clone(),
        rto_seconds,
        rto_met: false,
        restore_error: None,
        verification: None,
        passed: false,
    };
    let Some(dir) = drill.restored_to.clone() else {
        drill.restore_error =
            Some("no drill_to for this system and no scratch_dir in [plan]".to_string());
        return drill;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        drill.restore_error = Some(format!("cannot create {}: {e}", dir.display()));
        return drill;
    }
    let started = Instant::now();
    let restored = restore_fn(system, &dir);
    drill.restore_seconds = started.elapsed().as_secs_f64();
    match restored {
        Ok(r) => {
            drill.generations = r.generations;
            drill.bytes = r.bytes;
        }
        Err(e) => {
            drill.restore_error = Some(e.to_string());
            return drill;
        }
    }
    drill.rto_met = rto_seconds.is_some_and(|rto| drill.restore_seconds <= rto as f64);
    let started = Instant::now();
    let verification = run_verification(system, &dir, env);
    drill.verify_seconds = started.elapsed().as_secs_f64();
    drill.passed = verification.passed;
    drill.verification = Some(verification);
    drill
}

fn wall_clock() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Check;
    use crate::testutil::{plan_of, sys};
    use crate::Priority::*;

    fn check(name: &str, script: &str) -> Check {
        Check {
            name: name.into(),
            command: None,
            shell: Some(script.into()),
            timeout: None,
            expect: Default::default(),
            env: Default::default(),
        }
    }

    fn restore_file(
        content: &'static str,
    ) -> impl FnMut(&System, &Path) -> Result<DrillRestore, RestoreError> {
        move |s, dir| {
            if s.name == "broken" {
                return Err("chunk 1f2e damaged".into());
            }
            std::fs::write(dir.join("data.txt"), content)?;
            Ok(DrillRestore {
                generations: vec![DrilledGeneration {
                    source: s.name.clone(),
                    id: format!("gen-{}", s.name),
                    committed_at: DateTime::<Utc>::UNIX_EPOCH,
                }],
                bytes: content.len() as u64,
            })
        }
    }

    fn plan_in(dir: &Path, systems: Vec<System>) -> Plan {
        let mut plan = plan_of(systems);
        plan.plan.scratch_dir = Some(dir.to_path_buf());
        plan
    }

    #[test]
    fn drill_restores_verifies_and_measures_each_system() {
        let tmp = tempfile::tempdir().unwrap();
        let mut db = sys("ehr-db", P1, &[]);
        db.verify = vec![check("has-data", "grep -q patients data.txt")];
        let mut ss = sys("ssmix2", P1, &["ehr-db"]);
        let mut same = check("count", "wc -w < data.txt | tr -d ' '");
        same.expect.same_as = Some("ehr-db/count".into());
        db.verify
            .push(check("count", "wc -w < data.txt | tr -d ' '"));
        ss.verify = vec![same];
        let plan = plan_in(tmp.path(), vec![ss, db]);
        let order = crate::restore_order(&plan);
        let report = run_drill(
            &plan,
            &order,
            restore_file("patients 412"),
            VerifyEnv::default(),
        );
        assert!(report.passed, "{:?}", report.failures());
        assert_eq!(
            report.systems[0].name, "ehr-db",
            "restore order, not file order"
        );
        let db = &report.systems[0];
        assert!(db.rto_met && db.restore_seconds > 0.0);
        assert_eq!(db.generations[0].id, "gen-ehr-db");
        assert!(db.throughput().is_some());
        assert!(tmp.path().join("ssmix2/data.txt").exists());
        assert!(report.failures().is_empty());
    }

    #[test]
    fn corrupted_data_fails_naming_system_and_check() {
        let tmp = tempfile::tempdir().unwrap();
        let mut db = sys("ehr-db", P1, &[]);
        db.verify = vec![check(
            "integrity",
            "grep -q patients data.txt || { echo 'invalid dump' >&2; exit 1; }",
        )];
        let plan = plan_in(tmp.path(), vec![db]);
        let order = crate::restore_order(&plan);
        let report = run_drill(&plan, &order, restore_file("garbage"), VerifyEnv::default());
        assert!(!report.passed);
        assert_eq!(
            report.failures(),
            vec!["system \"ehr-db\": check \"integrity\" failed: exit status 1 (expected 0): invalid dump"]
        );
    }

    #[test]
    fn a_failed_restore_is_reported_and_the_drill_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let mut broken = sys("broken", P1, &[]);
        broken.verify = vec![check("never", "true")];
        let plan = plan_in(tmp.path(), vec![broken, sys("pacs", P2, &[])]);
        let order = crate::restore_order(&plan);
        let report = run_drill(&plan, &order, restore_file("x"), VerifyEnv::default());
        assert!(!report.passed);
        assert_eq!(
            report.failures(),
            vec!["system \"broken\": restore failed: chunk 1f2e damaged"]
        );
        assert!(report.systems[0].verification.is_none());
        assert!(report.systems[1].passed);
        assert!(report.rto_missed().is_empty());
    }

    #[test]
    fn rto_is_compared_with_the_achieved_time() {
        let tmp = tempfile::tempdir().unwrap();
        let mut slow = sys("slow", P1, &[]);
        slow.rto = "1s".into();
        let plan = plan_in(tmp.path(), vec![slow]);
        let order = crate::restore_order(&plan);
        let restore = |_: &System, _: &Path| -> Result<DrillRestore, RestoreError> {
            std::thread::sleep(std::time::Duration::from_millis(1100));
            Ok(DrillRestore {
                generations: vec![],
                bytes: 0,
            })
        };
        let report = run_drill(&plan, &order, restore, VerifyEnv::default());
        assert!(report.passed, "a slow restore still passes verification");
        assert_eq!(report.rto_missed(), vec!["slow"]);
        assert!(report.systems[0].restore_seconds >= 1.1);
        assert_eq!(report.systems[0].throughput(), None);
    }

    #[test]
    fn plan_env_reaches_checks_but_the_callers_vars_win() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = sys("a", P1, &[]);
        a.verify = vec![check(
            "env",
            "test \"$SITE\" = plan && test \"$PGHOST\" = caller && test \"$KURA_SCRATCH_DIR\" = \"$SCRATCH\"",
        )];
        let mut plan = plan_in(tmp.path(), vec![a]);
        plan.plan.env.insert("SITE".into(), "plan".into());
        plan.plan.env.insert("PGHOST".into(), "plan".into());
        plan.plan
            .env
            .insert("SCRATCH".into(), tmp.path().display().to_string());
        let mut env = VerifyEnv::default();
        env.vars.insert("PGHOST".into(), "caller".into());
        let order = crate::restore_order(&plan);
        let report = run_drill(&plan, &order, restore_file("x"), env);
        assert!(report.passed, "{:?}", report.failures());
    }

    #[test]
    fn no_drill_location_is_a_restore_error() {
        let mut plan = plan_of(vec![sys("a", P1, &[])]);
        plan.plan.scratch_dir = None;
        let order = crate::restore_order(&plan);
        let report = run_drill(&plan, &order, restore_file("x"), VerifyEnv::default());
        assert!(report.failures()[0].contains("no scratch_dir"));
    }
}
