//! `check`: is the repository whole, and if not, which generations and files are affected?
//!
//! Structure (always): key files, config, every index and snapshot file decrypts and matches its
//! name, every pack named by the index exists with the size the index implies, and every tree of every
//! generation reads and every chunk it names is in the index.
//! Data (`read_data`, or a subset of packs): every pack is read whole, its BLAKE3 must match its name,
//! its header must decrypt, and every blob in it must decrypt and hash to its id.
//!
//! Damage is reported as the generations and files it touches; nothing is repaired here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use kura_format::pack::{check_magic, decode_header, parse_trailer, TRAILER_LEN};
use kura_format::tree::NodeType;
use kura_format::{BlobId, FileId};
use kura_repo::{verify_file_id, Repository};
use kura_store::FileKind;
use serde::Serialize;

use crate::error::Result;
use crate::progress::Progress;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadData {
    None,
    All,
    /// Percentage of packs, chosen deterministically by pack id so repeated runs cover different packs
    /// as the repository grows (and the same ones for a given repository state).
    Percent(f64),
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    pub snapshots: usize,
    pub packs: usize,
    pub packs_read: usize,
    pub blobs: usize,
    /// Problems that mean data is missing or damaged.
    pub errors: Vec<String>,
    /// Things to tidy that lose nothing (unindexed packs from interrupted backups, stray temp files).
    pub notes: Vec<String>,
    /// Generation id → damaged or missing file paths in it.
    pub damaged_snapshots: BTreeMap<String, Vec<String>>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.damaged_snapshots.is_empty()
    }
}

pub fn check(
    repo: &Repository,
    read_data: ReadData,
    threads: usize,
    progress: &Progress,
) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    check_small_files(repo, &mut report)?;
    for (name, e) in repo.load_index()? {
        report.errors.push(format!("index {name}: {e}"));
    }
    let stored: HashMap<String, u64> = repo
        .backend()
        .list(FileKind::Pack)?
        .into_iter()
        .map(|f| (f.name, f.size))
        .collect();
    let by_pack = repo.index().by_pack();
    report.packs = by_pack.len();
    report.blobs = repo.index().blob_count();
    let mut bad_blobs: HashSet<BlobId> = HashSet::new();
    for (pack, entries) in &by_pack {
        match stored.get(&pack.to_hex()) {
            None => {
                report.errors.push(format!(
                    "pack {} is missing ({} blobs)",
                    pack.to_hex(),
                    entries.len()
                ));
                bad_blobs.extend(entries.iter().map(|e| e.id));
            }
            Some(size) => {
                let end = entries
                    .iter()
                    .map(|e| e.offset as u64 + e.length as u64)
                    .max()
                    .unwrap_or(0);
                if end + TRAILER_LEN as u64 > *size {
                    report.errors.push(format!(
                        "pack {} is truncated: {size} bytes, the index needs more than {end}",
                        pack.to_hex()
                    ));
                    bad_blobs.extend(entries.iter().map(|e| e.id));
                }
            }
        }
    }
    let indexed: HashSet<String> = by_pack.keys().map(|p| p.to_hex()).collect();
    let unindexed = stored.keys().filter(|p| !indexed.contains(*p)).count();
    if unindexed > 0 {
        report.notes.push(format!("{unindexed} pack(s) are not in the index (left by an interrupted backup or a lost index): `kura repair index` adds them, `kura prune` removes unused ones"));
    }
    if read_data != ReadData::None {
        let chosen: Vec<&FileId> = by_pack
            .keys()
            .filter(|p| selected(p, read_data) && stored.contains_key(&p.to_hex()))
            .collect();
        report.packs_read = chosen.len();
        let (errors, bad) = read_packs(repo, &by_pack, &chosen, threads, progress);
        report.errors.extend(errors);
        bad_blobs.extend(bad);
    }
    let list = repo.list_snapshots()?;
    for (name, e) in &list.damaged {
        report.errors.push(format!("snapshot {name}: {e}"));
        report
            .damaged_snapshots
            .entry(name.clone())
            .or_default()
            .push("(the generation itself cannot be read)".into());
    }
    report.snapshots = list.snapshots.len();
    let mut memo = TreeMemo::new();
    for s in &list.snapshots {
        let damaged = check_generation(repo, &s.snapshot.tree, &bad_blobs, &mut memo);
        if !damaged.is_empty() {
            report.damaged_snapshots.insert(s.id.to_hex(), damaged);
        }
    }
    Ok(report)
}

