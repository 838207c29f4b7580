//! Issue 5, acceptance 6: the vault console in headless Chromium over real HTTPS. An admin logs
//! in with TOTP, sees the repositories, the pending deletion plan (proposed over the API) and the
//! audit entries, filters the log, cannot approve their own plan; an auditor cannot approve at
//! all; a second admin approves in the browser and the vault executes the plan. Without a
//! browser: tokens, cookies holding tokens, other roles, forged forms and expired sessions are
//! all turned away.

use crate::browser;
use crate::vault_support as support;

use std::path::Path;
use std::process::Command;

use kura_engine::backup::{backup, BackupInput, BackupOptions};
use kura_engine::Progress;
use kura_repo::meta::MetaRecord;
use kura_repo::Repository;
use kura_store::{Backend, FileKind};
use support::*;

const SUZUKI_PASSWORD: &str = "Hx3$kR8!pQ2w-yuki-7";
const TANAKA_PASSWORD: &str = "Zb7#mW4!tK9e-tana-2";
/// Long enough to be allowed without a second factor (13+ characters).
const NURSE_PASSWORD: &str = "Lr5%vQ8#nD3x-ns-long";
const XSS: &str = "<img src=x onerror=alert(1)>\"'";

/// Log in through the browser's login form.
pub fn browser_login(b: &browser::Browser, v: &VaultHarness, user: &str, pw: &str, code: &str) {
    b.goto(&format!("https://127.0.0.1:{}/web/login", v.port));
    b.fill("#user", user);
    b.fill("#password", pw);
    b.fill("#code", code);
    b.click_to_load("#login");
}

fn backup_as(repo: &Repository, dir: &Path) -> String {
    let opts = BackupOptions {
        source: "db01".into(),
        ..Default::default()
    };
    let input = BackupInput::Paths(vec![dir.to_path_buf()]);
    backup(repo, input, &opts, &Progress::default())
        .unwrap()
        .id
        .to_hex()
}

fn snapshot_count(v: &VaultHarness, token: &str) -> usize {
    v.backend(token).list(FileKind::Snapshot).unwrap().len()
}

