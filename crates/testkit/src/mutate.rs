//! "The next day" of a generated dataset: a deterministic set of changes for incremental
//! backup benchmarks.
//!
//! About `fraction` of the dataset's bytes change, split as:
//! * 60% — edits IN THE MIDDLE of the SQL dumps: at 3 or more places per dump (between 10%
//!   and 90% of the file, on line boundaries) either new rows are inserted or a run of rows
//!   is replaced by new rows of about the same length. Each edit is 4 KiB–512 KiB. Inserting
//!   shifts everything after it, which is exactly what content-defined chunking must absorb;
//! * 15% — SS-MIX2 files: half changed (two thirds rewritten in place, one third updated
//!   the SS-MIX2 way: old `…_1` renamed to `…_2`, new `…_1` written), half new files;
//! * 25% — new DICOM-like images in a new study folder;
//! * plus a few deleted HL7 files (about 1 per 2,000, at least one).
//!
//! A category missing from the tree passes its share to the next one, so any directory can
//! be mutated (e.g. only `pacs/`). Rewritten files get mtimes on the "next day"
//! (2026-04-02), still derived from the seed only.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::Rng;

use crate::blobs;
use crate::dataset::{next_size, Writer};
use crate::dump::{self, DumpState};
use crate::hl7::{self, MessageKey, Patient};
use crate::util::{base_day, set_times, stream, TkRng};
use crate::walk::{walk, FileKind};

/// What [`mutate_dataset`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MutationStats {
    /// Bytes overwritten in existing files (replaced dump rows, rewritten HL7 files).
    pub bytes_changed: u64,
    /// Bytes inserted into existing files plus the bytes of new files.
    pub bytes_added: u64,
    /// Bytes of deleted files.
    pub bytes_removed: u64,
    /// Existing files whose content changed.
    pub files_changed: u64,
    /// Files created.
    pub files_new: u64,
    /// Files deleted.
    pub files_deleted: u64,
    /// Files renamed without content change (SS-MIX2 `_1` → `_2` when a record is updated;
    /// each comes with one new `_1` file counted in `files_new`).
    pub files_renamed: u64,
}

impl MutationStats {
    /// Changed plus added bytes: the "new data" an incremental backup has to store.
    pub fn bytes_touched(&self) -> u64 {
        self.bytes_changed + self.bytes_added
    }
}

/// Files of a tree by dataset category, in canonical walk order.
#[derive(Default)]
struct Inventory {
    total: u64,
    dumps: Vec<(PathBuf, u64)>,
    hl7: Vec<(PathBuf, u64)>,
}

fn inventory(root: &Path) -> io::Result<Inventory> {
    let mut inv = Inventory::default();
    for e in walk(root)?.into_iter().filter(|e| e.kind == FileKind::File) {
        let len = e.meta.len();
        inv.total += len;
        let ext_sql = e.rel.extension().is_some_and(|x| x == "sql");
        if e.rel.starts_with("ehr/dump") && ext_sql {
            inv.dumps.push((e.abs, len));
        } else if e.rel.starts_with("ssmix2/standard_root") && e.rel.components().count() == 8 {
            inv.hl7.push((e.rel, len));
        }
    }
    Ok(inv)
}

