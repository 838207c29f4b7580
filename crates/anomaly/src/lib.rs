//! Ransomware signals at backup time, explainable verdicts per generation, and the last
//! clean generation — per source and per file — for Kura.
//!
//! The crate is pure: no I/O, no clock. The backup pipeline feeds each file's bytes, which
//! it reads anyway, through a [`SignalAccumulator`] (a sampled byte histogram per 64 KiB
//! block plus the first 512 bytes), and describes the generation as a
//! [`GenerationObservation`]: the new, changed, deleted and renamed paths with their
//! [`FileSignals`] and the previous version's [`FileSummary`], plus a count of unchanged
//! files. [`analyze`] judges every change alone (type lost, entropy jump, intermittent
//! block pattern, extension mismatch, unknown extension, ransom-note name), counts them,
//! compares each count with the same source's own recent clean generations
//! ([`SourceHistory`]), and returns a [`Verdict`] — `clean` or `suspicious`, a score
//! from 0 to 100, and reasons with counts, ratios and example paths — plus a
//! [`GenerationSummary`] to store with the generation and feed back next time.
//!
//! After an attack, [`clean_point`] names the newest clean generation and assembles the
//! newest *valid* version of every file across generations, for slow attacks where no
//! generation is clean. `DESIGN.md` next to this crate explains each signal, the scoring,
//! the thresholds and what the detector cannot see.
//!
//! ```
//! use kura_anomaly::{analyze, ChangeKind, FileChange, FileSignals, GenerationObservation,
//!                    SignalAccumulator, SourceHistory, Thresholds, VerdictKind};
//!
//! let before = FileSignals::of(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n").summary();
//! // The new content, fed chunk by chunk as the backup reads it: random bytes.
//! let mut acc = SignalAccumulator::new();
//! let mut x: u32 = 7;
//! let chunk: Vec<u8> = (0..8192).map(|_| { x = x.wrapping_mul(1664525).wrapping_add(1013904223); (x >> 24) as u8 }).collect();
//! acc.update(&chunk);
//! let obs = GenerationObservation {
//!     changes: vec![FileChange {
//!         path: "scan/2026/04/123.pdf".into(),
//!         kind: ChangeKind::Changed,
//!         size: 8192,
//!         signals: Some(acc.finish()),
//!         previous: Some(before),
//!     }],
//!     unchanged: 9,
//! };
//! let a = analyze(&obs, &SourceHistory::default(), &Thresholds::default());
//! assert_eq!(a.verdict.verdict, VerdictKind::Suspicious);
//! assert!(a.verdict.reasons[0].starts_with("type lost: 1 of 10 files (10.0%)"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod analyze;
mod assess;
pub mod clean_point;
mod error;
pub mod filetype;
mod notes;
mod observation;
mod report;
mod signals;

pub use analyze::{analyze, Analysis, Finding, Signal, Thresholds, Verdict};
pub use clean_point::{
    assemble_clean, default_validity, newest_clean, AssembledFile, CleanAssembly, ContentId,
    ExcludedFile, FileVersion, GenerationFiles, GenerationId, Rejected, Validity,
};
pub use error::AnomalyError;
pub use filetype::{detect, FileType};
pub use notes::is_ransom_note;
pub use observation::{
    ChangeKind, FileChange, GenerationObservation, GenerationSummary, SignalCounts, SourceHistory,
    VerdictKind,
};
pub use signals::{
    entropy_of, random_threshold, BlockPattern, FileSignals, FileSummary, SignalAccumulator,
    BLOCK_SIZE, LEAD_LEN,
};
