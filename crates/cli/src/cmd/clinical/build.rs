//! Building the clinical index of a generation from its stored tree.
//!
//! The files are read from the repository, not from the source: the index then describes
//! exactly what the generation holds, even if the source changed during the backup.
//!
//! Incremental: a file's content id is derived from its content blob ids (keyed BLAKE3 of its
//! chunks, already in the tree), so deciding that a file is unchanged costs no read at all;
//! its extract is taken over from the previous index ([`ClinicalIndexBuilder::keep_unchanged`]).
//! SS-MIX2 files whose name says they are not a current version (`_0`, `_2`), or that are not
//! SS-MIX2 names at all, are indexed from the name alone. Only the remaining files are read, in
//! batches spread over worker threads.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use kura_clinical::ssmix2::path::{ConditionFlag, Ssmix2Name};
use kura_clinical::{ClinicalIndex, ClinicalIndexBuilder, FileExtract, FileFormat};
use kura_engine::walk::{dump_file, find_node};
use kura_format::snapshot::Snapshot;
use kura_format::tree::{Node, NodeType};
use kura_format::{BlobId, FileId};
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::Repository;

use kura_engine::clinical_store::NotParsed;

/// Files larger than this are not parsed: no SS-MIX2 message or JP-CLINS bundle comes near it,
/// and reading a stray multi-gigabyte image into memory would stall the backup.
pub const MAX_PARSE_BYTES: u64 = 64 << 20;
/// Files read per parallel batch: large enough to keep the workers busy, small enough that
/// the bytes of one batch stay a few megabytes.
const BATCH: usize = 256;

/// The index of one generation and the files it does not cover.
pub struct Built {
    pub index: ClinicalIndex,
    pub not_parsed: Vec<NotParsed>,
    /// Files reused because their whole directory was unchanged (its trees were not read).
    pub kept_by_tree: usize,
}

/// The content id of a file: BLAKE3 over its content blob ids. Equal ids mean equal bytes
/// (the blob ids are keyed hashes of the chunks), and it is known without reading the file.
pub fn content_id(content: &[BlobId]) -> String {
    let mut joined = Vec::with_capacity(content.len() * 32);
    for id in content {
        joined.extend_from_slice(&id.0);
    }
    FileId::of(&joined).to_hex()
}

/// The date the 90-day medication window ends at: the day the generation was committed, in
/// local time (a hospital's day, not UTC's).
pub fn as_of(entry: &SnapshotEntry) -> chrono::NaiveDate {
    entry
        .snapshot
        .committed_at
        .with_timezone(&chrono::Local)
        .date_naive()
}

struct Job {
    rel: String,
    cid: String,
    node: Node,
}

struct Run<'r> {
    repo: &'r Repository,
    format: FileFormat,
    threads: usize,
    builder: ClinicalIndexBuilder,
    batch: Vec<Job>,
    not_parsed: Vec<NotParsed>,
    /// The previous index's files (path → content id) and uncovered files, for whole
    /// unchanged subtrees.
    prev_files: BTreeMap<String, String>,
    prev_not_parsed: Vec<NotParsed>,
    /// Files taken over with their whole unchanged directory, without reading its trees.
    kept_by_tree: usize,
}

/// The extracts a build reuses, with the generation they describe.
pub struct Previous {
    pub files: BTreeMap<String, FileExtract>,
    pub tree: BlobId,
    pub paths: Vec<String>,
    pub not_parsed: Vec<NotParsed>,
}

