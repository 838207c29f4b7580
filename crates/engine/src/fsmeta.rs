//! File-system metadata to and from tree nodes.

use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use kura_format::tree::{Node, NodeType};

/// A node for `path` from its `lstat` metadata (content and subtree are filled in by the caller).
pub fn node_from_metadata(name: &[u8], path: &Path, meta: &Metadata) -> std::io::Result<Node> {
    let ft = meta.file_type();
    let node_type = if ft.is_file() {
        NodeType::File
    } else if ft.is_dir() {
        NodeType::Dir
    } else if ft.is_symlink() {
        NodeType::Symlink
    } else if ft.is_block_device() {
        NodeType::Dev
    } else if ft.is_char_device() {
        NodeType::Chardev
    } else if ft.is_fifo() {
        NodeType::Fifo
    } else {
        NodeType::Socket
    };
    let mut node = Node::new(name, node_type);
    node.mode = meta.mode() & 0o7777;
    node.uid = meta.uid();
    node.gid = meta.gid();
    node.mtime = meta.mtime();
    node.mtime_ns = meta.mtime_nsec() as u32;
    node.ctime = meta.ctime();
    node.ctime_ns = meta.ctime_nsec() as u32;
    node.inode = meta.ino();
    node.device = meta.dev();
    if node_type == NodeType::File {
        node.size = meta.size();
        node.links = meta.nlink();
    }
    if matches!(node_type, NodeType::Dev | NodeType::Chardev) {
        node.rdev = meta.rdev();
    }
    if node_type == NodeType::Symlink {
        let target = std::fs::read_link(path)?;
        node.set_target(target.as_os_str().as_bytes());
    }
    Ok(node)
}

/// True when a file looks unchanged since the parent generation: same size, mtime, ctime and inode
/// (ctime matters: ransomware can put mtime back, but cannot reset ctime without root tricks).
pub fn unchanged(current: &Node, previous: &Node) -> bool {
    current.node_type == NodeType::File
        && previous.node_type == NodeType::File
        && current.size == previous.size
        && current.mtime == previous.mtime
        && current.mtime_ns == previous.mtime_ns
        && current.ctime == previous.ctime
        && current.ctime_ns == previous.ctime_ns
        && current.inode == previous.inode
        && (previous.size == 0 || !previous.content.is_empty())
}
