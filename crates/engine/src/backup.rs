//! The backup pipeline.
//!
//! Three kinds of thread cooperate:
//! - the **walker** (the calling thread) walks the source depth-first, compares each entry with the
//!   parent generation, and emits an *ordered* stream of events: enter a directory, a finished node,
//!   a file whose content is being read, leave a directory. Unchanged files are finished at once
//!   from the parent's node: they cost no reads.
//! - **workers** (one per core) read, chunk, hash, compress, encrypt and pack changed files. Many
//!   files are in flight at once, across directories, which is what makes millions of small SS-MIX2
//!   files fast.
//! - the **assembler** consumes the ordered stream, waits for each file's result in order, and builds
//!   and stores each directory's tree when the directory is left.
//!
//! The event channel is bounded, so the walker stays at most a few thousand entries ahead and memory
//! stays flat whatever the size of the tree.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use chrono::Utc;
use crossbeam_channel::{bounded, Receiver, Sender};
use kura_format::pack::BlobKind;
use kura_format::snapshot::{Snapshot, SnapshotStats};
use kura_format::tree::{Node, NodeType, Tree};
use kura_format::{BlobId, FileId};
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::{BlobWriter, Repository};

use crate::chunker::Chunker;
use crate::detect::{from_stored, to_stored, Observer, SignalAccumulator};
use crate::error::{EngineError, Result};
use crate::exclude::Excludes;
use crate::fsmeta::{node_from_metadata, unchanged};
use crate::prefetch::{parent_map, ParentMap, TreePrefetch};
use crate::progress::Progress;
use crate::seal_pool::{SealPool, POOL_MIN_FILE};
use kura_anomaly::{ChangeKind, FileSignals, FileSummary};

/// What to back up.
pub enum BackupInput {
    Paths(Vec<PathBuf>),
    /// One stream stored as a file named `name` at the root of the generation.
    Stream {
        name: String,
        reader: Box<dyn Read + Send>,
    },
    /// The standard output of a command (e.g. `pg_dump`), stored as a file named `name`. The
    /// generation is committed only if the command exits successfully: a dump that failed halfway
    /// must never become a generation someone restores from.
    Command {
        name: String,
        argv: Vec<String>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    pub source: String,
    pub tags: Vec<String>,
    pub excludes: Vec<String>,
    pub host: Option<String>,
    /// Read every file even if it looks unchanged.
    pub force: bool,
    pub threads: usize,
    pub lock_days: Option<u32>,
    /// Paths recorded in the snapshot for a stream input (e.g. the command that produced it).
    pub stream_paths: Vec<String>,
    /// Compute ransomware signals and a verdict (on by default in the CLI).
    pub detect: bool,
}

/// A problem with one file that did not stop the backup.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BackupWarning {
    pub path: String,
    pub message: String,
}

pub struct BackupResult {
    pub id: FileId,
    pub snapshot: Snapshot,
    pub parent: Option<FileId>,
    pub warnings: Vec<BackupWarning>,
}

enum Event {
    Enter,
    Leaf(Node),
    File(Node, Receiver<FileOutcome>, FileContext),
    /// A directory is done. With `Some(tree)`, it is identical to its parent-generation directory
    /// (every entry unchanged, none added or removed), whose stored tree is reused as is.
    Leave(Node, Option<BlobId>),
}

/// What the detector needs to know about a file being read, besides its new content.
struct FileContext {
    /// Path inside the generation, `/`-separated.
    path: String,
    previous: Option<FileSummary>,
    is_new: bool,
}

type FileOutcome = std::result::Result<(Vec<BlobId>, Option<FileSignals>), String>;

struct Job {
    path: PathBuf,
    reply: Sender<FileOutcome>,
}

#[derive(Default)]
struct Counters {
    files_new: u64,
    files_changed: u64,
    files_unchanged: u64,
    dirs: u64,
    bytes_total: u64,
}

