//! Writing restored files' content on several threads, large files in parallel ranges.
//!
//! The 2 GiB benchmark set holds six dumps of 100–300 MB: restored file by file, the last dump kept
//! one core busy alone for most of the run. Here every file is cut into **pieces** of whole chunks,
//! about [`PIECE_BYTES`] of content each (a small file is one piece), and the pieces are the units
//! of work. A piece reads its chunks (adjacent chunks of one pack in a single read), verifies each
//! one, and writes it at its offset with `pwrite` (`FileExt::write_at`), so pieces of one file are
//! written by several threads at once without seeking or locking.
//!
//! Each file has a small shared state: the first piece to run creates the file (`O_EXCL`,
//! `O_NOFOLLOW`, never through a symlink) and sets its length, and the **last piece to finish**
//! closes it: it applies owner, mode and times through the handle (after every write, so the
//! mtime sticks) or, if any piece failed, removes the file and reports it, so a restore never
//! leaves a file with wrong or missing bytes. Pieces are queued in the order of each file's first
//! chunk in the packs (packs are read front to back) and a file's pieces stay together in the
//! queue, so only about one file per thread is open at any time.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kura_format::BlobId;
use kura_repo::{BlobLocation, Repository};
use kura_store::FileKind;

use crate::progress::Progress;
use crate::restore::{clear_path, Item, Restorer};

/// Content per piece of a large file: large enough that a piece costs a few reads and writes,
/// small enough that a 100 MB dump becomes a dozen pieces for the threads to share.
pub(crate) const PIECE_BYTES: u64 = 8 << 20;

/// Largest single read of adjacent chunks (one pack range).
const MAX_READ: u64 = 8 << 20;

/// A run of one file's chunks, written at `offset`.
struct Piece {
    file: usize,
    chunks: std::ops::Range<usize>,
    offset: u64,
}

/// One file being restored: its handle (created by the first piece that runs), the first
/// error of any piece, and how many pieces are still to finish.
struct FileState {
    item: usize,
    slot: Mutex<Slot>,
    remaining: AtomicUsize,
    written: AtomicU64,
}

#[derive(Default)]
struct Slot {
    file: Option<Arc<File>>,
    error: Option<String>,
    opened: bool,
}

/// Cut the files into pieces and order them: by the position of each file's first chunk in the
/// packs, a file's pieces together and in order.
fn plan_pieces(repo: &Repository, items: &[Item], files: &[usize]) -> (Vec<FileState>, Vec<Piece>) {
    let index = repo.index();
    let mut keyed: Vec<((u32, u32), usize)> = Vec::with_capacity(files.len());
    let mut states = Vec::with_capacity(files.len());
    let mut pieces = Vec::with_capacity(files.len());
    for (f, &i) in files.iter().enumerate() {
        let content = &items[i].node.content;
        let key = content
            .first()
            .and_then(|id| index.get(id))
            .map_or((u32::MAX, 0), |(_, loc)| (loc.pack, loc.offset));
        let first_piece = pieces.len();
        let (mut start, mut offset, mut piece_offset, mut acc) = (0usize, 0u64, 0u64, 0u64);
        for (k, id) in content.iter().enumerate() {
            // A chunk missing from the index counts as empty here; reading it fails later and
            // the file is removed and reported.
            let len = index.get(id).map_or(0, |(_, loc)| loc.raw_len as u64);
            acc += len;
            offset += len;
            if acc >= PIECE_BYTES && k + 1 < content.len() {
                pieces.push(Piece {
                    file: f,
                    chunks: start..k + 1,
                    offset: piece_offset,
                });
                (start, piece_offset, acc) = (k + 1, offset, 0);
            }
        }
        pieces.push(Piece {
            file: f,
            chunks: start..content.len(),
            offset: piece_offset,
        });
        states.push(FileState {
            item: i,
            slot: Mutex::new(Slot::default()),
            remaining: AtomicUsize::new(pieces.len() - first_piece),
            written: AtomicU64::new(0),
        });
        keyed.push((key, f));
    }
    drop(index);
    // Stable: equal keys (empty files, shared first chunks) keep their order.
    keyed.sort_by_key(|&(key, _)| key);
    let mut rank = vec![0usize; files.len()];
    for (r, &(_, f)) in keyed.iter().enumerate() {
        rank[f] = r;
    }
    // Pieces were pushed file by file in order, so a stable sort by the file's rank keeps each
    // file's pieces together and in order.
    pieces.sort_by_key(|p| rank[p.file]);
    (states, pieces)
}

/// Restore the content of `files` (indices into `items`) on `threads` threads. Returns the
/// number of files and bytes restored; failures are reported through the restorer.
pub(crate) fn restore_files(
    r: &Restorer,
    items: &[Item],
    files: &[usize],
    threads: usize,
) -> (u64, u64) {
    let (states, pieces) = plan_pieces(r.repo, items, files);
    let next = AtomicUsize::new(0);
    let totals = Mutex::new((0u64, 0u64));
    let threads = if threads == 0 {
        num_cpus::get().max(1)
    } else {
        threads
    };
    std::thread::scope(|s| {
        for _ in 0..threads.min(pieces.len().max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(piece) = pieces.get(k) else { break };
                let st = &states[piece.file];
                let item = &items[st.item];
                if piece.chunks.start == 0 {
                    r.progress.set_current(&item.path.display().to_string());
                }
                run_piece(r, item, st, piece);
                if st.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(n) = finish_file(r, item, st) {
                        let mut t = totals.lock().unwrap_or_else(|p| p.into_inner());
                        t.0 += 1;
                        t.1 += n;
                    }
                    Progress::add(&r.progress.files_done, 1);
                }
            });
        }
    });
    totals.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// Write one piece; a failure is recorded in the file's slot (the first one wins).
