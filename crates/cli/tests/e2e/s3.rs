//! The `kura` binary against a real S3 store (issue 9): a repository at
//! `s3:http://127.0.0.1:PORT/BUCKET/PREFIX` on SeaweedFS, started by
//! `eval "$(scripts/start-seaweedfs.sh)"`. Without KURA_TEST_S3_ENDPOINT these tests skip with a
//! message, unless KURA_REQUIRE_S3 is set (scripts/test-all.sh sets it), when they fail.
//!
//! The attacks go *around* Kura: they use the backup client's own S3 credentials with the AWS SDK,
//! as a thief of those credentials would, so a refusal proves the store enforces it.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use kura_store::s3::S3Backend;
use kura_store::{conformance::name_of, Backend, FileKind};
use kura_testkit::{compare_trees, generate_edge_case_tree, CompareOptions};

use crate::common::{self, restored, Kura};

#[path = "../../../store/tests/s3/support/mod.rs"]
mod s3_support;

/// A `kura` whose repository is `prefix` in `bucket` (not yet initialized).
fn kura_on(s: &s3_support::Server, bucket: &str, prefix: &str) -> Kura {
    let mut k = Kura::uninitialized();
    k.repo = PathBuf::from(s.url(bucket, prefix));
    k
}

/// Every JSON line of stdout.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn message<'a>(lines: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["message_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} line in {lines:?}"))
}

/// `kura backup --json ARGS`: the summary and the store-lock lines. Exit 4 (a suspicious
/// generation, which test data can look like) still commits the generation.
fn backup(k: &Kura, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["backup", "--json", "--no-detect"];
    all.extend_from_slice(args);
    let out = k.run(&all);
    assert!(
        matches!(out.status.code(), Some(0 | 4)),
        "backup {args:?}: {}",
        common::stderr(&out)
    );
    json_lines(&out)
}

fn assert_restores(k: &Kura, snapshot: &str, original: &Path, target: &str) {
    let target = k.path(target);
    k.ok(&["restore", snapshot, "--target", target.to_str().unwrap()]);
    let diffs = compare_trees(
        original,
        &restored(&target, original),
        CompareOptions::default(),
    )
    .unwrap();
    assert!(
        diffs.is_empty(),
        "restore of {snapshot} differs: {} differences, first {:?}",
        diffs.len(),
        &diffs[..diffs.len().min(5)]
    );
}

fn stored_pack_bytes(store: &S3Backend) -> u64 {
    store
        .list(FileKind::Pack)
        .unwrap()
        .iter()
        .map(|f| f.size)
        .sum()
}

