//! The hospital-like dataset: layout, proportions and the generator driving the others.
//!
//! | share | category | path | size per file | zstd -3 |
//! |------:|----------|------|---------------|---------|
//! | 45% | EHR database dumps (monthly archives) | `ehr/dump/ehr_YYYYMMDD.sql` | total/2…total/6, 2–6 files | 3–5x |
//! | 15% | SS-MIX2 HL7 v2 messages | `ssmix2/standard_root/…` | 1–8 KiB | ~5x per file, ~12x as one stream |
//! | 30% | DICOM-like images | `pacs/<study uid>/<n>.dcm` | 1–3 MiB | ~1.4x |
//! | 10% | scanned documents | `scan/YYYY/MM/<id>.pdf` | 100–500 KiB | 1x |
//!
//! The shares follow the byte mix of a mid-size hospital's file-level backup outside PACS
//! archives: the EHR database dominates, a PACS cache and scanned paper (同意書, 紹介状)
//! follow, and SS-MIX2 storage is small in bytes but huge in file count (at the 2 GiB
//! default about 70,000 files), which is what stresses metadata handling.
//!
//! Everything — names, bytes, file mtimes (with nanoseconds) and directory mtimes — is a
//! function of the seed; the wall clock is never read.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::blobs;
use crate::dump;
use crate::hl7::{self, Patient};
use crate::util::{
    ascii, base_day, civil_from_days, days_from_civil, prepare_empty_root, push_yyyymmdd,
    set_times, stream, TkRng,
};

/// Byte shares of the four categories (they sum to 1).
pub const DUMP_SHARE: f64 = 0.45;
/// Share of the SS-MIX2 HL7 files.
pub const HL7_SHARE: f64 = 0.15;
/// Share of the DICOM-like images.
pub const IMAGE_SHARE: f64 = 0.30;
/// Share of the scanned PDFs.
pub const SCAN_SHARE: f64 = 0.10;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Seed of every random choice; the same seed gives a byte-identical tree.
    pub seed: u64,
    /// Approximate total size of all files.
    pub total_bytes: u64,
}

impl Default for DatasetSpec {
    /// The benchmark default: seed 1, 2 GiB.
    fn default() -> Self {
        DatasetSpec {
            seed: 1,
            total_bytes: 2 << 30,
        }
    }
}

/// Files and bytes of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoryStats {
    /// Number of regular files written.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

impl CategoryStats {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

/// What [`generate_hospital_dataset`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatasetStats {
    /// `ehr/dump/*.sql`.
    pub dumps: CategoryStats,
    /// `ssmix2/standard_root/**`.
    pub hl7: CategoryStats,
    /// `pacs/**.dcm`.
    pub images: CategoryStats,
    /// `scan/**.pdf`.
    pub scans: CategoryStats,
    /// Directories created (excluding the root).
    pub dirs: u64,
}

impl DatasetStats {
    /// Regular files over all categories.
    pub fn files(&self) -> u64 {
        self.dumps.files + self.hl7.files + self.images.files + self.scans.files
    }

    /// Bytes over all categories.
    pub fn bytes(&self) -> u64 {
        self.dumps.bytes + self.hl7.bytes + self.images.bytes + self.scans.bytes
    }
}

/// Generates the dataset described in the module documentation under `root`, which must be
/// missing or empty.
pub fn generate_hospital_dataset(root: &Path, spec: &DatasetSpec) -> io::Result<DatasetStats> {
    prepare_empty_root(root)?;
    let total = spec.total_bytes as f64;
    let mut stats = DatasetStats::default();
    let mut w = Writer::new(root);
    write_dumps(
        &mut w,
        spec.seed,
        (total * DUMP_SHARE) as u64,
        &mut stats.dumps,
    )?;
    write_hl7(
        &mut w,
        spec.seed,
        (total * HL7_SHARE) as u64,
        &mut stats.hl7,
    )?;
    write_images(
        &mut w,
        spec.seed,
        (total * IMAGE_SHARE) as u64,
        &mut stats.images,
    )?;
    write_scans(
        &mut w,
        spec.seed,
        (total * SCAN_SHARE) as u64,
        &mut stats.scans,
    )?;
    stats.dirs = w.dirs;
    set_dir_times(root)?;
    Ok(stats)
}