fn run_piece(r: &Restorer, item: &Item, st: &FileState, piece: &Piece) {
    let file = {
        let mut slot = st.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.error.is_some() {
            return;
        }
        if !slot.opened {
            slot.opened = true;
            match create_file(
                r,
                &item.path,
                item.node.size,
                piece.chunks.len() < item.node.content.len(),
            ) {
                Ok(f) => slot.file = Some(Arc::new(f)),
                Err(e) => {
                    slot.error = Some(e);
                    return;
                }
            }
        }
        match &slot.file {
            Some(f) => f.clone(),
            None => return,
        }
    };
    let content = &item.node.content[piece.chunks.clone()];
    match write_chunks(r, &file, content, piece.offset) {
        Ok(n) => {
            st.written.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            let mut slot = st.slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.error.get_or_insert(e);
        }
    }
}

/// Create the file for writing. A file restored in several pieces gets its final length first,
/// so that pieces written out of order never extend it piecemeal.
fn create_file(r: &Restorer, path: &Path, size: u64, pieces: bool) -> Result<File, String> {
    if r.overwrite {
        clear_path(path, false).map_err(|e| e.to_string())?;
    }
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)
        .map_err(|e| e.to_string())?;
    if pieces {
        if let Err(e) = f.set_len(size) {
            drop(f);
            let _ = fs::remove_file(path);
            return Err(format!("cannot set its length: {e}"));
        }
    }
    Ok(f)
}

/// Read, verify and write `content` starting at `offset`. Adjacent chunks of one pack are read
/// with one range read. Returns the bytes written.
fn write_chunks(r: &Restorer, file: &File, content: &[BlobId], start: u64) -> Result<u64, String> {
    let mut offset = start;
    let damaged =
        |e: &dyn std::fmt::Display| format!("not restored, its data is damaged or missing: {e}");
    let mut k = 0;
    while k < content.len() {
        let run = locate_run(r.repo, &content[k..]).map_err(|e| damaged(&e))?;
        let (pack, first) = (&run[0].1, run[0].2);
        let last = run[run.len() - 1].2;
        let span = (last.offset + last.length - first.offset) as u64;
        let bytes =
            r.repo
                .backend()
                .read_range(FileKind::Pack, &pack.to_hex(), first.offset as u64, span);
        for (id, pack, loc) in &run {
            let at = (loc.offset - first.offset) as usize;
            let sealed = bytes
                .as_ref()
                .ok()
                .and_then(|b| b.get(at..at + loc.length as usize));
            let plain = match sealed.map(|sealed| r.repo.open_blob(id, pack, loc, sealed)) {
                Some(Ok(plain)) => plain,
                // This copy is unreadable or damaged. `read_blob` tries every copy the index
                // knows (between a repack and the prune that deletes the old pack a blob has
                // two) and reports the first copy's error if none is good.
                _ => r.repo.read_blob(id).map_err(|e| damaged(&e))?,
            };
            file.write_all_at(&plain, offset)
                .map_err(|e| e.to_string())?;
            offset += plain.len() as u64;
            Progress::add(&r.progress.bytes_done, plain.len() as u64);
        }
        k += run.len();
    }
    Ok(offset - start)
}

type Located = (BlobId, kura_format::FileId, BlobLocation);

/// The longest prefix of `content` (at least one chunk) whose chunks lie back to back in one
/// pack, up to [`MAX_READ`] bytes.
fn locate_run(repo: &Repository, content: &[BlobId]) -> kura_repo::Result<Vec<Located>> {
    let mut run: Vec<Located> = Vec::new();
    for id in content {
        let (pack, loc) = repo.locate(id)?;
        if let Some((_, p, prev)) = run.last() {
            let adjacent = *p == pack && prev.offset + prev.length == loc.offset;
            let first = run[0].2.offset as u64;
            if !adjacent || (loc.offset + loc.length) as u64 - first > MAX_READ {
                break;
            }
        }
        run.push((*id, pack, loc));
    }
    Ok(run)
}

/// The last piece of a file closes it: metadata through the handle, or removal on failure.
/// Returns the bytes restored, or `None` if the file was not restored.
fn finish_file(r: &Restorer, item: &Item, st: &FileState) -> Option<u64> {
    let mut slot = std::mem::take(&mut *st.slot.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(e) = slot.error {
        // Only a file this restore created is removed: a create that failed (say, the name was
        // taken) leaves whatever was there.
        if slot.file.take().is_some() {
            let _ = fs::remove_file(&item.path);
        }
        r.problem(&item.path, e);
        return None;
    }
    let file = slot.file?;
    // Through the open handle: path-based chown/chmod/utimes each walk the path again, and
    // path lookups were a fifth of restore's CPU (BENCHMARKS.md).
    if let Err(e) = r.apply_file_metadata(&file, &item.node) {
        r.problem(&item.path, format!("metadata: {e}"));
    }
    Some(st.written.load(Ordering::Relaxed))
}
