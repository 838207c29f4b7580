//! Pack files: many sealed blobs in one file, with an encrypted header at the end.
//!
//! ```text
//! offset 0        8 bytes  magic "KURAPACK"
//! offset 8        ...      blob envelopes, back to back (see crypto.rs)
//! offset H        h bytes  header envelope (kind PackHeader): the table of blobs below
//! offset len-8    4 bytes  h, u32 little-endian
//! offset len-4    4 bytes  magic "KPK1"
//! ```
//!
//! Header plaintext: `count: u32 LE` then `count` entries of 45 bytes:
//! `kind: u8 (0 data, 1 tree) | id: [u8; 32] | offset: u32 | length: u32 | raw_len: u32` (LE).
//! Because every pack describes itself, the index can always be rebuilt from packs alone.
//! A pack's name is the BLAKE3 of its bytes, so its integrity can be checked without a key.

use crate::crypto::{Compression, MasterKey, ObjectKind, ENVELOPE_OVERHEAD};
use crate::id::{BlobId, FileId};
use crate::FormatError;

pub const PACK_MAGIC: &[u8; 8] = b"KURAPACK";
pub const TRAILER_MAGIC: &[u8; 4] = b"KPK1";
pub const TRAILER_LEN: usize = 8;
pub const ENTRY_LEN: usize = 45;
/// A pack never holds more than this many blobs (bounds header allocation).
pub const MAX_PACK_ENTRIES: usize = 1 << 22;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlobKind {
    Data,
    Tree,
}

impl BlobKind {
    pub fn object_kind(self) -> ObjectKind {
        match self {
            BlobKind::Data => ObjectKind::Data,
            BlobKind::Tree => ObjectKind::Tree,
        }
    }
    pub fn to_u8(self) -> u8 {
        match self {
            BlobKind::Data => 0,
            BlobKind::Tree => 1,
        }
    }
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(BlobKind::Data),
            1 => Some(BlobKind::Tree),
            _ => None,
        }
    }
}

/// Where one blob lives inside its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackEntry {
    pub kind: BlobKind,
    pub id: BlobId,
    pub offset: u32,
    pub length: u32,
    /// Length of the plaintext; bounds decompression.
    pub raw_len: u32,
}

impl PackEntry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind.to_u8());
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        if b.len() < ENTRY_LEN {
            return Err(FormatError::Truncated {
                what: "pack entry",
                needed: ENTRY_LEN,
                found: b.len(),
            });
        }
        let kind = BlobKind::from_u8(b[0]).ok_or_else(|| {
            FormatError::malformed("pack entry", format!("unknown blob kind {}", b[0]))
        })?;
        let mut id = [0u8; 32];
        id.copy_from_slice(&b[1..33]);
        let u = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(PackEntry {
            kind,
            id: BlobId(id),
            offset: u(33),
            length: u(37),
            raw_len: u(41),
        })
    }
}

/// Accumulates sealed blobs in memory until the pack is big enough to write.
#[derive(Default)]
pub struct PackBuilder {
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
}

impl PackBuilder {
    pub fn new(capacity: usize) -> Self {
        Self::with_buffer(Vec::with_capacity(capacity))
    }

    /// A builder writing into `buf` (cleared first): the writer recycles the buffers of written
    /// packs instead of allocating 16 MiB per pack.
    pub fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(PACK_MAGIC);
        PackBuilder {
            buf,
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn blob_count(&self) -> usize {
        self.entries.len()
    }

    /// Append an already sealed blob.
    pub fn add(&mut self, kind: BlobKind, id: BlobId, sealed: &[u8], raw_len: u32) {
        let offset = self.buf.len() as u32;
        self.buf.extend_from_slice(sealed);
        self.entries.push(PackEntry {
            kind,
            id,
            offset,
            length: sealed.len() as u32,
            raw_len,
        });
    }

    /// Seal the header, append the trailer, and return the pack's id, bytes and table.
    pub fn finish(mut self, key: &MasterKey) -> (FileId, Vec<u8>, Vec<PackEntry>) {
        let mut header = Vec::with_capacity(4 + self.entries.len() * ENTRY_LEN);
        header.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            e.encode(&mut header);
        }
        let sealed = key.seal(
            ObjectKind::PackHeader,
            None,
            &header,
            Compression { level: 0 },
        );
        self.buf.extend_from_slice(&sealed);
        self.buf
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(TRAILER_MAGIC);
        (FileId::of(&self.buf), self.buf, self.entries)
    }
}

