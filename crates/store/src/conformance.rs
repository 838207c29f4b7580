//! The conformance suite every backend must pass (local now; S3 and the vault run the same).
//! Each check panics with a message naming what the backend got wrong.

use std::sync::Arc;
use std::thread;

use crate::{Backend, FileKind, StoreError};

pub fn run_all(b: &dyn Backend) {
    create_is_create_only(b);
    list_and_size(b);
    read_ranges(b);
    missing_objects(b);
    large_object(b);
    bad_names_refused(b);
}

pub fn create_is_create_only(b: &dyn Backend) {
    b.create(FileKind::Snapshot, "c0ffee01", b"first")
        .expect("create a new file");
    let err = b
        .create(FileKind::Snapshot, "c0ffee01", b"second")
        .expect_err("a second create must fail");
    assert!(
        err.is_already_exists(),
        "second create must say AlreadyExists, got {err}"
    );
    assert_eq!(
        b.read(FileKind::Snapshot, "c0ffee01").unwrap(),
        b"first",
        "an existing file must never be overwritten"
    );
}

pub fn list_and_size(b: &dyn Backend) {
    let packs = ["aa01", "aa02", "bb03"];
    for p in packs {
        b.create(FileKind::Pack, p, p.as_bytes()).unwrap();
    }
    let listed: Vec<String> = b
        .list(FileKind::Pack)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    for p in packs {
        assert!(
            listed.contains(&p.to_string()),
            "list must include {p}: {listed:?}"
        );
        assert_eq!(b.size(FileKind::Pack, p).unwrap(), 4);
    }
    assert!(
        b.list(FileKind::Index)
            .unwrap()
            .iter()
            .all(|f| !packs.contains(&f.name.as_str())),
        "namespaces must be separate"
    );
}

pub fn read_ranges(b: &dyn Backend) {
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    b.create(FileKind::Index, "range01", &data).unwrap();
    assert_eq!(
        b.read_range(FileKind::Index, "range01", 100, 50).unwrap(),
        &data[100..150]
    );
    assert_eq!(
        b.read_range(FileKind::Index, "range01", 9_990, 10).unwrap(),
        &data[9_990..]
    );
    assert!(matches!(
        b.read_range(FileKind::Index, "range01", 9_995, 10),
        Err(StoreError::OutOfRange { .. })
    ));
}

pub fn missing_objects(b: &dyn Backend) {
    assert!(b
        .read(FileKind::Index, "deadbeef")
        .unwrap_err()
        .is_not_found());
    assert!(!b.exists(FileKind::Index, "deadbeef").unwrap());
    assert!(b
        .remove(FileKind::Index, "deadbeef")
        .unwrap_err()
        .is_not_found());
}

pub fn large_object(b: &dyn Backend) {
    let big: Vec<u8> = (0..40u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    b.create(FileKind::Pack, "ff00large", &big).unwrap();
    assert_eq!(
        b.read(FileKind::Pack, "ff00large").unwrap().len(),
        big.len()
    );
    assert_eq!(
        b.read_range(FileKind::Pack, "ff00large", 30 << 20, 16)
            .unwrap(),
        &big[30 << 20..(30 << 20) + 16]
    );
    b.remove(FileKind::Pack, "ff00large").unwrap();
    assert!(!b.exists(FileKind::Pack, "ff00large").unwrap());
}

pub fn bad_names_refused(b: &dyn Backend) {
    for bad in ["../escape", "a/b", "", ".hidden"] {
        assert!(
            b.create(FileKind::Meta, bad, b"x").is_err(),
            "name {bad:?} must be refused"
        );
    }
}

/// Concurrent writers of the same and different names: exactly one create of a name succeeds.
pub fn concurrent_writers(b: Arc<dyn Backend>) {
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let b = b.clone();
            thread::spawn(move || {
                let own = b
                    .create(FileKind::Meta, &format!("writer{i}"), b"own")
                    .is_ok();
                let shared = b
                    .create(FileKind::Meta, "shared", format!("{i}").as_bytes())
                    .is_ok();
                (own, shared)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        results.iter().all(|r| r.0),
        "every writer's own file must be created"
    );
    assert_eq!(
        results.iter().filter(|r| r.1).count(),
        1,
        "exactly one create of a shared name may win"
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_concurrent_writers() {
        let dir = tempfile::tempdir().unwrap();
        super::concurrent_writers(std::sync::Arc::new(crate::LocalBackend::new(dir.path())));
    }
}
