//! Turning tallies into findings with points and sentences a person can act on:
//! "type lost: 312 of 4,020 files (7.8%) changed from a recognised type (PDF 200, DICOM 80,
//! HL7 32) to unrecognised random-looking data, e.g. scan/2026/04/123.pdf".

use crate::analyze::{strength, Baselines, Finding, Signal, Tallies, Tally, Thresholds};
use crate::observation::GenerationSummary;

/// Weight (points at full strength) of each per-file signal. Type loss and intermittent
/// patterns are near-certain evidence of encryption; the others can rarely be benign.
fn weight(s: Signal) -> f64 {
    match s {
        Signal::TypeLost | Signal::Intermittent => 100.0,
        Signal::EntropyJump | Signal::CopyEncryptDelete => 90.0,
        Signal::ExtensionMismatch | Signal::NewRandom | Signal::ExtensionChanged => 70.0,
        Signal::RansomNotes => 100.0,
        Signal::MassDeletion => 30.0,
        Signal::ChangeVolume => 15.0,
    }
}

const PER_FILE: [Signal; 6] = [
    Signal::TypeLost,
    Signal::EntropyJump,
    Signal::Intermittent,
    Signal::ExtensionMismatch,
    Signal::NewRandom,
    Signal::ExtensionChanged,
];

/// Every signal seen at all, with its points (0 when within the learned baseline).
pub(crate) fn findings(
    t: &Tallies,
    summary: &GenerationSummary,
    b: &Baselines,
    th: &Thresholds,
) -> Vec<Finding> {
    let denom = summary.denominator();
    let mut out = Vec::new();
    for s in PER_FILE {
        let Some(tally) = t.signals.get(&s).filter(|x| x.count > 0) else {
            continue;
        };
        let base = b.of(s);
        let st = strength(
            tally.count,
            denom,
            base,
            th.floor_fraction,
            th.full_fraction,
            th.full_count,
        );
        let text = per_file_text(s, tally, denom, base);
        out.push(finding(
            s,
            tally.count,
            denom,
            base,
            weight(s) * st,
            &tally.examples,
            text,
        ));
    }
    out.extend(notes_finding(t, denom));
    out.extend(copy_encrypt_delete(t, denom, th));
    out.extend(volume_findings(t, summary, b));
    out
}

fn finding(
    signal: Signal,
    count: u64,
    denom: u64,
    baseline: f64,
    points: f64,
    examples: &[String],
    text: String,
) -> Finding {
    let eg = if examples.is_empty() {
        String::new()
    } else {
        format!(", e.g. {}", examples.join(", "))
    };
    Finding {
        signal,
        count,
        fraction: count as f64 / denom.max(1) as f64,
        baseline,
        points: (points * 10.0).round() / 10.0,
        examples: examples.to_vec(),
        reason: format!("{text}{eg}"),
    }
}

fn per_file_text(s: Signal, t: &Tally, denom: u64, base: f64) -> String {
    let of = format!(
        "{} of {} files ({})",
        count(t.count),
        count(denom),
        pct(t.count, denom)
    );
    let by = breakdown(t);
    let usual = if base > 0.0 {
        format!(" (this source's usual maximum is {:.1}%)", base * 100.0)
    } else {
        String::new()
    };
    let body = match s {
        Signal::TypeLost => format!(
            "type lost: {of} changed from a recognised type ({by}) to unrecognised \
             random-looking data{usual}"
        ),
        Signal::EntropyJump => format!(
            "entropy jump: {of} became random-looking although they were not before \
             (header kept or never recognised){usual}"
        ),
        Signal::Intermittent => format!(
            "intermittent encryption: {of} are random only in part ({by}), the pattern of \
             ransomware that encrypts every other block or only the head of each file{usual}"
        ),
        Signal::ExtensionMismatch => format!(
            "extension mismatch: {of} no longer contain what their extension promises \
             (found {by}){usual}"
        ),
        Signal::NewRandom => format!(
            "new random files: {} new files ({} of {} files) are unrecognised \
             random-looking data, as encrypted copies are{usual}",
            count(t.count),
            pct(t.count, denom),
            count(denom)
        ),
        Signal::ExtensionChanged => format!(
            "unknown extensions: {of} were renamed to extensions this system does not know \
             ({by}), as ransomware renames what it encrypts{usual}"
        ),
        _ => String::new(),
    };
    body
}

