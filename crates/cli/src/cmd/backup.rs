//! `kura backup`

use std::sync::Arc;

use anyhow::{bail, Result};
use kura_engine::backup::{backup, BackupInput, BackupOptions, BackupResult};
use kura_engine::Progress;

use crate::args::{BackupArgs, Global};
use crate::output::{human_bytes, ProgressDisplay};
use crate::{exit, open};

pub fn run(g: &Global, a: &BackupArgs) -> Result<i32> {
    let backend = open::backend_for_lock(g, a.lock_days)?;
    let (repo, store_lock_days) = with_policy_lock(g, open::open_on(g, backend)?, a.lock_days);
    let repo = open::load_index(g, repo)?;
    let opts = BackupOptions {
        source: a.source.clone(),
        tags: a.tags.clone(),
        excludes: a.excludes.clone(),
        host: a.host.clone(),
        force: a.force,
        threads: g.threads,
        lock_days: a.lock_days,
        stream_paths: vec![],
        detect: !a.no_detect,
    };
    if a.source.trim().is_empty() || a.source.contains(['/', '\n']) {
        bail!(
            "--source {:?}: use a short name such as ehr-db or ssmix2",
            a.source
        );
    }
    let progress = Arc::new(Progress::default());
    let display = ProgressDisplay::start(progress.clone(), "backup", g.json, g.quiet);
    let result = if a.stdin_from_command {
        if a.command.is_empty() {
            bail!("--stdin-from-command needs the command after `--`, e.g. -- pg_dump -Fc ehr");
        }
        let input = BackupInput::Command {
            name: a.stdin_filename.clone(),
            argv: a.command.clone(),
        };
        backup(&repo, input, &opts, &progress).map_err(anyhow::Error::from)
    } else if a.stdin {
        let input = BackupInput::Stream {
            name: a.stdin_filename.clone(),
            reader: Box::new(std::io::stdin()),
        };
        backup(&repo, input, &opts, &progress).map_err(anyhow::Error::from)
    } else {
        if a.paths.is_empty() {
            bail!("nothing to back up: give one or more paths, --stdin, or --stdin-from-command -- CMD");
        }
        backup(&repo, BackupInput::Paths(a.paths.clone()), &opts, &progress)
            .map_err(anyhow::Error::from)
    };
    display.finish();
    let result = result?;
    if let Some(format) = &a.clinical {
        crate::cmd::clinical::after_backup(g, &repo, &result, format)?;
    }
    report(g, &result);
    if let Some(days) = store_lock_days {
        let until = result.snapshot.committed_at + chrono::Duration::days(i64::from(days));
        let entry = kura_repo::snapshots::SnapshotEntry {
            id: result.id,
            snapshot: result.snapshot.clone(),
        };
        crate::cmd::store_lock::extend_and_report(g, &repo, &entry, until)?;
    }
    if let Some(v) = result
        .snapshot
        .verdict
        .as_ref()
        .filter(|v| v.is_suspicious())
    {
        if let Some(hook) = &a.on_suspicious {
            run_hook(hook, &result, v);
        }
        return Ok(exit::SUSPICIOUS);
    }
    Ok(if result.warnings.is_empty() {
        exit::SUCCESS
    } else {
        exit::WARNINGS
    })
}

/// The repository to write through, and for how many days the store itself must lock the new
/// generation. The policy's `min_lock_days` locks every generation in Kura's records; on an S3
/// bucket with Object Lock the store must keep its objects that long too, or stolen storage
/// credentials could still delete a generation Kura calls locked. A bucket that cannot lock is
/// not an error here (unlike an explicit `--lock-days`): the policy also serves local and vault
/// repositories, and refusing every backup would be worse than a lock kept only by Kura, which
/// the warning says.
fn with_policy_lock(
    g: &Global,
    repo: kura_repo::Repository,
    lock_days: Option<u32>,
) -> (kura_repo::Repository, Option<u32>) {
    let asked = lock_days.filter(|d| *d > 0);
    // Only S3 has store-enforced locks: elsewhere the policy is not even read (it means reading
    // every meta record, requests a backup should not pay for nothing).
    if !g.repo.as_deref().is_some_and(|r| r.starts_with("s3:")) {
        return (repo, asked);
    }
    // A damaged record must not stop a backup; forget and prune refuse on it and `check` names it.
    let policy_days = repo
        .retention_state()
        .ok()
        .and_then(|s| s.policy)
        .and_then(|p| p.min_lock_days)
        .filter(|d| *d > 0 && asked.is_none_or(|a| *d > a));
    let Some(days) = policy_days else {
        return (repo, asked);
    };
    match open::backend_for_lock(g, Some(days)) {
        Ok(backend) => (repo.on_backend(backend), Some(days)),
        Err(e) => {
            if !g.quiet {
                eprintln!(
                    "warning: the policy locks every generation for {days} days, but this bucket cannot lock objects ({e:#}); the lock is kept in Kura's records only. Use a bucket with S3 Object Lock to make the store enforce it."
                );
            }
            (repo, asked)
        }
    }
}

