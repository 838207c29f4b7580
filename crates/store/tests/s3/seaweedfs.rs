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
    conformance::run_all(&b);
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
    conformance::run_all(&b);
    conformance::concurrent_writers(Arc::new(s.backup(&bucket, "concurrent")));
    let admin = s.admin(&bucket, "");
    let req = admin
        .client()
        .list_object_versions()
        .bucket(&bucket)
        .prefix("data/ff00large")
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
