//! The writer: crash-safe, serialised appends to the JSON-lines file.
//!
//! Crash model. One append is: take the process mutex, take the exclusive `flock`, read
//! and check the last line of the file (the current head), encode the new line, write it
//! with a single `write_all` on an `O_APPEND` descriptor, `fdatasync`, release. So:
//!
//! * a crash before the write leaves the old log; the caller got no `Ok`, nothing is lost
//!   that was acknowledged;
//! * a crash or a full disk during the write can leave a prefix of the line with no `\n`
//!   (a torn tail). The next open or append sees the missing `\n` and refuses to write, with
//!   [`AuditError::TornTail`]; [`recover_torn_tail`] then keeps the fragment (completing it if
//!   it is in fact a whole valid entry, quarantining it to a side file otherwise) and records
//!   the recovery as a new entry. Nothing is dropped silently;
//! * `Ok` is returned only after `fdatasync`, so an acknowledged entry survives power loss.
//!
//! The head is re-read from the file on every append rather than cached: another process
//! may have appended since, and the check also refuses to extend a tail that was edited.

use crate::codec::{decode, encode, GENESIS_PREV, MAX_LINE_BYTES};
use crate::event::{actions, AuditEvent, Head, Outcome, StoredEntry};
use crate::AuditError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// An open audit log that this process appends to. Share it between threads with `Arc`.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// Holds an advisory `flock` until dropped.
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn exclusive(file: &'a File, path: &Path) -> Result<Self, AuditError> {
        file.lock().map_err(|e| AuditError::io("lock", path, e))?;
        Ok(FileLock(file))
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // Closing the descriptor would release it too; an error here changes nothing.
        let _ = self.0.unlock();
    }
}

impl AuditLog {
    /// Opens (creating if needed) the log at `path` and checks its tail.
    ///
    /// Fails with [`AuditError::TornTail`] if the file ends with an incomplete line and with
    /// [`AuditError::CorruptTail`] if the last line is not a valid, self-consistent entry.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let file = open_append(&path, true)?;
        {
            let _lock = FileLock::exclusive(&file, &path)?;
            read_head(&file, &path)?;
        }
        Ok(AuditLog {
            path,
            file: Mutex::new(file),
        })
    }

    /// The file this log writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current head, read from the file (it may include other processes' appends).
    pub fn head(&self) -> Result<Option<Head>, AuditError> {
        let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let _lock = FileLock::exclusive(&file, &self.path)?;
        read_head(&file, &self.path)
    }

    /// Appends `event` as the next entry and returns it once it is durable on disk.
    ///
    /// The returned entry's [`StoredEntry::head`] is the new head, which callers may record
    /// elsewhere (e.g. with a backup generation) to detect later truncation.
    ///
    /// On `Err` the event must be treated as not recorded. One case is ambiguous: if the
    /// write succeeded and only `fdatasync` failed, the line may survive; a retry then records
    /// the event twice (under two seqs), which is preferable to losing it.
    pub fn append(&self, event: AuditEvent) -> Result<StoredEntry, AuditError> {
        validate(&event)?;
        // A panic elsewhere while holding the mutex cannot leave the file inconsistent
        // (the head is re-read below), so a poisoned mutex is safe to reuse.
        let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let _lock = FileLock::exclusive(&file, &self.path)?;
        let head = read_head(&file, &self.path)?;
        let (seq, prev) = match head {
            None => (1, GENESIS_PREV.to_string()),
            Some(h) => (
                h.seq.checked_add(1).ok_or_else(|| self.seq_overflow())?,
                h.hash,
            ),
        };
        let encoded = encode(seq, &prev, &event)?;
        // One write on an O_APPEND descriptor: the line lands whole at the end of the file.
        (&*file)
            .write_all(&encoded.line)
            .map_err(|e| AuditError::io("append to", &self.path, e))?;
        file.sync_data()
            .map_err(|e| AuditError::io("fsync", &self.path, e))?;
        Ok(StoredEntry {
            seq,
            prev,
            event,
            hash: encoded.hash,
        })
    }

    fn seq_overflow(&self) -> AuditError {
        AuditError::CorruptTail {
            path: self.path.clone(),
            reason: "the last sequence number is the largest possible".into(),
        }
    }
}

