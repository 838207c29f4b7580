//! Walking a generation's trees: listing, finding a path, streaming a file's content.

use std::io::Write;

use kura_format::tree::{Node, NodeType, Tree};
use kura_format::BlobId;
use kura_repo::Repository;

use crate::error::{EngineError, Result};
use crate::prefetch::TreePrefetch;

/// A node with its path inside the generation ("/"-separated bytes, no leading slash).
pub struct WalkEntry {
    pub path: Vec<u8>,
    pub node: Node,
}

/// Visit every node under `tree` depth-first, in name order. `f` returns false to skip a
/// directory's contents.
pub fn walk_tree(
    repo: &Repository,
    tree: &BlobId,
    prefix: &[u8],
    f: &mut dyn FnMut(&WalkEntry) -> Result<bool>,
) -> Result<()> {
    walk_with(&|id| Ok(repo.read_tree(id)?), tree, prefix, f)
}

/// As [`walk_tree`], with the trees read ahead by helper threads (restore's plan walks every
/// directory of a generation before it writes anything; read one by one, the 92,000 trees of the
/// benchmark set were seconds of one core while the other idled).
pub fn walk_tree_ahead(
    repo: &Repository,
    tree: &BlobId,
    prefix: &[u8],
    f: &mut dyn FnMut(&WalkEntry) -> Result<bool>,
) -> Result<()> {
    let prefetch = TreePrefetch::with_loader(repo, |r, id| r.read_tree(id));
    std::thread::scope(|s| {
        let prefetch = &prefetch;
        let helpers: Vec<_> = (0..num_cpus::get().clamp(1, 2))
            .map(|_| s.spawn(move || prefetch.serve()))
            .collect();
        let read = |id: &BlobId| -> Result<Tree> {
            let t = prefetch.get(id)?;
            prefetch.request(
                t.nodes
                    .iter()
                    .filter(|n| n.node_type == NodeType::Dir)
                    .filter_map(|n| n.subtree),
            );
            Ok(t)
        };
        let walked = walk_with(&read, tree, prefix, f);
        prefetch.close();
        for h in helpers {
            let _ = h.join();
        }
        walked
    })
}

fn walk_with(
    read: &dyn Fn(&BlobId) -> Result<Tree>,
    tree: &BlobId,
    prefix: &[u8],
    f: &mut dyn FnMut(&WalkEntry) -> Result<bool>,
) -> Result<()> {
    let t = read(tree)?;
    let mut seen = std::collections::HashSet::with_capacity(t.nodes.len());
    for node in t.nodes {
        let name = node.validate_name().map_err(|e| {
            EngineError::Repo(kura_repo::RepoError::damaged(
                format!("tree {}", tree.short()),
                e,
            ))
        })?;
        // Two entries with one name could make a restore follow a symlink it just created.
        if !seen.insert(name.clone()) {
            return Err(EngineError::Invalid(format!(
                "tree {} lists {:?} twice: refused as crafted or damaged",
                tree.short(),
                node.name
            )));
        }
        let mut path = prefix.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&name);
        let subtree = node.subtree;
        let is_dir = node.node_type == NodeType::Dir;
        let entry = WalkEntry { path, node };
        let descend = f(&entry)?;
        if is_dir && descend {
            if let Some(sub) = subtree {
                walk_with(read, &sub, &entry.path, f)?;
            }
        }
    }
    Ok(())
}

/// Find the node at `path` ("a/b/c", leading and trailing slashes ignored) below `root`.
pub fn find_node(repo: &Repository, root: &BlobId, path: &str) -> Result<Option<Node>> {
    let mut tree = *root;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        let mut n = Node::new(b"/", NodeType::Dir);
        n.subtree = Some(*root);
        return Ok(Some(n));
    }
    for (i, part) in parts.iter().enumerate() {
        let t = repo.read_tree(&tree)?;
        let Some(node) = t.find(part.as_bytes()).cloned() else {
            return Ok(None);
        };
        if i + 1 == parts.len() {
            return Ok(Some(node));
        }
        match node.subtree {
            Some(sub) if node.node_type == NodeType::Dir => tree = sub,
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Write a file node's content to `out`, verifying every chunk.
pub fn dump_file(repo: &Repository, node: &Node, out: &mut dyn Write) -> Result<u64> {
    if node.node_type != NodeType::File {
        return Err(EngineError::Invalid(format!(
            "{} is not a regular file",
            node.name
        )));
    }
    let mut total = 0;
    for id in &node.content {
        let data = repo.read_blob(id)?;
        out.write_all(&data)
            .map_err(|e| EngineError::io("standard output", e))?;
        total += data.len() as u64;
    }
    Ok(total)
}
