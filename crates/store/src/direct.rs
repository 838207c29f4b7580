//! Writing large new files around the page cache (`O_DIRECT`, Linux).
//!
//! A pack is written once, fsynced, and not read again until a restore or check, usually much
//! later. Written through the page cache, every byte is first copied into freshly allocated cache
//! pages: on the virtual machines hospitals and CI run on, where memory the guest frees goes back
//! to the host, that copy cost 2.9 s of CPU per GiB written (`dd conv=fsync` of 1 GiB: 3.0 s of
//! system time buffered, 0.2 s with `oflag=direct`, and the direct write also finished sooner).
//! It was a fifth of the CPU of an initial backup (BENCHMARKS.md, "Initial backup"). It also
//! pushed a gigabyte of useful cache out for data nobody reads soon.
//!
//! `O_DIRECT` wants the memory address, the file offset and the length aligned to the device's
//! logical block size. The data goes through a 1 MiB buffer aligned to 4096 bytes (the largest
//! logical block size in common use), and the last block is padded with zeros and cut back with
//! `ftruncate` before the fsync, so the file's length and bytes are exactly the data.
//!
//! Crash safety does not change: the caller still fsyncs the file before linking it to its final
//! name (O_DIRECT bypasses the cache, not the device's volatile write cache). A file system that
//! refuses `O_DIRECT` (tmpfs before Linux 6.6, some network and FUSE file systems) or its alignment
//! makes [`write_new_file`] report [`Direct::Unsupported`]; the caller then writes the file through
//! the page cache as before.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Files smaller than this go through the page cache: for them the copy costs less than a
/// synchronous device write.
const DIRECT_MIN: usize = 1 << 20;

const ALIGN: usize = 4096;
const BUFFER: usize = 1 << 20;

pub enum Direct {
    /// The whole file was written; the handle is open for the caller's fsync.
    Written(File),
    /// Too small for direct I/O, or the file system refused it. Nothing is left at the path:
    /// the caller writes the file the ordinary way.
    Unsupported,
}

thread_local! {
    /// The aligned bounce buffer, allocated once per writing thread (one pack writer per backup).
    static BOUNCE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Create `path` (which must not exist) with `mode` and write `data` into it with `O_DIRECT`.
pub fn write_new_file(path: &Path, mode: u32, data: &[u8]) -> io::Result<Direct> {
    if !cfg!(target_os = "linux") || data.len() < DIRECT_MIN {
        return Ok(Direct::Unsupported);
    }
    let file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(o_direct())
        .open(path)
    {
        Ok(f) => f,
        // Refused after the file was created (tmpfs before Linux 6.6 checks O_DIRECT last); with
        // `create_new` a file there can only be the one this call made.
        Err(e) if refused(&e) => return Ok(unsupported(path)),
        Err(e) => return Err(e),
    };
    match write_aligned(&file, data) {
        Ok(()) => Ok(Direct::Written(file)),
        Err(e) if refused(&e) => {
            drop(file);
            Ok(unsupported(path))
        }
        Err(e) => Err(e),
    }
}

/// Remove what a refused attempt created at `path`.
fn unsupported(path: &Path) -> Direct {
    let _ = std::fs::remove_file(path);
    Direct::Unsupported
}

fn write_aligned(file: &File, data: &[u8]) -> io::Result<()> {
    BOUNCE.with(|cell| {
        let mut bounce = cell.borrow_mut();
        if bounce.len() < BUFFER + ALIGN {
            *bounce = vec![0u8; BUFFER + ALIGN];
        }
        // Safe alignment without a custom allocator: use the aligned window of a larger buffer.
        let start = bounce.as_ptr().align_offset(ALIGN);
        let window = &mut bounce[start..start + BUFFER];
        let mut offset = 0usize;
        while offset < data.len() {
            let n = (data.len() - offset).min(BUFFER);
            window[..n].copy_from_slice(&data[offset..offset + n]);
            let padded = n.div_ceil(ALIGN) * ALIGN;
            window[n..padded].fill(0);
            file.write_all_at(&window[..padded], offset as u64)?;
            offset += n;
        }
        Ok::<(), io::Error>(())
    })?;
    // The last block was padded to the alignment: cut the file back to the data's length.
    if !data.len().is_multiple_of(ALIGN) {
        file.set_len(data.len() as u64)?;
    }
    Ok(())
}

/// Errors that mean "no direct I/O here", not "the disk failed": the caller falls back.
fn refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

#[cfg(target_os = "linux")]
fn o_direct() -> i32 {
    libc::O_DIRECT
}

#[cfg(not(target_os = "linux"))]
fn o_direct() -> i32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
    }

    #[test]
    fn direct_files_hold_exactly_the_data_at_every_alignment() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            DIRECT_MIN,
            DIRECT_MIN + 1,
            DIRECT_MIN + ALIGN - 1,
            BUFFER * 3 + 12_345,
            BUFFER * 2,
        ] {
            let path = dir.path().join(format!("f{len}"));
            let bytes = data(len);
            match write_new_file(&path, 0o640, &bytes).unwrap() {
                Direct::Written(f) => {
                    f.sync_all().unwrap();
                    drop(f);
                    assert_eq!(std::fs::read(&path).unwrap(), bytes, "length {len}");
                }
                // A file system without O_DIRECT (tmpfs on older kernels): the caller is told
                // so, and nothing is left in its way.
                Direct::Unsupported => assert!(!path.exists(), "length {len}"),
            }
        }
    }

    #[test]
    fn small_files_and_existing_names_are_left_to_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small");
        assert!(matches!(
            write_new_file(&path, 0o640, &data(1000)).unwrap(),
            Direct::Unsupported
        ));
        assert!(!path.exists(), "a small file is not even created");
        let taken = dir.path().join("taken");
        std::fs::write(&taken, b"x").unwrap();
        let err = match write_new_file(&taken, 0o640, &data(DIRECT_MIN)) {
            Err(e) => e,
            Ok(_) => panic!("an existing name must not be written"),
        };
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&taken).unwrap(), b"x");
    }
}
