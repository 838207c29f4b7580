//! Issue 8, acceptance 4: `kura plan check` rejects dependency cycles and unknown sources with
//! clear errors; the other plan commands refuse such a plan too. Also `plan status` without
//! PostgreSQL: RPO met for a fresh backup and missed for a stale one, RTO from the estimate.

use crate::common;
use crate::plan_common;

use common::{stderr, Kura};
use plan_common::{backup_dir, run, status_of, write_plan};

fn system(name: &str, priority: &str, deps: &[&str], sources: &[&str], rpo: &str) -> String {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "\n[[system]]\nname = {name:?}\npriority = {priority:?}\ndepends_on = [{}]\nrpo = {rpo:?}\nrto = \"1h\"\nsources = [{}]\nrestore_to = \"/restore/{name}\"\n",
        list(deps),
        list(sources)
    )
}

fn plan(systems: &[String]) -> String {
    format!("[plan]\nhospital = \"Test Hospital\"\n{}", systems.concat())
}

/// A repository with one small generation for each source.
fn repo_with(sources: &[&str]) -> Kura {
    let k = Kura::init();
    for s in sources {
        let dir = k.path(&format!("data-{s}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data.bin"), s.repeat(1000)).unwrap();
        backup_dir(&k, s, &dir);
    }
    k
}

#[test]
fn a_dependency_cycle_is_rejected_naming_every_member() {
    let k = repo_with(&["ehr-db", "orders", "lab", "pacs"]);
    let path = write_plan(
        &k,
        "cycle.toml",
        &plan(&[
            system("ehr-db", "P1", &["orders"], &["ehr-db"], "1h"),
            system("orders", "P1", &["lab"], &["orders"], "1h"),
            system("lab", "P1", &["ehr-db"], &["lab"], "1h"),
            system("pacs", "P2", &["ris"], &["pacs"], "1h"),
        ]),
    );
    let out = run(
        &k,
        None,
        &["plan", "check", "--plan", path.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("dependency cycle: ehr-db → orders → lab → ehr-db"),
        "{err}"
    );
    assert!(
        err.contains("system \"pacs\" depends on \"ris\", which is not a system of this plan"),
        "{err}"
    );
    assert!(err.contains("has 2 error(s)"), "{err}");
    // Without a repository the sources are not checked, and it says so.
    let out = k
        .cmd()
        .env_remove("KURA_REPOSITORY")
        .args(["plan", "check", "--plan", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the sources were not checked"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_sources_are_rejected_when_a_repository_is_given() {
    let k = repo_with(&["ehr-db", "ssmix2"]);
    let text = plan(&[
        system("ehr-db", "P1", &[], &["ehr-db"], "1h"),
        system("lab", "P2", &["ehr-db"], &["lab-dbb"], "24h"),
    ]);
    let path = write_plan(&k, "plan.toml", &text);
    let p = path.to_str().unwrap();
    let out = run(&k, None, &["plan", "check", "--plan", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("system \"lab\": source \"lab-dbb\" is not in the repository (known sources: ehr-db, ssmix2)"),
        "{}",
        stderr(&out)
    );
    let out = run(&k, None, &["plan", "check", "--plan", p, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["sources_checked"], true);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v:#}");
    // Without a repository the same plan passes (only its structure is checked).
    let out = k
        .cmd()
        .env_remove("KURA_REPOSITORY")
        .args(["plan", "check", "--plan", p])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A plan restore of it is refused, naming the problem.
    let out = run(&k, None, &["plan", "restore", "--plan", p]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("the recovery plan has 1 error(s)") && err.contains("lab-dbb"),
        "{err}"
    );
}

#[test]
fn a_valid_plan_passes_and_prints_its_restore_order() {
    let k = repo_with(&["ehr-db", "ssmix2", "orders"]);
    let text = plan(&[
        system("orders", "P1", &["ehr-db"], &["orders"], "1h"),
        system("ssmix2", "P1", &[], &["ssmix2"], "4h"),
        system("ehr-db", "P1", &[], &["ehr-db"], "1h"),
    ]);
    let path = write_plan(&k, "plan.toml", &text);
    let out = run(
        &k,
        None,
        &["plan", "check", "--plan", path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("restore order: 1. ssmix2  2. ehr-db | 3. orders"),
        "{stdout}"
    );
}

#[test]
fn the_example_plan_of_a_400_bed_hospital_is_valid() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../recovery/examples/hospital-400-beds.toml"
    );
    let out = Kura::uninitialized()
        .cmd()
        .env_remove("KURA_REPOSITORY")
        .args(["plan", "check", "--plan", example])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn status_judges_rpo_by_age_and_rto_by_estimate() {
    let k = repo_with(&["ehr-db", "ssmix2"]);
    let text = plan(&[
        system("ehr-db", "P1", &[], &["ehr-db"], "1h"),
        system("ssmix2", "P1", &[], &["ssmix2"], "1s"),
        system("scan", "P3", &[], &["scan"], "7d"),
    ]);
    let path = write_plan(&k, "plan.toml", &text);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = run(
        &k,
        None,
        &["plan", "status", "--plan", path.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ehr = status_of(&all, "ehr-db");
    assert_eq!(
        (ehr["rpo_met"].as_bool(), ehr["rto_met"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(ehr["throughput_estimated"], true, "no drill yet");
    assert_eq!(ehr["size_bytes"], 6000);
    let stale = status_of(&all, "ssmix2");
    assert_eq!(stale["rpo_met"], false, "{stale:#}");
    assert!(stale["newest_clean_age_seconds"].as_i64().unwrap() >= 2);
    // No generation at all: RPO missed, said in words.
    let scan = status_of(&all, "scan");
    assert_eq!(scan["rpo_met"], false);
    assert!(scan["problems"][0]
        .as_str()
        .unwrap()
        .contains("\"scan\" has no clean generation"));
    // Failing systems first, each with its position in the restore order.
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ssmix2", "scan", "ehr-db"]);
    assert_eq!(status_of(&all, "ehr-db")["restore_order"], 1);
    assert_eq!(status_of(&all, "scan")["restore_order"], 3);
    // A plan whose targets are all met exits 0.
    let ok = write_plan(
        &k,
        "ok.toml",
        &plan(&[system("ehr-db", "P1", &[], &["ehr-db"], "1h")]),
    );
    let out = run(
        &k,
        None,
        &["plan", "status", "--plan", ok.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 of 1 systems meet"));
}
