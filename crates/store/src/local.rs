//! A repository in a local directory: the embedded default.
//!
//! Layout: `config`, `keys/<id>`, `data/<2 hex>/<id>`, `index/<id>`, `snapshots/<id>`, `meta/<name>`.
//!
//! Write protocol for every file (the crash-safety argument of FORMAT.md rests on it):
//! 1. write the bytes to `.tmp-<random>` in the destination directory (O_EXCL), fsync the file
//!    (files of 1 MiB and more, packs, bypass the page cache where the file system allows: see
//!    [`crate::direct`]);
//! 2. hard-link it to its final name, which fails if that name exists (never overwrite), or on file
//!    systems without hard links (FAT/exFAT removable media) rename it after checking the name is free;
//! 3. remove the temporary name and fsync the directory.
//!
//! A crash at any moment leaves either no file under the final name or the complete file, plus at
//! most a stray `.tmp-*` that listing ignores and `prune` removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;

use crate::direct::{self, Direct};
use crate::fault::{FaultPlan, FaultPoint};
use crate::{validate_name, Backend, FileInfo, FileKind, Result, StoreError};

pub struct LocalBackend {
    root: PathBuf,
    faults: Option<Arc<FaultPlan>>,
    /// Open pack files for ranged reads: a restore reads many blobs from each pack, and opening the
    /// pack once per blob was most of its system calls (BENCHMARKS.md). Packs never change, so a
    /// handle stays valid; removal evicts it.
    open_packs: std::sync::Mutex<std::collections::HashMap<String, (Arc<File>, u64)>>,
}

const OPEN_PACKS_MAX: usize = 128;

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend {
            root: root.into(),
            faults: FaultPlan::from_env().map(Arc::new),
            open_packs: Default::default(),
        }
    }

    /// A backend that fails at the points `plan` chooses (tests only).
    pub fn with_faults(root: impl Into<PathBuf>, plan: Arc<FaultPlan>) -> Self {
        LocalBackend {
            root: root.into(),
            faults: Some(plan),
            open_packs: Default::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir_of(&self, kind: FileKind, name: &str) -> PathBuf {
        match kind {
            FileKind::Pack => self.root.join(kind.dir()).join(&name[..2.min(name.len())]),
            _ => self.root.join(kind.dir()),
        }
    }

    fn path_of(&self, kind: FileKind, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        Ok(self.dir_of(kind, name).join(name))
    }

    fn fault(&self, point: FaultPoint) -> io::Result<()> {
        match &self.faults {
            Some(plan) => plan.check(point),
            None => Ok(()),
        }
    }

    fn write_new(&self, kind: FileKind, name: &str, data: &[u8]) -> io::Result<bool> {
        let dir = self.dir_of(kind, name);
        if !dir.is_dir() {
            fs::create_dir_all(&dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let tmp = dir.join(format!(".tmp-{:016x}", rand::thread_rng().gen::<u64>()));
        let result = self.write_tmp_and_link(&tmp, &dir.join(name), data);
        let _ = fs::remove_file(&tmp);
        result
    }

    /// Returns Ok(false) when the final name already existed.
    fn write_tmp_and_link(&self, tmp: &Path, dest: &Path, data: &[u8]) -> io::Result<bool> {
        self.fault(FaultPoint::Write)?;
        let f = match self.fault(FaultPoint::ShortWrite) {
            Err(e) => {
                let mut f = create_tmp(tmp)?;
                f.write_all(&data[..data.len() / 2])?;
                return Err(e);
            }
            Ok(()) => match direct::write_new_file(tmp, TMP_MODE, data)? {
                Direct::Written(f) => f,
                Direct::Unsupported => write_tmp_buffered(tmp, data)?,
            },
        };
        self.fault(FaultPoint::Fsync)?;
        f.sync_all()?;
        drop(f);
        self.fault(FaultPoint::Link)?;
        match fs::hard_link(tmp, dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) if link_unsupported(&e) => {
                if dest.exists() {
                    return Ok(false);
                }
                fs::rename(tmp, dest)?;
            }
            Err(e) => return Err(e),
        }
        self.fault(FaultPoint::DirSync)?;
        sync_dir(dest.parent().unwrap_or(&self.root))?;
        Ok(true)
    }
}

impl LocalBackend {
    /// Ranged read of a pack through a cached handle (`pread`, so threads share it).
    fn read_pack_range(&self, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let kind = FileKind::Pack;
        let cached = self
            .open_packs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        let (file, size) = match cached {
            Some(c) => c,
            None => {
                let path = self.path_of(kind, name)?;
                let f = File::open(&path).map_err(|e| map_err(kind, name, e))?;
                let size = f.metadata().map_err(|e| map_err(kind, name, e))?.len();
                let entry = (Arc::new(f), size);
                let mut cache = self.open_packs.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= OPEN_PACKS_MAX {
                    cache.clear();
                }
                cache.insert(name.to_string(), entry.clone());
                entry
            }
        };
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(StoreError::OutOfRange {
                kind,
                name: name.to_string(),
                offset,
                len,
                size,
            });
        }
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| map_err(kind, name, e))?;
        Ok(buf)
    }
}

/// Temporary files are read-only from the start: nothing writes a repository file after it is
/// complete.
const TMP_MODE: u32 = 0o440;

