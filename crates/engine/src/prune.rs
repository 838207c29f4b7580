//! Prune: garbage collection in two phases, safe while backups run.
//!
//! Phase one marks packs that no generation references (recorded in a `gc` metadata record with the
//! time they were first found unused). A later prune deletes a marked pack only if it is *still*
//! unreferenced and was marked more than the grace period ago (default 24 h). Packs younger than the
//! grace period are never marked, because a running backup may have written them and not yet
//! indexed them. While a pack is marked, backups do not deduplicate against it, so it cannot become
//! newly referenced by a backup that started after the mark. Backups therefore never wait for prune
//! and never lose data they have just written, provided a backup does not run for longer than the
//! grace period across two prunes.
//!
//! Packs that are mostly unused are *repacked*: their used blobs are copied into new packs, and the
//! old packs are then marked like any unused pack. Packs holding data of locked or held generations
//! are never repacked.
//!
//! On a store with its own retention (S3 Object Lock), a pack the store still locks is never
//! deleted: the plan keeps it marked and lists it in `store_locked` with the store's date, and a
//! refusal met while executing (a lock set after planning) is reported the same way rather than
//! failing the prune. [`extend_store_locks`] is the other half: it makes the store keep every file
//! a locked generation needs at least as long as the generation's lock.
//!
//! Prune refuses to run when it cannot see the whole repository (a generation or index that cannot be
//! read, a referenced blob missing from the index): deleting while unsure is how data is lost.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};
use kura_format::index::{IndexFile, IndexPack};
use kura_format::pack::PackEntry;
use kura_format::tree::NodeType;
use kura_format::{BlobId, FileId};
use kura_policy::{plan_gc, GcAction, PackState};
use kura_repo::meta::MetaRecord;
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::{BlobLocation, BlobWriter, Repository};
use kura_store::FileKind;
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::walk::walk_tree;