#[test]
fn console_shows_the_pending_plan_and_audit_log_and_a_second_admin_approves() {
    let Some(b) = browser::start("console_shows_the_pending_plan") else {
        return;
    };
    let mut v = VaultHarness::new("");
    let token = v.token("backup", Some("db01"));
    let suzuki_totp = add_user(&v, "suzuki", SUZUKI_PASSWORD, true);
    let tanaka_totp = add_user(&v, "tanaka", TANAKA_PASSWORD, true);
    grant(&v, "sato", "auditor", "*");
    grant(&v, "sato", "retention-admin", "ehr");
    grant(&v, "suzuki", "admin", "*");
    grant(&v, "suzuki", "retention-admin", "ehr");
    grant(&v, "tanaka", "auditor", "*");
    let mut sato_used = enrolment_code(&v.admin_totp);
    let mut suzuki_used = enrolment_code(&suzuki_totp);
    let mut tanaka_used = enrolment_code(&tanaka_totp);
    v.start();
    let base = format!("https://127.0.0.1:{}", v.port);
    let repo = v.open_repo(&token);
    let (src1, src2) = (v.path("src1"), v.path("src2"));
    make_source(&src1, 1);
    make_source(&src2, 2);
    let gen1 = backup_as(&repo, &src1);
    let gen2 = backup_as(&repo, &src2);

    // sato proposes forgetting generation 1 over the HTTPS API, with a reason that tries XSS.
    let code = fresh_code(&v.admin_totp, &mut sato_used);
    let api_session = login(&v, "sato", ADMIN_PASSWORD, &code);
    let body = serde_json::json!({"action": "forget", "snapshots": [gen1], "reason": XSS});
    let (status, answer) = v.curl(
        "POST",
        "/repo/ehr/plans",
        Some(&api_session),
        Some(&body.to_string()),
    );
    assert_eq!(status, 201, "{answer}");
    let plan: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let id = plan["id"].as_str().unwrap().to_string();

    // sato logs in to the console with TOTP: Japanese pages, the repository and its newest
    // generation on the overview.
    browser_login(
        &b,
        &v,
        "sato",
        ADMIN_PASSWORD,
        &fresh_code(&v.admin_totp, &mut sato_used),
    );
    b.wait_for_text("概要");
    assert!(b.url().ends_with("/console/"), "{}", b.url());
    let overview = b.text("#repos");
    assert!(
        overview.contains("db01") && overview.contains(&gen2[..8]),
        "{overview}"
    );

    // The pending plan, its proposer and the reason shown as text (the markup did not run).
    b.goto(&format!("{base}/console/plans"));
    let pending = b.text("#pending");
    assert!(
        pending.contains(&id) && pending.contains("sato"),
        "{pending}"
    );
    assert!(
        pending.contains(XSS),
        "the reason is shown literally: {pending}"
    );
    assert!(!b.exists("#pending img"), "no element was injected");

    // The proposer cannot approve their own plan: the page says why, nothing is deleted.
    b.click_to_load("#pending .approve");
    b.wait_for_text("cannot approve");
    assert_eq!(snapshot_count(&v, &token), 2);

    // The audit log: the proposal and the refused approval; the filter narrows it.
    b.goto(&format!("{base}/console/audit"));
    let log = b.text("#audit");
    assert!(
        log.contains("plan.propose") && log.contains("auth.ok"),
        "{log}"
    );
    b.fill("#action", "plan.approve");
    b.click_to_load("#filter");
    b.wait_for_text("plan.approve");
    assert_eq!(b.text("#matching"), "1", "{}", b.page_text());
    let filtered = b.text("#audit");
    assert!(
        filtered.contains("denied") && !filtered.contains("plan.propose"),
        "{filtered}"
    );
    b.goto(&format!("{base}/console/audit?q={id}"));
    let by_text = b.text("#audit");
    assert!(
        by_text.contains("plan.propose") && by_text.contains("plan.approve"),
        "{by_text}"
    );

    // English on request, remembered by the next page.
    b.click_to_load("#lang-switch");
    b.wait_for_text("Audit log");
    b.goto(&format!("{base}/console/plans"));
    b.wait_for_text("Pending deletion plans");
    b.click_to_load("#logout");
    b.wait_for_text("Password");

    // An auditor sees the plan but cannot approve it.
    browser_login(
        &b,
        &v,
        "tanaka",
        TANAKA_PASSWORD,
        &fresh_code(&tanaka_totp, &mut tanaka_used),
    );
    b.wait_for_text("Overview");
    b.goto(&format!("{base}/console/plans"));
    b.click_to_load("#pending .approve");
    b.wait_for_text("approve-deletion");
    assert_eq!(snapshot_count(&v, &token), 2);
    // Accounts are for admins only; the 403 page names the role.
    b.goto(&format!("{base}/console/accounts"));
    b.wait_for_text("needs the admin role");
    b.click_to_load("#logout");

    // A second admin approves in the browser: the vault executes the plan.
    browser_login(
        &b,
        &v,
        "suzuki",
        SUZUKI_PASSWORD,
        &fresh_code(&suzuki_totp, &mut suzuki_used),
    );
    b.wait_for_text("Overview");
    b.goto(&format!("{base}/console/accounts"));
    let accounts = b.text("#accounts");
    assert!(
        accounts.contains("tanaka") && accounts.contains("auditor@*"),
        "{accounts}"
    );
    b.goto(&format!("{base}/console/plans"));
    b.click_to_load("#pending .approve");
    b.wait_for_text("Plan approved and executed");
    assert!(b.exists("#no-pending"), "{}", b.page_text());
    let left: Vec<String> = v
        .backend(&token)
        .list(FileKind::Snapshot)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(left, vec![gen2.clone()], "only generation 1 removed");

    // Every step is in the (still verifiable) audit log.
    let entries = v.audit_entries();
    let has = |action: &str, actor: &str, result: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["actor"] == actor && e["result"] == result)
    };
    assert!(has("plan.approve", "sato", "denied"));
    assert!(has("plan.approve", "tanaka", "denied"));
    assert!(has("plan.approve", "suzuki", "success"));
    assert!(has("plan.execute", "suzuki", "success"));
    assert!(has("console.view", "sato", "success"));
    assert!(has("console.action", "suzuki", "success"));
    assert!(has("console.view", "tanaka", "denied"));
    let verify = kura()
        .args(["audit", "verify", "--config"])
        .arg(&v.config)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
}

/// A raw HTTPS exchange: (status, headers as sent, body).
pub fn web(v: &VaultHarness, args: &[&str], path: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-sk", "-D", "-", "-o", "-"])
        .args(args)
        .arg(format!("https://127.0.0.1:{}{path}", v.port))
        .output()
        .expect("curl runs");
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((&all, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// Whether the response head has `needle` (case-insensitive, as header names are).
pub fn has(head: &str, needle: &str) -> bool {
    head.to_lowercase().contains(&needle.to_lowercase())
}

/// The value of cookie `name` set by a response.
fn set_cookie<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let v = v.trim().strip_prefix(name)?.strip_prefix('=')?;
        k.eq_ignore_ascii_case("set-cookie").then_some(v)
    })
}

