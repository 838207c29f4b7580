//! The canonical walk shared by [`crate::compare_trees`] and [`crate::tree_digest`].
//!
//! Depth-first, pre-order, entries of each directory sorted by the raw bytes of their names
//! (not by a locale or by `Path` ordering), symlinks never followed. Relative paths are kept
//! as raw bytes so names that are not UTF-8 (Shift_JIS files copied from Windows) survive.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A FIFO, socket or device node.
    Other,
}

impl FileKind {
    pub(crate) fn of(meta: &Metadata) -> Self {
        let ft = meta.file_type();
        if ft.is_symlink() {
            FileKind::Symlink
        } else if ft.is_dir() {
            FileKind::Dir
        } else if ft.is_file() {
            FileKind::File
        } else {
            FileKind::Other
        }
    }
}

/// One entry of a walk.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Path relative to the walked root.
    pub(crate) rel: PathBuf,
    pub(crate) abs: PathBuf,
    pub(crate) kind: FileKind,
    pub(crate) meta: Metadata,
}

impl Entry {
    /// Permission bits including setuid/setgid/sticky.
    pub(crate) fn mode(&self) -> u32 {
        self.meta.mode() & 0o7777
    }

    /// Modification time as (seconds, nanoseconds).
    pub(crate) fn mtime(&self) -> (i64, u32) {
        (
            self.meta.mtime(),
            self.meta.mtime_nsec().clamp(0, 999_999_999) as u32,
        )
    }
}

/// All entries below `root` (not `root` itself) in canonical order.
pub(crate) fn walk(root: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    visit(root, Path::new(""), &mut out)?;
    Ok(out)
}

fn visit(dir: &Path, rel: &Path, out: &mut Vec<Entry>) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| with_path(e, dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let abs = dir.join(&name);
        let meta = fs::symlink_metadata(&abs).map_err(|e| with_path(e, &abs))?;
        let kind = FileKind::of(&meta);
        let rel = rel.join(&name);
        out.push(Entry {
            rel: rel.clone(),
            abs: abs.clone(),
            kind,
            meta,
        });
        if kind == FileKind::Dir {
            visit(&abs, &rel, out)?;
        }
    }
    Ok(())
}

/// Entry counts and file bytes of a tree, from the canonical walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Regular files (each hard-linked name counted).
    pub files: u64,
    /// Directories below the root.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// FIFOs, sockets, devices.
    pub other: u64,
    /// Sum of regular file lengths (a hard-linked file counted once per name).
    pub bytes: u64,
}

/// Counts the entries below `root` without following symlinks.
pub fn tree_stats(root: &Path) -> io::Result<TreeStats> {
    let mut st = TreeStats::default();
    for e in walk(root)? {
        match e.kind {
            FileKind::File => {
                st.files += 1;
                st.bytes += e.meta.len();
            }
            FileKind::Dir => st.dirs += 1,
            FileKind::Symlink => st.symlinks += 1,
            FileKind::Other => st.other += 1,
        }
    }
    Ok(st)
}

/// Adds the path to an I/O error so the user knows which entry failed.
pub(crate) fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_is_preorder_and_sorted_by_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = dir.path();
        fs::create_dir_all(r.join("b/c")).expect("mkdir");
        fs::write(r.join("a"), b"1").expect("write");
        fs::write(r.join("b/z"), b"2").expect("write");
        fs::write(r.join("B"), b"3").expect("write");
        std::os::unix::fs::symlink("b", r.join("l")).expect("symlink");
        let got: Vec<String> = walk(r)
            .expect("walk")
            .iter()
            .map(|e| e.rel.to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["B", "a", "b", "b/c", "b/z", "l"]);
        let kinds: Vec<FileKind> = walk(r).expect("walk").iter().map(|e| e.kind).collect();
        assert_eq!(kinds[2], FileKind::Dir);
        assert_eq!(
            kinds[5],
            FileKind::Symlink,
            "symlink to dir is not followed"
        );
    }

    #[test]
    fn tree_stats_counts_each_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = dir.path();
        fs::create_dir(r.join("d")).expect("mkdir");
        fs::write(r.join("d/f"), b"12345").expect("write");
        fs::hard_link(r.join("d/f"), r.join("g")).expect("link");
        std::os::unix::fs::symlink("d", r.join("l")).expect("symlink");
        let st = tree_stats(r).expect("stats");
        assert_eq!(
            st,
            TreeStats {
                files: 2,
                dirs: 1,
                symlinks: 1,
                other: 0,
                bytes: 10
            }
        );
    }

    #[test]
    fn walk_of_missing_root_names_the_path() {
        let err = walk(Path::new("/nonexistent/kura-testkit")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/kura-testkit"));
    }
}
