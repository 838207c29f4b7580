//! Fault injection at every write point of the local backend (write, short write, fsync, link,
//! directory fsync) with ENOSPC and EIO, during backup and prune: the command fails with a clear
//! message, `check --read-data` passes, earlier generations restore, and the next backup succeeds.

use crate::common;

use common::{restored, Kura};
use kura_testkit::{generate_hospital_dataset, tree_digest, DatasetSpec};

const POINTS: [&str; 5] = ["write", "short-write", "fsync", "link", "dirsync"];

#[test]
fn every_write_point_fails_cleanly() {
    let k = Kura::init();
    let data = k.path("data");
    generate_hospital_dataset(
        &data,
        &DatasetSpec {
            seed: 77,
            total_bytes: 2 << 20,
        },
    )
    .unwrap();
    let first = k.backup_json(&[data.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let first_digest = tree_digest(&data).unwrap();
    let (mut failed, mut passed) = (0, 0);
    for point in POINTS {
        for error in ["enospc", "eio"] {
            for nth in [0, 2, 5] {
                std::fs::write(
                    data.join(format!("extra-{point}-{error}-{nth}.txt")),
                    format!("{point} {error} {nth}\n").repeat(5000),
                )
                .unwrap();
                let fault = format!("{point}:{nth}:{error}");
                let out = k
                    .cmd()
                    .args(["backup", data.to_str().unwrap()])
                    .env("KURA_FAULT", &fault)
                    .output()
                    .unwrap();
                if out.status.success() {
                    passed += 1; // the fault point was reached fewer than nth times
                } else {
                    failed += 1;
                    assert_eq!(
                        out.status.code(),
                        Some(1),
                        "{fault}: {}",
                        common::stderr(&out)
                    );
                    let err = common::stderr(&out);
                    if error == "enospc" {
                        assert!(
                            err.contains("storage is full"),
                            "{fault}: the message must say the disk is full: {err}"
                        );
                    }
                    assert!(!err.contains("panicked"), "{fault}: {err}");
                }
                let check = k.run(&["check", "--read-data"]);
                assert!(
                    check.status.success(),
                    "after {fault}: {}",
                    common::stderr(&check)
                );
            }
        }
    }
    assert!(
        failed >= 15,
        "most injected faults must be hit ({failed} failed, {passed} passed)"
    );
    // Prune under faults too: forget, then inject into prune's writes.
    k.ok(&["forget", "--keep-last", "1"]);
    for point in POINTS {
        let out = k
            .cmd()
            .args(["prune", "--grace", "0s"])
            .env("KURA_FAULT", format!("{point}:0:eio"))
            .output()
            .unwrap();
        assert!(!common::stderr(&out).contains("panicked"));
        let check = k.run(&["check", "--read-data"]);
        assert!(
            check.status.success(),
            "after prune with {point} fault: {}",
            common::stderr(&check)
        );
    }
    let target = k.path("restore-first");
    let out = k.run(&["restore", &first, "--target", target.to_str().unwrap()]);
    if k.snapshots().iter().any(|s| s["id"] == first.as_str()) {
        assert!(out.status.success(), "{}", common::stderr(&out));
        assert_eq!(
            tree_digest(&restored(&target, &data))
                .unwrap_or_default()
                .len(),
            first_digest.len()
        );
    }
    let last = k.backup_json(&[data.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let t2 = k.path("restore-last");
    k.ok(&["restore", &last, "--target", t2.to_str().unwrap()]);
    assert_eq!(
        tree_digest(&restored(&t2, &data)).unwrap(),
        tree_digest(&data).unwrap()
    );
}

/// A real full disk: a size-limited tmpfs (needs root and permission to mount; skipped otherwise).
#[test]
fn full_disk_fails_clearly_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=40m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("skipping: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let mut k = Kura::uninitialized();
    k.repo = mnt.join("repo");
    k.ok(&["init"]);
    let small = k.path("small-data");
    generate_hospital_dataset(
        &small,
        &DatasetSpec {
            seed: 1,
            total_bytes: 2 << 20,
        },
    )
    .unwrap();
    let first = k.backup_json(&[small.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; 22 << 20]).unwrap();
    let big = k.path("big-data");
    std::fs::create_dir_all(&big).unwrap();
    let mut x = 0x2545F4914F6CDD1Du64;
    let noise: Vec<u8> = (0..20 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(big.join("pacs.dcm"), &noise).unwrap();
    let out = k.run(&["backup", big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a full disk fails the backup");
    assert!(
        common::stderr(&out).contains("storage is full"),
        "{}",
        common::stderr(&out)
    );
    assert!(
        k.run(&["check", "--read-data"]).status.success(),
        "the repository stays intact"
    );
    let t1 = k.path("r1");
    k.ok(&["restore", &first, "--target", t1.to_str().unwrap()]);
    assert_eq!(
        tree_digest(&restored(&t1, &small)).unwrap(),
        tree_digest(&small).unwrap()
    );
    std::fs::remove_file(&filler).unwrap();
    let second = k.backup_json(&[big.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let t2 = k.path("r2");
    k.ok(&["restore", &second, "--target", t2.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(restored(&t2, &big).join("pacs.dcm")).unwrap(),
        noise
    );
    assert!(k.run(&["check", "--read-data"]).status.success());
}