/// Shared state of one backup run.
struct Run<'a> {
    repo: &'a Repository,
    writer: BlobWriter<'a>,
    chunker: Chunker,
    progress: &'a Progress,
    warnings: Mutex<Vec<BackupWarning>>,
    excludes: Excludes,
    repo_root: Option<PathBuf>,
    /// Ransomware signals of this generation (None when detection is off).
    observer: Option<Observer>,
    /// Idle threads' help with sealing the chunks of large files.
    seal: SealPool,
}

impl Run<'_> {
    fn warn(&self, path: &Path, message: impl Into<String>) {
        Progress::add(&self.progress.errors, 1);
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(BackupWarning {
                path: path.display().to_string(),
                message: message.into(),
            });
    }

    /// Chunk and store a stream; returns its content ids. The bytes also feed the signal
    /// accumulator, if any: detection reads nothing twice.
    /// With `large`, the chunks' sealing is shared with the seal pool (see `seal_pool`).
    fn store_stream(
        &self,
        reader: impl Read,
        mut acc: Option<&mut SignalAccumulator>,
        large: bool,
    ) -> Result<Vec<BlobId>> {
        let mut ids = Vec::new();
        let mut batch = large.then(|| self.seal.batch(&self.writer));
        let chunked = self
            .chunker
            .for_each_chunk::<_, EngineError>(reader, |chunk| {
                if let Some(a) = acc.as_deref_mut() {
                    a.update(chunk);
                }
                let id = self.repo.key().blob_id(chunk);
                match batch.as_mut() {
                    Some(b) => b.add(id, chunk)?,
                    None => {
                        self.writer.add_with_id(BlobKind::Data, id, chunk)?;
                    }
                }
                Progress::add(&self.progress.bytes_done, chunk.len() as u64);
                ids.push(id);
                Ok(())
            });
        // Wait for the pool even after a read error: no chunk may still be in flight once the
        // file's outcome is reported.
        let sealed = batch.map_or(Ok(()), |b| b.finish());
        chunked?;
        sealed?;
        Ok(ids)
    }

    /// Worker body for one file. Errors that concern only this file become warnings.
    fn read_file(&self, path: &Path) -> std::result::Result<FileOutcome, EngineError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return Ok(Err(format!("cannot open: {e}"))),
        };
        let before = file.metadata().map_err(|e| EngineError::io(path, e))?;
        let mut acc = self.observer.as_ref().map(|_| SignalAccumulator::new());
        let large = before.size() >= POOL_MIN_FILE;
        match self.store_stream(&file, acc.as_mut(), large) {
            Ok(ids) => {
                if let Ok(after) = file.metadata() {
                    if after.size() != before.size()
                        || after.mtime() != before.mtime()
                        || after.mtime_nsec() != before.mtime_nsec()
                    {
                        self.warn(path, "file changed while it was read; the version stored may be inconsistent");
                    }
                }
                Progress::add(&self.progress.files_done, 1);
                Ok(Ok((ids, acc.map(SignalAccumulator::finish))))
            }
            Err(EngineError::Repo(e)) => Err(EngineError::Repo(e)),
            Err(e) => Ok(Err(format!("read failed: {e}"))),
        }
    }
}

/// The directory structure above the given paths: `/data/ehr` and `/data/ssmix2` share `data`.
#[derive(Default)]
struct VirtualDir {
    children: BTreeMap<Vec<u8>, VirtualEntry>,
}

enum VirtualEntry {
    Real(PathBuf),
    Dir(PathBuf, VirtualDir),
}

