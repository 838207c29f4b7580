//! `kura check`

use std::sync::Arc;

use anyhow::{bail, Result};
use kura_engine::check::{check, ReadData};
use kura_engine::Progress;

use crate::args::{CheckArgs, Global};
use crate::output::ProgressDisplay;
use crate::{exit, open};

fn parse_subset(s: &str) -> Result<f64> {
    let t = s.trim().trim_end_matches('%');
    match t.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => bail!("--read-data-subset {s:?}: give a percentage between 0 and 100, e.g. 10%"),
    }
}

pub fn run(g: &Global, a: &CheckArgs) -> Result<i32> {
    let repo = open::open(g)?;
    let mode = match (&a.read_data, &a.read_data_subset) {
        (true, _) => ReadData::All,
        (false, Some(s)) => ReadData::Percent(parse_subset(s)?),
        _ => ReadData::None,
    };
    let progress = Arc::new(Progress::default());
    let display = ProgressDisplay::start(progress.clone(), "check", g.json, g.quiet);
    let report = check(&repo, mode, g.threads, &progress);
    display.finish();
    let report = report?;
    if g.json {
        let mut v = serde_json::to_value(&report)?;
        v["ok"] = serde_json::Value::Bool(report.is_ok());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        for (snap, files) in &report.damaged_snapshots {
            eprintln!(
                "damaged generation {}: {} file(s) affected",
                &snap[..8.min(snap.len())],
                files.len()
            );
            for f in files.iter().take(50) {
                eprintln!("    {f}");
            }
            if files.len() > 50 {
                eprintln!("    ... and {} more", files.len() - 50);
            }
        }
        if !g.quiet {
            for n in &report.notes {
                println!("note: {n}");
            }
            println!(
                "checked {} generation(s), {} pack(s), {} blob(s); read {} pack(s) in full",
                report.snapshots, report.packs, report.blobs, report.packs_read
            );
            if report.is_ok() {
                println!("no errors were found");
            } else {
                println!("the repository is damaged: files not listed above still restore");
            }
        }
    }
    Ok(if report.is_ok() {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}