/// Writes files below the root, creating parents and setting deterministic mtimes.
pub(crate) struct Writer<'a> {
    pub(crate) root: &'a Path,
    pub(crate) dirs: u64,
    /// Directories this writer created (used by mutate to fix their parents' mtimes).
    pub(crate) created: Vec<PathBuf>,
    /// The last parent created: consecutive files mostly share it, saving syscalls.
    last_dir: Option<PathBuf>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(root: &'a Path) -> Self {
        Writer {
            root,
            dirs: 0,
            last_dir: None,
            created: Vec::new(),
        }
    }

    /// Creates the parent directories of `rel` and returns the absolute path.
    pub(crate) fn prepare(&mut self, rel: &str) -> io::Result<PathBuf> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            if self.last_dir.as_deref() != Some(parent) {
                if !parent.is_dir() {
                    let missing = missing_dirs(self.root, parent);
                    self.dirs += missing.len() as u64;
                    fs::create_dir_all(parent)?;
                    self.created.extend(missing);
                }
                self.last_dir = Some(parent.to_path_buf());
            }
        }
        Ok(path)
    }

    /// Writes `bytes` at `rel` with mtime `secs.nanos`.
    pub(crate) fn write(
        &mut self,
        rel: &str,
        bytes: &[u8],
        secs: i64,
        nanos: u32,
    ) -> io::Result<()> {
        let path = self.prepare(rel)?;
        fs::write(&path, bytes)?;
        set_times(&path, secs, nanos)
    }
}

/// The directories between `root` (exclusive) and `dir` (inclusive) that do not exist yet.
fn missing_dirs(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d == root || d.is_dir() {
            break;
        }
        out.push(d.to_path_buf());
        cur = d.parent();
    }
    out
}

/// A size in `min..=max`, except that a remainder too small for another file is absorbed
/// (so category totals land on their budget instead of one file short or over).
pub(crate) fn next_size(rng: &mut TkRng, remaining: u64, min: u64, max: u64) -> u64 {
    let s = rng.gen_range(min..=max);
    if remaining < s + min {
        remaining
    } else {
        s
    }
}

fn write_dumps(w: &mut Writer, seed: u64, budget: u64, st: &mut CategoryStats) -> io::Result<()> {
    let mut rng = stream(seed, "dumps");
    let count = (budget / (128 << 20)).clamp(2, 6);
    for i in 0..count {
        // Monthly archives, newest last: the 1st of each of the `count` months before now.
        let (y, m, _) = civil_from_days(base_day());
        let month = y * 12 + i64::from(m) - 1 - (count - i) as i64;
        let day = days_from_civil(month.div_euclid(12), month.rem_euclid(12) as u32 + 1, 1);
        let rel = format!("ehr/dump/ehr_{}.sql", ascii(|b| push_yyyymmdd(b, day)));
        let size = budget / count + if i == 0 { budget % count } else { 0 };
        let path = w.prepare(&rel)?;
        let written = dump::write_dump(&path, &mut rng, day, size)?;
        set_times(
            &path,
            day * 86_400 + 2 * 3600 + rng.gen_range(0..1800),
            rng.gen_range(0..1_000_000_000),
        )?;
        st.add(written);
    }
    Ok(())
}

/// Sequential-looking patient IDs (10 digits, gaps of 1–20), as hospitals assign them:
/// the `PID[0..3]/PID[3..6]` folders then cluster the way real storages do.
pub(crate) fn next_patient_id(rng: &mut TkRng, last: &mut u64) -> String {
    *last += rng.gen_range(1..=20);
    format!("{:010}", *last)
}

