//! Reading trees ahead of a depth-first walk: the backup walker's parent-generation trees, and
//! restore's walk of the generation it restores.
//!
//! Change detection compares each directory with the same directory of the parent generation, so
//! the walker needs that parent tree (read from a pack, decrypted, decompressed, parsed) before it
//! can look at the directory's entries. Read inline, this was 30% of the walker's time in a
//! no-change backup, on one core while the other idled (BENCHMARKS.md). Here helper threads read
//! the trees of a directory's subdirectories as soon as the walker enters it.
//!
//! The walker goes depth first, so requests are served from a *stack*: the children of the
//! directory just entered are read first, in the order the walker will visit them. A tree the
//! walker needs before a helper has started on it is read by the walker itself (the request is
//! dropped); one a helper is reading is waited for. Memory is bounded by the walker's frontier:
//! the subdirectories of the directories on its current path.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use kura_format::tree::{Node, NodeType};
use kura_format::BlobId;
use kura_repo::Repository;

/// Parent tree entries by name, for change detection.
pub type ParentMap = HashMap<Vec<u8>, Node>;

/// Read a parent tree into a map by name. A parent tree that cannot be read only costs re-reading
/// files; it never fails the backup.
pub fn parent_map(repo: &Repository, subtree: Option<&BlobId>) -> ParentMap {
    let Some(id) = subtree else {
        return ParentMap::new();
    };
    match repo.read_tree(id) {
        Ok(t) => t
            .nodes
            .into_iter()
            .filter_map(|n| n.name_bytes().ok().map(|b| (b, n)))
            .collect(),
        Err(_) => ParentMap::new(),
    }
}

enum Slot<T> {
    /// Requested, waiting on the stack.
    Queued,
    /// A helper is reading it.
    Reading,
    Ready(T),
}

struct State<T> {
    stack: Vec<BlobId>,
    slots: HashMap<BlobId, Slot<T>>,
    closed: bool,
}

/// Trees read ahead by helper threads, each turned into a `T` by `load` (a parsed tree, a map by
/// name). Helpers run [`TreePrefetch::serve`] until [`TreePrefetch::close`].
pub struct TreePrefetch<'a, T = ParentMap> {
    repo: &'a Repository,
    load: fn(&Repository, &BlobId) -> T,
    state: Mutex<State<T>>,
    changed: Condvar,
}

fn load_parent_map(repo: &Repository, id: &BlobId) -> ParentMap {
    parent_map(repo, Some(id))
}

impl<'a> TreePrefetch<'a, ParentMap> {
    /// Prefetch of parent-generation trees as maps by name (the backup walker's).
    pub fn new(repo: &'a Repository) -> Self {
        Self::with_loader(repo, load_parent_map)
    }

    /// Ask for the trees of the subdirectories in `parent` (called when the walker enters the
    /// directory `parent` describes).
    pub fn request_children(&self, parent: &ParentMap) {
        let mut subdirs: Vec<(&Vec<u8>, BlobId)> = parent
            .iter()
            .filter(|(_, n)| n.node_type == NodeType::Dir)
            .filter_map(|(name, n)| n.subtree.map(|s| (name, s)))
            .collect();
        // Name order: the order the walker visits them in.
        subdirs.sort_by(|a, b| a.0.cmp(b.0));
        self.request(subdirs.into_iter().map(|(_, id)| id));
    }

    /// The parent map of `subtree`: prefetched, being prefetched (waited for), or read now.
    pub fn take(&self, subtree: Option<&BlobId>) -> ParentMap {
        match subtree {
            Some(id) => self.get(id),
            None => ParentMap::new(),
        }
    }
}

impl<'a, T> TreePrefetch<'a, T> {
    pub fn with_loader(repo: &'a Repository, load: fn(&Repository, &BlobId) -> T) -> Self {
        TreePrefetch {
            repo,
            load,
            state: Mutex::new(State {
                stack: Vec::new(),
                slots: HashMap::new(),
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ask for these trees, given in the order the walk will visit them.
    pub fn request(&self, ids: impl DoubleEndedIterator<Item = BlobId>) {
        let mut st = self.lock();
        let before = st.stack.len();
        // Reverse order on the stack, so the first one the walker visits is on top.
        for id in ids.rev() {
            if let std::collections::hash_map::Entry::Vacant(v) = st.slots.entry(id) {
                v.insert(Slot::Queued);
                st.stack.push(id);
            }
        }
        let added = st.stack.len() > before;
        drop(st);
        if added {
            self.changed.notify_all();
        }
    }

    /// The loaded tree `id`: prefetched, being prefetched (waited for), or loaded now.
    pub fn get(&self, id: &BlobId) -> T {
        let mut st = self.lock();
        loop {
            match st.slots.remove(id) {
                Some(Slot::Ready(map)) => return map,
                Some(Slot::Reading) => {
                    st.slots.insert(*id, Slot::Reading);
                    st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                // Queued (its stack entry is skipped by the helpers) or never requested.
                Some(Slot::Queued) | None => {
                    drop(st);
                    return (self.load)(self.repo, id);
                }
            }
        }
    }

    /// A helper thread's loop; returns when `close` is called.
    pub fn serve(&self) {
        let mut st = self.lock();
        loop {
            if st.closed {
                return;
            }
            let Some(id) = st.stack.pop() else {
                st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            };
            if !matches!(st.slots.get(&id), Some(Slot::Queued)) {
                continue; // the walker got there first and read it itself
            }
            st.slots.insert(id, Slot::Reading);
            drop(st);
            let loaded = (self.load)(self.repo, &id);
            st = self.lock();
            st.slots.insert(id, Slot::Ready(loaded));
            self.changed.notify_all();
        }
    }

    /// Stop the helpers (the walk is over).
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.stack.clear();
        st.slots.clear();
        drop(st);
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_without_request_and_without_subtree() {
        let dir = tempfile::tempdir().unwrap();
        let backend = std::sync::Arc::new(kura_store::LocalBackend::new(dir.path()));
        let (repo, _) =
            Repository::init(backend, b"pw", &kura_repo::InitOptions::default()).unwrap();
        let p = TreePrefetch::new(&repo);
        assert!(p.take(None).is_empty());
        // An id that is not in the repository: read inline, fails, and costs only an empty map.
        assert!(p.take(Some(&BlobId([7; 32]))).is_empty());
    }
}
