//! Drills against a real PostgreSQL (issue 8, acceptance 1 and 2).
//!
//! Runs when `KURA_TEST_PGHOST`, `KURA_TEST_PGPORT` and `KURA_TEST_PGUSER` are set, as
//! `scripts/test-all.sh` does; otherwise each test says it was skipped and passes.
//! The "backup" is a real `pg_dump -Fc` and an SS-MIX2-shaped tree; the restore function
//! copies them into the drill directory, standing in for `kura restore`.

use std::path::{Path, PathBuf};
use std::process::Command;

use kura_recovery::{
    render_html, restore_order, run_drill, validate, DrillRestore, DrilledGeneration, Plan,
    RestoreError, System, VerifyEnv,
};
use kura_testkit::pg::TestPg;

type Pg = TestPg;

fn pg() -> Option<Pg> {
    TestPg::from_env("postgres drills")
}

/// The verification environment of a drill against the test server.
fn verify_env(pg: &Pg, scratch_db: &str) -> VerifyEnv {
    let mut env = VerifyEnv::default();
    for (k, v) in pg.vars() {
        env.vars.insert(k.into(), v.into());
    }
    env.vars.insert("KURA_SCRATCH_DB".into(), scratch_db.into());
    env
}

const SCHEMA: &str = "
CREATE TABLE patients (patient_id text PRIMARY KEY, name text NOT NULL, ssmix2_exported boolean NOT NULL);
CREATE TABLE encounters (id serial PRIMARY KEY, patient_id text NOT NULL REFERENCES patients, at timestamptz NOT NULL);
INSERT INTO patients SELECT lpad(i::text, 10, '0'), '患者 ' || i, i % 2 = 0 FROM generate_series(1, 120) i;
INSERT INTO encounters (patient_id, at) SELECT lpad((i % 120 + 1)::text, 10, '0'), now() FROM generate_series(1, 500) i;
";

/// The plan under test: the EHR DB loads into a scratch database and is queried; SS-MIX2
/// patient folders are counted and compared with the database.
const PLAN: &str = r#"
[plan]
hospital = "テスト病院 / Test Hospital"
scratch_dir = "@SCRATCH_DIR@"

[[system]]
name = "ehr-db"
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
name = "patients"
command = ["psql", "-X", "-q", "-tA", "-d", "${KURA_SCRATCH_DB}", "-c", "SELECT count(*) FROM patients"]
expect = { at_least = 100 }

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
responsible = { party = "hospital", name = "情報システム課" }

[[system.verify]]
name = "patients"
shell = "find . -mindepth 3 -maxdepth 3 -type d | wc -l"
expect = { same_as = "ehr-db/ssmix2-patients" }
"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    backup: PathBuf,
    plan: Plan,
    src_db: String,
}

fn fixture(pg: &Pg, tag: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let backup = tmp.path().join("backup");
    std::fs::create_dir_all(backup.join("ssmix2")).unwrap();
    let src_db = format!("kura_src_{tag}_{}", std::process::id());
    pg.create_db(&src_db, SCHEMA);
    let dump = backup.join("ehr.dump");
    let mut pg_dump = Command::new("pg_dump");
    pg.apply(&mut pg_dump);
    let status = pg_dump
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg(&src_db)
        .status()
        .unwrap();
    assert!(status.success());
    // 60 exported patients (the even IDs) in SS-MIX2 layout <PID[0:3]>/<PID[3:6]>/<PID>.
    for i in (2..=120).step_by(2) {
        let pid = format!("{i:010}");
        let dir = backup
            .join("ssmix2")
            .join(&pid[0..3])
            .join(&pid[3..6])
            .join(&pid)
            .join("-")
            .join("ADT-00");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{pid}_-_ADT-00_1")), "MSH|^~\\&|\r").unwrap();
    }
    let scratch = tmp.path().join("scratch");
    let plan = Plan::parse(
        &PLAN.replace("@SCRATCH_DIR@", &scratch.display().to_string()),
        "test",
    )
    .unwrap();
    Fixture {
        _tmp: tmp,
        backup,
        plan,
        src_db,
    }
}

fn copy_tree(from: &Path, to: &Path) -> u64 {
    let mut bytes = 0;
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            bytes += copy_tree(&entry.path(), &target);
        } else {
            bytes += std::fs::copy(entry.path(), target).unwrap();
        }
    }
    bytes
}

