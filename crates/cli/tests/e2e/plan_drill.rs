//! Issue 8, acceptance 1 and 2, with a real PostgreSQL (scripts/test-all.sh starts one):
//! a plan with two database sources (real `pg_dump -Fc` backed up with
//! `--stdin-from-command`) and an SS-MIX2 tree. `plan status` judges RPO and RTO for fresh and
//! stale backups and uses the restore times measured by drills; `kura drill` loads the dumps
//! into scratch databases, compares the SS-MIX2 patient count with the database and reports
//! achieved times; a truncated dump fails the drill naming the system and the check.

use crate::common;
use crate::plan_common;

use std::path::{Path, PathBuf};

use common::{stderr, Kura};
use plan_common::{
    audit_log, backup_command, backup_dir, pg, run, ssmix2_tree, status_of, write_plan, Pg,
};

const EHR_SCHEMA: &str = "
CREATE TABLE patients (patient_id text PRIMARY KEY, name text NOT NULL, ssmix2_exported boolean NOT NULL);
CREATE TABLE encounters (id serial PRIMARY KEY, patient_id text NOT NULL REFERENCES patients, at timestamptz NOT NULL);
INSERT INTO patients SELECT lpad(i::text, 10, '0'), '患者 ' || i, i % 2 = 0 FROM generate_series(1, 120) i;
INSERT INTO encounters (patient_id, at) SELECT lpad((i % 120 + 1)::text, 10, '0'), now() FROM generate_series(1, 500) i;
";

const LAB_SCHEMA: &str = "
CREATE TABLE results (id serial PRIMARY KEY, patient_id text NOT NULL, code text NOT NULL, value numeric);
INSERT INTO results (patient_id, code, value) SELECT lpad((i % 120 + 1)::text, 10, '0'), '3D010000002227101', i / 7.0 FROM generate_series(1, 300) i;
";

/// `@NAME@` placeholders are filled in by [`Fixture::plan`].
const PLAN: &str = r#"
[plan]
hospital = "テスト病院 / Test Hospital"
scratch_dir = "@SCRATCH@"
@DEFAULT_SPEED@

[plan.env]
KURA_SCRATCH_DB = "@EHR_SCRATCH@"
SSMIX2_ROOT = "@SSMIX2_ROOT@"

[[system]]
name = "ehr-db"
title = "電子カルテ DB"
priority = "P1"
rpo = "1h"
rto = "1h"
sources = ["ehr-db"]
restore_to = "/restore/ehr-db"
responsible = { party = "vendor", name = "Example Medical Systems", contact = "0120-000-111" }

[[system.verify]]
name = "load-dump"
shell = """
set -e
dropdb --if-exists "$KURA_SCRATCH_DB"
createdb "$KURA_SCRATCH_DB"
pg_restore --exit-on-error --no-owner -d "$KURA_SCRATCH_DB" "$KURA_RESTORED_DIR/ehr.dump"
"""
timeout = "5m"

[[system.verify]]
name = "orphans"
command = ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", "${KURA_SCRATCH_DB}", "-c",
  "SELECT count(*) FROM encounters e LEFT JOIN patients p USING (patient_id) WHERE p.patient_id IS NULL"]
expect = { output = "0" }

[[system.verify]]
name = "ssmix2-patients"
command = ["psql", "-X", "-q", "-tA", "-d", "${KURA_SCRATCH_DB}", "-c",
  "SELECT count(*) FROM patients WHERE ssmix2_exported"]

[[system]]
name = "ssmix2"
priority = "P1"
rpo = "4h"
rto = "1h"
sources = ["ssmix2"]
restore_to = "/restore/ssmix2"

[[system.verify]]
name = "patients"
shell = 'cd "$KURA_RESTORED_DIR$SSMIX2_ROOT" && find . -mindepth 3 -maxdepth 3 -type d | wc -l'
expect = { same_as = "ehr-db/ssmix2-patients" }

[[system]]
name = "lab"
priority = "P2"
depends_on = ["ehr-db"]
rpo = "@LAB_RPO@"
rto = "1d"
sources = ["lab-db"]
restore_to = "/restore/lab"

[[system.verify]]
name = "load-dump"
shell = 'dropdb --if-exists "$KURA_SCRATCH_DB" && createdb "$KURA_SCRATCH_DB" && pg_restore --exit-on-error --no-owner -d "$KURA_SCRATCH_DB" lab.dump'
env = { KURA_SCRATCH_DB = "@LAB_SCRATCH@" }

[[system.verify]]
name = "results"
command = ["psql", "-X", "-q", "-tA", "-d", "@LAB_SCRATCH@", "-c", "SELECT count(*) FROM results"]
expect = { at_least = 300 }
"#;

