use super::*;
use crate::journal::State;
use crate::order::restore_order;
use crate::testutil::{plan_of, sys};
use crate::Priority::*;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The 400-bed shape: orders and lab on the EHR DB, scan independent.
fn hospital() -> Plan {
    plan_of(vec![
        sys("ehr-db", P1, &[]),
        sys("ssmix2", P1, &[]),
        sys("orders", P1, &["ehr-db"]),
        sys("lab", P2, &["ehr-db"]),
        sys("pacs", P2, &[]),
        sys("scan", P3, &[]),
        sys("billing", P3, &["orders"]),
    ])
}

/// A restore function that logs (start, end) sequence numbers and fails for `fail`.
struct Fake {
    seq: AtomicUsize,
    log: Mutex<Vec<(String, usize, usize)>>,
    fail: Option<&'static str>,
    panic: Option<&'static str>,
}

impl Fake {
    fn new(fail: Option<&'static str>, panic: Option<&'static str>) -> Self {
        Fake {
            seq: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            fail,
            panic,
        }
    }

    fn restore(&self, s: &System) -> Result<RestoreOutcome, RestoreError> {
        let start = self.seq.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        let end = self.seq.fetch_add(1, Ordering::SeqCst);
        lock(&self.log).push((s.name.clone(), start, end));
        if self.panic == Some(s.name.as_str()) {
            panic!("simulated crash in {}", s.name);
        }
        if self.fail == Some(s.name.as_str()) {
            return Err(format!("disk full while restoring {}", s.name).into());
        }
        Ok(RestoreOutcome {
            generation: format!("gen-{}", s.name),
            target: PathBuf::from(format!("/restore/{}", s.name)),
            bytes: 10,
        })
    }

    fn names(&self) -> BTreeSet<String> {
        lock(&self.log).iter().map(|l| l.0.clone()).collect()
    }
}

fn run(plan: &Plan, journal: &mut RestoreJournal, fake: &Fake, par: usize) -> RunReport {
    let events = Mutex::new(Vec::new());
    let progress = |e: &RestoreEvent| lock(&events).push(e.clone());
    let opts = RunOptions {
        parallelism: par,
        progress: &progress,
    };
    run_plan(
        plan,
        &restore_order(plan),
        journal,
        |s| fake.restore(s),
        &opts,
    )
    .unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn dependencies_finish_before_dependents_start() {
    let plan = hospital();
    let dir = tempfile::tempdir().unwrap();
    let mut j = RestoreJournal::open_or_create(&dir.path().join("j"), "r").unwrap();
    let fake = Fake::new(None, None);
    let report = run(&plan, &mut j, &fake, 3);
    assert!(report.complete());
    assert_eq!(report.restored.len(), 7);
    let log = lock(&fake.log).clone();
    let find = |n: &str| log.iter().find(|l| l.0 == n).unwrap().clone();
    for s in &plan.systems {
        for d in &s.depends_on {
            assert!(
                find(d).2 < find(&s.name).1,
                "{d} must end before {} starts",
                s.name
            );
        }
    }
    assert!(remaining(&restore_order(&plan), &j).is_empty());
}

#[test]
fn interrupted_restore_resumes_without_redoing_finished_systems() {
    let plan = hospital();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.json");
    let mut j = RestoreJournal::open_or_create(&path, "r").unwrap();
    let first = Fake::new(Some("orders"), None);
    let report = run(&plan, &mut j, &first, 2);
    assert!(!report.complete());
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0]
        .1
        .contains("disk full while restoring orders"));
    // billing depends on orders: blocked, not attempted. lab (also on ehr-db) went ahead.
    assert_eq!(
        report.blocked,
        vec![("billing".to_string(), "orders".to_string())]
    );
    assert_eq!(
        first.names(),
        set(&["ehr-db", "ssmix2", "orders", "lab", "pacs", "scan"])
    );
    drop(j);

    // A new process: reopen the journal from disk and run again with a healthy restore.
    let mut j = RestoreJournal::open_or_create(&path, "r").unwrap();
    assert_eq!(j.entry("orders").state, State::Failed);
    let second = Fake::new(None, None);
    let report = run(&plan, &mut j, &second, 2);
    assert!(report.complete(), "{report:?}");
    assert_eq!(second.names(), set(&["orders", "billing"]));
    assert_eq!(report.skipped.len(), 5);
    assert_eq!(j.entry("orders").attempts, 2);
    assert_eq!(j.entry("ehr-db").attempts, 1);
}

