//! The `kura-gen` binary end to end: each subcommand runs and reports what it did.

use std::path::Path;
use std::process::Command;

fn kura_gen(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kura-gen"))
        .args(args)
        .output()
        .expect("run kura-gen");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn dataset_mutate_digest_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ds = dir.path().join("ds");
    let (ok, out, err) = kura_gen(&["dataset", path(&ds), "--size", "2MiB", "--seed", "4"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!("dataset {}: ", ds.display())),
        "{out}"
    );
    assert!(out.contains(" files, ") && out.contains("dumps "), "{out}");

    let (ok, before, _) = kura_gen(&["digest", path(&ds)]);
    assert!(ok);
    let digest = before.split_whitespace().next().expect("digest");
    assert_eq!(digest.len(), 64);
    assert_eq!(digest, kura_testkit::tree_digest(&ds).expect("lib digest"));

    let (ok, out, err) = kura_gen(&["mutate", path(&ds), "--fraction", "0.05"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("files changed") && out.contains("B added"),
        "{out}"
    );
    let (_, after, _) = kura_gen(&["digest", path(&ds)]);
    assert_ne!(before, after);
}

#[test]
fn edge_cases_and_errors_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let edge = dir.path().join("edge");
    let (ok, out, err) = kura_gen(&["edge-cases", path(&edge), "--files", "20"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("(20 small)") && out.contains(" symlinks, "),
        "{out}"
    );

    // Generating into a non-empty directory fails with a message naming it.
    let (ok, _, err) = kura_gen(&["dataset", path(&edge), "--size", "1MiB"]);
    assert!(!ok);
    assert!(err.contains("not empty"), "{err}");

    let (ok, _, err) = kura_gen(&[
        "dataset",
        path(&dir.path().join("x")),
        "--size",
        "3 parsecs",
    ]);
    assert!(!ok);
    assert!(err.contains("unknown unit"), "{err}");
}
