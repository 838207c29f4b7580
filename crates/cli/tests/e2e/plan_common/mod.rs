//! Helpers for the recovery-plan tests (issue 8): a real PostgreSQL from scripts/test-all.sh,
//! SS-MIX2-shaped trees, plan files and the JSON lines `kura plan restore --json` prints.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{stderr, Kura};

/// The PostgreSQL started by scripts/test-all.sh.
pub type Pg = kura_testkit::pg::TestPg;

/// The test server, or `None` (with a message) outside the suite.
pub fn pg() -> Option<Pg> {
    Pg::from_env("plan tests")
}

/// Every kura command of these tests: the repository of `k`, an audit log inside its temporary
/// directory (never the user's), and the test PostgreSQL for the verification commands.
pub fn kura(k: &Kura, pg: Option<&Pg>) -> Command {
    let mut c = k.cmd();
    c.env("KURA_AUDIT_LOG", audit_log(k));
    if let Some(pg) = pg {
        pg.apply(&mut c);
    }
    c
}

pub fn audit_log(k: &Kura) -> PathBuf {
    k.path("audit.jsonl")
}

pub fn run(k: &Kura, pg: Option<&Pg>, args: &[&str]) -> Output {
    kura(k, pg).args(args).output().expect("run kura")
}

/// `kura backup --source SOURCE --stdin-filename NAME --stdin-from-command -- ARGV`; the new ID.
pub fn backup_command(k: &Kura, source: &str, name: &str, argv: &[String]) -> String {
    let out = kura(k, None)
        .args([
            "backup",
            "--json",
            "--source",
            source,
            "--stdin-filename",
            name,
        ])
        .arg("--stdin-from-command")
        .arg("--")
        .args(argv)
        .output()
        .expect("run kura backup");
    assert!(out.status.success(), "backup {source}: {}", stderr(&out));
    crate::common::last_json_line(&out)["snapshot"]
        .as_str()
        .expect("snapshot id")
        .to_string()
}

/// `kura backup --source SOURCE DIR`; the new ID.
pub fn backup_dir(k: &Kura, source: &str, dir: &Path) -> String {
    k.backup_json(&["--source", source, dir.to_str().expect("utf-8 path")])["snapshot"]
        .as_str()
        .expect("snapshot id")
        .to_string()
}

/// An SS-MIX2 standardized storage with one ADT message per patient, in the layout
/// `<root>/<PID[0:3]>/<PID[3:6]>/<PID>/-/ADT-00/<PID>_-_ADT-00_..._1`, for the given IDs.
pub fn ssmix2_tree(root: &Path, patient_ids: impl IntoIterator<Item = u32>) {
    for i in patient_ids {
        let pid = format!("{i:010}");
        let dir = root
            .join(&pid[0..3])
            .join(&pid[3..6])
            .join(&pid)
            .join("-")
            .join("ADT-00");
        std::fs::create_dir_all(&dir).unwrap();
        let msg = format!("MSH|^~\\&|HIS||||20270401090000||ADT^A08|{pid}|P|2.5\rPID|||{pid}\r");
        std::fs::write(
            dir.join(format!("{pid}_-_ADT-00_2027040109000000_01_1")),
            msg,
        )
        .unwrap();
    }
}

/// Writes a plan into the test directory; returns its path.
pub fn write_plan(k: &Kura, name: &str, text: &str) -> PathBuf {
    let path = k.path(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The JSON objects printed one per line on standard output (non-JSON lines are skipped).
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `(event, system)` of the `plan_restore` progress lines, in the order printed.
pub fn restore_events(out: &Output) -> Vec<(String, String)> {
    json_lines(out)
        .iter()
        .filter(|v| v["message_type"] == "plan_restore")
        .map(|v| {
            (
                v["event"].as_str().unwrap_or_default().to_string(),
                v["system"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `kura plan status --json`: the array, and the object of `name`.
pub fn status_of<'a>(all: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    all.as_array()
        .expect("plan status --json prints an array")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no system {name} in {all:#}"))
}