#[test]
fn a_system_left_in_progress_by_a_crash_is_restored_again() {
    let plan = hospital();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.json");
    let mut j = RestoreJournal::open_or_create(&path, "r").unwrap();
    j.mark_started("ehr-db").unwrap();
    j.mark_done("ehr-db", "g1", Path::new("/r")).unwrap();
    j.mark_started("ssmix2").unwrap(); // the process died here
    drop(j);
    let mut j = RestoreJournal::open_or_create(&path, "r").unwrap();
    let fake = Fake::new(None, None);
    run(&plan, &mut j, &fake, 4);
    let names = fake.names();
    assert!(names.contains("ssmix2") && !names.contains("ehr-db"));
    assert_eq!(names.len(), 6);
}

#[test]
fn a_panicking_restore_fails_that_system_only() {
    let plan = hospital();
    let dir = tempfile::tempdir().unwrap();
    let mut j = RestoreJournal::open_or_create(&dir.path().join("j"), "r").unwrap();
    let fake = Fake::new(None, Some("ehr-db"));
    let report = run(&plan, &mut j, &fake, 2);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0]
        .1
        .contains("panicked: simulated crash in ehr-db"));
    let blocked: BTreeSet<String> = report.blocked.iter().map(|b| b.0.clone()).collect();
    assert_eq!(blocked, set(&["orders", "lab", "billing"]));
    let billing = report.blocked.iter().find(|b| b.0 == "billing").unwrap();
    assert_eq!(billing.1, "orders (blocked by ehr-db)");
    assert_eq!(j.entry("ehr-db").state, State::Failed);
    assert_eq!(j.entry("pacs").state, State::Done);
}

#[test]
fn independent_systems_run_in_parallel_up_to_the_limit() {
    let plan = plan_of(vec![
        sys("a", P1, &[]),
        sys("b", P1, &[]),
        sys("c", P1, &[]),
        sys("d", P1, &[]),
    ]);
    let running = AtomicUsize::new(0);
    let max = AtomicUsize::new(0);
    let restore = |s: &System| -> Result<RestoreOutcome, RestoreError> {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(60));
        running.fetch_sub(1, Ordering::SeqCst);
        Ok(RestoreOutcome {
            generation: "g".into(),
            target: PathBuf::from(&s.name),
            bytes: 0,
        })
    };
    for (par, expected) in [(1, 1), (2, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let mut j = RestoreJournal::open_or_create(&dir.path().join("j"), "r").unwrap();
        max.store(0, Ordering::SeqCst);
        let opts = RunOptions {
            parallelism: par,
            progress: &|_| {},
        };
        run_plan(&plan, &restore_order(&plan), &mut j, restore, &opts).unwrap();
        assert_eq!(max.load(Ordering::SeqCst), expected, "parallelism {par}");
    }
}

#[test]
fn progress_reports_every_system() {
    let plan = hospital();
    let dir = tempfile::tempdir().unwrap();
    let mut j = RestoreJournal::open_or_create(&dir.path().join("j"), "r").unwrap();
    j.mark_done("scan", "g", Path::new("/r")).unwrap();
    let events = Mutex::new(Vec::new());
    let progress = |e: &RestoreEvent| lock(&events).push(e.clone());
    let opts = RunOptions {
        parallelism: 2,
        progress: &progress,
    };
    let fake = Fake::new(Some("lab"), None);
    run_plan(
        &plan,
        &restore_order(&plan),
        &mut j,
        |s| fake.restore(s),
        &opts,
    )
    .unwrap();
    let events = events.into_inner().unwrap();
    let count = |f: fn(&RestoreEvent) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, RestoreEvent::Skipped { .. })), 1);
    assert_eq!(count(|e| matches!(e, RestoreEvent::Started { .. })), 6);
    assert_eq!(count(|e| matches!(e, RestoreEvent::Done { .. })), 5);
    assert_eq!(count(|e| matches!(e, RestoreEvent::Failed { .. })), 1);
}

#[test]
fn journal_write_failure_stops_the_run() {
    let plan = hospital();
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let mut j = RestoreJournal::open_or_create(&sub.join("j"), "r").unwrap();
    std::fs::remove_dir_all(&sub).unwrap();
    let fake = Fake::new(None, None);
    let opts = RunOptions {
        parallelism: 1,
        progress: &|_| {},
    };
    let err = run_plan(
        &plan,
        &restore_order(&plan),
        &mut j,
        |s| fake.restore(s),
        &opts,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot write restore journal"),
        "{err}"
    );
    assert!(
        fake.names().is_empty(),
        "nothing restored without a journal"
    );
}
