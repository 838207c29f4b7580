//! Reading the log line by line with bounded memory, from a consistent snapshot.
//!
//! Readers (verify, export, head) never take the exclusive lock: they take the shared lock
//! just long enough to read the file length, then read only that many bytes. Because every
//! append writes one whole line under the exclusive lock, every byte below a length observed
//! under the shared lock belongs to a complete line (unless a crash tore it), so a reader
//! never mistakes a line being written for a torn one, and never blocks writers for the
//! length of a scan.

use crate::codec::MAX_LINE_BYTES;
use crate::AuditError;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// What one physical line turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Ended with `\n`.
    Complete,
    /// The file ended before a `\n`: a torn write (or a cut file).
    Torn,
    /// Longer than [`MAX_LINE_BYTES`]; its bytes were skipped, not kept.
    TooLong,
}

/// Iterates over lines of at most [`MAX_LINE_BYTES`], numbering them from 1.
pub struct LineReader<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    line_no: u64,
}

impl<R: Read> LineReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            buf: Vec::new(),
            line_no: 0,
        }
    }

    /// The next line (without its `\n`), its 1-based number and its kind; `None` at the end.
    pub fn next_line(&mut self) -> std::io::Result<Option<(u64, LineKind, &[u8])>> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let kind = if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            LineKind::Complete
        } else if (n as u64) < limit {
            LineKind::Torn
        } else {
            self.skip_to_next_line()?;
            self.buf.clear();
            LineKind::TooLong
        };
        Ok(Some((self.line_no, kind, &self.buf)))
    }

    /// Discards bytes up to and including the next `\n`, without buffering them.
    fn skip_to_next_line(&mut self) -> std::io::Result<()> {
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            if let Some(i) = available.iter().position(|&b| b == b'\n') {
                self.inner.consume(i + 1);
                return Ok(());
            }
            let len = available.len();
            self.inner.consume(len);
        }
    }
}

/// Opens `path` for reading and returns a reader limited to the length observed under the
/// shared lock (see the module docs).
pub fn open_snapshot(path: &Path) -> Result<std::io::Take<File>, AuditError> {
    let file = File::open(path).map_err(|e| AuditError::io("open", path, e))?;
    // A filesystem without flock support (some network mounts) still gets read; the
    // snapshot is then only as consistent as the filesystem makes it.
    let locked = file.lock_shared().is_ok();
    let len = file.metadata().map(|m| m.len());
    if locked {
        let _ = file.unlock();
    }
    let len = len.map_err(|e| AuditError::io("stat", path, e))?;
    Ok(file.take(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(data: &[u8]) -> Vec<(u64, LineKind, Vec<u8>)> {
        let mut r = LineReader::new(data);
        let mut out = Vec::new();
        while let Some((n, k, l)) = r.next_line().unwrap() {
            out.push((n, k, l.to_vec()));
        }
        out
    }

    #[test]
    fn splits_complete_and_torn_lines() {
        let got = collect(b"a\n\nbc\nde");
        assert_eq!(
            got,
            vec![
                (1, LineKind::Complete, b"a".to_vec()),
                (2, LineKind::Complete, b"".to_vec()),
                (3, LineKind::Complete, b"bc".to_vec()),
                (4, LineKind::Torn, b"de".to_vec()),
            ]
        );
    }

    #[test]
    fn overlong_line_is_skipped_and_reading_resumes() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nok\n");
        let got = collect(&data);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, LineKind::TooLong);
        assert!(got[0].2.is_empty());
        assert_eq!(got[1], (2, LineKind::Complete, b"ok".to_vec()));
    }

    #[test]
    fn line_of_exactly_max_with_newline_is_complete() {
        let mut data = vec![b'y'; MAX_LINE_BYTES - 1];
        data.push(b'\n');
        let got = collect(&data);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, LineKind::Complete);
        assert_eq!(got[0].2.len(), MAX_LINE_BYTES - 1);
    }

    #[test]
    fn snapshot_reads_only_bytes_present_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"one\n").unwrap();
        let mut snap = open_snapshot(&path).unwrap();
        std::fs::write(&path, b"one\ntwo\n").unwrap();
        let mut s = String::new();
        snap.read_to_string(&mut s).unwrap();
        assert_eq!(s, "one\n");
    }
}
