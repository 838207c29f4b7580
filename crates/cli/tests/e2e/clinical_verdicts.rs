//! The newest *clean* generation serves a summary: a newer generation judged suspicious is
//! passed over (and named in the answer), and can still be read on purpose with --snapshot,
//! which then says it is suspicious. Also: `kura clinical index` builds the index of an
//! existing generation, reusing the extracts of the unchanged files.

use crate::clinical_support;
use crate::common;

use std::sync::Arc;

use clinical_support::*;
use common::{stderr, Kura};
use kura_clinical::synth::{generate, SynthConfig};
use kura_format::snapshot::StoredVerdict;
use kura_repo::Repository;
use kura_store::LocalBackend;

fn open_repo(k: &Kura) -> Repository {
    let pw = std::fs::read_to_string(&k.password_file).unwrap();
    Repository::open(Arc::new(LocalBackend::new(&k.repo)), pw.trim().as_bytes()).unwrap()
}

/// Commit a copy of generation `id` judged suspicious, as if ransomware detection had flagged
/// it (detection itself is tested elsewhere; here only the viewer's choice matters).
fn suspicious_copy(k: &Kura, id: &str) -> String {
    let repo = open_repo(k);
    let mut snap = repo.load_snapshot(id).unwrap().snapshot;
    snap.committed_at = chrono::Utc::now();
    snap.parent = None;
    snap.verdict = Some(StoredVerdict {
        verdict: "suspicious".into(),
        score: 97.0,
        reasons: vec!["mass encryption".into()],
        summary: serde_json::Value::Null,
    });
    repo.save_snapshot(&snap).unwrap().to_hex()
}

#[test]
fn suspicious_generations_are_passed_over_unless_named() {
    let k = Kura::init();
    let root = k.path("standard_root");
    let data = generate(SynthConfig {
        patients: 3,
        seed: 33,
        as_of: today(),
    });
    write_files(&root, &data.ssmix2);
    let (_, clean) = backup(&k, "ss-mix2", "ssmix2", &root);
    let clean_id = clean["snapshot"].as_str().unwrap().to_string();

    // A later generation, without an index yet, then its suspicious twin.
    std::fs::write(root.join("note.txt"), "changed after the first backup").unwrap();
    let out = run(
        &k,
        &[
            "backup",
            "--json",
            "--source",
            "ssmix2",
            root.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let plain_id = common::last_json_line(&out)["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let bad_id = suspicious_copy(&k, &plain_id);

    // Index the suspicious generation after the fact: unchanged files are reused.
    let out = run(
        &k,
        &[
            "clinical",
            "index",
            "--snapshot",
            &bad_id[..16],
            "--format",
            "ss-mix2",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line = &json_lines(&out)[0];
    assert_eq!(line["snapshot"], bad_id.as_str());
    assert_eq!(line["report"]["reused"], data.ssmix2.len(), "{line}");
    assert_eq!(line["report"]["parsed"], 1, "only note.txt is new: {line}");
    assert_eq!(
        line["reused_by_directory"],
        data.ssmix2.len(),
        "every patient folder is an unchanged tree: {line}"
    );

    let e = &data.expected[0];
    let s = summary(&k, &e.patient_id, &[]);
    assert_eq!(
        s["generation"]["id"],
        clean_id.as_str(),
        "newest clean wins"
    );
    assert_ne!(s["generation"]["verdict"], "suspicious");

    let named = summary(&k, &e.patient_id, &["--snapshot", &bad_id[..16]]);
    assert_eq!(named["generation"]["id"], bad_id.as_str());
    assert_eq!(named["generation"]["verdict"], "suspicious");
    let page = run(
        &k,
        &[
            "clinical",
            "summary",
            "--patient",
            &e.patient_id,
            "--snapshot",
            &bad_id[..16],
            "--reason",
            REASON,
        ],
    );
    assert!(String::from_utf8_lossy(&page.stdout).contains("SUSPICIOUS"));

    // Without any clean index the error names the suspicious generation to look at.
    let out = run(
        &k,
        &[
            "clinical",
            "summary",
            "--patient",
            "9999999999",
            "--reason",
            REASON,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&bad_id[..8]), "{}", stderr(&out));

    let list = run(&k, &["clinical", "list", "--json"]);
    let rows = json_lines(&list)[0].clone();
    let verdicts: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[0], "suspicious", "newest first: {rows}");
}
