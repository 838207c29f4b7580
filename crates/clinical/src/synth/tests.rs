//! The generator's own tests: determinism and well-formed output. End-to-end checks of the
//! readers against the expected facts live in `tests/synth_roundtrip.rs`.

use super::*;
use crate::index::{ClinicalIndexBuilder, FileFormat};

fn config(patients: usize) -> SynthConfig {
    SynthConfig {
        patients,
        seed: 42,
        as_of: NaiveDate::from_ymd_opt(2024, 3, 1).expect("valid date"),
    }
}

#[test]
fn same_seed_same_data() {
    assert_eq!(generate(config(5)), generate(config(5)));
    let other = generate(SynthConfig {
        seed: 43,
        ..config(5)
    });
    assert_ne!(generate(config(5)).expected, other.expected);
}

#[test]
fn every_generated_file_is_read_without_skips() {
    let data = generate(config(20));
    let mut b = ClinicalIndexBuilder::new(None);
    for f in data.ssmix2.iter().chain(&data.fhir) {
        assert_eq!(
            FileFormat::detect(&f.rel_path, &f.bytes),
            Some(f.format),
            "{}",
            f.rel_path
        );
        b.add_file(&f.rel_path, "1", &f.bytes, f.format);
    }
    let index = b.finish(config(0).as_of);
    let r = index.report();
    assert_eq!(r.skipped_total(), 0, "{r:?}");
    assert_eq!(r.files_with_warnings, 0, "{r:?}");
    assert_eq!(r.patients, 20);
    assert_eq!(r.uncertain_records, 0);
    assert!(
        r.retired >= 60,
        "replaced ADT-00/PPR-01 and deleted orders: {r:?}"
    );
}
