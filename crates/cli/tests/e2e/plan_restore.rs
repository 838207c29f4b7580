//! Issue 8, acceptance 3: `kura plan restore` restores in dependency order, and a run that was
//! interrupted (a system that failed, or the process killed mid-restore) completes when run
//! again without restoring finished systems a second time. Also `--before`.

use crate::common;
use crate::plan_common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{restored, stderr, Kura};
use plan_common::{backup_dir, kura, restore_events, run, ssmix2_tree, write_plan};

/// A source directory holding one file with `content`.
fn source(k: &Kura, name: &str, content: &[u8]) -> PathBuf {
    let dir = k.path(&format!("data/{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.dat")), content).unwrap();
    dir
}

fn system(name: &str, priority: &str, deps: &[&str], restore_to: &Path) -> String {
    let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
    format!(
        "\n[[system]]\nname = {name:?}\npriority = {priority:?}\ndepends_on = [{}]\nrpo = \"1d\"\nrto = \"1d\"\nsources = [{name:?}]\nrestore_to = {:?}\n",
        deps.join(", "),
        restore_to.display().to_string()
    )
}

fn journal(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn position(events: &[(String, String)], event: &str, system: &str) -> usize {
    events
        .iter()
        .position(|(e, s)| e == event && s == system)
        .unwrap_or_else(|| panic!("no {event} event for {system} in {events:?}"))
}

#[test]
fn a_failed_system_is_retried_and_finished_ones_are_not_restored_again() {
    let k = Kura::init();
    let ehr = source(&k, "ehr-db", b"EHR dump");
    let lab = source(&k, "lab", b"lab dump");
    let orders = source(&k, "orders", b"orders config");
    let ss = k.path("data/ssmix2");
    ssmix2_tree(&ss, 1..=5);
    for (name, dir) in [
        ("ehr-db", &ehr),
        ("lab", &lab),
        ("orders", &orders),
        ("ssmix2", &ss),
    ] {
        backup_dir(&k, name, dir);
    }
    let out_dir = k.path("restore");
    // lab's target lies below a regular file, so its restore fails until that file is removed.
    let blocker = k.path("blocker");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let text = format!(
        "[plan]\nhospital = \"Test\"\n{}{}{}{}",
        system("orders", "P2", &["lab"], &out_dir.join("orders")),
        system("lab", "P2", &["ehr-db"], &blocker.join("lab")),
        system("ehr-db", "P1", &[], &out_dir.join("ehr-db")),
        system("ssmix2", "P1", &[], &out_dir.join("ssmix2")),
    );
    let plan = write_plan(&k, "plan.toml", &text);
    let args = [
        "plan",
        "restore",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
    ];

    let first = run(&k, None, &args);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let events = restore_events(&first);
    // Dependencies first: ehr-db is done before lab starts; orders is never attempted.
    assert!(position(&events, "done", "ehr-db") < position(&events, "started", "lab"));
    position(&events, "done", "ssmix2");
    position(&events, "failed", "lab");
    position(&events, "blocked", "orders");
    assert!(!events.iter().any(|(e, s)| e == "started" && s == "orders"));
    let journal_path = k.path("plan.toml.restore-journal.json");
    assert_eq!(journal(&journal_path)["systems"]["lab"]["state"], "failed");

    std::fs::remove_file(&blocker).unwrap();
    // A backup made after the first run is not used by the rerun: the whole restore stays at
    // the point in time it started from.
    std::fs::write(lab.join("lab.dat"), b"lab dump, newer").unwrap();
    backup_dir(&k, "lab", &lab);
    let second = run(&k, None, &args);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let events = restore_events(&second);
    position(&events, "skipped", "ehr-db");
    position(&events, "skipped", "ssmix2");
    assert!(position(&events, "done", "lab") < position(&events, "started", "orders"));
    position(&events, "done", "orders");
    for finished in ["ehr-db", "ssmix2"] {
        assert!(
            !events.iter().any(|(e, s)| e == "started" && s == finished),
            "{finished} was restored again: {events:?}"
        );
    }
    let j = journal(&journal_path);
    assert_eq!(j["systems"]["ehr-db"]["attempts"], 1);
    assert_eq!(j["systems"]["lab"]["attempts"], 2);
    assert_eq!(j["systems"]["orders"]["state"], "done");
    // The data is where the plan says, byte for byte.
    let got = |target: PathBuf, dir: &Path, name: &str| {
        std::fs::read(restored(&target, dir).join(format!("{name}.dat"))).unwrap()
    };
    assert_eq!(got(out_dir.join("ehr-db"), &ehr, "ehr-db"), b"EHR dump");
    assert_eq!(got(blocker.join("lab"), &lab, "lab"), b"lab dump");
    assert_eq!(
        got(out_dir.join("orders"), &orders, "orders"),
        b"orders config"
    );
    assert!(restored(&out_dir.join("ssmix2"), &ss)
        .join("000/000/0000000005")
        .is_dir());

    // A third run has nothing left to do.
    let third = run(&k, None, &args[..4]);
    assert_eq!(third.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&third.stdout).contains("already restored"));
}

/// Text-like bytes from a small alphabet: large enough that restoring takes measurable time,
/// yet not random-looking (a generation of random bytes is judged suspicious, exit 4).
fn records(len: usize, mut seed: u64) -> Vec<u8> {
    const ALPHABET: &[u8] = b"0123456789,ABCDEFGHIJ \n";
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ALPHABET[(seed % ALPHABET.len() as u64) as usize]
        })
        .collect()
}

