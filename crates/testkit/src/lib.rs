//! Deterministic, seeded synthetic hospital data for Kura's demo, tests and benchmarks,
//! plus helpers to check that a restored tree equals the original.
//!
//! # Generators
//! * [`generate_hospital_dataset`] — a hospital-like mix (45% SQL EHR dumps, 15% SS-MIX2
//!   HL7 files, 30% DICOM-like images, 10% scanned PDFs; see [`DatasetSpec`]) whose
//!   compressibility matches real data, so compression and dedup benchmarks do not lie.
//! * [`mutate_dataset`] — "the next day": edits in the middle of dumps, new/changed/deleted
//!   HL7 files and new images, about a given fraction of the bytes.
//! * [`generate_edge_case_tree`] — names that are Japanese, full-width, emoji, NFD or not
//!   UTF-8; symlinks of every kind; hard links; modes; mtimes with nanoseconds.
//!
//! Every byte, name and mtime is a function of the seed only (a fixed "today",
//! 2026-04-01, replaces the wall clock), so a benchmark can regenerate its input anywhere
//! and a test can compare digests. Each category draws from its own PRNG stream derived
//! from the seed with BLAKE3, so tuning one generator does not reshuffle the others.
//!
//! # Speed
//! Text is formatted straight into byte buffers and binary bulk comes from one
//! `fill_bytes` per file (Xoshiro256++), never one RNG call per byte: the 2 GiB default
//! dataset is written in about 15 s on one core, most of it kernel time.
//!
//! # Verification
//! * [`compare_trees`] lists each difference (content, type, mode, mtime, symlink target,
//!   missing entry, hard-link structure) with its relative path.
//! * [`tree_digest`] is one hex BLAKE3 over a canonical walk (format documented on
//!   [`tree_digest_with`]'s module), for "restore equals original" checks in benchmarks.
//!
//! # Example
//! ```
//! use kura_testkit::{compare_trees, generate_hospital_dataset, tree_digest, CompareOptions, DatasetSpec};
//!
//! let dir = tempfile::tempdir()?;
//! let (a, b) = (dir.path().join("a"), dir.path().join("b"));
//! let spec = DatasetSpec { seed: 7, total_bytes: 2 << 20 };
//! let stats = generate_hospital_dataset(&a, &spec)?;
//! generate_hospital_dataset(&b, &spec)?;
//! assert!(stats.hl7.files > 50);
//! assert_eq!(tree_digest(&a)?, tree_digest(&b)?);
//! assert!(compare_trees(&a, &b, CompareOptions::strict())?.is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Unix only: the edge cases and comparisons rely on Unix file names (raw bytes), modes,
//! symlinks and inode numbers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod blobs;
mod compare;
mod dataset;
mod digest;
mod dump;
mod edge;
mod hl7;
mod mutate;
pub mod pg;
mod size;
mod util;
mod vocab;
mod walk;

pub use compare::{compare_trees, CompareOptions, MtimeCheck, TreeDifference};
pub use dataset::{
    generate_hospital_dataset, CategoryStats, DatasetSpec, DatasetStats, DUMP_SHARE, HL7_SHARE,
    IMAGE_SHARE, SCAN_SHARE,
};
pub use digest::{tree_digest, tree_digest_with, DigestOptions};
pub use edge::generate_edge_case_tree;
pub use mutate::{mutate_dataset, MutationStats};
pub use size::{parse_size, ParseSizeError};
pub use walk::{tree_stats, FileKind, TreeStats};
