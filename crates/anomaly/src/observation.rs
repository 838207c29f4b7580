//! What the backup tells the detector about one generation, and what the detector
//! remembers of past generations of the same source.

use serde::{Deserialize, Serialize};

use crate::signals::{FileSignals, FileSummary};

/// How a path differs from the previous generation of the same source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Path absent from the previous generation.
    New,
    /// Path present in both, content differs.
    Changed,
    /// Path present before, absent now.
    Deleted,
    /// Content found under a new path (the caller pairs a deleted path with a new one,
    /// e.g. by identical content id). `previous` is the old path's summary.
    Renamed {
        /// Path in the previous generation.
        from: String,
    },
}

/// One path that is not unchanged. Unchanged paths are only counted
/// ([`GenerationObservation::unchanged`]): the detector never needs them one by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileChange {
    /// Path relative to the source root, `/`-separated.
    pub path: String,
    /// What happened to it.
    pub kind: ChangeKind,
    /// Size now (for `Deleted`: the size it had).
    pub size: u64,
    /// Signals of the new content; `None` for `Deleted`, and for a `Renamed` whose content
    /// did not change (the backup did not read it).
    pub signals: Option<FileSignals>,
    /// The previous version: required for `Changed`, `Deleted` and `Renamed` to judge
    /// them; `None` if the caller does not have it (the file is then judged alone).
    pub previous: Option<FileSummary>,
}

/// Everything the detector sees of one generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationObservation {
    /// Every new, changed, deleted or renamed path.
    pub changes: Vec<FileChange>,
    /// Files present in both generations with the same content.
    pub unchanged: u64,
}

impl GenerationObservation {
    /// Files in the previous generation.
    pub fn files_before(&self) -> u64 {
        self.unchanged
            + self
                .changes
                .iter()
                .filter(|c| !matches!(c.kind, ChangeKind::New))
                .count() as u64
    }

    /// Files in this generation.
    pub fn files_after(&self) -> u64 {
        self.unchanged
            + self
                .changes
                .iter()
                .filter(|c| !matches!(c.kind, ChangeKind::Deleted))
                .count() as u64
    }
}

/// Verdict of a generation: only these two values are ever stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// No signal above its threshold.
    Clean,
    /// Score at or above the suspicion threshold.
    Suspicious,
}

/// Per-signal file counts of one generation: stored with the generation, and the history
/// from which baselines are learned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalCounts {
    /// Recognised type replaced by unrecognised random-looking data.
    pub type_lost: u64,
    /// Content that was not random and now is (type kept or not).
    pub entropy_jump: u64,
    /// Of those, files whose random blocks alternate or sit only at the head.
    pub intermittent: u64,
    /// Content that is not what the extension promises (not counted again if type_lost).
    pub extension_mismatch: u64,
    /// New files of unrecognised random-looking content.
    pub new_random: u64,
    /// Files given an unknown extension (renamed or re-created under `name.ext.NEW`).
    pub extension_changed: u64,
    /// New files with ransom-note names.
    pub ransom_notes: u64,
    /// Deleted paths not explained as renames.
    pub deleted: u64,
    /// New + changed + deleted + renamed paths.
    pub touched: u64,
}

/// Summary statistics of one generation of a source, returned by the analysis and to be
/// stored with the generation; the next analyses learn their baselines from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationSummary {
    /// Files in the previous generation.
    pub files_before: u64,
    /// Files in this generation.
    pub files_after: u64,
    /// Counts per change kind.
    pub new: u64,
    /// Changed in place.
    pub changed: u64,
    /// Deleted (as reported by the caller, before pairing).
    pub deleted: u64,
    /// Renamed (as reported by the caller).
    pub renamed: u64,
    /// Per-signal counts.
    pub signals: SignalCounts,
    /// Mean entropy of changed files' new content, if any changed.
    pub mean_entropy_changed: Option<f32>,
    /// The verdict this generation received.
    pub verdict: VerdictKind,
}

impl GenerationSummary {
    /// The denominator of every fraction: files before, or after for a first generation.
    pub fn denominator(&self) -> u64 {
        if self.files_before > 0 {
            self.files_before
        } else {
            self.files_after.max(1)
        }
    }
}

/// A source's own history: summaries of its previous generations, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceHistory {
    /// Previous generations' summaries, oldest first.
    pub generations: Vec<GenerationSummary>,
}
