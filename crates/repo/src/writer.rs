//! Writing blobs: deduplicate, seal, group into packs, write packs, then index them.
//!
//! Many threads call [`BlobWriter::add`] at once. Sealing (compression and encryption) happens in the
//! calling thread without any lock; the lock is held only to append sealed bytes to the open pack.
//! The thread that fills a pack finishes it (header, id) and hands it to the writer's own **pack
//! writer thread**, then goes back to sealing: writing and flushing a 16 MiB pack takes a tenth of
//! a second or more, and on a 2-core machine a worker that did it inline left a core idle meanwhile
//! (BENCHMARKS.md). The hand-over is a rendezvous (a queue of zero): one pack is written while the
//! next fills, and a worker with a full pack waits only while the previous one is still being
//! written. With a queue of one pack, the 2 GiB benchmark's initial backup peaked at 234 MB of RSS
//! (144 MB with packs written inline): every waiting pack is 16 MB. Data and tree blobs go to separate packs so that metadata stays together (cheap to read
//! for `ls`, `diff` and change detection).
//!
//! Ordering (FORMAT.md "Write ordering"): a pack is complete on disk before any index names it, and an
//! index is complete on disk before any snapshot refers to its blobs. A pack enters the list of
//! packs to index only when the writer thread reports it durable; [`BlobWriter::finish`] waits for
//! every queued pack before writing the last index. Index files are also written every
//! [`INDEX_EVERY_PACKS`] packs so that a long backup that is interrupted leaves its data reusable
//! by the next run.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use kura_format::crypto::Compression;
use kura_format::index::{IndexFile, IndexPack};
use kura_format::pack::{BlobKind, PackBuilder, PackEntry};
use kura_format::{BlobId, FileId};
use kura_store::{Backend, FileKind};

use crate::error::Result;
use crate::Repository;

pub const INDEX_EVERY_PACKS: usize = 32;

#[derive(Default)]
struct State {
    data: Option<PackBuilder>,
    tree: Option<PackBuilder>,
    pending: HashSet<BlobId>,
    unindexed: Vec<IndexPack>,
    index_files: Vec<FileId>,
    /// Buffers of packs already written, for the next packs (at most [`SPARE_BUFFERS`]).
    spare: Vec<Vec<u8>>,
}

/// Written packs' buffers kept for reuse: one being filled per kind and one being written is all a
/// backup needs. A fresh 16 MiB buffer per pack, allocated on one thread and freed on another,
/// kept the allocator's arenas growing and cost a page fault per 4 KiB (BENCHMARKS.md).
const SPARE_BUFFERS: usize = 2;

/// What a writer added to the repository.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteStats {
    pub blobs_added: u64,
    pub bytes_added: u64,
    pub raw_bytes_added: u64,
    pub packs_written: u64,
}

/// A finished pack on its way to the backend.
struct PackJob {
    id: FileId,
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
}

/// What the pack writer thread reports for each pack: durable (and may be indexed) or failed.
struct PackDone {
    id: FileId,
    entries: Vec<PackEntry>,
    result: Result<()>,
    /// The pack's bytes, handed back for reuse.
    buffer: Vec<u8>,
}

