//! Writing blobs: deduplicate, seal, group into packs, write packs, then index them.
//!
//! Many threads call [`BlobWriter::add`] at once. Sealing (compression and encryption) happens in the
//! calling thread without any lock; the lock is held only to append sealed bytes to the open pack.
//! The thread that fills a pack writes it, outside the lock. Data and tree blobs go to separate packs
//! so that metadata stays together (cheap to read for `ls`, `diff` and change detection).
//!
//! Ordering (FORMAT.md "Write ordering"): a pack is complete on disk before any index names it, and an
//! index is complete on disk before any snapshot refers to its blobs. Index files are also written
//! every [`INDEX_EVERY_PACKS`] packs so that a long backup that is interrupted leaves its data
//! reusable by the next run.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use kura_format::crypto::Compression;
use kura_format::index::{IndexFile, IndexPack};
use kura_format::pack::{BlobKind, PackBuilder};
use kura_format::{BlobId, FileId};
use kura_store::FileKind;

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
}

/// What a writer added to the repository.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteStats {
    pub blobs_added: u64,
    pub bytes_added: u64,
    pub raw_bytes_added: u64,
    pub packs_written: u64,
}

pub struct BlobWriter<'r> {
    repo: &'r Repository,
    state: Mutex<State>,
    compression: Compression,
    blobs_added: AtomicU64,
    bytes_added: AtomicU64,
    raw_bytes_added: AtomicU64,
    packs_written: AtomicU64,
}

impl<'r> BlobWriter<'r> {
    pub fn new(repo: &'r Repository) -> Self {
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
            let mut st = self.lock();
            let pack_size = self.repo.config().pack_size as usize;
            let slot = match kind {
                BlobKind::Data => &mut st.data,
                BlobKind::Tree => &mut st.tree,
            };
            let builder = slot.get_or_insert_with(|| PackBuilder::new(pack_size + pack_size / 8));
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

    fn write_pack(&self, pack: PackBuilder) -> Result<()> {
        let (id, bytes, entries) = pack.finish(self.repo.key());
        match self
            .repo
            .backend()
            .create(FileKind::Pack, &id.to_hex(), &bytes)
        {
            Ok(()) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e.into()),
        }
        self.packs_written.fetch_add(1, Ordering::Relaxed);
        let flush = {
            let mut st = self.lock();
            st.unindexed.push(IndexPack { id, blobs: entries });
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
        for pack in [data, tree].into_iter().flatten() {
            if !pack.is_empty() {
                self.write_pack(pack)?;
            }
        }
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
