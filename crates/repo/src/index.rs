//! The in-memory master index: blob id → (pack, offset, length).
//!
//! Memory: one entry is a 32-byte id plus a 20-byte location, about 60 bytes with the hash table's
//! overhead. Blob ids are already uniformly random (keyed BLAKE3), so the table hashes them with
//! [`IdHasher`], which takes 8 bytes of the id instead of running SipHash over all 32.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use kura_format::index::{IndexFile, IndexPack};
use kura_format::pack::{BlobKind, PackEntry};
use kura_format::{BlobId, FileId};

/// Hasher for keys that are already random: uses the first 8 bytes written.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Arrays hash their length first (8 bytes of little-endian usize) and then the content;
        // fold everything so that the content dominates.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
}

pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    pub pack: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_len: u32,
    pub kind: BlobKind,
}

#[derive(Default)]
pub struct MasterIndex {
    packs: Vec<FileId>,
    pack_numbers: IdMap<FileId, u32>,
    blobs: IdMap<BlobId, BlobLocation>,
    /// Index files merged into this one (and the ones they supersede).
    pub files: Vec<FileId>,
}

impl MasterIndex {
    pub fn add_pack(&mut self, pack: &IndexPack) {
        let n = *self.pack_numbers.entry(pack.id).or_insert_with(|| {
            self.packs.push(pack.id);
            (self.packs.len() - 1) as u32
        });
        for e in &pack.blobs {
            self.blobs.entry(e.id).or_insert(BlobLocation {
                pack: n,
                offset: e.offset,
                length: e.length,
                raw_len: e.raw_len,
                kind: e.kind,
            });
        }
    }

    pub fn add_file(&mut self, id: FileId, file: &IndexFile) {
        for p in &file.packs {
            self.add_pack(p);
        }
        self.files.push(id);
    }

    pub fn get(&self, id: &BlobId) -> Option<(FileId, BlobLocation)> {
        self.blobs
            .get(id)
            .map(|l| (self.packs[l.pack as usize], *l))
    }

    pub fn contains(&self, id: &BlobId) -> bool {
        self.blobs.contains_key(id)
    }

    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    pub fn packs(&self) -> &[FileId] {
        &self.packs
    }

    pub fn has_pack(&self, id: &FileId) -> bool {
        self.pack_numbers.contains_key(id)
    }

    /// Every blob with its pack, grouped by pack (for check, prune and copy).
    pub fn by_pack(&self) -> IdMap<FileId, Vec<PackEntry>> {
        let mut out: IdMap<FileId, Vec<PackEntry>> = IdMap::default();
        for (id, l) in &self.blobs {
            out.entry(self.packs[l.pack as usize])
                .or_default()
                .push(PackEntry {
                    kind: l.kind,
                    id: *id,
                    offset: l.offset,
                    length: l.length,
                    raw_len: l.raw_len,
                });
        }
        for v in out.values_mut() {
            v.sort_by_key(|e| e.offset);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_location_wins_and_lookups_work() {
        let mut idx = MasterIndex::default();
        let blob = BlobId([7; 32]);
        let e = |offset| PackEntry {
            kind: BlobKind::Data,
            id: blob,
            offset,
            length: 50,
            raw_len: 10,
        };
        idx.add_pack(&IndexPack {
            id: FileId([1; 32]),
            blobs: vec![e(8)],
        });
        idx.add_pack(&IndexPack {
            id: FileId([2; 32]),
            blobs: vec![e(99)],
        });
        let (pack, loc) = idx.get(&blob).unwrap();
        assert_eq!(pack, FileId([1; 32]));
        assert_eq!(loc.offset, 8);
        assert_eq!(idx.packs().len(), 2);
        assert_eq!(idx.by_pack().len(), 1);
        assert!(!idx.contains(&BlobId([8; 32])));
    }
}
