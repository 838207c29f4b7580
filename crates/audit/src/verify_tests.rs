//! Tamper tests: each kind of change an attacker (or a crash) can make is reported, at the
//! right line, and nothing else is.

use super::*;
use crate::codec::encode;
use crate::event::{actions, AuditEvent, Outcome};
use crate::AuditLog;
use chrono::{TimeZone, Utc};
use std::path::PathBuf;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    entries: Vec<StoredEntry>,
}

fn event(i: u32, actor: &str) -> AuditEvent {
    let t = Utc.with_ymd_and_hms(2025, 5, 1, 8, 0, i).unwrap();
    AuditEvent::at(
        t,
        actor,
        actions::CLINICAL_VIEW,
        format!("patient-{i}"),
        Outcome::Success,
    )
}

fn fixture(n: u32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path).unwrap();
    let entries = (1..=n)
        .map(|i| log.append(event(i, "田中")).unwrap())
        .collect();
    Fixture {
        _dir: dir,
        path,
        entries,
    }
}

impl Fixture {
    fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.path).unwrap();
        text.lines().map(str::to_string).collect()
    }

    fn write_lines(&self, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&self.path, text).unwrap();
    }

    fn head(&self) -> Head {
        self.entries.last().unwrap().head()
    }

    fn verify(&self, expected: Option<&Head>) -> VerifyReport {
        verify(&self.path, expected).unwrap()
    }
}

fn kinds(report: &VerifyReport) -> Vec<(Option<u64>, Option<u64>, ProblemKind)> {
    report
        .problems
        .iter()
        .map(|p| (p.line, p.seq, p.kind.clone()))
        .collect()
}

fn prev_mismatch(f: &Fixture, expected_idx: usize, found_idx: usize) -> ProblemKind {
    ProblemKind::PrevMismatch {
        expected: f.entries[expected_idx].hash.clone(),
        found: f.entries[found_idx].prev.clone(),
    }
}

#[test]
fn clean_log_reports_ok_with_count_and_head() {
    let f = fixture(5);
    let report = f.verify(Some(&f.head()));
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.entries, report.lines), (5, 5));
    assert_eq!(report.head, Some(f.head()));
    let text = report.to_string();
    assert!(
        text.starts_with("OK: 5 entries, head seq 5 hash "),
        "{text}"
    );
    assert!(text.contains(&f.head().hash));
}

#[test]
fn edited_field_is_a_hash_mismatch_on_that_line_only() {
    let f = fixture(5);
    let mut lines = f.lines();
    lines[2] = lines[2].replace("patient-3", "patient-9");
    f.write_lines(&lines);
    let report = f.verify(None);
    let k = kinds(&report);
    assert_eq!(k.len(), 1, "{report}");
    assert_eq!((k[0].0, k[0].1), (Some(3), Some(3)));
    assert!(matches!(k[0].2, ProblemKind::HashMismatch { .. }));
    assert!(report
        .to_string()
        .contains("line 3 (seq 3): content does not match its hash"));
}

#[test]
fn edited_entry_with_recomputed_hash_breaks_the_next_link() {
    let f = fixture(5);
    let mut lines = f.lines();
    let forged = encode(3, &f.entries[1].hash, &event(3, "forger")).unwrap();
    lines[2] = String::from_utf8(forged.line)
        .unwrap()
        .trim_end()
        .to_string();
    f.write_lines(&lines);
    let report = f.verify(None);
    let expected = ProblemKind::PrevMismatch {
        expected: forged.hash,
        found: f.entries[3].prev.clone(),
    };
    assert_eq!(kinds(&report), vec![(Some(4), Some(4), expected)]);
}

#[test]
fn deleted_line_is_a_gap() {
    let f = fixture(5);
    let mut lines = f.lines();
    lines.remove(2);
    f.write_lines(&lines);
    let report = f.verify(None);
    assert_eq!(
        kinds(&report),
        vec![
            (
                Some(3),
                Some(4),
                ProblemKind::SeqGap {
                    expected: 3,
                    found: 4
                }
            ),
            (Some(3), Some(4), prev_mismatch(&f, 1, 3)),
        ]
    );
    assert!(report.to_string().contains("entries 3..=3 are missing"));
}