pub struct BlobWriter<'r> {
    repo: &'r Repository,
    state: Mutex<State>,
    compression: Compression,
    blobs_added: AtomicU64,
    bytes_added: AtomicU64,
    raw_bytes_added: AtomicU64,
    packs_written: AtomicU64,
    /// Queue to the pack writer thread; taken (closed) by `finish` and `drop`.
    queue: Mutex<Option<SyncSender<PackJob>>>,
    done: Mutex<Receiver<PackDone>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The pack writer thread: writes each pack durably (the backend's create syncs it) and reports.
fn spawn_pack_writer(
    backend: Arc<dyn Backend>,
) -> (
    SyncSender<PackJob>,
    Receiver<PackDone>,
    Option<JoinHandle<()>>,
) {
    let (job_tx, job_rx) = sync_channel::<PackJob>(0);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<PackDone>();
    let thread = std::thread::Builder::new()
        .name("kura-pack-writer".into())
        .spawn(move || {
            for job in job_rx {
                let result = match backend.create(FileKind::Pack, &job.id.to_hex(), &job.bytes) {
                    Ok(()) => Ok(()),
                    Err(e) if e.is_already_exists() => Ok(()),
                    Err(e) => Err(e.into()),
                };
                let done = PackDone {
                    id: job.id,
                    entries: job.entries,
                    result,
                    buffer: job.bytes,
                };
                if done_tx.send(done).is_err() {
                    break;
                }
            }
        });
    // Without a thread (the system refused one), packs are written inline: see `write_pack`.
    (job_tx, done_rx, thread.ok())
}

impl<'r> BlobWriter<'r> {
    pub fn new(repo: &'r Repository) -> Self {
        let (queue, done, thread) = spawn_pack_writer(repo.backend().clone());
        BlobWriter {
            repo,
            state: Mutex::new(State::default()),
            compression: Compression {
                level: repo.config().compression_level,
            },
            blobs_added: AtomicU64::new(0),
            bytes_added: AtomicU64::new(0),
            raw_bytes_added: AtomicU64::new(0),
            packs_written: AtomicU64::new(0),
            queue: Mutex::new(thread.is_some().then_some(queue)),
            done: Mutex::new(done),
            thread: Mutex::new(thread),
        }
    }

    /// Store a blob unless the repository (or this writer) already has it. Returns its id and whether
    /// it was new.
    pub fn add(&self, kind: BlobKind, plain: &[u8]) -> Result<(BlobId, bool)> {
        let id = self.repo.key().blob_id(plain);
        let added = self.add_with_id(kind, id, plain)?;
        Ok((id, added))
    }

    /// As [`BlobWriter::add`] with the id already computed by the caller.
    pub fn add_with_id(&self, kind: BlobKind, id: BlobId, plain: &[u8]) -> Result<bool> {
        if self.repo.has_blob(&id) {
            return Ok(false);
        }
        self.add_forced(kind, id, plain)
    }

    /// Store a blob even if the index already has it elsewhere (prune's repacking moves blobs
    /// out of mostly empty packs). Still written once per writer.
    pub fn add_forced(&self, kind: BlobKind, id: BlobId, plain: &[u8]) -> Result<bool> {
        if !self.lock().pending.insert(id) {
            return Ok(false);
        }
        let sealed = self
            .repo
            .key()
            .seal(kind.object_kind(), Some(&id), plain, self.compression);
        self.blobs_added.fetch_add(1, Ordering::Relaxed);
        self.bytes_added
            .fetch_add(sealed.len() as u64, Ordering::Relaxed);
        self.raw_bytes_added
            .fetch_add(plain.len() as u64, Ordering::Relaxed);
        let full = {
            let mut guard = self.lock();
            let st = &mut *guard;
            let pack_size = self.repo.config().pack_size as usize;
            let slot = match kind {
                BlobKind::Data => &mut st.data,
                BlobKind::Tree => &mut st.tree,
            };
            let builder = match slot {
                Some(b) => b,
                None => {
                    let buffer = st
                        .spare
                        .pop()
                        .unwrap_or_else(|| Vec::with_capacity(pack_size + pack_size / 8));
                    slot.insert(PackBuilder::with_buffer(buffer))
                }
            };
            builder.add(kind, id, &sealed, plain.len() as u32);
            if builder.len() >= pack_size {
                slot.take()
            } else {
                None
            }
        };
        if let Some(pack) = full {
            self.write_pack(pack)?;
        }
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hand a full pack to the writer thread, then index the packs it has made durable so far.
    fn write_pack(&self, pack: PackBuilder) -> Result<()> {
        let (id, bytes, entries) = pack.finish(self.repo.key());
        let job = PackJob { id, bytes, entries };
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let done = match queue {
            // Blocks while the previous pack is written: memory stays bounded when the disk is slow.
            Some(q) => match q.send(job) {
                Ok(()) => None,
                Err(e) => Some(self.write_inline(e.0)),
            },
            None => Some(self.write_inline(job)),
        };
        if let Some(done) = done {
            self.pack_done(done)?;
        }
        self.collect(false)
    }

    fn write_inline(&self, job: PackJob) -> PackDone {
        let result = match self
            .repo
            .backend()
            .create(FileKind::Pack, &job.id.to_hex(), &job.bytes)
        {
            Ok(()) => Ok(()),
            Err(e) if e.is_already_exists() => Ok(()),
            Err(e) => Err(e.into()),
        };
        PackDone {
            id: job.id,
            entries: job.entries,
            result,
            buffer: job.bytes,
        }
    }

    /// Take the writer thread's reports; with `all`, wait until every queued pack is reported
    /// (the queue must be closed first). Returns the first write error.
    fn collect(&self, all: bool) -> Result<()> {
        let mut first_err = None;
        loop {
            let next = {
                let rx = self.done.lock().unwrap_or_else(|p| p.into_inner());
                if all {
                    rx.recv().ok()
                } else {
                    rx.try_recv().ok()
                }
            };
            let Some(done) = next else { break };
            if let Err(e) = self.pack_done(done) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// A pack is durable: list it for the next index file (written every INDEX_EVERY_PACKS).
    fn pack_done(&self, done: PackDone) -> Result<()> {
        done.result?;
        self.packs_written.fetch_add(1, Ordering::Relaxed);
        let flush = {
            let mut st = self.lock();
            if st.spare.len() < SPARE_BUFFERS {
                st.spare.push(done.buffer);
            }
            st.unindexed.push(IndexPack {
                id: done.id,
                blobs: done.entries,
            });
            if st.unindexed.len() >= INDEX_EVERY_PACKS {
                std::mem::take(&mut st.unindexed)
            } else {
                Vec::new()
            }
        };
        if !flush.is_empty() {
            self.write_index(flush)?;
        }
        Ok(())
    }

    /// Close the queue and wait for the writer thread to write everything queued.
    fn close_queue(&self) {
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }

    fn write_index(&self, packs: Vec<IndexPack>) -> Result<()> {
        let file = IndexFile {
            supersedes: vec![],
            packs,
        };
        let id = self.repo.save_index(&file)?;
        self.lock().index_files.push(id);
        Ok(())
    }

    /// Write the open packs and the index for everything written. After this returns, every blob
    /// added is durable and indexed; only then may a snapshot refer to them.
    pub fn finish(self) -> Result<WriteStats> {
        let (data, tree) = {
            let mut st = self.lock();
            (st.data.take(), st.tree.take())
        };
        let mut result = Ok(());
        for pack in [data, tree].into_iter().flatten() {
            if !pack.is_empty() && result.is_ok() {
                result = self.write_pack(pack);
            }
        }
        self.close_queue();
        result?;
        self.collect(true)?;
        let rest = std::mem::take(&mut self.lock().unindexed);
        if !rest.is_empty() {
            self.write_index(rest)?;
        }
        Ok(WriteStats {
            blobs_added: self.blobs_added.load(Ordering::Relaxed),
            bytes_added: self.bytes_added.load(Ordering::Relaxed),
            raw_bytes_added: self.raw_bytes_added.load(Ordering::Relaxed),
            packs_written: self.packs_written.load(Ordering::Relaxed),
        })
    }
}

impl Drop for BlobWriter<'_> {
    /// A writer dropped without `finish` (an error stopped the backup) still waits for the packs
    /// already queued, so no write outlives it; they stay unindexed, as after a crash.
    fn drop(&mut self) {
        self.close_queue();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::fault::{FaultError, FaultPlan, FaultPoint};
    use kura_store::LocalBackend;

    fn small_packs(backend: Arc<dyn Backend>) -> Repository {
        let opts = crate::InitOptions {
            pack_size: 1 << 20,
            ..Default::default()
        };
        Repository::init(backend, b"pw", &opts).unwrap().0
    }

    /// 600 KB of xorshift noise (incompressible), different for each `i`: a 1 MiB pack every two.
    fn blob(i: u32) -> Vec<u8> {
        let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..600_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    #[test]
    fn packs_written_by_the_writer_thread_are_all_indexed_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let repo = small_packs(Arc::new(LocalBackend::new(dir.path())));
        let w = BlobWriter::new(&repo);
        let n = 2 * INDEX_EVERY_PACKS as u32 + 6;
        let ids: Vec<BlobId> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|t| {
                    let w = &w;
                    s.spawn(move || {
                        (0..n)
                            .filter(|i| i % 2 == t)
                            .map(|i| w.add(BlobKind::Data, &blob(i)).unwrap().0)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let stats = w.finish().unwrap();
        assert_eq!(stats.blobs_added, n as u64);
        assert!(stats.packs_written > INDEX_EVERY_PACKS as u64, "{stats:?}");
        let stored = repo.backend().list(FileKind::Pack).unwrap().len() as u64;
        assert_eq!(stored, stats.packs_written);
        let reopened = Repository::open(repo.backend().clone(), b"pw").unwrap();
        reopened.load_index().unwrap();
        assert!(reopened.backend().list(FileKind::Index).unwrap().len() >= 2);
        for (i, id) in ids.iter().enumerate() {
            assert!(reopened.has_blob(id), "blob {i} not indexed");
        }
        let i = 7;
        let id = repo.key().blob_id(&blob(i));
        assert_eq!(reopened.read_blob(&id).unwrap(), blob(i));
    }

    #[test]
    fn a_failed_pack_write_fails_the_writer_and_is_never_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let plain = small_packs(Arc::new(LocalBackend::new(dir.path())));
        drop(plain);
        // The second fsync of this writer fails (the first pack is written fine).
        let plan = Arc::new(FaultPlan::fail_nth(
            FaultPoint::Fsync,
            1,
            FaultError::NoSpace,
        ));
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::with_faults(dir.path(), plan));
        let repo = Repository::open(backend, b"pw").unwrap();
        repo.load_index().unwrap();
        let w = BlobWriter::new(&repo);
        let mut result = Ok(());
        for i in 0..20 {
            if let Err(e) = w.add(BlobKind::Data, &blob(i)) {
                result = Err(e);
                break;
            }
        }
        let result = result.and_then(|_| w.finish().map(|_| ()));
        let err = result.expect_err("a pack write failed: the writer must report it");
        assert!(err.to_string().to_lowercase().contains("space"), "{err}");
        // Whatever was indexed names only packs that exist.
        let reopened = Repository::open(repo.backend().clone(), b"pw").unwrap();
        reopened.load_index().unwrap();
        let stored: HashSet<String> = reopened
            .backend()
            .list(FileKind::Pack)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        for pack in reopened.index().by_pack().keys() {
            assert!(
                stored.contains(&pack.to_hex()),
                "index names a missing pack"
            );
        }
    }
}
