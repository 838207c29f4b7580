//! Saving, listing and resolving snapshots (generations).

use kura_format::snapshot::Snapshot;
use kura_format::FileId;
use kura_store::FileKind;

use crate::error::{RepoError, Result};
use crate::{verify_file_id, Repository};

/// A snapshot with its id.
#[derive(Clone, Debug)]
pub struct SnapshotEntry {
    pub id: FileId,
    pub snapshot: Snapshot,
}

/// Snapshots that could be read, and those that could not (named, for `check`).
#[derive(Default)]
pub struct SnapshotList {
    pub snapshots: Vec<SnapshotEntry>,
    pub damaged: Vec<(String, RepoError)>,
}

impl Repository {
    /// Commit a generation. The caller must have finished its [`crate::BlobWriter`] first.
    pub fn save_snapshot(&self, snap: &Snapshot) -> Result<FileId> {
        let sealed = snap.seal(self.key());
        let id = FileId::of(&sealed);
        self.backend()
            .create(FileKind::Snapshot, &id.to_hex(), &sealed)?;
        Ok(id)
    }

    pub fn load_snapshot(&self, name: &str) -> Result<SnapshotEntry> {
        let bytes = self.backend().read(FileKind::Snapshot, name)?;
        let id = verify_file_id(name, &bytes)?;
        let snapshot = Snapshot::open(self.key(), &bytes)
            .map_err(|e| RepoError::damaged(format!("snapshot {name}"), e))?;
        Ok(SnapshotEntry { id, snapshot })
    }

    /// All snapshots, oldest first by commit time.
    pub fn list_snapshots(&self) -> Result<SnapshotList> {
        let mut list = SnapshotList::default();
        for f in self.backend().list(FileKind::Snapshot)? {
            match self.load_snapshot(&f.name) {
                Ok(s) => list.snapshots.push(s),
                Err(e) => list.damaged.push((f.name, e)),
            }
        }
        list.snapshots
            .sort_by_key(|s| (s.snapshot.committed_at, s.id));
        Ok(list)
    }

    /// Resolve `latest`, `latest:SOURCE` or a unique id prefix.
    pub fn resolve_snapshot(&self, spec: &str) -> Result<SnapshotEntry> {
        let list = self.list_snapshots()?.snapshots;
        resolve_in(&list, spec).cloned()
    }
}

pub fn resolve_in<'a>(list: &'a [SnapshotEntry], spec: &str) -> Result<&'a SnapshotEntry> {
    if spec == "latest" {
        return list
            .last()
            .ok_or_else(|| RepoError::SnapshotNotFound(spec.into()));
    }
    if let Some(source) = spec.strip_prefix("latest:") {
        return list
            .iter()
            .rev()
            .find(|s| s.snapshot.source == source)
            .ok_or_else(|| RepoError::SnapshotNotFound(spec.into()));
    }
    let spec_lc = spec.to_ascii_lowercase();
    if spec_lc.is_empty() || !spec_lc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RepoError::SnapshotNotFound(spec.into()));
    }
    let mut found = list.iter().filter(|s| s.id.to_hex().starts_with(&spec_lc));
    match (found.next(), found.next()) {
        (Some(s), None) => Ok(s),
        (None, _) => Err(RepoError::SnapshotNotFound(spec.into())),
        (Some(_), Some(_)) => Err(RepoError::AmbiguousSnapshot(spec.into())),
    }
}
