//! `kura restore`

use std::sync::Arc;

use anyhow::Result;
use kura_engine::restore::{restore, RestoreOptions};
use kura_engine::Progress;

use crate::args::{Global, RestoreArgs};
use crate::output::{human_bytes, ProgressDisplay};
use crate::{exit, open};

pub fn run(g: &Global, a: &RestoreArgs) -> Result<i32> {
    let repo = open::open_with_index(g)?;
    if a.clean {
        return crate::cmd::detect::restore_clean(g, a, &repo);
    }
    let snap = repo.resolve_snapshot(a.snapshot.as_deref().unwrap_or("latest"))?;
    let opts = RestoreOptions {
        target: a.target.clone(),
        includes: a.includes.clone(),
        overwrite: a.overwrite,
        threads: g.threads,
    };
    let progress = Arc::new(Progress::default());
    let display = ProgressDisplay::start(progress.clone(), "restore", g.json, g.quiet);
    let started = std::time::Instant::now();
    let summary = restore(&repo, &snap.snapshot, &opts, &progress);
    display.finish();
    let summary = summary?;
    let secs = started.elapsed().as_secs_f64();
    if g.json {
        for p in &summary.problems {
            println!(
                "{}",
                serde_json::json!({"message_type": "error", "path": p.path, "message": p.message})
            );
        }
        let v = serde_json::json!({
            "message_type": "summary", "snapshot": snap.id.to_hex(), "target": a.target,
            "files": summary.files, "dirs": summary.dirs, "links": summary.links, "bytes": summary.bytes,
            "errors": summary.problems.len(), "duration_seconds": secs,
        });
        println!("{v}");
    } else {
        for p in &summary.problems {
            eprintln!("error: {}: {}", p.path, p.message);
        }
        if !g.quiet {
            println!(
                "restored generation {} to {}: {} files, {} directories, {} links, {} in {secs:.1} s",
                snap.id.short(),
                a.target.display(),
                summary.files,
                summary.dirs,
                summary.links,
                human_bytes(summary.bytes)
            );
        }
        if !summary.problems.is_empty() {
            eprintln!("{} path(s) were not restored correctly (listed above); everything else was verified", summary.problems.len());
        }
    }
    Ok(if summary.problems.is_empty() {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}
