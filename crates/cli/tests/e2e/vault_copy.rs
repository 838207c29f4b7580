//! Issue 5, acceptance 5 over real HTTPS: a second vault pulls a copy from the first with a
//! read-only operator token; removing a generation at the first does not remove it at the second;
//! an exported medium is verified against its manifest and restores with both vaults down.

use crate::vault_support as support;

use std::path::{Path, PathBuf};

use kura_engine::backup::{backup, BackupInput, BackupOptions};
use kura_engine::Progress;
use kura_repo::Repository;
use kura_store::{Backend, FileKind, LocalBackend};
use support::*;

fn backup_as(repo: &Repository, dir: &Path) -> String {
    let opts = BackupOptions {
        source: "db01".into(),
        ..Default::default()
    };
    let input = BackupInput::Paths(vec![dir.to_path_buf()]);
    backup(repo, input, &opts, &Progress::default())
        .unwrap()
        .id
        .to_hex()
}

fn snapshot_names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = LocalBackend::new(dir)
        .list(FileKind::Snapshot)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    n.sort();
    n
}

/// `kura copy --from VAULT1 --to DIR` as the second vault's host runs it.
fn pull(v1: &VaultHarness, operator: &Path, to: &Path) -> std::process::Output {
    kura()
        .args(["--json", "copy", "--from", &v1.url(), "--to"])
        .arg(to)
        .env("KURA_FROM_PASSWORD_FILE", v1.path("repo-pw"))
        .env("KURA_FROM_TOKEN_FILE", operator)
        .env("KURA_FROM_TLS_FINGERPRINT", &v1.fingerprint)
        .env("KURA_PASSWORD_FILE", v1.path("repo-pw"))
        .output()
        .unwrap()
}

fn restore_local(repo: &Path, pw: &Path, spec: &str, target: &Path) {
    let out = kura()
        .args(["restore", spec, "--target"])
        .arg(target)
        .arg("--repo")
        .arg(repo)
        .env("KURA_PASSWORD_FILE", pw)
        .output()
        .unwrap();
    assert!(out.status.success(), "restore {spec}: {}", text(&out));
}

/// The restored tree holds the source directory under its absolute path.
fn restored(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

#[test]
fn a_second_vault_pulls_a_copy_that_source_deletions_do_not_reach() {
    let mut v1 = VaultHarness::new("require_approval = false");
    let backup_token = v1.token("backup", Some("db01"));
    std::fs::write(v1.path("operator.token"), v1.token("operator", None)).unwrap();
    v1.start();
    let repo = v1.open_repo(&backup_token);
    let (src1, src2) = (v1.path("src1"), v1.path("src2"));
    make_source(&src1, 1);
    make_source(&src2, 2);
    let gen1 = backup_as(&repo, &src1);
    let gen2 = backup_as(&repo, &src2);

    // The second vault has its own repository (its own master key) and pulls into it.
    let v2 = VaultHarness::new("");
    let dest = v2.path("data/repos/ehr");
    let out = pull(&v1, &v1.path("operator.token"), &dest);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gens = report["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 2, "{report}");
    assert!(gens.iter().all(|g| g["copied"] == true));
    assert_eq!(gens[0]["source_id"], gen1.as_str());
    let copies = snapshot_names(&dest);
    assert_eq!(copies.len(), 2);
    assert!(
        !copies.contains(&gen1),
        "re-encrypted: new ids at the destination"
    );

    // Running it again copies nothing twice.
    let again = pull(&v1, &v1.path("operator.token"), &dest);
    assert!(again.status.success(), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("\"copied\":false"));
    assert_eq!(snapshot_names(&dest), copies);

    // The source was never written by the copy: the same generations as before.
    let source_dir = v1.path("data/repos/ehr");
    assert_eq!(snapshot_names(&source_dir), sorted(&[&gen1, &gen2]));

    // Removing generation 1 at the first vault does not reach the second.
    LocalBackend::new(&source_dir)
        .remove(FileKind::Snapshot, &gen1)
        .unwrap();
    let after = pull(&v1, &v1.path("operator.token"), &dest);
    assert!(after.status.success(), "{}", text(&after));
    assert_eq!(
        snapshot_names(&dest),
        copies,
        "the copy keeps both generations"
    );

    // Both copies restore byte for byte from the second vault's repository alone.
    v1.stop();
    for (i, src) in [&src1, &src2].into_iter().enumerate() {
        let target = v2.path(&format!("restore{i}"));
        let id = &gens[i]["dest_id"].as_str().unwrap()[..12];
        restore_local(&dest, &v1.path("repo-pw"), id, &target);
        assert_same_tree(src, &restored(&target, src));
    }
}

#[test]
fn an_exported_medium_verifies_and_restores_with_no_vault_reachable() {
    let mut v1 = VaultHarness::new("");
    let backup_token = v1.token("backup", Some("db01"));
    std::fs::write(v1.path("operator.token"), v1.token("operator", None)).unwrap();
    v1.start();
    let repo = v1.open_repo(&backup_token);
    let src = v1.path("src");
    make_source(&src, 7);
    let gen = backup_as(&repo, &src);

    // Export over HTTPS with the read-only operator token, recorded in the vault's media list.
    let medium = v1.path("usb/medium-1");
    let out = kura()
        .args(["export", "--to"])
        .arg(&medium)
        .args(["--medium", "usb-1", "--config"])
        .arg(&v1.config)
        .arg(&gen[..10])
        .env("KURA_REPOSITORY", v1.url())
        .env("KURA_TOKEN_FILE", v1.path("operator.token"))
        .env("KURA_TLS_FINGERPRINT", &v1.fingerprint)
        .env("KURA_PASSWORD_FILE", v1.path("repo-pw"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(medium.join("kura-manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["generations"][0]["source_id"], gen.as_str());
    assert!(
        manifest["files"].as_array().unwrap().len() >= 4,
        "{manifest}"
    );
    v1.stop();

    // Nothing but the medium and the password: check every byte, then restore.
    let check = kura()
        .args(["check", "--read-data", "--repo"])
        .arg(&medium)
        .env("KURA_PASSWORD_FILE", v1.path("repo-pw"))
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let target = v1.path("restored");
    restore_local(&medium, &v1.path("repo-pw"), "latest", &target);
    assert_same_tree(&src, &restored(&target, &src));

    // The vault lists the medium; verifying records the time, and damage is detected.
    let media = |args: &[&str]| {
        kura()
            .arg("media")
            .args(args)
            .arg("--config")
            .arg(&v1.config)
            .output()
            .unwrap()
    };
    let list = media(&["list"]);
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listing.contains("usb-1") && listing.contains("never verified"),
        "{listing}"
    );
    let ok = media(&["verify", medium.to_str().unwrap(), "--medium", "usb-1"]);
    assert!(ok.status.success(), "{}", text(&ok));
    let listing = String::from_utf8_lossy(&media(&["list"]).stdout).into_owned();
    assert!(listing.contains("verified ok"), "{listing}");
    let pack = first_pack(&medium.join("data"));
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&pack, bytes).unwrap();
    let bad = media(&["verify", medium.to_str().unwrap(), "--medium", "usb-1"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let listing = String::from_utf8_lossy(&media(&["list"]).stdout).into_owned();
    assert!(listing.contains("DAMAGED"), "{listing}");
}

fn first_pack(dir: &Path) -> PathBuf {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let first = entries.into_iter().next().expect("a pack directory");
    if first.is_dir() {
        first_pack(&first)
    } else {
        first
    }
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}
