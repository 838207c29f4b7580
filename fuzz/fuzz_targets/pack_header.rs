//! Pack trailer and header: raw bytes as a whole pack (must never panic), and packs built around a
//! fuzzer-chosen header plaintext, whose accepted entries must all lie inside the blob area, in order.
#![no_main]

mod common;

use kura_format::crypto::{ObjectKind, ENVELOPE_OVERHEAD};
use kura_format::pack::{check_magic, decode_header, parse_trailer, PACK_MAGIC, TRAILER_LEN};
use libfuzzer_sys::fuzz_target;

/// What a reader does with a pack file it has read whole (check --read-data, repair index).
fn read_pack(bytes: &[u8]) {
    let key = common::key();
    if check_magic(bytes).is_err() || bytes.len() < TRAILER_LEN {
        return;
    }
    let n = bytes.len();
    let Ok(h) = parse_trailer(&bytes[n - TRAILER_LEN..], n as u64) else {
        return;
    };
    let h = h as usize;
    assert!(
        h + TRAILER_LEN + PACK_MAGIC.len() <= n,
        "trailer accepted a header that does not fit"
    );
    let header = &bytes[n - TRAILER_LEN - h..n - TRAILER_LEN];
    if let Ok(entries) = decode_header(&key, header, n as u64) {
        let blob_end = (n - TRAILER_LEN - h) as u64;
        let mut next = PACK_MAGIC.len() as u64;
        for e in entries {
            assert!(e.offset as u64 >= next, "entries overlap or go backwards");
            next = e.offset as u64 + e.length as u64;
            assert!(next <= blob_end, "entry runs into the header");
            assert!(e.length as usize >= ENVELOPE_OVERHEAD);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read_pack(data);
    if data.len() < 2 {
        return;
    }
    // Structured: two bytes of blob-area length, then the header plaintext (uncompressed).
    let area = u16::from_le_bytes([data[0], data[1]]) as usize;
    let mut plain = vec![0u8];
    plain.extend_from_slice(&data[2..]);
    let header = common::seal_raw(ObjectKind::PackHeader, None, &plain);
    let mut pack = PACK_MAGIC.to_vec();
    pack.resize(PACK_MAGIC.len() + area, 0);
    pack.extend_from_slice(&header);
    pack.extend_from_slice(&(header.len() as u32).to_le_bytes());
    pack.extend_from_slice(b"KPK1");
    let n = pack.len();
    let h =
        parse_trailer(&pack[n - TRAILER_LEN..], n as u64).expect("a well-formed trailer parses");
    assert_eq!(h as usize, header.len());
    read_pack(&pack);
});
