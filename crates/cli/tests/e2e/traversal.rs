//! Acceptance 8: a hand-crafted generation whose tree holds `..`, absolute or slash-containing names,
//! or one name twice, is refused by restore, and nothing is written outside the target.

use crate::common;

use std::sync::Arc;

use common::Kura;
use kura_format::pack::BlobKind;
use kura_format::snapshot::Snapshot;
use kura_format::tree::{Node, NodeType, Tree};
use kura_repo::{BlobWriter, Repository};

fn craft(k: &Kura, nodes: Vec<Node>) -> String {
    let pw = std::fs::read_to_string(&k.password_file).unwrap();
    let repo = Repository::open(
        Arc::new(kura_store::LocalBackend::new(&k.repo)),
        pw.trim().as_bytes(),
    )
    .unwrap();
    repo.load_index().unwrap();
    let w = BlobWriter::new(&repo);
    let (content, _) = w.add(BlobKind::Data, b"owned\n").unwrap();
    let nodes = nodes
        .into_iter()
        .map(|mut n| {
            if n.node_type == NodeType::File {
                n.content = vec![content];
                n.size = 6;
                n.mode = 0o644;
            }
            n
        })
        .collect();
    let (tree, _) = w.add(BlobKind::Tree, &Tree { nodes }.to_json()).unwrap();
    w.finish().unwrap();
    let now = chrono::Utc::now();
    let snap = Snapshot {
        version: 1,
        time: now,
        committed_at: now,
        tree,
        paths: vec!["/crafted".into()],
        host: "attacker".into(),
        user: String::new(),
        source: "crafted".into(),
        tags: vec![],
        parent: None,
        stats: Default::default(),
        program: String::new(),
        lock_days: None,
        verdict: None,
    };
    repo.save_snapshot(&snap).unwrap().to_hex()
}

#[test]
fn crafted_names_are_refused() {
    let k = Kura::init();
    let cases: Vec<Vec<Node>> = vec![
        vec![Node::new(b"../escape.txt", NodeType::File)],
        vec![Node::new(b"..", NodeType::File)],
        vec![Node::new(b"/tmp/kura-absolute-escape.txt", NodeType::File)],
        vec![Node::new(b"sub/../../escape2.txt", NodeType::File)],
        {
            let mut link = Node::new(b"same", NodeType::Symlink);
            link.set_target(b"/tmp");
            vec![link, Node::new(b"same", NodeType::File)]
        },
    ];
    let outside = k.dir.path().to_path_buf();
    for (i, nodes) in cases.into_iter().enumerate() {
        let id = craft(&k, nodes);
        let target = outside.join(format!("t{i}/inner"));
        let out = k.run(&["restore", &id, "--target", target.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "case {i} must be refused: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains("refused"),
            "case {i}: {}",
            common::stderr(&out)
        );
        assert!(!outside.join(format!("t{i}/escape.txt")).exists());
        assert!(!outside.join("escape2.txt").exists());
        assert!(!std::path::Path::new("/tmp/kura-absolute-escape.txt").exists());
        assert!(!std::path::Path::new("/tmp/same").exists());
        let written: Vec<_> = std::fs::read_dir(&target)
            .map(|r| r.collect())
            .unwrap_or_default();
        assert!(
            written.is_empty(),
            "case {i}: nothing may be written: {written:?}"
        );
    }
}