struct Fixture {
    k: Kura,
    pg: Pg,
    tag: String,
    ssmix2: PathBuf,
}

impl Fixture {
    /// Source databases and a repository holding their dumps and an SS-MIX2 tree of the 60
    /// patients the database marks as exported. `truncate_ehr` backs up half of the EHR dump.
    fn new(pg: Pg, tag: &str, truncate_ehr: bool) -> Fixture {
        let tag = format!("{tag}_{}", std::process::id());
        let k = Kura::init();
        pg.create_db(&format!("plan_ehr_{tag}"), EHR_SCHEMA);
        pg.create_db(&format!("plan_lab_{tag}"), LAB_SCHEMA);
        let mut ehr_argv = pg.dump_argv(&format!("plan_ehr_{tag}"));
        if truncate_ehr {
            // Damage the dump the way a torn copy or partial encryption would: cut it in half.
            let full = k.path("full.dump");
            let out = std::process::Command::new(&ehr_argv[0])
                .args(&ehr_argv[1..])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            std::fs::write(&full, &out.stdout[..out.stdout.len() / 2]).unwrap();
            ehr_argv = vec!["cat".into(), full.display().to_string()];
        }
        backup_command(&k, "ehr-db", "ehr.dump", &ehr_argv);
        let lab_argv = pg.dump_argv(&format!("plan_lab_{tag}"));
        backup_command(&k, "lab-db", "lab.dump", &lab_argv);
        let ssmix2 = k.path("ssmix2-root");
        ssmix2_tree(&ssmix2, (2..=120).step_by(2));
        backup_dir(&k, "ssmix2", &ssmix2);
        Fixture { k, pg, tag, ssmix2 }
    }

    fn plan(&self, file: &str, lab_rpo: &str, default_speed: &str) -> PathBuf {
        let text = PLAN
            .replace("@SCRATCH@", &self.k.path("scratch").display().to_string())
            .replace("@DEFAULT_SPEED@", default_speed)
            .replace("@EHR_SCRATCH@", &format!("plan_drill_ehr_{}", self.tag))
            .replace("@LAB_SCRATCH@", &format!("plan_drill_lab_{}", self.tag))
            .replace("@SSMIX2_ROOT@", &self.ssmix2.display().to_string())
            .replace("@LAB_RPO@", lab_rpo);
        write_plan(&self.k, file, &text)
    }

    fn status(&self, plan: &Path) -> (Option<i32>, serde_json::Value) {
        let p = plan.to_str().unwrap();
        let out = run(
            &self.k,
            Some(&self.pg),
            &["plan", "status", "--plan", p, "--json"],
        );
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json ({e}): {}", stderr(&out)));
        (out.status.code(), v)
    }

    fn drop_dbs(&self) {
        for db in ["plan_ehr", "plan_lab", "plan_drill_ehr", "plan_drill_lab"] {
            self.pg.drop_db(&format!("{db}_{}", self.tag));
        }
    }
}

