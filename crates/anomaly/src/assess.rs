//! Judging one file change on its own: which per-file signals it raises.
//!
//! Each flag is defined so that the benign heavy changes a hospital sees every night do not
//! raise it: a dump rewritten as a dump keeps its type; new JPEG/DICOM images are
//! recognised; an updated executable keeps its header; an archive replaced by an archive
//! is expected to be random-looking. Flags are exclusive where they describe the same
//! fact (a file that lost its type is not counted again as an entropy jump or an extension
//! mismatch), so counts in the reasons add up.

use std::collections::HashMap;

use crate::filetype::{extension, is_consistent, is_known_extension, EntropyClass, FileType};
use crate::notes::is_ransom_note;
use crate::observation::{ChangeKind, FileChange};
use crate::signals::{BlockPattern, FileSignals, FileSummary};

/// Per-file signals raised by one change.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FileFlags {
    /// The recognised type the file had, when it is now unrecognised random-looking data.
    pub type_lost: Option<FileType>,
    /// The content became random-looking (not already counted as `type_lost`).
    pub entropy_jump: bool,
    /// Alternating or head-only random blocks in a file that lost its type or jumped.
    pub intermittent: Option<BlockPattern>,
    /// The detected type, when it is not what the extension promises.
    pub extension_mismatch: Option<FileType>,
    /// A new file of unrecognised random-looking content.
    pub new_random: bool,
    /// The unknown extension a renamed file was given.
    pub extension_changed: Option<String>,
    /// A new file named like a ransom note.
    pub ransom_note: bool,
}

/// One change as the detector judges it: the caller's change, possibly re-read as a rename
/// when a new `name.ext.SUFFIX` appeared where `name.ext` was deleted.
#[derive(Debug, Clone)]
pub(crate) struct Judged<'a> {
    pub path: &'a str,
    pub renamed_from: Option<&'a str>,
    pub is_new: bool,
    /// Paired by [`pair_appended`]: a deleted `Q` and a new `Q.SUFFIX`.
    pub appended: bool,
    pub signals: Option<&'a FileSignals>,
    pub previous: Option<&'a FileSummary>,
}

/// Pairs each new path `Q.SUFFIX...` with a deleted path `Q` (ransomware that renames in
/// place or writes `Q.locked` and deletes `Q` looks like this to a backup that compares by
/// path). Returns the judged changes, and the deleted paths that stayed unpaired.
pub(crate) fn pair_appended(changes: &[FileChange]) -> (Vec<Judged<'_>>, Vec<&FileChange>) {
    let mut deleted: HashMap<&str, &FileChange> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Deleted)
        .map(|c| (c.path.as_str(), c))
        .collect();
    let mut judged = Vec::with_capacity(changes.len());
    for c in changes {
        let j = match &c.kind {
            ChangeKind::Deleted => continue,
            ChangeKind::New => match take_appended_origin(&c.path, &mut deleted) {
                Some(origin) => Judged {
                    path: &c.path,
                    renamed_from: Some(origin.path.as_str()),
                    is_new: false,
                    appended: true,
                    signals: c.signals.as_ref(),
                    previous: origin.previous.as_ref(),
                },
                None => judged_as_is(c, None, true),
            },
            ChangeKind::Changed => judged_as_is(c, None, false),
            ChangeKind::Renamed { from } => judged_as_is(c, Some(from), false),
        };
        judged.push(j);
    }
    let mut unpaired: Vec<&FileChange> = deleted.into_values().collect();
    unpaired.sort_by(|a, b| a.path.cmp(&b.path));
    (judged, unpaired)
}

fn judged_as_is<'a>(c: &'a FileChange, from: Option<&'a str>, is_new: bool) -> Judged<'a> {
    Judged {
        path: &c.path,
        renamed_from: from,
        is_new,
        appended: false,
        signals: c.signals.as_ref(),
        previous: c.previous.as_ref(),
    }
}

/// Finds and removes the deleted path that `path` extends by one or more dotted suffixes
/// in its file name (`a.pdf.locked`, `a.pdf.id-7F.[mail].crypt`).
fn take_appended_origin<'a>(
    path: &str,
    deleted: &mut HashMap<&str, &'a FileChange>,
) -> Option<&'a FileChange> {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    let mut end = path.len();
    while let Some(dot) = path[name_start..end].rfind('.') {
        let prefix = &path[..name_start + dot];
        if prefix.len() > name_start {
            if let Some(c) = deleted.remove(prefix) {
                return Some(c);
            }
        }
        end = name_start + dot;
    }
    None
}

/// Raises the per-file flags of one judged change.
pub(crate) fn assess(j: &Judged<'_>) -> FileFlags {
    let mut f = FileFlags {
        ransom_note: j.is_new && is_ransom_note(j.path),
        extension_changed: j
            .renamed_from
            .and_then(|from| new_unknown_extension(from, j.path)),
        ..FileFlags::default()
    };
    let Some(s) = j.signals else {
        return f;
    };
    match j.previous {
        Some(p) => judge_against_previous(&mut f, s, p),
        None => {
            f.new_random = s.file_type == FileType::Unknown && s.random_evidence();
        }
    }
    if f.type_lost.is_none() && !is_consistent(j.path, s.file_type) {
        // A file that never matched its extension is not news.
        let was_consistent = match (j.previous, j.renamed_from) {
            (Some(p), from) => is_consistent(from.unwrap_or(j.path), p.file_type),
            (None, _) => true,
        };
        if was_consistent {
            f.extension_mismatch = Some(s.file_type);
        }
    }
    f
}

