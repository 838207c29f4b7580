//! Backup pipeline tests for change detection with prefetched parent trees and reused
//! unchanged directory trees.

use std::path::Path;

use kura_format::tree::NodeType;
use kura_repo::Repository;

use crate::backup::{BackupOptions, BackupResult};
use crate::test_support::{backup_dir, repo};
use crate::walk::walk_tree;

fn run(repo: &Repository, data: &Path, excludes: &[&str]) -> BackupResult {
    let opts = BackupOptions {
        source: "t".into(),
        excludes: excludes.iter().map(|s| s.to_string()).collect(),
        detect: true,
        ..Default::default()
    };
    backup_dir(repo, data, &opts)
}

/// Every file path in a generation, with its content read back.
fn files(repo: &Repository, r: &BackupResult) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    walk_tree(repo, &r.snapshot.tree, b"", &mut |e| {
        if e.node.node_type == NodeType::File {
            let mut bytes = Vec::new();
            crate::walk::dump_file(repo, &e.node, &mut bytes)?;
            out.push((String::from_utf8_lossy(&e.path).into_owned(), bytes));
        }
        Ok(true)
    })
    .unwrap();
    out
}

/// The tree id of the backed-up directory itself inside a generation.
fn data_tree(repo: &Repository, r: &BackupResult, data: &Path) -> kura_format::BlobId {
    let node = crate::walk::find_node(repo, &r.snapshot.tree, &data.display().to_string())
        .unwrap()
        .expect("the data directory is in the generation");
    node.subtree.expect("a directory has a tree")
}

/// A tree wide and deep enough that the prefetch helpers run ahead of the walker.
fn make_tree(data: &Path) {
    for a in 0..6 {
        for b in 0..5 {
            let d = data.join(format!("p{a}/d{b}/leaf"));
            std::fs::create_dir_all(&d).unwrap();
            for f in 0..3 {
                std::fs::write(
                    d.join(format!("f{f}.txt")),
                    format!("{a}/{b}/{f} MSH|record"),
                )
                .unwrap();
            }
            std::fs::write(d.join("skip.log"), b"log line").unwrap();
        }
    }
}

#[test]
fn unchanged_backup_reuses_the_parent_trees_and_reads_nothing() {
    let (rd, dd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let repo = repo(rd.path());
    make_tree(dd.path());
    let first = run(&repo, dd.path(), &[]);
    let second = run(&repo, dd.path(), &[]);
    // The directories above the data (e.g. /tmp) change all the time; the data's own tree not.
    assert_eq!(
        data_tree(&repo, &second, dd.path()),
        data_tree(&repo, &first, dd.path())
    );
    assert_eq!(second.snapshot.stats.files_changed, 0);
    assert_eq!(second.snapshot.stats.files_new, 0);
    assert_eq!(second.snapshot.stats.files_unchanged, 6 * 5 * 4);
    assert_eq!(
        second.snapshot.stats.bytes_read, 0,
        "unchanged files must not be read"
    );
    assert_eq!(second.snapshot.stats.blobs_added, 0);
}

#[test]
fn a_deep_change_and_an_exclusion_are_seen_despite_reuse() {
    let (rd, dd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let repo = repo(rd.path());
    make_tree(dd.path());
    let first = run(&repo, dd.path(), &[]);
    // A file changed deep inside one directory; its siblings are reused from the parent.
    let changed = dd.path().join("p4/d3/leaf/f1.txt");
    std::fs::write(&changed, b"new content, longer than before").unwrap();
    let second = run(&repo, dd.path(), &[]);
    assert_ne!(
        data_tree(&repo, &second, dd.path()),
        data_tree(&repo, &first, dd.path())
    );
    assert_eq!(second.snapshot.stats.files_changed, 1);
    let got = files(&repo, &second);
    assert_eq!(got.len(), 6 * 5 * 4);
    let (_, content) = got
        .iter()
        .find(|(p, _)| p.ends_with("p4/d3/leaf/f1.txt"))
        .unwrap();
    assert_eq!(content, b"new content, longer than before");
    // Excluding files that the parent generation holds: directories otherwise unchanged must
    // not be taken over from the parent with the excluded files still in them.
    let third = run(&repo, dd.path(), &["*.log"]);
    let got = files(&repo, &third);
    assert_eq!(got.len(), 6 * 5 * 3, "excluded files must be gone");
    assert!(got.iter().all(|(p, _)| !p.ends_with(".log")));
    // A file removed: its directory is stored anew.
    std::fs::remove_file(dd.path().join("p0/d0/leaf/f0.txt")).unwrap();
    let fourth = run(&repo, dd.path(), &["*.log"]);
    assert_eq!(files(&repo, &fourth).len(), 6 * 5 * 3 - 1);
}
