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
//! Prune refuses to run when it cannot see the whole repository (a generation or index that cannot be
//! read, a referenced blob missing from the index): deleting while unsure is how data is lost.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use kura_format::index::{IndexFile, IndexPack};
use kura_format::tree::NodeType;
use kura_format::{BlobId, FileId};
use kura_policy::{plan_gc, GcAction, PackState};
use kura_repo::meta::MetaRecord;
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
    pub too_young: usize,
    pub repack: Vec<FileId>,
    pub bytes_to_free: u64,
    #[serde(skip)]
    marked_before: HashMap<FileId, DateTime<Utc>>,
    #[serde(skip)]
    gc_record: Option<String>,
    #[serde(skip)]
    used: HashSet<BlobId>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneSummary {
    pub packs_deleted: usize,
    pub bytes_freed: u64,
    pub packs_repacked: usize,
    pub blobs_repacked: u64,
    pub packs_marked: usize,
    pub index_files_replaced: usize,
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
        let mut mine = vec![s.snapshot.tree];
        walk_tree(repo, &s.snapshot.tree, b"", &mut |e| {
            if e.node.node_type == NodeType::Dir {
                mine.extend(e.node.subtree);
            }
            mine.extend(e.node.content.iter().copied());
            Ok(true)
        })?;
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

/// Work out what a prune would do. Nothing is changed.
pub fn plan_prune(repo: &Repository, opts: &PruneOptions) -> Result<PrunePlan> {
    let problems = repo.load_index()?;
    if let Some((name, e)) = problems.first() {
        return Err(EngineError::Invalid(format!(
            "index {name} cannot be read ({e}): run `kura repair index` before pruning"
        )));
    }
    let (used, protected, generations) = referenced(repo, opts.now)?;
    if let Some(missing) = used.iter().find(|b| repo.locate(b).is_err()) {
        return Err(EngineError::Invalid(format!(
            "blob {} is referenced but not in the index: run `kura check` and `kura repair index` before pruning",
            missing.short()
        )));
    }
    let by_pack = repo.index().by_pack();
    let stored = repo.backend().list(FileKind::Pack)?;
    let state = repo.retention_state()?;
    let (gc_record, marked_before) = match &state.gc {
        Some((name, MetaRecord::Gc { marked, .. })) => {
            (Some(name.clone()), marked.iter().copied().collect())
        }
        _ => (None, HashMap::new()),
    };
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
        let used_bytes: u64 = entries
            .iter()
            .filter(|e| used.contains(&e.id))
            .map(|e| e.length as u64)
            .sum();
        if used_bytes > 0 {
            referenced_packs.insert(f.name.clone());
            let unused = f.size.saturating_sub(used_bytes) as f64 * 100.0 / f.size.max(1) as f64;
            let holds_protected = entries.iter().any(|e| protected.contains(&e.id));
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
    plan.used = used;
    Ok(plan)
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
        summary.index_files_replaced = consolidate_index(repo, &delete)?;
    }
    for (id, size) in &plan.delete {
        match repo.backend().remove(FileKind::Pack, &id.to_hex()) {
            Ok(()) => {
                summary.packs_deleted += 1;
                summary.bytes_freed += size;
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let unmarked: HashSet<FileId> = plan.unmark.iter().copied().collect();
    let mut marked: Vec<(FileId, DateTime<Utc>)> = plan
        .marked_before
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
            .filter(|e| plan.used.contains(&e.id))
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
fn consolidate_index(repo: &Repository, deleted: &HashSet<FileId>) -> Result<usize> {
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
    for f in old_files.iter().filter(|f| **f != new_id) {
        match repo.backend().remove(FileKind::Index, &f.to_hex()) {
            Ok(()) => removed += 1,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
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
