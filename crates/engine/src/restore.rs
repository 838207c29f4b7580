//! Restoring a generation into a directory.
//!
//! Safety rules: every name is a single path component (no `..`, no `/`, no NUL); a tree listing a
//! name twice is refused; files are created with `O_CREAT|O_EXCL|O_NOFOLLOW`, so nothing is ever
//! written through a symlink; a non-empty target is refused unless `overwrite` is set. Every chunk
//! is verified (authenticated decryption and keyed hash) before it is written, and a file whose
//! content cannot be verified is removed and reported: a restore never leaves wrong bytes behind.
//!
//! Files are restored by several threads at once, large files in parallel ranges
//! ([`crate::restore_files`]); directories' modes and times are applied last, deepest first, so
//! writing into them does not disturb their mtimes.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use filetime::FileTime;
use globset::{Glob, GlobSet, GlobSetBuilder};
use kura_format::snapshot::Snapshot;
use kura_format::tree::{Node, NodeType};
use kura_repo::Repository;

use crate::error::{EngineError, Result};
use crate::progress::Progress;
use crate::restore_files::restore_files;
use crate::walk::walk_tree_ahead;

#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    pub target: PathBuf,
    pub includes: Vec<String>,
    pub overwrite: bool,
    pub threads: usize,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct RestoreProblem {
    pub path: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
    pub problems: Vec<RestoreProblem>,
}

/// One entry to restore: where it goes and what it is.
pub struct Item {
    pub path: PathBuf,
    pub node: Node,
}

fn include_set(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let p = p.trim_start_matches('/');
        for pat in [p.to_string(), format!("{p}/**")] {
            b.add(Glob::new(&pat).map_err(|e| EngineError::BadPattern {
                pattern: p.to_string(),
                detail: e.to_string(),
            })?);
        }
    }
    Ok(Some(b.build().map_err(|e| EngineError::BadPattern {
        pattern: patterns.join(","),
        detail: e.to_string(),
    })?))
}

fn check_target(target: &Path, overwrite: bool) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut rd) => {
            if rd.next().is_some() && !overwrite {
                return Err(EngineError::TargetNotEmpty(target.display().to_string()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(target).map_err(|e| EngineError::io(target, e))
        }
        Err(e) => Err(EngineError::io(target, e)),
    }
}

/// Collect the entries to restore: those matching an include (or all), plus their directories.
fn plan(
    repo: &Repository,
    snapshot: &Snapshot,
    target: &Path,
    includes: &Option<GlobSet>,
) -> Result<Vec<Item>> {
    let mut all: Vec<(Vec<u8>, Node)> = Vec::new();
    walk_tree_ahead(repo, &snapshot.tree, b"", &mut |e| {
        all.push((e.path.clone(), e.node.clone()));
        Ok(true)
    })?;
    let Some(set) = includes else {
        return Ok(all
            .into_iter()
            .map(|(p, node)| Item {
                path: target.join(OsStr::from_bytes(&p)),
                node,
            })
            .collect());
    };
    let selected: Vec<bool> = all
        .iter()
        .map(|(p, _)| set.is_match(Path::new(OsStr::from_bytes(p))))
        .collect();
    let mut needed_dirs = std::collections::HashSet::new();
    for ((p, _), sel) in all.iter().zip(&selected) {
        if *sel {
            let mut cur = p.as_slice();
            while let Some(i) = cur.iter().rposition(|b| *b == b'/') {
                cur = &cur[..i];
                needed_dirs.insert(cur.to_vec());
            }
        }
    }
    Ok(all
        .into_iter()
        .zip(selected)
        .filter(|((p, _), sel)| *sel || needed_dirs.contains(p))
        .map(|((p, node), _)| Item {
            path: target.join(OsStr::from_bytes(&p)),
            node,
        })
        .collect())
}

/// Remove whatever is at `path` (only with --overwrite), without following symlinks.
pub(crate) fn clear_path(path: &Path, keep_dir: bool) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() && keep_dir => Ok(()),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) struct Restorer<'a> {
    pub(crate) repo: &'a Repository,
    pub(crate) progress: &'a Progress,
    problems: Mutex<Vec<RestoreProblem>>,
    pub(crate) overwrite: bool,
    is_root: bool,
}

impl Restorer<'_> {
    pub(crate) fn problem(&self, path: &Path, message: impl ToString) {
        Progress::add(&self.progress.errors, 1);
        self.problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(RestoreProblem {
                path: path.display().to_string(),
                message: message.to_string(),
            });
    }

    pub(crate) fn apply_file_metadata(&self, f: &fs::File, node: &Node) -> std::io::Result<()> {
        if self.is_root {
            std::os::unix::fs::fchown(f, Some(node.uid), Some(node.gid))?;
        }
        f.set_permissions(fs::Permissions::from_mode(node.mode))?;
        let mtime = FileTime::from_unix_time(node.mtime, node.mtime_ns);
        filetime::set_file_handle_times(f, Some(mtime), Some(mtime))
    }

    fn apply_metadata(&self, path: &Path, node: &Node) -> std::io::Result<()> {
        let mtime = FileTime::from_unix_time(node.mtime, node.mtime_ns);
        if node.node_type == NodeType::Symlink {
            if self.is_root {
                std::os::unix::fs::lchown(path, Some(node.uid), Some(node.gid))?;
            }
            return filetime::set_symlink_file_times(path, mtime, mtime);
        }
        if self.is_root {
            std::os::unix::fs::chown(path, Some(node.uid), Some(node.gid))?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(node.mode))?;
        filetime::set_file_times(path, mtime, mtime)
    }
}