#[test]
fn a_killed_restore_continues_where_it_stopped() {
    let k = Kura::init();
    let ehr = source(&k, "ehr-db", b"EHR dump");
    let big = records(48 << 20, 0x9e37_79b9_7f4a_7c15);
    let pacs = source(&k, "pacs", &big);
    backup_dir(&k, "ehr-db", &ehr);
    backup_dir(&k, "pacs", &pacs);
    let out_dir = k.path("restore");
    let text = format!(
        "[plan]\nhospital = \"Test\"\n{}{}",
        system("ehr-db", "P1", &[], &out_dir.join("ehr-db")),
        system("pacs", "P2", &["ehr-db"], &out_dir.join("pacs")),
    );
    let plan = write_plan(&k, "plan.toml", &text);
    let args = [
        "plan",
        "restore",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
    ];
    let mut child = kura(&k, None)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap());
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap_or_default();
        if v["event"] == "started" && v["system"] == "pacs" {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    let j = journal(&k.path("plan.toml.restore-journal.json"));
    assert_eq!(j["systems"]["ehr-db"]["state"], "done");
    assert_eq!(j["systems"]["pacs"]["state"], "in_progress", "{j:#}");

    let again = run(&k, None, &args);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let events = restore_events(&again);
    assert_eq!(events[0], ("skipped".to_string(), "ehr-db".to_string()));
    position(&events, "done", "pacs");
    let j = journal(&k.path("plan.toml.restore-journal.json"));
    assert_eq!(j["systems"]["pacs"]["attempts"], 2);
    assert_eq!(j["systems"]["ehr-db"]["attempts"], 1);
    let file = restored(&out_dir.join("pacs"), &pacs).join("pacs.dat");
    assert!(std::fs::read(file).unwrap() == big, "pacs restored exactly");
}

#[test]
fn before_restores_the_newest_generation_at_that_time() {
    let k = Kura::init();
    let ehr = source(&k, "ehr-db", b"monday");
    let monday = backup_dir(&k, "ehr-db", &ehr);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(ehr.join("ehr-db.dat"), b"tuesday").unwrap();
    backup_dir(&k, "ehr-db", &ehr);
    let committed = k
        .snapshots()
        .into_iter()
        .find(|s| s["id"] == monday.as_str())
        .unwrap()["committed_at"]
        .as_str()
        .unwrap()
        .to_string();
    let text = format!(
        "[plan]\nhospital = \"Test\"\n{}",
        system("ehr-db", "P1", &[], Path::new("/nonexistent/production"))
    );
    let plan = write_plan(&k, "plan.toml", &text);
    let root = k.path("elsewhere");
    let journal = k.path("before.json");
    let base = ["plan", "restore", "--plan", plan.to_str().unwrap()];
    let mut args = base.to_vec();
    args.extend(["--target-root", root.to_str().unwrap(), "--journal"]);
    args.extend([journal.to_str().unwrap(), "--before", &committed]);
    let out = run(&k, None, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = restored(&root.join("ehr-db"), &ehr).join("ehr-db.dat");
    assert_eq!(std::fs::read(&file).unwrap(), b"monday");
    // Before any generation existed: nothing to restore, said clearly.
    let journal2 = k.path("early.json");
    let mut args = base.to_vec();
    args.extend(["--target-root", root.to_str().unwrap(), "--journal"]);
    args.extend([journal2.to_str().unwrap(), "--before", "2001-01-01"]);
    let out = run(&k, None, &args);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("source \"ehr-db\" has no clean generation at or before 2001-01-01"),
        "{err}"
    );
}

fn open_repo(k: &Kura) -> kura_repo::Repository {
    let pw = std::fs::read_to_string(&k.password_file).unwrap();
    let backend = std::sync::Arc::new(kura_store::LocalBackend::new(&k.repo));
    kura_repo::Repository::open(backend, pw.trim().as_bytes()).unwrap()
}

/// Commits a copy of generation `id`, newer and judged suspicious, as if ransomware detection
/// had flagged the newest backup (detection itself is tested with the engine).
fn suspicious_copy(k: &Kura, id: &str) -> String {
    let repo = open_repo(k);
    let mut snap = repo.load_snapshot(id).unwrap().snapshot;
    snap.committed_at = chrono::Utc::now();
    snap.parent = None;
    snap.verdict = Some(kura_format::snapshot::StoredVerdict {
        verdict: "suspicious".into(),
        score: 97.0,
        reasons: vec!["mass encryption".into()],
        summary: serde_json::Value::Null,
    });
    repo.save_snapshot(&snap).unwrap().to_hex()
}

#[test]
fn a_suspicious_newest_generation_is_passed_over() {
    let k = Kura::init();
    let ehr = source(&k, "ehr-db", b"clean dump");
    let clean = backup_dir(&k, "ehr-db", &ehr);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bad = suspicious_copy(&k, &clean);
    let out_dir = k.path("restore");
    let text = format!(
        "[plan]\nhospital = \"Test\"\n{}",
        system("ehr-db", "P1", &[], &out_dir.join("ehr-db"))
    );
    let plan = write_plan(&k, "plan.toml", &text);
    let p = plan.to_str().unwrap();
    let out = run(&k, None, &["plan", "status", "--plan", p, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all[0]["generations"][0]["id"], clean.as_str(), "not {bad}");
    let out = run(&k, None, &["plan", "restore", "--plan", p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = journal(&k.path("plan.toml.restore-journal.json"));
    assert_eq!(j["systems"]["ehr-db"]["generation"], clean.as_str());
}
