//! The conformance suite every backend must pass: the local directory (unit tests of `local.rs`),
//! S3 (`tests/s3/seaweedfs.rs`, against a real SeaweedFS) and the vault (`kura` end-to-end tests,
//! `crates/cli/tests/e2e/conformance.rs`, against a real `kura serve` over HTTPS).
//!
//! Each check panics with a message naming what the backend got wrong.
//!
//! The suite writes only what a strict server accepts from a backup client, so that the same
//! checks run everywhere: pack and index files whose names are the BLAKE3 hash of their bytes (a
//! vault refuses anything else, and refuses unsealed snapshots and metadata records outright).
//! Removal is a separate right (a vault gives it only to a pruning role), so
//! [`run_all`] takes the backend twice: once to write and read, once to remove. Backends without
//! that split pass the same backend for both.

use std::sync::Arc;
use std::thread;

use crate::{Backend, FileKind, StoreError};

/// The name a content-addressed file of `data` must have (BLAKE3 hex, as `kura_format::FileId`).
pub fn name_of(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// The bytes [`large_object`] writes: 40 MiB, above every backend's multipart threshold.
pub fn large_data() -> Vec<u8> {
    (0..40u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

/// Every check. `writer` writes, reads and lists; `remover` removes (often the same backend).
pub fn run_all(writer: &dyn Backend, remover: &dyn Backend) {
    create_is_create_only(writer);
    list_and_size(writer);
    read_ranges(writer);
    missing_objects(writer, remover);
    large_object(writer, remover);
    bad_names_refused(writer);
}

pub fn create_is_create_only(b: &dyn Backend) {
    let first = b"first generation's pack";
    let name = name_of(first);
    b.create(FileKind::Pack, &name, first)
        .expect("create a new file");
    // A second writer of the same content-addressed file (a retried upload, two clients
    // deduplicating the same data) must be told "exists", which callers treat as stored.
    let err = b
        .create(FileKind::Pack, &name, first)
        .expect_err("a second create of the same name must fail");
    assert!(
        err.is_already_exists(),
        "a second create must say AlreadyExists, got {err}"
    );
    // Someone trying to replace the file with other bytes must fail too, however the backend
    // words it (a vault refuses the name as not matching the content before looking).
    b.create(FileKind::Pack, &name, b"ransom note")
        .expect_err("an existing file must never be replaced");
    assert_eq!(
        b.read(FileKind::Pack, &name).unwrap(),
        first,
        "an existing file must never be overwritten"
    );
}

pub fn list_and_size(b: &dyn Backend) {
    let contents: [&[u8]; 3] = [b"pack one", b"pack two!", b"pack three"];
    let names: Vec<String> = contents.iter().map(|c| name_of(c)).collect();
    for (name, data) in names.iter().zip(contents) {
        b.create(FileKind::Pack, name, data).unwrap();
    }
    let listed = b.list(FileKind::Pack).unwrap();
    for (name, data) in names.iter().zip(contents) {
        let found = listed.iter().find(|f| &f.name == name);
        let found = found.unwrap_or_else(|| panic!("list must include {name}: {listed:?}"));
        assert_eq!(found.size, data.len() as u64, "listed size of {name}");
        assert_eq!(b.size(FileKind::Pack, name).unwrap(), data.len() as u64);
    }
    assert!(
        b.list(FileKind::Index)
            .unwrap()
            .iter()
            .all(|f| !names.contains(&f.name)),
        "namespaces must be separate"
    );
    assert!(
        b.size(FileKind::Index, &names[0])
            .unwrap_err()
            .is_not_found(),
        "a pack must not be visible as an index file"
    );
}

pub fn read_ranges(b: &dyn Backend) {
    // Packs too: backends may read ahead on packs (S3 does), which must not change any answer.
    for kind in [FileKind::Index, FileKind::Pack] {
        read_ranges_of(b, kind);
    }
}

fn read_ranges_of(b: &dyn Backend, kind: FileKind) {
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let name = name_of(&data);
    b.create(kind, &name, &data).unwrap();
    assert_eq!(b.read_range(kind, &name, 100, 50).unwrap(), &data[100..150]);
    assert_eq!(
        b.read_range(kind, &name, 9_990, 10).unwrap(),
        &data[9_990..],
        "a range ending exactly at the end"
    );
    assert_eq!(
        b.read_range(kind, &name, 0, 10_000).unwrap(),
        data,
        "the whole file as one range"
    );
    for (offset, len) in [(9_995, 10), (10_001, 1), (u64::MAX - 1, 5)] {
        let got = b.read_range(kind, &name, offset, len);
        assert!(
            matches!(got, Err(StoreError::OutOfRange { .. })),
            "read {offset}+{len} of a 10000-byte file must be OutOfRange, got {got:?}"
        );
    }
}

pub fn missing_objects(b: &dyn Backend, remover: &dyn Backend) {
    let absent = name_of(b"never written");
    assert!(b.read(FileKind::Index, &absent).unwrap_err().is_not_found());
    assert!(b
        .read_range(FileKind::Index, &absent, 0, 1)
        .unwrap_err()
        .is_not_found());
    assert!(b.size(FileKind::Index, &absent).unwrap_err().is_not_found());
    assert!(!b.exists(FileKind::Index, &absent).unwrap());
    let err = remover.remove(FileKind::Index, &absent).unwrap_err();
    assert!(
        err.is_not_found(),
        "removing a missing file must say NotFound, got {err}"
    );
}

pub fn large_object(b: &dyn Backend, remover: &dyn Backend) {
    let big = large_data();
    let name = name_of(&big);
    b.create(FileKind::Pack, &name, &big).unwrap();
    assert_eq!(b.size(FileKind::Pack, &name).unwrap(), big.len() as u64);
    assert!(
        b.read(FileKind::Pack, &name).unwrap() == big,
        "a 40 MiB file must read back byte for byte"
    );
    assert_eq!(
        b.read_range(FileKind::Pack, &name, 30 << 20, 16).unwrap(),
        &big[30 << 20..(30 << 20) + 16]
    );
    remover.remove(FileKind::Pack, &name).unwrap();
    assert!(!b.exists(FileKind::Pack, &name).unwrap());
    assert!(
        b.list(FileKind::Pack)
            .unwrap()
            .iter()
            .all(|f| f.name != name),
        "a removed file must not be listed"
    );
}

pub fn bad_names_refused(b: &dyn Backend) {
    for bad in ["../escape", "a/b", "", ".hidden", "x\ny"] {
        assert!(
            b.create(FileKind::Pack, bad, b"x").is_err(),
            "name {bad:?} must be refused"
        );
        assert!(
            b.read(FileKind::Pack, bad).is_err(),
            "reading {bad:?} must be refused"
        );
    }
}

/// Concurrent writers of the same and different names: exactly one create of a name succeeds.
pub fn concurrent_writers(b: Arc<dyn Backend>) {
    let shared = b"the same chunk, found by eight clients at once".to_vec();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (b, shared) = (b.clone(), shared.clone());
            thread::spawn(move || {
                let mine = format!("writer {i}'s own pack").into_bytes();
                let own = b.create(FileKind::Pack, &name_of(&mine), &mine);
                let common = b.create(FileKind::Pack, &name_of(&shared), &shared);
                (own.is_ok(), common)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        results.iter().all(|r| r.0),
        "every writer's own file must be created"
    );
    assert_eq!(
        results.iter().filter(|r| r.1.is_ok()).count(),
        1,
        "exactly one create of a shared name may win"
    );
    for (_, r) in &results {
        if let Err(e) = r {
            assert!(
                e.is_already_exists(),
                "the losers must see AlreadyExists, got {e}"
            );
        }
    }
    assert_eq!(b.read(FileKind::Pack, &name_of(&shared)).unwrap(), shared);
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_concurrent_writers() {
        let dir = tempfile::tempdir().unwrap();
        super::concurrent_writers(std::sync::Arc::new(crate::LocalBackend::new(dir.path())));
    }

    #[test]
    fn names_are_blake3_hex() {
        assert_eq!(
            super::name_of(b""),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }
}
