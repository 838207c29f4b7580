//! Clinical index commands and the backup hook that builds the index (issue 7).
//!
//! `kura backup --clinical ss-mix2|fhir` calls [`after_backup`] once the generation is
//! committed: the index is built from the generation's own tree ([`build`]), stored encrypted
//! beside it ([`kura_engine::clinical_store`]), and reused by the next backup for every
//! unchanged file. The views (`kura clinical summary|search|ward`) read the newest clean
//! generation's index ([`kura_engine::clinical_view`], shared with the vault server's emergency
//! viewer) and print JSON or a bilingual page ([`render`]); each view is written to the local
//! audit log with the clinician's reason (break-glass access).
//!
//! A failure to build the index never undoes the backup: the generation is saved and stays
//! restorable. The hook then prints a warning naming the command that builds the index later
//! (`kura clinical index`).

mod build;
mod render;

use std::io::IsTerminal;

use anyhow::{Context, Result};
use kura_audit::Outcome;
use kura_clinical::FileFormat;
use kura_engine::backup::BackupResult;
use kura_engine::clinical_store::{self as store, Manifest};
use kura_engine::clinical_view::{indexed_generations, ClinicalCache, ClinicalView, WardEntry};
use kura_format::FileId;
use kura_repo::snapshots::{resolve_in, SnapshotEntry};
use kura_repo::Repository;
use serde_json::{json, Value};

use crate::args::Global;
use crate::args_clinical::{ClinicalCommand, ClinicalSub, SearchBy, ViewArgs};
use crate::{exit, open};

/// Called by `kura backup --clinical FORMAT` after the generation is committed.
pub fn after_backup(
    g: &Global,
    repo: &Repository,
    result: &BackupResult,
    format: &str,
) -> Result<()> {
    let entry = SnapshotEntry {
        id: result.id,
        snapshot: result.snapshot.clone(),
    };
    if let Err(e) = index_generation(g, repo, &entry, result.parent, format) {
        eprintln!(
            "warning: generation {} is saved, but its clinical index was not built: {e:#}; build it with `kura clinical index --snapshot {} --format {format}`",
            result.id.short(),
            result.id.short()
        );
    }
    Ok(())
}

pub fn run(g: &Global, c: &ClinicalCommand) -> Result<i32> {
    let ClinicalCommand::Clinical { command } = c;
    match command {
        ClinicalSub::Summary { patient, view } => summary(g, patient, view),
        ClinicalSub::Search { by, view } => search(g, by, view),
        ClinicalSub::Ward { ward, view } => ward_list(g, ward.as_deref(), view),
        ClinicalSub::Index { snapshot, format } => {
            let repo = open::open_with_index(g)?;
            let list = repo.list_snapshots()?.snapshots;
            let entry = resolve_in(&list, snapshot)?.clone();
            index_generation(g, &repo, &entry, entry.snapshot.parent, format)?;
            Ok(exit::SUCCESS)
        }
        ClinicalSub::List { source } => list(g, source.as_deref()),
    }
}

fn threads(g: &Global) -> usize {
    if g.threads > 0 {
        return g.threads;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The index to reuse extracts from: the parent's, else the newest index of the same source.
/// Best effort: when none can be loaded every file is parsed, which is slower but correct.
fn previous_index(
    repo: &Repository,
    entry: &SnapshotEntry,
    parent: Option<FileId>,
    format: &str,
) -> Option<build::Previous> {
    let mut warnings = Vec::new();
    let candidates = indexed_generations(repo, Some(&entry.snapshot.source), &mut warnings).ok()?;
    let gen = candidates
        .iter()
        .find(|g| Some(g.entry.id) == parent)
        .or_else(|| candidates.iter().find(|g| g.entry.id != entry.id))?;
    let loaded = store::load_manifest(repo, &gen.entry.id, &gen.manifest_id).and_then(|m| {
        let index = (m.format == format)
            .then(|| store::load_extracts(repo, &m))
            .transpose()?;
        Ok((m, index))
    });
    match loaded {
        Ok((m, Some(files))) => Some(build::Previous {
            files,
            tree: gen.entry.snapshot.tree,
            paths: gen.entry.snapshot.paths.clone(),
            not_parsed: m.not_parsed,
        }),
        Ok((_, None)) => None,
        Err(e) => {
            eprintln!("warning: previous clinical index not reused ({e}): every file is parsed");
            None
        }
    }
}

fn index_generation(
    g: &Global,
    repo: &Repository,
    entry: &SnapshotEntry,
    parent: Option<FileId>,
    format_name: &str,
) -> Result<()> {
    let format: FileFormat = store::parse_format(format_name)?;
    let started = std::time::Instant::now();
    let previous = previous_index(repo, entry, parent, format_name);
    let built = build::build(repo, entry, format, previous, threads(g))?;
    let manifest = Manifest::new(
        entry.id,
        &entry.snapshot.source,
        format,
        &built.index,
        built.not_parsed.clone(),
    );
    let stored = store::save(repo, &built.index, manifest)
        .context("writing the clinical index to the repository")?;
    let r = built.index.report();
    if g.json {
        let v = json!({
            "message_type": "clinical_index",
            "snapshot": entry.id.to_hex(),
            "format": format_name,
            "manifest": stored.manifest_id.to_hex(),
            "pieces": stored.pieces, "pieces_new": stored.pieces_new,
            "report": r,
            "reused_by_directory": built.kept_by_tree,
            "not_parsed": built.not_parsed,
            "duration_seconds": started.elapsed().as_secs_f64(),
        });
        println!("{v}");
    } else if !g.quiet {
        println!("{}", report_line(format_name, r, built.not_parsed.len()));
    }
    for np in built.not_parsed.iter().take(20) {
        eprintln!("warning: clinical index: {}: {}", np.path, np.reason);
    }
    Ok(())
}

fn report_line(format: &str, r: &kura_clinical::ParseReport, not_parsed: usize) -> String {
    let reasons: Vec<String> = r.skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let reasons = if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join(", "))
    };
    format!(
        "clinical index ({format}): {} patients; {} files: {} parsed, {} reused, {} retired (_0/_2), {} skipped{reasons}, {} with warnings; {not_parsed} not parsed; records: {} deleted, {} uncertain",
        r.patients, r.files, r.parsed, r.reused, r.retired, r.skipped_total(), r.files_with_warnings,
        r.deleted_records, r.uncertain_records
    )
}

