//! Snapshots (generations): one JSON object per file in `snapshots/`, sealed with kind Snapshot.
//! A snapshot file is never modified; what changes later about a generation (locks, holds, verdicts)
//! lives in separate metadata records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crypto::{Compression, MasterKey, ObjectKind};
use crate::id::{BlobId, FileId};
use crate::FormatError;

/// A snapshot plaintext larger than this is refused (they hold paths and statistics, not data).
pub const MAX_SNAPSHOT_LEN: usize = 16 << 20;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotStats {
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unchanged: u64,
    pub dirs: u64,
    /// Bytes of file content read from the source (unchanged files are not read).
    pub bytes_read: u64,
    /// Total size of all files in the generation.
    pub bytes_total: u64,
    /// Bytes newly stored after deduplication, compression and encryption.
    pub bytes_added: u64,
    pub blobs_added: u64,
    pub warnings: u64,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// When the backup started, by the client's clock.
    pub time: DateTime<Utc>,
    /// When the repository committed the generation. Retention uses this time, never `time`: on a vault
    /// it is set by the server, so a compromised client cannot backdate or post-date a generation.
    pub committed_at: DateTime<Utc>,
    pub tree: BlobId,
    pub paths: Vec<String>,
    pub host: String,
    #[serde(default)]
    pub user: String,
    pub source: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<FileId>,
    #[serde(default)]
    pub stats: SnapshotStats,
    #[serde(default)]
    pub program: String,
    /// Retention lock requested at backup time, in days from `committed_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_days: Option<u32>,
    /// Ransomware verdict computed while the generation was backed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<StoredVerdict>,
}

/// The verdict of ransomware detection for one generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredVerdict {
    /// "clean" or "suspicious".
    pub verdict: String,
    /// 0 to 100.
    pub score: f64,
    /// Reasons a person can read (counts, ratios, example paths).
    pub reasons: Vec<String>,
    /// Statistics of this generation that later generations of the source learn their
    /// thresholds from (kura-anomaly's GenerationSummary).
    #[serde(default)]
    pub summary: serde_json::Value,
}

impl StoredVerdict {
    pub fn is_suspicious(&self) -> bool {
        self.verdict == "suspicious"
    }
}

impl Snapshot {
    pub fn seal(&self, key: &MasterKey) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("snapshot serializes");
        key.seal(ObjectKind::Snapshot, None, &json, Compression::default())
    }

    pub fn open(key: &MasterKey, sealed: &[u8]) -> Result<Self, FormatError> {
        let plain = key.open(ObjectKind::Snapshot, None, sealed, MAX_SNAPSHOT_LEN)?;
        let s: Snapshot =
            serde_json::from_slice(&plain).map_err(|e| FormatError::malformed("snapshot", e))?;
        if s.version > crate::FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "snapshot",
                found: s.version,
                supported: crate::FORMAT_VERSION,
            });
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trip() {
        let key = MasterKey::generate();
        let s = Snapshot {
            version: 1,
            time: Utc::now(),
            committed_at: Utc::now(),
            tree: key.blob_id(b"t"),
            paths: vec!["/data/電子カルテ".into()],
            host: "ehr01".into(),
            user: "root".into(),
            source: "ehr-db".into(),
            tags: vec!["nightly".into()],
            parent: None,
            stats: SnapshotStats::default(),
            program: "kura 0.1.0".into(),
            lock_days: Some(30),
            verdict: None,
        };
        assert_eq!(Snapshot::open(&key, &s.seal(&key)).unwrap(), s);
        let mut sealed = s.seal(&key);
        let n = sealed.len();
        sealed[n / 2] ^= 0x40;
        assert!(Snapshot::open(&key, &sealed).is_err());
    }
}
