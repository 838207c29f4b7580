//! Tree comparison for restore verification.
//!
//! Both trees are walked in the canonical order (see `walk.rs`) and matched by relative
//! path. A directory missing on one side, or replaced by another kind of entry, is reported
//! once; its descendants are not listed again. Hard links are compared as *structure*: for a
//! file, the set of paths in the same tree sharing its inode must be the same set on both
//! sides (inode numbers themselves naturally differ between trees).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::walk::{walk, with_path, Entry, FileKind};

/// How precisely modification times must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtimeCheck {
    /// Do not compare mtimes.
    Ignore,
    /// Whole seconds must match (for targets that truncate, e.g. some network filesystems).
    Seconds,
    /// Seconds and nanoseconds must match.
    Nanoseconds,
}

/// What [`compare_trees`] checks besides paths, file types, contents and symlink targets
/// (which are always compared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareOptions {
    /// Compare permission bits (`mode & 0o7777`) of files and directories.
    pub mode: bool,
    /// Compare mtimes of files and symlinks.
    pub mtime: MtimeCheck,
    /// Also compare directory mtimes (with the precision of `mtime`).
    pub dir_mtime: bool,
    /// Compare hard-link structure.
    pub hardlinks: bool,
}

impl Default for CompareOptions {
    /// Everything a faithful restore must preserve: modes, nanosecond file mtimes, hard
    /// links; directory mtimes excluded because many tools do not restore them.
    fn default() -> Self {
        CompareOptions {
            mode: true,
            mtime: MtimeCheck::Nanoseconds,
            dir_mtime: false,
            hardlinks: true,
        }
    }
}

impl CompareOptions {
    /// Only paths, types, contents and symlink targets.
    pub fn content_only() -> Self {
        CompareOptions {
            mode: false,
            mtime: MtimeCheck::Ignore,
            dir_mtime: false,
            hardlinks: false,
        }
    }

    /// Everything, including directory mtimes.
    pub fn strict() -> Self {
        CompareOptions {
            dir_mtime: true,
            ..CompareOptions::default()
        }
    }
}

/// One difference between tree `a` and tree `b`.
///
/// In every variant `path` is relative to the roots, `a`/`a_len` describe the first tree
/// and `b`/`b_len` the second.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // fields follow the uniform path/a/b convention documented above
pub enum TreeDifference {
    /// Present in `a` only (for a directory, its contents are not listed separately).
    OnlyInA(PathBuf),
    /// Present in `b` only.
    OnlyInB(PathBuf),
    /// Same path, different entry type.
    Kind {
        path: PathBuf,
        a: FileKind,
        b: FileKind,
    },
    /// Regular files with different bytes.
    Content {
        path: PathBuf,
        a_len: u64,
        b_len: u64,
    },
    /// Different permission bits.
    Mode { path: PathBuf, a: u32, b: u32 },
    /// Different mtime, as (seconds, nanoseconds).
    Mtime {
        path: PathBuf,
        a: (i64, u32),
        b: (i64, u32),
    },
    /// Symlinks pointing at different targets (compared byte for byte).
    SymlinkTarget {
        path: PathBuf,
        a: PathBuf,
        b: PathBuf,
    },
    /// The file shares its inode with a different set of paths (sorted, including itself).
    Hardlinks {
        path: PathBuf,
        a: Vec<PathBuf>,
        b: Vec<PathBuf>,
    },
}

impl TreeDifference {
    /// The relative path the difference is about.
    pub fn path(&self) -> &Path {
        match self {
            TreeDifference::OnlyInA(p) | TreeDifference::OnlyInB(p) => p,
            TreeDifference::Kind { path, .. }
            | TreeDifference::Content { path, .. }
            | TreeDifference::Mode { path, .. }
            | TreeDifference::Mtime { path, .. }
            | TreeDifference::SymlinkTarget { path, .. }
            | TreeDifference::Hardlinks { path, .. } => path,
        }
    }
}

impl fmt::Display for TreeDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path().display();
        match self {
            TreeDifference::OnlyInA(_) => write!(f, "{p}: only in the first tree"),
            TreeDifference::OnlyInB(_) => write!(f, "{p}: only in the second tree"),
            TreeDifference::Kind { a, b, .. } => write!(f, "{p}: type {a:?} vs {b:?}"),
            TreeDifference::Content { a_len, b_len, .. } => {
                write!(f, "{p}: content differs ({a_len} vs {b_len} bytes)")
            }
            TreeDifference::Mode { a, b, .. } => write!(f, "{p}: mode {a:04o} vs {b:04o}"),
            TreeDifference::Mtime { a, b, .. } => {
                write!(f, "{p}: mtime {}.{:09} vs {}.{:09}", a.0, a.1, b.0, b.1)
            }
            TreeDifference::SymlinkTarget { a, b, .. } => {
                write!(f, "{p}: symlink target {} vs {}", a.display(), b.display())
            }
            TreeDifference::Hardlinks { a, b, .. } => {
                write!(
                    f,
                    "{p}: hard-linked with {} path(s) vs {}",
                    a.len(),
                    b.len()
                )
            }
        }
    }
}