#[test]
fn inserted_forged_line_is_detected_after_it() {
    let f = fixture(5);
    let mut lines = f.lines();
    // A forgery that links correctly to entry 2 and carries a valid hash of its own.
    let forged = encode(3, &f.entries[1].hash, &event(50, "forger")).unwrap();
    lines.insert(
        2,
        String::from_utf8(forged.line)
            .unwrap()
            .trim_end()
            .to_string(),
    );
    f.write_lines(&lines);
    let report = f.verify(None);
    let broken = ProblemKind::PrevMismatch {
        expected: forged.hash,
        found: f.entries[2].prev.clone(),
    };
    assert_eq!(
        kinds(&report),
        vec![
            (
                Some(4),
                Some(3),
                ProblemKind::SeqNotIncreasing {
                    expected: 4,
                    found: 3
                }
            ),
            (Some(4), Some(3), broken),
        ]
    );
}

#[test]
fn swapped_lines_are_reported_where_they_sit() {
    let f = fixture(5);
    let mut lines = f.lines();
    lines.swap(1, 2);
    f.write_lines(&lines);
    let report = f.verify(None);
    assert_eq!(
        kinds(&report),
        vec![
            (
                Some(2),
                Some(3),
                ProblemKind::SeqGap {
                    expected: 2,
                    found: 3
                }
            ),
            (Some(2), Some(3), prev_mismatch(&f, 0, 2)),
            (
                Some(3),
                Some(2),
                ProblemKind::SeqNotIncreasing {
                    expected: 4,
                    found: 2
                }
            ),
            (Some(3), Some(2), prev_mismatch(&f, 2, 1)),
            (
                Some(4),
                Some(4),
                ProblemKind::SeqGap {
                    expected: 3,
                    found: 4
                }
            ),
            (Some(4), Some(4), prev_mismatch(&f, 1, 3)),
        ]
    );
}

#[test]
fn truncated_tail_is_found_only_against_the_recorded_head() {
    let f = fixture(5);
    let mut lines = f.lines();
    lines.truncate(3);
    f.write_lines(&lines);
    // Without the anchor a shorter chain is indistinguishable from a younger log.
    assert!(f.verify(None).is_ok());
    let report = f.verify(Some(&f.head()));
    let kind = ProblemKind::Truncated {
        expected_seq: 5,
        last_seq: Some(3),
    };
    assert_eq!(kinds(&report), vec![(None, None, kind)]);
    assert!(report
        .to_string()
        .contains("entries were removed from the end"));
    // An older anchor is still satisfied.
    assert!(f.verify(Some(&f.entries[2].head())).is_ok());
}

#[test]
fn emptied_log_is_truncated_against_the_recorded_head() {
    let f = fixture(2);
    std::fs::write(&f.path, b"").unwrap();
    let report = f.verify(Some(&f.head()));
    let kind = ProblemKind::Truncated {
        expected_seq: 2,
        last_seq: None,
    };
    assert_eq!(kinds(&report), vec![(None, None, kind)]);
    assert!(f.verify(None).is_ok());
    assert!(f.verify(Some(&Head::new(0, GENESIS_PREV))).is_ok());
}

#[test]
fn rebuilt_chain_is_caught_by_the_recorded_head_hash() {
    let f = fixture(4);
    let recorded = f.head();
    std::fs::remove_file(&f.path).unwrap();
    let log = AuditLog::open(&f.path).unwrap();
    for i in 1..=4 {
        log.append(event(i, "forger")).unwrap();
    }
    assert!(f.verify(None).is_ok());
    let report = f.verify(Some(&recorded));
    let k = kinds(&report);
    assert_eq!(k.len(), 1, "{report}");
    assert_eq!((k[0].0, k[0].1), (Some(4), Some(4)));
    assert!(matches!(k[0].2, ProblemKind::HeadHashMismatch { .. }));
}

