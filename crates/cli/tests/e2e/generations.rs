//! Acceptance 2 and 3: two generations around a ~1% change both restore exactly and the second adds
//! little more than the changed bytes; the same content under two sources is stored once.

use crate::common;

use common::{restored, Kura};
use kura_testkit::{generate_hospital_dataset, mutate_dataset, tree_digest, DatasetSpec};

#[test]
fn one_percent_change_costs_little_and_both_generations_restore() {
    let k = Kura::init();
    let data = k.path("hospital");
    generate_hospital_dataset(
        &data,
        &DatasetSpec {
            seed: 5,
            total_bytes: 48 << 20,
        },
    )
    .unwrap();
    let d1 = tree_digest(&data).unwrap();
    let first = k.backup_json(&["--source", "ehr", data.to_str().unwrap()]);
    let m = mutate_dataset(&data, 9, 0.01).unwrap();
    let d2 = tree_digest(&data).unwrap();
    let second = k.backup_json(&["--source", "ehr", data.to_str().unwrap()]);

    let changed = m.bytes_changed + m.bytes_added;
    let added = second["bytes_added"].as_u64().unwrap();
    // Edits inside dumps cost the chunks around them (about 256 KiB each before compression), plus
    // new trees. Stored bytes are compressed, so the bound is generous yet far below a full copy.
    let bound = 3 * changed + (2 << 20);
    assert!(
        added <= bound,
        "1% change ({changed} bytes) added {added} bytes, bound {bound}"
    );
    assert!(
        first["bytes_added"].as_u64().unwrap() > 10 * added,
        "the first generation holds the bulk"
    );
    assert!(
        second["files_unchanged"].as_u64().unwrap() > 0,
        "unchanged files are detected"
    );

    for (id, digest) in [
        (first["snapshot"].as_str().unwrap(), &d1),
        (second["snapshot"].as_str().unwrap(), &d2),
    ] {
        let target = k.path(&format!("restore-{}", &id[..8]));
        k.ok(&["restore", id, "--target", target.to_str().unwrap()]);
        assert_eq!(
            &tree_digest(&restored(&target, &data)).unwrap(),
            digest,
            "generation {id} restores exactly"
        );
    }
    let check = k.run(&["check", "--read-data"]);
    assert!(check.status.success(), "{}", common::stderr(&check));
}

#[test]
fn same_content_under_two_sources_is_stored_once() {
    let k = Kura::init();
    let a = k.path("a");
    generate_hospital_dataset(
        &a,
        &DatasetSpec {
            seed: 3,
            total_bytes: 16 << 20,
        },
    )
    .unwrap();
    let b = k.path("b");
    std::fs::create_dir_all(&b).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&a)
        .arg(b.join("copy"))
        .status()
        .unwrap();
    assert!(status.success());
    let first = k.backup_json(&["--source", "pacs", a.to_str().unwrap()]);
    let second = k.backup_json(&["--source", "pacs-mirror", b.to_str().unwrap()]);
    let (x, y) = (
        first["bytes_added"].as_u64().unwrap(),
        second["bytes_added"].as_u64().unwrap(),
    );
    // Only the directory listings (trees) of the new paths are new; every chunk is shared.
    assert!(
        y * 10 < x,
        "the second source must add only metadata: {y} vs {x}"
    );
    assert_eq!(
        second["parent"],
        serde_json::Value::Null,
        "a different source has its own history"
    );
}

#[test]
fn unchanged_files_are_not_read_again() {
    let k = Kura::init();
    let data = k.path("d");
    generate_hospital_dataset(
        &data,
        &DatasetSpec {
            seed: 4,
            total_bytes: 4 << 20,
        },
    )
    .unwrap();
    k.backup_json(&[data.to_str().unwrap()]);
    let again = k.backup_json(&[data.to_str().unwrap()]);
    assert_eq!(again["bytes_read"].as_u64().unwrap(), 0);
    assert_eq!(
        again["files_new"].as_u64().unwrap() + again["files_changed"].as_u64().unwrap(),
        0
    );
    // ctime matters: putting mtime back after a change must not hide the change.
    let victim = walk_first_file(&data);
    let meta = std::fs::metadata(&victim).unwrap();
    let mtime = filetime::FileTime::from_last_modification_time(&meta);
    let mut content = std::fs::read(&victim).unwrap();
    content[0] ^= 0xff;
    std::fs::write(&victim, &content).unwrap();
    filetime::set_file_mtime(&victim, mtime).unwrap();
    let third = k.backup_json(&[data.to_str().unwrap()]);
    assert_eq!(
        third["files_changed"].as_u64().unwrap(),
        1,
        "a reset mtime is caught by ctime"
    );
}

fn walk_first_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_file() && std::fs::metadata(&p).unwrap().len() > 0 {
                return p;
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    panic!("no file in {}", dir.display());
}