#[derive(Clone, Debug)]
pub struct PruneOptions {
    pub grace: Duration,
    /// Repack a pack when at least this share of its bytes is unused (0–100).
    pub repack_unused_percent: f64,
    pub now: DateTime<Utc>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            grace: Duration::hours(24),
            repack_unused_percent: 25.0,
            now: Utc::now(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PrunePlan {
    pub generations: usize,
    pub referenced_blobs: usize,
    pub packs: usize,
    pub delete: Vec<(FileId, u64)>,
    pub mark: Vec<FileId>,
    pub unmark: Vec<FileId>,
    pub waiting: Vec<(FileId, DateTime<Utc>)>,
    /// Unused packs the store itself still locks (S3 Object Lock), with its retain-until date:
    /// kept marked and deleted by a prune after that date.
    pub store_locked: Vec<(FileId, DateTime<Utc>)>,
    pub too_young: usize,
    pub repack: Vec<FileId>,
    pub bytes_to_free: u64,
    #[serde(skip)]
    marked_before: HashMap<FileId, DateTime<Utc>>,
    #[serde(skip)]
    gc_record: Option<String>,
    /// Each used blob and the pack whose copy of it is kept.
    #[serde(skip)]
    kept: HashMap<BlobId, FileId>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneSummary {
    pub packs_deleted: usize,
    pub bytes_freed: u64,
    pub packs_repacked: usize,
    pub blobs_repacked: u64,
    pub packs_marked: usize,
    pub index_files_replaced: usize,
    /// Files the store refused to delete because it locks them, and until when.
    pub store_locked: Vec<StoreLocked>,
}

/// A file left in place because the store locks it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StoreLocked {
    pub kind: String,
    pub name: String,
    pub until: DateTime<Utc>,
}

/// Every blob reachable from every generation, and those reachable from locked or held ones.
fn referenced(
    repo: &Repository,
    now: DateTime<Utc>,
) -> Result<(HashSet<BlobId>, HashSet<BlobId>, usize)> {
    let list = repo.list_snapshots()?;
    if let Some((name, e)) = list.damaged.first() {
        return Err(EngineError::Invalid(format!(
            "generation {name} cannot be read ({e}): prune refuses to run; see `kura check`"
        )));
    }
    let state = repo.retention_state()?;
    let mut all = HashSet::new();
    let mut protected = HashSet::new();
    for s in &list.snapshots {
        let locked = crate::retention::lock_until(s, &state).is_some_and(|t| t > now)
            || state.holds.contains_key(&s.id);
        let mine = blobs_of(repo, &s.snapshot.tree)?;
        if locked {
            protected.extend(mine.iter().copied());
        }
        all.extend(mine);
    }
    // Clinical indexes live beside the trees: keep them while their generation exists.
    let (records, _) = repo.list_meta()?;
    let alive: HashSet<FileId> = list.snapshots.iter().map(|s| s.id).collect();
    for (_, r) in records {
        if let MetaRecord::ClinicalIndex {
            snapshot,
            manifest,
            blobs,
            ..
        } = r
        {
            if alive.contains(&snapshot) {
                all.insert(manifest);
                all.extend(blobs);
            }
        }
    }
    Ok((all, protected, list.snapshots.len()))
}

/// Every tree and content blob under `tree`, the tree itself included.
fn blobs_of(repo: &Repository, tree: &BlobId) -> Result<Vec<BlobId>> {
    let mut blobs = vec![*tree];
    walk_tree(repo, tree, b"", &mut |e| {
        if e.node.node_type == NodeType::Dir {
            blobs.extend(e.node.subtree);
        }
        blobs.extend(e.node.content.iter().copied());
        Ok(true)
    })?;
    Ok(blobs)
}

/// The stored files a generation needs to be restored: its snapshot file and every pack that
/// holds one of its trees, file contents or clinical index pieces. The index must be loaded.
pub fn generation_files(
    repo: &Repository,
    snap: &SnapshotEntry,
) -> Result<Vec<(FileKind, String)>> {
    let mut blobs = blobs_of(repo, &snap.snapshot.tree)?;
    let (records, _) = repo.list_meta()?;
    for (_, r) in records {
        if let MetaRecord::ClinicalIndex {
            snapshot,
            manifest,
            blobs: pieces,
            ..
        } = r
        {
            if snapshot == snap.id {
                blobs.push(manifest);
                blobs.extend(pieces);
            }
        }
    }
    // Every copy: a read may be served by any of them.
    let mut packs = BTreeSet::new();
    let index = repo.index();
    for b in &blobs {
        if !index.contains(b) {
            return Err(kura_repo::RepoError::BlobNotFound(b.to_hex()).into());
        }
        packs.extend(index.locations(b).map(|(pack, _)| pack.to_hex()));
    }
    drop(index);
    let mut files = vec![(FileKind::Snapshot, snap.id.to_hex())];
    files.extend(packs.into_iter().map(|p| (FileKind::Pack, p)));
    Ok(files)
}

/// What [`extend_store_locks`] did.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StoreLockReport {
    /// False when the backend has no store-enforced retention (a local directory, a vault, which
    /// extends its own locks): nothing was done and only Kura's lock record protects.
    pub supported: bool,
    /// Files now locked at the store at least until `until`.
    pub files: usize,
    pub until: DateTime<Utc>,
}

/// Make the store keep every file of `snap` at least until `until` (S3 Object Lock). Files
/// already locked as long are left alone; nothing is ever shortened. Packs shared with older
/// generations are extended too, which is why a backup with a lock calls this after it commits.
pub fn extend_store_locks(
    repo: &Repository,
    snap: &SnapshotEntry,
    until: DateTime<Utc>,
) -> Result<StoreLockReport> {
    let mut report = StoreLockReport {
        supported: false,
        files: 0,
        until,
    };
    let files = generation_files(repo, snap)?;
    let until_sys = SystemTime::from(until);
    // The first file (the snapshot) tells whether the store can lock at all.
    let Some(((kind, name), rest)) = files.split_first() else {
        return Ok(report);
    };
    if !repo.backend().extend_store_lock(*kind, name, until_sys)? {
        return Ok(report);
    }
    report.supported = true;
    // One HEAD (and maybe one PUT) per pack: a few requests in flight hide the round trips.
    let chunk = rest.len().div_ceil(8).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = rest
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().try_for_each(|(k, n)| {
                        repo.backend().extend_store_lock(*k, n, until_sys).map(drop)
                    })
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| EngineError::Invalid("a store-lock thread panicked".into()))?
                .map_err(EngineError::from)
        })
    })?;
    report.files = files.len();
    Ok(report)
}

