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
    /// Helpers asleep on `work`, and walkers asleep on `ready`: a notification with nobody
    /// waiting is skipped (each one is a futex system call).
    idle_helpers: usize,
    waiting_walkers: usize,
}

/// Trees read ahead by helper threads, each turned into a `T` by `load` (a parsed tree, a map by
/// name). Helpers run [`TreePrefetch::serve`] until [`TreePrefetch::close`].
pub struct TreePrefetch<'a, T = ParentMap> {
    repo: &'a Repository,
    load: fn(&Repository, &BlobId) -> T,
    /// The subdirectory trees of a loaded tree, in walk order, when helpers should read ahead
    /// below it without waiting for the walker to get there (see [`AHEAD`]).
    expand: Option<fn(&T) -> Vec<BlobId>>,
    state: Mutex<State<T>>,
    /// New requests (or close), for the helpers. Separate from `ready` because with one condvar
    /// every finished tree woke the idle helpers too, only for them to find no work and sleep
    /// again: in a no-change backup of 23,000 directories that was a third of the context
    /// switches (BENCHMARKS.md, "No-change backup").
    work: Condvar,
    /// A tree became ready, for the walker waiting on it.
    ready: Condvar,
}

fn load_parent_map(repo: &Repository, id: &BlobId) -> ParentMap {
    parent_map(repo, Some(id))
}

/// Helpers read below the trees they loaded while fewer than this many trees are requested or
/// loaded and not yet taken. Requesting only the children of the directory the walker entered
/// kept the helpers one level ahead: in a tree of small directories (SS-MIX2: patient / date /
/// kind) the walker caught up at once and waited for nearly every tree, a hand-over between
/// threads per directory. Bounded so memory stays small whatever the tree's shape.
const AHEAD: usize = 512;

/// The subdirectory trees of a parent map, in the order the walker visits them.
fn subdirs_of(parent: &ParentMap) -> Vec<BlobId> {
    let mut subdirs: Vec<(&Vec<u8>, BlobId)> = parent
        .iter()
        .filter(|(_, n)| n.node_type == NodeType::Dir)
        .filter_map(|(name, n)| n.subtree.map(|s| (name, s)))
        .collect();
    // Name order: the order the walker visits them in.
    subdirs.sort_by(|a, b| a.0.cmp(b.0));
    subdirs.into_iter().map(|(_, id)| id).collect()
}

impl<'a> TreePrefetch<'a, ParentMap> {
    /// Prefetch of parent-generation trees as maps by name (the backup walker's).
    pub fn new(repo: &'a Repository) -> Self {
        let mut p = Self::with_loader(repo, load_parent_map);
        p.expand = Some(subdirs_of);
        p
    }

    /// Ask for the trees of the subdirectories in `parent` (called when the walker enters the
    /// directory `parent` describes).
    pub fn request_children(&self, parent: &ParentMap) {
        self.request(subdirs_of(parent).into_iter());
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
            expand: None,
            state: Mutex::new(State {
                stack: Vec::new(),
                slots: HashMap::new(),
                closed: false,
                idle_helpers: 0,
                waiting_walkers: 0,
            }),
            work: Condvar::new(),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ask for these trees, given in the order the walk will visit them.
    pub fn request(&self, ids: impl DoubleEndedIterator<Item = BlobId>) {
        let mut st = self.lock();
        let added = enqueue(&mut st, ids);
        let wake = added && st.idle_helpers > 0;
        drop(st);
        if wake {
            self.work.notify_all();
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
                    st.waiting_walkers += 1;
                    st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
                    st.waiting_walkers -= 1;
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
                st.idle_helpers += 1;
                st = self.work.wait(st).unwrap_or_else(|p| p.into_inner());
                st.idle_helpers -= 1;
                continue;
            };
            if !matches!(st.slots.get(&id), Some(Slot::Queued)) {
                continue; // the walker got there first and read it itself
            }
            st.slots.insert(id, Slot::Reading);
            drop(st);
            let loaded = (self.load)(self.repo, &id);
            let below = self.expand.map(|f| f(&loaded)).unwrap_or_default();
            st = self.lock();
            st.slots.insert(id, Slot::Ready(loaded));
            if st.waiting_walkers > 0 {
                self.ready.notify_all();
            }
            // Read ahead below it, unless far enough ahead already. Another idle helper is
            // woken for the new work; this one takes the top of the stack itself next.
            if st.slots.len() < AHEAD && enqueue(&mut st, below.into_iter()) && st.idle_helpers > 0
            {
                self.work.notify_one();
            }
        }
    }

    /// Stop the helpers (the walk is over).
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.stack.clear();
        st.slots.clear();
        drop(st);
        self.work.notify_all();
        self.ready.notify_all();
    }
}

/// Put the trees not requested yet on the stack, the first to visit on top; whether any was.
fn enqueue<T>(st: &mut State<T>, ids: impl DoubleEndedIterator<Item = BlobId>) -> bool {
    let before = st.stack.len();
    for id in ids.rev() {
        if let std::collections::hash_map::Entry::Vacant(v) = st.slots.entry(id) {
            v.insert(Slot::Queued);
            st.stack.push(id);
        }
    }
    st.stack.len() > before
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

    /// A chain of single-directory levels, the shape that kept the walker waiting on every tree:
    /// after the walker asks for the first level only, the helpers read down to the last.
    #[test]
    fn helpers_read_ahead_below_the_trees_they_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let deepest = data.join("l1/l2/l3/l4/l5");
        std::fs::create_dir_all(&deepest).unwrap();
        std::fs::write(deepest.join("f"), b"leaf").unwrap();
        let repo = crate::test_support::repo(&dir.path().join("r"));
        let opts = crate::backup::BackupOptions {
            source: "t".into(),
            ..Default::default()
        };
        let input = crate::backup::BackupInput::Paths(vec![data]);
        let progress = crate::progress::Progress::default();
        let root = crate::backup::backup(&repo, input, &opts, &progress)
            .unwrap()
            .snapshot
            .tree;
        // Tree ids level by level: the root, one per component of the absolute path of `data`,
        // then l1 ... l5 (which holds "f").
        let mut ids = vec![root];
        while let Some(sub) = repo.read_tree(ids.last().unwrap()).unwrap().nodes[0].subtree {
            ids.push(sub);
        }
        assert!(
            ids.len() >= 7,
            "root, data, l1 ... l5: {} levels",
            ids.len()
        );
        let p = TreePrefetch::new(&repo);
        let l5 = std::thread::scope(|s| {
            s.spawn(|| p.serve());
            // The walker enters the root: it asks for the root's children only.
            p.request_children(&parent_map(&repo, Some(&ids[0])));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let last = *ids.last().unwrap();
            let mut ahead = false;
            while !ahead && std::time::Instant::now() < deadline {
                ahead = matches!(p.lock().slots.get(&last), Some(Slot::Ready(_)));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            // Taken only if it was read ahead (else read now, which proves nothing).
            let l5 = ahead.then(|| p.take(Some(&last)));
            p.close(); // before any assertion: the scope waits for the helper
            l5
        });
        let l5 = l5.expect("the deepest tree was never read ahead");
        assert_eq!(l5.keys().cloned().collect::<Vec<_>>(), vec![b"f".to_vec()]);
    }
}
