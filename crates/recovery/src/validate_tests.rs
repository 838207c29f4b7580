use super::*;
use crate::plan::{Check, Expect};
use crate::testutil::{plan_of, sys};
use crate::Priority::*;

fn known(plan: &Plan) -> Vec<String> {
    plan.systems
        .iter()
        .flat_map(|s| s.sources.clone())
        .collect()
}

fn check(name: &str, shell: &str) -> Check {
    Check {
        name: name.into(),
        command: None,
        shell: Some(shell.into()),
        timeout: None,
        expect: Expect::default(),
        env: Default::default(),
    }
}

#[test]
fn a_sound_plan_validates() {
    let plan = plan_of(vec![sys("ehr-db", P1, &[]), sys("orders", P1, &["ehr-db"])]);
    assert_eq!(validate(&plan, &known(&plan)), Ok(()));
}

#[test]
fn cycle_is_named_from_the_first_listed_system() {
    let plan = plan_of(vec![
        sys("ehr-db", P1, &["orders"]),
        sys("orders", P1, &["ehr-db"]),
        sys("lab", P2, &[]),
    ]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    assert_eq!(
        errs,
        vec![PlanError::Cycle {
            cycle: vec!["ehr-db".into(), "orders".into(), "ehr-db".into()]
        }]
    );
    assert!(errs[0].to_string().contains("ehr-db → orders → ehr-db"));
}

#[test]
fn longer_cycle_entered_from_the_middle_is_reported_once() {
    let plan = plan_of(vec![
        sys("a", P1, &["b"]),
        sys("b", P1, &["c"]),
        sys("c", P1, &["a"]),
        sys("d", P1, &["b"]),
    ]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains("a → b → c → a"), "{msgs:?}");
}

#[test]
fn self_dependency_is_a_cycle() {
    let plan = plan_of(vec![sys("pacs", P2, &["pacs"])]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    assert!(errs[0].to_string().contains("pacs → pacs"), "{errs:?}");
}

#[test]
fn unknown_source_names_the_system_source_and_known_ones() {
    let plan = plan_of(vec![sys("ehr-db", P1, &[])]);
    let errs = validate(&plan, &["ssmix2".to_string()]).unwrap_err();
    let msg = errs[0].to_string();
    assert!(matches!(errs[0], PlanError::UnknownSource { .. }));
    assert!(
        msg.contains("\"ehr-db\"") && msg.contains("ssmix2"),
        "{msg}"
    );
    let errs = validate(&plan, &[]).unwrap_err();
    assert!(errs[0].to_string().contains("no generations yet"));
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let mut bad = sys("orders", P1, &["ghost"]);
    bad.rpo = "30".into();
    bad.rto = "0m".into();
    bad.restore_to = None;
    bad.sources.clear();
    let plan = plan_of(vec![bad, sys("lab", P2, &[]), sys("lab", P2, &[])]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    let kinds: Vec<&str> = errs
        .iter()
        .map(|e| match e {
            PlanError::DuplicateName { .. } => "dup",
            PlanError::NoSources { .. } => "nosrc",
            PlanError::UnknownDependency { .. } => "dep",
            PlanError::BadDuration { field: "rpo", .. } => "rpo",
            PlanError::ZeroDuration { field: "rto", .. } => "rto0",
            PlanError::MissingRestoreTo { .. } => "restore_to",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["dup", "nosrc", "dep", "rpo", "rto0", "restore_to"]
    );
    assert!(errs[3].to_string().contains("m = minutes"), "{}", errs[3]);
}

#[test]
fn p1_on_p3_is_only_a_warning() {
    let plan = plan_of(vec![sys("scan", P3, &[]), sys("ehr-db", P1, &["scan"])]);
    assert_eq!(validate(&plan, &known(&plan)), Ok(()));
    let findings = lint(&plan, &known(&plan));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].severity(), Severity::Warning);
    assert!(findings[0]
        .to_string()
        .contains("(P1) depends on \"scan\" (P3)"));
}

#[test]
fn warnings_sort_after_errors() {
    let plan = plan_of(vec![
        sys("scan", P3, &[]),
        sys("ehr-db", P1, &["scan", "x"]),
    ]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    assert!(errs[0].is_error());
    assert!(!errs[1].is_error());
}

#[test]
fn bad_timezone_and_empty_plan_are_errors() {
    let mut plan = plan_of(vec![]);
    plan.plan.timezone = "Asia/Tokyo".into();
    let errs = validate(&plan, &[]).unwrap_err();
    assert_eq!(errs.len(), 2);
    assert_eq!(
        parse_offset("+09:00").map(|o| o.local_minus_utc()),
        Some(32400)
    );
    assert_eq!(
        parse_offset("-05:30").map(|o| o.local_minus_utc()),
        Some(-19800)
    );
    assert_eq!(parse_offset("+9:00"), None);
    assert_eq!(parse_offset("+24:00"), None);
    assert_eq!(parse_offset(""), None);
}

#[test]
fn check_shapes_are_validated() {
    let mut s = sys("ehr-db", P1, &[]);
    let mut both = check("both", "true");
    both.command = Some(vec!["true".into()]);
    let mut neither = check("neither", "");
    neither.shell = None;
    let mut empty = check("empty", "");
    empty.shell = None;
    empty.command = Some(vec![]);
    let mut two = check("two", "echo 1");
    two.expect.output = Some("1".into());
    two.expect.at_least = Some(1);
    let mut slow = check("slow", "true");
    slow.timeout = Some("10 minutes".into());
    s.verify = vec![both, neither, empty, two, slow, check("slow", "true")];
    let plan = plan_of(vec![s]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    let checks: Vec<String> = errs
        .iter()
        .map(|e| match e {
            PlanError::BadCheck { check, .. } => check.clone(),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        checks,
        vec!["both", "neither", "empty", "two", "slow", "slow"]
    );
}

#[test]
fn same_as_must_point_at_an_earlier_check() {
    let mut db = sys("ehr-db", P1, &[]);
    db.verify = vec![check("patients", "echo 3")];
    let mut ss = sys("ssmix2", P1, &["ehr-db"]);
    let mut cmp = check("patients", "echo 3");
    cmp.expect.same_as = Some("ehr-db/patients".into());
    let mut missing = check("missing", "echo 3");
    missing.expect.same_as = Some("ehr-db/nope".into());
    ss.verify = vec![cmp, missing];
    let plan = plan_of(vec![db.clone(), ss.clone()]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].to_string().contains("no check \"nope\""));

    // Referring the other way round: ehr-db is verified before ssmix2, so it cannot work.
    let mut late = check("late", "echo 3");
    late.expect.same_as = Some("ssmix2/patients".into());
    db.verify.push(late);
    ss.verify.pop();
    let plan = plan_of(vec![db, ss]);
    let errs = validate(&plan, &known(&plan)).unwrap_err();
    assert!(errs[0].to_string().contains("runs later"), "{errs:?}");
}
