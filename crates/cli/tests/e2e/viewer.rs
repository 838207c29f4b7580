//! Issue 7, acceptance 4: the emergency viewer in headless Chromium over real HTTPS. A generated
//! SS-MIX2 tree (patients with known facts) is backed up over HTTPS into a vault repository and
//! indexed on the vault host (`kura clinical index --format ss-mix2`); a clinician logs in with TOTP, must give a break-glass reason before
//! any patient data, searches by kana (typed in hiragana: the index folds it), opens a summary
//! that shows exactly the known facts in Japanese with the generation's banner, prints the ward
//! list, and the vault's audit log holds each view with the reason.

use crate::browser;
use crate::console::{browser_login, has, web};
use crate::vault_support as support;

use std::path::Path;

use kura_clinical::synth::{generate, ExpectedPatient, SynthConfig};
use support::*;

const YAMADA_PASSWORD: &str = "Kd8!wP3#rT6y-yama-4";
const REASON_TEXT: &str = "電子カルテ停止中の病棟回診";

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

fn write_tree(root: &Path, files: &[kura_clinical::synth::SynthFile]) {
    for f in files {
        let path = root.join(&f.rel_path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &f.bytes).unwrap();
    }
}

/// A backup of the SS-MIX2 tree over HTTPS with the source's backup token; returns the
/// generation id the vault committed.
fn backup_over_https(v: &VaultHarness, token_file: &Path, tree: &Path) -> String {
    let out = kura()
        .args(["backup", "--json", "--source", "ssmix2"])
        .arg(tree)
        .env("KURA_REPOSITORY", v.url())
        .env("KURA_TOKEN_FILE", token_file)
        .env("KURA_TLS_FINGERPRINT", &v.fingerprint)
        .env("KURA_PASSWORD_FILE", v.path("repo-pw"))
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(4)),
        "{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|l: &serde_json::Value| l["message_type"] == "summary")
        .unwrap_or_else(|| panic!("no summary line: {}", text(&out)));
    summary["snapshot"].as_str().unwrap().to_string()
}