/// Build the index of `entry`, reusing `previous` for unchanged files.
pub fn build(
    repo: &Repository,
    entry: &SnapshotEntry,
    format: FileFormat,
    previous: Option<Previous>,
    threads: usize,
) -> Result<Built> {
    let snap = &entry.snapshot;
    // Directories can be compared with the previous generation only if both backed up the
    // same paths (then equal tree paths mean equal relative names).
    let prev_tree = previous
        .as_ref()
        .filter(|p| p.paths == snap.paths)
        .map(|p| p.tree);
    let (extracts, prev_files, prev_not_parsed) = match previous {
        Some(p) if prev_tree.is_some() => {
            let files = p.files.iter();
            let files = files.map(|(k, ex)| (k.clone(), ex.content_id.clone()));
            let files = files.collect();
            (p.files, files, p.not_parsed)
        }
        Some(p) => (p.files, BTreeMap::new(), Vec::new()),
        None => (BTreeMap::new(), BTreeMap::new(), Vec::new()),
    };
    let mut run = Run {
        repo,
        format,
        threads: threads.max(1),
        builder: ClinicalIndexBuilder::with_extracts(extracts),
        batch: Vec::with_capacity(BATCH),
        not_parsed: Vec::new(),
        prev_files,
        prev_not_parsed,
        kept_by_tree: 0,
    };
    for path in &snap.paths {
        run.walk_root(snap, prev_tree.as_ref(), path)?;
    }
    run.flush();
    Ok(Built {
        index: run.builder.finish(as_of(entry)),
        not_parsed: run.not_parsed,
        kept_by_tree: run.kept_by_tree,
    })
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// True when the parser needs this SS-MIX2 file's bytes: a current (`_1`) version with a valid
/// name. Retired versions and foreign names are decided from the path.
fn ssmix2_needs_bytes(rel: &str) -> bool {
    Ssmix2Name::parse(rel).is_ok_and(|n| n.flag == ConditionFlag::Current)
}

impl Run<'_> {
    /// Walk one backed-up path. With several paths, relative names could collide: the full
    /// paths are kept then.
    fn walk_root(&mut self, snap: &Snapshot, prev_tree: Option<&BlobId>, path: &str) -> Result<()> {
        let several = snap.paths.len() > 1;
        let tree_path = path.trim_start_matches('/');
        let Some(root) = find_node(self.repo, &snap.tree, tree_path)? else {
            return Ok(());
        };
        let prefix = if several { tree_path } else { "" };
        match (root.node_type, root.subtree) {
            (NodeType::Dir, Some(sub)) => {
                let old = match prev_tree {
                    Some(t) => find_node(self.repo, t, tree_path)?.and_then(|n| n.subtree),
                    None => None,
                };
                self.walk(&sub, old.as_ref(), prefix)?;
            }
            (NodeType::File, _) => {
                let rel = if several {
                    tree_path.to_string()
                } else {
                    root.name.clone()
                };
                self.visit(rel, &root);
            }
            _ => {}
        }
        Ok(())
    }

    /// Walk `tree` (at relative path `prefix`) beside the previous generation's tree at the
    /// same path. An identical subtree id means identical content below it (trees are
    /// content-addressed), so its files are taken over from the previous index without reading
    /// a single tree: an unchanged hospital costs one tree read per changed directory.
    fn walk(&mut self, tree: &BlobId, old: Option<&BlobId>, prefix: &str) -> Result<()> {
        if old == Some(tree) {
            self.keep_subtree(prefix);
            return Ok(());
        }
        let nodes = self.repo.read_tree(tree)?.nodes;
        // The old tree only helps; if it cannot be read, its directories are walked in full.
        let old_dirs: HashMap<String, BlobId> = old
            .and_then(|t| self.repo.read_tree(t).ok())
            .map(|t| {
                let dirs = t.nodes.into_iter().filter(|n| n.node_type == NodeType::Dir);
                dirs.filter_map(|n| Some((n.name, n.subtree?))).collect()
            })
            .unwrap_or_default();
        for node in nodes {
            let name = node.validate_name()?;
            let path = join(prefix, &String::from_utf8_lossy(&name));
            match (node.node_type, node.subtree) {
                (NodeType::Dir, Some(sub)) => self.walk(&sub, old_dirs.get(&node.name), &path)?,
                (NodeType::File, _) => self.visit(path, &node),
                _ => {}
            }
        }
        Ok(())
    }

    fn keep_subtree(&mut self, prefix: &str) {
        let start = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let below = self.prev_files.range(start.clone()..);
        for (path, cid) in below.take_while(|(p, _)| p.starts_with(&start)) {
            if self.builder.keep_unchanged(path, cid) {
                self.kept_by_tree += 1;
            }
        }
        // Files the previous index did not cover (too large, unreadable) are still there.
        let uncovered = self
            .prev_not_parsed
            .iter()
            .filter(|n| n.path.starts_with(&start));
        self.not_parsed.extend(uncovered.cloned());
    }

    fn visit(&mut self, rel: String, node: &Node) {
        let cid = content_id(&node.content);
        if self.builder.keep_unchanged(&rel, &cid) {
            return;
        }
        if self.format == FileFormat::Ssmix2 && !ssmix2_needs_bytes(&rel) {
            self.builder.add_file(&rel, &cid, &[], self.format);
            return;
        }
        if node.size > MAX_PARSE_BYTES {
            self.not_parsed.push(NotParsed {
                path: rel,
                reason: format!(
                    "{} bytes, larger than the {} MiB a clinical message can be; not parsed",
                    node.size,
                    MAX_PARSE_BYTES >> 20
                ),
            });
            return;
        }
        self.batch.push(Job {
            rel,
            cid,
            node: node.clone(),
        });
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let jobs = std::mem::take(&mut self.batch);
        for result in parse_parallel(self.repo, self.format, self.threads, &jobs) {
            match result {
                Ok(extract) => {
                    self.builder.add_extract(extract);
                }
                Err(np) => self.not_parsed.push(np),
            }
        }
    }
}

