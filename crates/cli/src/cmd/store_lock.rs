//! Locks at the store (S3 Object Lock) for locked generations: after a backup with `--lock-days`
//! and after `kura lock`, every file the generation needs is kept by the store itself at least as
//! long as Kura's lock, including packs written earlier and shared through deduplication. Then not
//! even stolen storage credentials can delete the generation before the date.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use kura_engine::prune::extend_store_locks;
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::Repository;

use crate::args::Global;

/// Extend the store's locks of `snap`'s files to `until`, and say so. Silent (and free) on
/// backends without store-enforced retention.
pub fn extend_and_report(
    g: &Global,
    repo: &Repository,
    snap: &SnapshotEntry,
    until: DateTime<Utc>,
) -> Result<()> {
    let report = extend_store_locks(repo, snap, until).with_context(|| {
        format!(
            "generation {} is locked in Kura, but the store's own lock could not be extended; run `kura lock {} --until ...` again",
            snap.id.short(),
            snap.id.short()
        )
    })?;
    if !report.supported {
        return Ok(());
    }
    if g.json {
        println!(
            "{}",
            serde_json::json!({"message_type": "store_lock", "snapshot": snap.id.to_hex(),
                "files": report.files, "until": report.until})
        );
    } else if !g.quiet {
        println!(
            "{} file(s) of generation {} are locked at the store (COMPLIANCE) until {}",
            report.files,
            snap.id.short(),
            until
                .with_timezone(&kura_policy::JST)
                .format("%Y-%m-%d %H:%M JST")
        );
    }
    Ok(())
}
