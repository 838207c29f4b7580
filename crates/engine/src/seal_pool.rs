//! Sharing the sealing of one large file's chunks with idle threads.
//!
//! A backup worker reads and chunks one file at a time; chunking is sequential by nature, but
//! compressing and encrypting each chunk (about 40% of an initial backup's CPU, BENCHMARKS.md)
//! is not. The 2 GiB benchmark set holds six dumps of 100–300 MB, and near the end of an initial
//! backup one worker was alone on a dump while the other cores idled. With this pool, a worker
//! that chunks a large file offers each new chunk to [`SealPool`]'s threads and seals it itself
//! only when they are all busy (the queue is full): when every worker has work, nothing changes
//! (no chunk is copied, no thread waits); when one is alone, the idle pool threads take its
//! chunks. The content list keeps its order because the worker computes each chunk's id itself;
//! only storing the blob (dedup check, compression, encryption, appending to a pack) is shared.
//! Before the file's result is reported, its worker waits for every chunk it handed out, so a
//! file is never recorded with a blob that was not stored, and a storage error is the file's.

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use kura_format::pack::BlobKind;
use kura_format::BlobId;
use kura_repo::BlobWriter;

use crate::error::{EngineError, Result};

/// Files smaller than this are sealed by their worker alone: a handful of chunks does not pay for
/// the hand-over.
pub const POOL_MIN_FILE: u64 = 4 << 20;

enum Work {
    Seal {
        id: BlobId,
        data: Vec<u8>,
        reply: Sender<Result<()>>,
    },
    Stop,
}

/// A queue of chunks to seal and the threads that serve it (spawned by the backup pipeline).
pub struct SealPool {
    tx: Sender<Work>,
    rx: Receiver<Work>,
}

impl SealPool {
    /// A pool whose queue holds `queue` chunks (at most 1 MiB each with the default chunker).
    pub fn new(queue: usize) -> Self {
        let (tx, rx) = bounded(queue.max(1));
        SealPool { tx, rx }
    }

    /// Body of one pool thread: seal chunks until [`SealPool::stop`].
    pub fn serve(&self, writer: &BlobWriter) {
        while let Ok(Work::Seal { id, data, reply }) = self.rx.recv() {
            let result = writer
                .add_with_id(BlobKind::Data, id, &data)
                .map(|_| ())
                .map_err(EngineError::from);
            let _ = reply.send(result);
        }
    }

    /// Run `f` with `threads` pool threads serving; they stop once `f` has returned (every
    /// batch of `f` is finished by then, so nothing is left in the queue but the stop signals).
    pub fn with_threads<R>(&self, writer: &BlobWriter, threads: usize, f: impl FnOnce() -> R) -> R {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| self.serve(writer));
            }
            // Stops the threads even if `f` panics; else the scope would wait for them forever.
            let _stop = StopOnDrop(&self.tx, threads);
            f()
        })
    }

    /// A batch for one file's chunks.
    pub fn batch<'p>(&'p self, writer: &'p BlobWriter<'p>) -> Batch<'p> {
        let (reply, done) = crossbeam_channel::unbounded();
        Batch {
            pool: self,
            writer,
            reply,
            done,
            outstanding: 0,
        }
    }
}

struct StopOnDrop<'a>(&'a Sender<Work>, usize);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        for _ in 0..self.1 {
            let _ = self.0.send(Work::Stop);
        }
    }
}

/// The chunks of one file: sealed by the pool when it has room, else by the caller.
pub struct Batch<'p> {
    pool: &'p SealPool,
    writer: &'p BlobWriter<'p>,
    reply: Sender<Result<()>>,
    done: Receiver<Result<()>>,
    outstanding: usize,
}

impl Batch<'_> {
    /// Store one chunk whose id the caller computed.
    pub fn add(&mut self, id: BlobId, chunk: &[u8]) -> Result<()> {
        // A full queue means every pool thread is busy: seal here without copying the chunk.
        if self.pool.tx.is_full() {
            return self.seal_here(id, chunk);
        }
        let work = Work::Seal {
            id,
            data: chunk.to_vec(),
            reply: self.reply.clone(),
        };
        match self.pool.tx.try_send(work) {
            Ok(()) => {
                self.outstanding += 1;
                Ok(())
            }
            Err(TrySendError::Full(Work::Seal { data, .. }))
            | Err(TrySendError::Disconnected(Work::Seal { data, .. })) => self.seal_here(id, &data),
            Err(_) => self.seal_here(id, chunk),
        }
    }

    fn seal_here(&self, id: BlobId, chunk: &[u8]) -> Result<()> {
        self.writer.add_with_id(BlobKind::Data, id, chunk)?;
        Ok(())
    }

    /// Wait for every chunk handed to the pool; the first error wins.
    pub fn finish(self) -> Result<()> {
        // Without our own sender, `recv` fails instead of blocking if a pool thread ever dropped
        // a chunk unanswered.
        let Batch {
            reply,
            done,
            mut outstanding,
            ..
        } = self;
        drop(reply);
        let mut first = Ok(());
        while outstanding > 0 {
            let r = done.recv().unwrap_or_else(|_| {
                Err(EngineError::Invalid(
                    "a sealing thread stopped before storing a chunk; run the backup again".into(),
                ))
            });
            outstanding -= 1;
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks handed to the pool are all stored, whoever sealed them, and the batch reports
    /// only when they are.
    #[test]
    fn every_chunk_of_a_batch_is_stored_before_finish_returns() {
        let dir = tempfile::tempdir().unwrap();
        let repo = crate::test_support::repo(dir.path());
        let writer = BlobWriter::new(&repo);
        let pool = SealPool::new(2);
        let chunks: Vec<Vec<u8>> = (0..64u32)
            .map(|i| format!("chunk {i} ").repeat(5000).into_bytes())
            .collect();
        let ids: Vec<BlobId> = chunks.iter().map(|c| repo.key().blob_id(c)).collect();
        pool.with_threads(&writer, 2, || {
            let mut batch = pool.batch(&writer);
            for (id, c) in ids.iter().zip(&chunks) {
                batch.add(*id, c).unwrap();
            }
            batch.finish().unwrap();
        });
        let stats = writer.finish().unwrap();
        assert_eq!(stats.blobs_added, 64);
        for (id, c) in ids.iter().zip(&chunks) {
            assert_eq!(&repo.read_blob(id).unwrap(), c);
        }
    }
}