#[test]
fn tokens_other_roles_forged_forms_and_expired_sessions_are_turned_away() {
    let mut v =
        VaultHarness::new("clinician_mfa_exempt = true\n[sessions]\nidle_timeout_secs = 3\n");
    let token = v.token("backup", Some("db01"));
    add_user(&v, "nurse", NURSE_PASSWORD, false);
    grant(&v, "nurse", "clinician", "ehr");
    let (_, codes) = add_user_with_codes(&v, "kimura", TANAKA_PASSWORD, true);
    grant(&v, "kimura", "auditor", "*");
    let mut used = enrolment_code(&v.admin_totp);
    v.start();

    // No cookie, a bearer token, or a token in the cookie: back to the login page.
    let (status, head, _) = web(&v, &[], "/console/audit");
    assert_eq!(status, 303);
    assert!(
        has(&head, "location: /web/login?next=%2Fconsole%2Faudit"),
        "{head}"
    );
    let bearer = format!("Authorization: Bearer {token}");
    let (status, _, _) = web(&v, &["-H", &bearer], "/console/");
    assert_eq!(status, 303);
    let cookie = format!("Cookie: kura_session={token}");
    let (status, _, _) = web(&v, &["-H", &cookie], "/console/");
    assert_eq!(status, 303, "a backup token never opens the console");
    assert!(v
        .audit_entries()
        .iter()
        .any(|e| e["action"] == "web.auth" && e["result"] == "denied"));

    // The login page: security headers, and the API's one message for every failure.
    let (status, head, page) = web(&v, &[], "/web/login");
    assert_eq!(status, 200);
    for h in [
        "content-security-policy: default-src 'self'",
        "x-frame-options: deny",
        "cache-control: no-store",
        "referrer-policy: no-referrer",
    ] {
        assert!(has(&head, h), "{h} in {head}");
    }
    assert!(page.contains("lang=\"ja\"") && page.contains("パスワード"));
    let pre = set_cookie(&head, "kura_login")
        .and_then(|c| c.split(';').next())
        .expect("login form cookie")
        .to_string();
    let api_message = {
        let body = serde_json::json!({"user": "nobody", "password": "x", "totp": "123456"});
        v.curl("POST", "/login", None, Some(&body.to_string())).1
    };
    let jar = format!("Cookie: kura_login={pre}");
    for (user, pw) in [("nobody", "x"), ("sato", "wrong-Password-1!")] {
        let form = format!("pre={pre}&next=&user={user}&password={pw}&code=123456");
        let (status, _, page) = web(&v, &["-H", &jar, "--data", &form], "/web/login");
        assert_eq!(status, 401, "{page}");
        assert!(page.contains(api_message.trim()), "{api_message} in {page}");
    }
    // A recovery code works in place of the TOTP code (once): a session cookie, then the pages.
    let form = format!(
        "pre={pre}&next=%2Fconsole%2Faudit&user=kimura&password={TANAKA_PASSWORD}&code={}",
        codes[0]
    );
    let (status, head, _) = web(&v, &["-H", &jar, "--data", &form], "/web/login");
    assert_eq!(status, 303, "{head}");
    assert!(has(&head, "location: /console/audit"), "{head}");
    let set = set_cookie(&head, "kura_session").expect("session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    let sid = set.split(';').next().unwrap();
    let (status, _, page) = web(
        &v,
        &["-H", &format!("Cookie: kura_session={sid}")],
        "/console/audit",
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("kimura"), "{page}");
    let (status, _, _) = web(&v, &["-H", &jar, "--data", &form], "/web/login");
    assert_eq!(status, 401, "a recovery code works once");

    // Without the login form's cookie the form is refused (login CSRF).
    let form = format!("pre={pre}&next=&user=sato&password={ADMIN_PASSWORD}&code=1");
    let (status, _, _) = web(&v, &["--data", &form], "/web/login");
    assert_eq!(status, 400);

    // A clinician (MFA-exempt here) is logged in but the console is not for that role.
    let body = serde_json::json!({"user": "nurse", "password": NURSE_PASSWORD});
    let (status, answer) = v.curl("POST", "/login", None, Some(&body.to_string()));
    assert_eq!(status, 200, "{answer}");
    let nurse: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let nurse_cookie = format!(
        "Cookie: kura_session={}",
        nurse["session"].as_str().unwrap()
    );
    let (status, _, page) = web(&v, &["-H", &nurse_cookie], "/console/");
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("admin") && page.contains("auditor") && page.contains("clinician"),
        "{page}"
    );

    // An admin's POST without the session's CSRF token is refused and audited.
    let session = login(
        &v,
        "sato",
        ADMIN_PASSWORD,
        &fresh_code(&v.admin_totp, &mut used),
    );
    let sato_cookie = format!("Cookie: kura_session={session}");
    let forged = "csrf=0000&repo=ehr&id=0123456789abcdef";
    let (status, _, page) = web(
        &v,
        &["-H", &sato_cookie, "--data", forged],
        "/console/plans/approve",
    );
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("security token"), "{page}");
    assert!(v
        .audit_entries()
        .iter()
        .any(|e| e["action"] == "console.action"
            && e["actor"] == "sato"
            && e["result"] == "denied"));

    // After the idle timeout the session is gone: back to the login page.
    let (status, _, _) = web(&v, &["-H", &sato_cookie], "/console/");
    assert_eq!(status, 200);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let (status, head, _) = web(&v, &["-H", &sato_cookie], "/console/");
    assert_eq!(status, 303);
    assert!(has(&head, "location: /web/login"), "{head}");
}

