//! Stored clinical indexes read back: sharded (version 2) and single-document (version 1)
//! layouts give the same summaries, searches and ward list; damaged shards are refused.

use std::sync::Arc;

use chrono::NaiveDate;
use kura_clinical::synth::{generate, SynthConfig};
use kura_clinical::{ClinicalIndex, ClinicalIndexBuilder, FileFormat};
use kura_format::pack::BlobKind;
use kura_format::{BlobId, FileId};
use kura_repo::{BlobWriter, InitOptions, Repository};

use super::{lock, Loaded};
use crate::clinical_store::{self, encode, shard_count, write_pieces, Manifest};

fn repo() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(kura_store::LocalBackend::new(dir.path()));
    let (r, _) = Repository::init(backend, b"pw", &InitOptions::default()).unwrap();
    (dir, r)
}

/// An index of `patients` generated patients (about 21 SS-MIX2 files each).
fn index(patients: usize) -> ClinicalIndex {
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let data = generate(SynthConfig {
        patients,
        seed: 7,
        as_of,
    });
    let mut b = ClinicalIndexBuilder::new(None);
    for f in &data.ssmix2 {
        b.add_file(&f.rel_path, &f.rel_path, &f.bytes, FileFormat::Ssmix2);
    }
    b.finish(as_of)
}

fn snapshot() -> FileId {
    FileId::of(b"generation")
}

/// Store `index` the old way: extracts only, manifest version 1.
fn save_v1(repo: &Repository, index: &ClinicalIndex) -> BlobId {
    let mut m = Manifest::new(snapshot(), "his", FileFormat::Ssmix2, index, Vec::new());
    let writer = BlobWriter::new(repo);
    let json = index.to_json().unwrap();
    m.index_bytes = json.len() as u64;
    m.pieces = write_pieces(repo, &writer, &json, &mut 0).unwrap();
    m.version = 1;
    let (id, _) = writer.add(BlobKind::Data, &encode(&m).unwrap()).unwrap();
    writer.finish().unwrap();
    id
}

/// Every summary, search and the ward list of `loaded` equal those of `index`.
fn assert_same(repo: &Repository, loaded: &Loaded, index: &ClinicalIndex) {
    for s in index.summaries() {
        let got = loaded.summary(repo, &s.patient_id).unwrap();
        assert_eq!(got.as_ref(), Some(s), "{}", s.patient_id);
    }
    assert_eq!(loaded.summary(repo, "no-such-patient").unwrap(), None);
    let some = index.summaries().nth(3).unwrap();
    let table = loaded.table(repo).unwrap();
    assert_eq!(
        table.search_kana(&some.name_kana),
        index.search_kana(&some.name_kana)
    );
    assert!(!table.search_kana(&some.name_kana).is_empty());
    let born = some.birth_date.unwrap();
    assert_eq!(table.search_birth(born), index.search_birth(born));
    assert_eq!(*loaded.ward(repo).unwrap(), index.ward_list(None));
}

#[test]
fn sharded_and_single_document_indexes_read_the_same() {
    let (_dir, repo) = repo();
    let index = index(300);
    assert!(!index.ward_list(None).is_empty(), "the data has inpatients");
    let m = Manifest::new(snapshot(), "his", FileFormat::Ssmix2, &index, Vec::new());
    let stored = clinical_store::save(&repo, &index, m).unwrap();

    let v2 = Loaded::read(&repo, &snapshot(), &stored.manifest_id).unwrap();
    assert!(v2.whole.is_none(), "a version 2 index is not decoded whole");
    assert_eq!(v2.manifest.shards.len(), shard_count(300));
    assert_eq!(v2.manifest.shards.len(), 3);
    assert_same(&repo, &v2, &index);
    assert!(
        lock(&v2.shards).len() <= 3,
        "only the shards looked up are held"
    );

    let v1 = Loaded::read(&repo, &snapshot(), &save_v1(&repo, &index)).unwrap();
    assert!(v1.whole.is_some());
    assert_same(&repo, &v1, &index);
}

