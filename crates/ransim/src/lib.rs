//! A seeded, deterministic ransomware simulator — and the benign heavy changes that must
//! not be mistaken for it — operating on a directory tree, for testing Kura's detection.
//!
//! Every [`Behaviour`] is applied with [`Behaviour::apply`]`(root, share, seed)` and returns
//! a [`Report`] of the paths it touched, created, deleted and renamed. The same seed on the
//! same tree gives the same bytes. Encryption XORs a ChaCha20 keystream derived from the
//! seed, so ciphertext is indistinguishable from random, as real ransomware's is.
//!
//! Attacks: whole-file encryption in place; encryption with renaming (`.locked`,
//! `.encrypted`, random extensions); intermittent encryption (every other 64 KiB block, or
//! only the first N KiB); ransom notes in every affected folder; copy-encrypt-delete
//! (encrypted copies written as new files, originals deleted); and a slow attack spread
//! over several steps ([`slow_attack_step`]).
//!
//! Benign heavy changes: a database dump rewritten entirely; thousands of new JPEG and
//! DICOM images; a software update rewriting binaries; a folder tree reorganised by
//! renames; compressed archives replaced by new ones; and an ordinary day's changes.
//!
//! [`generate_clinical_tree`] writes a small mixed clinical tree to work on, and
//! [`observe`] turns two states of a tree into the [`kura_anomaly::GenerationObservation`]
//! a backup would produce, so tests can run detection end to end without a repository.
//!
//! ```
//! use kura_ransim::{generate_clinical_tree, list_files, observe, Behaviour};
//! use kura_anomaly::{analyze, SourceHistory, Thresholds, VerdictKind};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let written = generate_clinical_tree(dir.path(), 60, 1).unwrap();
//! assert_eq!(written, list_files(dir.path()).unwrap());
//! let before = observe::capture(dir.path()).unwrap();
//! let report = Behaviour::EncryptInPlace.apply(dir.path(), 0.2, 7).unwrap();
//! assert_eq!(report.touched.len(), (written.len() as f64 * 0.2).ceil() as usize);
//! let after = observe::capture(dir.path()).unwrap();
//! let a = analyze(&after.observe_since(&before), &SourceHistory::default(), &Thresholds::default());
//! assert_eq!(a.verdict.verdict, VerdictKind::Suspicious);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attacks;
mod benign;
pub mod formats;
pub mod observe;
mod tree;

use std::io;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub use attacks::slow_attack_step;
pub use tree::generate_clinical_tree;

/// What a behaviour did, as paths relative to the root (`/`-separated, sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Name of the behaviour.
    pub behaviour: String,
    /// Existing files whose content was changed (by their path before any rename).
    pub touched: Vec<String>,
    /// Files created.
    pub created: Vec<String>,
    /// Files deleted.
    pub deleted: Vec<String>,
    /// Renames, (from, to).
    pub renamed: Vec<(String, String)>,
}

/// Extension given to encrypted files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suffix {
    /// `.locked`
    Locked,
    /// `.encrypted`
    Encrypted,
    /// A random 6-letter extension per file.
    Random,
}

/// How copy-encrypt-delete names its copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// Original name plus a suffix (`a.pdf.locked`).
    Appended(Suffix),
    /// A random name in the same folder (`Xk29aQpL7w.crypt`).
    RandomName,
}

/// One simulated behaviour. `share` is the fraction of the tree's files an attack
/// touches; for benign behaviours see each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Whole-file encryption, same name.
    EncryptInPlace,
    /// Whole-file encryption, then renamed with a suffix (same inode).
    EncryptRename(Suffix),
    /// Every other 64 KiB block encrypted, starting with the first.
    IntermittentBlocks,
    /// Only the first `kib` KiB of each file encrypted.
    HeadOnly {
        /// KiB encrypted at the head.
        kib: usize,
    },
    /// A ransom note in the folder of each selected file.
    RansomNotes,
    /// Encrypted copy written as a new file, original deleted.
    CopyEncryptDelete(Naming),
    /// Benign: every `*.dump` rewritten entirely with a new dump (share ignored).
    DumpRewrite,
    /// Benign: `share` x (files in the tree) new JPEG and DICOM images.
    NewImages,
    /// Benign: `share` of the binaries under `app/` rewritten, headers kept.
    SoftwareUpdate,
    /// Benign: `share` of the second-level folders moved one level down by renames.
    Reorganise,
    /// Benign: `share` of the archives replaced by new archives (some under new names).
    ArchiveReplace,
    /// Benign: an ordinary day, `share` x files new HL7/PDF files, a memo edited, the dump
    /// rewritten.
    RoutineDay,
}