#[test]
fn recorded_head_inside_a_gap_is_not_found() {
    let f = fixture(5);
    let mut lines = f.lines();
    lines.remove(2);
    f.write_lines(&lines);
    let report = f.verify(Some(&f.entries[2].head()));
    let last = report.problems.last().unwrap();
    assert_eq!(last.kind, ProblemKind::HeadNotFound { expected_seq: 3 });
}

#[test]
fn torn_last_line_is_reported() {
    let f = fixture(3);
    let mut bytes = std::fs::read(&f.path).unwrap();
    bytes.extend_from_slice(b"{\"seq\":4,\"pr");
    std::fs::write(&f.path, bytes).unwrap();
    let report = f.verify(None);
    assert_eq!(
        kinds(&report),
        vec![(Some(4), None, ProblemKind::TornLine { len: 12 })]
    );
    assert_eq!(report.head, Some(f.head()));
}

#[test]
fn garbage_line_is_unreadable_and_checking_continues() {
    let f = fixture(4);
    let mut lines = f.lines();
    lines[1] = "rm -rf / ; echo 改ざん".to_string();
    f.write_lines(&lines);
    let report = f.verify(None);
    let k = kinds(&report);
    assert_eq!((k[0].0, k[0].1), (Some(2), None));
    assert!(matches!(k[0].2, ProblemKind::Unreadable { .. }));
    // Entry 3 no longer links to a readable predecessor; entry 4 is fine again.
    assert!(k[1..].iter().all(|p| p.0 == Some(3)), "{report}");
    assert_eq!(report.entries, 3);
}

#[test]
fn missing_file_is_an_error_not_a_report() {
    let f = fixture(1);
    std::fs::remove_file(&f.path).unwrap();
    assert!(matches!(
        verify(&f.path, None),
        Err(crate::AuditError::Io { .. })
    ));
}

#[test]
fn failure_report_lists_every_problem() {
    let f = fixture(3);
    let mut lines = f.lines();
    lines.remove(0);
    f.write_lines(&lines);
    let text = f.verify(None).to_string();
    assert!(
        text.starts_with("FAILED: 2 problem(s) in 2 lines (2 readable entries):"),
        "{text}"
    );
    assert!(
        text.contains("\n  - line 1 (seq 2): expected seq 1"),
        "{text}"
    );
}

/// Re-implements the check exactly as the crate docs describe it, without this crate's
/// decoder, so that the documentation cannot drift from what the writer produces.
#[test]
fn documented_algorithm_verifies_a_real_log() {
    let f = fixture(4);
    let bytes = std::fs::read(&f.path).unwrap();
    let mut prev = "0".repeat(64);
    for (n, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\n").unwrap();
        let e: serde_json::Value = serde_json::from_slice(line).unwrap();
        let hash = e["hash"].as_str().unwrap();
        let trailer = format!(",\"hash\":\"{hash}\"}}");
        assert_eq!(&line[line.len() - 75..], trailer.as_bytes());
        let mut body = line[..line.len() - 75].to_vec();
        body.push(b'}');
        assert_eq!(blake3::hash(&body).to_hex().as_str(), hash);
        assert_eq!(e["seq"].as_u64(), Some(n as u64 + 1));
        assert_eq!(e["prev"].as_str(), Some(prev.as_str()));
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut documented: Vec<&str> =
            "seq prev time actor role source_addr action target result reason details hash"
                .split(' ')
                .collect();
        documented.sort_unstable(); // member order is checked by the codec tests
        assert_eq!(keys, documented);
        prev = hash.to_string();
    }
    assert_eq!(prev, f.head().hash);
}

/// Every single-byte change anywhere in the file must be reported, and no input may panic.
#[test]
fn every_single_byte_change_is_detected() {
    let f = fixture(6);
    let original = std::fs::read(&f.path).unwrap();
    // A small deterministic generator: reproducible failures without a dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..400 {
        let mut bytes = original.clone();
        let at = (next() % bytes.len() as u64) as usize;
        let new = (next() % 256) as u8;
        if bytes[at] == new {
            continue;
        }
        bytes[at] = new;
        let report = verify_reader(&bytes[..], Some(&f.head())).unwrap();
        assert!(
            !report.is_ok(),
            "byte {at} set to {new:#04x} went unnoticed"
        );
    }
}
