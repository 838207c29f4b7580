//! Listing a namespace: ListObjectsV2 pages of up to 1000 keys, followed by continuation token.

use std::time::SystemTime;

use super::Target;
use crate::{validate_name, FileInfo, Result};

/// List every object directly under `prefix`, following continuation tokens.
pub(super) async fn list_all(target: Target, prefix: String) -> Result<Vec<FileInfo>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = target
            .client
            .list_objects_v2()
            .bucket(&target.bucket)
            .prefix(&prefix)
            // The delimiter keeps the config listing from descending into keys/, data/, ...
            .delimiter("/")
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| target.error(e))?;
        for obj in page.contents() {
            let Some(name) = obj.key().and_then(|k| k.strip_prefix(&prefix)) else {
                continue;
            };
            // Foreign objects (uploads by other tools, probe canaries) are not repository files.
            if validate_name(name).is_err() {
                continue;
            }
            out.push(FileInfo {
                name: name.to_string(),
                size: obj.size().unwrap_or(0).max(0) as u64,
                modified: obj
                    .last_modified()
                    .and_then(|d| SystemTime::try_from(*d).ok()),
            });
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}
