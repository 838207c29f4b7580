//! The immutability probe: servers lie, so test the bucket before trusting it.
//!
//! Some S3-compatible servers accept `If-None-Match` and Object Lock headers and then do nothing
//! with them (Garage ignores all of them; Ceph 16 ignores `If-None-Match` on versioned buckets and
//! lock headers on multipart uploads; see shared/notes/object-storage.md). Status codes alone prove
//! nothing, so each check looks at the *effect*:
//! 1. a create-only PUT of a fresh canary, then a second one, which must be refused (412);
//! 2. a create-only multipart completion on the same key, which must be refused too;
//! 3. (when the backend writes with retention) a PUT with COMPLIANCE retention, after which HEAD
//!    must show the mode and a retain-until date, and deleting that *version* must be refused;
//! 4. the same lock check for a multipart upload.
//!
//! Canaries live under `PREFIX/kura-probe/`, outside every namespace Kura lists. The unlocked one is
//! removed afterwards; locked ones are tiny and expire after [`PROBE_LOCK`].

use std::time::{Duration, SystemTime};

use super::{multipart, S3Backend, S3SetupError, Target};
use crate::{FileKind, StoreError};

/// How long locked canaries are kept: long enough to try deleting them, short enough not to matter.
const PROBE_LOCK: Duration = Duration::from_secs(120);

/// What the probe verified, in words, for logs and `kura` output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    pub checks: Vec<String>,
}

pub(super) fn run(b: &S3Backend) -> Result<ProbeReport, S3SetupError> {
    let mut report = ProbeReport::default();
    let location = crate::Backend::location(b);
    let refuse = |failed: String| S3SetupError::NotImmutable {
        location: location.clone(),
        failed,
    };
    let io = |source: StoreError| S3SetupError::ProbeIo {
        location: location.clone(),
        source,
    };

    let first = canary(b, "create");
    b.run(put(first.clone(), b"first".to_vec(), None))
        .map_err(io)?;
    let second = b.run(put(first.clone(), b"second".to_vec(), None));
    let multipart = b.run(multipart::upload(
        first.clone(),
        b"third".to_vec(),
        5 << 20,
        None,
    ));
    let cleanup = b.run(delete_version(first));
    expect_exists(
        second,
        "accepted a second create-only PUT of the same key (it ignores If-None-Match: *)",
    )
    .map_err(|e| e.map_or_else(&io, &refuse))?;
    report
        .checks
        .push("a second create-only PUT is refused".into());
    expect_exists(multipart, "accepted a create-only multipart upload over an existing key (it ignores If-None-Match: * on CompleteMultipartUpload)")
        .map_err(|e| e.map_or_else(&io, &refuse))?;
    report
        .checks
        .push("a create-only multipart completion over an existing key is refused".into());
    cleanup.map_err(io)?;

    if b.retention.is_some() {
        let until = SystemTime::now() + PROBE_LOCK;
        let locked = canary(b, "lock");
        b.run(put(locked.clone(), b"locked".to_vec(), Some(until)))
            .map_err(io)?;
        check_lock(b, &locked, "PUT").map_err(|e| e.map_or_else(&io, &refuse))?;
        report.checks.push(
            "a PUT with COMPLIANCE retention is locked and its version cannot be deleted".into(),
        );
        let locked_mp = canary(b, "lock-multipart");
        b.run(multipart::upload(
            locked_mp.clone(),
            b"locked".to_vec(),
            5 << 20,
            Some(until),
        ))
        .map_err(io)?;
        check_lock(b, &locked_mp, "multipart upload").map_err(|e| e.map_or_else(&io, &refuse))?;
        report.checks.push("a multipart upload with COMPLIANCE retention is locked and its version cannot be deleted".into());
    }
    Ok(report)
}

/// Outcome of one check: passed, the server lied, or a request failed for another reason (kept
/// apart so that a network error is never reported as a lying server, nor the reverse).
type Check = std::result::Result<(), CheckFailure>;

enum CheckFailure {
    Lied(String),
    Failed(StoreError),
}

impl CheckFailure {
    fn map_or_else(
        self,
        io: &impl Fn(StoreError) -> S3SetupError,
        refuse: &impl Fn(String) -> S3SetupError,
    ) -> S3SetupError {
        match self {
            CheckFailure::Lied(why) => refuse(why),
            CheckFailure::Failed(e) => io(e),
        }
    }
}

fn expect_exists(res: crate::Result<()>, lie: &str) -> Check {
    match res {
        Err(e) if e.is_already_exists() => Ok(()),
        Ok(()) => Err(CheckFailure::Lied(lie.to_string())),
        Err(e) => Err(CheckFailure::Failed(e)),
    }
}

/// HEAD must show COMPLIANCE and a future retain-until; deleting the version must be refused.
fn check_lock(b: &S3Backend, target: &Target, how: &str) -> Check {
    let head = b
        .run(target_head(target.clone()))
        .map_err(CheckFailure::Failed)?;
    let now = SystemTime::now();
    if head.lock_mode.as_deref() != Some("COMPLIANCE") || head.retain_until.is_none_or(|t| t <= now)
    {
        return Err(CheckFailure::Lied(format!(
            "stored a {how} sent with COMPLIANCE retention without that lock (HEAD shows mode {:?}, retain-until {:?}): it ignores Object Lock headers, or the bucket was not created with Object Lock",
            head.lock_mode, head.retain_until
        )));
    }
    match b.run(delete_version(target.clone())) {
        Err(StoreError::Denied { .. }) => Ok(()),
        Ok(()) => Err(CheckFailure::Lied(format!(
            "deleted the version of a {how} under COMPLIANCE retention"
        ))),
        Err(e) => Err(CheckFailure::Failed(e)),
    }
}

fn canary(b: &S3Backend, what: &str) -> Target {
    let id: u64 = rand::random();
    let name = format!("{what}-{id:016x}");
    Target {
        client: b.client.clone(),
        bucket: b.cfg.bucket.clone(),
        key: format!("{}kura-probe/{name}", b.cfg.prefix),
        version: None,
        kind: FileKind::Meta,
        name,
    }
}

async fn target_head(t: Target) -> crate::Result<super::ObjectHead> {
    t.head().await
}

async fn put(t: Target, data: Vec<u8>, until: Option<SystemTime>) -> crate::Result<()> {
    t.put(data, until).await
}

async fn delete_version(t: Target) -> crate::Result<()> {
    t.delete_version().await
}
