//! Ransomware verdicts: `analyze`, `clean-point`, `restore --clean`.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use kura_engine::clean::{
    assemble, newest_clean, restore_clean as engine_restore_clean, source_generations,
};
use kura_engine::restore::RestoreOptions;
use kura_engine::Progress;
use kura_repo::Repository;
use serde_json::json;

use crate::args::{AnalyzeArgs, CleanPointArgs, Global, RestoreArgs};
use crate::output::ProgressDisplay;
use crate::{exit, open};

pub fn analyze(g: &Global, a: &AnalyzeArgs) -> Result<i32> {
    let repo = open::open(g)?;
    let snap = repo.resolve_snapshot(a.snapshot.as_deref().unwrap_or("latest"))?;
    let Some(v) = &snap.snapshot.verdict else {
        bail!(
            "generation {} has no verdict: it was backed up from a stream or with --no-detect",
            snap.id.short()
        );
    };
    if g.json {
        let out = json!({
            "snapshot": snap.id.to_hex(), "source": snap.snapshot.source,
            "committed_at": snap.snapshot.committed_at.to_rfc3339(),
            "verdict": v.verdict, "score": v.score, "reasons": v.reasons, "summary": v.summary,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "generation {} (source {}, {})",
            snap.id.short(),
            snap.snapshot.source,
            snap.snapshot.committed_at.format("%Y-%m-%d %H:%M UTC")
        );
        println!("verdict: {} (score {:.0}/100)", v.verdict, v.score);
        for r in &v.reasons {
            println!("  - {r}");
        }
        if v.reasons.is_empty() {
            println!("  no signal above this source's usual level");
        }
    }
    Ok(exit::SUCCESS)
}

fn sources(repo: &Repository, only: Option<&str>) -> Result<Vec<String>> {
    let list = repo.list_snapshots()?;
    let all: BTreeSet<String> = list
        .snapshots
        .iter()
        .map(|s| s.snapshot.source.clone())
        .collect();
    match only {
        Some(s) if all.contains(s) => Ok(vec![s.to_string()]),
        Some(s) => bail!(
            "no generation of source {s:?}: sources are {}",
            all.into_iter().collect::<Vec<_>>().join(", ")
        ),
        None => Ok(all.into_iter().collect()),
    }
}

pub fn clean_point(g: &Global, a: &CleanPointArgs) -> Result<i32> {
    let repo = open::open_with_index(g)?;
    let mut out = Vec::new();
    for source in sources(&repo, a.source.as_deref())? {
        let list = source_generations(&repo, &source)?;
        let clean = newest_clean(&list);
        let assembled = assemble(&repo, &list)?;
        let from_older = assembled
            .assembly
            .files
            .iter()
            .filter(|f| f.generation.0 != list.last().map(|l| l.id.to_hex()).unwrap_or_default())
            .count();
        let suspicious: Vec<String> = list
            .iter()
            .filter(|s| {
                s.snapshot
                    .verdict
                    .as_ref()
                    .is_some_and(|v| v.is_suspicious())
            })
            .map(|s| s.id.to_hex())
            .collect();
        out.push(json!({
            "source": source,
            "snapshot": clean.map(|c| c.id.to_hex()),
            "committed_at": clean.map(|c| c.snapshot.committed_at.to_rfc3339()),
            "generations": list.len(),
            "suspicious_generations": suspicious,
            "files": assembled.assembly.files.len(),
            "files_from_older_generations": from_older,
            "files_without_valid_version": assembled.assembly.excluded.len(),
        }));
    }
    if g.json {
        let v = if a.source.is_some() {
            out.into_iter().next().unwrap_or_default()
        } else {
            serde_json::Value::Array(out)
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for o in &out {
            match o["snapshot"].as_str() {
                Some(id) => println!(
                    "{}: newest clean generation {} ({})",
                    o["source"].as_str().unwrap_or(""),
                    &id[..8],
                    o["committed_at"].as_str().unwrap_or("")
                ),
                None => println!(
                    "{}: NO clean generation",
                    o["source"].as_str().unwrap_or("")
                ),
            }
            let n = o["suspicious_generations"]
                .as_array()
                .map_or(0, |a| a.len());
            if n > 0 {
                println!(
                    "    {n} suspicious generation(s); per file, {} of {} files need an older version, {} have no valid version (kura restore --clean)",
                    o["files_from_older_generations"], o["files"], o["files_without_valid_version"]
                );
            }
        }
    }
    Ok(exit::SUCCESS)
}

pub fn restore_clean(g: &Global, a: &RestoreArgs, repo: &Repository) -> Result<i32> {
    let source = match &a.source {
        Some(s) => s.clone(),
        None => match sources(repo, None)?.as_slice() {
            [one] => one.clone(),
            many => bail!(
                "the repository holds several sources ({}): choose one with --source",
                many.join(", ")
            ),
        },
    };
    let list = source_generations(repo, &source)?;
    let assembled = assemble(repo, &list)?;
    let opts = RestoreOptions {
        target: a.target.clone(),
        includes: vec![],
        overwrite: a.overwrite,
        threads: g.threads,
    };
    let progress = Arc::new(Progress::default());
    let display = ProgressDisplay::start(progress.clone(), "restore", g.json, g.quiet);
    let summary = engine_restore_clean(repo, &assembled, &opts, &progress);
    display.finish();
    let summary = summary?;
    let report_path = a.report.clone().unwrap_or_else(|| {
        let name = a
            .target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "restore".into());
        a.target.with_file_name(format!("{name}.clean-report.json"))
    });
    let report = json!({
        "source": source,
        "target": a.target,
        "newest_clean_generation": assembled.assembly.newest_clean.as_ref().map(|g| g.0.clone()),
        "files": assembled.assembly.files,
        "excluded": assembled.assembly.excluded,
        "restored_files": summary.files,
        "errors": summary.problems,
    });
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing the report {}", report_path.display()))?;
    crate::audit::record(
        "restore.clean",
        &source,
        kura_audit::Outcome::Success,
        json!({"files": summary.files, "report": report_path}),
    );
    let older = assembled
        .assembly
        .files
        .iter()
        .filter(|f| {
            Some(&f.generation)
                != list
                    .last()
                    .map(|l| kura_anomaly::GenerationId(l.id.to_hex()))
                    .as_ref()
        })
        .count();
    if g.json {
        println!(
            "{}",
            json!({"message_type": "summary", "source": source, "files": summary.files, "from_older_generations": older, "excluded": assembled.assembly.excluded.len(), "report": report_path, "errors": summary.problems.len()})
        );
    } else {
        println!(
            "restored {} files of source {source} to {}: {older} from older generations, {} without any valid version (not restored); report: {}",
            summary.files,
            a.target.display(),
            assembled.assembly.excluded.len(),
            report_path.display()
        );
    }
    Ok(if summary.problems.is_empty() {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}