/// Refuses events that would make useless or ambiguous audit records.
fn validate(event: &AuditEvent) -> Result<(), AuditError> {
    if event.action.trim().is_empty() {
        return Err(AuditError::InvalidEvent("the action is empty".into()));
    }
    if event.action.chars().any(char::is_whitespace) {
        return Err(AuditError::InvalidEvent(format!(
            "the action {:?} contains whitespace; use dotted names such as \"login.failed\"",
            event.action
        )));
    }
    Ok(())
}

/// Opens for appending; `create` makes a missing log (with a durable directory entry).
fn open_append(path: &Path, create: bool) -> Result<File, AuditError> {
    let existed = path.exists();
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(create);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Audit logs name patients' viewers: not world-readable.
        opts.mode(0o640);
    }
    let file = opts
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))?;
    if create && !existed {
        sync_parent_dir(path)?;
    }
    Ok(file)
}

/// Makes a newly created file's directory entry durable (otherwise a crash could lose the
/// whole file even though its data was fsynced).
fn sync_parent_dir(path: &Path) -> Result<(), AuditError> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| AuditError::io("fsync the directory of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

/// Offset of the first byte after the last `\n` in `[0, end)`, scanning back at most
/// [`MAX_LINE_BYTES`]; `None` if no line start is found within that distance.
fn line_start_before(file: &File, end: u64) -> std::io::Result<Option<u64>> {
    const CHUNK: u64 = 8 * 1024;
    let floor = end.saturating_sub(MAX_LINE_BYTES as u64);
    let mut hi = end;
    let mut buf = vec![0u8; CHUNK as usize];
    while hi > floor {
        let lo = hi.saturating_sub(CHUNK).max(floor);
        let chunk = &mut buf[..(hi - lo) as usize];
        read_at(file, lo, chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(lo + i as u64 + 1));
        }
        hi = lo;
    }
    Ok(if floor == 0 { Some(0) } else { None })
}

/// Reads and checks the last line of the first `len` bytes of `file`.
pub(crate) fn read_head_at(file: &File, path: &Path, len: u64) -> Result<Option<Head>, AuditError> {
    if len == 0 {
        return Ok(None);
    }
    let io = |e| AuditError::io("read", path, e);
    let corrupt = |reason: String| AuditError::CorruptTail {
        path: path.to_path_buf(),
        reason,
    };
    let mut last = [0u8; 1];
    read_at(file, len - 1, &mut last).map_err(io)?;
    if last[0] != b'\n' {
        let start = line_start_before(file, len).map_err(io)?.ok_or_else(|| {
            corrupt("the file ends with an over-long line without newline".into())
        })?;
        return Err(AuditError::TornTail {
            path: path.to_path_buf(),
            offset: start,
            len: len - start,
        });
    }
    let end = len - 1;
    let start = line_start_before(file, end)
        .map_err(io)?
        .ok_or_else(|| corrupt("the last line is longer than the line limit".into()))?;
    let mut line = vec![0u8; (end - start) as usize];
    read_at(file, start, &mut line).map_err(io)?;
    let decoded = decode(&line).map_err(corrupt)?;
    if !decoded.hash_ok() {
        return Err(corrupt(format!(
            "entry seq {} does not match its hash (edited)",
            decoded.entry.seq
        )));
    }
    Ok(Some(decoded.entry.head()))
}

fn read_head(file: &File, path: &Path) -> Result<Option<Head>, AuditError> {
    let len = file
        .metadata()
        .map_err(|e| AuditError::io("stat", path, e))?
        .len();
    read_head_at(file, path, len)
}

/// The current head of the log at `path` without opening it for writing (for anchoring:
/// record it with each backup generation, pass it to [`crate::verify`] later).
///
/// `Ok(None)` for an empty log. A torn or invalid tail is an error, as for [`AuditLog::open`].
pub fn head(path: impl AsRef<Path>) -> Result<Option<Head>, AuditError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| AuditError::io("open", path, e))?;
    let locked = file.lock_shared().is_ok();
    let result = read_head(&file, path);
    if locked {
        let _ = file.unlock();
    }
    result
}

