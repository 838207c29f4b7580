//! Acceptance 6: `--stdin-from-command` with a real `pg_dump` of a PostgreSQL database started by the
//! test script (scripts/test-all.sh exports KURA_TEST_PGHOST/PGPORT/PGUSER); the dump is restored,
//! loaded into a fresh database, and the row counts are equal. A failing dump makes no generation.

use crate::common;

use std::process::Command;

use kura_testkit::pg::TestPg;

use common::Kura;

fn pg() -> Option<TestPg> {
    TestPg::from_env("pg_dump_round_trip")
}

#[test]
fn pg_dump_round_trip() {
    let Some(pg) = pg() else { return };
    let suffix = std::process::id();
    let (src, dst) = (format!("kura_src_{suffix}"), format!("kura_dst_{suffix}"));
    pg.drop_db(&dst);
    pg.create_db(
        &src,
        "CREATE TABLE patient (id int primary key, name text, kana text, birth date)",
    );
    pg.psql(&src, "INSERT INTO patient SELECT g, '山田 太郎' || g, 'ヤマダ タロウ', date '1950-01-01' + g FROM generate_series(1, 20000) g");
    pg.psql(
        &src,
        "CREATE TABLE lab (patient int references patient, code text, value numeric)",
    );
    pg.psql(&src, "INSERT INTO lab SELECT 1 + g % 20000, '3D010000002227101', g / 7.0 FROM generate_series(1, 50000) g");

    let k = Kura::init();
    let out = k
        .cmd()
        .args([
            "backup",
            "--json",
            "--source",
            "ehr-db",
            "--stdin-filename",
            "ehr.dump",
            "--stdin-from-command",
            "--",
        ])
        .args(pg.dump_argv(&src))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let summary = common::last_json_line(&out);
    let id = summary["snapshot"].as_str().unwrap().to_string();

    let target = k.path("restore");
    k.ok(&["restore", &id, "--target", target.to_str().unwrap()]);
    let dump = target.join("ehr.dump");
    assert!(dump.metadata().unwrap().len() > 1000);
    pg.create_db(&dst, "");
    let mut restore = Command::new("pg_restore");
    pg.apply(&mut restore);
    let out = restore
        .args(["--no-owner", "-d", &dst])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for table in ["patient", "lab"] {
        let q =
            format!("SELECT count(*) || ':' || coalesce(sum(hashtext(t::text)), 0) FROM {table} t");
        assert_eq!(
            pg.psql(&src, &q),
            pg.psql(&dst, &q),
            "table {table} differs after restore"
        );
    }
    pg.drop_db(&src);
    pg.drop_db(&dst);
}

#[test]
fn failing_dump_command_makes_no_generation() {
    let k = Kura::init();
    let out = k.run(&[
        "backup",
        "--stdin-from-command",
        "--",
        "sh",
        "-c",
        "echo partial dump; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("no generation was written"),
        "{}",
        common::stderr(&out)
    );
    assert!(k.snapshots().is_empty());
    let out = k.run(&[
        "backup",
        "--stdin-from-command",
        "--",
        "/nonexistent/pg_dump",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(k.snapshots().is_empty());
}

#[test]
fn stdin_backup_round_trip() {
    let k = Kura::init();
    let mut child = k
        .cmd()
        .args([
            "backup",
            "--json",
            "--stdin",
            "--stdin-filename",
            "orders.csv",
            "--source",
            "orders",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let body = "オーダー番号,患者ID\n".repeat(50_000);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let id = common::last_json_line(&out)["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(k.ok(&["dump", &id, "orders.csv"]), body);
}