/// The reason for a view: `--reason` / `KURA_VIEW_REASON`, else asked for on a terminal.
/// Without one the view still proceeds (care must not wait) but is audited as unexplained.
fn reason(view: &ViewArgs) -> Option<String> {
    if let Some(r) = view
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        return Some(r.to_string());
    }
    if std::io::stdin().is_terminal() {
        eprint!("閲覧理由 Reason for viewing (recorded in the audit log): ");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_ok() && !line.trim().is_empty() {
            return Some(line.trim().to_string());
        }
    }
    eprintln!(
        "warning: no --reason given: this view is recorded in the audit log without a reason"
    );
    None
}

fn audit(target: &str, view: &str, reason: &Option<String>, outcome: Outcome, extra: Value) {
    crate::audit::record(
        "clinical.view",
        target,
        outcome,
        json!({"view": view, "reason": reason, "detail": extra}),
    );
}

fn summary(g: &Global, patient: &str, view: &ViewArgs) -> Result<i32> {
    let why = reason(view);
    let repo = open::open_with_index(g)?;
    let found = ClinicalView::find_patient(
        &repo,
        ClinicalCache::shared(),
        view.source.as_deref(),
        view.snapshot.as_deref(),
        patient,
    );
    match found {
        Ok((loaded, s)) => {
            print_warnings(&loaded);
            let gen = loaded.generation().entry.id.to_hex();
            audit(
                patient,
                "summary",
                &why,
                Outcome::Success,
                json!({"generation": gen}),
            );
            if g.json {
                println!("{}", render::summary_json(&loaded, &s));
            } else {
                print!("{}", render::summary_text(&loaded, &s));
            }
            Ok(exit::SUCCESS)
        }
        Err(e) => {
            let err = e.to_string();
            audit(
                patient,
                "summary",
                &why,
                Outcome::Failure,
                json!({"error": err}),
            );
            Err(e.into())
        }
    }
}

/// Problems met while choosing the generation go to stderr; the view itself proceeds.
fn print_warnings(view: &ClinicalView) {
    for w in view.warnings() {
        eprintln!("warning: {w}");
    }
}

/// The views that lists (search, ward) read.
fn list_views(repo: &Repository, view: &ViewArgs) -> Result<Vec<ClinicalView>> {
    let views = ClinicalView::newest_per_source(
        repo,
        ClinicalCache::shared(),
        view.source.as_deref(),
        view.snapshot.as_deref(),
    )?;
    views.iter().for_each(print_warnings);
    Ok(views)
}

