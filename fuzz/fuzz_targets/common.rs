//! Helpers shared by the targets.
//!
//! Random bytes almost never pass Poly1305 authentication, so a target that only fed raw input to
//! `MasterKey::open` would exercise nothing after the tag check. The targets therefore also *seal*
//! fuzzer-chosen plaintexts with a fixed key and open them again, which reaches the compression byte,
//! the zstd bound and the decoders behind the envelope. [`seal_raw`] builds an envelope by hand, from
//! FORMAT.md alone, so that the plaintext (including its compression byte) is entirely the fuzzer's:
//! `MasterKey::seal` would always write a well-formed one. That it opens with `MasterKey::open` also
//! checks the document against the code.
#![allow(dead_code)]

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use kura_format::crypto::{MasterKey, ObjectKind};
use kura_format::BlobId;

/// Fixed key bytes: 32 bytes of encryption key, then 32 bytes of blob-id key.
const KEY_BYTES: [u8; 64] = {
    let mut k = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        k[i] = i as u8 ^ 0x5a;
        i += 1;
    }
    k
};

/// The fixed master key every target uses.
pub fn key() -> MasterKey {
    MasterKey::from_bytes(&KEY_BYTES).expect("64 bytes make a master key")
}

/// An envelope (FORMAT.md "The envelope") around `plaintext` exactly as given: its first byte is the
/// compression byte. The nonce is fixed so that a crashing input reproduces.
pub fn seal_raw(kind: ObjectKind, blob: Option<&BlobId>, plaintext: &[u8]) -> Vec<u8> {
    let nonce = [0x24u8; 24];
    let mut aad = b"kura-v1".to_vec();
    aad.push(kind as u8);
    if let Some(id) = blob {
        aad.extend_from_slice(&id.0);
    }
    let mut body = plaintext.to_vec();
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&KEY_BYTES[..32]));
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut body)
        .expect("in-memory encryption of a fuzz input cannot fail");
    let mut out = vec![1u8];
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    out.extend_from_slice(&tag);
    out
}

/// Every object kind, chosen by a byte of input.
pub fn kind_from(b: u8) -> ObjectKind {
    ObjectKind::from_u8(b % 7 + 1).expect("1..=7 are all kinds")
}
