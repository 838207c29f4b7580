//! Helpers for the clinical end-to-end tests: write generated SS-MIX2 trees and JP-CLINS
//! bundles, run `kura` with a private audit log, and compare summaries with known facts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use kura_clinical::synth::{ExpectedPatient, SynthFile};
use serde_json::Value;

use crate::common::{stderr, Kura};

pub const REASON: &str = "停電中の診療継続 outage care";

/// The day the backup's index is built for (its medication window ends there).
pub fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

pub fn write_files(root: &Path, files: &[SynthFile]) {
    for f in files {
        let path = root.join(&f.rel_path);
        std::fs::create_dir_all(path.parent().expect("file has a parent")).unwrap();
        std::fs::write(&path, &f.bytes).unwrap();
    }
}

pub fn audit_log(k: &Kura) -> PathBuf {
    k.path("audit.jsonl")
}

/// Run kura with the test's own audit log.
pub fn run(k: &Kura, args: &[&str]) -> Output {
    k.cmd()
        .env("KURA_AUDIT_LOG", audit_log(k))
        .env_remove("KURA_VIEW_REASON")
        .args(args)
        .output()
        .expect("run kura")
}

pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `kura backup --json --clinical FORMAT --source SOURCE PATH`: (clinical_index line, summary).
pub fn backup(k: &Kura, format: &str, source: &str, path: &Path) -> (Value, Value) {
    let out = run(
        k,
        &[
            "backup",
            "--json",
            "--clinical",
            format,
            "--source",
            source,
            path.to_str().unwrap(),
        ],
    );
    assert!(
        matches!(out.status.code(), Some(0) | Some(4)),
        "backup failed ({:?}): {}",
        out.status.code(),
        stderr(&out)
    );
    let lines = json_lines(&out);
    let index = lines
        .iter()
        .find(|v| v["message_type"] == "clinical_index")
        .unwrap_or_else(|| panic!("no clinical_index line; stderr: {}", stderr(&out)))
        .clone();
    let summary = lines.last().expect("summary line").clone();
    assert_eq!(summary["message_type"], "summary");
    (index, summary)
}

/// `kura clinical summary --patient ID --json` (plus extra arguments), which must succeed.
pub fn summary(k: &Kura, patient: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "clinical",
        "summary",
        "--patient",
        patient,
        "--json",
        "--reason",
        REASON,
    ];
    args.extend_from_slice(extra);
    let out = run(k, &args);
    assert!(
        out.status.success(),
        "summary {patient} failed: {}",
        stderr(&out)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "one JSON object");
    lines[0].clone()
}

/// The `text` of every entry of `list`, sorted.
pub fn texts(v: &Value, list: &str) -> Vec<String> {
    let mut out: Vec<String> = v[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is a list: {v}"))
        .iter()
        .map(|e| e["text"].as_str().expect("entry has text").to_string())
        .collect();
    out.sort();
    out
}

/// The fields both formats carry.
pub fn check_common(s: &Value, e: &ExpectedPatient) {
    let id = &e.patient_id;
    assert_eq!(s["patient_id"], e.patient_id.as_str());
    assert_eq!(s["name_kanji"], e.name_kanji.as_str(), "{id}");
    assert_eq!(s["name_kana"], e.name_kana.as_str(), "{id}");
    assert_eq!(s["birth_date"], e.birth_date.to_string().as_str(), "{id}");
    let sex = serde_json::to_value(e.sex).unwrap();
    assert_eq!(s["sex"], sex, "{id}");
    assert_eq!(texts(s, "allergies"), e.allergies, "{id}");
    assert_eq!(texts(s, "diagnoses"), e.diagnoses, "{id}");
    assert_eq!(texts(s, "infections"), e.infections, "{id}");
    let mut labs: Vec<(String, String, String)> = s["labs"]
        .as_array()
        .expect("labs")
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (s("text"), s("value"), s("unit"))
        })
        .collect();
    labs.sort();
    let mut want: Vec<(String, String, String)> = e
        .labs
        .iter()
        .map(|l| (l.text.clone(), l.value.clone(), l.unit.clone()))
        .collect();
    want.sort();
    assert_eq!(labs, want, "{id}");
    assert_eq!(s["uncertain"].as_array().map(Vec::len), Some(0), "{id}");
}

/// Lines of the audit log that mention `needle` (each line is one hash-chained entry).
pub fn audit_lines(k: &Kura, needle: &str) -> Vec<String> {
    let text = std::fs::read_to_string(audit_log(k)).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// The shared samples: `$KURA_SHARED_DIR/samples`, else `../../../shared/samples` from this
/// crate (as the clinical crate's tests find them).
pub fn samples_dir() -> PathBuf {
    let shared = std::env::var_os("KURA_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    shared.join("samples")
}