fn write_hl7(w: &mut Writer, seed: u64, budget: u64, st: &mut CategoryStats) -> io::Result<()> {
    let mut rng = stream(seed, "hl7");
    let mut last_id = rng.gen_range(1_000_000..2_000_000);
    while st.bytes < budget {
        let id = next_patient_id(&mut rng, &mut last_id);
        let patient = Patient::random(&mut rng, id, base_day());
        for f in hl7::patient_files(&mut rng, &patient, base_day()) {
            if st.bytes >= budget {
                break;
            }
            let rel = format!("ssmix2/standard_root/{}", f.rel_path);
            w.write(&rel, &f.bytes, f.secs, f.millis * 1_000_000)?;
            st.add(f.bytes.len() as u64);
        }
    }
    Ok(())
}

fn write_images(w: &mut Writer, seed: u64, budget: u64, st: &mut CategoryStats) -> io::Result<()> {
    let mut rng = stream(seed, "images");
    let mut remaining = budget;
    let mut study = 0u32;
    while remaining >= 1024 {
        study += 1;
        let study_uid = format!("1.2.392.200036.9116.2.{}.{study}", seed % 1_000_000);
        let patient = format!("{:010}", rng.gen_range(1_000_000..2_000_000u64));
        let secs =
            (base_day() - rng.gen_range(1..365)) * 86_400 + rng.gen_range(8 * 3600..20 * 3600);
        for n in 1..=rng.gen_range(3..=20) {
            if remaining < 1024 {
                break;
            }
            let size = next_size(&mut rng, remaining, 1 << 20, 3 << 20);
            let bytes = blobs::dicom(&mut rng, size as usize, &patient, &study_uid);
            let rel = format!("pacs/{study_uid}/{n}.dcm");
            w.write(
                &rel,
                &bytes,
                secs + i64::from(n),
                rng.gen_range(0..1_000_000_000),
            )?;
            remaining = remaining.saturating_sub(bytes.len() as u64);
            st.add(bytes.len() as u64);
        }
    }
    Ok(())
}

fn write_scans(w: &mut Writer, seed: u64, budget: u64, st: &mut CategoryStats) -> io::Result<()> {
    let mut rng = stream(seed, "scans");
    let mut remaining = budget;
    let mut id = rng.gen_range(10_000_000..20_000_000u64);
    while remaining >= 1024 {
        id += rng.gen_range(1..50);
        let day = base_day() - rng.gen_range(1..3 * 365);
        let (y, m, _) = civil_from_days(day);
        let size = next_size(&mut rng, remaining, 100 << 10, 500 << 10);
        let bytes = blobs::pdf(&mut rng, size as usize);
        let rel = format!("scan/{y:04}/{m:02}/SCN{id}.pdf");
        let secs = day * 86_400 + rng.gen_range(9 * 3600..18 * 3600);
        w.write(&rel, &bytes, secs, rng.gen_range(0..1_000_000_000))?;
        remaining = remaining.saturating_sub(bytes.len() as u64);
        st.add(bytes.len() as u64);
    }
    Ok(())
}

/// Gives every directory below `root` (and `root` itself) the same fixed mtime, children
/// first: creating entries bumps a directory's mtime, so this must run last.
pub(crate) fn set_dir_times(root: &Path) -> io::Result<()> {
    fn visit(dir: &Path, secs: i64) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                visit(&entry.path(), secs)?;
            }
        }
        set_times(dir, secs, 0)
    }
    visit(root, base_day() * 86_400 + 3 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_size_absorbs_small_remainders() {
        let mut rng = stream(1, "t");
        for _ in 0..100 {
            let s = next_size(&mut rng, 10_000_000, 1000, 3000);
            assert!((1000..=3000).contains(&s));
        }
        assert_eq!(next_size(&mut rng, 3500, 1000, 3000), 3500);
        assert_eq!(next_size(&mut rng, 500, 1000, 3000), 500);
    }

    #[test]
    fn patient_ids_are_increasing_ten_digit_strings() {
        let mut rng = stream(1, "t");
        let mut last = 1_500_000;
        let a = next_patient_id(&mut rng, &mut last);
        let b = next_patient_id(&mut rng, &mut last);
        assert_eq!(a.len(), 10);
        assert!(b > a);
    }

    #[test]
    fn shares_sum_to_one() {
        let sum = DUMP_SHARE + HL7_SHARE + IMAGE_SHARE + SCAN_SHARE;
        assert!((sum - 1.0).abs() < 1e-9);
    }
}