/// Config copies, key files and metadata records.
fn check_small_files(repo: &Repository, report: &mut CheckReport) -> Result<()> {
    let b = repo.backend();
    for name in ["config", kura_repo::CONFIG_COPY] {
        match b.read(FileKind::Config, name) {
            Ok(bytes) => {
                if repo
                    .key()
                    .open(
                        kura_format::crypto::ObjectKind::Config,
                        None,
                        &bytes,
                        1 << 20,
                    )
                    .is_err()
                {
                    report
                        .errors
                        .push(format!("{name} is damaged (the other copy is in use)"));
                }
            }
            Err(e) if e.is_not_found() => report
                .errors
                .push(format!("{name} is missing (the other copy is in use)")),
            Err(e) => report.errors.push(format!("{name}: {e}")),
        }
    }
    for name in kura_repo::keys::damaged_key_files(b.as_ref())? {
        report.errors.push(format!(
            "key file {name} is damaged; the repository opens with its other keys"
        ));
    }
    let (_, damaged) = repo.list_meta()?;
    for (name, e) in damaged {
        report.errors.push(format!(
            "metadata record {name}: {e} (forget and prune refuse to run until it is dealt with)"
        ));
    }
    Ok(())
}

fn selected(pack: &FileId, read_data: ReadData) -> bool {
    match read_data {
        ReadData::None => false,
        ReadData::All => true,
        ReadData::Percent(p) => {
            (u16::from_le_bytes([pack.0[0], pack.0[1]]) as f64) < p / 100.0 * 65536.0
        }
    }
}

/// Damaged paths below each tree already checked, relative to that tree. Generations share most
/// of their trees (a nightly backup changes a few directories), so each distinct tree is read and
/// checked once per `check`, not once per generation: with three generations of the 2 GiB
/// benchmark set that was 276,000 tree reads instead of 92,000, and most of check's time.
type TreeMemo = HashMap<BlobId, Vec<String>>;

/// Walk a generation; returns the paths whose trees or chunks are damaged or missing.
fn check_generation(
    repo: &Repository,
    tree: &BlobId,
    bad: &HashSet<BlobId>,
    memo: &mut TreeMemo,
) -> Vec<String> {
    match check_tree(repo, tree, bad, memo) {
        Ok(damaged) => damaged,
        Err(e) => vec![format!("(root tree: {e})")],
    }
}

/// The damaged paths below `tree` (relative to it), checked once per distinct tree.
fn check_tree(
    repo: &Repository,
    tree: &BlobId,
    bad: &HashSet<BlobId>,
    memo: &mut TreeMemo,
) -> Result<Vec<String>> {
    if let Some(known) = memo.get(tree) {
        return Ok(known.clone());
    }
    let t = repo.read_tree(tree)?;
    let mut damaged = Vec::new();
    let mut seen = HashSet::with_capacity(t.nodes.len());
    for node in &t.nodes {
        let name = String::from_utf8_lossy(
            &node
                .validate_name()
                .map_err(|e| kura_repo::RepoError::damaged(format!("tree {}", tree.short()), e))?,
        )
        .into_owned();
        if !seen.insert(name.clone()) {
            return Err(crate::error::EngineError::Invalid(format!(
                "tree {} lists {name:?} twice: refused as crafted or damaged",
                tree.short()
            )));
        }
        if node.node_type == NodeType::Dir {
            match node.subtree {
                Some(sub) if bad.contains(&sub) || !repo.has_blob(&sub) => {
                    damaged.push(format!("{name}/ (directory listing damaged or missing)"));
                }
                Some(sub) => match check_tree(repo, &sub, bad, memo) {
                    Ok(below) => damaged.extend(below.into_iter().map(|p| format!("{name}/{p}"))),
                    Err(err) => damaged.push(format!("{name}/ ({err})")),
                },
                None => damaged.push(format!("{name}/ (no listing)")),
            }
        } else if node
            .content
            .iter()
            .any(|id| bad.contains(id) || !repo.has_blob(id))
        {
            damaged.push(name);
        }
    }
    memo.insert(*tree, damaged.clone());
    Ok(damaged)
}

