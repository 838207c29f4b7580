use super::*;
use crate::drill::{DrilledGeneration, SystemDrill};
use crate::plan::{Party, Priority, Responsible};
use crate::verify::VerificationResult;
use chrono::TimeZone;
use std::path::PathBuf;

fn check(name: &str, passed: bool, stdout: &str, message: &str) -> CheckResult {
    CheckResult {
        name: name.into(),
        passed,
        exit_code: Some(if passed { 0 } else { 1 }),
        timed_out: false,
        seconds: 1.5,
        stdout: stdout.into(),
        stderr: if passed {
            String::new()
        } else {
            "pg_restore: error: <bad>".into()
        },
        message: message.into(),
    }
}

fn report(passed: bool) -> DrillReport {
    let t = Utc.with_ymd_and_hms(2027, 3, 1, 15, 30, 0).unwrap();
    let checks = vec![
        check("row-count", true, "412", "ok"),
        check(
            "integrity",
            passed,
            "<script>alert(1)</script>",
            if passed {
                "ok"
            } else {
                "exit status 1 (expected 0)"
            },
        ),
    ];
    let system = SystemDrill {
        name: "ehr-db".into(),
        title: Some("電子カルテ DB".into()),
        priority: Priority::P1,
        responsible: Some(Responsible {
            party: Party::Vendor,
            name: "Example Medical Systems K.K.".into(),
            contact: Some("0120-000-000 (24h)".into()),
            scope: None,
        }),
        restored_to: Some(PathBuf::from("/scratch/ehr-db")),
        generations: vec![DrilledGeneration {
            source: "ehr-db".into(),
            id: "1a2b3c4d".into(),
            committed_at: t,
        }],
        bytes: 3 * 1_048_576,
        restore_seconds: 125.0,
        verify_seconds: 3.0,
        rto: "4h".into(),
        rto_seconds: Some(14_400),
        rto_met: true,
        restore_error: None,
        verification: Some(VerificationResult {
            system: "ehr-db".into(),
            passed,
            checks,
        }),
        passed,
    };
    DrillReport {
        hospital: "Kura General Hospital & Clinic".into(),
        owner: Some("医療情報システム安全管理責任者 山田".into()),
        plan_revision: Some("2027-02".into()),
        timezone: "+09:00".into(),
        started_at: t,
        finished_at: t,
        passed,
        systems: vec![system],
    }
}

#[test]
fn passing_report_states_generation_achieved_time_and_responsibility() {
    let html = render_html(&report(true));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("復旧訓練報告書 / Recovery drill report"));
    assert!(html.contains("合格 / PASSED"));
    assert!(
        html.contains("<code>1a2b3c4d</code> (2027-03-02 00:30:00 +09:00)"),
        "JST times"
    );
    assert!(html.contains("2m 5s / 目標 target 4h"));
    assert!(html.contains("ベンダー / vendor: Example Medical Systems K.K.<br>0120-000-000 (24h)"));
    assert!(html.contains("Kura General Hospital &amp; Clinic"));
    assert!(html.contains("3.0 MiB"));
    assert!(
        !html.contains("<link") && !html.contains("<script"),
        "standalone, no script"
    );
    assert!(html.contains("@page{size:A4"));
}

#[test]
fn failing_report_lists_the_problem_and_escapes_output() {
    let html = render_html(&report(false));
    assert!(html.contains("不合格 / FAILED"));
    assert!(html.contains(
        "system &quot;ehr-db&quot;: check &quot;integrity&quot; failed: exit status 1 (expected 0)"
    ));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("pg_restore: error: &lt;bad&gt;"));
    assert!(!html.contains("<script>"));
}

#[test]
fn unknown_timezone_falls_back_to_utc_and_missing_responsibility_is_flagged() {
    let mut r = report(true);
    r.timezone = "JST".into();
    r.systems[0].responsible = None;
    let html = render_html(&r);
    assert!(html.contains("2027-03-01 15:30:00 +00:00"));
    assert!(html.contains("未記載 / not stated in the plan"));
}

#[test]
fn escaping() {
    assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}
