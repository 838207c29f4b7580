//! The master key and the encryption envelope that wraps every stored object.
//!
//! Envelope layout (all objects except key files, which wrap the master key themselves):
//!
//! ```text
//! offset 0   1 byte   envelope version, 1
//! offset 1   24 bytes XChaCha20-Poly1305 nonce, random per object
//! offset 25  n bytes  ciphertext of the plaintext below
//! offset 25+n 16 bytes Poly1305 tag
//! ```
//!
//! Associated data: `b"kura-v1"`, one byte of [`ObjectKind`], and for blobs the 32-byte blob id. Binding
//! the kind and id means a damaged or malicious index cannot make one blob be read as another, and a
//! snapshot cannot be swapped for a pack header.
//!
//! Plaintext: one compression byte (0 = stored, 1 = zstd frame) followed by the payload.
//!
//! XChaCha20-Poly1305 was chosen over AES-256-GCM for its 192-bit random nonces: a repository holding
//! hundreds of millions of small SS-MIX2 objects under one key stays far from any nonce-collision bound,
//! and it is fast without AES instructions (older hospital servers).

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::id::BlobId;
use crate::FormatError;

pub const ENVELOPE_VERSION: u8 = 1;
pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const ENVELOPE_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
const AAD_PREFIX: &[u8] = b"kura-v1";

/// Upper bound on any single decompressed object; chunks are at most 8 MiB, but trees of huge
/// directories can be larger. Anything claiming more is refused before allocation.
pub const MAX_OBJECT_LEN: usize = 1 << 30;

/// What an envelope holds; part of the associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ObjectKind {
    Config = 1,
    Data = 2,
    Tree = 3,
    PackHeader = 4,
    Index = 5,
    Snapshot = 6,
    /// Repository metadata records (policies, locks, holds, verdicts, clinical indexes).
    Meta = 7,
}

impl ObjectKind {
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Config => "config",
            ObjectKind::Data => "data blob",
            ObjectKind::Tree => "tree blob",
            ObjectKind::PackHeader => "pack header",
            ObjectKind::Index => "index",
            ObjectKind::Snapshot => "snapshot",
            ObjectKind::Meta => "metadata record",
        }
    }
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => ObjectKind::Config,
            2 => ObjectKind::Data,
            3 => ObjectKind::Tree,
            4 => ObjectKind::PackHeader,
            5 => ObjectKind::Index,
            6 => ObjectKind::Snapshot,
            7 => ObjectKind::Meta,
            _ => return None,
        })
    }
}

/// How hard to try compressing.
#[derive(Clone, Copy, Debug)]
pub struct Compression {
    /// zstd level; 0 disables compression.
    pub level: i32,
}

impl Default for Compression {
    fn default() -> Self {
        Compression { level: 3 }
    }
}

