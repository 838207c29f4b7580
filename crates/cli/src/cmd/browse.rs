//! Read-only commands: `snapshots`, `ls`, `diff`, `dump`.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{bail, Result};
use kura_engine::walk::{dump_file, find_node, walk_tree};
use kura_format::tree::NodeType;
use kura_format::FileId;
use kura_repo::meta::MetaRecord;
use kura_repo::Repository;

use crate::args::{DiffArgs, DumpArgs, Global, LsArgs, SnapshotsArgs};
use crate::open;
use crate::output::human_bytes;

pub fn snapshots(g: &Global, a: &SnapshotsArgs) -> Result<i32> {
    let repo = open::open(g)?;
    let list = repo.list_snapshots()?;
    for (name, e) in &list.damaged {
        eprintln!("warning: generation {name} cannot be read: {e}");
    }
    let shown: Vec<_> = list
        .snapshots
        .iter()
        .filter(|s| {
            a.source
                .as_ref()
                .is_none_or(|src| &s.snapshot.source == src)
        })
        .collect();
    let drills = drills_by_generation(&repo);
    if g.json {
        let arr: Vec<serde_json::Value> = shown
            .iter()
            .map(|s| {
                let v = &s.snapshot;
                let drilled = drills.get(&s.id).map(Vec::as_slice).unwrap_or_default();
                serde_json::json!({
                    "id": s.id.to_hex(), "short_id": s.id.short(),
                    "time": v.time.to_rfc3339(), "committed_at": v.committed_at.to_rfc3339(),
                    "source": v.source, "host": v.host, "user": v.user, "paths": v.paths, "tags": v.tags,
                    "parent": v.parent.map(|p| p.to_hex()), "tree": v.tree.to_hex(),
                    "lock_days": v.lock_days, "stats": v.stats,
                    "verdict": v.verdict.as_ref().map(|x| x.verdict.clone()),
                    "score": v.verdict.as_ref().map(|x| x.score),
                    "drills": drilled.iter().map(drill_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&arr)?);
        return Ok(crate::exit::SUCCESS);
    }
    println!(
        "{:<10} {:<20} {:<12} {:<12} {:>10} {:<11} {:<7} {:<16} paths",
        "id", "time (UTC)", "source", "host", "size", "verdict", "drill", "tags"
    );
    println!("{}", "-".repeat(108));
    for s in &shown {
        let v = &s.snapshot;
        println!(
            "{:<10} {:<20} {:<12} {:<12} {:>10} {:<11} {:<7} {:<16} {}",
            s.id.short(),
            v.committed_at.format("%Y-%m-%d %H:%M:%S"),
            v.source,
            v.host,
            human_bytes(v.stats.bytes_total),
            v.verdict.as_ref().map_or("-", |x| if x.is_suspicious() {
                "SUSPICIOUS"
            } else {
                "clean"
            }),
            last_drill(drills.get(&s.id)),
            v.tags.join(","),
            v.paths.join(" ")
        );
    }
    println!("{} generation(s)", shown.len());
    Ok(crate::exit::SUCCESS)
}

/// Drill records per generation, oldest first. Unreadable records are left to `kura check`:
/// listing generations must work on a damaged repository.
fn drills_by_generation(repo: &Repository) -> HashMap<FileId, Vec<MetaRecord>> {
    let mut out: HashMap<FileId, Vec<MetaRecord>> = HashMap::new();
    let Ok((records, _)) = repo.list_meta() else {
        return out;
    };
    for (_, r) in records {
        if let MetaRecord::Drill { snapshot, .. } = &r {
            out.entry(*snapshot).or_default().push(r);
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|r| r.created_at());
    }
    out
}

fn drill_json(r: &MetaRecord) -> serde_json::Value {
    match r {
        MetaRecord::Drill {
            system,
            plan,
            passed,
            restore_seconds,
            rto_met,
            failures,
            created_at,
            actor,
            ..
        } => serde_json::json!({
            "at": created_at.to_rfc3339(), "plan": plan, "system": system, "passed": passed,
            "restore_seconds": restore_seconds, "rto_met": rto_met, "failures": failures,
            "actor": actor,
        }),
        _ => serde_json::Value::Null,
    }
}

/// The newest drill's result for the table: `passed`, `FAILED` or `-`.
fn last_drill(records: Option<&Vec<MetaRecord>>) -> &'static str {
    match records.and_then(|r| r.last()) {
        Some(MetaRecord::Drill { passed: true, .. }) => "passed",
        Some(MetaRecord::Drill { .. }) => "FAILED",
        _ => "-",
    }
}

pub fn ls(g: &Global, a: &LsArgs) -> Result<i32> {
    let repo = open::open_with_index(g)?;
    let snap = repo.resolve_snapshot(&a.snapshot)?;
    let start = a.path.clone().unwrap_or_default();
    let Some(node) = find_node(&repo, &snap.snapshot.tree, &start)? else {
        bail!("{start:?} is not in generation {}", snap.id.short());
    };
    let prefix = start.trim_matches('/').to_string();
    let mut out = std::io::stdout().lock();
    let mut print = |path: &str, n: &kura_format::tree::Node| -> std::io::Result<()> {
        if g.json {
            let v = serde_json::json!({"path": format!("/{path}"), "type": n.node_type, "size": n.size, "mode": format!("{:o}", n.mode), "mtime": n.mtime});
            writeln!(out, "{v}")
        } else {
            let t = match n.node_type {
                NodeType::Dir => 'd',
                NodeType::Symlink => 'l',
                NodeType::File => '-',
                _ => '?',
            };
            writeln!(out, "{t}{:04o} {:>12} /{path}", n.mode, n.size)
        }
    };
    match (node.node_type, node.subtree) {
        (NodeType::Dir, Some(sub)) => walk_tree(&repo, &sub, prefix.as_bytes(), &mut |e| {
            let _ = print(&String::from_utf8_lossy(&e.path), &e.node);
            Ok(true)
        })?,
        _ => {
            let _ = print(&prefix, &node);
        }
    }
    Ok(crate::exit::SUCCESS)
}

pub fn diff(g: &Global, a: &DiffArgs) -> Result<i32> {
    let repo = open::open_with_index(g)?;
    let (x, y) = (
        repo.resolve_snapshot(&a.first)?,
        repo.resolve_snapshot(&a.second)?,
    );
    let changes = kura_engine::diff::diff(&repo, &x.snapshot.tree, &y.snapshot.tree)?;
    if g.json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
    } else {
        for c in &changes {
            let mark = match c.change {
                kura_engine::diff::Change::Added => "+",
                kura_engine::diff::Change::Removed => "-",
                kura_engine::diff::Change::Modified => "M",
                kura_engine::diff::Change::Metadata => "U",
            };
            println!("{mark}    {}", c.path);
        }
        println!(
            "{} change(s) between {} and {}",
            changes.len(),
            x.id.short(),
            y.id.short()
        );
    }
    Ok(crate::exit::SUCCESS)
}

pub fn dump(g: &Global, a: &DumpArgs) -> Result<i32> {
    let repo = open::open_with_index(g)?;
    let snap = repo.resolve_snapshot(&a.snapshot)?;
    let Some(node) = find_node(&repo, &snap.snapshot.tree, &a.file)? else {
        bail!("{:?} is not in generation {}", a.file, snap.id.short());
    };
    let mut out = std::io::stdout().lock();
    dump_file(&repo, &node, &mut out)?;
    out.flush()?;
    Ok(crate::exit::SUCCESS)
}
