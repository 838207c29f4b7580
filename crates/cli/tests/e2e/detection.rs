//! Issue 6 end to end through the CLI: attacks simulated by kura-ransim are flagged in the
//! generation where they start (exit code 4, reasons naming them, the hook runs), benign heavy
//! changes are not, `clean-point` names the last clean generation, `restore --clean` assembles
//! every file's last valid version after a slow attack, and retention keeps the clean point.

use crate::common;

use std::path::Path;

use common::{restored, Kura};
use kura_ransim::{generate_clinical_tree, slow_attack_step, Behaviour, Suffix};

fn backup(k: &Kura, data: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["backup", "--json", "--source", "ward"];
    args.extend_from_slice(extra);
    args.push(data.to_str().unwrap());
    let out = k.run(&args);
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 4,
        "backup failed: {}",
        common::stderr(&out)
    );
    (code, common::last_json_line(&out))
}

/// A tree with a few routine generations of history.
fn with_history(k: &Kura, seed: u64) -> std::path::PathBuf {
    let data = k.path("ward");
    generate_clinical_tree(&data, 200, seed).unwrap();
    for day in 0..3 {
        let (code, _) = backup(k, &data, &[]);
        assert_eq!(code, 0, "routine day {day} must be clean");
        Behaviour::RoutineDay
            .apply(&data, 0.02, seed + day)
            .unwrap();
    }
    data
}

#[test]
fn attacks_are_flagged_where_they_start_and_benign_changes_are_not() {
    let mut flagged = 0;
    let attacks = [
        Behaviour::EncryptInPlace,
        Behaviour::EncryptRename(Suffix::Locked),
        Behaviour::RansomNotes,
        Behaviour::IntermittentBlocks,
    ];
    for (i, attack) in attacks.iter().enumerate() {
        let k = Kura::init();
        let data = with_history(&k, 100 + i as u64);
        let (_, before) = backup(&k, &data, &[]);
        attack.apply(&data, 0.08, 7 + i as u64).unwrap();
        let hook_file = k.path("hook-fired");
        let hook = format!(
            "echo \"$KURA_SNAPSHOT $KURA_SCORE\" > {}",
            hook_file.display()
        );
        let (code, summary) = backup(&k, &data, &["--on-suspicious", &hook]);
        assert_eq!(
            code, 4,
            "{attack:?}: a suspicious backup has its own exit code: {summary}"
        );
        assert_eq!(summary["verdict"], "suspicious", "{attack:?}");
        assert!(hook_file.exists(), "{attack:?}: the hook ran");
        let id = summary["snapshot"].as_str().unwrap();
        let analysis: serde_json::Value =
            serde_json::from_str(&k.ok(&["analyze", id, "--json"])).unwrap();
        assert_eq!(analysis["snapshot"], id);
        assert_eq!(analysis["verdict"], "suspicious");
        assert!(analysis["score"].as_f64().unwrap() >= 50.0);
        let reasons = analysis["reasons"].as_array().unwrap();
        assert!(!reasons.is_empty(), "{attack:?}: reasons a person can read");
        let cp: serde_json::Value =
            serde_json::from_str(&k.ok(&["clean-point", "--source", "ward", "--json"])).unwrap();
        assert_eq!(cp["source"], "ward");
        assert_eq!(
            cp["snapshot"], before["snapshot"],
            "{attack:?}: the clean point is the generation before the attack"
        );
        flagged += 1;
        eprintln!(
            "{attack:?}: flagged, reasons: {}",
            reasons
                .iter()
                .map(|r| r.as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    eprintln!("detection rate: {flagged}/{} attacks", attacks.len());
}

#[test]
fn benign_heavy_changes_are_not_flagged() {
    let benign = [
        Behaviour::DumpRewrite,
        Behaviour::NewImages,
        Behaviour::SoftwareUpdate,
        Behaviour::Reorganise,
        Behaviour::ArchiveReplace,
    ];
    let k = Kura::init();
    let data = with_history(&k, 300);
    let mut clean = 0;
    for (i, b) in benign.iter().enumerate() {
        b.apply(&data, 0.3, 40 + i as u64).unwrap();
        let (code, summary) = backup(&k, &data, &[]);
        assert_eq!(code, 0, "{b:?} must not be flagged: {summary}");
        assert_eq!(summary["verdict"], "clean", "{b:?}");
        clean += 1;
    }
    eprintln!("false positives: 0/{clean} benign heavy changes");
}

#[test]
fn slow_attack_clean_restore_and_retention_keep_the_clean_point() {
    let k = Kura::init();
    let data = with_history(&k, 500);
    let (_, last_clean) = backup(&k, &data, &[]);
    let originals = k.path("originals");
    assert!(std::process::Command::new("cp")
        .arg("-a")
        .arg(&data)
        .arg(&originals)
        .status()
        .unwrap()
        .success());
    for step in 0..3 {
        slow_attack_step(&data, step, 3, 0.18, 99).unwrap();
        let (code, _) = backup(&k, &data, &[]);
        assert_eq!(code, 4, "slow attack step {step} is flagged");
    }
    // Retention with a count-based policy never lets the suspicious generations push the clean
    // point out; after prune it still restores.
    k.ok(&["forget", "--keep-last", "2"]);
    k.ok(&["prune", "--grace", "0s"]);
    k.ok(&["prune", "--grace", "0s"]);
    let cp: serde_json::Value =
        serde_json::from_str(&k.ok(&["clean-point", "--source", "ward", "--json"])).unwrap();
    assert_eq!(cp["snapshot"], last_clean["snapshot"]);
    let t = k.path("clean-point-restore");
    k.ok(&[
        "restore",
        cp["snapshot"].as_str().unwrap(),
        "--target",
        t.to_str().unwrap(),
    ]);

    // Per-file clean assembly: every file that existed before the attack comes back with its
    // last valid content, and the report says where each came from.
    let target = k.path("clean");
    let out = k.ok(&[
        "restore",
        "--clean",
        "--source",
        "ward",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert!(out.contains("report"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(k.path("clean.clean-report.json")).unwrap())
            .unwrap();
    assert!(
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["generation"].is_string()),
        "each file names its generation"
    );
    let diffs = kura_testkit::compare_trees(
        &originals,
        &restored(&target, &data),
        kura_testkit::CompareOptions::content_only(),
    )
    .unwrap();
    let missing_or_wrong: Vec<_> = diffs
        .iter()
        .filter(|d| !matches!(d, kura_testkit::TreeDifference::OnlyInB(_)))
        .collect();
    assert!(
        missing_or_wrong.is_empty(),
        "every original file restored with its valid content: {:?}",
        &missing_or_wrong[..missing_or_wrong.len().min(5)]
    );
}
