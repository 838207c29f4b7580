//! Readers for Japanese clinical data and the clinical index behind Kura's emergency viewer.
//!
//! When the EHR is down (ransomware, outage), clinicians still need the minimum clinical
//! information — allergies, active diagnoses, recent prescriptions and injections, latest labs,
//! infections, admission status and documents (3文書・6情報) — and Kura has it in its backups.
//! This crate turns backed-up files into that information. It is pure: bytes in, structures
//! out; no I/O, no other Kura crate.
//!
//! # Design
//!
//! - **Two readers, one model.** [`ssmix2`] reads SS-MIX2 standardized storage (HL7 v2.5 in
//!   ISO-2022-JP, decoded *before* splitting because JIS bytes collide with HL7 delimiters);
//!   [`fhir`] reads JP-CLINS / JP Core FHIR R4 JSON (5-info collection Bundles, document
//!   Bundles, single resources). Both produce [`model::Fact`]s. Display text is kept exactly
//!   as recorded, with codes and code systems alongside.
//! - **Lenient.** No input is fatal. Each file ends as parsed, retired (an SS-MIX2 `_0`/`_2`
//!   file) or skipped with a [`SkipReason`]; the [`ParseReport`] counts them. The fuzz entry
//!   points [`parse_ssmix2_bytes`] and [`parse_fhir_bytes`] never panic.
//! - **Incremental.** The [`ClinicalIndex`] is a set of per-file [`FileExtract`]s keyed by
//!   relative path and a caller-supplied content id; the next backup reuses extracts of
//!   unchanged files ([`ClinicalIndexBuilder::keep_unchanged`]) and reads only new ones.
//! - **Versions resolved late.** SS-MIX2 condition flags (newest `_1` wins, a newer `_0`
//!   deletes, `_2`-only records are surfaced as uncertain) and re-sent JP-CLINS Bundle-IDs are
//!   resolved in [`ClinicalIndexBuilder::finish`], across all files, into [`PatientSummary`]s.
//! - **Synthetic data** ([`synth`], feature `synth`): generated SS-MIX2 trees and JP-CLINS
//!   bundles with known facts, so tests can assert summaries exactly.
//!
//! # Example
//!
//! ```
//! use chrono::NaiveDate;
//! use kura_clinical::{ClinicalIndexBuilder, FileFormat};
//! use kura_clinical::ssmix2::decode::encode_iso2022jp;
//!
//! let msg = "MSH|^~\\&|HIS|H|GW|R|20240401||ADT^A08^ADT_A01|1|P|2.5\r\
//!            PID|1||0012345^^^^PI||山田^花子^^^^^L^I~ヤマダ^ハナコ^^^^^L^P||19800102|F\r\
//!            AL1|1|DA^薬剤アレルギー^HL70127|1^ペニシリン^99XYZ\r\x1c";
//! let path = "001/234/0012345/-/ADT-00/0012345_-_ADT-00_999999999999999_20240401101010000_-_1";
//!
//! let mut builder = ClinicalIndexBuilder::new(None);
//! builder.add_file(path, "hash-1", &encode_iso2022jp(msg), FileFormat::Ssmix2);
//! let index = builder.finish(NaiveDate::from_ymd_opt(2024, 4, 2).unwrap());
//!
//! let summary = index.summary("0012345").unwrap();
//! assert_eq!(summary.name_kanji, "山田 花子");
//! assert_eq!(summary.allergies[0].text, "ペニシリン");
//! assert_eq!(summary.allergies[0].source, path);
//! assert_eq!(index.search_kana("ﾔﾏﾀﾞ")[0].patient_id, "0012345");
//!
//! // Next backup: the unchanged file is not read again.
//! let mut next = ClinicalIndexBuilder::new(Some(index));
//! assert!(next.keep_unchanged(path, "hash-1"));
//! assert_eq!(next.parsed_count(), 0);
//! ```

#![forbid(unsafe_code)]

pub mod codes;
pub mod error;
pub mod fhir;
pub mod index;
pub mod kana;
pub mod model;
pub mod ssmix2;
#[cfg(feature = "synth")]
pub mod synth;

pub use error::{ClinicalError, SkipReason};
pub use fhir::parse_fhir_bytes;
pub use index::{
    shard_of, AdmissionState, AdmissionStatus, ClinicalIndex, ClinicalIndexBuilder, FileExtract,
    FileFormat, FileOutcome, ParseReport, PatientBrief, PatientSummary, PatientTable,
    UncertainRecord, WardEntry,
};
pub use ssmix2::parse_ssmix2_bytes;

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    /// The shared samples directory: `$KURA_SHARED_DIR/samples`, else `../../../shared/samples`
    /// relative to this crate (which resolves to /work/shared/samples in the dev checkout).
    pub fn samples_dir() -> PathBuf {
        let shared = std::env::var_os("KURA_SHARED_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
        shared.join("samples")
    }

    /// Read a sample file by path relative to the samples directory.
    pub fn sample(rel: &str) -> Vec<u8> {
        let path = samples_dir().join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("sample {} unreadable: {e}", path.display()))
    }
}