/// Move delete candidates that the store still locks out of the plan's deletions. The store
/// judges with its own clock, so this compares with the real time, not `--now`.
fn hold_store_locked(repo: &Repository, plan: &mut PrunePlan) -> Result<()> {
    let now = SystemTime::now();
    let mut delete = Vec::with_capacity(plan.delete.len());
    for (id, size) in std::mem::take(&mut plan.delete) {
        match repo
            .backend()
            .store_lock_until(FileKind::Pack, &id.to_hex())
        {
            Ok(Some(t)) if t > now => {
                plan.bytes_to_free -= size;
                plan.store_locked.push((id, DateTime::<Utc>::from(t)));
            }
            Ok(_) => delete.push((id, size)),
            Err(e) if e.is_not_found() => delete.push((id, size)),
            Err(e) => return Err(e.into()),
        }
    }
    plan.delete = delete;
    Ok(())
}

/// Remove a file; a refusal because the store locks it is recorded in `locked` instead of
/// failing. Returns whether the file was removed.
fn remove_unless_store_locked(
    repo: &Repository,
    kind: FileKind,
    name: &str,
    locked: &mut Vec<StoreLocked>,
) -> Result<bool> {
    let err = match repo.backend().remove(kind, name) {
        Ok(()) => return Ok(true),
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => e,
    };
    match repo.backend().store_lock_until(kind, name) {
        Ok(Some(until)) if until > SystemTime::now() => {
            locked.push(StoreLocked {
                kind: kind.to_string(),
                name: name.to_string(),
                until: until.into(),
            });
            Ok(false)
        }
        _ => Err(err.into()),
    }
}

/// Work out what a prune would do. Nothing is changed.
pub fn plan_prune(repo: &Repository, opts: &PruneOptions) -> Result<PrunePlan> {
    let problems = repo.load_index()?;
    if let Some((name, e)) = problems.first() {
        return Err(EngineError::Invalid(format!(
            "index {name} cannot be read ({e}): run `kura repair index` before pruning"
        )));
    }
    let (used, protected, generations) = referenced(repo, opts.now)?;
    let by_pack = repo.index().by_pack();
    let stored = repo.backend().list(FileKind::Pack)?;
    let state = repo.retention_state()?;
    let (gc_record, marked_before): (_, HashMap<FileId, DateTime<Utc>>) = match &state.gc {
        Some((name, MetaRecord::Gc { marked, .. })) => {
            (Some(name.clone()), marked.iter().copied().collect())
        }
        _ => (None, HashMap::new()),
    };
    let stored_ids: HashSet<FileId> = stored
        .iter()
        .filter_map(|f| FileId::from_hex(&f.name).ok())
        .collect();
    let kept = choose_kept_copies(repo, &used, &stored_ids, &marked_before)?;
    let mut plan = PrunePlan {
        generations,
        referenced_blobs: used.len(),
        packs: stored.len(),
        marked_before,
        gc_record,
        ..Default::default()
    };
    let mut states = Vec::new();
    let mut referenced_packs = HashSet::new();
    let mut sizes = HashMap::new();
    for f in &stored {
        let Ok(id) = FileId::from_hex(&f.name) else {
            continue;
        };
        sizes.insert(id, f.size);
        let entries = by_pack.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let kept_here = |e: &&PackEntry| kept.get(&e.id) == Some(&id);
        let used_bytes: u64 = entries
            .iter()
            .filter(kept_here)
            .map(|e| e.length as u64)
            .sum();
        if used_bytes > 0 {
            referenced_packs.insert(f.name.clone());
            // Garbage is the blobs nobody keeps here; the pack's header and trailer are not, or
            // a freshly repacked small pack would look worth repacking again.
            let garbage: u64 = entries
                .iter()
                .filter(|e| !kept_here(e))
                .map(|e| e.length as u64)
                .sum();
            let unused = garbage as f64 * 100.0 / f.size.max(1) as f64;
            let holds_protected = entries
                .iter()
                .filter(kept_here)
                .any(|e| protected.contains(&e.id));
            if unused >= opts.repack_unused_percent && !holds_protected {
                plan.repack.push(id);
            }
        }
        let created_at = f.modified.map(DateTime::<Utc>::from).unwrap_or(opts.now);
        states.push(PackState {
            id: f.name.clone(),
            created_at,
            marked_unused_at: plan.marked_before.get(&id).copied(),
            locked_until: None,
        });
    }
    let gc = plan_gc(&states, &referenced_packs, opts.now, opts.grace);
    for d in gc.packs {
        let Ok(id) = FileId::from_hex(&d.id) else {
            continue;
        };
        match d.action {
            GcAction::Delete => {
                let size = sizes.get(&id).copied().unwrap_or(0);
                plan.bytes_to_free += size;
                plan.delete.push((id, size));
            }
            GcAction::Mark => plan.mark.push(id),
            GcAction::Unmark => plan.unmark.push(id),
            GcAction::Waiting { until } => plan.waiting.push((id, until)),
            GcAction::TooYoung { .. } => plan.too_young += 1,
            GcAction::InUse | GcAction::Duplicate => {}
        }
    }
    if !plan.delete.is_empty() {
        hold_store_locked(repo, &mut plan)?;
    }
    plan.kept = kept;
    Ok(plan)
}