fn read_packs(
    repo: &Repository,
    by_pack: &HashMap<
        FileId,
        Vec<kura_format::pack::PackEntry>,
        std::hash::BuildHasherDefault<kura_repo::index::IdHasher>,
    >,
    chosen: &[&FileId],
    threads: usize,
    progress: &Progress,
) -> (Vec<String>, HashSet<BlobId>) {
    let next = AtomicUsize::new(0);
    let out = Mutex::new((Vec::new(), HashSet::new()));
    let threads = if threads == 0 {
        num_cpus::get().max(1)
    } else {
        threads
    };
    Progress::add(&progress.files_total, chosen.len() as u64);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(pack) = chosen.get(k) else { break };
                let entries = &by_pack[*pack];
                let (errs, bad) = verify_pack(repo, pack, entries);
                Progress::add(&progress.files_done, 1);
                let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
                o.0.extend(errs);
                o.1.extend(bad);
            });
        }
    });
    out.into_inner().unwrap_or_else(|p| p.into_inner())
}

fn verify_pack(
    repo: &Repository,
    pack: &FileId,
    entries: &[kura_format::pack::PackEntry],
) -> (Vec<String>, Vec<BlobId>) {
    let name = pack.to_hex();
    let all_bad = |msg: String| (vec![msg], entries.iter().map(|e| e.id).collect());
    let bytes = match repo.backend().read(FileKind::Pack, &name) {
        Ok(b) => b,
        Err(e) => return all_bad(format!("pack {name}: {e}")),
    };
    let mut errors = Vec::new();
    if verify_file_id(&name, &bytes).is_err() {
        errors.push(format!(
            "pack {name}: its content does not match its name (damaged or altered)"
        ));
    }
    if let Err(e) = header_matches(repo, &bytes, entries) {
        errors.push(format!("pack {name}: {e}"));
    }
    let mut bad = Vec::new();
    for e in entries {
        let range = e.offset as usize..e.offset as usize + e.length as usize;
        let ok = bytes.get(range).is_some_and(|sealed| {
            let loc = kura_repo::BlobLocation {
                pack: 0,
                offset: e.offset,
                length: e.length,
                raw_len: e.raw_len,
                kind: e.kind,
            };
            repo.open_blob(&e.id, pack, &loc, sealed).is_ok()
        });
        if !ok {
            bad.push(e.id);
        }
    }
    if !bad.is_empty() {
        errors.push(format!(
            "pack {name}: {} of {} blobs are damaged",
            bad.len(),
            entries.len()
        ));
    }
    (errors, bad)
}

fn header_matches(
    repo: &Repository,
    bytes: &[u8],
    entries: &[kura_format::pack::PackEntry],
) -> std::result::Result<(), String> {
    check_magic(bytes).map_err(|e| e.to_string())?;
    let n = bytes.len();
    if n < TRAILER_LEN {
        return Err("too short".into());
    }
    let h = parse_trailer(&bytes[n - TRAILER_LEN..], n as u64).map_err(|e| e.to_string())? as usize;
    let header = decode_header(
        repo.key(),
        &bytes[n - TRAILER_LEN - h..n - TRAILER_LEN],
        n as u64,
    )
    .map_err(|e| e.to_string())?;
    let listed: HashSet<BlobId> = header.iter().map(|e| e.id).collect();
    if let Some(missing) = entries.iter().find(|e| !listed.contains(&e.id)) {
        return Err(format!(
            "the index lists blob {} that the pack header does not",
            missing.id.short()
        ));
    }
    Ok(())
}
