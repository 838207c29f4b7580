//! `kura-audit`: Kura's append-only, hash-chained audit log and its verifier.
//!
//! The MHLW guideline asks hospitals to keep access logs that cannot be deleted, altered or
//! added to without it being noticed. This crate keeps every security-relevant event
//! (logins, restores, retention changes, clinical views...) in one JSON-lines file where each
//! entry carries the BLAKE3 hash of its own bytes and the hash of the entry before it. Any
//! edit, deletion, insertion or reordering breaks the chain and [`verify`] reports where.
//! Cutting entries off the end leaves a valid shorter chain, so the repository records the
//! current [`Head`] with each backup generation and `verify` checks the file against it.
//!
//! Producers of events (auth, server, engine) should take an [`AuditSink`]: [`AuditLog`]
//! implements it, and [`MemorySink`] lets their tests assert what was audited. Auditors use
//! [`verify`], [`export_csv`] / [`export_json`]; the console uses [`read_entries`].
//!
//! ```
//! use kura_audit::{actions, verify, AuditEvent, AuditLog, Outcome};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.log");
//! let log = AuditLog::open(&path)?;
//! log.append(AuditEvent::now("sato", actions::LOGIN, "console", Outcome::Success))?;
//! let entry = log.append(
//!     AuditEvent::now("sato", actions::RESTORE, "gen-42", Outcome::Denied)
//!         .with_role("restore-operator")
//!         .with_reason("retention lock"),
//! )?;
//! let recorded = entry.head(); // store this with the backup generation
//! let report = verify(&path, Some(&recorded))?;
//! assert!(report.is_ok(), "{report}");
//! assert_eq!(report.entries, 2);
//! # Ok(()) }
//! ```
//!
//! # On-disk format (version 1)
//!
//! The log is a file of lines, each ending with `\n` (0x0A) and holding one JSON object in
//! UTF-8 with no whitespace between tokens. The members appear in exactly this order:
//!
//! | member        | JSON type        | meaning                                                |
//! |---------------|------------------|--------------------------------------------------------|
//! | `seq`         | integer          | 1 for the first line, then +1 per line, no gaps        |
//! | `prev`        | string           | `hash` of the previous entry; 64 `0`s for `seq` 1      |
//! | `time`        | string           | RFC 3339 in UTC with a `Z` suffix                      |
//! | `actor`       | string           | who acted (for a failed login: the name tried)         |
//! | `role`        | string or `null` | role acted under                                       |
//! | `source_addr` | string or `null` | where the request came from                            |
//! | `action`      | string           | dotted name, see [`actions`]                           |
//! | `target`      | string           | what was acted on                                      |
//! | `result`      | string           | `"success"`, `"failure"` or `"denied"`                 |
//! | `reason`      | string or `null` | why it failed or was denied, or a justification        |
//! | `details`     | any JSON         | structured extra data, `null` if none                  |
//! | `hash`        | string           | 64 lowercase hex digits, see below                     |
//!
//! **The hash covers bytes, not a re-serialisation.** Let `L` be a line without its `\n`.
//! `L` always ends with the 75 bytes `,"hash":"` + *H* + `"}` where *H* is 64 lowercase hex
//! digits. Remove those 75 bytes and append the single byte `}`; call the result `B`. Then
//! *H* is the lowercase hex of the 32-byte BLAKE3 hash of `B`. (`B` is the JSON object without
//! its `hash` member, exactly as the writer serialised it.) A verifier therefore needs no JSON
//! canonicalisation; it must parse `L` only to read `seq` and `prev`. A line must not contain
//! any member other than those above, nor any member twice.
//!
//! **The chain.** Line *n* (counting from 1) has `seq` = *n*; line 1 has `prev` = 64 `0`s;
//! line *n* > 1 has `prev` = the `hash` of line *n*−1. The *head* is the `seq` and `hash` of
//! the last line. An empty file is a valid empty log.
//!
//! Checking the first line with common tools: `{ head -n1 audit.log | head -c -76; printf '}'; } | b3sum`
//! prints the hash stored at the end of that line. In Python, with the `blake3` package:
//!
//! ```text
//! prev = "0" * 64
//! for n, raw in enumerate(open("audit.log", "rb"), 1):
//!     line = raw.rstrip(b"\n"); e = json.loads(line)
//!     assert line[-75:] == b',"hash":"' + e["hash"].encode() + b'"}'
//!     assert blake3.blake3(line[:-75] + b"}").hexdigest() == e["hash"]
//!     assert e["seq"] == n and e["prev"] == prev
//!     prev = e["hash"]
//! ```
//!
//! # Writing, crashes and concurrency
//!
//! Appends hold a process-local mutex and an advisory exclusive `flock` on the file (so two
//! processes never interleave), re-read the head from the file, write the whole line with one
//! `write_all` on an `O_APPEND` descriptor and `fdatasync` before returning. A crash can only
//! leave a *torn* last line without `\n`; opening or appending then fails with
//! [`AuditError::TornTail`] instead of writing after it, and [`recover_torn_tail`] keeps the
//! fragment's bytes in a side file and records the recovery in the chain. Readers take the
//! shared lock only to read the length and then read that many bytes, so they see whole lines
//! and do not block writers. See the `log` and `lines` module docs for the full crash model.
//!
//! # What this does not protect against
//!
//! Someone who can rewrite the whole file can rebuild a valid chain from scratch; only the
//! heads recorded elsewhere (with backup generations, in the vault, on paper) reveal that.
//! Timestamps come from the caller's clock; keep it NTP-synchronised.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
mod event;
mod export;
mod lines;
mod log;
mod sink;
mod verify;

