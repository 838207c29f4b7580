use super::*;
use crate::plan::Expect;
use crate::testutil::sys;
use crate::Priority::P1;

fn shell(name: &str, script: &str) -> Check {
    Check {
        name: name.into(),
        command: None,
        shell: Some(script.into()),
        timeout: None,
        expect: Expect::default(),
        env: BTreeMap::new(),
    }
}

fn system_with(checks: Vec<Check>) -> System {
    let mut s = sys("ehr-db", P1, &[]);
    s.verify = checks;
    s
}

fn run(checks: Vec<Check>) -> VerificationResult {
    let dir = tempfile::tempdir().unwrap();
    run_verification(&system_with(checks), dir.path(), &VerifyEnv::default())
}

#[test]
fn exit_status_decides_by_default_and_failure_names_system_check_and_stderr() {
    let r = run(vec![
        shell("fine", "true"),
        shell(
            "integrity",
            "printf 'ERROR: relation \"patients\" does not exist\\nLINE 1: SELECT\\n ^\\n' >&2; exit 3",
        ),
    ]);
    assert!(!r.passed);
    assert!(r.checks[0].passed);
    assert_eq!(r.checks[1].exit_code, Some(3));
    let failures = r.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0],
        "system \"ehr-db\": check \"integrity\" failed: exit status 3 (expected 0): \
         ERROR: relation \"patients\" does not exist"
    );
}

#[test]
fn expected_nonzero_exit_code() {
    let mut c = shell("grep-absent", "exit 1");
    c.expect.exit_code = 1;
    assert!(run(vec![c]).passed);
}

#[test]
fn output_must_equal_trimmed() {
    let mut ok = shell("ok", "printf '  ok\\n\\n'");
    ok.expect.output = Some("ok".into());
    let mut bad = shell("bad", "echo broken");
    bad.expect.output = Some("ok".into());
    let r = run(vec![ok, bad]);
    assert!(r.checks[0].passed);
    assert!(!r.checks[1].passed);
    assert_eq!(
        r.checks[1].message,
        "output was \"broken\", expected \"ok\""
    );
}

#[test]
fn at_least_reads_the_last_line_as_a_number() {
    let mut enough = shell("enough", "echo header; echo 1200");
    enough.expect.at_least = Some(1000);
    let mut few = shell("few", "echo 999");
    few.expect.at_least = Some(1000);
    let mut text = shell("text", "echo many");
    text.expect.at_least = Some(1);
    let r = run(vec![enough, few, text]);
    assert!(r.checks[0].passed);
    assert_eq!(r.checks[1].message, "got 999, expected at least 1000");
    assert!(r.checks[2].message.contains("\"many\" is not a number"));
}

#[test]
fn same_as_compares_with_an_earlier_check_of_this_or_another_system() {
    let dir = tempfile::tempdir().unwrap();
    let db = system_with(vec![shell("patients", "echo 412")]);
    let mut env = VerifyEnv::default();
    let r = run_verification(&db, dir.path(), &env);
    assert!(r.passed);
    env.record(&r);

    let mut ss = sys("ssmix2", P1, &[]);
    let mut same = shell("patients", "echo 412");
    same.expect.same_as = Some("ehr-db/patients".into());
    let mut differs = shell("patients-off", "echo 411");
    differs.expect.same_as = Some("ehr-db/patients".into());
    let mut local = shell("again", "echo 412");
    local.expect.same_as = Some("patients".into());
    let mut missing = shell("missing", "echo 1");
    missing.expect.same_as = Some("pacs/count".into());
    ss.verify = vec![same, differs, local, missing];
    let r = run_verification(&ss, dir.path(), &env);
    let passed: Vec<bool> = r.checks.iter().map(|c| c.passed).collect();
    assert_eq!(passed, vec![true, false, true, false]);
    assert_eq!(
        r.checks[1].message,
        "output \"411\" differs from ehr-db/patients's \"412\""
    );
    assert!(r.checks[3].message.contains("nothing to compare with"));
}

#[test]
fn a_failed_check_cannot_serve_as_reference() {
    let mut later = shell("later", "echo 5");
    later.expect.same_as = Some("first".into());
    let r = run(vec![shell("first", "echo 5; exit 2"), later]);
    assert!(!r.checks[1].passed);
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let mut c = shell("hang", "sleep 30 & sleep 30; echo never");
    c.timeout = Some("1s".into());
    let started = Instant::now();
    let r = run(vec![c]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(r.checks[0].timed_out);
    assert_eq!(r.checks[0].message, "timed out after 1s and was killed");
    assert!(!r.passed);
}

#[test]
fn environment_and_argument_expansion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dump.sql"), "x").unwrap();
    let mut env = VerifyEnv::default();
    env.vars
        .insert("KURA_SCRATCH_DB_URL".into(), "postgresql:///scratch".into());
    let mut argv = shell("argv", "");
    argv.shell = None;
    argv.command = Some(vec![
        "test".into(),
        "-f".into(),
        "${KURA_RESTORED_DIR}/dump.sql".into(),
    ]);
    let mut vars = shell(
        "vars",
        "echo \"$KURA_SYSTEM/$KURA_CHECK $KURA_SCRATCH_DB_URL $EXTRA\"; pwd",
    );
    vars.env.insert("EXTRA".into(), "x".into());
    let mut unknown = argv.clone();
    unknown.name = "unknown".into();
    unknown.command = Some(vec!["echo".into(), "${NOPE}".into()]);
    let s = system_with(vec![argv, vars, unknown]);
    let r = run_verification(&s, dir.path(), &env);
    assert!(r.checks[0].passed, "{:?}", r.checks[0]);
    let expected_dir = dir.path().canonicalize().unwrap();
    assert_eq!(
        r.checks[1].stdout,
        format!(
            "ehr-db/vars postgresql:///scratch x\n{}",
            expected_dir.display()
        )
    );
    assert_eq!(
        r.checks[2].message,
        "argument \"${NOPE}\" uses ${NOPE}, which is not set"
    );
}

#[test]
fn missing_program_and_missing_directory_are_clear_failures() {
    let mut c = shell("psql", "");
    c.shell = None;
    c.command = Some(vec!["kura-no-such-program".into()]);
    let r = run(vec![c]);
    assert!(r.checks[0]
        .message
        .starts_with("cannot start \"kura-no-such-program\""));
    let s = system_with(vec![shell("x", "true")]);
    let r = run_verification(&s, Path::new("/nonexistent/restore"), &VerifyEnv::default());
    assert!(r.checks[0]
        .message
        .contains("/nonexistent/restore does not exist"));
}

#[test]
fn huge_output_is_capped_and_refused_for_comparison() {
    let mut c = shell("flood", "head -c 200000 /dev/zero | tr '\\0' 'a'");
    c.expect.output = Some("a".into());
    let r = run(vec![c, shell("flood-ok", "head -c 200000 /dev/zero")]);
    assert_eq!(r.checks[0].stdout.len(), OUTPUT_LIMIT);
    assert!(r.checks[0].message.contains("output longer than"));
    assert!(r.checks[1].passed, "exit status alone still works");
}

#[test]
fn expand_handles_edge_cases() {
    let vars: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into();
    assert_eq!(expand("x${A}y${A}", &vars).unwrap(), "x1y1");
    assert_eq!(expand("$A {A}", &vars).unwrap(), "$A {A}");
    assert!(expand("${A", &vars).unwrap_err().contains("unclosed"));
}
