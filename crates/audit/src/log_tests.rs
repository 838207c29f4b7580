//! Tests of the writer: chaining, reopening, torn tails and concurrent appends.

use super::*;
use crate::verify;
use std::sync::Arc;

fn event(i: usize) -> AuditEvent {
    AuditEvent::now(
        format!("user{i}"),
        actions::LOGIN,
        "console",
        Outcome::Success,
    )
}

fn temp_log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    (dir, path)
}

#[test]
fn appends_chain_from_genesis_and_reopen_continues() {
    let (_dir, path) = temp_log();
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(log.head().unwrap(), None);
    let first = log.append(event(1)).unwrap();
    let second = log.append(event(2)).unwrap();
    assert_eq!((first.seq, first.prev.as_str()), (1, GENESIS_PREV));
    assert_eq!((second.seq, &second.prev), (2, &first.hash));
    drop(log);

    let log = AuditLog::open(&path).unwrap();
    assert_eq!(log.head().unwrap(), Some(second.head()));
    let third = log.append(event(3)).unwrap();
    assert_eq!((third.seq, &third.prev), (3, &second.hash));
    assert_eq!(head(&path).unwrap(), Some(third.head()));

    let report = verify(&path, Some(&third.head())).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.entries, 3);
}

#[test]
fn invalid_events_are_refused_and_not_written() {
    let (_dir, path) = temp_log();
    let log = AuditLog::open(&path).unwrap();
    for action in ["", "  ", "login failed"] {
        let e = AuditEvent::now("a", action, "t", Outcome::Failure);
        assert!(matches!(log.append(e), Err(AuditError::InvalidEvent(_))));
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[cfg(unix)]
#[test]
fn new_log_is_not_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp_log();
    AuditLog::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o007, 0, "mode {mode:o}");
}

/// Writes two entries then a fragment of a third, as a crash mid-write would.
fn log_with_torn_tail(path: &Path) -> (StoredEntry, Vec<u8>) {
    let log = AuditLog::open(path).unwrap();
    log.append(event(1)).unwrap();
    let second = log.append(event(2)).unwrap();
    let full = encode(3, &second.hash, &event(3)).unwrap().line;
    let fragment = full[..full.len() / 2].to_vec();
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(&fragment).unwrap();
    (second, fragment)
}

#[test]
fn torn_tail_is_reported_on_open_and_append() {
    let (_dir, path) = temp_log();
    let log = AuditLog::open(&path).unwrap();
    log.append(event(0)).unwrap();
    let len_before = std::fs::metadata(&path).unwrap().len();
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"seq\":2,\"prev\"").unwrap();

    let err = AuditLog::open(&path).unwrap_err();
    match err {
        AuditError::TornTail { offset, len, .. } => assert_eq!((offset, len), (len_before, 15)),
        other => panic!("expected TornTail, got {other:?}"),
    }
    assert!(matches!(
        log.append(event(1)),
        Err(AuditError::TornTail { .. })
    ));
    assert!(matches!(head(&path), Err(AuditError::TornTail { .. })));
    // Nothing was written after the fragment.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len_before + 15);
}

#[test]
fn recovery_quarantines_fragment_and_records_it() {
    let (_dir, path) = temp_log();
    let (second, fragment) = log_with_torn_tail(&path);
    let recovery = recover_torn_tail(&path, "admin").unwrap();
    let TailRecovery::Quarantined {
        fragment_path,
        fragment_len,
        recorded,
    } = recovery
    else {
        panic!("expected quarantine, got {recovery:?}");
    };
    assert_eq!(std::fs::read(&fragment_path).unwrap(), fragment);
    assert_eq!(fragment_len, fragment.len() as u64);
    assert_eq!((recorded.seq, &recorded.prev), (3, &second.hash));
    assert_eq!(recorded.event.action, actions::AUDIT_TAIL_RECOVERED);
    assert_eq!(recorded.event.actor, "admin");
    let expected_hash = blake3::hash(&fragment).to_hex().to_string();
    assert_eq!(recorded.event.details["blake3"], expected_hash.as_str());

    let report = verify(&path, Some(&second.head())).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.head, Some(recorded.head()));
    // The log is usable again.
    AuditLog::open(&path).unwrap().append(event(9)).unwrap();
}

