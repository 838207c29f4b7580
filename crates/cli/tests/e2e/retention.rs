//! Issue 3: forget with policies, retention locks and legal holds that nothing can override,
//! flooding with forged generations, two-phase prune, and `repair index`.

use crate::common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{restored, Kura};
use kura_format::snapshot::Snapshot;

fn data(k: &Kura, name: &str, content: &str) -> std::path::PathBuf {
    let d = k.path(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("record.txt"), content).unwrap();
    d
}

fn backup(k: &Kura, dir: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec!["--source", "ehr"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    k.backup_json(&args)["snapshot"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ids(k: &Kura) -> Vec<String> {
    k.snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn forget_dry_run_policy_and_reasons() {
    let k = Kura::init();
    let d = data(&k, "d", "v0");
    let mut made = Vec::new();
    for i in 0..5 {
        std::fs::write(d.join("record.txt"), format!("version {i}")).unwrap();
        made.push(backup(&k, &d, &[]));
    }
    let plan = k.ok(&["forget", "--keep-last", "2", "--dry-run"]);
    assert!(plan.contains("last 1") && plan.contains("last 2"), "{plan}");
    assert!(plan.matches("remove").count() >= 3, "{plan}");
    assert_eq!(ids(&k).len(), 5, "a dry run removes nothing");

    let refused = k.run(&["forget"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "no rule and no stored policy is refused"
    );
    k.ok(&["policy", "set", "--keep-last", "3"]);
    k.ok(&["forget"]);
    let left = ids(&k);
    assert_eq!(left.len(), 3);
    assert!(left.contains(&made[4]) && left.contains(&made[3]) && left.contains(&made[2]));
}

#[test]
fn locks_and_holds_cannot_be_overridden() {
    let k = Kura::init();
    let d = data(&k, "d", "locked content");
    let locked = backup(&k, &d, &["--lock-days", "30"]);
    std::fs::write(d.join("record.txt"), "held content").unwrap();
    let held = backup(&k, &d, &[]);
    k.ok(&[
        "hold",
        "add",
        &held[..10],
        "--reason",
        "医療訴訟 2026-ワ-123",
    ]);
    std::fs::write(d.join("record.txt"), "third").unwrap();
    let manual = backup(&k, &d, &[]);
    let until = (Utc::now() + Duration::days(400))
        .format("%Y-%m-%d")
        .to_string();
    k.ok(&["lock", &manual, "--until", &until]);
    for i in 0..3 {
        std::fs::write(d.join("record.txt"), format!("newer {i}")).unwrap();
        backup(&k, &d, &[]);
    }
    // A lock cannot be shortened, and there is no unlock.
    let shorter = (Utc::now() + Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let out = k.run(&["lock", &manual, "--until", &shorter]);
    assert_eq!(out.status.code(), Some(1), "shortening a lock must fail");
    assert!(
        common::stderr(&out).contains("shorten") || common::stderr(&out).contains("earlier"),
        "{}",
        common::stderr(&out)
    );
    // Even the most aggressive policy keeps the locked and held generations.
    k.ok(&["forget", "--keep-last", "1"]);
    let left = ids(&k);
    for id in [&locked, &held, &manual] {
        assert!(left.contains(id), "{id} must survive forget: {left:?}");
    }
    let plan = k.ok(&["forget", "--keep-last", "1", "--dry-run"]);
    assert!(
        plan.contains("locked until") && plan.contains("legal hold"),
        "{plan}"
    );
    k.ok(&["prune", "--grace", "0s"]);
    k.ok(&["prune", "--grace", "0s"]);
    let target = k.path("r");
    k.ok(&["restore", &locked, "--target", target.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(restored(&target, &d).join("record.txt")).unwrap(),
        "locked content"
    );

    // Releasing the hold lets retention remove it.
    k.ok(&["hold", "remove", &held, "--reason", "case closed"]);
    k.ok(&["forget", "--keep-last", "1"]);
    assert!(!ids(&k).contains(&held));
    assert!(ids(&k).contains(&locked));

    // A repository minimum lock protects every generation younger than it, and cannot be lowered.
    k.ok(&["policy", "set", "--keep-last", "1", "--min-lock-days", "1"]);
    assert_eq!(
        k.run(&["policy", "set", "--keep-last", "1", "--min-lock-days", "0"])
            .status
            .code(),
        Some(1)
    );
    std::fs::write(d.join("record.txt"), "after the minimum").unwrap();
    let young = backup(&k, &d, &[]);
    backup(&k, &d, &["--tag", "newest"]);
    k.ok(&["forget"]);
    assert!(
        ids(&k).contains(&young),
        "a generation younger than the minimum lock survives"
    );
}

/// 1,000 generations with forged commit times, in the past and the future, never push a locked
/// generation out (they are committed straight through the library, as an attacker with the
/// repository key but no vault could).
#[test]
fn flood_of_forged_generations_does_not_remove_locked_one() {
    let k = Kura::init();
    let d = data(&k, "d", "the real one");
    let real = backup(&k, &d, &["--lock-days", "3650"]);
    let pw = std::fs::read_to_string(&k.password_file).unwrap();
    let repo = kura_repo::Repository::open(
        Arc::new(kura_store::LocalBackend::new(&k.repo)),
        pw.trim().as_bytes(),
    )
    .unwrap();
    let template = repo.resolve_snapshot(&real).unwrap().snapshot;
    let now = Utc::now();
    for i in 0..1000i64 {
        let forged = if i % 2 == 0 {
            now + Duration::days(1 + i)
        } else {
            now - Duration::days(3650 + i)
        };
        let snap = Snapshot {
            committed_at: forged,
            time: forged,
            lock_days: None,
            tags: vec![format!("fake{i}")],
            ..template.clone()
        };
        repo.save_snapshot(&snap).unwrap();
    }
    k.ok(&["forget", "--keep-last", "3", "--keep-daily", "2"]);
    let left = ids(&k);
    assert!(
        left.contains(&real),
        "the locked generation survives the flood"
    );
    assert!(left.len() < 1001, "the flood itself was thinned out");
    let out = k.run(&["check"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

fn age_packs(repo: &std::path::Path, hours: i64) {
    let t = filetime::FileTime::from_unix_time(Utc::now().timestamp() - hours * 3600, 0);
    for sub in std::fs::read_dir(repo.join("data")).unwrap() {
        for p in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            filetime::set_file_mtime(p.unwrap().path(), t).unwrap();
        }
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_size(&e.path())
        } else {
            m.len()
        };
    }
    total
}

/// Two-phase prune frees space only in the second phase, and a backup running during the deleting
/// phase finishes and restores; `check --read-data` passes afterwards.
#[test]
fn two_phase_prune_with_concurrent_backup() {
    let k = Kura::init();
    let old = k.path("old");
    kura_testkit::generate_hospital_dataset(
        &old,
        &kura_testkit::DatasetSpec {
            seed: 21,
            total_bytes: 12 << 20,
        },
    )
    .unwrap();
    let gone = backup(&k, &old, &[]);
    let keep_dir = data(&k, "keep", "kept generation");
    let kept = k.backup_json(&["--source", "other", keep_dir.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    k.ok(&["forget", "--keep-last", "1", "--source", "ehr", "--dry-run"]);
    std::fs::remove_dir_all(&old).unwrap();
    let d2 = data(&k, "d2", "replacement");
    backup(&k, &d2, &[]);
    k.ok(&["forget", "--keep-last", "1", "--source", "ehr"]);
    assert!(!ids(&k).contains(&gone));
    age_packs(&k.repo, 2);
    let before = dir_size(&k.repo.join("data"));
    let first = k.ok(&["prune", "--grace", "60s"]);
    assert!(first.contains("marked unused"), "{first}");
    assert!(
        dir_size(&k.repo.join("data")) >= before,
        "phase one deletes nothing (it may repack)"
    );

    // Phase two runs (as if two minutes later) while a new backup is writing.
    let big = k.path("big");
    kura_testkit::generate_hospital_dataset(
        &big,
        &kura_testkit::DatasetSpec {
            seed: 22,
            total_bytes: 24 << 20,
        },
    )
    .unwrap();
    let running = k
        .cmd()
        .args([
            "backup",
            "--json",
            "--source",
            "pacs",
            big.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let later = (Utc::now() + Duration::minutes(2)).to_rfc3339();
    let second: serde_json::Value =
        serde_json::from_str(&k.ok(&["prune", "--json", "--grace", "60s", "--now", &later]))
            .unwrap();
    let out = running.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the concurrent backup finishes: {}",
        common::stderr(&out)
    );
    let new_id = common::last_json_line(&out)["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let freed = second["summary"]["bytes_freed"].as_u64().unwrap();
    assert!(
        second["summary"]["packs_deleted"].as_u64().unwrap() >= 1 && freed > 4 << 20,
        "phase two frees the forgotten data: {second}"
    );

    let check = k.run(&["check", "--read-data"]);
    assert!(check.status.success(), "{}", common::stderr(&check));
    let target = k.path("r");
    k.ok(&["restore", &new_id, "--target", target.to_str().unwrap()]);
    assert_eq!(
        kura_testkit::tree_digest(&restored(&target, &big)).unwrap(),
        kura_testkit::tree_digest(&big).unwrap()
    );
    let t2 = k.path("r2");
    k.ok(&["restore", &kept, "--target", t2.to_str().unwrap()]);
    // A later prune at the real time unmarks what the new generation references and deletes nothing of it.
    k.ok(&["prune", "--grace", "60s"]);
    assert!(k.run(&["check", "--read-data"]).status.success());
}

/// A repack writes new copies of the blobs it keeps, so until the old packs are deleted every such
/// blob is stored twice. The next prune must keep the new copies and delete the old packs, whatever
/// order the store lists index files in (the order decides which copy a reader meets first; on S3
/// this once made the second prune repack the same packs again and free nothing). Pack and index
/// names are content hashes, so each round meets a different order.
#[test]
fn a_repack_is_followed_by_deleting_the_old_packs_whatever_the_index_order() {
    for round in 0..4u64 {
        let k = Kura::init();
        let src = k.path("src");
        kura_testkit::generate_hospital_dataset(
            &src,
            &kura_testkit::DatasetSpec {
                seed: 40 + round,
                total_bytes: 3 << 20,
            },
        )
        .unwrap();
        backup(&k, &src, &[]);
        // Drop about half of the files: their data becomes garbage once the first is forgotten,
        // and the packs they shared with kept files become worth repacking.
        let mut files: Vec<_> = walkdir_files(&src);
        files.sort();
        for f in files.iter().step_by(2) {
            std::fs::remove_file(f).unwrap();
        }
        let kept = backup(&k, &src, &[]);
        k.ok(&["forget", "--keep-last", "1", "--source", "ehr"]);
        let before = dir_size(&k.repo.join("data"));
        let prune = || -> serde_json::Value {
            let out = k.ok(&["prune", "--json", "--grace", "0s", "--repack-unused", "1"]);
            serde_json::from_str(&out).unwrap()
        };
        let first = prune();
        assert!(
            first["summary"]["packs_repacked"].as_u64().unwrap() > 0,
            "round {round}: the first prune repacks: {first}"
        );
        let second = prune();
        assert_eq!(
            second["summary"]["packs_repacked"].as_u64(),
            Some(0),
            "round {round}: the second prune must not repack the same packs again: {second}"
        );
        let after = dir_size(&k.repo.join("data"));
        assert!(
            after < before && second["summary"]["packs_deleted"].as_u64().unwrap() > 0,
            "round {round}: the second prune deletes the repacked packs: {before} -> {after} bytes: {second}"
        );
        let check = k.run(&["check", "--read-data"]);
        assert!(check.status.success(), "{}", common::stderr(&check));
        let target = k.path("r");
        k.ok(&["restore", &kept, "--target", target.to_str().unwrap()]);
        assert_eq!(
            kura_testkit::tree_digest(&restored(&target, &src)).unwrap(),
            kura_testkit::tree_digest(&src).unwrap(),
            "round {round}"
        );
    }
}

fn walkdir_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn repair_index_after_index_loss() {
    let k = Kura::init();
    let d = k.path("d");
    kura_testkit::generate_hospital_dataset(
        &d,
        &kura_testkit::DatasetSpec {
            seed: 8,
            total_bytes: 6 << 20,
        },
    )
    .unwrap();
    let id = backup(&k, &d, &[]);
    for f in std::fs::read_dir(k.repo.join("index")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let broken = k.run(&["check"]);
    assert_eq!(broken.status.code(), Some(1), "a lost index is detected");
    assert_eq!(
        k.run(&["prune", "--dry-run"]).status.code(),
        Some(1),
        "prune refuses to run without a full index"
    );
    let out = k.ok(&["repair", "index"]);
    assert!(out.contains("indexed"), "{out}");
    assert!(k.run(&["check", "--read-data"]).status.success());
    let target = k.path("r");
    k.ok(&["restore", &id, "--target", target.to_str().unwrap()]);
    assert_eq!(
        kura_testkit::tree_digest(&restored(&target, &d)).unwrap(),
        kura_testkit::tree_digest(&d).unwrap()
    );
}
