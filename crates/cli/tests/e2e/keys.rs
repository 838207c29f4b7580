//! Acceptance 4: a wrong password fails cleanly with its own exit code; the recovery key opens the
//! repository; removing one key leaves the others working. Also: not a repository.

use crate::common;

use common::Kura;

#[test]
fn passwords_recovery_key_and_key_removal() {
    let k = Kura::uninitialized();
    let rk_file = k.path("recovery.txt");
    let out = k.run(&["init", "--recovery-key-file", rk_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let recovery = std::fs::read_to_string(&rk_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        stdout.contains(&recovery),
        "init prints the recovery key once"
    );
    assert!(!recovery.is_empty());

    let wrong = k.path("wrong");
    std::fs::write(&wrong, "not the password\n").unwrap();
    let out = k
        .cmd()
        .args(["snapshots"])
        .env("KURA_PASSWORD_FILE", &wrong)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(12),
        "wrong password has its own exit code"
    );
    assert!(common::stderr(&out).contains("wrong password"));
    assert!(!common::stderr(&out).contains("panicked"));

    let out = k
        .cmd()
        .args(["snapshots"])
        .env("KURA_PASSWORD_FILE", &rk_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the recovery key opens the repository: {}",
        common::stderr(&out)
    );

    let second = k.path("second");
    std::fs::write(&second, "a second long password\n").unwrap();
    let added: serde_json::Value = serde_json::from_str(&k.ok(&[
        "key",
        "add",
        "--json",
        "--new-password-file",
        second.to_str().unwrap(),
        "--label",
        "vendor",
    ]))
    .unwrap();
    let keys: serde_json::Value = serde_json::from_str(&k.ok(&["key", "list", "--json"])).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 3);
    let first_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Remove the first password using the second; the second and the recovery key still work.
    let out = k
        .cmd()
        .args(["key", "remove", &first_id[..10]])
        .env("KURA_PASSWORD_FILE", &second)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        k.run(&["snapshots"]).status.code(),
        Some(12),
        "the removed password no longer opens it"
    );
    assert!(k
        .cmd()
        .args(["snapshots"])
        .env("KURA_PASSWORD_FILE", &second)
        .output()
        .unwrap()
        .status
        .success());
    assert!(k
        .cmd()
        .args(["snapshots"])
        .env("KURA_PASSWORD_FILE", &rk_file)
        .output()
        .unwrap()
        .status
        .success());
    assert!(added["id"].is_string());
}

#[test]
fn not_a_repository_and_no_password() {
    let k = Kura::uninitialized();
    let out = k.run(&["snapshots"]);
    assert_eq!(out.status.code(), Some(10));
    assert!(common::stderr(&out).contains("kura init"));
    let out = k
        .cmd()
        .args(["init"])
        .env_remove("KURA_PASSWORD_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("KURA_PASSWORD_FILE"));
}
