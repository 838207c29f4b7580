//! The damage suite (issue 3, acceptance 6): for each kind of repository file — config, key file,
//! pack, index, snapshot, metadata record — truncate it, delete it, flip bits in it, or replace it
//! with another (older) file of the same kind. Each time: the damage is detected and reported
//! clearly, the other generation still restores, and a new backup still succeeds.
//!
//! Two generations with disjoint data are made once (gen1 locked, so it has a metadata record) and
//! the repository is copied for each scenario.

use crate::common;

use std::path::{Path, PathBuf};

use common::{restored, Kura};
use kura_testkit::{generate_hospital_dataset, tree_digest, DatasetSpec};

#[derive(Clone, Copy, Debug)]
enum Damage {
    Truncate,
    Delete,
    FlipBits,
    ReplaceWithOlder,
}

struct Fixture {
    k: Kura,
    template: PathBuf,
    gen1: String,
    gen2: String,
    data1: PathBuf,
    data2: PathBuf,
    digest1: String,
    /// Files of each kind that belong to gen2 only (or are shared, for config and keys).
    files2: Vec<(&'static str, PathBuf)>,
    /// A file of the same kind written earlier, for "replace with older".
    older: Vec<(&'static str, PathBuf)>,
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(list(&p));
            } else if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn setup() -> Fixture {
    let k = Kura::uninitialized();
    let rk = k.path("recovery-key");
    k.ok(&["init", "--recovery-key-file", rk.to_str().unwrap()]);
    let (data1, data2) = (k.path("data1"), k.path("data2"));
    generate_hospital_dataset(
        &data1,
        &DatasetSpec {
            seed: 31,
            total_bytes: 3 << 20,
        },
    )
    .unwrap();
    generate_hospital_dataset(
        &data2,
        &DatasetSpec {
            seed: 32,
            total_bytes: 3 << 20,
        },
    )
    .unwrap();
    let before: Vec<PathBuf> = list(&k.repo);
    let gen1 = k.backup_json(&[
        "--source",
        "a",
        "--lock-days",
        "30",
        data1.to_str().unwrap(),
    ])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    k.ok(&["hold", "add", &gen1, "--reason", "fixture"]);
    let before_lock: Vec<PathBuf> = list(&k.repo);
    k.ok(&["lock", &gen1, "--until", "2099-12-31"]);
    let mid: Vec<PathBuf> = list(&k.repo);
    let gen2 = k.backup_json(&["--source", "b", data2.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let after: Vec<PathBuf> = list(&k.repo);
    let new_in = |old: &[PathBuf], new: &[PathBuf], sub: &str| -> Vec<PathBuf> {
        new.iter()
            .filter(|p| !old.contains(p) && p.starts_with(k.repo.join(sub)))
            .cloned()
            .collect()
    };
    let biggest = |v: Vec<PathBuf>| {
        v.into_iter()
            .max_by_key(|p| std::fs::metadata(p).unwrap().len())
            .unwrap()
    };
    let files2 = vec![
        ("config", k.repo.join("config")),
        (
            "key",
            new_in(&[], &before, "keys")
                .into_iter()
                .find(|p| std::fs::read_to_string(p).unwrap().contains("\"password\""))
                .unwrap(),
        ),
        ("pack", biggest(new_in(&mid, &after, "data"))),
        ("index", new_in(&mid, &after, "index")[0].clone()),
        ("snapshot", new_in(&mid, &after, "snapshots")[0].clone()),
        ("meta", new_in(&before_lock, &mid, "meta")[0].clone()),
    ];
    let older = vec![
        ("config", k.repo.join("config.copy")),
        (
            "key",
            new_in(&[], &before, "keys")
                .into_iter()
                .find(|p| std::fs::read_to_string(p).unwrap().contains("\"recovery\""))
                .unwrap(),
        ),
        ("pack", biggest(new_in(&before, &mid, "data"))),
        ("index", new_in(&before, &mid, "index")[0].clone()),
        ("snapshot", new_in(&before, &mid, "snapshots")[0].clone()),
        ("meta", new_in(&before, &before_lock, "meta")[0].clone()),
    ];
    let template = k.path("template");
    copy_dir(&k.repo, &template);
    let digest1 = tree_digest(&data1).unwrap();
    Fixture {
        k,
        template,
        gen1,
        gen2,
        data1,
        data2,
        digest1,
        files2,
        older,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    assert!(std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success());
}

fn damage(path: &Path, how: Damage, older: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640));
    match how {
        Damage::Truncate => {
            let len = std::fs::metadata(path).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .unwrap()
                .set_len(len * 2 / 3)
                .unwrap();
        }
        Damage::Delete => std::fs::remove_file(path).unwrap(),
        Damage::FlipBits => {
            let mut b = std::fs::read(path).unwrap();
            let n = b.len();
            for i in [n / 3, n / 2, n - 20] {
                b[i] ^= 0x5a;
            }
            std::fs::write(path, b).unwrap();
        }
        Damage::ReplaceWithOlder => {
            let other = if older == path {
                older.with_file_name("config.copy")
            } else {
                older.to_path_buf()
            };
            std::fs::write(path, std::fs::read(other).unwrap()).unwrap();
        }
    }
}

#[test]
fn every_kind_of_damage_is_detected_and_contained() {
    let f = setup();
    let mut report = Vec::new();
    for (i, (kind, file)) in f.files2.iter().enumerate() {
        for how in [
            Damage::Truncate,
            Damage::Delete,
            Damage::FlipBits,
            Damage::ReplaceWithOlder,
        ] {
            copy_dir(&f.template, &f.k.repo);
            // "Older" is another file of the same kind written earlier (for a key, the recovery key file).
            damage(file, how, &f.older[i].1);
            let outcome = scenario(&f, kind, how);
            report.push(format!("{kind:<8} {how:?}: {outcome}"));
        }
    }
    eprintln!("damage suite:\n  {}", report.join("\n  "));
}

/// Run the checks for one damaged repository; returns what happened, for the report.
fn scenario(f: &Fixture, kind: &str, how: Damage) -> String {
    let k = &f.k;
    let label = format!("{kind} {how:?}");
    // With the password's key file damaged, the recovery key (its own key file) opens the repository.
    let password_file = if kind == "key" {
        k.path("recovery-key")
    } else {
        k.password_file.clone()
    };
    let run = |args: &[&str]| {
        k.cmd()
            .env("KURA_PASSWORD_FILE", &password_file)
            .args(args)
            .output()
            .unwrap()
    };
    if kind == "key" {
        let out = k.run(&["snapshots"]);
        let err = common::stderr(&out);
        assert!(
            !out.status.success(),
            "{label}: the damaged password key must not open the repository"
        );
        assert!(
            err.contains("damaged") || err.contains("wrong password"),
            "{label}: {err}"
        );
    }
    let check = run(&["check", "--read-data"]);
    let err = common::stderr(&check);
    // Not damage to any generation's data: removing a generation or a record (on a local
    // repository only the vault's audit log or S3 Object Lock can refuse that), or putting back
    // the config, which never changes, so an older config is the same bytes.
    let benign = matches!(
        (kind, how),
        ("snapshot", Damage::Delete)
            | ("meta", Damage::Delete)
            | ("config", Damage::ReplaceWithOlder)
            | ("key", Damage::Delete)
    );
    if !benign {
        assert!(
            !check.status.success(),
            "{label}: damage must be detected; check said: {err}"
        );
    }
    assert!(!err.contains("panicked"), "{label}: {err}");
    let target = k.path(&format!("r-{kind}-{how:?}"));
    let out = run(&["restore", &f.gen1, "--target", target.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{label}: generation 1 must still restore: {}",
        common::stderr(&out)
    );
    assert_eq!(
        tree_digest(&restored(&target, &f.data1)).unwrap(),
        f.digest1,
        "{label}"
    );
    std::fs::remove_dir_all(&target).unwrap();
    let out = run(&["backup", "--source", "c", f.data2.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{label}: a new backup must succeed: {}",
        common::stderr(&out)
    );
    let _ = &f.gen2;
    let first = err
        .lines()
        .find(|l| l.starts_with("error") || l.starts_with("damaged") || l.starts_with("kura"))
        .unwrap_or("no error: not damage to data");
    format!(
        "{}; generation 1 restores; new backup ok",
        first.chars().take(110).collect::<String>()
    )
}