impl Behaviour {
    /// Every attack, with the variants the tests use.
    pub const ATTACKS: [Behaviour; 9] = [
        Behaviour::EncryptInPlace,
        Behaviour::EncryptRename(Suffix::Locked),
        Behaviour::EncryptRename(Suffix::Encrypted),
        Behaviour::EncryptRename(Suffix::Random),
        Behaviour::IntermittentBlocks,
        Behaviour::HeadOnly { kib: 16 },
        Behaviour::RansomNotes,
        Behaviour::CopyEncryptDelete(Naming::Appended(Suffix::Locked)),
        Behaviour::CopyEncryptDelete(Naming::RandomName),
    ];

    /// Every benign heavy change.
    pub const BENIGN: [Behaviour; 6] = [
        Behaviour::DumpRewrite,
        Behaviour::NewImages,
        Behaviour::SoftwareUpdate,
        Behaviour::Reorganise,
        Behaviour::ArchiveReplace,
        Behaviour::RoutineDay,
    ];

    /// Whether this is an attack (must be detected) or benign (must not be).
    pub fn is_attack(&self) -> bool {
        Self::ATTACKS.contains(self)
    }

    /// A short name for reports.
    pub fn name(&self) -> String {
        format!("{self:?}")
    }

    /// Applies the behaviour to the tree under `root`.
    pub fn apply(&self, root: &Path, share: f64, seed: u64) -> io::Result<Report> {
        let mut report = match *self {
            Behaviour::EncryptInPlace => attacks::encrypt_in_place(root, share, seed),
            Behaviour::EncryptRename(s) => attacks::encrypt_rename(root, share, seed, s),
            Behaviour::IntermittentBlocks => attacks::intermittent(root, share, seed, None),
            Behaviour::HeadOnly { kib } => attacks::intermittent(root, share, seed, Some(kib)),
            Behaviour::RansomNotes => attacks::ransom_notes(root, share, seed),
            Behaviour::CopyEncryptDelete(n) => attacks::copy_encrypt_delete(root, share, seed, n),
            Behaviour::DumpRewrite => benign::dump_rewrite(root, seed),
            Behaviour::NewImages => benign::new_images(root, share, seed),
            Behaviour::SoftwareUpdate => benign::software_update(root, share, seed),
            Behaviour::Reorganise => benign::reorganise(root, share, seed),
            Behaviour::ArchiveReplace => benign::archive_replace(root, share, seed),
            Behaviour::RoutineDay => benign::routine_day(root, share, seed),
        }?;
        report.behaviour = self.name();
        report.touched.sort();
        report.created.sort();
        report.deleted.sort();
        report.renamed.sort();
        Ok(report)
    }
}

/// A ChaCha20 generator for one purpose of one seed: different labels give independent
/// streams, so adding a use of randomness never shifts another's.
pub(crate) fn rng_for(seed: u64, label: &str) -> ChaCha20Rng {
    let mut h = blake3::Hasher::new();
    h.update(label.as_bytes());
    h.update(&seed.to_le_bytes());
    ChaCha20Rng::from_seed(*h.finalize().as_bytes())
}

/// Writes `data` to `root/rel`, creating parent folders.
pub(crate) fn write_file(root: &Path, rel: &str, data: &[u8]) -> io::Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, data)
}

/// Every regular file under `root`, relative, `/`-separated, sorted.
pub fn list_files(root: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                let rel = entry.path();
                let rel = rel.strip_prefix(root).map_err(io::Error::other)?;
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `ceil(share x n)` of `files` (at least one when share > 0), chosen by `rng`, sorted.
pub(crate) fn select(files: &[String], share: f64, rng: &mut ChaCha20Rng) -> Vec<String> {
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let n = ((files.len() as f64) * share).ceil() as usize;
    let mut chosen: Vec<String> = files
        .choose_multiple(rng, n.min(files.len()))
        .cloned()
        .collect();
    chosen.sort();
    chosen
}

/// XORs `data` with the next bytes of the keystream.
pub(crate) fn xor_keystream(data: &mut [u8], rng: &mut ChaCha20Rng) {
    let mut ks = vec![0u8; data.len()];
    rand::RngCore::fill_bytes(rng, &mut ks);
    for (d, k) in data.iter_mut().zip(ks) {
        *d ^= k;
    }
}
