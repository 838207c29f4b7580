//! The walker and the assembler of the backup pipeline (see the `backup` module's documentation):
//! the walker compares the source with the parent generation and emits ordered events; the
//! assembler turns them into stored trees.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use crossbeam_channel::{bounded, Receiver, Sender};
use kura_anomaly::{ChangeKind, FileSummary};
use kura_format::pack::BlobKind;
use kura_format::tree::{Node, NodeType, Tree};
use kura_format::BlobId;

use super::{Counters, FileOutcome, Job, Run};
use crate::detect::{from_stored, to_stored};
use crate::error::{EngineError, Result};
use crate::fsmeta::{node_from_metadata, unchanged};
use crate::prefetch::{ParentMap, TreePrefetch};
use crate::progress::Progress;

pub(super) enum Event {
    Enter,
    Leaf(Node),
    File(Node, Receiver<FileOutcome>, FileContext),
    /// A directory is done. With `Some(tree)`, it is identical to its parent-generation directory
    /// (every entry unchanged, none added or removed), whose stored tree is reused as is.
    Leave(Node, Option<BlobId>),
}

/// What the detector needs to know about a file being read, besides its new content.
pub(super) struct FileContext {
    /// Path inside the generation, `/`-separated.
    path: String,
    previous: Option<FileSummary>,
    is_new: bool,
}

/// The directory structure above the given paths: `/data/ehr` and `/data/ssmix2` share `data`.
#[derive(Default)]
pub(super) struct VirtualDir {
    children: BTreeMap<Vec<u8>, VirtualEntry>,
}

enum VirtualEntry {
    Real(PathBuf),
    Dir(PathBuf, VirtualDir),
}

pub(super) fn virtual_root(paths: &[PathBuf]) -> Result<VirtualDir> {
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
pub(super) const EVENT_BATCH: usize = 256;

pub(super) struct Walker<'r, 'a> {
    pub(super) run: &'r Run<'a>,
    pub(super) prefetch: &'r TreePrefetch<'a>,
    pub(super) events: Sender<Vec<Event>>,
    /// Events not yet sent (see [`EVENT_BATCH`]); flushed when full and at the end of the walk.
    pub(super) pending: std::cell::RefCell<Vec<Event>>,
    /// How many batches were sent: a directory whose events are all still pending can have them
    /// replaced by one leaf (see `walk_dir`).
    pub(super) flushes: std::cell::Cell<u64>,
    pub(super) jobs: Sender<Job>,
    pub(super) counters: Counters,
    pub(super) force: bool,
    /// Path of the directory being walked, inside the generation.
    pub(super) rel: Vec<u8>,
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
    pub(super) fn flush(&self) -> Result<()> {
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        if batch.is_empty() {
            return Ok(());
        }
        self.flushes.set(self.flushes.get() + 1);
        self.events
            .send(batch)
            .map_err(|_| EngineError::Invalid("backup pipeline stopped".into()))
    }

    pub(super) fn walk_virtual(&mut self, dir: &VirtualDir, parent: &ParentMap) -> Result<()> {
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
pub(super) fn assemble(run: &Run, events: Receiver<Vec<Event>>) -> Result<BlobId> {
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

pub(super) fn store_tree(run: &Run, nodes: Vec<Node>) -> Result<BlobId> {
    let mut tree = Tree { nodes };
    tree.sort();
    let (id, _) = run.writer.add(BlobKind::Tree, &tree.to_json())?;
    Ok(id)
}