/// Changes about `fraction` (0.01 = 1%) of the bytes of the dataset at `root`, as
/// described in the module documentation. `fraction` is clamped to 0..=0.5.
pub fn mutate_dataset(root: &Path, seed: u64, fraction: f64) -> io::Result<MutationStats> {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 0.5)
    } else {
        0.0
    };
    let inv = inventory(root)?;
    let target = (inv.total as f64 * fraction) as u64;
    let mut rng = stream(seed, "mutate");
    let mut stats = MutationStats::default();
    let mut w = Writer::new(root);
    // Directories whose entries change get a fixed next-day mtime at the end, so the result
    // is reproducible without touching the mtimes of unrelated directories.
    let mut touched = BTreeSet::new();
    let mut carry = 0;
    if inv.dumps.is_empty() {
        carry += target * 60 / 100;
    } else {
        edit_dumps(&inv.dumps, &mut rng, target * 60 / 100, &mut stats)?;
        touched.extend(
            inv.dumps
                .iter()
                .filter_map(|d| d.0.parent().map(Path::to_path_buf)),
        );
    }
    if inv.hl7.is_empty() {
        carry += target * 15 / 100;
    } else {
        change_hl7(
            &mut w,
            &inv.hl7,
            &mut rng,
            target * 15 / 100,
            &mut stats,
            &mut touched,
        )?;
    }
    add_images(
        &mut w,
        seed,
        &mut rng,
        target * 25 / 100 + carry,
        &mut stats,
        &mut touched,
    )?;
    for d in &w.created {
        touched.insert(d.clone());
        touched.extend(d.parent().map(Path::to_path_buf));
    }
    for d in &touched {
        set_times(d, (base_day() + 1) * 86_400 + 3 * 3600, 0)?;
    }
    Ok(stats)
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Spreads `budget` over the dumps in proportion to their sizes.
fn edit_dumps(
    dumps: &[(PathBuf, u64)],
    rng: &mut TkRng,
    budget: u64,
    st: &mut MutationStats,
) -> io::Result<()> {
    let total: u64 = dumps.iter().map(|d| d.1).sum::<u64>().max(1);
    for (path, len) in dumps {
        let share = (budget as f64 * *len as f64 / total as f64) as u64;
        if share > 0 {
            edit_one_dump(path, rng, share, st)?;
        }
    }
    Ok(())
}

/// One planned edit: at `at`, remove `remove` bytes and write `insert`.
struct Edit {
    at: u64,
    remove: u64,
    insert: Vec<u8>,
}

fn edit_one_dump(
    path: &Path,
    rng: &mut TkRng,
    budget: u64,
    st: &mut MutationStats,
) -> io::Result<()> {
    const MIN_EDIT: u64 = 4 << 10;
    const MAX_EDIT: u64 = 512 << 10;
    let count = (budget / MAX_EDIT + 1).max(3);
    let size = (budget / count).clamp(MIN_EDIT, MAX_EDIT);
    // The whole dump is held in memory (~1/6 of the dataset's dump share, 150 MiB at the
    // 2 GiB default); offsets come from the bytes read, not from the earlier directory scan.
    let data = fs::read(path)?;
    let len = data.len() as u64;
    let mut state = DumpState::new(rng, base_day() + 1);
    let mut edits = Vec::new();
    for _ in 0..count {
        let lo = len / 10;
        let hi = (len * 9 / 10).max(lo + 1);
        let at = line_start(&data, rng.gen_range(lo..hi) as usize) as u64;
        let mut insert = Vec::with_capacity(size as usize + 4096);
        dump::push_sections(&mut insert, rng, &mut state, size as usize);
        let remove = if rng.gen_bool(0.5) {
            let end =
                line_start(&data, (at + insert.len() as u64).min(len * 9 / 10) as usize) as u64;
            end.saturating_sub(at)
        } else {
            0
        };
        edits.push(Edit { at, remove, insert });
    }
    edits.sort_by_key(|e| e.at);
    // Drop edits overlapping the range removed by the previous one.
    let mut kept: Vec<Edit> = Vec::new();
    for e in edits {
        if kept.last().is_none_or(|p| e.at >= p.at + p.remove) {
            kept.push(e);
        }
    }
    for e in &kept {
        let replaced = e.remove.min(e.insert.len() as u64);
        st.bytes_changed += replaced;
        st.bytes_added += e.insert.len() as u64 - replaced;
    }
    st.files_changed += 1;
    rewrite(path, &data, &kept)?;
    let secs = (base_day() + 1) * 86_400 + 2 * 3600 + rng.gen_range(0..1800);
    set_times(path, secs, rng.gen_range(0..1_000_000_000))
}

