//! Small file helpers: private files written atomically.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Result, ServerError};

/// Write `data` to `path` with mode 0600: write a temporary file, fsync, rename, fsync the
/// directory, so a crash leaves either the old file or the new one.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| ServerError::io("create", &tmp, e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| ServerError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ServerError::io("rename", path, e))?;
    sync_dir(dir)
}

/// Create `path` only if it does not exist (mode 0600), durably. Never overwrites.
pub fn create_private_new(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ServerError::io("create", path, e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| ServerError::io("write", path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ServerError::io("fsync", dir, e))
}

/// Create a directory (and its parents) readable only by the vault's account.
pub fn private_dir(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| ServerError::io("create directory", path, e))
}
