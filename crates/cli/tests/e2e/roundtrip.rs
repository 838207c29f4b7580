//! Acceptance 1: a tree with dump-like files, ~10,000 small files in nested folders with Japanese
//! names, binary files, symlinks, hardlinks, empty files and folders restores byte-identical with
//! mode, mtime and links preserved. Also exercises ls, dump, diff and the JSON interface.

use crate::common;

use common::{restored, Kura};
use kura_testkit::{compare_trees, generate_edge_case_tree, CompareOptions};

#[test]
fn edge_case_tree_round_trips_exactly() {
    let k = Kura::init();
    let data = k.path("患者データ");
    generate_edge_case_tree(&data, 11, 10_000).unwrap();
    let summary = k.backup_json(&[
        "--source",
        "ssmix2",
        "--tag",
        "nightly",
        data.to_str().unwrap(),
    ]);
    let id = summary["snapshot"]
        .as_str()
        .expect("summary names the snapshot")
        .to_string();
    assert_eq!(id.len(), 64);
    assert!(summary["files_new"].as_u64().unwrap() >= 10_000);

    let snaps = k.snapshots();
    assert_eq!(snaps.len(), 1);
    let s = &snaps[0];
    assert_eq!(s["id"], id);
    assert_eq!(s["source"], "ssmix2");
    assert_eq!(s["tags"], serde_json::json!(["nightly"]));
    assert!(chrono::DateTime::parse_from_rfc3339(s["time"].as_str().unwrap()).is_ok());
    assert!(s["host"].is_string() && s["paths"].is_array());

    let target = k.path("restore");
    k.ok(&["restore", &id[..8], "--target", target.to_str().unwrap()]);
    let diffs = compare_trees(&data, &restored(&target, &data), CompareOptions::default()).unwrap();
    assert!(
        diffs.is_empty(),
        "{} differences, first: {:?}",
        diffs.len(),
        &diffs[..diffs.len().min(5)]
    );

    // A second restore into the same, now non-empty, target is refused without --overwrite.
    let again = k.run(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(common::stderr(&again).contains("not empty"));
}

#[test]
fn ls_dump_diff_and_include() {
    let k = Kura::init();
    let data = k.path("src");
    std::fs::create_dir_all(data.join("内科/山田 太郎")).unwrap();
    std::fs::write(data.join("内科/山田 太郎/検査結果.txt"), "HbA1c 6.1%\n").unwrap();
    std::fs::write(data.join("readme.txt"), "v1").unwrap();
    let first = k.backup_json(&[data.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(data.join("readme.txt"), "version two").unwrap();
    std::fs::write(data.join("new.txt"), "new").unwrap();
    let second = k.backup_json(&[data.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();

    let listing = k.ok(&["ls", "latest"]);
    assert!(listing.contains("内科/山田 太郎/検査結果.txt"), "{listing}");
    let file = format!("{}/内科/山田 太郎/検査結果.txt", data.display());
    assert_eq!(k.ok(&["dump", &second, &file]), "HbA1c 6.1%\n");
    let diff = k.ok(&["diff", &first, &second]);
    assert!(
        diff.contains("M    ") && diff.contains("readme.txt"),
        "{diff}"
    );
    assert!(diff.contains("+    ") && diff.contains("new.txt"), "{diff}");

    let target = k.path("partial");
    k.ok(&[
        "restore",
        &second,
        "--target",
        target.to_str().unwrap(),
        "--include",
        "**/内科",
    ]);
    let base = restored(&target, &data);
    assert!(base.join("内科/山田 太郎/検査結果.txt").exists());
    assert!(
        !base.join("readme.txt").exists(),
        "--include must restore only what matches"
    );

    let latest_src = k.run(&[
        "restore",
        "latest:nope",
        "--target",
        k.path("x").to_str().unwrap(),
    ]);
    assert_eq!(latest_src.status.code(), Some(1));
    assert!(common::stderr(&latest_src).contains("no generation matches"));
}