fn notes_finding(t: &Tallies, denom: u64) -> Option<Finding> {
    let tally = t.signals.get(&Signal::RansomNotes)?;
    let folders = t.note_folders.len();
    // One note is already alarming; notes in many folders are what ransomware leaves.
    let points = match folders {
        0 | 1 => 60.0,
        2..=4 => 80.0,
        _ => weight(Signal::RansomNotes),
    };
    let text = format!(
        "ransom notes: {} new files named like ransom notes in {} folder{}",
        count(tally.count),
        count(folders as u64),
        if folders == 1 { "" } else { "s" }
    );
    Some(finding(
        Signal::RansomNotes,
        tally.count,
        denom,
        0.0,
        points,
        &tally.examples,
        text,
    ))
}

/// Originals gone and random-looking files in their place, in similar numbers.
fn copy_encrypt_delete(t: &Tallies, denom: u64, th: &Thresholds) -> Option<Finding> {
    let new_random = t.signals.get(&Signal::NewRandom).map_or(0, |x| x.count);
    let removed = t.deleted_unpaired.count + t.randomised_replacements;
    let copies = new_random + t.randomised_replacements;
    if removed == 0 || copies == 0 || copies * 2 < removed || removed * 2 < copies {
        return None;
    }
    let s = |n| {
        strength(
            n,
            denom,
            0.0,
            th.floor_fraction,
            th.full_fraction,
            th.full_count,
        )
    };
    let points = weight(Signal::CopyEncryptDelete) * s(removed).min(s(copies));
    let mut examples: Vec<String> = t
        .deleted_unpaired
        .examples
        .iter()
        .take(2)
        .cloned()
        .collect();
    if let Some(x) = t
        .signals
        .get(&Signal::NewRandom)
        .or(t.signals.get(&Signal::TypeLost))
    {
        examples.extend(x.examples.iter().take(2).cloned());
    }
    let text = format!(
        "copy-encrypt-delete: {} of {} files ({}) deleted or replaced and {} random-looking \
         files written in their place (originals deleted, encrypted copies written)",
        count(removed),
        count(denom),
        pct(removed, denom),
        count(copies)
    );
    Some(finding(
        Signal::CopyEncryptDelete,
        removed,
        denom,
        0.0,
        points,
        &examples,
        text,
    ))
}

/// Weak signals from the source's own history: unusually many deletions or changes.
fn volume_findings(t: &Tallies, summary: &GenerationSummary, b: &Baselines) -> Vec<Finding> {
    let denom = summary.denominator();
    let mut out = Vec::new();
    let del = &t.deleted_unpaired;
    if del.count > 0 {
        let st = strength(del.count, denom, b.deleted, 0.05, 0.25, u64::MAX);
        let text = format!(
            "mass deletion: {} of {} files ({}) deleted; this source's usual maximum is {:.1}%",
            count(del.count),
            count(denom),
            pct(del.count, denom),
            b.deleted * 100.0
        );
        out.push(finding(
            Signal::MassDeletion,
            del.count,
            denom,
            b.deleted,
            30.0 * st,
            &del.examples,
            text,
        ));
    }
    let touched = summary.signals.touched;
    if touched > 0 {
        let st = strength(touched, denom, b.touched, 0.10, 0.50, u64::MAX);
        let text = format!(
            "change volume: {} of {} files ({}) new, changed, deleted or renamed; this \
             source's usual maximum is {:.1}%",
            count(touched),
            count(denom),
            pct(touched, denom),
            b.touched * 100.0
        );
        out.push(finding(
            Signal::ChangeVolume,
            touched,
            denom,
            b.touched,
            15.0 * st,
            &[],
            text,
        ));
    }
    out
}

/// "PDF 200, DICOM 80" (largest first).
fn breakdown(t: &Tally) -> String {
    let mut v: Vec<(&String, &u64)> = t.by.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} {}", count(**n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// 4020 -> "4,020".
pub(crate) fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "7.8%".
pub(crate) fn pct(n: u64, denom: u64) -> String {
    format!("{:.1}%", n as f64 * 100.0 / denom.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(4020), "4,020");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(pct(312, 4020), "7.8%");
        assert_eq!(pct(1, 0), "100.0%");
    }
}
