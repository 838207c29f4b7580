//! The S3 backend against a real SeaweedFS (issue 9): the conformance suite, pagination, and
//! Object Lock enforced by the store itself. Start the server with
//! `eval "$(scripts/start-seaweedfs.sh)"`; without it these tests skip (or fail when CI is set).

use crate::support as s3_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kura_store::s3::{Retention, S3SetupError};
use kura_store::{conformance, Backend, FileKind, StoreError};

#[test]
fn conformance_suite_on_a_plain_bucket() {
    let Some(s) = s3_support::server("conformance_suite_on_a_plain_bucket") else {
        return;
    };
    let bucket = s.bucket(false);
    let b = s.backup(&bucket, "hosp-a/ehr");
    conformance::run_all(&b, &b);
    conformance::concurrent_writers(Arc::new(s.backup(&bucket, "concurrent")));
    // The prefix really scopes the repository: another prefix of the same bucket sees nothing.
    assert!(s
        .backup(&bucket, "hosp-b")
        .list(FileKind::Pack)
        .unwrap()
        .is_empty());
}

#[test]
fn conformance_suite_on_an_object_lock_bucket_without_retention() {
    // A versioned bucket: remove must delete the version, not just add a delete marker.
    let Some(s) = s3_support::server("conformance_on_lock_bucket") else {
        return;
    };
    let bucket = s.bucket(true);
    let b = s.backup(&bucket, "");
    conformance::run_all(&b, &b);
    conformance::concurrent_writers(Arc::new(s.backup(&bucket, "concurrent")));
    let admin = s.admin(&bucket, "");
    let req = admin
        .client()
        .list_object_versions()
        .bucket(&bucket)
        .prefix(format!(
            "data/{}",
            conformance::name_of(&conformance::large_data())
        ))
        .send();
    let versions = admin.call(req).unwrap().expect("list versions");
    assert!(
        versions.versions().is_empty() && versions.delete_markers().is_empty(),
        "remove must delete the version itself, leaving nothing behind"
    );
}