fn virtual_root(paths: &[PathBuf]) -> Result<VirtualDir> {
    let mut root = VirtualDir::default();
    let mut sorted: Vec<PathBuf> = paths.to_vec();
    sorted.sort();
    for path in sorted {
        let comps: Vec<&std::ffi::OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s),
                _ => None,
            })
            .collect();
        if comps.is_empty() {
            return Err(EngineError::Invalid(format!(
                "cannot back up {}: name a directory below it",
                path.display()
            )));
        }
        let mut dir = &mut root;
        let mut prefix = PathBuf::from("/");
        for (i, c) in comps.iter().enumerate() {
            prefix.push(c);
            let key = c.as_bytes().to_vec();
            if i + 1 == comps.len() {
                dir.children.insert(key, VirtualEntry::Real(path.clone()));
                break;
            }
            let entry = dir
                .children
                .entry(key)
                .or_insert_with(|| VirtualEntry::Dir(prefix.clone(), VirtualDir::default()));
            match entry {
                VirtualEntry::Dir(_, sub) => dir = sub,
                VirtualEntry::Real(_) => break, // an ancestor is already backed up whole
            }
        }
    }
    Ok(root)
}

/// Events travel to the assembler in batches of this many: one message per entry made thread
/// wake-ups a quarter of a no-change backup's CPU (BENCHMARKS.md).
const EVENT_BATCH: usize = 256;

struct Walker<'r, 'a> {
    run: &'r Run<'a>,
    prefetch: &'r TreePrefetch<'a>,
    events: Sender<Vec<Event>>,
    /// Events not yet sent (see [`EVENT_BATCH`]); flushed when full and at the end of the walk.
    pending: std::cell::RefCell<Vec<Event>>,
    /// How many batches were sent: a directory whose events are all still pending can have them
    /// replaced by one leaf (see `walk_dir`).
    flushes: std::cell::Cell<u64>,
    jobs: Sender<Job>,
    counters: Counters,
    force: bool,
    /// Path of the directory being walked, inside the generation.
    rel: Vec<u8>,
}

impl Walker<'_, '_> {
    fn send(&self, e: Event) -> Result<()> {
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.push(e);
            pending.len() >= EVENT_BATCH
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Send the pending events. Nothing the walker waits for depends on the assembler (workers
    /// reply into channels with room), so holding events back cannot deadlock.
    fn flush(&self) -> Result<()> {
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        if batch.is_empty() {
            return Ok(());
        }
        self.flushes.set(self.flushes.get() + 1);
        self.events
            .send(batch)
            .map_err(|_| EngineError::Invalid("backup pipeline stopped".into()))
    }

    fn walk_virtual(&mut self, dir: &VirtualDir, parent: &ParentMap) -> Result<()> {
        for (name, entry) in &dir.children {
            let prev = parent.get(name);
            match entry {
                VirtualEntry::Real(path) => {
                    self.walk_path(name, path, prev)?;
                }
                VirtualEntry::Dir(path, sub) => {
                    let meta = fs::metadata(path).map_err(|e| EngineError::io(path, e))?;
                    let node = node_from_metadata(name, path, &meta)
                        .map_err(|e| EngineError::io(path, e))?;
                    let sub_parent = self.prefetch.take(prev.and_then(|p| p.subtree.as_ref()));
                    self.prefetch.request_children(&sub_parent);
                    self.send(Event::Enter)?;
                    let len = self.push_rel(name);
                    self.walk_virtual(sub, &sub_parent)?;
                    self.rel.truncate(len);
                    self.send(Event::Leave(node, None))?;
                }
            }
        }
        Ok(())
    }

    /// Walk one entry. Returns None when nothing was emitted for it (excluded, skipped), else
    /// whether it is identical to its node in the parent generation.
    fn walk_path(&mut self, name: &[u8], path: &Path, prev: Option<&Node>) -> Result<Option<bool>> {
        self.walk_entry(name, path, fs::symlink_metadata(path), prev)
    }

    /// Walk one entry whose `lstat` was already attempted (`meta`); as [`Self::walk_path`].
    fn walk_entry(
        &mut self,
        name: &[u8],
        path: &Path,
        meta: std::io::Result<fs::Metadata>,
        prev: Option<&Node>,
    ) -> Result<Option<bool>> {
        if self.run.excludes.is_excluded(path) {
            return Ok(None);
        }
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                self.run.warn(path, format!("skipped: {e}"));
                return Ok(None);
            }
        };
        let node = match node_from_metadata(name, path, &meta) {
            Ok(n) => n,
            Err(e) => {
                self.run.warn(path, format!("skipped: {e}"));
                return Ok(None);
            }
        };
        match node.node_type {
            NodeType::File => self.walk_file(node, path, prev).map(Some),
            NodeType::Dir => {
                if self.run.repo_root.as_deref() == Some(path) {
                    self.run
                        .warn(path, "skipped: this is the repository itself");
                    return Ok(None);
                }
                self.walk_dir(node, name, path, prev).map(Some)
            }
            _ => {
                let same = prev == Some(&node);
                self.send(Event::Leaf(node))?;
                Ok(Some(same))
            }
        }
    }