/// Restore a generation (or the parts matching `includes`) into `opts.target`.
pub fn restore(
    repo: &Repository,
    snapshot: &Snapshot,
    opts: &RestoreOptions,
    progress: &Progress,
) -> Result<RestoreSummary> {
    let target = prepare_target(&opts.target, opts.overwrite)?;
    let items = plan(repo, snapshot, &target, &include_set(&opts.includes)?)?;
    restore_items(repo, items, opts, progress, false)
}

/// Check (or create) the target directory and return its canonical path.
pub fn prepare_target(target: &Path, overwrite: bool) -> Result<PathBuf> {
    check_target(target, overwrite)?;
    fs::canonicalize(target).map_err(|e| EngineError::io(target, e))
}

/// Restore prepared items (paths already inside the target). With `create_parents`, the
/// directories above each file are created as needed (items assembled from several generations
/// carry no directory entries of their own).
pub fn restore_items(
    repo: &Repository,
    items: Vec<Item>,
    opts: &RestoreOptions,
    progress: &Progress,
    create_parents: bool,
) -> Result<RestoreSummary> {
    if create_parents {
        for it in &items {
            if let Some(parent) = it.path.parent() {
                fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
            }
        }
    }
    let r = Restorer {
        repo,
        progress,
        problems: Mutex::new(Vec::new()),
        overwrite: opts.overwrite,
        is_root: unsafe_free_is_root(),
    };
    let mut summary = RestoreSummary::default();
    for it in items.iter().filter(|i| i.node.node_type == NodeType::Dir) {
        if opts.overwrite {
            let _ = clear_path(&it.path, true);
        }
        match fs::create_dir(&it.path) {
            Ok(()) => summary.dirs += 1,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && opts.overwrite => {
                summary.dirs += 1
            }
            Err(e) => r.problem(&it.path, e),
        }
    }
    // Hard links: the first path of each (device, inode) group carries the content.
    let mut first_of_group: HashMap<(u64, u64), usize> = HashMap::new();
    let mut files = Vec::new();
    let mut links = Vec::new();
    for (i, it) in items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.node.node_type == NodeType::File)
    {
        Progress::add(&progress.files_total, 1);
        Progress::add(&progress.bytes_total, it.node.size);
        if it.node.links > 1 && it.node.inode != 0 {
            if let Some(&first) = first_of_group.get(&(it.node.device, it.node.inode)) {
                links.push((first, i));
                continue;
            }
            first_of_group.insert((it.node.device, it.node.inode), i);
        }
        files.push(i);
    }
    let (nfiles, nbytes) = restore_files(&r, &items, &files, opts.threads);
    summary.files = nfiles;
    summary.bytes = nbytes;
    for (first, i) in links {
        let (src, dst) = (&items[first].path, &items[i].path);
        if opts.overwrite {
            let _ = clear_path(dst, false);
        }
        match fs::hard_link(src, dst) {
            Ok(()) => summary.links += 1,
            Err(e) => r.problem(dst, format!("hard link to {}: {e}", src.display())),
        }
    }
    restore_specials(&r, &items, &mut summary);
    // Directory metadata last, deepest first.
    for it in items
        .iter()
        .rev()
        .filter(|i| i.node.node_type == NodeType::Dir)
    {
        if let Err(e) = r.apply_metadata(&it.path, &it.node) {
            r.problem(&it.path, format!("metadata: {e}"));
        }
    }
    summary.problems = r.problems.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(summary)
}

fn restore_specials(r: &Restorer, items: &[Item], summary: &mut RestoreSummary) {
    for it in items {
        match it.node.node_type {
            NodeType::Symlink => {
                let target = match it.node.target_bytes() {
                    Ok(t) => t,
                    Err(e) => {
                        r.problem(&it.path, e);
                        continue;
                    }
                };
                if r.overwrite {
                    let _ = clear_path(&it.path, false);
                }
                match std::os::unix::fs::symlink(OsStr::from_bytes(&target), &it.path) {
                    Ok(()) => {
                        summary.links += 1;
                        if let Err(e) = r.apply_metadata(&it.path, &it.node) {
                            r.problem(&it.path, format!("metadata: {e}"));
                        }
                    }
                    Err(e) => r.problem(&it.path, e),
                }
            }
            NodeType::Dev | NodeType::Chardev | NodeType::Fifo | NodeType::Socket => {
                r.problem(
                    &it.path,
                    format!(
                        "special file ({:?}) not restored: recreate it by hand if needed",
                        it.node.node_type
                    ),
                );
            }
            _ => {}
        }
    }
}

/// Whether we may restore ownership (only root can chown to other users). Read from /proc to stay
/// free of `unsafe` (geteuid is an FFI call).
fn unsafe_free_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
