//! Measurement, not a CI test (`--ignored`): clinical index build time through `kura backup`,
//! the incremental second backup, and summary lookups, for N generated SS-MIX2 patients
//! (`KURA_CLINICAL_SCALE_PATIENTS`, default 2000; about 21 files each). Prints the figures:
//! `kura clinical summary` end to end (a new process: opens the repository and its index),
//! and in-process lookups through [`ClinicalView`] as the vault server does them: cold (the
//! first lookup: manifest and one shard read), another patient (usually another shard), and
//! warm (cached). Peak RSS of the `kura` processes is printed by the bench script
//! (bench/clinical-scale.sh), which runs this under GNU time.
//!
//! `cargo test --release -p kura --test e2e clinical_scale:: -- --ignored --nocapture`

use crate::clinical_support;
use crate::common;

use std::sync::Arc;
use std::time::Instant;

use clinical_support::*;
use common::Kura;
use kura_clinical::synth::{generate, SynthConfig};
use kura_engine::clinical_view::{ClinicalCache, ClinicalView};
use kura_repo::Repository;

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn index_build_and_lookup_at_scale() {
    let patients: usize = std::env::var("KURA_CLINICAL_SCALE_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let k = Kura::init();
    let root = k.path("standard_root");
    let data = generate(SynthConfig {
        patients,
        seed: 1,
        as_of: today(),
    });
    write_files(&root, &data.ssmix2);
    let files = data.ssmix2.len();

    let t = Instant::now();
    let (first, _) = backup(&k, "ss-mix2", "ssmix2", &root);
    let full = t.elapsed().as_secs_f64();
    assert_eq!(first["report"]["patients"], patients);

    let t = Instant::now();
    let (second, _) = backup(&k, "ss-mix2", "ssmix2", &root);
    let incremental = t.elapsed().as_secs_f64();
    assert_eq!(second["report"]["reused"], files);
    assert_eq!(second["report"]["parsed"], 0);
    assert_eq!(
        second["reused_by_directory"], files,
        "nothing below the root is walked"
    );

    let id = &data.expected[patients / 2].patient_id;
    let t = Instant::now();
    let s = summary(&k, id, &[]);
    let lookup = t.elapsed().as_secs_f64();
    assert_eq!(s["patient_id"], id.as_str());
    let other = &data.expected[patients / 3].patient_id;
    let lookups = in_process_lookups(&k, id, other);
    let stored = dir_bytes(&k.repo) as f64 / 1e6;

    println!(
        "clinical scale: {patients} patients, {files} files; first backup with index {full:.2} s \
         (index {:.2} s, {} pieces); unchanged second backup {incremental:.2} s (index {:.2} s, \
         {} new pieces); repository {stored:.0} MB; `kura clinical summary` {lookup:.2} s end \
         to end; in process: {lookups}",
        first["duration_seconds"].as_f64().unwrap_or(0.0),
        first["pieces"],
        second["duration_seconds"].as_f64().unwrap_or(0.0),
        second["pieces_new"],
    );
}

/// Open the repository in this process and time lookups: (cold, another patient, warm).
fn in_process_lookups(k: &Kura, id: &str, other: &str) -> String {
    let pw = std::fs::read_to_string(&k.password_file).unwrap();
    let backend = Arc::new(kura_store::LocalBackend::new(&k.repo));
    let t = Instant::now();
    let repo = Repository::open(backend, pw.trim_end().as_bytes()).unwrap();
    repo.load_index().unwrap();
    let open = t.elapsed().as_secs_f64() * 1e3;
    let cache = ClinicalCache::new(2);
    let mut times = Vec::new();
    for patient in [id, other, id] {
        let t = Instant::now();
        let (_, s) = ClinicalView::find_patient(&repo, &cache, None, None, patient).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(s.patient_id, patient);
    }
    // What every lookup cost before the summaries were sharded (layout version 1): decrypt and
    // decode all extracts, then resolve every patient.
    let view = ClinicalView::newest_clean(&repo, &cache, None).unwrap();
    let t = Instant::now();
    let whole = kura_engine::clinical_store::load_index(&repo, view.manifest()).unwrap();
    let v1 = t.elapsed().as_secs_f64() * 1e3;
    assert!(whole.summary(id).is_some());
    format!(
        "open with index {open:.0} ms; summary cold {:.1} ms, another patient {:.1} ms, warm \
         {:.1} ms; whole-index load (every lookup with layout version 1) {v1:.0} ms, extracts \
         {:.0} MB of JSON in {} pieces, {} shards",
        times[0],
        times[1],
        times[2],
        view.manifest().index_bytes as f64 / 1e6,
        view.manifest().pieces.len(),
        view.manifest().shards.len()
    )
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
