//! Object Lock on S3: setting and extending COMPLIANCE retention, and saying until when a refused
//! delete is locked.
//!
//! COMPLIANCE (not GOVERNANCE) because governance retention can be bypassed by anyone holding
//! `s3:BypassGovernanceRetention`, which storage owners usually have and Ceph 16 even grants
//! without asking (shared/notes/object-storage.md §2b); compliance retention cannot be shortened
//! or removed by anyone before its date, which is the point against stolen credentials.

use std::time::SystemTime;

use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use aws_sdk_s3::types::{ObjectLockRetention, ObjectLockRetentionMode};

use super::{ObjectHead, Target};
use crate::{Result, StoreError};

/// PutObjectRetention (COMPLIANCE until `until`) on one version of the target.
pub(super) async fn put_retention(
    target: &Target,
    version_id: Option<String>,
    until: SystemTime,
) -> Result<()> {
    let retention = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(DateTime::from(until))
        .build();
    target
        .client
        .put_object_retention()
        .bucket(&target.bucket)
        .key(&target.key)
        .set_version_id(version_id)
        .retention(retention)
        .send()
        .await
        .map(drop)
        .map_err(|e| no_lock_config(target.error(e)))
}

/// Keep the target's current version at least until `until`: a version already locked as long
/// is left alone (one HEAD, no write), anything shorter is extended.
pub(super) async fn extend(target: &Target, until: SystemTime) -> Result<()> {
    let head = target.head().await?;
    let whole_seconds = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    // Stores keep retain-until dates to the second (or millisecond): compare in whole seconds so
    // a lock that is already long enough is not rewritten because of a fraction.
    if head.lock_mode.is_some()
        && head
            .retain_until
            .is_some_and(|t| whole_seconds(t) >= whole_seconds(until))
    {
        return Ok(());
    }
    put_retention(target, head.version_id, until).await
}

/// A bucket created without Object Lock refuses retention with a terse code: say what to do.
fn no_lock_config(err: StoreError) -> StoreError {
    match err {
        StoreError::Io { kind, name, source }
            if source.to_string().contains("ObjectLockConfiguration")
                || source.to_string().contains("InvalidRequest") =>
        {
            StoreError::Io {
                kind,
                name,
                source: std::io::Error::other(format!(
                    "the bucket has no Object Lock, so the store cannot retain this file ({source}); \
                     have the storage administrator create the bucket with Object Lock enabled"
                )),
            }
        }
        other => other,
    }
}

/// A refused delete of a locked version says until when the lock holds.
pub(super) fn locked_or(err: StoreError, head: &ObjectHead) -> StoreError {
    match (err, head.retain_until) {
        (StoreError::Denied { kind, name, detail }, Some(until)) => StoreError::Denied {
            kind,
            name,
            detail: format!(
                "{detail}; the object is under {} retention until {} and cannot be deleted before then",
                head.lock_mode.as_deref().unwrap_or("Object Lock"),
                format_time(until)
            ),
        },
        (err, _) => err,
    }
}

/// An RFC 3339 time for messages.
pub(super) fn format_time(t: SystemTime) -> String {
    DateTime::from(t)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}