/// Compares tree `a` with tree `b` and lists every difference, sorted by path.
/// An empty list means the trees are equal under `opts`.
pub fn compare_trees(a: &Path, b: &Path, opts: CompareOptions) -> io::Result<Vec<TreeDifference>> {
    let ea = walk(a)?;
    let eb = walk(b)?;
    let (la, lb) = (LinkGroups::new(&ea), LinkGroups::new(&eb));
    let ma: BTreeMap<&Path, &Entry> = ea.iter().map(|e| (e.rel.as_path(), e)).collect();
    let mb: BTreeMap<&Path, &Entry> = eb.iter().map(|e| (e.rel.as_path(), e)).collect();
    let mut keys: Vec<&Path> = ma.keys().chain(mb.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    let mut reported_groups = HashSet::new();
    // Descendants of a path reported as missing or retyped are skipped.
    let mut skip: Option<&Path> = None;
    for key in keys {
        if skip.is_some_and(|s| key.starts_with(s)) {
            continue;
        }
        match (ma.get(key), mb.get(key)) {
            (Some(_), None) => {
                out.push(TreeDifference::OnlyInA(key.to_path_buf()));
                skip = Some(key);
            }
            (None, Some(_)) => {
                out.push(TreeDifference::OnlyInB(key.to_path_buf()));
                skip = Some(key);
            }
            (Some(x), Some(y)) if x.kind != y.kind => {
                out.push(TreeDifference::Kind {
                    path: key.to_path_buf(),
                    a: x.kind,
                    b: y.kind,
                });
                skip = Some(key);
            }
            (Some(x), Some(y)) => {
                compare_entry(x, y, opts, &mut out)?;
                if opts.hardlinks && x.kind == FileKind::File {
                    let (ga, gb) = (la.group(x), lb.group(y));
                    if ga != gb && reported_groups.insert(ga.clone()) {
                        out.push(TreeDifference::Hardlinks {
                            path: key.to_path_buf(),
                            a: ga,
                            b: gb,
                        });
                    }
                }
            }
            (None, None) => {}
        }
    }
    Ok(out)
}

/// Compares two entries of the same kind at the same path.
fn compare_entry(
    x: &Entry,
    y: &Entry,
    opts: CompareOptions,
    out: &mut Vec<TreeDifference>,
) -> io::Result<()> {
    let path = || x.rel.clone();
    match x.kind {
        FileKind::File => {
            let (a_len, b_len) = (x.meta.len(), y.meta.len());
            if a_len != b_len || !same_content(&x.abs, &y.abs)? {
                out.push(TreeDifference::Content {
                    path: path(),
                    a_len,
                    b_len,
                });
            }
        }
        FileKind::Symlink => {
            let ta = fs::read_link(&x.abs).map_err(|e| with_path(e, &x.abs))?;
            let tb = fs::read_link(&y.abs).map_err(|e| with_path(e, &y.abs))?;
            if ta != tb {
                out.push(TreeDifference::SymlinkTarget {
                    path: path(),
                    a: ta,
                    b: tb,
                });
            }
        }
        FileKind::Dir | FileKind::Other => {}
    }
    // Symlink permission bits are meaningless on Linux (always 0777).
    if opts.mode && x.kind != FileKind::Symlink && x.mode() != y.mode() {
        out.push(TreeDifference::Mode {
            path: path(),
            a: x.mode(),
            b: y.mode(),
        });
    }
    let check_time = x.kind != FileKind::Dir || opts.dir_mtime;
    if check_time && !same_time(x.mtime(), y.mtime(), opts.mtime) {
        out.push(TreeDifference::Mtime {
            path: path(),
            a: x.mtime(),
            b: y.mtime(),
        });
    }
    Ok(())
}

fn same_time(a: (i64, u32), b: (i64, u32), check: MtimeCheck) -> bool {
    match check {
        MtimeCheck::Ignore => true,
        MtimeCheck::Seconds => a.0 == b.0,
        MtimeCheck::Nanoseconds => a == b,
    }
}

/// Byte-for-byte comparison of two files of equal length, streaming.
fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let mut fa = File::open(a).map_err(|e| with_path(e, a))?;
    let mut fb = File::open(b).map_err(|e| with_path(e, b))?;
    let mut ba = vec![0u8; 1 << 16];
    let mut bb = vec![0u8; 1 << 16];
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or EOF; returns the number of bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Paths of one tree grouped by inode (regular files only).
struct LinkGroups {
    by_inode: HashMap<(u64, u64), Vec<PathBuf>>,
}

impl LinkGroups {
    fn new(entries: &[Entry]) -> Self {
        let mut by_inode: HashMap<(u64, u64), Vec<PathBuf>> = HashMap::new();
        for e in entries
            .iter()
            .filter(|e| e.kind == FileKind::File && e.meta.nlink() > 1)
        {
            by_inode
                .entry((e.meta.dev(), e.meta.ino()))
                .or_default()
                .push(e.rel.clone());
        }
        LinkGroups { by_inode }
    }

    /// The sorted paths sharing `e`'s inode, including `e` itself.
    fn group(&self, e: &Entry) -> Vec<PathBuf> {
        let mut g = self
            .by_inode
            .get(&(e.meta.dev(), e.meta.ino()))
            .cloned()
            .unwrap_or_else(|| vec![e.rel.clone()]);
        g.sort();
        g
    }
}