    fn walk_dir(
        &mut self,
        mut node: Node,
        name: &[u8],
        path: &Path,
        prev: Option<&Node>,
    ) -> Result<bool> {
        self.counters.dirs += 1;
        let prev_tree = prev.and_then(|p| p.subtree);
        let parent = self.prefetch.take(prev_tree.as_ref());
        self.prefetch.request_children(&parent);
        let mark = (self.flushes.get(), self.pending.borrow().len());
        self.send(Event::Enter)?;
        let len = self.push_rel(name);
        let all_same = self.walk_dir_entries(path, &parent)?;
        self.rel.truncate(len);
        node.size = 0;
        // Identical to the parent's directory, entries and all: its stored tree is reused, so the
        // assembler neither serializes nor hashes it again.
        let reuse = prev_tree.filter(|_| all_same).filter(|t| {
            node.subtree = Some(*t);
            let same = prev == Some(&node);
            node.subtree = None;
            same
        });
        // Nothing below changed and none of it was sent yet: the assembler gets the directory as
        // one leaf holding the parent's tree instead of an event per entry it would only drop.
        let unsent = self.flushes.get() == mark.0;
        if let Some(tree) = reuse.filter(|t| unsent && self.run.repo.has_blob(t)) {
            node.subtree = Some(tree);
            let mut pending = self.pending.borrow_mut();
            pending.truncate(mark.1);
            pending.push(Event::Leaf(node));
            return Ok(true);
        }
        self.send(Event::Leave(node, reuse))?;
        Ok(reuse.is_some())
    }

    /// Walk a directory's entries; returns whether they are exactly the parent's, all unchanged.
    fn walk_dir_entries(&mut self, path: &Path, parent: &ParentMap) -> Result<bool> {
        let entries = self.list_and_stat(path);
        let mut names = Vec::with_capacity(entries.len());
        let (mut emitted, mut all_same, mut in_parent) = (0usize, true, 0usize);
        for (name, meta) in entries {
            let bytes = name.into_vec();
            let child = path.join(std::ffi::OsStr::from_bytes(&bytes));
            let prev = parent.get(&bytes);
            in_parent += usize::from(prev.is_some());
            if let Some(same) = self.walk_entry(&bytes, &child, meta, prev)? {
                emitted += 1;
                all_same &= same;
            }
            names.push(bytes);
        }
        // Detection records the parent's names that are gone. When every one of them is still
        // here (the usual case, and always in a no-change backup) there is nothing to look up:
        // this keeps detection's cost per unchanged entry at one counter.
        if self.run.observer.is_some() && in_parent < parent.len() {
            let seen: std::collections::HashSet<&[u8]> = names.iter().map(Vec::as_slice).collect();
            for (name, gone) in parent.iter().filter(|(n, _)| !seen.contains(n.as_slice())) {
                self.record_deleted(name, gone);
            }
        }
        Ok(all_same && emitted == parent.len())
    }