/// The 512-bit repository master key: 256 bits for encryption, 256 bits for keyed blob ids.
#[derive(Clone)]
pub struct MasterKey {
    enc: [u8; 32],
    id: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        let mut enc = [0u8; 32];
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut enc);
        rng.fill_bytes(&mut id);
        MasterKey { enc, id }
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.enc);
        out[32..].copy_from_slice(&self.id);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, FormatError> {
        if b.len() != 64 {
            return Err(FormatError::malformed(
                "master key",
                format!("{} bytes, expected 64", b.len()),
            ));
        }
        let mut enc = [0u8; 32];
        let mut id = [0u8; 32];
        enc.copy_from_slice(&b[..32]);
        id.copy_from_slice(&b[32..]);
        Ok(MasterKey { enc, id })
    }

    /// Seed for the chunker's gear table, derived from the id key: chunk boundaries then differ per
    /// repository, so the sizes of stored chunks do not fingerprint known files (restic's reason
    /// for a per-repository polynomial).
    pub fn chunker_seed(&self) -> u64 {
        let d = blake3::derive_key("kura 2026 chunker gear seed", &self.id);
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    /// Keyed BLAKE3 of a blob's plaintext.
    pub fn blob_id(&self, plaintext: &[u8]) -> BlobId {
        BlobId(*blake3::keyed_hash(&self.id, plaintext).as_bytes())
    }

    /// Seal a plaintext into an envelope, compressing it first when that pays.
    pub fn seal(
        &self,
        kind: ObjectKind,
        blob: Option<&BlobId>,
        plain: &[u8],
        comp: Compression,
    ) -> Vec<u8> {
        // The envelope is allocated once, at its final size: compression goes to a per-thread
        // scratch buffer first. Allocating a compressor output and then growing the envelope for
        // every chunk, on several threads, left the allocator's arenas holding tens of MiB
        // (peak RSS of an initial backup, BENCHMARKS.md).
        let mut body = with_scratch(|scratch| {
            let compressed = compress_if_worth_it(plain, comp, scratch);
            let payload: &[u8] = if compressed { scratch } else { plain };
            let mut body = Vec::with_capacity(ENVELOPE_OVERHEAD + 1 + payload.len());
            body.push(ENVELOPE_VERSION);
            body.extend_from_slice(&[0u8; NONCE_LEN]);
            body.push(u8::from(compressed));
            body.extend_from_slice(payload);
            body
        });
        let mut nonce = [0u8; NONCE_LEN];
        NONCE_RNG.with(|r| r.borrow_mut().fill_bytes(&mut nonce));
        body[1..1 + NONCE_LEN].copy_from_slice(&nonce);
        let aad = aad(kind, blob);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.enc));
        let tag = cipher
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut body[1 + NONCE_LEN..])
            .expect(
                "XChaCha20-Poly1305 encryption cannot fail for in-memory buffers under 256 GiB",
            );
        body.extend_from_slice(&tag);
        body
    }

    /// Open an envelope: authenticate, decrypt and decompress. `max_len` bounds the decompressed size.
    pub fn open(
        &self,
        kind: ObjectKind,
        blob: Option<&BlobId>,
        sealed: &[u8],
        max_len: usize,
    ) -> Result<Vec<u8>, FormatError> {
        let what = kind.name();
        if sealed.len() < ENVELOPE_OVERHEAD + 1 {
            return Err(FormatError::Truncated {
                what,
                needed: ENVELOPE_OVERHEAD + 1,
                found: sealed.len(),
            });
        }
        if sealed[0] != ENVELOPE_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what,
                found: sealed[0] as u32,
                supported: ENVELOPE_VERSION as u32,
            });
        }
        let nonce = XNonce::from_slice(&sealed[1..1 + NONCE_LEN]);
        let tag_at = sealed.len() - TAG_LEN;
        let tag = Tag::from_slice(&sealed[tag_at..]);
        let mut body = sealed[1 + NONCE_LEN..tag_at].to_vec();
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.enc));
        cipher
            .decrypt_in_place_detached(nonce, &aad(kind, blob), &mut body, tag)
            .map_err(|_| FormatError::Authentication { what })?;
        match body.first() {
            Some(0) => {
                body.remove(0);
                if body.len() > max_len {
                    return Err(FormatError::TooLarge {
                        what,
                        len: body.len() as u64,
                        limit: max_len as u64,
                    });
                }
                Ok(body)
            }
            Some(1) => with_decompressor(|d| d.decompress(&body[1..], max_len.min(MAX_OBJECT_LEN)))
                .map_err(|e| FormatError::Decompress {
                    what,
                    detail: e.to_string(),
                }),
            Some(other) => Err(FormatError::malformed(
                what,
                format!("unknown compression byte {other}"),
            )),
            None => Err(FormatError::malformed(what, "empty plaintext")),
        }
    }
}

// One zstd context per thread and level: creating a context per blob cost a quarter of the CPU of
// `check` and a fifth of a no-change backup (perf, see BENCHMARKS.md).
thread_local! {
    static COMPRESSORS: std::cell::RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> = const { std::cell::RefCell::new(Vec::new()) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
    /// Nonces come from a ChaCha20 generator seeded from the OS once per thread, instead of one
    /// getrandom system call per object; 192-bit nonces stay collision-free either way.
    static NONCE_RNG: std::cell::RefCell<rand::rngs::StdRng> = std::cell::RefCell::new(<rand::rngs::StdRng as rand::SeedableRng>::from_entropy());
}

fn with_compressor<T>(
    level: i32,
    f: impl FnOnce(&mut zstd::bulk::Compressor<'static>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    COMPRESSORS.with(|cell| {
        let mut list = cell.borrow_mut();
        let pos = match list.iter().position(|(l, _)| *l == level) {
            Some(p) => p,
            None => {
                list.push((level, zstd::bulk::Compressor::new(level)?));
                list.len() - 1
            }
        };
        f(&mut list[pos].1)
    })
}

fn with_decompressor<T>(
    f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        f(slot.as_mut().expect("set above"))
    })
}

fn aad(kind: ObjectKind, blob: Option<&BlobId>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + 33);
    aad.extend_from_slice(AAD_PREFIX);
    aad.push(kind as u8);
    if let Some(id) = blob {
        aad.extend_from_slice(&id.0);
    }
    aad
}

