//! # kura-engine: backup, restore, check and diff
//!
//! The work a Kura command does once a repository is open: walking file systems and generations,
//! content-defined chunking, the parallel backup pipeline with change detection against the
//! previous generation of the same source, verified restore, and integrity checks that report
//! damage as the generations and files it affects.
#![forbid(unsafe_code)]

pub mod backup;
#[cfg(test)]
mod backup_tests;
pub mod check;
pub mod chunker;
pub mod clean;
pub mod clinical_store;
pub mod clinical_view;
pub mod detect;
pub mod diff;
pub mod error;
pub mod exclude;
pub mod fsmeta;
pub mod prefetch;
pub mod progress;
pub mod prune;
pub mod repair;
pub mod restore;
mod restore_files;
#[cfg(test)]
mod restore_tests;
pub mod retention;
mod seal_pool;
#[cfg(test)]
mod test_support;
pub mod walk;

pub use error::{EngineError, Result};
pub use progress::Progress;