    /// A directory's entries in name order, each with its `lstat` metadata. The metadata comes
    /// from the directory entry (`statx` relative to the open directory), not from the full
    /// path: resolving every component of every path again was most of the kernel's share of a
    /// no-change backup (BENCHMARKS.md, "No-change backup"). Everything is stat'ed before any
    /// subdirectory is entered, so only one directory is open at a time, however deep the tree.
    fn list_and_stat(&self, path: &Path) -> Vec<(OsString, std::io::Result<fs::Metadata>)> {
        let mut out = Vec::new();
        match fs::read_dir(path) {
            Ok(rd) => {
                for entry in rd {
                    match entry {
                        Ok(e) => out.push((e.file_name(), e.metadata())),
                        Err(e) => self.run.warn(path, format!("listing incomplete: {e}")),
                    }
                }
            }
            Err(e) => self.run.warn(path, format!("cannot list directory: {e}")),
        }
        out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out
    }

    /// Append a name to the current relative path; returns the length to truncate back to.
    fn push_rel(&mut self, name: &[u8]) -> usize {
        let len = self.rel.len();
        if !self.rel.is_empty() {
            self.rel.push(b'/');
        }
        self.rel.extend_from_slice(name);
        len
    }

    fn rel_path(&self, name: &[u8]) -> String {
        let mut p = self.rel.clone();
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(name);
        String::from_utf8_lossy(&p).into_owned()
    }

    /// A file (or every file of a directory) of the parent generation that is gone now.
    fn record_deleted(&self, name: &[u8], gone: &Node) {
        let Some(observer) = &self.run.observer else {
            return;
        };
        let path = self.rel_path(name);
        match (gone.node_type, gone.subtree) {
            (NodeType::File, _) => {
                let prev = gone.sig.as_ref().and_then(|s| from_stored(s, gone.size));
                observer.record(
                    path,
                    ChangeKind::Deleted,
                    gone.size,
                    None,
                    prev,
                    gone.content.clone(),
                );
            }
            (NodeType::Dir, Some(sub)) => {
                let _ = crate::walk::walk_tree(self.run.repo, &sub, path.as_bytes(), &mut |e| {
                    if e.node.node_type == NodeType::File {
                        let prev = e
                            .node
                            .sig
                            .as_ref()
                            .and_then(|s| from_stored(s, e.node.size));
                        let p = String::from_utf8_lossy(&e.path).into_owned();
                        observer.record(
                            p,
                            ChangeKind::Deleted,
                            e.node.size,
                            None,
                            prev,
                            e.node.content.clone(),
                        );
                    }
                    Ok(true)
                });
            }
            _ => {}
        }
    }

    /// Returns whether the file's node is identical to the parent's (unchanged, not re-read).
    fn walk_file(&mut self, mut node: Node, path: &Path, prev: Option<&Node>) -> Result<bool> {
        self.counters.bytes_total += node.size;
        Progress::add(&self.run.progress.files_total, 1);
        Progress::add(&self.run.progress.bytes_total, node.size);
        if let Some(p) = prev.filter(|p| !self.force && unchanged(&node, p)) {
            if p.content.iter().all(|id| self.run.repo.has_blob(id)) {
                node.content = p.content.clone();
                node.sig = p.sig.clone();
                self.counters.files_unchanged += 1;
                Progress::add(&self.run.progress.files_done, 1);
                let same = node == *p;
                self.send(Event::Leaf(node))?;
                return Ok(same);
            }
        }
        if prev.is_some() {
            self.counters.files_changed += 1;
        } else {
            self.counters.files_new += 1;
        }
        if node.size == 0 {
            Progress::add(&self.run.progress.files_done, 1);
            self.send(Event::Leaf(node))?;
            return Ok(false);
        }
        let (tx, rx) = bounded(1);
        self.jobs
            .send(Job {
                path: path.to_path_buf(),
                reply: tx,
            })
            .map_err(|_| EngineError::Invalid("backup workers stopped".into()))?;
        let name = node.name_bytes().unwrap_or_default();
        let ctx = FileContext {
            path: self.rel_path(&name),
            previous: prev.and_then(|p| p.sig.as_ref().and_then(|s| from_stored(s, p.size))),
            is_new: prev.is_none(),
        };
        self.send(Event::File(node, rx, ctx))?;
        Ok(false)
    }
}