#[test]
fn recovery_completes_a_whole_entry_missing_only_its_newline() {
    let (_dir, path) = temp_log();
    let log = AuditLog::open(&path).unwrap();
    let first = log.append(event(1)).unwrap();
    let mut line = encode(2, &first.hash, &event(2)).unwrap().line;
    line.pop();
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&line)
        .unwrap();
    let recovery = recover_torn_tail(&path, "admin").unwrap();
    let TailRecovery::Completed(entry) = recovery else {
        panic!("expected completion, got {recovery:?}");
    };
    assert_eq!((entry.seq, &entry.prev), (2, &first.hash));
    let report = verify(&path, None).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.entries, 2);
}

#[test]
fn recovery_leaves_a_clean_or_tampered_log_alone() {
    let (_dir, path) = temp_log();
    let log = AuditLog::open(&path).unwrap();
    log.append(event(1)).unwrap();
    assert_eq!(
        recover_torn_tail(&path, "admin").unwrap(),
        TailRecovery::NothingToDo
    );

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("user1", "userX")).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        recover_torn_tail(&path, "admin"),
        Err(AuditError::CorruptTail { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn edited_last_entry_blocks_open() {
    let (_dir, path) = temp_log();
    AuditLog::open(&path).unwrap().append(event(1)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("success", "failure")).unwrap();
    let err = AuditLog::open(&path).unwrap_err();
    assert!(matches!(err, AuditError::CorruptTail { .. }), "{err:?}");
    assert!(err.to_string().contains("tampered"));
}

#[test]
fn concurrent_threads_keep_a_valid_chain() {
    let (_dir, path) = temp_log();
    let log = Arc::new(AuditLog::open(&path).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| log.append(event(t * 100 + i)).unwrap().seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    let report = verify(&path, None).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.entries, 100);
}

/// Two handles have separate open file descriptions, so only the flock keeps them apart,
/// exactly as between two processes.
#[test]
fn two_handles_on_one_file_do_not_interleave() {
    let (_dir, path) = temp_log();
    let a = Arc::new(AuditLog::open(&path).unwrap());
    let b = Arc::new(AuditLog::open(&path).unwrap());
    let handles: Vec<_> = [a, b]
        .into_iter()
        .enumerate()
        .map(|(t, log)| {
            std::thread::spawn(move || {
                for i in 0..30 {
                    log.append(event(t * 100 + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let report = verify(&path, None).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.head.map(|h| h.seq), Some(60));
}

#[test]
fn head_of_missing_file_is_an_io_error() {
    let (_dir, path) = temp_log();
    let err = head(&path).unwrap_err();
    assert!(matches!(err, AuditError::Io { op: "open", .. }), "{err:?}");
}

const CHILD_ENV: &str = "KURA_AUDIT_TEST_CHILD_LOG";
const CHILD_TEST: &str = "log::tests::child_process_appender";

/// Run only as a child of `separate_processes_do_not_interleave`; a no-op otherwise.
#[test]
#[ignore = "helper run in a child process by separate_processes_do_not_interleave"]
fn child_process_appender() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let log = AuditLog::open(path).unwrap();
    for i in 0..40 {
        log.append(event(i)).unwrap();
    }
}

#[test]
fn separate_processes_do_not_interleave() {
    use std::process::{Command, Stdio};
    let (_dir, path) = temp_log();
    let log = AuditLog::open(&path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", CHILD_TEST, "--ignored", "--test-threads=1"])
                .env(CHILD_ENV, &path)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for i in 0..40 {
        log.append(event(i)).unwrap();
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let report = verify(&path, None).unwrap();
    assert!(report.is_ok(), "{report}");
    // Proves the children really ran (and appended) rather than matching no test.
    assert_eq!(report.entries, 160);
}

#[test]
fn recovery_does_not_create_a_missing_log() {
    let (_dir, path) = temp_log();
    let err = recover_torn_tail(&path, "admin").unwrap_err();
    assert!(matches!(err, AuditError::Io { .. }), "{err:?}");
    assert!(!path.exists());
}

/// /dev/full fails every write with ENOSPC: the error must surface, not be swallowed.
#[cfg(target_os = "linux")]
#[test]
fn full_disk_is_reported_as_an_append_error() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return; // a sandbox without /dev/full: nothing to test
    }
    let log = AuditLog::open(full).unwrap();
    let err = log.append(event(1)).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Io {
                op: "append to",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("disk is not full"));
}