#[test]
fn backup_restore_check_forget_and_prune_on_seaweedfs() {
    let Some(s) = s3_support::server("s3::backup_restore_check_forget_and_prune") else {
        return;
    };
    let bucket = s.bucket(false);
    let k = kura_on(&s, &bucket, "hospital-a/ehr");
    k.ok(&["init"]);
    let store = s.backup(&bucket, "hospital-a/ehr");
    assert!(
        store.exists(FileKind::Config, "config").unwrap(),
        "init writes the config under the prefix"
    );

    let data = k.path("src");
    generate_edge_case_tree(&data, 9, 400).unwrap();
    let first = backup(&k, &["--source", "ehr", data.to_str().unwrap()]);
    let first = message(&first, "summary")["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    assert_restores(&k, &first, &data, "r1");

    // A second generation without one subtree (its data becomes garbage once the first is
    // forgotten) and with a new file.
    std::fs::remove_dir_all(data.join("患者データ")).unwrap();
    std::fs::write(
        data.join("新しい記録.txt"),
        "2026-11-21 外来 受診\n".repeat(500),
    )
    .unwrap();
    backup(&k, &["--source", "ehr", data.to_str().unwrap()]);
    assert_restores(&k, "latest", &data, "r2");
    k.ok(&["check", "--read-data"]);

    let before = stored_pack_bytes(&store);
    k.ok(&["forget", "--keep-last", "1"]);
    assert_eq!(
        k.snapshots().len(),
        1,
        "forget removed the first generation"
    );
    // Mark, then delete (grace 0: nothing else writes to this repository).
    k.ok(&["prune", "--grace", "0s", "--repack-unused", "1"]);
    let out = k.ok(&["prune", "--grace", "0s", "--repack-unused", "1"]);
    let after = stored_pack_bytes(&store);
    assert!(
        after < before,
        "prune must free the forgotten generation's data: {before} -> {after} bytes\n{out}"
    );
    assert!(out.contains("freed") && !out.contains("freed 0 B"), "{out}");
    k.ok(&["check", "--read-data"]);
    assert_restores(&k, "latest", &data, "r3");
}

/// (kind, name) of every pack and snapshot object, with its HEAD.
fn locked_files(store: &S3Backend) -> Vec<(FileKind, String, kura_store::s3::ObjectHead)> {
    let mut out = Vec::new();
    for kind in [FileKind::Pack, FileKind::Index, FileKind::Snapshot] {
        for f in store.list(kind).unwrap() {
            let head = store.head(kind, &f.name).unwrap();
            out.push((kind, f.name, head));
        }
    }
    out
}

/// Every pack, index and snapshot object, each COMPLIANCE-locked for at least a day.
fn locked_for_a_day(store: &S3Backend) -> Vec<(FileKind, String, kura_store::s3::ObjectHead)> {
    let day = SystemTime::now() + Duration::from_secs(86_400 - 600);
    let files = locked_files(store);
    assert!(files.iter().any(|f| f.0 == FileKind::Pack), "{files:?}");
    for (kind, name, head) in &files {
        assert_eq!(
            head.lock_mode.as_deref(),
            Some("COMPLIANCE"),
            "{kind} {name}"
        );
        assert!(head.retain_until.unwrap() > day, "{kind} {name}: {head:?}");
    }
    files
}

/// What a thief of the backup credentials tries against one object of a locked generation,
/// straight at the store. Returns the locked version's id.
fn attack(store: &S3Backend, bucket: &str, kind: FileKind, name: &str) -> String {
    let key = store.key(kind, name);
    let head = store.head(kind, name).unwrap();
    let version = head.version_id.clone().expect("a lock bucket is versioned");
    let client = store.client();
    let del = client
        .delete_object()
        .bucket(bucket)
        .key(&key)
        .version_id(&version)
        .bypass_governance_retention(true)
        .send();
    let refused = store.call(del).unwrap();
    let err = refused.expect_err("the store deleted a COMPLIANCE-locked version");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(403), "refused by the store itself: {err:?}");
    let shorten = store.extend_retention(kind, name, SystemTime::now() + Duration::from_secs(60));
    assert!(shorten.is_err(), "the store shortened COMPLIANCE retention");
    // S3 lets anyone with write access add a version over a key, or a delete marker: neither
    // touches the locked version, which Kura keeps reading (see kura_store::s3 versions).
    let put = client
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(b"encrypted by ransomware".to_vec().into())
        .send();
    store.call(put).unwrap().expect("S3 accepts a new version");
    let hide = client.delete_object().bucket(bucket).key(&key).send();
    store
        .call(hide)
        .unwrap()
        .expect("S3 accepts a delete marker");
    // The locked version is still there, byte for byte.
    let get = client
        .get_object()
        .bucket(bucket)
        .key(&key)
        .version_id(&version)
        .send();
    let body = store.call(async move {
        let out = get.await.expect("the locked version can be read");
        out.body.collect().await.expect("its body").to_vec()
    });
    assert_eq!(name_of(&body.unwrap()), name, "{key} changed at the store");
    version
}

