//! Index files: which blob is in which pack, so readers need not open every pack header.
//!
//! Plaintext (sealed with kind Index, uncompressed: ids are random and do not compress):
//!
//! ```text
//! magic "KURAIDX1"
//! supersedes: u32 count, then count × 32-byte file ids of index files this one replaces
//! packs:      u32 count, then per pack: 32-byte pack id, u32 blob count, blob count × 45-byte entries
//! ```
//!
//! Entries use the pack header layout (see pack.rs). An index that supersedes others lets `prune` and
//! `repair index` consolidate indexes: readers ignore the superseded ones, and they are deleted later.

use crate::crypto::{Compression, MasterKey, ObjectKind};
use crate::id::FileId;
use crate::pack::{PackEntry, ENTRY_LEN, MAX_PACK_ENTRIES};
use crate::FormatError;

pub const INDEX_MAGIC: &[u8; 8] = b"KURAIDX1";
/// Largest index plaintext accepted (an index file holds at most a few million entries).
pub const MAX_INDEX_LEN: usize = 512 << 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexPack {
    pub id: FileId,
    pub blobs: Vec<PackEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexFile {
    pub supersedes: Vec<FileId>,
    pub packs: Vec<IndexPack>,
}

impl IndexFile {
    pub fn blob_count(&self) -> usize {
        self.packs.iter().map(|p| p.blobs.len()).sum()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self.supersedes.len() * 32 + self.packs.len() * 36 + self.blob_count() * ENTRY_LEN,
        );
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&(self.supersedes.len() as u32).to_le_bytes());
        for s in &self.supersedes {
            out.extend_from_slice(&s.0);
        }
        out.extend_from_slice(&(self.packs.len() as u32).to_le_bytes());
        for p in &self.packs {
            out.extend_from_slice(&p.id.0);
            out.extend_from_slice(&(p.blobs.len() as u32).to_le_bytes());
            for e in &p.blobs {
                e.encode(&mut out);
            }
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader { b, pos: 0 };
        if r.take(8, "index magic")? != INDEX_MAGIC {
            return Err(FormatError::BadMagic { what: "index" });
        }
        let n_sup = r.count(32, "index supersedes list")?;
        let mut supersedes = Vec::with_capacity(n_sup);
        for _ in 0..n_sup {
            supersedes.push(r.id()?);
        }
        let n_packs = r.count(36, "index pack list")?;
        let mut packs = Vec::with_capacity(n_packs);
        for _ in 0..n_packs {
            let id = r.id()?;
            let n = r.count(ENTRY_LEN, "index pack entries")?;
            if n > MAX_PACK_ENTRIES {
                return Err(FormatError::TooLarge {
                    what: "index pack entries",
                    len: n as u64,
                    limit: MAX_PACK_ENTRIES as u64,
                });
            }
            let mut blobs = Vec::with_capacity(n);
            for _ in 0..n {
                blobs.push(PackEntry::decode(r.take(ENTRY_LEN, "index entry")?)?);
            }
            packs.push(IndexPack { id, blobs });
        }
        if r.pos != b.len() {
            return Err(FormatError::malformed(
                "index",
                format!("{} trailing bytes", b.len() - r.pos),
            ));
        }
        Ok(IndexFile { supersedes, packs })
    }

    pub fn seal(&self, key: &MasterKey) -> Vec<u8> {
        key.seal(
            ObjectKind::Index,
            None,
            &self.encode(),
            Compression { level: 0 },
        )
    }

    pub fn open(key: &MasterKey, sealed: &[u8]) -> Result<Self, FormatError> {
        Self::decode(&key.open(ObjectKind::Index, None, sealed, MAX_INDEX_LEN)?)
    }
}

/// A bounds-checked little-endian reader: every length is checked against the bytes that remain
/// before anything is allocated.
pub(crate) struct Reader<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        let remaining = self.b.len() - self.pos;
        if n > remaining {
            return Err(FormatError::Truncated {
                what,
                needed: n,
                found: remaining,
            });
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A count of items of at least `item_len` bytes each, refused if the rest cannot hold them.
    pub fn count(&mut self, item_len: usize, what: &'static str) -> Result<usize, FormatError> {
        let n = self.u32(what)? as usize;
        let remaining = self.b.len() - self.pos;
        if n.saturating_mul(item_len) > remaining {
            return Err(FormatError::Truncated {
                what,
                needed: n.saturating_mul(item_len),
                found: remaining,
            });
        }
        Ok(n)
    }

    pub fn id(&mut self) -> Result<FileId, FormatError> {
        let mut id = [0u8; 32];
        id.copy_from_slice(self.take(32, "file id")?);
        Ok(FileId(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::BlobId;
    use crate::pack::BlobKind;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = PackEntry> {
        (
            any::<bool>(),
            any::<[u8; 32]>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(t, id, o, l, r)| PackEntry {
                kind: if t { BlobKind::Tree } else { BlobKind::Data },
                id: BlobId(id),
                offset: o,
                length: l,
                raw_len: r,
            })
    }

    proptest! {
        #[test]
        fn index_round_trip(sup in prop::collection::vec(any::<[u8; 32]>(), 0..3),
                            packs in prop::collection::vec((any::<[u8; 32]>(), prop::collection::vec(entry(), 0..20)), 0..5)) {
            let idx = IndexFile {
                supersedes: sup.into_iter().map(FileId).collect(),
                packs: packs.into_iter().map(|(id, blobs)| IndexPack { id: FileId(id), blobs }).collect(),
            };
            prop_assert_eq!(IndexFile::decode(&idx.encode()).unwrap(), idx);
        }

        #[test]
        fn index_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = IndexFile::decode(&bytes);
            let mut with_magic = INDEX_MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = IndexFile::decode(&with_magic);
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocation() {
        let mut b = INDEX_MAGIC.to_vec();
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            IndexFile::decode(&b),
            Err(FormatError::Truncated { .. })
        ));
    }

    #[test]
    fn sealed_index_round_trip() {
        let key = MasterKey::generate();
        let idx = IndexFile {
            supersedes: vec![],
            packs: vec![IndexPack {
                id: FileId::of(b"p"),
                blobs: vec![],
            }],
        };
        assert_eq!(IndexFile::open(&key, &idx.seal(&key)).unwrap(), idx);
    }
}