/// For each used blob, the copy prune keeps (a blob is stored twice after a repack until the old
/// pack is deleted, or when two backups raced). Only copies in packs that exist count. A copy in a
/// pack not marked unused wins over one in a marked pack, so that the packs a repack emptied stay
/// unused and are deleted after the grace period; ties go to the smallest pack id, so every prune
/// chooses alike whatever order the store lists index files in. Refuses when a used blob has no
/// stored copy: deleting anything while data is missing is how data is lost.
fn choose_kept_copies(
    repo: &Repository,
    used: &HashSet<BlobId>,
    stored: &HashSet<FileId>,
    marked: &HashMap<FileId, DateTime<Utc>>,
) -> Result<HashMap<BlobId, FileId>> {
    let index = repo.index();
    let mut kept = HashMap::with_capacity(used.len());
    for blob in used {
        let best = index
            .locations(blob)
            .map(|(pack, _)| pack)
            .filter(|pack| stored.contains(pack))
            .min_by_key(|pack| (marked.contains_key(pack), *pack));
        match best {
            Some(pack) => {
                kept.insert(*blob, pack);
            }
            None if index.contains(blob) => {
                return Err(EngineError::Invalid(format!(
                    "blob {} is referenced but every pack holding it is missing: run `kura check` before pruning",
                    blob.short()
                )))
            }
            None => {
                return Err(EngineError::Invalid(format!(
                    "blob {} is referenced but not in the index: run `kura check` and `kura repair index` before pruning",
                    blob.short()
                )))
            }
        }
    }
    Ok(kept)
}

/// Execute a plan made by [`plan_prune`] (once).
pub fn execute_prune(
    repo: &Repository,
    plan: &PrunePlan,
    opts: &PruneOptions,
) -> Result<PruneSummary> {
    let _lock = PruneLock::acquire(repo, opts.now)?;
    let mut summary = PruneSummary::default();
    let (new_packs, blobs) = repack(repo, plan)?;
    summary.packs_repacked = plan.repack.len();
    summary.blobs_repacked = blobs;
    let delete: HashSet<FileId> = plan.delete.iter().map(|(id, _)| *id).collect();
    if !delete.is_empty() || new_packs > 0 || repo.index().files.len() > 16 {
        summary.index_files_replaced = consolidate_index(repo, &delete, &mut summary.store_locked)?;
    }
    for (id, size) in &plan.delete {
        let name = id.to_hex();
        if remove_unless_store_locked(repo, FileKind::Pack, &name, &mut summary.store_locked)? {
            summary.packs_deleted += 1;
            summary.bytes_freed += size;
        }
    }
    // Packs the store refused to delete stay marked, for a prune after their lock ends.
    let refused: HashSet<FileId> = summary
        .store_locked
        .iter()
        .filter(|l| l.kind == FileKind::Pack.to_string())
        .filter_map(|l| FileId::from_hex(&l.name).ok())
        .collect();
    let delete: HashSet<FileId> = delete.difference(&refused).copied().collect();
    let mut marked_before = plan.marked_before.clone();
    for (id, _) in plan.store_locked.iter() {
        marked_before.entry(*id).or_insert(opts.now);
    }
    for id in &refused {
        marked_before.entry(*id).or_insert(opts.now);
    }
    let unmarked: HashSet<FileId> = plan.unmark.iter().copied().collect();
    let mut marked: Vec<(FileId, DateTime<Utc>)> = marked_before
        .iter()
        .filter(|(id, _)| !delete.contains(id) && !unmarked.contains(id))
        .map(|(id, t)| (*id, *t))
        .collect();
    marked.extend(
        plan.mark
            .iter()
            .chain(&plan.repack)
            .map(|id| (*id, opts.now)),
    );
    marked.sort();
    marked.dedup_by_key(|(id, _)| *id);
    summary.packs_marked = plan.mark.len() + plan.repack.len();
    repo.save_meta(&MetaRecord::Gc {
        created_at: opts.now,
        marked,
        deleted: delete.into_iter().collect(),
    })?;
    if let Some(old) = &plan.gc_record {
        let _ = repo.backend().remove(FileKind::Meta, old);
    }
    Ok(summary)
}

