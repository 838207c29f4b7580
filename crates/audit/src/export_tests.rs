//! Export and console listing against real log files.

use super::*;
use crate::event::actions;
use crate::{verify_reader, AuditLog};
use chrono::TimeZone;
use std::path::PathBuf;

fn at(sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, sec).unwrap()
}

/// 20 entries alternating between two actors and between backup and forget.* actions.
fn sample_log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path).unwrap();
    for i in 0..20u32 {
        let actor = if i % 2 == 0 { "sato" } else { "suzuki" };
        let action = match i % 4 {
            0 | 1 => actions::BACKUP,
            2 => actions::FORGET_PLAN,
            _ => actions::FORGET_APPROVE,
        };
        let result = if i == 7 {
            Outcome::Denied
        } else {
            Outcome::Success
        };
        log.append(AuditEvent::at(
            at(i),
            actor,
            action,
            format!("gen-{i}"),
            result,
        ))
        .unwrap();
    }
    (dir, path)
}

fn page(offset: usize, limit: usize) -> Page {
    Page { offset, limit }
}

fn seqs(p: &EntryPage) -> Vec<u64> {
    p.entries.iter().map(|e| e.seq).collect()
}

#[test]
fn read_entries_is_newest_first_and_paginated() {
    let (_dir, path) = sample_log();
    let all = Filter::default();
    let first = read_entries(&path, &all, page(0, 5)).unwrap();
    assert_eq!(seqs(&first), vec![20, 19, 18, 17, 16]);
    assert_eq!(first.total_matching, 20);
    let last = read_entries(&path, &all, page(18, 5)).unwrap();
    assert_eq!(seqs(&last), vec![2, 1]);
    let beyond = read_entries(&path, &all, page(40, 5)).unwrap();
    assert!(beyond.entries.is_empty());
    assert_eq!(beyond.total_matching, 20);
    let none = read_entries(&path, &all, page(0, 0)).unwrap();
    assert!(none.entries.is_empty());
}

#[test]
fn read_entries_applies_the_filter() {
    let (_dir, path) = sample_log();
    let filter = Filter {
        actor: Some("suzuki".into()),
        action_prefix: Some("forget".into()),
        ..Filter::default()
    };
    let got = read_entries(&path, &filter, page(0, 100)).unwrap();
    // suzuki has odd i; forget.* has i % 4 in {2, 3}: so i = 3, 7, 11, 15, 19 (seq = i + 1).
    assert_eq!(seqs(&got), vec![20, 16, 12, 8, 4]);
    let denied = Filter {
        result: Some(Outcome::Denied),
        ..Filter::default()
    };
    assert_eq!(
        seqs(&read_entries(&path, &denied, page(0, 10)).unwrap()),
        vec![8]
    );
    let window = Filter {
        since: Some(at(5)),
        until: Some(at(8)),
        ..Filter::default()
    };
    assert_eq!(
        seqs(&read_entries(&path, &window, page(0, 10)).unwrap()),
        vec![8, 7, 6]
    );
}

#[test]
fn unfiltered_json_export_is_a_verifiable_copy() {
    let (_dir, path) = sample_log();
    let mut out = Vec::new();
    let summary = export_json(&path, &mut out, &Filter::default()).unwrap();
    assert_eq!(summary.exported, 20);
    assert!(summary.withheld_lines.is_empty());
    assert_eq!(out, std::fs::read(&path).unwrap());
    assert!(verify_reader(&out[..], None).unwrap().is_ok());
}

#[test]
fn filtered_json_export_lines_still_carry_valid_hashes() {
    let (_dir, path) = sample_log();
    let mut out = Vec::new();
    let filter = Filter {
        action_prefix: Some("forget.approve".into()),
        ..Filter::default()
    };
    let summary = export_json(&path, &mut out, &filter).unwrap();
    assert_eq!(summary.exported, 5);
    let text = String::from_utf8(out).unwrap();
    for line in text.lines() {
        let d = decode(line.as_bytes()).unwrap();
        assert!(d.hash_ok());
        assert_eq!(d.entry.event.action, "forget.approve");
    }
}

#[test]
fn exports_withhold_tampered_lines_and_say_so() {
    let (_dir, path) = sample_log();
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("gen-3\"", "gen-X\"", 1);
    std::fs::write(&path, format!("{edited}torn")).unwrap();
    let mut out = Vec::new();
    let summary = export_csv(&path, &mut out, &Filter::default()).unwrap();
    assert_eq!(summary.withheld_lines, vec![4, 21]);
    assert_eq!(summary.exported, 19);
    let listing = read_entries(&path, &Filter::default(), page(0, 100)).unwrap();
    assert_eq!(listing.withheld_lines, vec![4, 21]);
    assert!(listing.entries.iter().all(|e| e.seq != 4));
}

#[test]
fn csv_export_quotes_awkward_and_japanese_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path).unwrap();
    let event = AuditEvent::at(
        at(0),
        "山田, 花子",
        actions::CLINICAL_VIEW,
        "患者 \"0001\"",
        Outcome::Success,
    )
    .with_reason("救急外来\n夜間対応")
    .with_source("=cmd|' /C calc'!A0")
    .with_details(serde_json::json!({"病棟": "3階"}));
    let entry = log.append(event).unwrap();

    let mut out = UTF8_BOM.to_vec();
    export_csv(&path, &mut out, &Filter::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap();
    let (header, row) = text.split_once("\r\n").unwrap();
    assert!(header.starts_with("seq,time_utc,time_jst,actor,role,source_addr,action,"));
    let expected = format!(
        "1,2025-06-01T00:00:00Z,2025-06-01T09:00:00+09:00,\"山田, 花子\",,'=cmd|' /C calc'!A0,\
         clinical.view,\"患者 \"\"0001\"\"\",success,\"救急外来\n夜間対応\",\
         \"{{\"\"病棟\"\":\"\"3階\"\"}}\",{},{},hash-ok\r\n",
        entry.prev, entry.hash
    );
    assert_eq!(row, expected);
}

#[test]
fn export_write_failure_is_reported() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("pipe closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (_dir, path) = sample_log();
    let err = export_json(&path, Broken, &Filter::default()).unwrap_err();
    assert!(matches!(err, AuditError::Export(_)), "{err:?}");
    assert!(err.to_string().contains("pipe closed"));
}
