//! Dataset generation and mutation: reproducibility, sizes, compressibility, layout.

use std::fs;
use std::path::{Path, PathBuf};

use kura_testkit::{
    compare_trees, generate_hospital_dataset, mutate_dataset, tree_digest, tree_digest_with,
    CompareOptions, DatasetSpec, DigestOptions, TreeDifference,
};

const MIB: u64 = 1 << 20;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_gives_identical_tree_including_mtimes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = DatasetSpec {
        seed: 11,
        total_bytes: 4 * MIB,
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let sa = generate_hospital_dataset(&a, &spec).expect("gen a");
    let sb = generate_hospital_dataset(&b, &spec).expect("gen b");
    assert_eq!(sa, sb);
    let full = DigestOptions {
        mode: true,
        mtime: true,
    };
    assert_eq!(
        tree_digest_with(&a, full).expect("a"),
        tree_digest_with(&b, full).expect("b")
    );
    let diffs = compare_trees(&a, &b, CompareOptions::strict()).expect("compare");
    assert!(diffs.is_empty(), "{diffs:?}");
}

#[test]
fn different_seed_gives_different_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    generate_hospital_dataset(
        &a,
        &DatasetSpec {
            seed: 1,
            total_bytes: 3 * MIB,
        },
    )
    .expect("a");
    generate_hospital_dataset(
        &b,
        &DatasetSpec {
            seed: 2,
            total_bytes: 3 * MIB,
        },
    )
    .expect("b");
    assert_ne!(tree_digest(&a).expect("a"), tree_digest(&b).expect("b"));
}

#[test]
fn twenty_mib_spec_is_within_ten_percent_and_has_every_category() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ds");
    let want = 20 * MIB;
    let stats = generate_hospital_dataset(
        &root,
        &DatasetSpec {
            seed: 3,
            total_bytes: want,
        },
    )
    .expect("gen");
    let on_disk: u64 = files_under(&root)
        .iter()
        .map(|p| fs::metadata(p).expect("meta").len())
        .sum();
    assert_eq!(on_disk, stats.bytes(), "stats match the disk");
    assert_eq!(files_under(&root).len() as u64, stats.files());
    let ratio = on_disk as f64 / want as f64;
    assert!((0.9..=1.1).contains(&ratio), "size ratio {ratio:.3}");
    // Each category near its documented share (±5 points at this small size).
    for (got, share) in [
        (stats.dumps.bytes, 0.45),
        (stats.hl7.bytes, 0.15),
        (stats.images.bytes, 0.30),
        (stats.scans.bytes, 0.10),
    ] {
        let s = got as f64 / on_disk as f64;
        assert!((s - share).abs() < 0.05, "share {s:.3} vs {share}");
    }
    assert!(
        stats.hl7.files > 300,
        "HL7 file count scales with size: {}",
        stats.hl7.files
    );
}

#[test]
fn layout_and_headers_match_the_documented_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ds");
    generate_hospital_dataset(
        &root,
        &DatasetSpec {
            seed: 4,
            total_bytes: 8 * MIB,
        },
    )
    .expect("gen");
    let files = files_under(&root);
    let rel = |p: &PathBuf| {
        p.strip_prefix(&root)
            .expect("prefix")
            .to_string_lossy()
            .into_owned()
    };
    let dumps: Vec<_> = files
        .iter()
        .filter(|p| rel(p).starts_with("ehr/dump/ehr_"))
        .collect();
    assert!(dumps.len() >= 2);
    for d in &dumps {
        let name = rel(d);
        assert!(
            name.ends_with(".sql") && name.len() == "ehr/dump/ehr_YYYYMMDD.sql".len(),
            "{name}"
        );
    }
    let mut hl7 = 0;
    for p in &files {
        let r = rel(p);
        let head = fs::read(p).expect("read");
        if let Some(ss) = r.strip_prefix("ssmix2/standard_root/") {
            hl7 += 1;
            let parts: Vec<&str> = ss.split('/').collect();
            assert_eq!(parts.len(), 6, "{r}");
            assert_eq!(parts[0], &parts[2][0..3]);
            assert_eq!(parts[1], &parts[2][3..6]);
            assert!(head.starts_with(b"MSH|^~\\&|"), "{r}");
            assert!((1024..=8192).contains(&head.len()), "{r}: {}", head.len());
        } else if r.starts_with("pacs/") {
            assert!(r.ends_with(".dcm"));
            assert_eq!(&head[128..132], b"DICM", "{r}");
        } else if r.starts_with("scan/") {
            assert!(r.ends_with(".pdf"));
            assert!(head.starts_with(b"%PDF-1.4"), "{r}");
            assert!(
                (100 << 10..=600 << 10).contains(&head.len()),
                "{r}: {}",
                head.len()
            );
        }
    }
    assert!(hl7 > 100);
}