/// Copy the used blobs of mostly empty packs into new packs. Returns the number of packs written
/// and of blobs copied.
fn repack(repo: &Repository, plan: &PrunePlan) -> Result<(u64, u64)> {
    if plan.repack.is_empty() {
        return Ok((0, 0));
    }
    let by_pack = repo.index().by_pack();
    let writer = BlobWriter::new(repo);
    let mut count = 0;
    for pack in &plan.repack {
        let bytes = repo.backend().read(FileKind::Pack, &pack.to_hex())?;
        for e in by_pack
            .get(pack)
            .into_iter()
            .flatten()
            .filter(|e| plan.kept.get(&e.id) == Some(pack))
        {
            let sealed = bytes
                .get(e.offset as usize..(e.offset + e.length) as usize)
                .ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "pack {} is shorter than its index says",
                        pack.short()
                    ))
                })?;
            let loc = BlobLocation {
                pack: 0,
                offset: e.offset,
                length: e.length,
                raw_len: e.raw_len,
                kind: e.kind,
            };
            let plain = repo.open_blob(&e.id, pack, &loc, sealed)?;
            writer.add_forced(e.kind, e.id, &plain)?;
            count += 1;
        }
    }
    let stats = writer.finish()?;
    Ok((stats.packs_written, count))
}

/// Write one index for every pack that stays, superseding every index file read, then remove those.
fn consolidate_index(
    repo: &Repository,
    deleted: &HashSet<FileId>,
    locked: &mut Vec<StoreLocked>,
) -> Result<usize> {
    repo.load_index()?;
    let old_files = repo.index().files.clone();
    let packs: Vec<IndexPack> = repo
        .index()
        .by_pack()
        .into_iter()
        .filter(|(id, _)| !deleted.contains(id))
        .map(|(id, blobs)| IndexPack { id, blobs })
        .collect();
    let new = IndexFile {
        supersedes: old_files.clone(),
        packs,
    };
    let new_id = repo.save_index(&new)?;
    let mut removed = 0;
    // An index file the store still locks stays; the new one supersedes it, so readers skip it.
    for f in old_files.iter().filter(|f| **f != new_id) {
        if remove_unless_store_locked(repo, FileKind::Index, &f.to_hex(), locked)? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Only one prune at a time: a create-only record, removed when done. A lock left by a prune that
/// died on this host (its process is gone) or that is older than a day is taken over.
struct PruneLock<'r> {
    repo: &'r Repository,
}

const PRUNE_LOCK: &str = "prune-lock";

impl<'r> PruneLock<'r> {
    fn acquire(repo: &'r Repository, now: DateTime<Utc>) -> Result<Self> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_default()
            .trim()
            .to_string();
        let me = MetaRecord::PruneLock {
            host: host.clone(),
            pid: std::process::id(),
            created_at: now,
        };
        for _ in 0..2 {
            match repo.create_named_meta(PRUNE_LOCK, &me) {
                Ok(()) => return Ok(PruneLock { repo }),
                Err(kura_repo::RepoError::Store(e)) if e.is_already_exists() => {
                    let stale = match repo.load_meta(PRUNE_LOCK) {
                        Ok(MetaRecord::PruneLock {
                            host: h,
                            pid,
                            created_at,
                        }) => {
                            (h == host && !std::path::Path::new(&format!("/proc/{pid}")).exists())
                                || now - created_at > Duration::days(1)
                        }
                        _ => true,
                    };
                    if !stale {
                        return Err(EngineError::Invalid("another prune is running on this repository; try again when it has finished".into()));
                    }
                    repo.backend().remove(FileKind::Meta, PRUNE_LOCK)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Invalid("could not take the prune lock".into()))
    }
}

impl Drop for PruneLock<'_> {
    fn drop(&mut self) {
        let _ = self.repo.backend().remove(FileKind::Meta, PRUNE_LOCK);
    }
}
