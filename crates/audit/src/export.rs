//! Reading entries out of the log: filtered CSV/JSON exports for auditors and a paginated,
//! newest-first listing for the web console.
//!
//! These readers do not judge the chain (that is [`crate::verify`]'s job) but they never pass
//! on a line they cannot vouch for: unreadable lines and lines whose hash does not match their
//! bytes are left out and their line numbers returned, so a caller can say "3 lines were
//! withheld, run verify" instead of silently showing an edited record.

use crate::event::{AuditEvent, Outcome, StoredEntry};
use crate::lines::{open_snapshot, LineKind, LineReader};
use crate::{codec::decode, AuditError};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

/// Byte-order mark a caller may write before [`export_csv`] output: Excel on Japanese Windows
/// reads a CSV without it as Shift_JIS and garbles the Japanese text.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Largest page [`read_entries`] returns; bigger requests are cut to this.
pub const MAX_PAGE: usize = 1000;

/// Which entries to select. Every set field must match; the default selects everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only this exact actor.
    pub actor: Option<String>,
    /// Only actions equal to this or below it in the dotted hierarchy: `forget` selects
    /// `forget`, `forget.plan` and `forget.approve` but not `forgetful`. A prefix ending in
    /// `.` selects only the children.
    pub action_prefix: Option<String>,
    /// Only this outcome.
    pub result: Option<Outcome>,
}

impl Filter {
    /// Whether `event` is selected.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.since.is_none_or(|t| event.time >= t)
            && self.until.is_none_or(|t| event.time < t)
            && self.actor.as_ref().is_none_or(|a| &event.actor == a)
            && self.result.is_none_or(|r| event.result == r)
            && self
                .action_prefix
                .as_ref()
                .is_none_or(|p| action_matches(&event.action, p))
    }
}

fn action_matches(action: &str, prefix: &str) -> bool {
    match action.strip_prefix(prefix) {
        None => false,
        Some(rest) => {
            rest.is_empty() || prefix.is_empty() || prefix.ends_with('.') || rest.starts_with('.')
        }
    }
}

/// What an export wrote and what it withheld.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entries written.
    pub exported: u64,
    /// Line numbers left out because they are unreadable, torn or fail their hash check.
    /// Non-empty means the log is damaged or tampered with: run [`crate::verify`].
    pub withheld_lines: Vec<u64>,
}

/// Calls `f` with the raw line and parsed entry of every genuine entry that `filter` selects.
fn scan(
    path: &Path,
    filter: &Filter,
    mut f: impl FnMut(&[u8], StoredEntry) -> Result<(), AuditError>,
) -> Result<Vec<u64>, AuditError> {
    let mut lines = LineReader::new(open_snapshot(path)?);
    let mut withheld = Vec::new();
    while let Some((n, kind, bytes)) = lines
        .next_line()
        .map_err(|e| AuditError::io("read", path, e))?
    {
        let decoded = match (kind, decode(bytes)) {
            (LineKind::Complete, Ok(d)) if d.hash_ok() => d,
            _ => {
                withheld.push(n);
                continue;
            }
        };
        if filter.matches(&decoded.entry.event) {
            f(bytes, decoded.entry)?;
        }
    }
    Ok(withheld)
}

/// Writes the selected entries as JSON lines, byte for byte as stored, so that each exported
/// line can still be checked against its own hash (and an unfiltered export is a verifiable
/// copy of the log).
pub fn export_json<W: Write>(
    path: impl AsRef<Path>,
    mut out: W,
    filter: &Filter,
) -> Result<ExportSummary, AuditError> {
    let mut exported = 0;
    let withheld_lines = scan(path.as_ref(), filter, |raw, _| {
        out.write_all(raw)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(AuditError::Export)?;
        exported += 1;
        Ok(())
    })?;
    out.flush().map_err(AuditError::Export)?;
    Ok(ExportSummary {
        exported,
        withheld_lines,
    })
}

const CSV_HEADER: [&str; 14] = [
    "seq",
    "time_utc",
    "time_jst",
    "actor",
    "role",
    "source_addr",
    "action",
    "target",
    "result",
    "reason",
    "details",
    "prev",
    "hash",
    "verified",
];

/// Writes the selected entries as RFC 4180 CSV (UTF-8, CRLF line ends, header row).
///
/// Cells that contain `,` `"` CR or LF are quoted with `"` doubled. Cells that a spreadsheet
/// would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) get a leading `'`,
/// because actor names and targets can come from an attacker (a failed login's user name).
/// `details` is its compact JSON. Write [`UTF8_BOM`] first if the file is for Excel.
pub fn export_csv<W: Write>(
    path: impl AsRef<Path>,
    mut out: W,
    filter: &Filter,
) -> Result<ExportSummary, AuditError> {
    write_csv_row(&mut out, CSV_HEADER.iter().map(|s| s.to_string()))
        .map_err(AuditError::Export)?;
    let mut exported = 0;
    let withheld_lines = scan(path.as_ref(), filter, |_, entry| {
        write_csv_row(&mut out, csv_cells(&entry)).map_err(AuditError::Export)?;
        exported += 1;
        Ok(())
    })?;
    out.flush().map_err(AuditError::Export)?;
    Ok(ExportSummary {
        exported,
        withheld_lines,
    })
}

