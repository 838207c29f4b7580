//! compare_trees and tree_digest on purpose-built trees, and the edge-case tree.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use filetime::FileTime;
use kura_testkit::{
    compare_trees, generate_edge_case_tree, tree_digest, tree_digest_with, CompareOptions,
    DigestOptions, FileKind, MtimeCheck, TreeDifference,
};

/// A small tree with a file, a subfolder, a symlink and a hard-link pair, all with fixed
/// modes and mtimes, built identically each time.
fn build(root: &Path) {
    fs::create_dir_all(root.join("sub")).expect("mkdir");
    fs::write(root.join("a.txt"), b"alpha").expect("write");
    fs::write(root.join("sub/b.txt"), b"beta").expect("write");
    fs::write(root.join("sub/c.txt"), b"gamma").expect("write");
    fs::hard_link(root.join("sub/c.txt"), root.join("c_link.txt")).expect("link");
    symlink("sub/b.txt", root.join("l")).expect("symlink");
    for f in ["a.txt", "sub/b.txt", "sub/c.txt"] {
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o644)).expect("chmod");
        let t = FileTime::from_unix_time(1_700_000_000, 123_456_789);
        filetime::set_file_times(root.join(f), t, t).expect("times");
    }
    let t = FileTime::from_unix_time(1_700_000_000, 5);
    filetime::set_symlink_file_times(root.join("l"), t, t).expect("times");
}

fn pair() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    build(&a);
    build(&b);
    (dir, a, b)
}

fn diffs(a: &Path, b: &Path) -> Vec<TreeDifference> {
    compare_trees(a, b, CompareOptions::default()).expect("compare")
}

#[test]
fn identical_trees_have_no_differences_and_equal_digests() {
    let (_d, a, b) = pair();
    assert_eq!(diffs(&a, &b), vec![]);
    assert_eq!(tree_digest(&a).expect("a"), tree_digest(&b).expect("b"));
}

#[test]
fn finds_changed_content_with_same_size() {
    let (_d, a, b) = pair();
    let t = fs::metadata(b.join("a.txt")).expect("meta");
    fs::write(b.join("a.txt"), b"alphA").expect("write");
    filetime::set_file_mtime(b.join("a.txt"), FileTime::from_last_modification_time(&t))
        .expect("t");
    let d = diffs(&a, &b);
    assert_eq!(
        d,
        vec![TreeDifference::Content {
            path: "a.txt".into(),
            a_len: 5,
            b_len: 5
        }]
    );
    assert_ne!(tree_digest(&a).expect("a"), tree_digest(&b).expect("b"));
}

#[test]
fn finds_mode_change_and_digest_sees_it_only_when_asked() {
    let (_d, a, b) = pair();
    fs::set_permissions(b.join("sub/b.txt"), fs::Permissions::from_mode(0o600)).expect("chmod");
    let d = diffs(&a, &b);
    assert_eq!(
        d,
        vec![TreeDifference::Mode {
            path: "sub/b.txt".into(),
            a: 0o644,
            b: 0o600
        }]
    );
    assert_eq!(tree_digest(&a).expect("a"), tree_digest(&b).expect("b"));
    let with_mode = DigestOptions {
        mode: true,
        mtime: false,
    };
    assert_ne!(
        tree_digest_with(&a, with_mode).expect("a"),
        tree_digest_with(&b, with_mode).expect("b")
    );
}

#[test]
fn finds_nanosecond_mtime_change_only_at_nanosecond_precision() {
    let (_d, a, b) = pair();
    let t = FileTime::from_unix_time(1_700_000_000, 999);
    filetime::set_file_times(b.join("a.txt"), t, t).expect("times");
    let d = diffs(&a, &b);
    assert_eq!(
        d,
        vec![TreeDifference::Mtime {
            path: "a.txt".into(),
            a: (1_700_000_000, 123_456_789),
            b: (1_700_000_000, 999)
        }]
    );
    let secs = CompareOptions {
        mtime: MtimeCheck::Seconds,
        ..CompareOptions::default()
    };
    assert_eq!(compare_trees(&a, &b, secs).expect("compare"), vec![]);
}

#[test]
fn finds_symlink_target_change() {
    let (_d, a, b) = pair();
    fs::remove_file(b.join("l")).expect("rm");
    symlink("sub/c.txt", b.join("l")).expect("symlink");
    let t = FileTime::from_unix_time(1_700_000_000, 5);
    filetime::set_symlink_file_times(b.join("l"), t, t).expect("times");
    let d = diffs(&a, &b);
    assert_eq!(
        d,
        vec![TreeDifference::SymlinkTarget {
            path: "l".into(),
            a: "sub/b.txt".into(),
            b: "sub/c.txt".into()
        }]
    );
    assert_ne!(tree_digest(&a).expect("a"), tree_digest(&b).expect("b"));
}

#[test]
fn finds_missing_file_and_reports_a_missing_folder_once() {
    let (_d, a, b) = pair();
    fs::remove_file(b.join("a.txt")).expect("rm");
    fs::create_dir_all(b.join("extra/deeper")).expect("mkdir");
    let d = diffs(&a, &b);
    assert_eq!(
        d,
        vec![
            TreeDifference::OnlyInA("a.txt".into()),
            TreeDifference::OnlyInB("extra".into())
        ]
    );
}