fn create_tmp(tmp: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(TMP_MODE)
        .open(tmp)
}

fn write_tmp_buffered(tmp: &Path, data: &[u8]) -> io::Result<File> {
    let mut f = create_tmp(tmp)?;
    f.write_all(data)?;
    Ok(f)
}

fn link_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM) | Some(libc::EOPNOTSUPP) | Some(libc::EXDEV) | Some(libc::EMLINK)
    )
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn map_err(kind: FileKind, name: &str, e: io::Error) -> StoreError {
    let name = name.to_string();
    match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound { kind, name },
        io::ErrorKind::PermissionDenied => StoreError::Denied {
            kind,
            name,
            detail: e.to_string(),
        },
        _ if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT) => {
            StoreError::NoSpace { kind, name }
        }
        _ => StoreError::Io {
            kind,
            name,
            source: e,
        },
    }
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<()> {
        let _ = self.path_of(kind, name)?;
        match self.write_new(kind, name, data) {
            Ok(true) => Ok(()),
            Ok(false) => Err(StoreError::AlreadyExists {
                kind,
                name: name.to_string(),
            }),
            Err(e) => Err(map_err(kind, name, e)),
        }
    }

    fn read(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        let path = self.path_of(kind, name)?;
        fs::read(&path).map_err(|e| map_err(kind, name, e))
    }

    fn read_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        if kind == FileKind::Pack {
            return self.read_pack_range(name, offset, len);
        }
        let path = self.path_of(kind, name)?;
        let mut f = File::open(&path).map_err(|e| map_err(kind, name, e))?;
        let size = f.metadata().map_err(|e| map_err(kind, name, e))?.len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(StoreError::OutOfRange {
                kind,
                name: name.to_string(),
                offset,
                len,
                size,
            });
        }
        let mut buf = vec![0u8; len as usize];
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| map_err(kind, name, e))?;
        f.read_exact(&mut buf).map_err(|e| map_err(kind, name, e))?;
        Ok(buf)
    }

    fn size(&self, kind: FileKind, name: &str) -> Result<u64> {
        let path = self.path_of(kind, name)?;
        fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| map_err(kind, name, e))
    }

    fn list(&self, kind: FileKind) -> Result<Vec<FileInfo>> {
        if kind == FileKind::Config {
            return Ok(match fs::metadata(self.root.join("config")) {
                Ok(m) => vec![FileInfo {
                    name: "config".into(),
                    size: m.len(),
                    modified: m.modified().ok(),
                }],
                Err(_) => vec![],
            });
        }
        let base = self.root.join(kind.dir());
        let mut out = Vec::new();
        let dirs = if kind == FileKind::Pack {
            subdirs(&base).map_err(|e| map_err(kind, "", e))?
        } else {
            vec![base]
        };
        for dir in dirs {
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(map_err(kind, "", e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| map_err(kind, "", e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || validate_name(&name).is_err() {
                    continue;
                }
                let meta = entry.metadata().map_err(|e| map_err(kind, &name, e))?;
                if meta.is_file() {
                    out.push(FileInfo {
                        name,
                        size: meta.len(),
                        modified: meta.modified().ok(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove(&self, kind: FileKind, name: &str) -> Result<()> {
        let path = self.path_of(kind, name)?;
        if kind == FileKind::Pack {
            self.open_packs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(name);
        }
        fs::remove_file(&path).map_err(|e| map_err(kind, name, e))?;
        sync_dir(path.parent().unwrap_or(&self.root)).map_err(|e| map_err(kind, name, e))
    }
}

fn subdirs(base: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    match fs::read_dir(base) {
        Ok(rd) => {
            for e in rd {
                let e = e?;
                if e.file_type()?.is_dir() {
                    out.push(e.path());
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(out)
}

/// Remove temporary files left by interrupted writes that are older than `min_age`.
pub fn remove_stale_temporaries(root: &Path, min_age: std::time::Duration) -> io::Result<u64> {
    let mut removed = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in fs::read_dir(&dir)? {
            let e = e?;
            let name = e.file_name();
            let meta = e.metadata()?;
            if meta.is_dir() {
                dirs.push(e.path());
            } else if name.to_string_lossy().starts_with(".tmp-") {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age >= min_age);
                if old {
                    fs::remove_file(e.path())?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

/// Make a directory's permissions private (0700) when a repository is created in it.
pub fn make_private(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_backend_passes_conformance() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path());
        crate::conformance::run_all(&b, &b);
    }

    #[test]
    fn injected_faults_leave_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        for point in [
            FaultPoint::Write,
            FaultPoint::ShortWrite,
            FaultPoint::Fsync,
            FaultPoint::Link,
        ] {
            let plan = Arc::new(FaultPlan::fail_nth(
                point,
                0,
                crate::fault::FaultError::NoSpace,
            ));
            let b = LocalBackend::with_faults(dir.path(), plan);
            let err = b.create(FileKind::Index, "abcd", b"data").unwrap_err();
            assert!(
                matches!(err, StoreError::NoSpace { .. }),
                "{point:?}: {err}"
            );
            assert!(!b.exists(FileKind::Index, "abcd").unwrap(), "{point:?}");
            assert!(b.list(FileKind::Index).unwrap().is_empty());
        }
    }
}
