//! Restore tests for files written in parallel pieces (`restore_files`): content, metadata and
//! the removal of a file one of whose pieces cannot be verified.

use std::path::{Path, PathBuf};

use kura_format::tree::NodeType;
use kura_repo::Repository;
use rand::{Rng, SeedableRng};

use crate::backup::{BackupOptions, BackupResult};
use crate::progress::Progress;
use crate::restore::{restore, RestoreOptions, RestoreSummary};
use crate::restore_files::PIECE_BYTES;
use crate::test_support::{backup_dir, repo};

fn run_backup(repo: &Repository, data: &Path) -> BackupResult {
    let opts = BackupOptions {
        source: "t".into(),
        ..Default::default()
    };
    backup_dir(repo, data, &opts)
}

fn run_restore(repo: &Repository, r: &BackupResult, target: &Path) -> RestoreSummary {
    let opts = RestoreOptions {
        target: target.to_path_buf(),
        threads: 3,
        ..Default::default()
    };
    restore(repo, &r.snapshot, &opts, &Progress::default()).unwrap()
}

/// Three and a half pieces of random data with text in between, so chunks differ in size and
/// pieces end at different offsets from where chunks end.
fn large_content() -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut out = Vec::new();
    while (out.len() as u64) < PIECE_BYTES * 7 / 2 {
        let n = rng.gen_range(10_000..600_000);
        out.extend((0..n).map(|_| rng.gen::<u8>()));
        out.extend(b"INSERT INTO patients VALUES ('tanaka', 'taro');\n".repeat(2000));
    }
    out
}

fn make_data(data: &Path, large: &[u8]) {
    std::fs::create_dir_all(data.join("db")).unwrap();
    std::fs::write(data.join("db/dump.sql"), large).unwrap();
    std::fs::write(data.join("empty"), b"").unwrap();
    for i in 0..20 {
        std::fs::write(data.join(format!("msg{i}.hl7")), format!("MSH|{i}|record")).unwrap();
    }
    let mtime = filetime::FileTime::from_unix_time(1_600_000_000, 123);
    filetime::set_file_mtime(data.join("db/dump.sql"), mtime).unwrap();
}

fn restored(target: &Path, data: &Path, rel: &str) -> PathBuf {
    target.join(data.strip_prefix("/").unwrap()).join(rel)
}

/// A repository holding one generation of [`make_data`]'s tree, and a restore target.
struct Backed {
    rd: tempfile::TempDir,
    dd: tempfile::TempDir,
    td: tempfile::TempDir,
    repo: Repository,
    large: Vec<u8>,
    gen: BackupResult,
}

fn backed_up_large_file() -> Backed {
    let (rd, dd, td) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let repo = repo(rd.path());
    let large = large_content();
    make_data(dd.path(), &large);
    let gen = run_backup(&repo, dd.path());
    Backed {
        rd,
        dd,
        td,
        repo,
        large,
        gen,
    }
}

#[test]
fn a_large_file_restored_in_pieces_has_its_content_and_times() {
    // `_rd` keeps the repository's directory alive (`..` would drop it at once).
    let Backed {
        rd: _rd,
        dd,
        td,
        repo,
        large,
        gen,
        ..
    } = backed_up_large_file();
    let summary = run_restore(&repo, &gen, td.path());
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.files, 22);
    assert_eq!(
        summary.bytes,
        large.len() as u64
            + (0..20)
                .map(|i| format!("MSH|{i}|record").len() as u64)
                .sum::<u64>()
    );
    let dump = restored(td.path(), dd.path(), "db/dump.sql");
    assert!(
        std::fs::read(&dump).unwrap() == large,
        "restored dump differs"
    );
    let meta = std::fs::metadata(&dump).unwrap();
    assert_eq!(
        filetime::FileTime::from_last_modification_time(&meta).unix_seconds(),
        1_600_000_000
    );
    assert_eq!(
        std::fs::read(restored(td.path(), dd.path(), "msg7.hl7")).unwrap(),
        b"MSH|7|record"
    );
    assert_eq!(
        std::fs::read(restored(td.path(), dd.path(), "empty")).unwrap(),
        b""
    );
}

/// Flip one byte of the blob at `id`'s location in its pack file.
fn damage_blob(repo_dir: &Path, repo: &Repository, id: &kura_format::BlobId) {
    let (pack, loc) = repo.locate(id).unwrap();
    let name = pack.to_hex();
    // FORMAT.md section 3: packs live in data/<first two hex digits>/<id>.
    let path = repo_dir.join("data").join(&name[..2]).join(&name);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[loc.offset as usize + loc.length as usize / 2] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
}

/// The node of `db/dump.sql` in the backed-up generation.
fn dump_node(repo: &Repository, gen: &BackupResult, data: &Path) -> kura_format::tree::Node {
    crate::walk::find_node(
        repo,
        &gen.snapshot.tree,
        &data.join("db/dump.sql").display().to_string(),
    )
    .unwrap()
    .expect("the dump is in the generation")
}

#[test]
fn a_damaged_chunk_in_a_later_piece_removes_the_whole_file() {
    let Backed {
        rd,
        dd,
        td,
        repo,
        gen,
        ..
    } = backed_up_large_file();
    let node = dump_node(&repo, &gen, dd.path());
    assert_eq!(node.node_type, NodeType::File);
    assert!(node.content.len() > 8, "the dump has many chunks");
    // A chunk near the end: in the last piece, not the one that creates the file.
    damage_blob(rd.path(), &repo, &node.content[node.content.len() - 2]);
    let summary = run_restore(&repo, &gen, td.path());
    assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
    assert!(summary.problems[0].path.ends_with("db/dump.sql"));
    assert!(
        summary.problems[0].message.contains("damaged"),
        "{}",
        summary.problems[0].message
    );
    assert!(
        !restored(td.path(), dd.path(), "db/dump.sql").exists(),
        "no partial file is left"
    );
    assert_eq!(summary.files, 21, "the other files are restored");
    assert_eq!(
        std::fs::read(restored(td.path(), dd.path(), "msg3.hl7")).unwrap(),
        b"MSH|3|record"
    );
}

#[test]
fn a_damaged_chunk_with_a_second_copy_is_restored_from_the_copy() {
    let Backed {
        rd,
        dd,
        td,
        repo,
        gen,
        large,
    } = backed_up_large_file();
    let node = dump_node(&repo, &gen, dd.path());
    let id = node.content[node.content.len() - 2];
    // A second copy in another pack, as a repack leaves it until prune deletes the old pack.
    let plain = repo.read_blob(&id).unwrap();
    let writer = kura_repo::BlobWriter::new(&repo);
    assert!(writer
        .add_forced(kura_format::pack::BlobKind::Data, id, &plain)
        .unwrap());
    writer.finish().unwrap();
    repo.load_index().unwrap();
    assert_eq!(repo.index().locations(&id).count(), 2);
    // Damage the copy restore finds first.
    damage_blob(rd.path(), &repo, &id);
    let summary = run_restore(&repo, &gen, td.path());
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert!(
        std::fs::read(restored(td.path(), dd.path(), "db/dump.sql")).unwrap() == large,
        "the dump is restored whole from the good copy"
    );
}