fn search(g: &Global, by: &SearchBy, view: &ViewArgs) -> Result<i32> {
    let why = reason(view);
    let (target, query) = match (&by.kana, by.birth) {
        (Some(k), _) => (format!("search kana={k}"), json!({"kana": k})),
        (None, Some(d)) => (format!("search birth={d}"), json!({"birth": d})),
        (None, None) => anyhow::bail!("give --kana NAME or --birth YYYY-MM-DD"),
    };
    let repo = open::open_with_index(g)?;
    let loaded = list_views(&repo, view)?;
    let mut rows: Vec<(Value, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for l in &loaded {
        let hits = match (&by.kana, by.birth) {
            (Some(k), _) => l.search_kana(&repo, k)?,
            (None, Some(d)) => l.search_birth(&repo, d)?,
            (None, None) => Vec::new(),
        };
        for b in hits {
            if seen.insert(b.patient_id.clone()) {
                rows.push((render::brief_json(&b, l), render::brief_line(&b)));
            }
        }
    }
    let gens: Vec<Value> = loaded.iter().map(render::generation_json).collect();
    audit(
        &target,
        "search",
        &why,
        Outcome::Success,
        json!({"results": rows.len(), "generations": gens}),
    );
    if g.json {
        let results: Vec<&Value> = rows.iter().map(|(v, _)| v).collect();
        println!(
            "{}",
            json!({"query": query, "generations": gens, "results": results})
        );
        return Ok(exit::SUCCESS);
    }
    for l in &loaded {
        println!("{}", render::generation_line(l));
    }
    if rows.is_empty() {
        println!("該当なし no patient found");
    }
    for (_, line) in rows {
        println!("{line}");
    }
    Ok(exit::SUCCESS)
}

fn ward_list(g: &Global, ward: Option<&str>, view: &ViewArgs) -> Result<i32> {
    let why = reason(view);
    let repo = open::open_with_index(g)?;
    let loaded = list_views(&repo, view)?;
    let mut out: Vec<Value> = Vec::new();
    let mut text = String::new();
    for l in &loaded {
        text.push_str(&format!(
            "══ 病棟患者一覧 Ward list ══\n{}\n",
            render::generation_line(l)
        ));
        append_ward(l, l.ward_list(&repo, ward)?, &mut out, &mut text);
    }
    let gens: Vec<Value> = loaded.iter().map(render::generation_json).collect();
    audit(
        &format!("ward {}", ward.unwrap_or("all")),
        "ward",
        &why,
        Outcome::Success,
        json!({"inpatients": out.len(), "generations": gens}),
    );
    if g.json {
        println!("{}", json!({"generations": gens, "inpatients": out}));
    } else {
        print!("{text}");
    }
    Ok(exit::SUCCESS)
}

/// Inpatients of one index with allergies and current prescriptions, grouped by ward.
fn append_ward(l: &ClinicalView, list: Vec<WardEntry>, out: &mut Vec<Value>, text: &mut String) {
    let mut current_ward = None;
    for e in list {
        let Some(a) = &e.patient.admission else {
            continue;
        };
        if current_ward != Some(a.ward.clone()) {
            text.push_str(&format!("\n病棟 Ward {}\n", a.ward));
            current_ward = Some(a.ward.clone());
        }
        text.push_str(&format!(
            "  {}-{}  {}\n",
            a.room,
            a.bed,
            render::brief_line(&e.patient)
        ));
        let allergies: Vec<&str> = e.allergies.iter().map(|x| x.text.as_str()).collect();
        let shown = if allergies.is_empty() {
            "なし none recorded".to_string()
        } else {
            allergies.join("、")
        };
        text.push_str(&format!("      アレルギー Allergies: {shown}\n"));
        for m in &e.medications {
            text.push_str(&format!("      {}\n", render::medication_line(m)));
        }
        let mut row = render::brief_json(&e.patient, l);
        if let Value::Object(map) = &mut row {
            map.insert("allergies".into(), json!(e.allergies));
            map.insert("prescriptions".into(), json!(e.medications));
        }
        out.push(row);
    }
}

fn list(g: &Global, source: Option<&str>) -> Result<i32> {
    let repo = open::open_with_index(g)?;
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let gens = indexed_generations(&repo, source, &mut warnings)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    for gen in gens {
        let s = &gen.entry.snapshot;
        match store::load_manifest(&repo, &gen.entry.id, &gen.manifest_id) {
            Ok(m) => {
                if !g.json {
                    println!(
                        "{}  {}  {}  {}  {}",
                        gen.entry.id.short(),
                        s.source,
                        s.committed_at.format("%Y-%m-%d %H:%M UTC"),
                        render::verdict_label(gen.verdict),
                        report_line(&m.format, &m.report, m.not_parsed.len())
                    );
                }
                rows.push(json!({
                    "snapshot": gen.entry.id.to_hex(), "source": s.source,
                    "committed_at": s.committed_at.to_rfc3339(), "verdict": gen.verdict.to_string(),
                    "format": m.format, "as_of": m.as_of, "manifest": gen.manifest_id.to_hex(),
                    "report": m.report, "not_parsed": m.not_parsed,
                }));
            }
            Err(e) => eprintln!("warning: generation {}: {e}", gen.entry.id.short()),
        }
    }
    if g.json {
        println!("{}", Value::Array(rows));
    }
    Ok(exit::SUCCESS)
}