/// Build trees from the ordered events; returns the root tree id.
fn assemble(run: &Run, events: Receiver<Vec<Event>>) -> Result<BlobId> {
    let mut stack: Vec<Vec<Node>> = vec![Vec::new()];
    for event in events.into_iter().flatten() {
        match event {
            Event::Enter => stack.push(Vec::new()),
            Event::Leaf(node) => stack.last_mut().expect("stack has a root").push(node),
            Event::File(mut node, rx, ctx) => match rx.recv() {
                Ok(Ok((content, signals))) => {
                    if let (Some(observer), Some(sig)) = (&run.observer, &signals) {
                        node.sig = Some(to_stored(&sig.summary()));
                        let kind = if ctx.is_new {
                            ChangeKind::New
                        } else {
                            ChangeKind::Changed
                        };
                        observer.record(
                            ctx.path,
                            kind,
                            node.size,
                            signals,
                            ctx.previous,
                            content.clone(),
                        );
                    }
                    node.content = content;
                    stack.last_mut().expect("stack has a root").push(node);
                }
                Ok(Err(msg)) => run.warn(Path::new(&node.name), msg),
                Err(_) => {
                    return Err(EngineError::Invalid(
                        "a backup worker stopped; see the error above".into(),
                    ))
                }
            },
            Event::Leave(mut node, reuse) => {
                let children = stack.pop().expect("leave matches enter");
                node.subtree = Some(match reuse.filter(|t| run.repo.has_blob(t)) {
                    Some(tree) => tree,
                    None => store_tree(run, children)?,
                });
                stack
                    .last_mut()
                    .ok_or_else(|| EngineError::Invalid("unbalanced directory events".into()))?
                    .push(node);
            }
        }
    }
    let root = stack.pop().unwrap_or_default();
    store_tree(run, root)
}

fn store_tree(run: &Run, nodes: Vec<Node>) -> Result<BlobId> {
    let mut tree = Tree { nodes };
    tree.sort();
    let (id, _) = run.writer.add(BlobKind::Tree, &tree.to_json())?;
    Ok(id)
}

/// The newest generation of the same source and paths, whose nodes are compared with the files.
pub fn find_parent(
    repo: &Repository,
    source: &str,
    paths: &[String],
) -> Result<Option<(FileId, Snapshot)>> {
    Ok(parent_in(&repo.list_snapshots()?.snapshots, source, paths))
}

fn parent_in(list: &[SnapshotEntry], source: &str, paths: &[String]) -> Option<(FileId, Snapshot)> {
    list.iter()
        .rev()
        .find(|s| s.snapshot.source == source && s.snapshot.paths == paths)
        .map(|s| (s.id, s.snapshot.clone()))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| EngineError::io(p, e))?
            .join(p)
    };
    // Normalize `.` and `..` lexically; symlinks in the given path itself are kept as given.
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s),
            _ => {}
        }
    }
    Ok(out)
}