/// Stands in for `kura restore`: ehr-db gets the dump, ssmix2 the tree.
fn restore_from(
    backup: &Path,
) -> impl FnMut(&System, &Path) -> Result<DrillRestore, RestoreError> + '_ {
    move |system, dir| {
        let bytes = match system.name.as_str() {
            "ehr-db" => std::fs::copy(backup.join("ehr.dump"), dir.join("ehr.dump"))?,
            _ => copy_tree(&backup.join("ssmix2"), dir),
        };
        Ok(DrillRestore {
            generations: vec![DrilledGeneration {
                source: system.sources[0].clone(),
                id: format!("{}-generation", system.name),
                committed_at: chrono::DateTime::UNIX_EPOCH,
            }],
            bytes,
        })
    }
}

fn cleanup(pg: &Pg, dbs: &[&str]) {
    for db in dbs {
        pg.drop_db(db);
    }
}

#[test]
fn drill_loads_a_real_dump_and_compares_ssmix2_with_the_database() {
    let Some(pg) = pg() else {
        eprintln!(
            "skipped: KURA_TEST_PGHOST/PGPORT/PGUSER not set (scripts/test-all.sh sets them)"
        );
        return;
    };
    let fx = fixture(&pg, "ok");
    let scratch_db = format!("kura_drill_ok_{}", std::process::id());
    validate(&fx.plan, &["ehr-db".into(), "ssmix2".into()]).unwrap();
    let order = restore_order(&fx.plan);
    let report = run_drill(
        &fx.plan,
        &order,
        restore_from(&fx.backup),
        verify_env(&pg, &scratch_db),
    );
    assert!(report.passed, "{:#?}", report.failures());
    let db = &report.systems[0];
    let checks: Vec<(&str, &str)> = db
        .verification
        .as_ref()
        .unwrap()
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.stdout.as_str()))
        .collect();
    assert_eq!(
        checks[1..],
        [
            ("orphans", "0"),
            ("patients", "120"),
            ("ssmix2-patients", "60")
        ]
    );
    assert_eq!(
        report.systems[1].verification.as_ref().unwrap().checks[0].stdout,
        "60"
    );
    // The scratch database really holds the restored data.
    assert_eq!(
        pg.psql(&scratch_db, "SELECT count(*) FROM encounters"),
        "500"
    );
    assert!(db.rto_met && db.restore_seconds > 0.0 && db.bytes > 1000);
    let html = render_html(&report);
    assert!(html.contains("合格 / PASSED"));
    assert!(html.contains("ehr-db-generation"));
    assert!(html.contains("達成復旧時間 / Achieved restore time"));
    cleanup(&pg, &[&fx.src_db, &scratch_db]);
}

#[test]
fn drill_of_a_corrupted_dump_fails_naming_the_system_and_the_check() {
    let Some(pg) = pg() else {
        eprintln!(
            "skipped: KURA_TEST_PGHOST/PGPORT/PGUSER not set (scripts/test-all.sh sets them)"
        );
        return;
    };
    let fx = fixture(&pg, "bad");
    let scratch_db = format!("kura_drill_bad_{}", std::process::id());
    // Damage the dump the way a partial encryption or a torn copy would: cut it in half.
    let dump = fx.backup.join("ehr.dump");
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&dump, &bytes[..bytes.len() / 2]).unwrap();
    let order = restore_order(&fx.plan);
    let report = run_drill(
        &fx.plan,
        &order,
        restore_from(&fx.backup),
        verify_env(&pg, &scratch_db),
    );
    assert!(!report.passed);
    let failures = report.failures();
    eprintln!("drill failures as reported: {failures:#?}");
    assert!(
        failures[0].starts_with("system \"ehr-db\": check \"load-dump\" failed: exit status 1"),
        "{failures:#?}"
    );
    assert!(failures[0].contains("pg_restore"), "{failures:#?}");
    // SS-MIX2 cannot be compared with a database that did not load: it fails too, saying why.
    assert!(failures
        .iter()
        .any(|f| f.starts_with("system \"ssmix2\": check \"patients\"")));
    let html = render_html(&report);
    assert!(html.contains("不合格 / FAILED") && html.contains("load-dump"));
    cleanup(&pg, &[&fx.src_db, &scratch_db]);
}
