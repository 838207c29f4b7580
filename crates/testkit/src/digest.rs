//! `tree_digest`: one BLAKE3 hash over a whole tree, for benchmarks to check a restore.
//!
//! Canonical encoding (stable; change the version string if it ever changes): a BLAKE3
//! hasher in derive-key mode with context `"kura-testkit tree digest v1"` receives, for each
//! entry of the canonical walk (depth-first pre-order, names sorted by raw bytes, root
//! excluded, symlinks not followed):
//!
//! ```text
//! tag: u8            b'f' file, b'd' directory, b'l' symlink, b'o' other
//! path_len: u32 LE   then the relative path bytes, components joined by '/'
//! mode: u32 LE       only with DigestOptions::mode (mode & 0o7777; 0 for symlinks)
//! mtime: i64 LE, u32 LE   only with DigestOptions::mtime (seconds, nanoseconds; files only)
//! file:    size: u64 LE, then the 32-byte BLAKE3 hash of the content
//! symlink: target_len: u32 LE, then the raw target bytes
//! ```
//!
//! The result is the lowercase hex of the 32-byte hash. Hard links are not part of the
//! digest (use `compare_trees` for them).

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::compare::read_full;
use crate::walk::{walk, with_path, Entry, FileKind};

/// Which metadata [`tree_digest_with`] includes besides names, types and contents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestOptions {
    /// Include permission bits.
    pub mode: bool,
    /// Include file mtimes (to the nanosecond).
    pub mtime: bool,
}

/// Hex BLAKE3 digest of names, types, file contents and symlink targets below `root`.
pub fn tree_digest(root: &Path) -> io::Result<String> {
    tree_digest_with(root, DigestOptions::default())
}

/// Like [`tree_digest`], optionally including modes and mtimes.
pub fn tree_digest_with(root: &Path, opts: DigestOptions) -> io::Result<String> {
    let mut h = blake3::Hasher::new_derive_key("kura-testkit tree digest v1");
    let mut buf = vec![0u8; 1 << 16];
    for e in walk(root)? {
        hash_entry(&mut h, &e, opts, &mut buf)?;
    }
    Ok(h.finalize().to_hex().to_string())
}

fn hash_entry(
    h: &mut blake3::Hasher,
    e: &Entry,
    opts: DigestOptions,
    buf: &mut [u8],
) -> io::Result<()> {
    let tag = match e.kind {
        FileKind::File => b'f',
        FileKind::Dir => b'd',
        FileKind::Symlink => b'l',
        FileKind::Other => b'o',
    };
    h.update(&[tag]);
    let rel = e.rel.as_os_str().as_bytes();
    h.update(&(rel.len() as u32).to_le_bytes());
    h.update(rel);
    if opts.mode {
        let mode = if e.kind == FileKind::Symlink {
            0
        } else {
            e.mode()
        };
        h.update(&mode.to_le_bytes());
    }
    if opts.mtime && e.kind == FileKind::File {
        let (s, ns) = e.mtime();
        h.update(&s.to_le_bytes());
        h.update(&ns.to_le_bytes());
    }
    match e.kind {
        FileKind::File => {
            let mut f = File::open(&e.abs).map_err(|err| with_path(err, &e.abs))?;
            let mut fh = blake3::Hasher::new();
            let mut size = 0u64;
            loop {
                let n = read_full(&mut f, buf).map_err(|err| with_path(err, &e.abs))?;
                if n == 0 {
                    break;
                }
                fh.update(&buf[..n]);
                size += n as u64;
            }
            h.update(&size.to_le_bytes());
            h.update(fh.finalize().as_bytes());
        }
        FileKind::Symlink => {
            let target = fs::read_link(&e.abs).map_err(|err| with_path(err, &e.abs))?;
            let t = target.as_os_str().as_bytes();
            h.update(&(t.len() as u32).to_le_bytes());
            h.update(t);
        }
        FileKind::Dir | FileKind::Other => {}
    }
    Ok(())
}
