//! Tree blobs: JSON through `Tree::open` (envelope, then JSON). An accepted tree must survive
//! encode/decode unchanged, and name handling (raw hex names, validation, sorting) must not panic.
#![no_main]

mod common;

use kura_format::crypto::{Compression, ObjectKind};
use kura_format::tree::Tree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = common::key();
    let id = key.blob_id(data);
    let sealed = key.seal(ObjectKind::Tree, Some(&id), data, Compression { level: 0 });
    let Ok(mut tree) = Tree::open(&key, &id, &sealed) else {
        return;
    };
    for node in &tree.nodes {
        if let Ok(name) = node.validate_name() {
            assert!(!name.is_empty() && !name.contains(&b'/') && !name.contains(&0));
            assert!(tree.find(&name).is_some());
        }
        let _ = node.target_bytes();
    }
    let again = Tree::from_json(&tree.to_json()).expect("a tree Kura wrote must read back");
    assert_eq!(again, tree);
    tree.sort();
    let names: Vec<Vec<u8>> = tree
        .nodes
        .iter()
        .map(|n| n.name_bytes().unwrap_or_default())
        .collect();
    assert!(
        names.windows(2).all(|w| w[0] <= w[1]),
        "sort is not by name bytes"
    );
});