fn judge_against_previous(f: &mut FileFlags, s: &FileSignals, p: &FileSummary) {
    if p.file_type.is_recognised() && s.file_type == FileType::Unknown && s.random_evidence() {
        f.type_lost = Some(p.file_type);
    } else if became_random(s, p) {
        f.entropy_jump = true;
    }
    if f.type_lost.is_some() || f.entropy_jump {
        let pattern = s.pattern();
        if matches!(pattern, BlockPattern::Alternating | BlockPattern::HeadOnly) {
            f.intermittent = Some(pattern);
        }
    }
}

/// Not random before, random now, and not explained by the type: a DICOM recompressed as
/// DICOM or a ZIP replaced by a ZIP is legitimately random; text never is; and a header
/// that was structured and is now random means the body behind a kept magic was encrypted.
fn became_random(s: &FileSignals, p: &FileSummary) -> bool {
    let kept_type = s.file_type == p.file_type && s.file_type.is_recognised();
    let header_randomised = kept_type && !p.lead_random && s.lead_random;
    let whole_randomised = !p.random_looking
        && s.random_looking()
        && (!kept_type || s.file_type.entropy_class() == EntropyClass::Low);
    header_randomised || whole_randomised
}

/// The new extension, if a rename changed it to one this system does not know.
fn new_unknown_extension(from: &str, to: &str) -> Option<String> {
    let new = extension(to)?;
    if extension(from).as_deref() == Some(new.as_str()) || is_known_extension(&new) {
        return None;
    }
    Some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        path: &str,
        kind: ChangeKind,
        data: Option<&[u8]>,
        prev: Option<&[u8]>,
    ) -> FileChange {
        FileChange {
            path: path.into(),
            kind,
            size: data.map_or(0, |d| d.len() as u64),
            signals: data.map(FileSignals::of),
            previous: prev.map(|p| FileSignals::of(p).summary()),
        }
    }

    fn random(n: usize) -> Vec<u8> {
        let mut x: u64 = 88172645463325252;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn pdf(n: usize) -> Vec<u8> {
        let mut v = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
        v.resize(n, b' ');
        v
    }

    #[test]
    fn appended_suffix_is_paired_with_the_deleted_original() {
        let enc = random(5000);
        let changes = vec![
            change("a/1.pdf", ChangeKind::Deleted, None, Some(&pdf(5000))),
            change(
                "a/1.pdf.id-77.[x@y].crypt",
                ChangeKind::New,
                Some(&enc),
                None,
            ),
            change("a/other.txt", ChangeKind::New, Some(b"hello world\n"), None),
        ];
        let (judged, unpaired) = pair_appended(&changes);
        assert!(unpaired.is_empty());
        assert_eq!(judged[0].renamed_from, Some("a/1.pdf"));
        let flags = assess(&judged[0]);
        assert_eq!(flags.type_lost, Some(FileType::Pdf));
        assert_eq!(flags.extension_changed.as_deref(), Some("crypt"));
        assert_eq!(assess(&judged[1]), FileFlags::default());
    }

    #[test]
    fn encrypted_in_place_loses_type_and_is_not_double_counted() {
        let c = change(
            "s/1.pdf",
            ChangeKind::Changed,
            Some(&random(9000)),
            Some(&pdf(9000)),
        );
        let (j, _) = pair_appended(std::slice::from_ref(&c));
        let f = assess(&j[0]);
        assert_eq!(f.type_lost, Some(FileType::Pdf));
        assert!(!f.entropy_jump && f.extension_mismatch.is_none());
    }

    #[test]
    fn same_type_rewrites_are_not_flagged() {
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend(random(20_000));
        let mut zip2 = b"PK\x03\x04".to_vec();
        zip2.extend(random(30_000).into_iter().rev());
        let c = change("x/a.zip", ChangeKind::Changed, Some(&zip2), Some(&zip));
        let (j, _) = pair_appended(std::slice::from_ref(&c));
        assert_eq!(assess(&j[0]), FileFlags::default());
    }

    #[test]
    fn text_turning_random_is_a_jump_even_with_unknown_extension() {
        let text = b"line of text\n".repeat(400);
        let c = change(
            "blob",
            ChangeKind::Changed,
            Some(&random(5200)),
            Some(&text),
        );
        let (j, _) = pair_appended(std::slice::from_ref(&c));
        let f = assess(&j[0]);
        assert_eq!(f.type_lost, Some(FileType::Text));
    }

    #[test]
    fn pure_folder_rename_raises_nothing_and_unknown_extension_rename_does() {
        let ok = FileChange {
            path: "new/dir/1.pdf".into(),
            kind: ChangeKind::Renamed {
                from: "old/1.pdf".into(),
            },
            size: 10,
            signals: None,
            previous: Some(FileSignals::of(&pdf(100)).summary()),
        };
        let mut bad = ok.clone();
        bad.path = "old/1.pdf.locked".into();
        let changes = [ok, bad];
        let (j, _) = pair_appended(&changes);
        assert_eq!(assess(&j[0]), FileFlags::default());
        assert_eq!(assess(&j[1]).extension_changed.as_deref(), Some("locked"));
    }

    #[test]
    fn new_notes_and_new_random_files_are_flagged() {
        let changes = vec![
            change("d/HOW_TO_DECRYPT.txt", ChangeKind::New, Some(b"pay"), None),
            change("d/Xk29aQ.bin", ChangeKind::New, Some(&random(4000)), None),
            change(
                "d/fake.pdf",
                ChangeKind::New,
                Some(b"not a pdf at all"),
                None,
            ),
        ];
        let (j, _) = pair_appended(&changes);
        assert!(assess(&j[0]).ransom_note);
        assert!(assess(&j[1]).new_random);
        assert_eq!(assess(&j[2]).extension_mismatch, Some(FileType::Text));
    }
}
