//! Copies a takeover cannot reach: pull generations from one repository into another.
//!
//! The two repositories have different master keys, so nothing can be copied as stored bytes:
//! blob ids are keyed hashes (the id of the same chunk differs between repositories) and every
//! object is sealed with its repository's key. A copy therefore reads each blob's *plaintext* from
//! the source (verified on read), stores it through the destination's `BlobWriter` (new id, new
//! encryption, deduplicated against what the destination already holds), and rebuilds the trees
//! bottom-up: a tree's nodes are rewritten with the destination ids of their chunks and subtrees,
//! serialised again and stored as a new tree blob. The snapshot is then saved with the source's
//! metadata (times, source, host, paths, tags, statistics, verdict) and the new root tree.
//!
//! **One direction only.** The source is only read (an operator token on a vault is enough), and
//! nothing in the destination refers back to it: a generation removed at the source stays in the
//! destination, and the source holds no credential for the destination.
//!
//! **Idempotent.** A generation whose `(time, source, host, paths)` the destination already has is
//! skipped, so a copy can be run again after an interruption (blobs already stored are not stored
//! twice: the writer deduplicates against the destination's index).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use kura_format::pack::BlobKind;
use kura_format::snapshot::Snapshot;
use kura_format::tree::Tree;
use kura_format::BlobId;
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::{BlobWriter, RepoError, Repository};
use serde::Serialize;

/// Deeper trees than this are refused rather than risking the stack on a crafted repository.
const MAX_DEPTH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("generation {0}: its tree is nested deeper than 512 levels; the source looks damaged, run `kura check` on it")]
    TooDeep(String),
    #[error("the source has damaged generations ({0}); run `kura check` on it, or name the generations to copy")]
    DamagedSource(String),
}

/// Which generations to copy.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Ids or unique prefixes (`latest`, `latest:SOURCE` work too); empty means all.
    pub snapshots: Vec<String>,
    /// Only generations of these sources; empty means all.
    pub sources: Vec<String>,
}

/// One generation copied (or found already present).
#[derive(Clone, Debug, Serialize)]
pub struct CopiedGeneration {
    pub source_id: String,
    pub dest_id: String,
    pub source: String,
    pub host: String,
    pub time: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
    pub paths: Vec<String>,
    pub bytes_total: u64,
    /// False when the destination already had it.
    pub copied: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CopyReport {
    pub generations: Vec<CopiedGeneration>,
    pub blobs_added: u64,
    pub bytes_added: u64,
}

type Identity = (DateTime<Utc>, String, String, Vec<String>);

fn identity(s: &Snapshot) -> Identity {
    (s.time, s.source.clone(), s.host.clone(), s.paths.clone())
}

/// The generations of `src` that `sel` names, oldest first.
fn select(src: &Repository, sel: &Selection) -> Result<Vec<SnapshotEntry>, CopyError> {
    let list = src.list_snapshots()?;
    let mut chosen: Vec<SnapshotEntry> = if sel.snapshots.is_empty() {
        if let Some((name, _)) = list.damaged.first() {
            return Err(CopyError::DamagedSource(name.clone()));
        }
        list.snapshots
    } else {
        let mut out: Vec<SnapshotEntry> = Vec::new();
        for spec in &sel.snapshots {
            let e = kura_repo::snapshots::resolve_in(&list.snapshots, spec)?;
            if !out.iter().any(|o| o.id == e.id) {
                out.push(e.clone());
            }
        }
        out
    };
    chosen.retain(|e| sel.sources.is_empty() || sel.sources.contains(&e.snapshot.source));
    chosen.sort_by_key(|e| e.snapshot.time);
    Ok(chosen)
}

/// Copy the selected generations of `src` into `dst`. Both must be open; `src` is only read.
pub fn copy_generations(
    src: &Repository,
    dst: &Repository,
    sel: &Selection,
) -> Result<CopyReport, CopyError> {
    src.load_index()?;
    dst.load_index()?;
    let chosen = select(src, sel)?;
    let existing: HashMap<Identity, String> = dst
        .list_snapshots()?
        .snapshots
        .into_iter()
        .map(|e| (identity(&e.snapshot), e.id.to_hex()))
        .collect();
    let mut report = CopyReport::default();
    // Source blob id -> destination blob id, shared by all generations (most blobs repeat).
    let mut memo: HashMap<BlobId, BlobId> = HashMap::new();
    // Source snapshot id -> destination id, to keep parent links within the copy.
    let mut parents: HashMap<String, String> = HashMap::new();
    for entry in chosen {
        let snap = &entry.snapshot;
        let (dest_id, copied) = match existing.get(&identity(snap)) {
            Some(id) => (id.clone(), false),
            None => {
                let writer = BlobWriter::new(dst);
                let mut copier = TreeCopier {
                    src,
                    writer: &writer,
                    memo: &mut memo,
                    seen: HashSet::new(),
                };
                let tree = copier.tree(&snap.tree, 0, &entry.id.to_hex())?;
                let stats = writer.finish()?;
                report.blobs_added += stats.blobs_added;
                report.bytes_added += stats.bytes_added;
                let mut new = snap.clone();
                new.tree = tree;
                new.parent = snap
                    .parent
                    .and_then(|p| parents.get(&p.to_hex()))
                    .and_then(|p| kura_format::FileId::from_hex(p).ok());
                (dst.save_snapshot(&new)?.to_hex(), true)
            }
        };
        parents.insert(entry.id.to_hex(), dest_id.clone());
        report.generations.push(CopiedGeneration {
            source_id: entry.id.to_hex(),
            dest_id,
            source: snap.source.clone(),
            host: snap.host.clone(),
            time: snap.time,
            committed_at: snap.committed_at,
            paths: snap.paths.clone(),
            bytes_total: snap.stats.bytes_total,
            copied,
        });
    }
    Ok(report)
}

struct TreeCopier<'a, 'w> {
    src: &'a Repository,
    writer: &'a BlobWriter<'w>,
    memo: &'a mut HashMap<BlobId, BlobId>,
    /// Trees on the current path, to refuse a cycle in a crafted repository.
    seen: HashSet<BlobId>,
}

impl TreeCopier<'_, '_> {
    /// Copy tree `id` and everything below it; returns its id in the destination.
    fn tree(&mut self, id: &BlobId, depth: usize, gen: &str) -> Result<BlobId, CopyError> {
        if let Some(done) = self.memo.get(id) {
            return Ok(*done);
        }
        if depth > MAX_DEPTH || !self.seen.insert(*id) {
            return Err(CopyError::TooDeep(gen.to_string()));
        }
        let mut tree: Tree = self.src.read_tree(id)?;
        for node in &mut tree.nodes {
            for chunk in &mut node.content {
                *chunk = self.data(chunk)?;
            }
            if let Some(sub) = node.subtree {
                node.subtree = Some(self.tree(&sub, depth + 1, gen)?);
            }
        }
        let (new, _) = self.writer.add(BlobKind::Tree, &tree.to_json())?;
        self.seen.remove(id);
        self.memo.insert(*id, new);
        Ok(new)
    }

    fn data(&mut self, id: &BlobId) -> Result<BlobId, CopyError> {
        if let Some(done) = self.memo.get(id) {
            return Ok(*done);
        }
        let plain = self.src.read_blob(id)?;
        let (new, _) = self.writer.add(BlobKind::Data, &plain)?;
        self.memo.insert(*id, new);
        Ok(new)
    }
}
