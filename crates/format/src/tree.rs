//! Trees: one directory listing per tree blob, JSON inside an envelope of kind Tree.
//!
//! Names and symlink targets are bytes on Unix and are preserved exactly: a name that is valid UTF-8
//! (every Japanese name written by a modern system) is stored in `name`; any other byte string (for
//! example Shift_JIS names copied from an old Windows share) is stored as lower-case hex in `name_raw`,
//! with a lossy `name` for display only. Nodes are sorted by their name bytes; a tree's blob id is the
//! keyed hash of its JSON, so an unchanged directory is stored once across all generations.

use serde::{Deserialize, Serialize};

use crate::crypto::{MasterKey, ObjectKind, MAX_OBJECT_LEN};
use crate::id::BlobId;
use crate::FormatError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    File,
    Dir,
    Symlink,
    /// Block device.
    Dev,
    Chardev,
    Fifo,
    Socket,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_raw: Option<String>,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// Permission bits including setuid/setgid/sticky (st_mode & 0o7777).
    pub mode: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    pub mtime: i64,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub mtime_ns: u32,
    /// Change time and inode are kept for change detection: ransomware can reset mtime, not ctime.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ctime: i64,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub ctime_ns: u32,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub inode: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub device: u64,
    /// Hard link count at backup time; files with links > 1 and the same (device, inode) are
    /// restored as hard links to one another.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub links: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<BlobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<BlobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_raw: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub rdev: u64,
    /// What the content looked like when it was read (type, entropy): ransomware detection
    /// compares a changed file with this. Carried over unchanged with the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<ContentSummary>,
}

/// A few numbers about a file's content, kept so the next backup can tell whether a changed file
/// is still what it was (a PDF still a PDF, text still low-entropy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentSummary {
    /// Detected type, e.g. "pdf", "dicom", "hl7", "text", "unknown".
    #[serde(rename = "t")]
    pub file_type: String,
    /// Shannon entropy of sampled bytes, bits per byte.
    #[serde(rename = "e")]
    pub entropy: f32,
    /// The sampled content looks random (encrypted or compressed).
    #[serde(rename = "r", default)]
    pub random_looking: bool,
    /// The leading bytes look random (a header overwritten).
    #[serde(rename = "lr", default)]
    pub lead_random: bool,
    /// FNV-1a of the leading bytes.
    #[serde(rename = "lh", default)]
    pub lead_hash: u64,
}

/// Split bytes into the (display, raw) pair stored in JSON.
fn encode_bytes(b: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(b) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (
            String::from_utf8_lossy(b).into_owned(),
            Some(hex::encode(b)),
        ),
    }
}

fn decode_bytes(display: &str, raw: &Option<String>) -> Result<Vec<u8>, FormatError> {
    match raw {
        Some(h) => hex::decode(h)
            .map_err(|e| FormatError::malformed("tree node", format!("bad raw name: {e}"))),
        None => Ok(display.as_bytes().to_vec()),
    }
}

impl Node {
    pub fn new(name: &[u8], node_type: NodeType) -> Self {
        let (name, name_raw) = encode_bytes(name);
        Node {
            name,
            name_raw,
            node_type,
            mode: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            mtime_ns: 0,
            ctime: 0,
            ctime_ns: 0,
            inode: 0,
            device: 0,
            links: 0,
            size: 0,
            content: Vec::new(),
            subtree: None,
            target: None,
            target_raw: None,
            rdev: 0,
            sig: None,
        }
    }

    /// The exact bytes of the name.
    pub fn name_bytes(&self) -> Result<Vec<u8>, FormatError> {
        decode_bytes(&self.name, &self.name_raw)
    }

    pub fn set_target(&mut self, target: &[u8]) {
        let (t, raw) = encode_bytes(target);
        self.target = Some(t);
        self.target_raw = raw;
    }

    pub fn target_bytes(&self) -> Result<Vec<u8>, FormatError> {
        match &self.target {
            Some(t) => decode_bytes(t, &self.target_raw),
            None => Err(FormatError::malformed(
                "tree node",
                format!("symlink {:?} has no target", self.name),
            )),
        }
    }

    /// A restore writes a node only under its directory: a name must be one path component.
    pub fn validate_name(&self) -> Result<Vec<u8>, FormatError> {
        let name = self.name_bytes()?;
        let bad = name.is_empty()
            || name == b"."
            || name == b".."
            || name.contains(&b'/')
            || name.contains(&0);
        if bad {
            return Err(FormatError::malformed(
                "tree node",
                format!("unsafe name {:?}: refused", self.name),
            ));
        }
        Ok(name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Sort nodes by name bytes, the canonical order (a tree's id depends on it).
    pub fn sort(&mut self) {
        self.nodes
            .sort_by_cached_key(|n| n.name_bytes().unwrap_or_default());
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("tree serializes")
    }

    pub fn from_json(b: &[u8]) -> Result<Self, FormatError> {
        serde_json::from_slice(b).map_err(|e| FormatError::malformed("tree", e))
    }

    pub fn open(key: &MasterKey, id: &BlobId, sealed: &[u8]) -> Result<Self, FormatError> {
        Self::from_json(&key.open(ObjectKind::Tree, Some(id), sealed, MAX_OBJECT_LEN)?)
    }

    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.name_bytes().map(|b| b == name).unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn non_utf8_names_are_byte_exact() {
        let sjis: &[u8] = &[0x8a, 0xb3, 0x8e, 0xd2, b'.', b't', b'x', b't'];
        let mut n = Node::new(sjis, NodeType::File);
        n.set_target(b"\xff\xfe");
        let t = Tree {
            nodes: vec![n, Node::new("患者データ".as_bytes(), NodeType::Dir)],
        };
        let back = Tree::from_json(&t.to_json()).unwrap();
        assert_eq!(back.nodes[0].name_bytes().unwrap(), sjis);
        assert_eq!(back.nodes[0].target_bytes().unwrap(), b"\xff\xfe");
        assert_eq!(back.nodes[1].name, "患者データ");
        assert!(back.find("患者データ".as_bytes()).is_some());
    }

    #[test]
    fn unsafe_names_are_refused() {
        for bad in [&b".."[..], b".", b"", b"a/b", b"/etc", b"a\0b"] {
            assert!(
                Node::new(bad, NodeType::File).validate_name().is_err(),
                "{bad:?}"
            );
        }
        assert!(Node::new(b"ok.txt", NodeType::File).validate_name().is_ok());
    }

    proptest! {
        #[test]
        fn tree_round_trip(names in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..20), 0..10),
                           mtime in any::<i64>(), mode in 0u32..0o7777, size in any::<u64>()) {
            let mut t = Tree::default();
            for n in &names {
                let mut node = Node::new(n, NodeType::File);
                node.mtime = mtime;
                node.mode = mode;
                node.size = size;
                t.nodes.push(node);
            }
            t.sort();
            let back = Tree::from_json(&t.to_json()).unwrap();
            prop_assert_eq!(&back, &t);
            for (a, b) in back.nodes.iter().zip(&t.nodes) {
                prop_assert_eq!(a.name_bytes().unwrap(), b.name_bytes().unwrap());
            }
        }

        #[test]
        fn tree_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = Tree::from_json(&bytes);
        }
    }
}