/// Compress with zstd into `out` unless the data does not compress; returns whether it did. Large
/// inputs are first probed on a sample at level 1, so incompressible images and scans (a third of
/// hospital data) cost almost nothing.
fn compress_if_worth_it(plain: &[u8], comp: Compression, out: &mut Vec<u8>) -> bool {
    if comp.level == 0 || plain.len() < 64 {
        return false;
    }
    const SAMPLE: usize = 16 * 1024;
    if plain.len() > 4 * SAMPLE {
        let mid = plain.len() / 2;
        let sample = &plain[mid - SAMPLE / 2..mid + SAMPLE / 2];
        out.clear();
        out.reserve(zstd::zstd_safe::compress_bound(SAMPLE));
        if with_compressor(1, |c| c.compress_to_buffer(sample, out)).is_err() {
            return false;
        }
        if out.len() * 100 > sample.len() * 97 {
            return false;
        }
    }
    out.clear();
    out.reserve(zstd::zstd_safe::compress_bound(plain.len()));
    let level = level_for(comp.level, plain.len());
    if with_compressor(level, |c| c.compress_to_buffer(plain, out)).is_err() {
        return false;
    }
    // Keep compression only if it saves at least ~3%: decompressing costs time on every restore.
    out.len() * 100 <= plain.len() * 97
}

/// The zstd level for an object of `len` bytes when the repository's level is `level`.
///
/// zstd picks its parameters by input size. For inputs of 128 KiB–1 MiB (the chunker's data
/// chunks) level 3's double-fast tables bought nothing over level 2's: on the benchmark's EHR
/// dumps level 2 stored 235.58 MiB against 235.70 MiB with 16 % less CPU (and in 256 KiB blocks
/// `zstd -b` even made level 3 4 % larger). For small objects (HL7 messages of 1–8 KiB, trees)
/// level 3 stays 1.2 % smaller, so they keep it. FORMAT.md section 6.
fn level_for(level: i32, len: usize) -> i32 {
    const LARGE: usize = 128 * 1024;
    if level == 3 && len >= LARGE {
        2
    } else {
        level
    }
}

/// A per-thread buffer for compressor output, kept between objects (see [`MasterKey::seal`]).
fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| f(&mut cell.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_compressible_and_not() {
        let key = MasterKey::generate();
        let text = "患者 山田太郎 INSERT INTO t VALUES (1);\n".repeat(2000);
        let mut random = vec![0u8; 200_000];
        rand::rngs::OsRng.fill_bytes(&mut random);
        for plain in [text.as_bytes(), &random[..], b"", b"x"] {
            let id = key.blob_id(plain);
            let sealed = key.seal(ObjectKind::Data, Some(&id), plain, Compression::default());
            let opened = key
                .open(ObjectKind::Data, Some(&id), &sealed, MAX_OBJECT_LEN)
                .unwrap();
            assert_eq!(opened, plain);
        }
        let sealed = key.seal(
            ObjectKind::Data,
            None,
            text.as_bytes(),
            Compression::default(),
        );
        assert!(sealed.len() < text.len() / 5, "text must compress");
        let sealed = key.seal(ObjectKind::Data, None, &random, Compression::default());
        assert_eq!(
            sealed.len(),
            random.len() + ENVELOPE_OVERHEAD + 1,
            "random data stored raw"
        );
    }

    #[test]
    fn tampering_wrong_kind_wrong_id_wrong_key_all_fail() {
        let key = MasterKey::generate();
        let id = key.blob_id(b"abc");
        let sealed = key.seal(ObjectKind::Data, Some(&id), b"abc", Compression::default());
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(key
            .open(ObjectKind::Data, Some(&id), &flipped, 100)
            .is_err());
        assert!(key.open(ObjectKind::Tree, Some(&id), &sealed, 100).is_err());
        assert!(key
            .open(ObjectKind::Data, Some(&key.blob_id(b"x")), &sealed, 100)
            .is_err());
        assert!(MasterKey::generate()
            .open(ObjectKind::Data, Some(&id), &sealed, 100)
            .is_err());
        assert!(key
            .open(ObjectKind::Data, Some(&id), &sealed[..10], 100)
            .is_err());
    }

    #[test]
    fn decompression_is_bounded() {
        let key = MasterKey::generate();
        let plain = vec![0u8; 1 << 20];
        let sealed = key.seal(ObjectKind::Data, None, &plain, Compression::default());
        assert!(key.open(ObjectKind::Data, None, &sealed, 1000).is_err());
    }

    #[test]
    fn blob_ids_are_keyed() {
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        assert_ne!(a.blob_id(b"same"), b.blob_id(b"same"));
        assert_eq!(a.blob_id(b"same"), a.blob_id(b"same"));
    }
}
