//! A small observer standing in for the backup: it reads every file of a tree once,
//! computing its content id (BLAKE3) and its [`FileSignals`] chunk by chunk, and compares
//! two states of a tree by path, as Kura's backup compares a generation with the previous
//! one. Deleted and new paths with identical content are paired as renames, which a
//! repository can do with content ids; nothing else is paired (in particular not by inode,
//! which the backup does not keep across generations).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::path::Path;

use kura_anomaly::{
    ChangeKind, ContentId, FileChange, FileSignals, FileVersion, GenerationFiles, GenerationId,
    GenerationObservation, SignalAccumulator, VerdictKind,
};

use crate::list_files;

/// One file as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    /// BLAKE3 of the content, hex.
    pub content: ContentId,
    /// Signals of the content.
    pub signals: FileSignals,
}

/// Every file of a tree as observed, by relative path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeState {
    /// Path -> state.
    pub files: BTreeMap<String, FileState>,
}

/// Reads a tree; files are fed to the accumulator in 1 MiB reads, as the backup's reader
/// feeds its chunker.
pub fn capture(root: &Path) -> io::Result<TreeState> {
    let mut files = BTreeMap::new();
    let mut buf = vec![0u8; 1 << 20];
    for rel in list_files(root)? {
        let mut f = std::fs::File::open(root.join(&rel))?;
        let mut acc = SignalAccumulator::new();
        let mut hasher = blake3::Hasher::new();
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            acc.update(&buf[..n]);
            hasher.update(&buf[..n]);
        }
        let state = FileState {
            content: ContentId(hasher.finalize().to_hex().to_string()),
            signals: acc.finish(),
        };
        files.insert(rel, state);
    }
    Ok(TreeState { files })
}

impl TreeState {
    /// What a backup of this state sees compared with `before`.
    pub fn observe_since(&self, before: &TreeState) -> GenerationObservation {
        let mut obs = GenerationObservation::default();
        let mut new_paths = Vec::new();
        for (path, now) in &self.files {
            match before.files.get(path) {
                Some(old) if old.content == now.content => obs.unchanged += 1,
                Some(old) => obs.changes.push(FileChange {
                    path: path.clone(),
                    kind: ChangeKind::Changed,
                    size: now.signals.size,
                    signals: Some(now.signals.clone()),
                    previous: Some(old.signals.summary()),
                }),
                None => new_paths.push(path),
            }
        }
        // Deleted paths by content, to pair renames.
        let mut gone: HashMap<&ContentId, Vec<&String>> = HashMap::new();
        for (path, old) in &before.files {
            if !self.files.contains_key(path) {
                gone.entry(&old.content).or_default().push(path);
            }
        }
        for path in new_paths {
            let now = &self.files[path];
            let from = gone.get_mut(&now.content).and_then(|v| v.pop());
            obs.changes.push(match from {
                Some(from) => FileChange {
                    path: path.clone(),
                    kind: ChangeKind::Renamed { from: from.clone() },
                    size: now.signals.size,
                    signals: None,
                    previous: Some(before.files[from].signals.summary()),
                },
                None => FileChange {
                    path: path.clone(),
                    kind: ChangeKind::New,
                    size: now.signals.size,
                    signals: Some(now.signals.clone()),
                    previous: None,
                },
            });
        }
        let mut deleted: Vec<&String> = gone.into_values().flatten().collect();
        deleted.sort();
        for path in deleted {
            let old = &before.files[path];
            obs.changes.push(FileChange {
                path: path.clone(),
                kind: ChangeKind::Deleted,
                size: old.signals.size,
                signals: None,
                previous: Some(old.signals.summary()),
            });
        }
        obs
    }

    /// This state as one generation for [`kura_anomaly::assemble_clean`].
    pub fn generation(&self, id: &str, verdict: VerdictKind) -> GenerationFiles {
        GenerationFiles {
            id: GenerationId(id.to_string()),
            verdict,
            files: self
                .files
                .iter()
                .map(|(p, s)| {
                    let v = FileVersion {
                        content: s.content.clone(),
                        summary: s.signals.summary(),
                    };
                    (p.clone(), v)
                })
                .collect(),
        }
    }
}