/// Log in through the web form with curl: the session cookie header for later requests.
fn web_session(v: &VaultHarness, user: &str, password: &str, code: &str) -> String {
    let (_, head, _) = web(v, &[], "/web/login");
    let pre = set_cookie(&head, "kura_login")
        .and_then(|c| c.split(';').next())
        .expect("login form cookie")
        .to_string();
    let form = format!("pre={pre}&next=&user={user}&password={password}&code={code}");
    let jar = format!("Cookie: kura_login={pre}");
    let (status, head, page) = web(v, &["-H", &jar, "--data", &form], "/web/login");
    assert_eq!(status, 303, "login of {user}: {page}");
    let sid = set_cookie(&head, "kura_session")
        .and_then(|c| c.split(';').next())
        .expect("session cookie");
    format!("Cookie: kura_session={sid}")
}

/// The console's drill page lists what `kura plan drill` recorded (through an operator token, as
/// the real command does), failures escaped, and names repositories without a recent drill.
#[test]
fn console_lists_restore_drills_with_their_results() {
    let mut v = VaultHarness::new("");
    let token = v.token("backup", Some("db01"));
    let operator = v.token("operator", None);
    grant(&v, "sato", "auditor", "*");
    let mut used = enrolment_code(&v.admin_totp);
    v.start();
    let cookie = web_session(
        &v,
        "sato",
        ADMIN_PASSWORD,
        &fresh_code(&v.admin_totp, &mut used),
    );

    let (status, _, page) = web(&v, &["-H", &cookie], "/console/drills?lang=en");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"no-drills\""), "{page}");
    assert!(
        page.contains("id=\"stale\"") && page.contains("ehr"),
        "{page}"
    );

    let src = v.path("src");
    make_source(&src, 3);
    let generation = backup_as(&v.open_repo(&token), &src);
    let snapshot = kura_format::FileId::from_hex(&generation).unwrap();
    let repo = v.open_repo(&operator);
    let drill = |passed: bool, failures: Vec<String>, days_ago: i64| MetaRecord::Drill {
        snapshot,
        system: "電子カルテ".into(),
        plan: "半田病院 復旧計画".into(),
        passed,
        restore_seconds: 42.5,
        rto_met: passed,
        failures,
        created_at: chrono::Utc::now() - chrono::Duration::days(days_ago),
        actor: "operator-token".into(),
    };
    repo.save_meta(&drill(false, vec![XSS.to_string()], 30))
        .unwrap();
    repo.save_meta(&drill(true, vec![], 1)).unwrap();

    let (status, _, page) = web(&v, &["-H", &cookie], "/console/drills?lang=en");
    assert_eq!(status, 200, "{page}");
    let table = page.split("id=\"drills\"").nth(1).expect("the drill table");
    assert!(
        !page.contains("id=\"stale\""),
        "a drill yesterday is recent: {page}"
    );
    let passed = table.find("passed").expect("the passed drill");
    let failed = table.find("FAILED").expect("the failed drill");
    assert!(passed < failed, "newest first: {table}");
    assert!(
        table.contains(&generation[..8]) && table.contains("電子カルテ"),
        "{table}"
    );
    assert!(
        table.contains("42.5 s") && table.contains("missed"),
        "{table}"
    );
    assert!(
        !table.contains("<img"),
        "failures are shown as text: {table}"
    );
    assert!(table.contains("&lt;img"), "{table}");
    assert!(
        v.audit_entries().iter().any(|e| e["target"]
            .as_str()
            .is_some_and(|t| t.contains("/console/drills"))),
        "the page view is audited"
    );
}

