//! The envelope: `MasterKey::open` on raw bytes (must never panic) and on envelopes whose plaintext
//! is the fuzzer's (compression byte and payload), which must open exactly as FORMAT.md says.
#![no_main]

mod common;

use kura_format::crypto::ObjectKind;
use kura_format::BlobId;
use kura_format::FormatError;
use libfuzzer_sys::fuzz_target;

/// Small enough that a zstd bomb is refused quickly, large enough for real objects in the corpus.
const MAX_LEN: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let key = common::key();
    let kind = common::kind_from(selector);
    let blob = (selector & 0x80 != 0).then_some(BlobId([selector; 32]));

    // Raw bytes from disk: any result but a panic is fine; success would mean a forged tag.
    if key.open(kind, blob.as_ref(), rest, MAX_LEN).is_ok() {
        panic!("random bytes passed authentication");
    }

    // A genuine envelope around arbitrary plaintext.
    let sealed = common::seal_raw(kind, blob.as_ref(), rest);
    let opened = key.open(kind, blob.as_ref(), &sealed, MAX_LEN);
    match (rest.first(), &opened) {
        (Some(0), Ok(plain)) => assert_eq!(plain.as_slice(), &rest[1..]),
        (Some(0), Err(FormatError::TooLarge { .. })) => assert!(rest.len() - 1 > MAX_LEN),
        (Some(0), Err(e)) => panic!("a stored plaintext must open: {e}"),
        (Some(1), Ok(plain)) => assert!(plain.len() <= MAX_LEN),
        (Some(1), Err(FormatError::Decompress { .. })) => {}
        (Some(1), Err(e)) => panic!("a zstd plaintext fails only in decompression: {e}"),
        (None, Err(FormatError::Truncated { .. })) => {}
        (_, Ok(_)) => panic!("unknown or missing compression byte accepted"),
        (_, Err(FormatError::Malformed { .. })) => {}
        (_, Err(e)) => panic!("unexpected error for a bad compression byte: {e}"),
    }

    // The associated data binds kind and blob id: the same envelope under another kind must fail.
    let other = if kind == ObjectKind::Data {
        ObjectKind::Tree
    } else {
        ObjectKind::Data
    };
    assert!(key.open(other, blob.as_ref(), &sealed, MAX_LEN).is_err());
});