#[test]
fn a_shard_in_the_wrong_place_is_refused() {
    let (_dir, repo) = repo();
    let index = index(300);
    let m = Manifest::new(snapshot(), "his", FileFormat::Ssmix2, &index, Vec::new());
    let stored = clinical_store::save(&repo, &index, m).unwrap();
    let mut m = clinical_store::load_manifest(&repo, &snapshot(), &stored.manifest_id).unwrap();
    m.shards.swap(0, 1);
    let err = clinical_store::load_shard(&repo, &m, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not shard 0 of 3"), "{err}");
    // The manifest must belong to the generation its record names.
    let other = FileId::of(b"another generation");
    let err = clinical_store::load_manifest(&repo, &other, &stored.manifest_id).unwrap_err();
    assert!(err.to_string().contains("damaged or forged"), "{err}");
}

/// Measurement, not a CI test: build, store and look up an index of
/// `KURA_CLINICAL_SCALE_PATIENTS` generated patients (default 100,000; ~21 SS-MIX2 files each)
/// in process, without a file system or a backup: what the index costs on its own. Prints
/// build, store and lookup times, sizes and peak RSS.
///
/// `cargo test --release -p kura-engine clinical_index_at_scale -- --ignored --nocapture`
#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn clinical_index_at_scale() {
    use kura_clinical::synth::generate_ssmix2_range;
    use std::time::Instant;
    let patients: usize = std::env::var("KURA_CLINICAL_SCALE_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let config = SynthConfig {
        patients,
        seed: 11,
        as_of,
    };
    let t = Instant::now();
    let (mut files, mut bytes, mut probe) = (0usize, 0usize, Vec::new());
    let mut b = ClinicalIndexBuilder::new(None);
    for start in (0..patients).step_by(1000) {
        let data = generate_ssmix2_range(config, start..(start + 1000).min(patients));
        probe.push(data.expected[0].patient_id.clone());
        files += data.ssmix2.len();
        bytes += data.ssmix2.iter().map(|f| f.bytes.len()).sum::<usize>();
        let extracts = parse_parallel(&data.ssmix2);
        extracts.into_iter().for_each(|x| {
            b.add_extract(x);
        });
    }
    let index = b.finish(as_of);
    let build = t.elapsed().as_secs_f64();
    assert_eq!(index.table().len(), patients);

    let (dir, repo) = repo();
    let t = Instant::now();
    let m = Manifest::new(snapshot(), "his", FileFormat::Ssmix2, &index, Vec::new());
    let stored = clinical_store::save(&repo, &index, m).unwrap();
    let store = t.elapsed().as_secs_f64();
    drop(index);
    let repo_mb = dir_bytes(dir.path()) as f64 / 1e6;

    // A fresh repository handle: nothing cached but what opening reads.
    let backend = Arc::new(kura_store::LocalBackend::new(dir.path()));
    let t = Instant::now();
    let repo = Repository::open(backend, b"pw").unwrap();
    repo.load_index().unwrap();
    let open = t.elapsed().as_secs_f64() * 1e3;
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let loaded = Loaded::read(&repo, &snapshot(), &stored.manifest_id).unwrap();
    let s = loaded.summary(&repo, &probe[probe.len() / 2]).unwrap();
    let cold = ms(t);
    assert!(s.is_some());
    let t = Instant::now();
    assert!(loaded.summary(&repo, &probe[1]).unwrap().is_some());
    let other = ms(t);
    let t = Instant::now();
    assert!(loaded.summary(&repo, &probe[1]).unwrap().is_some());
    let warm = ms(t);
    let t = Instant::now();
    let hits = loaded.table(&repo).unwrap().search_kana("ヤマ").len();
    let search = ms(t);
    let t = Instant::now();
    let ward = loaded.ward(&repo).unwrap().len();
    let ward_ms = ms(t);
    let m = &loaded.manifest;
    let t = Instant::now();
    let whole = clinical_store::load_index(&repo, m).unwrap();
    let v1 = t.elapsed().as_secs_f64();
    assert_eq!(whole.table().len(), patients);
    drop(whole);
    let t = Instant::now();
    let extracts = clinical_store::load_extracts(&repo, m).unwrap();
    let reuse = t.elapsed().as_secs_f64();
    assert_eq!(extracts.len(), files);
    println!(
        "clinical index at scale: {patients} patients, {files} SS-MIX2 files ({:.0} MB); \
         build (parse + resolve) {build:.1} s; store {store:.1} s; repository {repo_mb:.0} MB \
         (extracts {:.0} MB of JSON, {} shards, table {:.1} MB, ward list {:.1} MB); \
         open repository with index {open:.0} ms; summary cold {cold:.1} ms (manifest + one \
         shard), another shard {other:.1} ms, warm {warm:.2} ms; kana search cold {search:.0} ms \
         ({hits} hits); ward list cold {ward_ms:.0} ms ({ward} inpatients); whole-index load \
         (version 1 lookup path) {v1:.1} s; extracts for the next backup's reuse {reuse:.1} s; \
         peak RSS {}",
        bytes as f64 / 1e6,
        m.index_bytes as f64 / 1e6,
        m.shards.len(),
        m.table_bytes as f64 / 1e6,
        m.ward_bytes as f64 / 1e6,
        peak_rss()
    );
}

/// Parse on every core, as a backup does.
fn parse_parallel(files: &[kura_clinical::synth::SynthFile]) -> Vec<kura_clinical::FileExtract> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(per)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|f| {
                            kura_clinical::FileExtract::read(
                                &f.rel_path,
                                &f.rel_path,
                                &f.bytes,
                                FileFormat::Ssmix2,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:"));
    line.map_or("unknown".into(), |l| {
        l.trim_start_matches("VmHWM:").trim().to_string()
    })
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
