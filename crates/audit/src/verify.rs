//! The verifier: reads a whole log and reports every way it departs from an untouched chain.
//!
//! Each line is checked on its own (readable, hash matches its bytes) and against the last
//! readable entry before it (seq is one more, prev is its hash). After a problem the check
//! resynchronises on the entry just read, so one tampering shows up where it happened
//! instead of making every later line fail. Truncation of the tail cannot be seen from the
//! file alone; it is detected against a head recorded elsewhere (`expected`).

use crate::codec::{decode, GENESIS_PREV};
use crate::event::{Head, StoredEntry};
use crate::lines::{open_snapshot, LineKind, LineReader};
use crate::AuditError;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// One departure from a valid chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number, if the problem is on a particular line.
    pub line: Option<u64>,
    /// The seq written on that line, if it could be read.
    pub seq: Option<u64>,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// The kinds of problems [`verify`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The last line has no `\n`: an interrupted write (see [`crate::recover_torn_tail`]).
    TornLine {
        /// Bytes in the fragment.
        len: u64,
    },
    /// The line is not an entry (bad JSON, unknown field, too long, empty...).
    Unreadable {
        /// Why.
        reason: String,
    },
    /// The stored hash does not match the line's bytes: the entry was edited.
    HashMismatch {
        /// Hash written in the line.
        stored: String,
        /// Hash of the bytes.
        computed: String,
    },
    /// seq jumped forward: entries `expected..found` are missing (deleted).
    SeqGap {
        /// The seq that should have come next.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// seq did not increase: a duplicate, inserted or reordered entry.
    SeqNotIncreasing {
        /// The seq that should have come next.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// prev is not the hash of the preceding entry: the link is broken.
    PrevMismatch {
        /// Hash of the preceding readable entry (64 zeros for the first).
        expected: String,
        /// prev written in the line.
        found: String,
    },
    /// The entry at the recorded head's seq has a different hash: history was rewritten.
    HeadHashMismatch {
        /// Hash recorded externally.
        expected: String,
        /// Hash found in the log.
        found: String,
    },
    /// The log ends before the recorded head: entries were cut from the end.
    Truncated {
        /// seq of the recorded head.
        expected_seq: u64,
        /// seq of the last readable entry, `None` if there is none.
        last_seq: Option<u64>,
    },
    /// The recorded head's seq never appears although the log goes past it.
    HeadNotFound {
        /// seq of the recorded head.
        expected_seq: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.seq) {
            (Some(l), Some(s)) => write!(f, "line {l} (seq {s}): ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => f.write_str("log: ")?,
        }
        write!(f, "{}", self.kind)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind::*;
        match self {
            TornLine { len } => write!(f, "incomplete last line ({len} bytes, no newline): an interrupted write, not an entry"),
            Unreadable { reason } => write!(f, "unreadable: {reason}"),
            HashMismatch { stored, computed } => write!(f, "content does not match its hash (stored {stored}, computed {computed}): the entry was edited"),
            SeqGap { expected, found } => write!(f, "expected seq {expected}: entries {expected}..={} are missing (deleted)", found - 1),
            SeqNotIncreasing { expected, found } => write!(f, "expected seq {expected} but found {found}: a duplicate, inserted or reordered entry"),
            PrevMismatch { expected, found } => write!(f, "prev {found} is not the hash of the preceding entry ({expected}): the chain is broken here (an entry before it was removed, inserted, reordered or rewritten)"),
            HeadHashMismatch { expected, found } => write!(f, "hash {found} differs from the recorded head hash {expected}: history up to the recorded head was rewritten"),
            Truncated { expected_seq, last_seq: Some(l) } => write!(f, "the log ends at seq {l} but the recorded head is seq {expected_seq}: entries were removed from the end"),
            Truncated { expected_seq, last_seq: None } => write!(f, "the log has no entries but the recorded head is seq {expected_seq}: it was emptied or replaced"),
            HeadNotFound { expected_seq } => write!(f, "the recorded head seq {expected_seq} does not appear in the log"),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Physical lines read.
    pub lines: u64,
    /// Readable entries (hash-mismatched ones included: they are readable, just not genuine).
    pub entries: u64,
    /// seq and hash of the last readable entry, `None` for an empty log.
    pub head: Option<Head>,
    /// The externally recorded head that was checked, if any.
    pub expected_head: Option<Head>,
    /// Every problem found, in file order; whole-log problems last.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            match &self.head {
                Some(h) => write!(f, "OK: {} entries, head {h}", self.entries)?,
                None => write!(f, "OK: 0 entries (empty log)")?,
            }
            if let Some(e) = &self.expected_head {
                write!(f, "; contains the recorded head seq {}", e.seq)?;
            }
            return Ok(());
        }
        write!(
            f,
            "FAILED: {} problem(s) in {} lines ({} readable entries):",
            self.problems.len(),
            self.lines,
            self.entries
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Verifies the log at `path`, optionally against a head recorded elsewhere.
///
/// `Err` only when the file cannot be read at all; every finding about its content is in
/// the report.
pub fn verify(path: impl AsRef<Path>, expected: Option<&Head>) -> Result<VerifyReport, AuditError> {
    let path = path.as_ref();
    let reader = open_snapshot(path)?;
    verify_reader(reader, expected).map_err(|e| AuditError::io("read", path, e))
}

/// Verifies a log read from any reader (a copy on removable media, an export).
pub fn verify_reader<R: Read>(reader: R, expected: Option<&Head>) -> std::io::Result<VerifyReport> {
    let mut lines = LineReader::new(reader);
    let mut v = Verifier::new(expected);
    while let Some((n, kind, bytes)) = lines.next_line()? {
        v.line(n, kind, bytes);
    }
    Ok(v.finish())
}

struct Verifier {
    report: VerifyReport,
    last: Option<Head>,
    head_seen: bool,
}

impl Verifier {
    fn new(expected: Option<&Head>) -> Self {
        Verifier {
            report: VerifyReport {
                lines: 0,
                entries: 0,
                head: None,
                // A recorded head of seq 0 means "empty log": nothing to check against.
                expected_head: expected.filter(|h| h.seq > 0).cloned(),
                problems: Vec::new(),
            },
            last: None,
            head_seen: false,
        }
    }

    fn problem(&mut self, line: Option<u64>, seq: Option<u64>, kind: ProblemKind) {
        self.report.problems.push(Problem { line, seq, kind });
    }

    fn line(&mut self, n: u64, kind: LineKind, bytes: &[u8]) {
        self.report.lines = n;
        match kind {
            LineKind::Torn => {
                let len = bytes.len() as u64;
                self.problem(Some(n), None, ProblemKind::TornLine { len });
            }
            LineKind::TooLong => {
                let reason = "longer than the line limit".to_string();
                self.problem(Some(n), None, ProblemKind::Unreadable { reason });
            }
            LineKind::Complete => match decode(bytes) {
                Err(reason) => self.problem(Some(n), None, ProblemKind::Unreadable { reason }),
                Ok(d) => {
                    if !d.hash_ok() {
                        let (stored, computed) = (d.entry.hash.clone(), d.computed.clone());
                        let kind = ProblemKind::HashMismatch { stored, computed };
                        self.problem(Some(n), Some(d.entry.seq), kind);
                    }
                    self.entry(n, d.entry);
                }
            },
        }
    }

    fn entry(&mut self, n: u64, e: StoredEntry) {
        let (want_seq, want_prev) = match &self.last {
            None => (1, GENESIS_PREV.to_string()),
            Some(h) => (h.seq.saturating_add(1), h.hash.clone()),
        };
        let at = (Some(n), Some(e.seq));
        if e.seq > want_seq {
            let kind = ProblemKind::SeqGap {
                expected: want_seq,
                found: e.seq,
            };
            self.problem(at.0, at.1, kind);
        } else if e.seq < want_seq {
            let kind = ProblemKind::SeqNotIncreasing {
                expected: want_seq,
                found: e.seq,
            };
            self.problem(at.0, at.1, kind);
        }
        if e.prev != want_prev {
            let kind = ProblemKind::PrevMismatch {
                expected: want_prev,
                found: e.prev.clone(),
            };
            self.problem(at.0, at.1, kind);
        }
        if let Some(x) = self.report.expected_head.clone() {
            if x.seq == e.seq {
                self.head_seen = true;
                if x.hash != e.hash {
                    let kind = ProblemKind::HeadHashMismatch {
                        expected: x.hash,
                        found: e.hash.clone(),
                    };
                    self.problem(at.0, at.1, kind);
                }
            }
        }
        self.report.entries += 1;
        self.last = Some(e.head());
    }

    fn finish(mut self) -> VerifyReport {
        self.report.head = self.last.clone();
        // If the recorded head's seq was seen, any later disorder is already reported.
        if let Some(x) = self
            .report
            .expected_head
            .clone()
            .filter(|_| !self.head_seen)
        {
            let last_seq = self.last.as_ref().map(|h| h.seq);
            let kind = if last_seq.is_none_or(|s| s < x.seq) {
                ProblemKind::Truncated {
                    expected_seq: x.seq,
                    last_seq,
                }
            } else {
                ProblemKind::HeadNotFound {
                    expected_seq: x.seq,
                }
            };
            self.problem(None, None, kind);
        }
        self.report
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
