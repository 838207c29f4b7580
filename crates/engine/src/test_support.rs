//! Helpers for the engine's unit tests: a fresh local repository and a backup of a directory.

use std::path::Path;
use std::sync::Arc;

use kura_repo::{InitOptions, Repository};

use crate::backup::{backup, BackupInput, BackupOptions, BackupResult};
use crate::progress::Progress;

/// A new repository in `dir` (password "pw"), its (empty) index loaded.
pub fn repo(dir: &Path) -> Repository {
    let backend = Arc::new(kura_store::LocalBackend::new(dir));
    let (r, _) = Repository::init(backend, b"pw", &InitOptions::default()).unwrap();
    r.load_index().unwrap();
    r
}

/// Back up `data` with `opts`; panics on failure.
pub fn backup_dir(repo: &Repository, data: &Path, opts: &BackupOptions) -> BackupResult {
    let input = BackupInput::Paths(vec![data.to_path_buf()]);
    backup(repo, input, opts, &Progress::default()).unwrap()
}