/// Run a backup and commit a new generation.
pub fn backup(
    repo: &Repository,
    input: BackupInput,
    opts: &BackupOptions,
    progress: &Progress,
) -> Result<BackupResult> {
    let started = Instant::now();
    let time = Utc::now();
    let (paths, abs_paths) = match &input {
        BackupInput::Paths(p) => {
            let abs: Vec<PathBuf> = p.iter().map(|x| absolute(x)).collect::<Result<_>>()?;
            for a in &abs {
                fs::symlink_metadata(a).map_err(|e| EngineError::io(a, e))?;
            }
            (
                abs.iter()
                    .map(|a| a.display().to_string())
                    .collect::<Vec<_>>(),
                abs,
            )
        }
        BackupInput::Stream { name, .. } => (
            if opts.stream_paths.is_empty() {
                vec![name.clone()]
            } else {
                opts.stream_paths.clone()
            },
            vec![],
        ),
        BackupInput::Command { argv, .. } => (vec![argv.join(" ")], vec![]),
    };
    // One listing serves the parent and detection's history: every listed generation is a read
    // (a GET on S3), and listing again for the history doubled that on every detecting backup.
    let snapshots = repo.list_snapshots()?.snapshots;
    let parent = if opts.force {
        None
    } else {
        parent_in(&snapshots, &opts.source, &paths)
    };
    let history = match &parent {
        Some(_) if opts.detect => crate::detect::source_history(&snapshots, &opts.source),
        _ => Vec::new(),
    };
    drop(snapshots);
    let repo_root = repo.backend().location();
    let run = Run {
        repo,
        writer: BlobWriter::new(repo),
        chunker: Chunker::new(repo.config().chunker, repo.key().chunker_seed()),
        progress,
        warnings: Mutex::new(Vec::new()),
        excludes: Excludes::new(&opts.excludes)?,
        repo_root: fs::canonicalize(&repo_root).ok(),
        observer: (opts.detect && matches!(input, BackupInput::Paths(_))).then(|| {
            if parent.is_some() {
                Observer::default()
            } else {
                Observer::summaries_only()
            }
        }),
        seal: SealPool::new(threads(opts)),
    };
    let (tree, counters) = run
        .seal
        .with_threads(&run.writer, threads(opts), || match input {
            BackupInput::Paths(_) => {
                run_pipeline(&run, &abs_paths, parent.as_ref().map(|p| &p.1), opts)
            }
            BackupInput::Stream { name, reader } => store_stream_input(&run, &name, reader),
            BackupInput::Command { name, argv } => store_command_output(&run, &name, &argv),
        })?;
    let write = run.writer.finish()?;
    let warnings = run.warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    let verdict = match run.observer {
        // The first generation of a source has nothing to be compared with: every file is new,
        // and flagging it would only teach operators to ignore the verdict. Its files still get
        // their content summaries, which later generations and the clean assembly need.
        Some(_) if parent.is_none() => None,
        Some(observer) => Some(observer.judge(
            counters.files_unchanged,
            &history.iter().collect::<Vec<_>>(),
        )),
        None => None,
    };
    let (host, user) = host_user(opts);
    let snapshot = Snapshot {
        version: kura_format::FORMAT_VERSION,
        time,
        committed_at: Utc::now(),
        tree,
        paths,
        host,
        user,
        source: opts.source.clone(),
        tags: opts.tags.clone(),
        parent: parent.as_ref().map(|p| p.0),
        stats: SnapshotStats {
            files_new: counters.files_new,
            files_changed: counters.files_changed,
            files_unchanged: counters.files_unchanged,
            dirs: counters.dirs,
            bytes_read: Progress::get(&progress.bytes_done),
            bytes_total: counters.bytes_total,
            bytes_added: write.bytes_added,
            blobs_added: write.blobs_added,
            warnings: warnings.len() as u64,
            duration_ms: started.elapsed().as_millis() as u64,
        },
        program: format!("kura {}", env!("CARGO_PKG_VERSION")),
        lock_days: opts.lock_days,
        verdict,
    };
    let id = repo.save_snapshot(&snapshot)?;
    Ok(BackupResult {
        id,
        snapshot,
        parent: parent.map(|p| p.0),
        warnings,
    })
}

fn host_user(opts: &BackupOptions) -> (String, String) {
    let host = opts.host.clone().unwrap_or_else(|| {
        fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    });
    (host, std::env::var("USER").unwrap_or_default())
}

/// Worker threads: `opts.threads`, or one per core.
fn threads(opts: &BackupOptions) -> usize {
    if opts.threads == 0 {
        num_cpus::get().max(1)
    } else {
        opts.threads
    }
}

