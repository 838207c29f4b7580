//! The in-memory master index: blob id → (pack, offset, length).
//!
//! A blob can be stored more than once: a repack writes a blob's new copy before the old pack is
//! deleted, and two backups racing may both store it. Every copy is kept, because whoever keeps or
//! removes packs (prune, check, repair) must see each pack's whole content; losing a copy from the
//! index would make its pack look unused, or a pack on its way out look needed. Reads use the first
//! copy seen ([`MasterIndex::get`]); [`MasterIndex::locations`] lists them all. Further copies are
//! rare and live in a separate small table so that the main table stays one entry per blob.
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
    /// Copies after the first, for blobs stored in more than one place.
    copies: IdMap<BlobId, Vec<BlobLocation>>,
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
            let loc = BlobLocation {
                pack: n,
                offset: e.offset,
                length: e.length,
                raw_len: e.raw_len,
                kind: e.kind,
            };
            let first = *self.blobs.entry(e.id).or_insert(loc);
            // The same pack can be described by several index files (a repair, a consolidation
            // racing a backup): that is one copy, not two.
            if first.pack != n {
                let more = self.copies.entry(e.id).or_default();
                if !more.iter().any(|l| l.pack == n) {
                    more.push(loc);
                }
            }
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

    /// Every stored copy of a blob, the one [`MasterIndex::get`] returns first.
    pub fn locations(&self, id: &BlobId) -> impl Iterator<Item = (FileId, BlobLocation)> + '_ {
        let first = self.blobs.get(id).copied();
        let more = self.copies.get(id).map(Vec::as_slice).unwrap_or(&[]);
        first
            .into_iter()
            .chain(more.iter().copied())
            .map(|l| (self.packs[l.pack as usize], l))
    }

    /// Number of blobs stored more than once.
    pub fn duplicated_blobs(&self) -> usize {
        self.copies.len()
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

    /// Every copy of every blob, grouped by pack (for check, prune and copy): each pack's whole
    /// indexed content.
    pub fn by_pack(&self) -> IdMap<FileId, Vec<PackEntry>> {
        let mut out: IdMap<FileId, Vec<PackEntry>> = IdMap::default();
        let more = self
            .copies
            .iter()
            .flat_map(|(id, ls)| ls.iter().map(move |l| (id, l)));
        for (id, l) in self.blobs.iter().chain(more) {
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
        assert!(!idx.contains(&BlobId([8; 32])));
        assert_eq!(idx.blob_count(), 1);
    }

    #[test]
    fn every_copy_is_kept_and_each_pack_lists_its_whole_content() {
        let mut idx = MasterIndex::default();
        let blob = BlobId([7; 32]);
        let entry = |offset| PackEntry {
            kind: BlobKind::Data,
            id: blob,
            offset,
            length: 50,
            raw_len: 10,
        };
        let old = FileId([1; 32]);
        let new = FileId([2; 32]);
        idx.add_pack(&IndexPack {
            id: old,
            blobs: vec![entry(8)],
        });
        idx.add_pack(&IndexPack {
            id: new,
            blobs: vec![entry(99)],
        });
        // The old pack described again by a second index file is not a third copy.
        idx.add_pack(&IndexPack {
            id: old,
            blobs: vec![entry(8)],
        });
        let copies: Vec<(FileId, u32)> = idx.locations(&blob).map(|(p, l)| (p, l.offset)).collect();
        assert_eq!(copies, vec![(old, 8), (new, 99)]);
        assert_eq!(idx.duplicated_blobs(), 1);
        let by_pack = idx.by_pack();
        assert_eq!(
            by_pack.len(),
            2,
            "the new pack must not vanish from the index"
        );
        assert_eq!(by_pack[&new][0].offset, 99);
        assert_eq!(by_pack[&old][0].offset, 8);
        assert_eq!(idx.locations(&BlobId([9; 32])).count(), 0);
    }
}
