//! Which version of a key is Kura's: on a versioned (Object Lock) bucket, the *first* one.
//!
//! Object Lock protects object *versions*, not keys. Someone holding the backup credentials cannot
//! delete or change a locked version, but S3 still lets them put a new version over the key (a
//! plain PUT without `If-None-Match`) or hide it behind a delete marker (a DELETE without a
//! version id); a reader that follows the key would then see the attacker's bytes, or nothing.
//! Kura writes every key exactly once (create-only), so on a versioned bucket any later version
//! and any delete marker came from someone else. Listing and reading therefore follow the oldest
//! version of each key: the tampering is reported (the key is *pinned* to its first version) and
//! the generation reads exactly as it was written. No one can slip in a version *older* than
//! Kura's. When Kura removes its version of a tampered key (a prune after the lock ended), it
//! removes what was added over it too ([`sweep_key`]).
//!
//! One ListObjectVersions pass per namespace (up to 1000 keys a request) finds every tampered key,
//! so a restore costs one extra request per thousand packs, not one per pack. Keys written after
//! the pass are read as they are. On an unversioned bucket every key has one version ("null") and
//! nothing is pinned; a server without ListObjectVersions (Garage) is listed the ordinary way.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_s3::error::ProvideErrorMetadata;

use super::{list, S3Backend, Target};
use crate::{validate_name, FileInfo, FileKind, Result};

/// What one pass over a namespace found.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Files whose first version exists (hidden ones included), described by that version.
    pub files: Vec<FileInfo>,
    /// Object key → version id of its first version, for keys that have more than one entry.
    pub pins: HashMap<String, String>,
}

/// Per key, in the order S3 lists them (newest first): the last one seen is the oldest.
#[derive(Default)]
struct KeyVersions {
    entries: usize,
    oldest: Option<(String, u64, Option<SystemTime>)>,
}

/// List every version and delete marker directly under `prefix`. `None` when the server does not
/// implement ListObjectVersions or refuses it: the caller then lists keys the ordinary way.
pub(super) async fn scan(target: &Target, prefix: &str) -> Result<Option<Scan>> {
    let mut keys: HashMap<String, KeyVersions> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let page = target
            .client
            .list_object_versions()
            .bucket(&target.bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await;
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e.code().unwrap_or_default();
                if matches!(status, Some(501 | 405)) || code == "NotImplemented" {
                    return Ok(None);
                }
                return Err(target.error(e));
            }
        };
        for v in page.versions() {
            let Some(key) = v.key() else { continue };
            let kv = keys.entry(key.to_string()).or_insert_with(|| {
                order.push(key.to_string());
                KeyVersions::default()
            });
            kv.entries += 1;
            kv.oldest = Some((
                v.version_id().unwrap_or("null").to_string(),
                v.size().unwrap_or(0).max(0) as u64,
                v.last_modified()
                    .and_then(|d| SystemTime::try_from(*d).ok()),
            ));
        }
        for m in page.delete_markers() {
            if let Some(key) = m.key() {
                keys.entry(key.to_string())
                    .or_insert_with(|| {
                        order.push(key.to_string());
                        KeyVersions::default()
                    })
                    .entries += 1;
            }
        }
        match (page.is_truncated(), page.next_key_marker()) {
            (Some(true), Some(k)) => {
                key_marker = Some(k.to_string());
                version_marker = page.next_version_id_marker().map(str::to_string);
            }
            _ => break,
        }
    }
    Ok(Some(collect(keys, order, prefix)))
}

/// After Kura's own version of a tampered key was removed, remove what others added over it
/// (later versions, delete markers); otherwise the attacker's bytes would surface as a file of
/// that name once Kura's version is gone, and they would cost storage forever. Best effort: a
/// version the store still locks (a bucket with default retention) stays until a later prune,
/// which finds it as an unindexed file. Returns how many were removed.
pub(super) async fn sweep_key(target: &Target) -> usize {
    let listed = target
        .client
        .list_object_versions()
        .bucket(&target.bucket)
        .prefix(&target.key)
        .send()
        .await;
    let Ok(page) = listed else { return 0 };
    let versions = page
        .versions()
        .iter()
        .filter(|v| v.key() == Some(target.key.as_str()))
        .filter_map(|v| v.version_id());
    let markers = page
        .delete_markers()
        .iter()
        .filter(|m| m.key() == Some(target.key.as_str()))
        .filter_map(|m| m.version_id());
    let mut removed = 0;
    for version in versions.chain(markers) {
        let deleted = target
            .client
            .delete_object()
            .bucket(&target.bucket)
            .key(&target.key)
            .version_id(version)
            .send()
            .await;
        removed += usize::from(deleted.is_ok());
    }
    removed
}

fn collect(mut keys: HashMap<String, KeyVersions>, order: Vec<String>, prefix: &str) -> Scan {
    let mut scan = Scan::default();
    for key in order {
        let Some(kv) = keys.remove(&key) else {
            continue;
        };
        // Only delete markers: the key was really deleted (or never had data Kura wrote).
        let Some((version, size, modified)) = kv.oldest else {
            continue;
        };
        let Some(name) = key.strip_prefix(prefix) else {
            continue;
        };
        // Foreign objects (uploads by other tools, probe canaries) are not repository files.
        if validate_name(name).is_err() {
            continue;
        }
        if kv.entries > 1 && version != "null" {
            scan.pins.insert(key.clone(), version);
        }
        scan.files.push(FileInfo {
            name: name.to_string(),
            size,
            modified,
        });
    }
    scan
}

impl S3Backend {
    /// List a namespace by its versions, pinning tampered keys to their first version
    /// (`s3/versions.rs`); the ordinary key listing where the server has no versions.
    pub(super) fn scan(&self, kind: FileKind) -> Result<Vec<FileInfo>> {
        let target = Target::new(self, kind, "list");
        let prefix = match kind {
            FileKind::Config => self.cfg.prefix.clone(),
            k => format!("{}{}/", self.cfg.prefix, k.dir()),
        };
        let (files, pins) = self.run(async move {
            match scan(&target, &prefix).await? {
                Some(scan) => Ok((scan.files, scan.pins)),
                None => Ok((list::list_all(target, prefix).await?, HashMap::new())),
            }
        })?;
        if let Ok(mut p) = self.pins.lock() {
            p.scanned.insert(kind);
            p.keys.extend(pins);
        }
        Ok(files)
    }

    /// Scan `kind` once before its first read, so that tampered keys are read at their first
    /// version even when nothing listed the namespace (a restore reads packs without listing).
    pub(super) fn scanned(&self, kind: FileKind) -> Result<()> {
        let done = self.pins.lock().map_or(true, |p| p.scanned.contains(&kind));
        if done {
            return Ok(());
        }
        self.scan(kind).map(drop)
    }

    /// Keys found with versions or delete markers added over Kura's own, by namespace: what
    /// someone other than Kura wrote (only keys of namespaces listed or read so far).
    pub fn tampered_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .pins
            .lock()
            .map(|p| p.keys.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }
}