#[test]
fn finds_type_change() {
    let (_d, a, b) = pair();
    fs::remove_file(b.join("a.txt")).expect("rm");
    fs::create_dir(b.join("a.txt")).expect("mkdir");
    let d = diffs(&a, &b);
    assert_eq!(
        d,
        vec![TreeDifference::Kind {
            path: "a.txt".into(),
            a: FileKind::File,
            b: FileKind::Dir
        }]
    );
}

#[test]
fn finds_broken_hardlink_even_when_contents_match() {
    let (_d, a, b) = pair();
    // Replace the link with an independent copy: same bytes, same times, different inode.
    let meta = fs::metadata(b.join("c_link.txt")).expect("meta");
    fs::remove_file(b.join("c_link.txt")).expect("rm");
    fs::write(b.join("c_link.txt"), b"gamma").expect("write");
    fs::set_permissions(b.join("c_link.txt"), meta.permissions()).expect("chmod");
    let t = FileTime::from_last_modification_time(&meta);
    filetime::set_file_times(b.join("c_link.txt"), t, t).expect("times");
    let d = diffs(&a, &b);
    assert_eq!(
        d,
        vec![TreeDifference::Hardlinks {
            path: "c_link.txt".into(),
            a: vec!["c_link.txt".into(), "sub/c.txt".into()],
            b: vec!["c_link.txt".into()],
        }]
    );
    let no_links = CompareOptions {
        hardlinks: false,
        ..CompareOptions::default()
    };
    assert_eq!(compare_trees(&a, &b, no_links).expect("compare"), vec![]);
    // Content-only digests cannot see hard links (documented).
    assert_eq!(tree_digest(&a).expect("a"), tree_digest(&b).expect("b"));
}

#[test]
fn differences_print_their_path() {
    let d = TreeDifference::Mode {
        path: "x/y".into(),
        a: 0o644,
        b: 0o600,
    };
    assert_eq!(d.to_string(), "x/y: mode 0644 vs 0600");
    assert_eq!(d.path(), Path::new("x/y"));
}

#[test]
fn edge_case_tree_is_reproducible_and_has_every_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    generate_edge_case_tree(&a, 3, 300).expect("a");
    generate_edge_case_tree(&b, 3, 300).expect("b");
    let d = compare_trees(&a, &b, CompareOptions::strict()).expect("compare");
    assert!(d.is_empty(), "{d:?}");
    let full = DigestOptions {
        mode: true,
        mtime: true,
    };
    assert_eq!(
        tree_digest_with(&a, full).expect("a"),
        tree_digest_with(&b, full).expect("b")
    );

    let sjis = a
        .join("特殊な名前")
        .join(OsStr::from_bytes(b"\x83\x4a\x83\x8b\x83\x65_SJIS.txt"));
    assert!(sjis.is_file(), "non-UTF-8 name exists");
    let meta = |p: &str| fs::symlink_metadata(a.join(p)).expect(p);
    assert_eq!(
        meta("権限/読み取り専用_0444.txt").permissions().mode() & 0o777,
        0o444
    );
    assert_eq!(
        meta("権限/実行_0755.sh").permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        meta("権限/秘密_0600.txt").permissions().mode() & 0o777,
        0o600
    );
    assert!(meta("リンク/壊れたリンク").file_type().is_symlink());
    assert!(!a.join("リンク/壊れたリンク").exists(), "dangling");
    assert!(
        a.join("リンク/ディレクトリへのリンク").is_dir(),
        "link to a directory"
    );
    assert_eq!(
        fs::read_link(a.join("リンク/絶対リンク")).expect("link"),
        Path::new("/etc/hosts")
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta("ハードリンク/三重_1.dat").nlink(), 3);
    assert_eq!(
        meta("ハードリンク/原本.txt").ino(),
        meta("ハードリンク/別名.txt").ino()
    );
    assert_eq!(meta("空/空ファイル.txt").len(), 0);
    assert_eq!(meta("バイナリ/sparse_16MiB.bin").len(), 16 << 20);
    assert!(
        meta("バイナリ/sparse_16MiB.bin").blocks() < 16 * 1024,
        "sparse: holes not allocated"
    );
    assert!(a.join("特殊な名前/Readme.txt").is_file() && a.join("特殊な名前/README.txt").is_file());
    assert_eq!(
        fs::read_dir(a.join("空/空フォルダ")).expect("dir").count(),
        0
    );
    assert_eq!(meta("時刻/1969年.txt").mtime(), -14_182_940);
    assert_eq!(meta("時刻/ナノ秒.txt").mtime_nsec(), 999_999_999);
    assert!(a
        .join("患者データ/内科/山田 太郎/検査結果_２０２６年.txt")
        .is_file());
    let small = count_files(&a.join("患者データ"));
    assert!(small >= 300, "{small} files under 患者データ");
    assert!(
        fs::metadata(a.join("ダンプ/ehr_part1.sql"))
            .expect("dump")
            .len()
            >= 2 << 20
    );
}

#[test]
fn edge_case_tree_with_other_seed_differs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    generate_edge_case_tree(&a, 1, 50).expect("a");
    generate_edge_case_tree(&b, 2, 50).expect("b");
    assert_ne!(tree_digest(&a).expect("a"), tree_digest(&b).expect("b"));
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            let e = e.expect("entry");
            let ft = e.file_type().expect("type");
            if ft.is_dir() {
                count_files(&e.path())
            } else {
                usize::from(ft.is_file())
            }
        })
        .sum()
}
