//! Issue 5, acceptance 3 over real HTTPS: with `require_approval = true` a deletion is a plan
//! proposed by one retention-admin that does nothing until a second, different one approves; the
//! proposer cannot approve their own plan; every step is in the audit log.

use crate::vault_support as support;

use std::path::Path;

use kura_engine::backup::{backup, BackupInput, BackupOptions};
use kura_engine::Progress;
use kura_repo::Repository;
use kura_store::{Backend, FileKind};
use support::*;

const SUZUKI_PASSWORD: &str = "Hx3$kR8!pQ2w-yuki-7";

fn backup_as(repo: &Repository, dir: &Path) -> String {
    let opts = BackupOptions {
        source: "db01".into(),
        ..Default::default()
    };
    let input = BackupInput::Paths(vec![dir.to_path_buf()]);
    let r = backup(repo, input, &opts, &Progress::default()).unwrap();
    r.id.to_hex()
}

fn snapshots(v: &VaultHarness, token: &str) -> Vec<String> {
    let mut names: Vec<String> = v
        .backend(token)
        .list(FileKind::Snapshot)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    names.sort();
    names
}

/// Add `suzuki` with TOTP and make both sato and suzuki retention-admins of `ehr`.
fn second_admin(v: &VaultHarness) -> String {
    let secret = add_user(v, "suzuki", SUZUKI_PASSWORD, true);
    for user in ["sato", "suzuki"] {
        grant(v, user, "retention-admin", "ehr");
    }
    secret
}

fn approve_cli(v: &VaultHarness, id: &str, user: &str, pw_file: &str, code: &str) -> String {
    let mut c = kura();
    c.args([
        "--json", "admin", "plan", "approve", id, "--repo", "ehr", "--user", user,
    ])
    .arg("--config")
    .arg(&v.config)
    .env("KURA_USER_PASSWORD_FILE", v.path(pw_file))
    .env("KURA_TOTP", code);
    let out = c.output().unwrap();
    text(&out)
}

#[test]
fn a_deletion_needs_a_second_admin_and_the_proposer_cannot_approve() {
    let mut v = VaultHarness::new("");
    let token = v.token("backup", Some("db01"));
    let suzuki_totp = second_admin(&v);
    let mut sato_used = enrolment_code(&v.admin_totp);
    let mut suzuki_used = enrolment_code(&suzuki_totp);
    v.start();
    let repo = v.open_repo(&token);
    let (src1, src2) = (v.path("src1"), v.path("src2"));
    make_source(&src1, 1);
    make_source(&src2, 2);
    let gen1 = backup_as(&repo, &src1);
    let gen2 = backup_as(&repo, &src2);
    assert_eq!(snapshots(&v, &token).len(), 2);

    // A backup token cannot propose: plans are for named people.
    let body = serde_json::json!({"action": "forget", "snapshots": [gen1]}).to_string();
    let (status, answer) = v.curl("POST", "/repo/ehr/plans", Some(&token), Some(&body));
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer.contains("'forget'"),
        "names the permission: {answer}"
    );

    // sato proposes forgetting generation 1 (by prefix) over HTTPS with a TOTP session.
    let code = fresh_code(&v.admin_totp, &mut sato_used);
    let sato = login(&v, "sato", ADMIN_PASSWORD, &code);
    let body =
        serde_json::json!({"action": "forget", "snapshots": [&gen1[..10]], "reason": "test"})
            .to_string();
    let (status, answer) = v.curl("POST", "/repo/ehr/plans", Some(&sato), Some(&body));
    assert_eq!(status, 201, "{answer}");
    let plan: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let id = plan["id"].as_str().unwrap().to_string();
    assert_eq!(plan["status"], "pending");
    assert_eq!(plan["snapshots"][0], gen1.as_str(), "prefix resolved");

    // Nothing is deleted yet, and a direct removal is refused while approval is required.
    assert_eq!(snapshots(&v, &token), sorted(&[&gen1, &gen2]));
    let path = format!("/repo/ehr/obj/snapshot/{gen1}");
    let (status, answer) = v.curl("DELETE", &path, Some(&sato), None);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("four-eyes"), "{answer}");

    // The proposer cannot approve their own plan.
    let approve = format!("/repo/ehr/plans/{id}/approve");
    let (status, answer) = v.curl("POST", &approve, Some(&sato), None);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("cannot approve"), "{answer}");
    assert_eq!(
        snapshots(&v, &token).len(),
        2,
        "self-approval deleted nothing"
    );
    let (status, listing) = v.curl("GET", "/repo/ehr/plans", Some(&sato), None);
    assert_eq!(status, 200, "{listing}");
    assert!(listing.contains("\"pending\""), "{listing}");

    // A wrong TOTP code approves nothing either.
    let refused = approve_cli(&v, &id, "suzuki", "suzuki-pw", "000000");
    assert!(refused.contains("status Some(1)"), "{refused}");
    assert_eq!(snapshots(&v, &token).len(), 2);

    // suzuki approves on the vault host with password + TOTP: the vault executes the plan.
    let code = fresh_code(&suzuki_totp, &mut suzuki_used);
    let done = approve_cli(&v, &id, "suzuki", "suzuki-pw", &code);
    assert!(done.contains("status Some(0)"), "{done}");
    assert!(done.contains("\"status\":\"executed\""), "{done}");
    assert!(done.contains("\"approved_by\":\"suzuki\""), "{done}");
    assert_eq!(
        snapshots(&v, &token),
        vec![gen2.clone()],
        "only generation 1 removed"
    );

    // The approval ran in another process (`kura admin`), which rewrote auth.json: the running
    // vault reloads it and in-memory web sessions end (CONFIG.md), so sato must log in again.
    let (status, _) = v.curl("GET", "/repo/ehr/plans", Some(&sato), None);
    assert_eq!(status, 401);

    // Every step is audited with its actor.
    let entries = v.audit_entries();
    let find = |action: &str, actor: &str, result: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["actor"] == actor && e["result"] == result)
    };
    assert!(find("plan.propose", "sato", "success"), "{entries:?}");
    assert!(find("plan.approve", "sato", "denied"));
    assert!(find("plan.approve", "suzuki", "success"));
    assert!(find("plan.execute", "suzuki", "success"));
    let verify = kura()
        .args(["audit", "verify", "--config"])
        .arg(&v.config)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));

    // `kura admin plan list` shows the outcome.
    let listing = v.admin(&["plan", "list", "--repo", "ehr"]);
    assert!(
        listing.contains(&id) && listing.contains("executed"),
        "{listing}"
    );
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}