/// Read the header length from the last [`TRAILER_LEN`] bytes of a pack of `pack_len` bytes.
pub fn parse_trailer(trailer: &[u8], pack_len: u64) -> Result<u32, FormatError> {
    if trailer.len() != TRAILER_LEN || (pack_len as usize) < PACK_MAGIC.len() + TRAILER_LEN {
        return Err(FormatError::Truncated {
            what: "pack trailer",
            needed: TRAILER_LEN,
            found: trailer.len(),
        });
    }
    if &trailer[4..] != TRAILER_MAGIC {
        return Err(FormatError::BadMagic {
            what: "pack trailer",
        });
    }
    let h = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let room = pack_len - (PACK_MAGIC.len() + TRAILER_LEN) as u64;
    if h as u64 > room || (h as usize) < ENVELOPE_OVERHEAD {
        return Err(FormatError::malformed(
            "pack trailer",
            format!("header length {h} does not fit a pack of {pack_len} bytes"),
        ));
    }
    Ok(h)
}

/// Decrypt and validate a pack header. Every entry must lie inside the blob area, in order, without
/// overlap, so a damaged header cannot send readers outside the file.
pub fn decode_header(
    key: &MasterKey,
    sealed_header: &[u8],
    pack_len: u64,
) -> Result<Vec<PackEntry>, FormatError> {
    let plain = key.open(
        ObjectKind::PackHeader,
        None,
        sealed_header,
        4 + MAX_PACK_ENTRIES * ENTRY_LEN,
    )?;
    if plain.len() < 4 {
        return Err(FormatError::Truncated {
            what: "pack header",
            needed: 4,
            found: plain.len(),
        });
    }
    let count = u32::from_le_bytes([plain[0], plain[1], plain[2], plain[3]]) as usize;
    if count > MAX_PACK_ENTRIES || plain.len() != 4 + count * ENTRY_LEN {
        return Err(FormatError::malformed(
            "pack header",
            format!("{count} entries do not match {} bytes", plain.len()),
        ));
    }
    let blob_end = pack_len.saturating_sub((TRAILER_LEN + sealed_header.len()) as u64);
    let mut next = PACK_MAGIC.len() as u64;
    let mut entries = Vec::with_capacity(count);
    for raw in plain[4..].chunks_exact(ENTRY_LEN) {
        let e = PackEntry::decode(raw)?;
        let end = e.offset as u64 + e.length as u64;
        if (e.offset as u64) < next || end > blob_end || (e.length as usize) < ENVELOPE_OVERHEAD {
            return Err(FormatError::malformed(
                "pack header",
                format!("blob {} lies outside the pack", e.id.short()),
            ));
        }
        next = end;
        entries.push(e);
    }
    Ok(entries)
}

/// Check the leading magic of a pack.
pub fn check_magic(head: &[u8]) -> Result<(), FormatError> {
    if head.len() < PACK_MAGIC.len() || &head[..PACK_MAGIC.len()] != PACK_MAGIC {
        return Err(FormatError::BadMagic { what: "pack" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MAX_OBJECT_LEN;

    fn build(key: &MasterKey, blobs: &[&[u8]]) -> (FileId, Vec<u8>, Vec<PackEntry>) {
        let mut pb = PackBuilder::new(1024);
        for b in blobs {
            let id = key.blob_id(b);
            let sealed = key.seal(ObjectKind::Data, Some(&id), b, Compression::default());
            pb.add(BlobKind::Data, id, &sealed, b.len() as u32);
        }
        pb.finish(key)
    }

    #[test]
    fn pack_round_trip() {
        let key = MasterKey::generate();
        let (id, bytes, entries) = build(&key, &[b"one", b"two two", &[7u8; 5000]]);
        assert_eq!(id, FileId::of(&bytes));
        check_magic(&bytes).unwrap();
        let h = parse_trailer(&bytes[bytes.len() - TRAILER_LEN..], bytes.len() as u64).unwrap()
            as usize;
        let header = &bytes[bytes.len() - TRAILER_LEN - h..bytes.len() - TRAILER_LEN];
        let decoded = decode_header(&key, header, bytes.len() as u64).unwrap();
        assert_eq!(decoded, entries);
        let e = decoded[2];
        let blob = &bytes[e.offset as usize..(e.offset + e.length) as usize];
        assert_eq!(
            key.open(ObjectKind::Data, Some(&e.id), blob, MAX_OBJECT_LEN)
                .unwrap(),
            vec![7u8; 5000]
        );
    }

    #[test]
    fn damaged_trailers_are_refused() {
        let key = MasterKey::generate();
        let (_, bytes, _) = build(&key, &[b"x"]);
        let n = bytes.len();
        assert!(parse_trailer(&bytes[n - 8..n - 1], n as u64).is_err());
        let mut t = bytes[n - 8..].to_vec();
        t[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_trailer(&t, n as u64).is_err());
        t[4] = b'X';
        assert!(parse_trailer(&t, n as u64).is_err());
    }
}