fn run_pipeline(
    run: &Run,
    paths: &[PathBuf],
    parent: Option<&Snapshot>,
    opts: &BackupOptions,
) -> Result<(BlobId, Counters)> {
    let root = virtual_root(paths)?;
    let parent_root = parent_map(run.repo, parent.map(|p| &p.tree));
    let prefetch = TreePrefetch::new(run.repo);
    let threads = threads(opts);
    let (job_tx, job_rx) = bounded::<Job>(threads * 64);
    let (ev_tx, ev_rx) = bounded::<Vec<Event>>(8192 / EVENT_BATCH);
    std::thread::scope(|s| {
        let mut workers = Vec::new();
        for _ in 0..threads {
            let rx = job_rx.clone();
            workers.push(s.spawn(move || -> Result<()> {
                for job in rx {
                    run.progress.set_current(&job.path.display().to_string());
                    let outcome = run.read_file(&job.path)?;
                    let _ = job.reply.send(outcome);
                }
                Ok(())
            }));
        }
        drop(job_rx);
        let prefetch = &prefetch;
        let helpers: Vec<_> = (0..threads.min(2))
            .map(|_| s.spawn(move || prefetch.serve()))
            .collect();
        prefetch.request_children(&parent_root);
        let assembler = s.spawn(move || assemble(run, ev_rx));
        let mut walker = Walker {
            rel: Vec::new(),
            prefetch,
            run,
            events: ev_tx,
            pending: Default::default(),
            flushes: Default::default(),
            jobs: job_tx,
            counters: Counters::default(),
            force: opts.force,
        };
        let walked = walker
            .walk_virtual(&root, &parent_root)
            .and_then(|()| walker.flush());
        prefetch.close();
        for h in helpers {
            h.join().expect("tree prefetch thread panicked");
        }
        let Walker {
            events,
            jobs,
            counters,
            ..
        } = walker;
        drop(jobs);
        drop(events);
        let mut first_err = walked.err();
        for w in workers {
            if let Err(e) = w.join().expect("backup worker panicked") {
                first_err.get_or_insert(e);
            }
        }
        let tree = assembler.join().expect("tree assembler panicked");
        match (first_err, tree) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(e),
            (None, Ok(tree)) => Ok((tree, counters)),
        }
    })
}

fn store_stream_input(
    run: &Run,
    name: &str,
    reader: Box<dyn Read + Send>,
) -> Result<(BlobId, Counters)> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(EngineError::Invalid(format!(
            "--stdin-filename {name:?} must be a plain file name"
        )));
    }
    let mut counting = CountingReader {
        inner: reader,
        count: 0,
    };
    let content = run.store_stream(&mut counting, None, true)?;
    let mut node = Node::new(name.as_bytes(), NodeType::File);
    node.mode = 0o640;
    let now = Utc::now();
    node.mtime = now.timestamp();
    node.mtime_ns = now.timestamp_subsec_nanos();
    node.size = counting.count;
    node.content = content;
    let tree = store_tree(run, vec![node])?;
    Ok((
        tree,
        Counters {
            files_new: 1,
            bytes_total: counting.count,
            ..Counters::default()
        },
    ))
}

fn store_command_output(run: &Run, name: &str, argv: &[String]) -> Result<(BlobId, Counters)> {
    let Some((program, args)) = argv.split_first() else {
        return Err(EngineError::Invalid(
            "--stdin-from-command needs a command after `--`".into(),
        ));
    };
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| EngineError::CommandFailed {
            command: argv.join(" "),
            status: format!("cannot start: {e}"),
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| EngineError::Invalid("the command has no standard output".into()))?;
    let stored = store_stream_input(run, name, Box::new(stdout));
    let status = child.wait().map_err(|e| EngineError::CommandFailed {
        command: argv.join(" "),
        status: e.to_string(),
    })?;
    if !status.success() {
        return Err(EngineError::CommandFailed {
            command: argv.join(" "),
            status: status.to_string(),
        });
    }
    stored
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
