//! End to end: every attack behaviour on 5% of the files is detected, with a reason naming
//! it, and no benign heavy change is flagged, over 10 seeds, with and without history.
//! Prints the detection rates (`cargo test -p kura-ransim --test attacks detection:: -- --nocapture`).

use crate::support;

use kura_anomaly::{FileSignals, VerdictKind};
use kura_ransim::observe::capture;
use kura_ransim::{Behaviour, Naming};
use support::{analyse_both, base_with_history, copy_tree, scratch};

const SEEDS: u64 = 10;

/// Whether an intermittent behaviour can show its pattern in a file: every other block
/// needs three classified 64 KiB blocks (H L H); a 16 KiB head needs a second block, so
/// that the slice sampled at 32 KiB is not a PDF's compressed image tail; and the unencrypted parts must not already look random
/// (a JPEG-compressed DICOM stays random all through). Other files are encrypted whole, or
/// look so, and are named "type lost" — as with real intermittent ransomware.
fn shows_pattern(b: Behaviour, original: &FileSignals) -> bool {
    let plain = original.high_blocks == 0 && !original.random_looking();
    match b {
        Behaviour::IntermittentBlocks => plain && original.size >= 128 * 1024 + 256,
        Behaviour::HeadOnly { .. } => plain && original.size >= 64 * 1024 + 256,
        _ => true,
    }
}

/// The words a reason must contain for the attack to count as named.
fn keyword(b: Behaviour) -> &'static str {
    match b {
        Behaviour::EncryptInPlace => "type lost",
        Behaviour::EncryptRename(_) => "unknown extensions",
        Behaviour::IntermittentBlocks | Behaviour::HeadOnly { .. } => "intermittent encryption",
        Behaviour::RansomNotes => "ransom notes",
        Behaviour::CopyEncryptDelete(Naming::RandomName) => "copy-encrypt-delete",
        Behaviour::CopyEncryptDelete(Naming::Appended(_)) => "copy-encrypt-delete",
        _ => "",
    }
}

/// Benign shares: NewImages adds 14 images per existing file (about 2,100).
fn share_for(b: Behaviour) -> f64 {
    match b {
        Behaviour::NewImages => 14.0,
        b if b.is_attack() => 0.05,
        _ => 1.0,
    }
}

#[derive(Default)]
struct Rate {
    flagged: [u32; 2],
    named: u32,
    /// Runs where a touched file was large enough to show an intermittent pattern.
    pattern_visible: u32,
    max_clean_score: f64,
    example: Vec<String>,
}

#[test]
fn attacks_at_five_percent_are_detected_and_benign_changes_are_not() {
    let tmp = scratch();
    let behaviours: Vec<Behaviour> = Behaviour::ATTACKS
        .iter()
        .chain(Behaviour::BENIGN.iter())
        .copied()
        .collect();
    let mut rates: Vec<Rate> = behaviours.iter().map(|_| Rate::default()).collect();
    for seed in 0..SEEDS {
        let base_dir = tmp.path().join(format!("base{seed}"));
        let base = base_with_history(&base_dir, seed);
        for (b, rate) in behaviours.iter().zip(rates.iter_mut()) {
            let dir = tmp.path().join(format!("case{seed}-{}", b.name()));
            copy_tree(&base_dir, &dir).unwrap();
            let report = b.apply(&dir, share_for(*b), 1000 + seed).unwrap();
            let visible = report.touched.is_empty()
                || report
                    .touched
                    .iter()
                    .any(|p| shows_pattern(*b, &base.state.files[p].signals));
            let expected = if visible { keyword(*b) } else { "type lost" };
            let after = capture(&dir).unwrap();
            let both = analyse_both(&base.state, &after, &base.history);
            for (i, a) in both.iter().enumerate() {
                if a.verdict.verdict == VerdictKind::Suspicious {
                    rate.flagged[i] += 1;
                } else {
                    rate.max_clean_score = rate.max_clean_score.max(a.verdict.score);
                }
            }
            let reasons = &both[0].verdict.reasons;
            if reasons.iter().any(|r| r.contains(expected)) {
                rate.named += 1;
                let intermittent = matches!(
                    b,
                    Behaviour::IntermittentBlocks | Behaviour::HeadOnly { .. }
                );
                rate.pattern_visible += u32::from(intermittent && visible);
            }
            if seed == 0 {
                rate.example = reasons.clone();
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::remove_dir_all(&base_dir).unwrap();
    }
    report_and_assert(&behaviours, &rates);
}

fn report_and_assert(behaviours: &[Behaviour], rates: &[Rate]) {
    println!("\nbehaviour | flagged with history | flagged without | reason named (intermittent pattern named) | max clean score");
    for (b, r) in behaviours.iter().zip(rates) {
        println!(
            "{:<40} {:>2}/{SEEDS} {:>2}/{SEEDS} {:>2}/{SEEDS} ({:>2}) {:>5.1}",
            b.name(),
            r.flagged[0],
            r.flagged[1],
            if b.is_attack() { r.named } else { 0 },
            r.pattern_visible,
            r.max_clean_score
        );
        for reason in r.example.iter().take(3) {
            println!("      seed 0: {reason}");
        }
    }
    for (b, r) in behaviours.iter().zip(rates) {
        if b.is_attack() {
            assert_eq!(
                r.flagged,
                [SEEDS as u32; 2],
                "{} not always detected",
                b.name()
            );
            assert_eq!(r.named, SEEDS as u32, "{} not always named", b.name());
        } else {
            assert_eq!(r.flagged, [0, 0], "{} flagged: {:?}", b.name(), r.example);
        }
    }
}