/// `kura clinical index --format ss-mix2` of generation `id`, run on the vault host against
/// the vault's repository: the index is built from the files inside the generation, by the
/// vault's operator, not by the (possibly compromised) backup client.
fn index_on_vault_host(v: &VaultHarness, id: &str) {
    let out = kura()
        .args([
            "clinical",
            "index",
            "--format",
            "ss-mix2",
            "--snapshot",
            id,
            "--repo",
        ])
        .arg(v.path("data/repos/ehr"))
        .env("KURA_PASSWORD_FILE", v.path("repo-pw"))
        .env("KURA_AUDIT_LOG", v.path("host-audit.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// Hiragana for a katakana name (the viewer must find the katakana record from it).
fn hiragana(kana: &str) -> String {
    kana.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            c => c,
        })
        .collect()
}

fn assert_summary_shows(page: &str, p: &ExpectedPatient) {
    let mut facts = vec![
        p.patient_id.clone(),
        p.name_kanji.clone(),
        p.birth_date.to_string(),
    ];
    facts.extend(p.allergies.iter().cloned());
    facts.extend(p.diagnoses.iter().cloned());
    facts.extend(p.medications.iter().cloned());
    facts.extend(p.infections.iter().cloned());
    for l in &p.labs {
        facts.push(l.text.clone());
        facts.push(l.value.clone());
    }
    for f in facts {
        assert!(
            page.contains(&f),
            "{f:?} missing from the summary page:\n{page}"
        );
    }
}

#[test]
fn clinician_gives_a_reason_searches_by_kana_reads_a_summary_and_prints_the_ward_list() {
    let Some(b) = browser::start("clinician_viewer") else {
        return;
    };
    let data = generate(SynthConfig {
        patients: 12,
        seed: 2026,
        as_of: today(),
    });
    let mut v = VaultHarness::new("");
    let token = v.token("backup", Some("ssmix2"));
    std::fs::write(v.path("token"), &token).unwrap();
    let totp = add_user(&v, "yamada", YAMADA_PASSWORD, true);
    grant(&v, "yamada", "clinician", "ehr");
    let mut used = enrolment_code(&totp);
    let tree = v.path("ssmix2");
    write_tree(&tree, &data.ssmix2);
    v.start();
    // Two generations: the second has a parent, so it carries a verdict (clean).
    let first = backup_over_https(&v, &v.path("token"), &tree);
    let newest = backup_over_https(&v, &v.path("token"), &tree);
    index_on_vault_host(&v, &first);
    index_on_vault_host(&v, &newest);
    let base = format!("https://127.0.0.1:{}", v.port);

    // An inpatient with allergies and prescriptions: the most telling summary.
    let p = data
        .expected
        .iter()
        .find(|p| p.admitted_ward.is_some() && !p.allergies.is_empty() && !p.medications.is_empty())
        .expect("the generator admits some patients with allergies and prescriptions");

    browser_login(
        &b,
        &v,
        "yamada",
        YAMADA_PASSWORD,
        &fresh_code(&totp, &mut used),
    );
    b.wait_for_text("閲覧理由");
    // No patient data before a reason: the search sends the clinician back to the form.
    b.goto(&format!("{base}/viewer/search?id={}", p.patient_id));
    b.wait_for_text("閲覧理由の入力");
    assert!(!b.page_text().contains(&p.name_kanji));
    // Both parts of the reason are required.
    b.click("#choice option[value=outage]");
    // The browser itself may refuse (a `required` field), so no page load is awaited here.
    b.click("#reason-submit");
    assert!(
        b.exists("#break-glass"),
        "the browser or the server refused an empty reason"
    );
    b.fill("#reason-text", REASON_TEXT);
    b.click_to_load("#reason-submit");
    b.wait_for_text("患者検索");

    // Search by kana, typed in hiragana (family name only).
    let family = p.name_kana.split_whitespace().next().unwrap();
    b.fill("#kana", &hiragana(family));
    b.click_to_load("#search-button");
    b.wait_for_text(&p.patient_id);
    let link = format!("a[href='/viewer/patient/ehr/{}']", p.patient_id);
    b.click_to_load(&link);
    b.wait_for_text("アレルギー");
    let page = b.page_text();
    assert_summary_shows(&page, p);
    assert!(
        page.contains(&newest[..8]),
        "banner names generation {newest}: {page}"
    );
    assert!(
        page.contains("判定: 正常"),
        "banner gives the verdict: {page}"
    );
    assert!(page.contains("入院中"), "{page}");
    assert!(page.contains(REASON_TEXT));

    // English on request.
    b.goto(&format!(
        "{base}/viewer/patient/ehr/{}?lang=en",
        p.patient_id
    ));
    b.wait_for_text("Allergies");
    b.goto(&format!("{base}/viewer/ward?lang=ja"));
    b.wait_for_text("病棟患者一覧");
    let ward = b.page_text();
    for q in data.expected.iter().filter(|q| q.admitted_ward.is_some()) {
        assert!(
            ward.contains(&q.patient_id),
            "inpatient {} on the ward list",
            q.patient_id
        );
        for a in &q.allergies {
            assert!(ward.contains(a), "{a} for {}", q.patient_id);
        }
    }
    for q in data.expected.iter().filter(|q| q.admitted_ward.is_none()) {
        assert!(
            !ward.contains(&q.patient_id),
            "outpatient {} not on the ward list",
            q.patient_id
        );
    }
    let pdf = b.print_pdf();
    assert!(
        pdf.starts_with(b"%PDF-"),
        "print gave {} bytes that are not a PDF",
        pdf.len()
    );

    // The audit log (exported as the CLI does) holds each view with the reason.
    let out = kura()
        .args(["audit", "export", "--config"])
        .arg(&v.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let views: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["action"] == "clinical.view" && e["actor"] == "yamada")
        .collect();
    let targets: Vec<&str> = views.iter().filter_map(|e| e["target"].as_str()).collect();
    let patient_target = format!("ehr/patient/{}", p.patient_id);
    assert!(
        targets
            .iter()
            .any(|t| t.starts_with("search") && t.contains(&hiragana(family))),
        "{targets:?}"
    );
    assert_eq!(
        targets.iter().filter(|t| **t == patient_target).count(),
        2,
        "{targets:?}"
    );
    assert!(targets.contains(&"ward *"), "{targets:?}");
    for e in &views {
        let reason = e["reason"].as_str().unwrap_or_default();
        assert_eq!(reason, format!("outage: {REASON_TEXT}"), "{e}");
    }
    let shown = views
        .iter()
        .find(|e| e["target"] == patient_target.as_str())
        .unwrap();
    assert_eq!(
        shown["details"]["shown"][0]["generation"],
        newest.as_str(),
        "{shown}"
    );

    // Lookups after the first reuse the decoded index: measure the server's answer time of the
    // summary page (request start to response end, as the browser saw it).
    let mut ms = Vec::new();
    for _ in 0..5 {
        b.goto(&format!("{base}/viewer/patient/ehr/{}", p.patient_id));
        let t = b.execute(
            "const n = performance.getEntriesByType('navigation')[0]; return n.responseEnd - n.requestStart;",
            serde_json::json!([]),
        );
        ms.push(t.as_f64().unwrap_or(f64::MAX));
    }
    ms.sort_by(f64::total_cmp);
    eprintln!("summary page answer times (ms, sorted): {ms:?}");
    assert!(ms[2] < 2000.0, "median summary page answer {} ms", ms[2]);
}

#[test]
fn the_viewer_is_for_clinicians_only() {
    let mut v = VaultHarness::new("");
    let mut used = enrolment_code(&v.admin_totp);
    v.start();
    let session = login(
        &v,
        "sato",
        ADMIN_PASSWORD,
        &fresh_code(&v.admin_totp, &mut used),
    );
    let cookie = format!("Cookie: kura_session={session}");
    let (status, _, page) = web(&v, &["-H", &cookie], "/viewer/");
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("clinician"), "names the role needed: {page}");
    let (status, head, _) = web(&v, &[], "/viewer/ward");
    assert_eq!(status, 303);
    assert!(has(&head, "location: /web/login"), "{head}");
}