/// Read and parse `jobs` on up to `threads` threads; results come back in job order.
fn parse_parallel(
    repo: &Repository,
    format: FileFormat,
    threads: usize,
    jobs: &[Job],
) -> Vec<Result<FileExtract, NotParsed>> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let per_thread = jobs.len().div_ceil(threads.max(1));
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(per_thread)
            .map(|chunk| {
                let handle = s.spawn(move || {
                    chunk
                        .iter()
                        .map(|j| parse_one(repo, format, j))
                        .collect::<Vec<_>>()
                });
                (chunk, handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(chunk, handle)| {
                // The readers are written never to panic; if one does anyway, the files of
                // that batch are reported instead of taking the backup down.
                handle.join().unwrap_or_else(|_| {
                    chunk
                        .iter()
                        .map(|j| {
                            Err(NotParsed {
                                path: j.rel.clone(),
                                reason: "the parser failed on this batch; report this as a bug"
                                    .into(),
                            })
                        })
                        .collect()
                })
            })
            .collect()
    })
}

fn parse_one(repo: &Repository, format: FileFormat, job: &Job) -> Result<FileExtract, NotParsed> {
    let mut bytes = Vec::with_capacity(job.node.size.min(MAX_PARSE_BYTES) as usize);
    dump_file(repo, &job.node, &mut bytes).map_err(|e| NotParsed {
        path: job.rel.clone(),
        reason: format!("cannot be read from the repository ({e}); run `kura check --read-data`"),
    })?;
    Ok(FileExtract::read(&job.rel, &job.cid, &bytes, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_id_depends_on_every_blob_and_their_order() {
        let a = BlobId([1; 32]);
        let b = BlobId([2; 32]);
        assert_eq!(content_id(&[a, b]), content_id(&[a, b]));
        assert_ne!(content_id(&[a, b]), content_id(&[b, a]));
        assert_ne!(content_id(&[a]), content_id(&[a, b]));
        assert_eq!(content_id(&[]).len(), 64);
    }

    #[test]
    fn only_current_ssmix2_versions_are_read() {
        let base = "999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111219150000000_-_";
        assert!(ssmix2_needs_bytes(&format!("{base}1")));
        assert!(!ssmix2_needs_bytes(&format!("{base}2")));
        assert!(!ssmix2_needs_bytes(&format!("{base}0")));
        assert!(!ssmix2_needs_bytes("999/README.txt"));
    }
}
