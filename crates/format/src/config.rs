//! The repository configuration: one encrypted JSON object in the file `config`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::FormatError;

/// Content-defined chunking parameters (FastCDC 2020, normalization level 1).
///
/// Chosen for hospital data: EHR dumps change by small insertions every night, so chunks must be
/// small enough that one edit does not cost megabytes (restic's ~1 MiB and borg's ~2 MiB chunks make
/// a 15 MiB change grow the repository by 50–70 MiB); SS-MIX2 files (1–8 KiB) are below the minimum
/// and are stored as one chunk each; 256 KiB keeps the number of chunks of a 10 TB repository near
/// 40 million, which the on-disk index is sized for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams {
            min_size: 64 * 1024,
            avg_size: 256 * 1024,
            max_size: 1024 * 1024,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    pub version: u32,
    /// 32 random bytes in hex; names the repository in caches and reports.
    pub id: String,
    pub created: DateTime<Utc>,
    pub chunker: ChunkerParams,
    /// Packs are closed once they reach this many bytes.
    pub pack_size: u32,
    pub compression_level: i32,
}

impl RepoConfig {
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.version > crate::FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "repository config",
                found: self.version,
                supported: crate::FORMAT_VERSION,
            });
        }
        let c = self.chunker;
        let sane = 1024 <= c.min_size
            && c.min_size <= c.avg_size
            && c.avg_size <= c.max_size
            && c.max_size <= 8 << 20;
        if !sane {
            return Err(FormatError::malformed(
                "repository config",
                "chunker sizes out of range",
            ));
        }
        if !(1 << 20..=1 << 30).contains(&self.pack_size) {
            return Err(FormatError::malformed(
                "repository config",
                "pack size out of range",
            ));
        }
        Ok(())
    }
}