/// A new account is reminded on every page to replace the password an administrator chose, and
/// changes it on `/web/password` (the current one is asked again); its sessions end, the old
/// password stops working, the new one works and the reminder is gone. An administrator's reset
/// brings the reminder back. All of it is audited, no password in the log.
#[test]
fn a_new_account_changes_its_password_on_the_web_and_an_admin_can_reset_it() {
    let mut v = VaultHarness::new("clinician_mfa_exempt = true\n");
    add_user(&v, "nurse", NURSE_PASSWORD, false);
    grant(&v, "nurse", "clinician", "ehr");
    v.start();
    let login = |password: &str| {
        let (_, head, _) = web(&v, &[], "/web/login");
        let pre = set_cookie(&head, "kura_login")
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string();
        let form = format!("pre={pre}&next=%2Fviewer%2F&user=nurse&password={password}&code=");
        let jar = format!("Cookie: kura_login={pre}");
        let (status, head, _) = web(&v, &["-H", &jar, "--data", &form], "/web/login");
        let cookie = set_cookie(&head, "kura_session")
            .and_then(|c| c.split(';').next())
            .map(|sid| format!("Cookie: kura_session={sid}"));
        (status, head, cookie)
    };
    let reminded = |cookie: &str| {
        let (status, _, page) = web(&v, &["-H", cookie], "/viewer/");
        assert_eq!(status, 200, "{page}");
        page.contains("id=\"must-change\"")
    };
    let (status, head, cookie) = login(NURSE_PASSWORD);
    assert_eq!(status, 303, "{head}");
    assert!(has(&head, "location: /viewer/"), "{head}");
    let cookie = cookie.unwrap();
    assert!(reminded(&cookie), "a new account is reminded");
    let (status, _, page) = web(&v, &["-H", &cookie], "/web/password");
    assert_eq!(status, 200, "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the form's csrf token")
        .to_string();
    let change = |current: &str, new: &str, repeat: &str| {
        let form = format!("csrf={csrf}&current={current}&code=&new={new}&repeat={repeat}");
        web(&v, &["-H", &cookie, "--data", &form], "/web/password")
    };
    const NEW: &str = "Wq8!rT5#kN2v-ward-new";
    let (status, _, page) = change(NURSE_PASSWORD, NEW, "something-else-entirely");
    assert_eq!(status, 400, "mismatch: {page}");
    let (status, _, page) = change("wrong-Password-1!x", NEW, NEW);
    assert!(
        status == 401 || status == 403,
        "a wrong current password: {status} {page}"
    );
    let (status, _, page) = change(NURSE_PASSWORD, "short", "short");
    assert_eq!(status, 400, "the password rules apply: {page}");
    let (status, head, _) = change(NURSE_PASSWORD, NEW, NEW);
    assert_eq!(status, 303, "{head}");
    assert!(has(&head, "location: /web/login?changed=1"), "{head}");
    let (status, _, _) = web(&v, &["-H", &cookie], "/viewer/");
    assert_eq!(status, 303, "the old session ended");
    let (status, _, _) = login(NURSE_PASSWORD);
    assert_eq!(status, 401, "the old password no longer works");
    let (status, head, fresh) = login(NEW);
    assert!(has(&head, "location: /viewer/"), "{status} {head}");
    assert!(!reminded(&fresh.unwrap()), "no reminder after the change");

    // The administrator's reset: the user must choose a new one again.
    const RESET: &str = "Yp3!hM7#cZ4s-reset-ward";
    std::fs::write(v.path("reset-pw"), format!("{RESET}\n")).unwrap();
    let out = kura()
        .args(["admin", "user", "password", "nurse", "--config"])
        .arg(&v.config)
        .env("KURA_USER_PASSWORD_FILE", v.path("reset-pw"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (status, _, _) = login(NEW);
    assert_eq!(status, 401);
    let (_, head, reset) = login(RESET);
    assert!(has(&head, "location: /viewer/"), "{head}");
    assert!(
        reminded(&reset.unwrap()),
        "a reset account is reminded again"
    );

    let entries = v.audit_entries();
    let count = |action: &str, result: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["result"] == result)
            .count()
    };
    assert_eq!(count("account.password_change", "success"), 1);
    assert!(count("account.password_change", "failure") >= 2);
    assert_eq!(count("account.password_reset", "success"), 1);
    let log = entries.iter().map(|e| e.to_string()).collect::<String>();
    for secret in [NURSE_PASSWORD, NEW, RESET] {
        assert!(!log.contains(secret), "a password reached the audit log");
    }
}
