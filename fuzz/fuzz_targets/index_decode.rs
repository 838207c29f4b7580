//! Index files: the plaintext decoder on raw bytes, and through a genuine envelope. A plaintext that
//! decodes must encode back to the same bytes (the encoding is canonical).
#![no_main]

mod common;

use kura_format::crypto::ObjectKind;
use kura_format::index::IndexFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = common::key();
    let _ = IndexFile::open(&key, data);
    if let Ok(index) = IndexFile::decode(data) {
        assert_eq!(index.encode(), data, "decode then encode changed the bytes");
    }
    let mut plain = vec![0u8];
    plain.extend_from_slice(data);
    let sealed = common::seal_raw(ObjectKind::Index, None, &plain);
    let opened = IndexFile::open(&key, &sealed);
    assert_eq!(opened.is_ok(), IndexFile::decode(data).is_ok());
});
