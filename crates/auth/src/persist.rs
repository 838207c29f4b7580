//! Crash-safe replacement of one small file.
//!
//! Crash model: the process or machine may stop at any instruction. We write the whole new
//! content to `<file>.tmp`, fsync it, rename it over `<file>` (atomic on POSIX filesystems) and
//! fsync the directory so the rename itself is durable. A crash before the rename leaves the old
//! file untouched (a stray `.tmp` is ignored and overwritten next time); a crash after it leaves
//! the new file. Readers never see a half-written file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::StoreError;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// The temporary file used while replacing `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Atomically replaces `path` with `bytes` (owner-only permissions on Unix).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = temp_path(path);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Hashes and TOTP secrets: nobody but the server's user may read them.
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io("create", &tmp))?;
    file.write_all(bytes).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("fsync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io("rename into place", path))?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Directories can be opened and fsynced on Unix; elsewhere rename durability is the
    // filesystem's business and opening a directory fails, so we skip it.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync directory of", path))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Reads `path`, or `None` if it does not exist. Files over `max_bytes` are refused.
pub fn read_optional(path: &Path, max_bytes: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("inspect", path)(e)),
    };
    if meta.len() > max_bytes {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "file is {} bytes, more than the {max_bytes} allowed",
                meta.len()
            ),
        });
    }
    fs::read(path).map(Some).map_err(io("read", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        assert_eq!(read_optional(&path, 100).unwrap(), None);
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(
            read_optional(&path, 100).unwrap().as_deref(),
            Some(&b"two"[..])
        );
        assert!(!temp_path(&path).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "group/other must have no access");
        }
    }

    #[test]
    fn failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        write_atomic(&path, b"old").unwrap();
        // A directory where the temp file should go makes the write fail before the rename.
        fs::create_dir(temp_path(&path)).unwrap();
        let err = write_atomic(&path, b"new").unwrap_err();
        assert!(err.to_string().contains("cannot create"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn oversized_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        write_atomic(&path, &[b'x'; 50]).unwrap();
        assert!(matches!(
            read_optional(&path, 10),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