#[test]
fn list_follows_pagination_past_a_thousand_objects() {
    let Some(s) = s3_support::server("list_follows_pagination") else {
        return;
    };
    let bucket = s.bucket(false);
    let b = Arc::new(s.backup(&bucket, "many"));
    let n = 1_050;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let b = b.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(8) {
                    b.create(FileKind::Index, &format!("{i:06}"), b"x").unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let mut names: Vec<String> = b
        .list(FileKind::Index)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    names.sort();
    let want: Vec<String> = (0..n).map(|i| format!("{i:06}")).collect();
    assert_eq!(names, want, "every object exactly once across pages");
}

#[test]
fn locked_objects_cannot_be_deleted_or_overwritten_at_the_store() {
    let Some(s) = s3_support::server("locked_objects") else {
        return;
    };
    let bucket = s.bucket(true);
    let b = s.backup(&bucket, "repo").with_lock_days(1);
    b.create(FileKind::Pack, "aa01", b"generation data")
        .unwrap();
    let head = b.head(FileKind::Pack, "aa01").unwrap();
    assert_eq!(head.lock_mode.as_deref(), Some("COMPLIANCE"));
    let until = head.retain_until.expect("retain-until date");
    let day = SystemTime::now() + Duration::from_secs(86_400);
    assert!(
        until > day - Duration::from_secs(300) && until < day + Duration::from_secs(300),
        "{until:?}"
    );

    // Through Kura: refused, and the message says until when.
    let err = b.remove(FileKind::Pack, "aa01").unwrap_err();
    assert!(matches!(err, StoreError::Denied { .. }), "{err}");
    assert!(err.to_string().contains("retention until"), "{err}");
    assert!(b
        .create(FileKind::Pack, "aa01", b"ransom note")
        .unwrap_err()
        .is_already_exists());

    // Around Kura, with the same (backup) credentials and with the admin's: the store refuses.
    let version = head.version_id.clone().expect("a lock bucket is versioned");
    for (who, backend) in [("backup", &b), ("admin", &s.admin(&bucket, "repo"))] {
        let del = backend
            .client()
            .delete_object()
            .bucket(&bucket)
            .key("repo/data/aa01")
            .version_id(&version)
            .bypass_governance_retention(true)
            .send();
        assert!(
            backend.call(del).unwrap().is_err(),
            "{who} deleted a COMPLIANCE-locked version"
        );
        let shorten = backend.extend_retention(
            FileKind::Pack,
            "aa01",
            SystemTime::now() + Duration::from_secs(60),
        );
        assert!(shorten.is_err(), "{who} shortened COMPLIANCE retention");
    }
    assert_eq!(b.read(FileKind::Pack, "aa01").unwrap(), b"generation data");

    // Retention only grows.
    let later = SystemTime::now() + Duration::from_secs(3 * 86_400);
    b.extend_retention(FileKind::Pack, "aa01", later).unwrap();
    let extended = b
        .head(FileKind::Pack, "aa01")
        .unwrap()
        .retain_until
        .unwrap();
    assert!(
        extended > until + Duration::from_secs(86_400),
        "{extended:?} vs {until:?}"
    );
}

#[test]
fn multipart_uploads_carry_the_lock_too() {
    let Some(s) = s3_support::server("multipart_lock") else {
        return;
    };
    let bucket = s.bucket(true);
    let until = SystemTime::now() + Duration::from_secs(2 * 86_400);
    let b = s
        .backup(&bucket, "")
        .with_retention(Some(Retention::Until(until)));
    let big: Vec<u8> = (0..(33u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    b.create(FileKind::Pack, "bb02", &big).unwrap();
    let head = b.head(FileKind::Pack, "bb02").unwrap();
    assert_eq!(head.size, big.len() as u64);
    assert_eq!(head.lock_mode.as_deref(), Some("COMPLIANCE"));
    let got = head.retain_until.unwrap();
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs(got), secs(until));
    assert!(b.remove(FileKind::Pack, "bb02").is_err());
    assert_eq!(b.read(FileKind::Pack, "bb02").unwrap(), big);
}

#[test]
fn the_probe_accepts_seaweedfs_and_refuses_a_bucket_without_object_lock() {
    let Some(s) = s3_support::server("probe_seaweedfs") else {
        return;
    };
    let lock_bucket = s.bucket(true);
    let report = s
        .backup(&lock_bucket, "p")
        .with_lock_days(1)
        .probe_immutable()
        .unwrap();
    assert_eq!(report.checks.len(), 4, "{report:?}");
    // Canaries stay out of every namespace Kura lists.
    for kind in FileKind::ALL {
        assert!(
            s.backup(&lock_bucket, "p").list(kind).unwrap().is_empty(),
            "{kind}"
        );
    }
    // Create-only alone passes on a plain bucket; asking for locks there is refused.
    let plain = s.bucket(false);
    assert_eq!(
        s.backup(&plain, "").probe_immutable().unwrap().checks.len(),
        2
    );
    let err = s
        .backup(&plain, "")
        .with_lock_days(1)
        .probe_immutable()
        .unwrap_err();
    assert!(
        matches!(
            err,
            S3SetupError::NotImmutable { .. } | S3SetupError::ProbeIo { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("immutable"), "{err}");
}

#[test]
fn a_missing_bucket_and_wrong_credentials_give_clear_errors() {
    let Some(s) = s3_support::server("missing_bucket") else {
        return;
    };
    let err = s
        .backup("kura-no-such-bucket", "")
        .list(FileKind::Pack)
        .unwrap_err();
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
    let bucket = s.bucket(false);
    let cfg = kura_store::s3::S3Config::with_credentials(
        &s.url(&bucket, ""),
        "nobody",
        "wrong",
        None,
        "us-east-1",
    )
    .unwrap();
    let stranger = kura_store::s3::S3Backend::new(cfg).unwrap();
    let err = stranger.create(FileKind::Pack, "cc03", b"x").unwrap_err();
    assert!(matches!(err, StoreError::Denied { .. }), "{err}");
}

#[test]
fn versions_added_over_kura_files_are_ignored() {
    // Object Lock protects versions, not keys: with write access anyone can put a new version
    // over a key or hide it behind a delete marker. Kura writes each key once, so it reads the
    // first version of a key that has more.
    let Some(s) = s3_support::server("versions_added_over_kura_files") else {
        return;
    };
    let bucket = s.bucket(true);
    let b = s.backup(&bucket, "repo").with_lock_days(1);
    let pack = b"a pack of the locked generation".to_vec();
    let (p, i) = (
        conformance::name_of(&pack),
        conformance::name_of(b"an index"),
    );
    b.create(FileKind::Pack, &p, &pack).unwrap();
    b.create(FileKind::Index, &i, b"an index").unwrap();
    let client = b.client();
    let put = client
        .put_object()
        .bucket(&bucket)
        .key(b.key(FileKind::Pack, &p))
        .body(b"encrypted by ransomware".to_vec().into())
        .send();
    b.call(put).unwrap().expect("S3 accepts a new version");
    let hide = client
        .delete_object()
        .bucket(&bucket)
        .key(b.key(FileKind::Index, &i))
        .send();
    b.call(hide).unwrap().expect("S3 accepts a delete marker");

    let fresh = s.backup(&bucket, "repo");
    // Read before any listing: the namespace is scanned on first use.
    assert_eq!(fresh.read(FileKind::Pack, &p).unwrap(), pack);
    assert_eq!(
        fresh.read_range(FileKind::Pack, &p, 2, 4).unwrap(),
        &pack[2..6]
    );
    assert_eq!(fresh.size(FileKind::Pack, &p).unwrap(), pack.len() as u64);
    let listed = fresh.list(FileKind::Index).unwrap();
    assert_eq!(listed.len(), 1, "the hidden index file is still listed");
    assert_eq!(fresh.read(FileKind::Index, &i).unwrap(), b"an index");
    assert_eq!(
        fresh.tampered_keys(),
        vec![b.key(FileKind::Pack, &p), b.key(FileKind::Index, &i)],
        "sorted: repo/data/... before repo/index/..."
    );
    // The store's lock is on Kura's version, and that is the one extensions reach.
    let locked = fresh.store_lock_until(FileKind::Pack, &p).unwrap();
    assert!(locked.is_some(), "Kura's version is locked");
    let later = SystemTime::now() + Duration::from_secs(5 * 86_400);
    assert!(fresh.extend_store_lock(FileKind::Pack, &p, later).unwrap());
    let head = fresh.head(FileKind::Pack, &p).unwrap();
    assert!(
        head.retain_until.unwrap() + Duration::from_secs(1) >= later,
        "{head:?}"
    );
    // Extending to an earlier date changes nothing (and is not an error).
    assert!(fresh
        .extend_store_lock(FileKind::Pack, &p, SystemTime::now())
        .unwrap());
    assert_eq!(fresh.head(FileKind::Pack, &p).unwrap(), head);
}

#[test]
fn removing_a_tampered_file_removes_what_was_added_over_it() {
    // When Kura removes its own version of a key someone wrote over (prune, after the lock), the
    // versions and delete markers added over it go too: otherwise the attacker's bytes would
    // surface as a file of that name, and cost storage for ever.
    let Some(s) = s3_support::server("removing_a_tampered_file") else {
        return;
    };
    let bucket = s.bucket(true);
    let b = s.backup(&bucket, "repo");
    let pack = b"a pack nobody needs any more".to_vec();
    let p = conformance::name_of(&pack);
    b.create(FileKind::Pack, &p, &pack).unwrap();
    let key = b.key(FileKind::Pack, &p);
    let client = b.client();
    for body in [&b"encrypted by ransomware"[..], &b"and again"[..]] {
        let put = client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.to_vec().into())
            .send();
        b.call(put).unwrap().expect("S3 accepts a new version");
    }
    let hide = client.delete_object().bucket(&bucket).key(&key).send();
    b.call(hide).unwrap().expect("S3 accepts a delete marker");

    let fresh = s.backup(&bucket, "repo");
    assert_eq!(fresh.read(FileKind::Pack, &p).unwrap(), pack);
    fresh.remove(FileKind::Pack, &p).unwrap();
    let versions = client
        .list_object_versions()
        .bucket(&bucket)
        .prefix(&key)
        .send();
    let left = b.call(versions).unwrap().expect("versions are listed");
    assert!(
        left.versions().is_empty() && left.delete_markers().is_empty(),
        "every version of {key} is gone: {left:?}"
    );
    let again = s.backup(&bucket, "repo");
    assert!(again.list(FileKind::Pack).unwrap().is_empty());
    assert!(again.tampered_keys().is_empty());
    assert!(fresh.tampered_keys().is_empty());
}

#[test]
fn store_locks_are_reported_and_absent_on_a_plain_bucket() {
    let Some(s) = s3_support::server("store_locks_on_a_plain_bucket") else {
        return;
    };
    let bucket = s.bucket(false);
    let b = s.backup(&bucket, "");
    let data = b"unlocked".to_vec();
    let name = conformance::name_of(&data);
    b.create(FileKind::Pack, &name, &data).unwrap();
    assert_eq!(b.store_lock_until(FileKind::Pack, &name).unwrap(), None);
    // A bucket without Object Lock cannot retain: the error says what to do.
    let err = b
        .extend_store_lock(
            FileKind::Pack,
            &name,
            SystemTime::now() + Duration::from_secs(3600),
        )
        .unwrap_err();
    assert!(err.to_string().contains("Object Lock"), "{err}");
    assert!(b.tampered_keys().is_empty());
}
