//! Differences between two generations.

use std::collections::BTreeMap;

use kura_format::tree::{Node, NodeType};
use kura_format::BlobId;
use kura_repo::Repository;
use serde::Serialize;

use crate::error::Result;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Modified,
    /// Same content, different mode, owner or times.
    Metadata,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiffEntry {
    pub change: Change,
    pub path: String,
}

fn content_equal(a: &Node, b: &Node) -> bool {
    a.node_type == b.node_type
        && a.content == b.content
        && a.target == b.target
        && a.target_raw == b.target_raw
        && a.size == b.size
}

fn meta_equal(a: &Node, b: &Node) -> bool {
    a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.mtime == b.mtime
        && a.mtime_ns == b.mtime_ns
}

fn dir(n: Option<&Node>) -> Option<&BlobId> {
    n.filter(|n| n.node_type == NodeType::Dir)
        .and_then(|n| n.subtree.as_ref())
}

fn children(repo: &Repository, tree: Option<&BlobId>) -> Result<BTreeMap<Vec<u8>, Node>> {
    let Some(id) = tree else {
        return Ok(BTreeMap::new());
    };
    let t = repo.read_tree(id)?;
    Ok(t.nodes
        .into_iter()
        .filter_map(|n| n.validate_name().ok().map(|b| (b, n)))
        .collect())
}

/// Every path that differs between trees `a` and `b`, in path order.
pub fn diff(repo: &Repository, a: &BlobId, b: &BlobId) -> Result<Vec<DiffEntry>> {
    let mut out = Vec::new();
    diff_dirs(repo, Some(a), Some(b), "", &mut out)?;
    Ok(out)
}

fn diff_dirs(
    repo: &Repository,
    a: Option<&BlobId>,
    b: Option<&BlobId>,
    prefix: &str,
    out: &mut Vec<DiffEntry>,
) -> Result<()> {
    if a.is_some() && a == b {
        return Ok(()); // identical subtree ids: nothing below differs
    }
    let (ca, cb) = (children(repo, a)?, children(repo, b)?);
    let mut names: Vec<&Vec<u8>> = ca.keys().chain(cb.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let path = format!("{prefix}/{}", String::from_utf8_lossy(name));
        let (na, nb) = (ca.get(name), cb.get(name));
        match (na, nb) {
            (Some(_), None) => out.push(DiffEntry {
                change: Change::Removed,
                path: path.clone(),
            }),
            (None, Some(_)) => out.push(DiffEntry {
                change: Change::Added,
                path: path.clone(),
            }),
            // A directory's mtime changes with its content, which is listed below it; only a
            // change of its permissions or owner is worth a line of its own.
            (Some(x), Some(y))
                if dir(Some(x)).is_some()
                    && dir(Some(y)).is_some()
                    && (x.mode, x.uid, x.gid) != (y.mode, y.uid, y.gid) =>
            {
                out.push(DiffEntry {
                    change: Change::Metadata,
                    path: path.clone() + "/",
                })
            }
            (Some(x), Some(y)) if x.node_type == NodeType::Dir && y.node_type == NodeType::Dir => {}
            (Some(x), Some(y)) if !content_equal(x, y) => out.push(DiffEntry {
                change: Change::Modified,
                path: path.clone(),
            }),
            (Some(x), Some(y)) if !meta_equal(x, y) => out.push(DiffEntry {
                change: Change::Metadata,
                path: path.clone(),
            }),
            _ => {}
        }
        if dir(na).is_some() || dir(nb).is_some() {
            diff_dirs(repo, dir(na), dir(nb), &path, out)?;
        }
    }
    Ok(())
}
