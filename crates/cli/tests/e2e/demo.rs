//! Acceptance 9 (first README command): `kura demo` runs Kura's main job end to end.

use crate::common;

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["demo", "--size-mib", "12", "--dir"])
        .arg(dir.path().join("kura-demo"))
        .env_remove("KURA_REPOSITORY")
        .env_remove("KURA_PASSWORD_FILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", common::stderr(&out));
    assert_eq!(stdout.matches("content identical").count(), 2, "{stdout}");
    assert!(stdout.contains("no errors"), "{stdout}");
    // Running it again replaces the previous demo instead of failing.
    let again = std::process::Command::new(common::bin())
        .args(["demo", "--size-mib", "4", "--dir"])
        .arg(dir.path().join("kura-demo"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", common::stderr(&again));
}