#[test]
fn object_lock_protects_a_generation_from_the_backup_credentials() {
    let Some(s) = s3_support::server("s3::object_lock_protects_a_generation") else {
        return;
    };
    let bucket = s.bucket(true);
    let prefix = "hospital-b/pacs";
    let k = kura_on(&s, &bucket, prefix);
    k.ok(&["init"]);
    let data = k.path("src");
    generate_edge_case_tree(&data, 3, 200).unwrap();
    let lines = backup(
        &k,
        &[
            "--source",
            "pacs",
            "--lock-days",
            "1",
            data.to_str().unwrap(),
        ],
    );
    let snapshot = message(&lines, "summary")["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let lock = message(&lines, "store_lock");
    assert_eq!(lock["snapshot"], snapshot.as_str());
    assert!(lock["files"].as_u64().unwrap() >= 2, "{lock}");

    // Every pack, index and snapshot object is COMPLIANCE-locked for (at least) the lock.
    let store = s.backup(&bucket, prefix);
    let files = locked_for_a_day(&store);

    // The thief's attempts, on every pack and the snapshot.
    let mut attacked = Vec::new();
    for (kind, name, _) in files.iter().filter(|f| f.0 != FileKind::Index) {
        attack(&store, &bucket, *kind, name);
        attacked.push(store.key(*kind, name));
    }
    // A fresh client (a new `kura` process) sees the tampering and reads the locked versions.
    let fresh = s.backup(&bucket, prefix);
    for kind in [FileKind::Pack, FileKind::Snapshot] {
        fresh.list(kind).unwrap();
    }
    attacked.sort();
    assert_eq!(fresh.tampered_keys(), attacked);
    assert_restores(&k, &snapshot, &data, "after-attack");
    k.ok(&["check", "--read-data"]);

    // Extending the generation's lock extends the store's retention of all its files. A time with
    // an offset, not a bare date: a bare date means the end of that day in Japan, which between
    // 15:00 and 24:00 UTC is less than three days away and failed the check below.
    let until = (chrono::Utc::now() + chrono::Duration::days(3) + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let out = k.ok(&["lock", &snapshot[..12], "--until", &until]);
    assert!(out.contains("locked at the store"), "{out}");
    let three_days = SystemTime::now() + Duration::from_secs(3 * 86_400 - 600);
    for (kind, name, _) in files.iter().filter(|f| f.0 != FileKind::Index) {
        let head = fresh.head(*kind, name).unwrap();
        assert!(
            head.retain_until.unwrap() > three_days,
            "{kind} {name} not extended: {head:?}"
        );
    }

    prune_waits_for_store_locks(&k, &s.backup(&bucket, prefix));
}

/// The policy's minimum lock (`kura policy set --min-lock-days`) is enforced by the store as well as
/// by Kura's records: a backup without `--lock-days` still leaves every object of its generation
/// COMPLIANCE-locked, out of reach of the backup credentials. On a bucket without Object Lock the
/// backup still runs and warns that only Kura keeps the lock.
#[test]
fn the_policy_minimum_lock_is_enforced_by_the_store() {
    let Some(s) = s3_support::server("s3::the_policy_minimum_lock") else {
        return;
    };
    let data_of = |k: &Kura| {
        let data = k.path("src");
        generate_edge_case_tree(&data, 5, 60).unwrap();
        data
    };
    let bucket = s.bucket(true);
    let prefix = "hospital-c/ehr";
    let k = kura_on(&s, &bucket, prefix);
    k.ok(&["init"]);
    k.ok(&["policy", "set", "--keep-last", "3", "--min-lock-days", "1"]);
    let data = data_of(&k);
    let lines = backup(&k, &["--source", "ehr", data.to_str().unwrap()]);
    let snapshot = message(&lines, "summary")["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(message(&lines, "store_lock")["snapshot"], snapshot.as_str());
    let store = s.backup(&bucket, prefix);
    let files = locked_for_a_day(&store);
    let (kind, name, _) = files.iter().find(|f| f.0 == FileKind::Snapshot).unwrap();
    attack(&store, &bucket, *kind, name);
    assert_restores(&k, &snapshot, &data, "policy-locked");

    let plain = s.bucket(false);
    let k2 = kura_on(&s, &plain, prefix);
    k2.ok(&["init"]);
    k2.ok(&["policy", "set", "--keep-last", "3", "--min-lock-days", "1"]);
    let data2 = data_of(&k2);
    let out = k2.run(&[
        "backup",
        "--no-detect",
        "--source",
        "ehr",
        data2.to_str().unwrap(),
    ]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("kept in Kura's records only"), "{err}");
    assert_restores(&k2, "latest", &data2, "policy-unlocked");
}

/// A backup that fails half-way (its command exits 1) leaves locked packs nothing references.
/// Prune marks them, then finds the store still locks them: it leaves them, says until when,
/// and succeeds.
fn prune_waits_for_store_locks(k: &Kura, store: &S3Backend) {
    let before: Vec<String> = store
        .list(FileKind::Pack)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    let out = k.run(&[
        "backup",
        "--source",
        "dump",
        "--lock-days",
        "1",
        "--stdin-from-command",
        "--",
        "sh",
        "-c",
        "head -c 40000000 /dev/urandom; exit 1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let orphans: Vec<String> = store
        .list(FileKind::Pack)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .filter(|n| !before.contains(n))
        .collect();
    assert!(
        !orphans.is_empty(),
        "the failed backup uploaded packs first"
    );
    let locked_until = store
        .head(FileKind::Pack, &orphans[0])
        .unwrap()
        .retain_until;
    let locked_until = chrono::DateTime::<chrono::Utc>::from(locked_until.unwrap());

    k.ok(&["prune", "--grace", "0s"]);
    let out = k.run(&["prune", "--grace", "0s"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    let day = locked_until
        .with_timezone(&kura_policy::JST)
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        text.contains("locked at the store") && text.contains(&day),
        "prune must say until when: {text}"
    );
    for name in &orphans {
        assert!(
            store.exists(FileKind::Pack, name).unwrap(),
            "{name} was deleted"
        );
    }
    let plan: serde_json::Value =
        serde_json::from_str(&k.ok(&["prune", "--grace", "0s", "--dry-run", "--json"])).unwrap();
    let held = plan["plan"]["store_locked"].as_array().unwrap();
    assert_eq!(held.len(), orphans.len(), "{plan}");
}
