//! Unit tests of the S3 backend that need no server.
use super::*;

#[test]
fn content_range_total() {
    assert_eq!(
        total_from_content_range("bytes 9995-9999/10000"),
        Some(10000)
    );
    assert_eq!(total_from_content_range("bytes */77"), Some(77));
    assert_eq!(total_from_content_range("garbage"), None);
}

#[test]
fn keys_follow_the_local_layout() {
    let cfg = S3Config::with_credentials(
        "s3:http://127.0.0.1:1/bucket/a/b",
        "k",
        "s",
        None,
        "us-east-1",
    )
    .unwrap();
    let b = S3Backend::new(cfg).unwrap();
    assert_eq!(b.key(FileKind::Config, "config"), "a/b/config");
    assert_eq!(b.key(FileKind::Config, "config.copy"), "a/b/config.copy");
    assert_eq!(b.key(FileKind::Pack, "ab12"), "a/b/data/ab12");
    assert_eq!(b.key(FileKind::Snapshot, "ff"), "a/b/snapshots/ff");
    assert_eq!(b.location(), "s3:http://127.0.0.1:1/bucket/a/b");
}

#[test]
fn retention_days_count_from_the_write() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    assert_eq!(
        Retention::Days(2).until(now),
        now + Duration::from_secs(2 * 86_400)
    );
    let fixed = now + Duration::from_secs(5);
    assert_eq!(Retention::Until(fixed).until(now), fixed);
}