/// What [`recover_torn_tail`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum TailRecovery {
    /// The log ended with a complete line; nothing was changed.
    NothingToDo,
    /// The fragment was a whole valid entry missing only its `\n`, which was added.
    Completed(StoredEntry),
    /// The fragment was moved to `fragment_path`, the log cut back to its last complete line,
    /// and `recorded` (action `audit.tail_recovered`) appended to say so.
    Quarantined {
        /// Side file holding the fragment's exact bytes.
        fragment_path: PathBuf,
        /// Length of the fragment in bytes.
        fragment_len: u64,
        /// The entry that records the recovery.
        recorded: StoredEntry,
    },
}

/// Repairs a torn last line left by an interrupted append, without losing its bytes.
///
/// `actor` is the operator running the recovery; it is written in the recovery entry.
/// A tail that is complete but invalid is not touched: that is tampering, not a crash.
pub fn recover_torn_tail(path: impl AsRef<Path>, actor: &str) -> Result<TailRecovery, AuditError> {
    let path = path.as_ref();
    // Never create: recovering a log that does not exist is a mistake worth reporting.
    let file = open_append(path, false)?;
    let (offset, fragment) = {
        let _lock = FileLock::exclusive(&file, path)?;
        let (offset, len) = match read_head(&file, path) {
            Ok(_) => return Ok(TailRecovery::NothingToDo),
            Err(AuditError::TornTail { offset, len, .. }) => (offset, len),
            Err(e) => return Err(e),
        };
        let mut fragment = vec![0u8; len as usize];
        read_at(&file, offset, &mut fragment).map_err(|e| AuditError::io("read", path, e))?;
        if let Some(entry) = completes_chain(&file, path, offset, &fragment)? {
            (&file)
                .write_all(b"\n")
                .and_then(|()| file.sync_data())
                .map_err(|e| AuditError::io("append to", path, e))?;
            return Ok(TailRecovery::Completed(entry));
        }
        let fragment_path = quarantine(path, offset, &fragment)?;
        file.set_len(offset)
            .and_then(|()| file.sync_all())
            .map_err(|e| AuditError::io("truncate the torn line of", path, e))?;
        (offset, (fragment_path, fragment))
    };
    let (fragment_path, bytes) = fragment;
    let event = AuditEvent::now(
        actor,
        actions::AUDIT_TAIL_RECOVERED,
        path.display().to_string(),
        Outcome::Success,
    )
    .with_reason("an interrupted write left an incomplete last line; it was quarantined")
    .with_details(serde_json::json!({
        "offset": offset,
        "length": bytes.len(),
        "blake3": blake3::hash(&bytes).to_hex().to_string(),
        "quarantine_file": fragment_path.display().to_string(),
    }));
    let recorded = AuditLog::open(path)?.append(event)?;
    Ok(TailRecovery::Quarantined {
        fragment_path,
        fragment_len: bytes.len() as u64,
        recorded,
    })
}

/// `Some(entry)` if `fragment` is a valid entry that correctly extends the log before it.
fn completes_chain(
    file: &File,
    path: &Path,
    offset: u64,
    fragment: &[u8],
) -> Result<Option<StoredEntry>, AuditError> {
    let Ok(decoded) = decode(fragment) else {
        return Ok(None);
    };
    let (want_seq, want_prev) = match read_head_at(file, path, offset)? {
        None => (1, GENESIS_PREV.to_string()),
        Some(h) => (h.seq.saturating_add(1), h.hash),
    };
    let e = &decoded.entry;
    let ok = decoded.hash_ok() && e.seq == want_seq && e.prev == want_prev;
    Ok(ok.then_some(decoded.entry))
}

/// Writes the fragment to a new side file next to the log; never overwrites one.
fn quarantine(path: &Path, offset: u64, fragment: &[u8]) -> Result<PathBuf, AuditError> {
    let base = path.as_os_str().to_owned();
    for attempt in 0u32..1000 {
        let mut name = base.clone();
        name.push(format!(".torn-{offset}"));
        if attempt > 0 {
            name.push(format!(".{attempt}"));
        }
        let candidate = PathBuf::from(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                f.write_all(fragment)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| AuditError::io("write quarantine file", &candidate, e))?;
                sync_parent_dir(&candidate)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(AuditError::io("create quarantine file", &candidate, e)),
        }
    }
    Err(AuditError::io(
        "find a free quarantine file name next to",
        path,
        std::io::Error::other("1000 quarantine files already exist"),
    ))
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