/// The offset of the first line starting at or after `pos` (or the end of `data`).
fn line_start(data: &[u8], pos: usize) -> usize {
    let pos = pos.min(data.len());
    if pos == 0 || data.get(pos - 1) == Some(&b'\n') {
        return pos;
    }
    data[pos..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(data.len(), |i| pos + i + 1)
}

/// Writes `data` with `edits` applied to a temporary file beside `path`, then renames it
/// over `path`, so a crash never leaves a half-written dump.
fn rewrite(path: &Path, data: &[u8], edits: &[Edit]) -> io::Result<()> {
    let tmp = path.with_extension("sql.kura-mutate.tmp");
    let result = (|| {
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        let mut pos = 0usize;
        for e in edits {
            out.write_all(&data[pos..e.at as usize])?;
            out.write_all(&e.insert)?;
            pos = (e.at + e.remove) as usize;
        }
        out.write_all(&data[pos..])?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    match result {
        Ok(()) => fs::rename(&tmp, path),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Rewrites, supersedes, adds and deletes SS-MIX2 files; `files` are relative to the root.
fn change_hl7(
    w: &mut Writer,
    files: &[(PathBuf, u64)],
    rng: &mut TkRng,
    budget: u64,
    st: &mut MutationStats,
    touched: &mut BTreeSet<PathBuf>,
) -> io::Result<()> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.shuffle(rng);
    let mut picks = order.into_iter();
    let mut spent = 0;
    while spent < budget / 2 {
        let Some(i) = picks.next() else { break };
        // A third of the changes follow the SS-MIX2 update rule (rename `_1` to `_2`, write
        // a new `_1`), so the same bytes appear under a new name, as in real storages.
        spent += match rng.gen_bool(1.0 / 3.0) {
            true => supersede(w, &files[i].0, rng, st, touched)?,
            false => rewrite_in_place(w.root, &files[i], rng, st)?,
        };
    }
    for _ in 0..(files.len() / 2000).max(1) {
        let Some(i) = picks.next() else { break };
        let path = w.root.join(&files[i].0);
        fs::remove_file(&path)?;
        touched.insert(parent_of(&path));
        st.bytes_removed += files[i].1;
        st.files_deleted += 1;
    }
    while spent < budget {
        let Some(i) = picks.next() else { break };
        let patient = patient_of(rng, &files[i].0);
        let key = next_day_key(rng, &files[i].0, base_day() + 1);
        let f = hl7::message_file(rng, &patient, key, base_day() + 1);
        let rel = format!("ssmix2/standard_root/{}", f.rel_path);
        if w.root.join(&rel).exists() {
            continue; // same key and millisecond: keep the existing file untouched
        }
        w.write(&rel, &f.bytes, f.secs, f.millis * 1_000_000)?;
        touched.insert(parent_of(&w.root.join(&rel)));
        st.bytes_added += f.bytes.len() as u64;
        st.files_new += 1;
        spent += f.bytes.len() as u64;
    }
    Ok(())
}

/// Replaces the content of an existing file (same path, new bytes, next-day mtime).
fn rewrite_in_place(
    root: &Path,
    file: &(PathBuf, u64),
    rng: &mut TkRng,
    st: &mut MutationStats,
) -> io::Result<u64> {
    let (rel, old_len) = file;
    let patient = patient_of(rng, rel);
    let key = next_day_key(rng, rel, base_day() + 1);
    let f = hl7::message_file(rng, &patient, key, base_day() + 1);
    let path = root.join(rel);
    fs::write(&path, &f.bytes)?;
    set_times(&path, f.secs, f.millis * 1_000_000)?;
    let new_len = f.bytes.len() as u64;
    st.bytes_changed += new_len.min(*old_len);
    st.bytes_added += new_len.saturating_sub(*old_len);
    st.files_changed += 1;
    Ok(new_len)
}

/// SS-MIX2 update: renames `…_1` to `…_2` and writes the new version as `…_<now>_<dept>_1`.
/// Does nothing and returns 0 for names not in the 7-field `…_1` form or when a target
/// name already exists.
fn supersede(
    w: &mut Writer,
    rel: &Path,
    rng: &mut TkRng,
    st: &mut MutationStats,
    touched: &mut BTreeSet<PathBuf>,
) -> io::Result<u64> {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fields: Vec<&str> = name.split('_').collect();
    if fields.len() != 7 || fields[6] != "1" {
        return Ok(0);
    }
    let old = w.root.join(rel);
    let superseded = old.with_file_name(format!("{}_2", fields[..6].join("_")));
    if superseded.exists() {
        return Ok(0);
    }
    let patient = patient_of(rng, rel);
    let key = next_day_key(rng, rel, base_day() + 1);
    let f = hl7::message_file(rng, &patient, key, base_day() + 1);
    let ts = f
        .rel_path
        .rsplit('_')
        .nth(2)
        .unwrap_or(fields[4])
        .to_string();
    let new_name = format!(
        "{}_{}_{}_{}_{ts}_{}_1",
        fields[0], fields[1], fields[2], fields[3], fields[5]
    );
    let new_path = old.with_file_name(new_name);
    if new_path.exists() {
        return Ok(0);
    }
    fs::rename(&old, &superseded)?;
    fs::write(&new_path, &f.bytes)?;
    set_times(&new_path, f.secs, f.millis * 1_000_000)?;
    touched.insert(parent_of(&old));
    st.files_renamed += 1;
    st.files_new += 1;
    st.bytes_added += f.bytes.len() as u64;
    Ok(f.bytes.len() as u64)
}

/// A message key of the same data type as `rel`, on `day` unless the type is undated.
fn next_day_key(rng: &mut TkRng, rel: &Path, day: i64) -> MessageKey {
    let data_type = data_type_of(rel);
    let day = (!hl7::is_undated(data_type)).then_some(day);
    MessageKey {
        data_type,
        day,
        order_no: rng.gen_range(1..1_000_000_000_000),
        flag: 1,
    }
}

/// A patient with the identifier taken from the file's folder (demographics are made up).
fn patient_of(rng: &mut TkRng, rel: &Path) -> Patient {
    let id = rel
        .components()
        .nth(4)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_else(|| "0000000000".to_string());
    Patient::random(rng, id, base_day())
}

/// The data type from the file's folder, mapped onto the generator's static names.
fn data_type_of(rel: &Path) -> &'static str {
    let folder = rel
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    hl7::KNOWN_TYPES
        .iter()
        .copied()
        .find(|t| Some(*t) == folder.as_deref())
        .unwrap_or("OMP-01")
}

fn add_images(
    w: &mut Writer,
    seed: u64,
    rng: &mut TkRng,
    budget: u64,
    st: &mut MutationStats,
    touched: &mut BTreeSet<PathBuf>,
) -> io::Result<()> {
    let study_uid = format!(
        "1.2.392.200036.9116.2.{}.{}",
        seed % 1_000_000,
        rng.gen_range(1_000_000..2_000_000)
    );
    let secs = (base_day() + 1) * 86_400 + rng.gen_range(8 * 3600..20 * 3600);
    let mut remaining = budget;
    let mut n = 0;
    while remaining >= 64 << 10 {
        n += 1;
        let size = next_size(rng, remaining, 1 << 20, 3 << 20);
        let bytes = blobs::dicom(rng, size as usize, "0001000000", &study_uid);
        let rel = format!("pacs/{study_uid}/{n}.dcm");
        w.write(&rel, &bytes, secs + n, rng.gen_range(0..1_000_000_000))?;
        touched.insert(parent_of(&w.root.join(&rel)));
        remaining = remaining.saturating_sub(bytes.len() as u64);
        st.bytes_added += bytes.len() as u64;
        st.files_new += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_start_snaps_forward_to_the_next_line() {
        let d = b"ab\ncd\nef";
        assert_eq!(line_start(d, 0), 0);
        assert_eq!(line_start(d, 1), 3);
        assert_eq!(line_start(d, 3), 3);
        assert_eq!(line_start(d, 4), 6);
        assert_eq!(line_start(d, 7), 8);
        assert_eq!(line_start(d, 100), 8);
    }

    #[test]
    fn rewrite_applies_inserts_and_replacements_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.sql");
        let data = b"l1\nl2\nl3\nl4\n";
        fs::write(&p, data).expect("write");
        let edits = [
            Edit {
                at: 3,
                remove: 0,
                insert: b"new\n".to_vec(),
            },
            Edit {
                at: 6,
                remove: 3,
                insert: b"rep\n".to_vec(),
            },
        ];
        rewrite(&p, data, &edits).expect("rewrite");
        assert_eq!(fs::read(&p).expect("read"), b"l1\nnew\nl2\nrep\nl4\n");
        assert!(!p.with_extension("sql.kura-mutate.tmp").exists());
    }

    #[test]
    fn data_type_comes_from_the_folder() {
        let rel = Path::new("ssmix2/standard_root/000/123/0001234567/20260101/OML-11/f");
        assert_eq!(data_type_of(rel), "OML-11");
        assert_eq!(data_type_of(Path::new("x/UNKNOWN/f")), "OMP-01");
    }
}
