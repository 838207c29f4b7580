//! Issue 5, acceptance 1 and 4 over real HTTPS on loopback: an attacker holding a backup token
//! tries every destructive or rewriting request it can craft; each is refused, names the missing
//! permission and is audited; every generation still restores; the audit log verifies, and an
//! edited, truncated or reordered log is detected.

use crate::vault_support as support;

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use kura_engine::backup::{backup, BackupInput, BackupOptions};
use kura_engine::restore::{restore, RestoreOptions};
use kura_engine::Progress;
use kura_format::FileId;
use kura_repo::meta::{HoldAction, MetaRecord};
use kura_repo::{RepoError, Repository};
use kura_store::{Backend, FileKind, StoreError};
use support::*;

fn backup_dir(repo: &Repository, dir: &Path, source: &str) -> String {
    let opts = BackupOptions {
        source: source.into(),
        ..Default::default()
    };
    let r = backup(
        repo,
        BackupInput::Paths(vec![dir.to_path_buf()]),
        &opts,
        &Progress::default(),
    )
    .unwrap();
    r.id.to_hex()
}

fn find_dir_with(root: &Path, name: &str) -> Option<PathBuf> {
    if root.join(name).is_file() {
        return Some(root.to_path_buf());
    }
    std::fs::read_dir(root).ok()?.flatten().find_map(|e| {
        let p = e.path();
        if p.is_dir() {
            find_dir_with(&p, name)
        } else {
            None
        }
    })
}

/// The store's refusal inside a repository error (what `assert_denied` looks at).
fn store_error(e: RepoError) -> StoreError {
    match e {
        RepoError::Store(s) => s,
        other => panic!("expected the store to refuse, got {other:?}"),
    }
}

