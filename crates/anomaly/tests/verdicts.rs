//! Verdict-level behaviour: learned baselines, their cap, and threshold validation.

use kura_anomaly::{
    analyze, AnomalyError, ChangeKind, FileChange, FileSignals, GenerationObservation,
    SourceHistory, Thresholds, VerdictKind,
};

fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `new_blobs` new random `.bin` files in a source of 1,000 files.
fn generation_with_blobs(new_blobs: usize, seed: u64) -> GenerationObservation {
    let changes = (0..new_blobs)
        .map(|i| FileChange {
            path: format!("export/{seed}/{i}.bin"),
            kind: ChangeKind::New,
            size: 4096,
            signals: Some(FileSignals::of(&random(4096, seed * 1000 + i as u64))),
            previous: None,
        })
        .collect();
    GenerationObservation {
        changes,
        unchanged: 1000,
    }
}

#[test]
fn a_source_that_always_writes_encrypted_exports_learns_its_baseline() {
    let th = Thresholds::default();
    let empty = SourceHistory::default();
    let first = analyze(&generation_with_blobs(50, 0), &empty, &th);
    assert_eq!(first.verdict.verdict, VerdictKind::Suspicious);
    assert!(first.verdict.reasons[0].starts_with("new random files: 50 new files"));
    let mut history = SourceHistory::default();
    for seed in 1..=4 {
        let mut a = analyze(&generation_with_blobs(50, seed), &history, &th);
        // Accepted by an operator as routine: stored as clean.
        a.summary.verdict = VerdictKind::Clean;
        history.generations.push(a.summary);
    }
    let routine = analyze(&generation_with_blobs(50, 9), &history, &th);
    assert_eq!(
        routine.verdict.verdict,
        VerdictKind::Clean,
        "{:?}",
        routine.verdict
    );
    let finding = &routine.findings[0];
    assert!(
        (finding.baseline - 0.05).abs() < 1e-9,
        "baseline {}",
        finding.baseline
    );
    // Far above the learned level (and above the 10% cap) it is suspicious again.
    let burst = analyze(&generation_with_blobs(200, 10), &history, &th);
    assert_eq!(burst.verdict.verdict, VerdictKind::Suspicious);
    assert!(burst.verdict.reasons[0].contains("usual maximum is 5.0%"));
}

#[test]
fn suspicious_generations_do_not_teach_the_baseline() {
    let th = Thresholds::default();
    let mut history = SourceHistory::default();
    for seed in 1..=4 {
        let a = analyze(&generation_with_blobs(50, seed), &history, &th);
        assert_eq!(a.summary.verdict, VerdictKind::Suspicious);
        history.generations.push(a.summary);
    }
    let next = analyze(&generation_with_blobs(50, 9), &history, &th);
    assert_eq!(next.verdict.verdict, VerdictKind::Suspicious);
}

#[test]
fn nothing_changed_is_clean_with_score_zero_and_no_reasons() {
    let obs = GenerationObservation {
        changes: vec![],
        unchanged: 10,
    };
    let a = analyze(&obs, &SourceHistory::default(), &Thresholds::default());
    assert_eq!(a.verdict.verdict, VerdictKind::Clean);
    assert_eq!(a.verdict.score, 0.0);
    assert!(a.verdict.reasons.is_empty());
    let json = serde_json::to_value(&a.verdict).unwrap();
    assert_eq!(json["verdict"], "clean");
}

#[test]
fn invalid_thresholds_are_refused_and_analysis_falls_back_to_defaults() {
    let bad = Thresholds {
        floor_fraction: 0.5,
        full_fraction: 0.1,
        ..Thresholds::default()
    };
    let err = bad.validate().unwrap_err();
    assert!(matches!(
        err,
        AnomalyError::InvalidThreshold {
            name: "floor_fraction",
            ..
        }
    ));
    assert!(err.to_string().contains("fix the configuration"));
    let nan = Thresholds {
        suspicious_score: f64::NAN,
        ..Thresholds::default()
    };
    assert!(nan.validate().is_err());
    let a = analyze(
        &generation_with_blobs(50, 0),
        &SourceHistory::default(),
        &bad,
    );
    assert_eq!(a.verdict.verdict, VerdictKind::Suspicious);
}
