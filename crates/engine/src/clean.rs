//! The last clean state of a source: the newest generation not judged suspicious, and, after a
//! slow attack where no single generation is clean, the newest valid version of every file
//! assembled across generations (kura-anomaly decides what "valid" means per file).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use kura_anomaly::{
    assemble_clean, default_validity, CleanAssembly, ContentId, FileVersion, GenerationFiles,
    GenerationId, VerdictKind,
};
use kura_format::tree::{Node, NodeType};
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::Repository;

use crate::detect::from_stored;
use crate::error::{EngineError, Result};
use crate::progress::Progress;
use crate::restore::{restore_items, Item, RestoreOptions, RestoreSummary};
use crate::walk::walk_tree;

/// Generations of a source, oldest first.
pub fn source_generations(repo: &Repository, source: &str) -> Result<Vec<SnapshotEntry>> {
    Ok(repo
        .list_snapshots()?
        .snapshots
        .into_iter()
        .filter(|s| s.snapshot.source == source)
        .collect())
}

/// The newest generation of the source not judged suspicious. Generations without a verdict
/// (streams such as database dumps are not analysed file by file) count as clean.
pub fn newest_clean(list: &[SnapshotEntry]) -> Option<&SnapshotEntry> {
    list.iter().rev().find(|s| {
        !s.snapshot
            .verdict
            .as_ref()
            .is_some_and(|v| v.is_suspicious())
    })
}

/// Every file's newest valid version across the source's generations, and the nodes to restore.
pub struct Assembly {
    pub assembly: CleanAssembly,
    nodes: HashMap<(String, String), Node>,
}

pub fn assemble(repo: &Repository, list: &[SnapshotEntry]) -> Result<Assembly> {
    let mut generations = Vec::with_capacity(list.len());
    let mut nodes = HashMap::new();
    for s in list {
        let gid = s.id.to_hex();
        let mut files = BTreeMap::new();
        walk_tree(repo, &s.snapshot.tree, b"", &mut |e| {
            if e.node.node_type == NodeType::File {
                let path = String::from_utf8_lossy(&e.path).into_owned();
                let summary = e
                    .node
                    .sig
                    .as_ref()
                    .and_then(|c| from_stored(c, e.node.size))
                    .or_else(|| neutral(e.node.size));
                if let Some(summary) = summary {
                    let content = ContentId(
                        e.node
                            .content
                            .iter()
                            .map(|c| c.short())
                            .collect::<Vec<_>>()
                            .join(""),
                    );
                    files.insert(path.clone(), FileVersion { content, summary });
                    nodes.insert((gid.clone(), path), e.node.clone());
                }
            }
            Ok(true)
        })?;
        let verdict = if s
            .snapshot
            .verdict
            .as_ref()
            .is_some_and(|v| v.is_suspicious())
        {
            VerdictKind::Suspicious
        } else {
            VerdictKind::Clean
        };
        generations.push(GenerationFiles {
            id: GenerationId(gid),
            verdict,
            files,
        });
    }
    let assembly = assemble_clean(&generations, default_validity)
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    Ok(Assembly { assembly, nodes })
}

/// A summary for a file backed up without detection: judged by its history alone.
fn neutral(size: u64) -> Option<kura_anomaly::FileSummary> {
    let s = kura_format::tree::ContentSummary {
        file_type: "unknown".into(),
        entropy: 0.0,
        random_looking: false,
        lead_random: false,
        lead_hash: 0,
    };
    from_stored(&s, size)
}

/// Restore the per-file clean assembly of a source into `opts.target`.
pub fn restore_clean(
    repo: &Repository,
    a: &Assembly,
    opts: &RestoreOptions,
    progress: &Progress,
) -> Result<RestoreSummary> {
    let target = crate::restore::prepare_target(&opts.target, opts.overwrite)?;
    let mut items = Vec::with_capacity(a.assembly.files.len());
    for f in &a.assembly.files {
        let node = a
            .nodes
            .get(&(f.generation.0.clone(), f.path.clone()))
            .ok_or_else(|| EngineError::Invalid(format!("no node for {}", f.path)))?;
        let name_ok = f
            .path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
        if !name_ok {
            return Err(EngineError::Invalid(format!(
                "unsafe path {:?} refused",
                f.path
            )));
        }
        items.push(Item {
            path: target.join(OsStr::from_bytes(f.path.as_bytes())),
            node: node.clone(),
        });
    }
    restore_items(repo, items, opts, progress, true)
}