fn assert_denied(r: Result<impl std::fmt::Debug, StoreError>, needle: &str, what: &str) {
    match r {
        Err(StoreError::Denied { detail, .. }) => {
            assert!(
                detail.contains(needle),
                "{what}: message must say {needle:?}: {detail}"
            )
        }
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn backup_token_cannot_destroy_or_rewrite_and_every_attempt_is_audited() {
    let mut v = VaultHarness::new("require_approval = false");
    let token = v.token("backup", Some("db01"));
    assert!(token.starts_with("kura_tok"), "{token}");
    v.start();

    // Two honest generations through the vault.
    let repo = v.open_repo(&token);
    let (src1, src2) = (v.path("src1"), v.path("src2"));
    make_source(&src1, 1);
    make_source(&src2, 2);
    let gen1 = backup_dir(&repo, &src1, "db01");
    let gen2 = backup_dir(&repo, &src2, "db01");
    let attacker = v.backend(&token);
    let before = v.audit_entries().len();

    // Delete anything: no backup token may remove.
    for (kind, name) in [
        (FileKind::Snapshot, gen1.clone()),
        (FileKind::Config, "config".to_string()),
        (
            FileKind::Key,
            attacker.list(FileKind::Key).unwrap()[0].name.clone(),
        ),
        (
            FileKind::Pack,
            attacker.list(FileKind::Pack).unwrap()[0].name.clone(),
        ),
        (
            FileKind::Index,
            attacker.list(FileKind::Index).unwrap()[0].name.clone(),
        ),
    ] {
        let needle = if kind == FileKind::Config {
            "never removed"
        } else {
            "missing permission"
        };
        assert_denied(
            attacker.remove(kind, &name),
            needle,
            &format!("remove {kind}"),
        );
    }
    let pack = attacker.list(FileKind::Pack).unwrap()[0].name.clone();
    let e = attacker.remove(FileKind::Pack, &pack).unwrap_err();
    assert!(
        e.to_string().contains("'prune'"),
        "names the permission: {e}"
    );

    // Overwrite: the same name with other bytes, or the same bytes again.
    let snap_bytes = attacker.read(FileKind::Snapshot, &gen1).unwrap();
    assert_denied(
        attacker.create(FileKind::Snapshot, &gen1, b"junk"),
        "",
        "overwrite snapshot",
    );
    let pack_bytes = attacker.read(FileKind::Pack, &pack).unwrap();
    assert!(attacker
        .create(FileKind::Pack, &pack, &pack_bytes)
        .unwrap_err()
        .is_already_exists());
    assert_denied(
        attacker.create(FileKind::Pack, &pack, b"junk"),
        "BLAKE3",
        "pack with wrong bytes",
    );
    // Squat a name a future honest pack would need.
    let future = FileId::of(b"future pack").to_hex();
    assert_denied(
        attacker.create(FileKind::Pack, &future, b"junk"),
        "BLAKE3",
        "squat",
    );

    // Replace config or keys; plant retention metadata.
    assert_denied(
        attacker.create(FileKind::Config, "config", b"x"),
        "manage-keys",
        "config",
    );
    let k = FileId::of(b"k").to_hex();
    assert_denied(
        attacker.create(FileKind::Key, &k, b"k"),
        "manage-keys",
        "key",
    );
    assert_denied(
        attacker.create(FileKind::Meta, "hold-x", b"x"),
        "not a metadata record",
        "meta",
    );
    // The token holds the repository key (it encrypts its backups), so it can seal real records:
    // the vault opens each one and decides by its type.
    let now = Utc::now();
    let gen1_id = FileId::from_hex(&gen1).unwrap();
    let hold = MetaRecord::Hold {
        snapshot: gen1_id,
        action: HoldAction::Release,
        reason: "attacker".into(),
        created_at: now,
        actor: "attacker".into(),
    };
    assert_denied(
        repo.save_meta(&hold).map_err(store_error),
        "hold-change",
        "hold record",
    );
    let lock = MetaRecord::Lock {
        snapshot: gen1_id,
        until: now,
        created_at: now,
        actor: "x".into(),
    };
    assert_denied(
        repo.save_meta(&lock).map_err(store_error),
        "lock-extend",
        "lock record",
    );
    // A clinical index (what the emergency viewer shows) only for its own source's generation, and
    // never a replacement of one already there: forged allergies must not reach clinicians.
    let index = |snapshot: FileId, seed: &[u8]| MetaRecord::ClinicalIndex {
        snapshot,
        manifest: kura_format::BlobId(FileId::of(seed).0),
        blobs: vec![],
        created_at: now,
    };
    repo.save_meta(&index(gen1_id, b"first"))
        .expect("the backup's own index is accepted");
    assert_denied(
        repo.save_meta(&index(gen1_id, b"forged"))
            .map_err(store_error),
        "manage-repos",
        "replace a clinical index",
    );

    // Forge generation times, and a generation of a source the token is not for.
    let mut forged = kura_format::snapshot::Snapshot::open(repo.key(), &snap_bytes).unwrap();
    forged.committed_at = Utc::now() - Duration::days(400);
    let sealed = forged.seal(repo.key());
    let name = FileId::of(&sealed).to_hex();
    assert_denied(
        attacker.create(FileKind::Snapshot, &name, &sealed),
        "vault sets commit times",
        "backdate",
    );
    forged.committed_at = Utc::now() + Duration::days(400);
    let sealed = forged.seal(repo.key());
    let name = FileId::of(&sealed).to_hex();
    assert_denied(
        attacker.create(FileKind::Snapshot, &name, &sealed),
        "vault sets commit times",
        "post-date",
    );
    // Through the commit route the vault stamps its own time instead.
    let committed = attacker.commit_snapshot(&name, &sealed).unwrap();
    assert_ne!(committed, name, "re-sealed under a new name");
    let stored = repo.load_snapshot(&committed).unwrap().snapshot;
    assert!(
        (stored.committed_at - Utc::now()).num_seconds().abs() < 60,
        "{}",
        stored.committed_at
    );
    forged.source = "pacs".into();
    let sealed = forged.seal(repo.key());
    let name = FileId::of(&sealed).to_hex();
    assert_denied(
        attacker.commit_snapshot(&name, &sealed),
        "for source 'pacs'",
        "other source",
    );

    // Read or rewrite the audit log; probe routes that do not exist.
    let (code, body) = v.curl("GET", "/audit", Some(&token), None);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("read-audit"), "{body}");
    let (code, _) = v.curl("PUT", "/audit.log", Some(&token), Some("{}"));
    assert_eq!(code, 404);
    let (code, _) = v.curl(
        "DELETE",
        "/repo/ehr/obj/snapshot/..%2Faudit.log",
        Some(&token),
        None,
    );
    assert!(code == 403 || code == 400 || code == 404, "{code}");
    let (code, _) = v.curl("GET", "/repo/ehr/list/pack", Some("kura_tok_forged"), None);
    assert_eq!(code, 401);

    // Every attempt was audited as refused, with actor, role and address.
    let entries = v.audit_entries();
    let refused: Vec<_> = entries[before..]
        .iter()
        .filter(|e| e["result"] != "success")
        .collect();
    assert!(
        refused.len() >= 17,
        "each attempt audited: {} refusals",
        refused.len()
    );
    for e in &refused {
        assert_eq!(e["source_addr"], "127.0.0.1", "{e}");
    }
    assert!(refused.iter().any(|e| e["action"] == "object.remove"
        && e["role"] == "backup"
        && e["actor"].as_str().unwrap().starts_with("token:")
        && e["reason"].as_str().unwrap().contains("prune")));
    assert!(refused.iter().any(|e| e["action"] == "auth.failed"));
    assert!(refused.iter().any(|e| e["action"] == "request.unknown"));

    // Every generation still restores, byte for byte.
    for (gen, src) in [(&gen1, &src1), (&gen2, &src2)] {
        let target = v.path(&format!("restore-{gen}"));
        let snap = repo.load_snapshot(gen).unwrap().snapshot;
        let opts = RestoreOptions {
            target: target.clone(),
            ..Default::default()
        };
        restore(&repo, &snap, &opts, &Progress::default()).unwrap();
        assert_same_tree(src, &find_dir_with(&target, "ehr.dump").unwrap());
    }
    assert_eq!(repo.list_snapshots().unwrap().snapshots.len(), 3);
}

#[test]
fn wrong_certificate_fingerprint_is_refused() {
    let mut v = VaultHarness::new("");
    let token = v.token("backup", None);
    v.start();
    let wrong = "00".repeat(32);
    let b = kura_store::remote::RemoteBackend::new(&v.url(), &token, &wrong).unwrap();
    let e = b.list(FileKind::Snapshot).unwrap_err();
    assert!(e.to_string().contains("pinned fingerprint"), "{e}");
}

fn verify(v: &VaultHarness) -> std::process::Output {
    kura()
        .args(["audit", "verify", "--config"])
        .arg(&v.config)
        .output()
        .unwrap()
}

#[test]
fn audit_verify_detects_edited_truncated_and_reordered_logs() {
    let mut v = VaultHarness::new("");
    let token = v.token("backup", Some("db01"));
    v.start();
    let repo = v.open_repo(&token);
    let src = v.path("src");
    make_source(&src, 7);
    backup_dir(&repo, &src, "db01");
    let _ = v.backend(&token).remove(FileKind::Config, "config");
    backup_dir(&repo, &src, "db01");
    let out = verify(&v);
    assert!(out.status.success(), "intact log verifies: {}", text(&out));

    let log = v.audit_log();
    let original = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert!(lines.len() >= 6, "{}", lines.len());
    let write = |ls: &[String]| {
        std::fs::write(
            &log,
            ls.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    let owned: Vec<String> = lines.iter().map(|s| s.to_string()).collect();

    let mut edited = owned.clone();
    edited[2] = edited[2].replacen("\"target\":\"", "\"target\":\"x", 1);
    assert_ne!(edited[2], owned[2]);
    write(&edited);
    assert_eq!(verify(&v).status.code(), Some(1), "edited entry detected");

    let mut reordered = owned.clone();
    reordered.swap(1, 2);
    write(&reordered);
    assert_eq!(
        verify(&v).status.code(),
        Some(1),
        "reordered entries detected"
    );

    // Cutting the tail leaves a valid shorter chain: only the head anchored with the last
    // generation reveals it.
    write(&owned[..owned.len() - 1]);
    let out = verify(&v);
    assert_eq!(
        out.status.code(),
        Some(1),
        "truncated tail detected: {}",
        text(&out)
    );

    let mut removed = owned.clone();
    removed.remove(1);
    write(&removed);
    assert_eq!(verify(&v).status.code(), Some(1), "removed entry detected");

    write(&owned);
    assert!(verify(&v).status.success());
    let csv = kura()
        .args(["audit", "export", "--csv", "--config"])
        .arg(&v.config)
        .output()
        .unwrap();
    assert!(csv.status.success(), "{}", text(&csv));
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.starts_with("seq,time_utc"), "{csv}");
    assert_eq!(csv.lines().count(), owned.len() + 1);
}