#[test]
fn status_and_drill_with_real_databases() {
    let Some(pg) = pg() else { return };
    let fx = Fixture::new(pg, "ok", false);
    // Until a drill measures it, restores are assumed to crawl at 0.1 byte/s: every RTO is missed.
    let plan = fx.plan("plan.toml", "24h", "default_restore_mib_per_s = 0.0000001");
    let (code, all) = fx.status(&plan);
    assert_eq!(code, Some(1), "{all:#}");
    for name in ["ehr-db", "ssmix2", "lab"] {
        let s = status_of(&all, name);
        assert_eq!(s["rpo_met"], true, "fresh backup: {s:#}");
        assert_eq!(s["rto_met"], false, "{s:#}");
        assert_eq!(s["throughput_estimated"], true);
        assert!(s["size_bytes"].as_u64().unwrap() > 1000, "{s:#}");
    }

    let report = fx.k.path("binder/drill.html");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    let args = [
        "drill",
        "--plan",
        plan.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let out = run(&fx.k, Some(&fx.pg), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", stderr(&out));
    for name in ["ehr-db", "ssmix2", "lab"] {
        assert!(
            stdout.contains(&format!("PASS {name}: restored ")),
            "{stdout}"
        );
    }
    // The scratch database really holds the restored EHR data.
    let ehr_scratch = format!("plan_drill_ehr_{}", fx.tag);
    assert_eq!(
        fx.pg.psql(&ehr_scratch, "SELECT count(*) FROM encounters"),
        "500"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("合格 / PASSED"), "{html}");
    assert!(html.contains("達成復旧時間 / Achieved restore time"));
    let ehr_id =
        fx.k.snapshots()
            .into_iter()
            .find(|s| s["source"] == "ehr-db")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    assert!(
        html.contains(&ehr_id[..16]),
        "the report names the generation"
    );

    // The drill is on record: measured restore times beside the plan, and the audit log.
    let drills: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fx.k.path("plan.toml.drills.json")).unwrap())
            .unwrap();
    assert_eq!(drills["sources"]["ehr-db"]["generation"], ehr_id.as_str());
    assert!(drills["sources"]["lab-db"]["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(drills["drills"][0]["passed"], true);
    let audit = std::fs::read_to_string(audit_log(&fx.k)).unwrap();
    assert!(audit.contains("\"drill\""), "{audit}");
    // ... and on the generation itself, where copies and exported media carry it.
    let ehr = generation(&fx.k, &ehr_id);
    assert_eq!(ehr["drills"][0]["system"], "ehr-db", "{ehr:#}");
    assert_eq!(ehr["drills"][0]["passed"], true, "{ehr:#}");
    assert!(ehr["drills"][0]["restore_seconds"].as_f64().unwrap() > 0.0);
    let table = fx.k.ok(&["snapshots", "--source", "ehr-db"]);
    assert!(table.contains(" passed "), "{table}");

    // With measured throughput every RTO is met; backups are fresh: exit 0.
    let (code, all) = fx.status(&plan);
    assert_eq!(code, Some(0), "{all:#}");
    let lab = status_of(&all, "lab");
    assert_eq!(lab["throughput_estimated"], false);
    assert_eq!(lab["restore_order"], 3, "lab waits for the EHR database");
    assert_eq!(status_of(&all, "ehr-db")["restore_order"], 1);
    let out = run(
        &fx.k,
        None,
        &["plan", "status", "--plan", plan.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("3 of 3 systems meet their RPO and RTO"),
        "{text}"
    );
    assert!(
        text.contains("last drill ") && text.contains(": PASSED (report: "),
        "{text}"
    );

    // Stale: the lab backup is older than a 1-second RPO.
    let stale = fx.plan("stale.toml", "1s", "");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (code, all) = fx.status(&stale);
    assert_eq!(code, Some(1));
    let first = &all[0];
    assert_eq!(
        (first["name"].as_str(), first["rpo_met"].as_bool()),
        (Some("lab"), Some(false))
    );
    assert!(
        first["problems"][0].as_str().unwrap().contains("RPO is 1s"),
        "{first:#}"
    );
    assert_eq!(status_of(&all, "ehr-db")["rpo_met"], true);
    fx.drop_dbs();
}

#[test]
fn a_truncated_dump_fails_the_drill_naming_system_and_check() {
    let Some(pg) = pg() else { return };
    let fx = Fixture::new(pg, "bad", true);
    let plan = fx.plan("plan.toml", "24h", "");
    let out = run(
        &fx.k,
        Some(&fx.pg),
        &["drill", "--plan", plan.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("drill failure: system \"ehr-db\": check \"load-dump\" failed: exit status 1"),
        "{err}"
    );
    assert!(
        err.contains("pg_restore"),
        "the tool's own error is quoted: {err}"
    );
    // The report goes beside the plan by default and says FAILED.
    let report = std::fs::read_dir(fx.k.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("drill-report-")
        })
        .expect("a drill-report-<date>.html beside the plan");
    let html = std::fs::read_to_string(report).unwrap();
    assert!(html.contains("不合格 / FAILED") && html.contains("load-dump"));
    // Independent systems were still drilled: the lab dump is fine.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PASS lab: restored"), "{stdout}");
    assert!(stdout.contains("FAIL ehr-db: restored"), "{stdout}");
    let audit = std::fs::read_to_string(audit_log(&fx.k)).unwrap();
    assert!(
        audit.contains("\"drill\"") && audit.contains("load-dump"),
        "{audit}"
    );
    // The failure is recorded on the damaged generation, naming the check; the lab's passed.
    let snaps = fx.k.snapshots();
    let of = |source: &str| {
        snaps
            .iter()
            .find(|s| s["source"] == source)
            .expect("a generation of the source")
            .clone()
    };
    let ehr = of("ehr-db");
    assert_eq!(ehr["drills"][0]["passed"], false, "{ehr:#}");
    assert!(
        ehr["drills"][0]["failures"][0]
            .as_str()
            .unwrap()
            .contains("load-dump"),
        "{ehr:#}"
    );
    assert_eq!(of("lab-db")["drills"][0]["passed"], true);
    let table = fx.k.ok(&["snapshots", "--source", "ehr-db"]);
    assert!(table.contains(" FAILED "), "{table}");
    fx.drop_dbs();
}

/// The `kura snapshots --json` entry of generation `id`.
fn generation(k: &Kura, id: &str) -> serde_json::Value {
    k.snapshots()
        .into_iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("generation {id} is not listed"))
}
