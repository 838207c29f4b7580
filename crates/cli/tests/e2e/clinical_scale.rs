//! Measurement, not a CI test (`--ignored`): clinical index build time through `kura backup`,
//! the incremental second backup, and a summary lookup, for N generated SS-MIX2 patients
//! (`KURA_CLINICAL_SCALE_PATIENTS`, default 2000; about 21 files each). Prints the figures.
//!
//! `cargo test --release -p kura --test e2e clinical_scale:: -- --ignored --nocapture`

use crate::clinical_support;
use crate::common;

use std::time::Instant;

use clinical_support::*;
use common::Kura;
use kura_clinical::synth::{generate, SynthConfig};

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

    println!(
        "clinical scale: {patients} patients, {files} files; first backup with index {full:.2} s \
         (index {:.2} s, {} pieces); unchanged second backup {incremental:.2} s (index {:.2} s, \
         {} new pieces); `kura clinical summary` {lookup:.2} s end to end",
        first["duration_seconds"].as_f64().unwrap_or(0.0),
        first["pieces"],
        second["duration_seconds"].as_f64().unwrap_or(0.0),
        second["pieces_new"],
    );
}