#[test]
fn generated_dump_compresses_three_to_five_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ds");
    generate_hospital_dataset(
        &root,
        &DatasetSpec {
            seed: 5,
            total_bytes: 16 * MIB,
        },
    )
    .expect("gen");
    let dump = files_under(&root.join("ehr/dump"))
        .into_iter()
        .next()
        .expect("a dump");
    let data = fs::read(&dump).expect("read");
    assert!(data.len() > 3 * MIB as usize);
    let packed = zstd::bulk::compress(&data, 3).expect("zstd");
    let ratio = data.len() as f64 / packed.len() as f64;
    assert!((3.0..=5.0).contains(&ratio), "zstd ratio {ratio:.2}");
}

#[test]
fn refuses_a_non_empty_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("keep.txt"), b"x").expect("write");
    let err = generate_hospital_dataset(
        dir.path(),
        &DatasetSpec {
            seed: 1,
            total_bytes: MIB,
        },
    )
    .expect_err("non-empty");
    assert!(err.to_string().contains("not empty"));
    assert_eq!(fs::read(dir.path().join("keep.txt")).expect("kept"), b"x");
}

#[test]
fn mutation_changes_about_the_requested_fraction_in_the_middle_of_dumps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = DatasetSpec {
        seed: 6,
        total_bytes: 20 * MIB,
    };
    let (orig, m) = (dir.path().join("orig"), dir.path().join("mut"));
    let stats = generate_hospital_dataset(&orig, &spec).expect("gen");
    generate_hospital_dataset(&m, &spec).expect("gen");
    let ms = mutate_dataset(&m, 99, 0.05).expect("mutate");
    let want = stats.bytes() as f64 * 0.05;
    let got = ms.bytes_touched() as f64;
    assert!(
        (0.7..=1.3).contains(&(got / want)),
        "touched {got} for {want}"
    );
    assert!(
        ms.files_changed >= 3 && ms.files_new >= 1 && ms.files_deleted >= 1,
        "{ms:?}"
    );

    let diffs = compare_trees(&orig, &m, CompareOptions::content_only()).expect("compare");
    let count = |f: fn(&TreeDifference) -> bool| diffs.iter().filter(|d| f(d)).count() as u64;
    assert_eq!(
        count(|d| matches!(d, TreeDifference::Content { .. })),
        ms.files_changed
    );
    assert_eq!(
        count(|d| matches!(d, TreeDifference::OnlyInA(_))),
        ms.files_deleted + ms.files_renamed
    );
    assert!(
        ms.files_renamed >= 1,
        "SS-MIX2 style updates happen: {ms:?}"
    );
    assert!(
        count(|d| matches!(d, TreeDifference::OnlyInB(_))) >= 1,
        "new files or folders"
    );

    // Dumps keep their first and last 10%: edits are in the middle.
    for before in files_under(&orig.join("ehr/dump")) {
        let after = m.join(before.strip_prefix(&orig).expect("prefix"));
        let (x, y) = (fs::read(&before).expect("x"), fs::read(&after).expect("y"));
        assert_ne!(x, y, "every dump is edited");
        let tenth = x.len() / 10;
        assert_eq!(x[..tenth], y[..tenth]);
        assert_eq!(x[x.len() - tenth..], y[y.len() - tenth..]);
    }
}

#[test]
fn mutation_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = DatasetSpec {
        seed: 8,
        total_bytes: 4 * MIB,
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    generate_hospital_dataset(&a, &spec).expect("a");
    generate_hospital_dataset(&b, &spec).expect("b");
    let sa = mutate_dataset(&a, 5, 0.02).expect("a");
    let sb = mutate_dataset(&b, 5, 0.02).expect("b");
    assert_eq!(sa, sb);
    let diffs = compare_trees(&a, &b, CompareOptions::strict()).expect("compare");
    assert!(diffs.is_empty(), "{diffs:?}");
}

#[test]
fn mutation_of_a_tree_without_dumps_or_hl7_adds_images_instead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::write(root.join("blob.bin"), vec![7u8; 10 << 20]).expect("write");
    let ms = mutate_dataset(root, 1, 0.01).expect("mutate");
    assert_eq!(ms.files_changed, 0);
    assert_eq!(ms.files_new, 1, "{ms:?}");
    let want = (10u64 << 20) / 100;
    assert!(
        ms.bytes_added * 10 >= want * 8 && ms.bytes_added <= want + 2048,
        "{ms:?}"
    );
    assert_eq!(
        fs::read(root.join("blob.bin")).expect("read").len(),
        10 << 20
    );
}

#[test]
fn mutation_of_a_missing_directory_names_it() {
    let err = mutate_dataset(Path::new("/nonexistent/kura-ds"), 1, 0.01).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/kura-ds"), "{err}");
}
