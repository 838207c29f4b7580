//! A small mixed clinical tree for the simulator's tests: SS-MIX2 HL7 files, scanned PDFs,
//! DICOM studies, photos, office documents, notes, an EHR dump, application binaries and
//! archives, in the proportions of a small hospital file server.

use std::io;
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha20Rng;

use crate::formats;
use crate::{rng_for, write_file};

/// Shares of the tree, in files per 100.
const MIX: &[(Kind, usize)] = &[
    (Kind::Hl7, 36),
    (Kind::Pdf, 20),
    (Kind::Dicom, 16),
    (Kind::Jpeg, 8),
    (Kind::Office, 8),
    (Kind::Note, 5),
    (Kind::Binary, 4),
    (Kind::Archive, 3),
];

#[derive(Clone, Copy)]
enum Kind {
    Hl7,
    Pdf,
    Dicom,
    Jpeg,
    Office,
    Note,
    Binary,
    Archive,
}

/// Writes a tree of about `files` files (at least one of each kind, plus `db/ehr.dump`)
/// under `root`, deterministically from `seed`. Returns the relative paths written.
/// About a quarter of the PDFs and DICOM files are larger than 128 KiB, so that block
/// patterns (intermittent encryption) are visible.
pub fn generate_clinical_tree(root: &Path, files: usize, seed: u64) -> io::Result<Vec<String>> {
    let mut rng = rng_for(seed, "tree");
    let mut written = Vec::new();
    for &(kind, per_100) in MIX {
        let n = (files * per_100 / 100).max(1);
        for i in 0..n {
            let (path, data) = build(kind, i, &mut rng);
            write_file(root, &path, &data)?;
            written.push(path);
        }
    }
    let dump = formats::pg_dump(&mut rng, 512 * 1024);
    write_file(root, "db/ehr.dump", &dump)?;
    written.push("db/ehr.dump".to_string());
    written.sort();
    Ok(written)
}

fn large_or_small(rng: &mut ChaCha20Rng, small: (usize, usize), large: (usize, usize)) -> usize {
    if rng.gen_bool(0.25) {
        rng.gen_range(large.0..large.1)
    } else {
        rng.gen_range(small.0..small.1)
    }
}

fn build(kind: Kind, i: usize, rng: &mut ChaCha20Rng) -> (String, Vec<u8>) {
    match kind {
        Kind::Hl7 => {
            let pid = format!("{:010}", rng.gen_range(0..10_000_000_000u64));
            let (kind, dir) = if i.is_multiple_of(3) {
                ("OMP^O09", "OMP-01")
            } else {
                ("ADT^A08", "ADT-00")
            };
            let path = format!(
                "ssmix2/standard/{}/{}/{pid}/20260401/{dir}/{pid}_20260401_{dir}_{i:012}_20260401120000000_01_1",
                &pid[..3],
                &pid[3..6]
            );
            (path, formats::hl7(rng, &pid, kind))
        }
        Kind::Pdf => {
            let size = large_or_small(rng, (8_000, 90_000), (150_000, 400_000));
            let path = format!("scan/2026/{:02}/{i:05}.pdf", 1 + i % 6);
            (path, formats::pdf(rng, size))
        }
        Kind::Dicom => {
            let size = large_or_small(rng, (10_000, 90_000), (150_000, 350_000));
            let path = format!("pacs/study{:03}/IM{i:05}.dcm", i / 8);
            (path, formats::dicom(rng, size, i.is_multiple_of(2)))
        }
        Kind::Jpeg => {
            let size = rng.gen_range(6_000..40_000);
            (format!("photos/wound/{i:04}.jpg"), formats::jpeg(rng, size))
        }
        Kind::Office => {
            let ext = if i.is_multiple_of(2) { "docx" } else { "xlsx" };
            let size = rng.gen_range(6_000..40_000);
            (
                format!("office/dept{}/doc{i:04}.{ext}", i % 3),
                formats::zip(rng, size, "word/document.xml"),
            )
        }
        Kind::Note => {
            let size = rng.gen_range(1_000..8_000);
            (
                format!("office/notes/memo{i:03}.txt"),
                formats::text(rng, size),
            )
        }
        Kind::Binary => {
            let size = rng.gen_range(20_000..120_000);
            if i.is_multiple_of(2) {
                (format!("app/bin/viewer{i}.so"), formats::elf(rng, size))
            } else {
                (format!("app/bin/viewer{i}.exe"), formats::pe(rng, size))
            }
        }
        Kind::Archive => {
            let size = rng.gen_range(30_000..120_000);
            if i.is_multiple_of(2) {
                (
                    format!("archive/export{i}.zip"),
                    formats::zip(rng, size, "export.csv"),
                )
            } else {
                (format!("archive/logs{i}.gz"), formats::gzip(rng, size))
            }
        }
    }
}