/// The `--on-suspicious` hook: alert someone (mail, chat, a SIEM) the moment a suspicious
/// generation is written. Its failure is reported but does not change the backup's result.
fn run_hook(hook: &str, r: &BackupResult, v: &kura_format::snapshot::StoredVerdict) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(hook)
        .env("KURA_SNAPSHOT", r.id.to_hex())
        .env("KURA_SOURCE", &r.snapshot.source)
        .env("KURA_SCORE", format!("{:.0}", v.score))
        .env("KURA_REASONS", v.reasons.join("\n"))
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("warning: the --on-suspicious command failed ({s})"),
        Err(e) => eprintln!("warning: cannot run the --on-suspicious command: {e}"),
    }
}

fn report(g: &Global, r: &BackupResult) {
    let s = &r.snapshot.stats;
    if g.json {
        for w in &r.warnings {
            println!(
                "{}",
                serde_json::json!({"message_type": "warning", "path": w.path, "message": w.message})
            );
        }
        let v = serde_json::json!({
            "message_type": "summary",
            "snapshot": r.id.to_hex(),
            "parent": r.parent.map(|p| p.to_hex()),
            "source": r.snapshot.source,
            "files_new": s.files_new, "files_changed": s.files_changed, "files_unchanged": s.files_unchanged,
            "dirs": s.dirs, "bytes_read": s.bytes_read, "bytes_total": s.bytes_total,
            "bytes_added": s.bytes_added, "blobs_added": s.blobs_added,
            "warnings": r.warnings.len(), "duration_seconds": s.duration_ms as f64 / 1000.0,
            "verdict": r.snapshot.verdict.as_ref().map(|v| v.verdict.clone()),
            "score": r.snapshot.verdict.as_ref().map(|v| v.score),
            "reasons": r.snapshot.verdict.as_ref().map(|v| v.reasons.clone()).unwrap_or_default(),
        });
        println!("{v}");
        return;
    }
    for w in &r.warnings {
        eprintln!("warning: {}: {}", w.path, w.message);
    }
    if g.quiet {
        return;
    }
    println!(
        "generation {} saved (source {})",
        r.id.short(),
        r.snapshot.source
    );
    println!(
        "files: {} new, {} changed, {} unchanged; {} directories",
        s.files_new, s.files_changed, s.files_unchanged, s.dirs
    );
    println!(
        "read {} of {}; added {} after deduplication and compression; {:.1} s",
        human_bytes(s.bytes_read),
        human_bytes(s.bytes_total),
        human_bytes(s.bytes_added),
        s.duration_ms as f64 / 1000.0
    );
    if !r.warnings.is_empty() {
        println!(
            "completed with {} warning(s): the files named above are not in this generation",
            r.warnings.len()
        );
    }
    if let Some(v) = &r.snapshot.verdict {
        if v.is_suspicious() {
            println!(
                "SUSPICIOUS generation (score {:.0}/100): possible ransomware activity",
                v.score
            );
            for reason in &v.reasons {
                println!("  - {reason}");
            }
            println!(
                "see `kura analyze {}` and `kura clean-point --source {}`",
                r.id.short(),
                r.snapshot.source
            );
        } else {
            println!("verdict: clean (score {:.0}/100)", v.score);
        }
    }
}
