//! Snapshots: JSON through `Snapshot::open` (envelope, size bound, JSON, version check). A snapshot
//! that opens must seal and open again to an equal value: Kura must be able to read what it writes.
#![no_main]

mod common;

use kura_format::crypto::{Compression, ObjectKind};
use kura_format::snapshot::Snapshot;
use kura_format::FORMAT_VERSION;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = common::key();
    let _ = Snapshot::open(&key, data);
    let sealed = key.seal(ObjectKind::Snapshot, None, data, Compression { level: 0 });
    let Ok(snap) = Snapshot::open(&key, &sealed) else {
        return;
    };
    assert!(snap.version <= FORMAT_VERSION);
    let again = Snapshot::open(&key, &snap.seal(&key)).expect("a snapshot Kura wrote must open");
    assert_eq!(again, snap);
});
