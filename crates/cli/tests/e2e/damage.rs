//! Acceptance 5: one flipped byte in a pack is found by `check --read-data`, which names the
//! generation and file; the other files restore; the damaged file's restore reports an error and
//! never leaves wrong bytes.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::{restored, Kura};

fn data_pack(repo: &std::path::Path) -> std::path::PathBuf {
    let mut packs = Vec::new();
    for sub in std::fs::read_dir(repo.join("data")).unwrap() {
        for p in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = p.unwrap().path();
            packs.push((std::fs::metadata(&p).unwrap().len(), p));
        }
    }
    packs.sort();
    packs.pop().expect("a pack").1
}

#[test]
fn flipped_byte_is_reported_and_never_restored() {
    let k = Kura::init();
    let data = k.path("scans");
    std::fs::create_dir_all(&data).unwrap();
    let mut big = vec![0u8; 3 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(data.join("a.bin"), &big).unwrap();
    std::fs::write(data.join("b.txt"), "紹介状: 山田 太郎\n").unwrap();
    std::fs::write(data.join("c.txt"), "退院時サマリー\n").unwrap();
    let id = k.backup_json(&[data.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(k.run(&["check", "--read-data"]).status.success());

    let pack = data_pack(&k.repo);
    std::fs::set_permissions(&pack, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[1 << 20] ^= 0x01;
    std::fs::write(&pack, &bytes).unwrap();

    assert!(
        k.run(&["check"]).status.success(),
        "structure alone cannot see a flipped data byte"
    );
    let out = k.run(&["check", "--read-data"]);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(err.contains(&id[..8]), "names the generation: {err}");
    assert!(err.contains("a.bin"), "names the file: {err}");
    assert!(
        !err.contains("b.txt") && !err.contains("c.txt"),
        "only the damaged file is named: {err}"
    );

    let target = k.path("restore");
    let out = k.run(&["restore", &id, "--target", target.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a damaged file makes restore fail"
    );
    assert!(common::stderr(&out).contains("a.bin"));
    let base = restored(&target, &data);
    assert!(
        !base.join("a.bin").exists(),
        "no wrong bytes are left behind"
    );
    assert_eq!(
        std::fs::read_to_string(base.join("b.txt")).unwrap(),
        "紹介状: 山田 太郎\n"
    );
    assert_eq!(
        std::fs::read_to_string(base.join("c.txt")).unwrap(),
        "退院時サマリー\n"
    );
}

#[test]
fn damaged_snapshot_and_index_files_are_named() {
    let k = Kura::init();
    let data = k.path("d");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("f"), "x").unwrap();
    k.backup_json(&[data.to_str().unwrap()]);
    let snap = std::fs::read_dir(k.repo.join("snapshots"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o640)).unwrap();
    let len = std::fs::metadata(&snap).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&snap)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let out = k.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let name = snap.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        common::stderr(&out).contains(&name[..8]),
        "{}",
        common::stderr(&out)
    );
}
