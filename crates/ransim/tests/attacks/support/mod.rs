//! Shared test support: a base tree with a few routine days of history, and tree copies.

#![allow(dead_code)]

use std::io;
use std::path::Path;

use kura_anomaly::{analyze, Analysis, SourceHistory, Thresholds, VerdictKind};
use kura_ransim::observe::{capture, TreeState};
use kura_ransim::{generate_clinical_tree, Behaviour};

/// Files in the test trees (about 8 MiB).
pub const TREE_FILES: usize = 150;

/// A scratch folder, in memory (/dev/shm) when there is one: the tests write ~1 GiB of
/// small files and the disk is shared with everyone else's builds.
pub fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(t) = tempfile::tempdir_in(shm) {
            return t;
        }
    }
    tempfile::tempdir().unwrap()
}

/// Copies a tree (regular files and folders only).
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// A base tree after three routine days, its last state, and the history the routine
/// days produced (each of which must itself be clean).
pub struct Base {
    pub state: TreeState,
    pub history: SourceHistory,
}

pub fn base_with_history(root: &Path, seed: u64) -> Base {
    generate_clinical_tree(root, TREE_FILES, seed).unwrap();
    let mut state = capture(root).unwrap();
    let mut history = SourceHistory::default();
    for day in 0..3 {
        Behaviour::RoutineDay
            .apply(root, 0.02, seed * 100 + day)
            .unwrap();
        let next = capture(root).unwrap();
        let a = analyze(
            &next.observe_since(&state),
            &history,
            &Thresholds::default(),
        );
        assert_eq!(
            a.verdict.verdict,
            VerdictKind::Clean,
            "routine day {day} of seed {seed} flagged: {:?}",
            a.verdict.reasons
        );
        history.generations.push(a.summary);
        state = next;
    }
    Base { state, history }
}

/// Analysis of `after` against `before`, with and without the learned history.
pub fn analyse_both(
    before: &TreeState,
    after: &TreeState,
    history: &SourceHistory,
) -> [Analysis; 2] {
    let obs = after.observe_since(before);
    let th = Thresholds::default();
    [
        analyze(&obs, history, &th),
        analyze(&obs, &SourceHistory::default(), &th),
    ]
}