fn csv_cells(entry: &StoredEntry) -> impl Iterator<Item = String> {
    let e = &entry.event;
    let jst = FixedOffset::east_opt(9 * 3600).map(|tz| e.time.with_timezone(&tz));
    let details = match &e.details {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    [
        entry.seq.to_string(),
        e.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        jst.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
            .unwrap_or_default(),
        e.actor.clone(),
        e.role.clone().unwrap_or_default(),
        e.source_addr.clone().unwrap_or_default(),
        e.action.clone(),
        e.target.clone(),
        e.result.as_str().to_string(),
        e.reason.clone().unwrap_or_default(),
        details,
        entry.prev.clone(),
        entry.hash.clone(),
        // Only entries whose hash matched are exported; the column makes that explicit
        // for whoever reads the spreadsheet without this documentation.
        "hash-ok".to_string(),
    ]
    .into_iter()
}

fn write_csv_row<W: Write>(
    out: &mut W,
    cells: impl Iterator<Item = String>,
) -> std::io::Result<()> {
    let mut row = String::new();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            row.push(',');
        }
        push_csv_cell(&mut row, &cell);
    }
    row.push_str("\r\n");
    out.write_all(row.as_bytes())
}

fn push_csv_cell(row: &mut String, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = cell.contains([',', '"', '\r', '\n']);
    if quote {
        row.push('"');
    }
    if formula {
        row.push('\'');
    }
    for c in cell.chars() {
        if c == '"' {
            row.push('"');
        }
        row.push(c);
    }
    if quote {
        row.push('"');
    }
}

/// Where a console page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Matching entries to skip, counting from the newest.
    pub offset: usize,
    /// Entries to return, at most [`MAX_PAGE`].
    pub limit: usize,
}

/// One page of entries for the console.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryPage {
    /// Newest first.
    pub entries: Vec<StoredEntry>,
    /// How many entries match the filter in the whole log.
    pub total_matching: u64,
    /// Lines left out, as in [`ExportSummary::withheld_lines`].
    pub withheld_lines: Vec<u64>,
}

/// Selected entries, newest first, `page.limit` of them after skipping `page.offset`.
///
/// Memory is bounded by `offset + limit` entries whatever the size of the log.
pub fn read_entries(
    path: impl AsRef<Path>,
    filter: &Filter,
    page: Page,
) -> Result<EntryPage, AuditError> {
    let limit = page.limit.min(MAX_PAGE);
    let keep = page.offset.saturating_add(limit);
    let mut newest: VecDeque<StoredEntry> = VecDeque::new();
    let mut total_matching = 0u64;
    let withheld_lines = scan(path.as_ref(), filter, |_, entry| {
        total_matching += 1;
        if keep > 0 {
            if newest.len() == keep {
                newest.pop_front();
            }
            newest.push_back(entry);
        }
        Ok(())
    })?;
    let entries = newest
        .into_iter()
        .rev()
        .skip(page.offset)
        .take(limit)
        .collect();
    Ok(EntryPage {
        entries,
        total_matching,
        withheld_lines,
    })
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod file_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(s: &str) -> String {
        let mut row = String::new();
        push_csv_cell(&mut row, s);
        row
    }

    #[test]
    fn csv_cells_are_quoted_only_when_needed() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(cell("山田太郎"), "山田太郎");
        assert_eq!(cell("山田,太郎"), "\"山田,太郎\"");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn csv_neutralises_formulas() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("a=b"), "a=b");
    }

    #[test]
    fn action_prefix_follows_dotted_segments() {
        assert!(action_matches("forget.plan", "forget"));
        assert!(action_matches("forget", "forget"));
        assert!(!action_matches("forgetful", "forget"));
        assert!(action_matches("login.failed", "login."));
        assert!(!action_matches("login", "login."));
        assert!(!action_matches("log", "login"));
        assert!(action_matches("anything", ""));
    }

    #[test]
    fn filter_combines_all_fields() {
        use chrono::TimeZone;
        let t = |h| Utc.with_ymd_and_hms(2025, 1, 1, h, 0, 0).unwrap();
        let e = AuditEvent::at(t(10), "sato", "restore", "gen-1", Outcome::Denied);
        let f = Filter {
            since: Some(t(10)),
            until: Some(t(11)),
            actor: Some("sato".into()),
            action_prefix: Some("restore".into()),
            result: Some(Outcome::Denied),
        };
        assert!(f.matches(&e));
        assert!(Filter::default().matches(&e));
        assert!(!Filter {
            until: Some(t(10)),
            ..f.clone()
        }
        .matches(&e));
        assert!(!Filter {
            since: Some(t(11)),
            ..f.clone()
        }
        .matches(&e));
        assert!(!Filter {
            actor: Some("Sato".into()),
            ..f.clone()
        }
        .matches(&e));
        assert!(!Filter {
            result: Some(Outcome::Success),
            ..f.clone()
        }
        .matches(&e));
        assert!(!Filter {
            action_prefix: Some("backup".into()),
            ..f
        }
        .matches(&e));
    }
}