pub use codec::{GENESIS_PREV, MAX_LINE_BYTES};
pub use event::{actions, AuditEvent, Head, Outcome, StoredEntry};
pub use export::{
    export_csv, export_json, read_entries, EntryPage, ExportSummary, Filter, Page, MAX_PAGE,
    UTF8_BOM,
};
pub use log::{head, recover_torn_tail, AuditLog, TailRecovery};
pub use sink::{AuditSink, MemorySink};
pub use verify::{verify, verify_reader, Problem, ProblemKind, VerifyReport};

use std::path::{Path, PathBuf};

/// Everything that can go wrong in this crate. Findings about a log's *content* during
/// [`verify`] are not errors: they are [`Problem`]s in the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The operating system refused an operation on the log or a file next to it.
    #[error("cannot {op} {}: {source}; check that the path exists, the disk is not full, and this account may access it", path.display())]
    Io {
        /// What was being done ("open", "append to", "fsync", ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The log ends with an incomplete line; nothing was written after it.
    #[error("audit log {} ends with an incomplete line ({len} bytes at byte {offset}), most likely from a crash or a full disk during a write; nothing was appended. Run verify, then recover_torn_tail to keep the fragment aside and record the recovery", path.display())]
    TornTail {
        /// The log.
        path: PathBuf,
        /// Byte offset where the incomplete line starts.
        offset: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// The last line is complete but not a valid entry: not a crash, possibly tampering.
    #[error("the last entry of audit log {} is invalid: {reason}; the log may have been tampered with, so appending is refused until it is investigated with verify", path.display())]
    CorruptTail {
        /// The log.
        path: PathBuf,
        /// What is wrong with the last line.
        reason: String,
    },
    /// The caller passed an event that cannot be recorded as is.
    #[error("audit event refused: {0}")]
    InvalidEvent(String),
    /// The encoded entry exceeds [`MAX_LINE_BYTES`].
    #[error("audit entry would be {len} bytes, over the {max}-byte limit; store bulky data elsewhere and put its id or hash in details")]
    TooLarge {
        /// Encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Writing an export to the caller's writer failed.
    #[error(
        "cannot write the audit export: {0}; check the destination (disk space, closed connection)"
    )]
    Export(#[source] std::io::Error),
}

impl AuditError {
    fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        AuditError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
