//! The shipped example plan must stay valid and mean what its comments say.

use chrono::{Duration, TimeZone, Utc};
use kura_recovery::{
    lint, restore_order, status, validate, GenerationRef, Plan, Priority, SourceFacts,
};

fn example() -> Plan {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/hospital-400-beds.toml"
    );
    Plan::load(std::path::Path::new(path)).expect("example plan parses")
}

fn sources(plan: &Plan) -> Vec<String> {
    plan.systems
        .iter()
        .flat_map(|s| s.sources.clone())
        .collect()
}

#[test]
fn example_plan_is_valid_without_warnings() {
    let plan = example();
    assert_eq!(plan.systems.len(), 6);
    assert_eq!(lint(&plan, &sources(&plan)), vec![]);
    let orders = plan.system("orders").unwrap();
    assert_eq!(orders.priority, Priority::P1);
    assert_eq!(orders.depends_on, vec!["ehr-db"]);
    assert_eq!(plan.system("scan").unwrap().priority, Priority::P3);
    assert!(plan.systems.iter().all(|s| s.responsible.is_some()));
}

#[test]
fn example_plan_restore_order() {
    let plan = example();
    assert_eq!(
        restore_order(&plan),
        vec![
            vec!["ehr-db", "ssmix2", "pacs", "scan"],
            vec!["orders", "lab"]
        ]
    );
}

#[test]
fn example_plan_rejects_a_missing_source_and_an_added_cycle() {
    let mut plan = example();
    let mut known = sources(&plan);
    known.retain(|s| s != "pacs-images");
    let errs = validate(&plan, &known).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].to_string().contains("\"pacs-images\""));

    plan.systems[0].depends_on.push("orders".into());
    let errs = validate(&plan, &sources(&plan)).unwrap_err();
    assert_eq!(errs[0].to_string().split(':').nth(1).unwrap().trim(), "ehr-db → orders → ehr-db; no system in it could ever be restored first, remove one of these depends_on entries");
}

#[test]
fn example_plan_status_with_fresh_and_stale_sources() {
    let plan = example();
    let now = Utc.with_ymd_and_hms(2027, 4, 1, 3, 0, 0).unwrap();
    let facts: Vec<SourceFacts> = sources(&plan)
        .into_iter()
        .map(|source| {
            // The EHR dump is two hours old: its 1h RPO (and the orders' one) is missed.
            let age = if source == "ehr-db" {
                Duration::hours(2)
            } else {
                Duration::minutes(30)
            };
            SourceFacts {
                source: source.clone(),
                newest_clean: Some(GenerationRef {
                    id: format!("{source}-g"),
                    committed_at: now - age,
                }),
                size_bytes: 10 << 30,
                measured_restore_throughput: Some(100.0 * 1024.0 * 1024.0),
            }
        })
        .collect();
    let st = status(&plan, &facts, now);
    let failing: Vec<&str> = st
        .iter()
        .filter(|s| !s.ok)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(failing, vec!["ehr-db"]);
    let json = serde_json::to_value(&st).unwrap();
    let first = &json[0];
    assert_eq!(
        (
            first["name"].as_str(),
            first["rpo_met"].as_bool(),
            first["rto_met"].as_bool()
        ),
        (Some("ehr-db"), Some(false), Some(true))
    );
    assert_eq!(first["restore_order"], 1);
    // PACS has two 10 GiB sources at 100 MiB/s: 204.8 s.
    let pacs = st.iter().find(|s| s.name == "pacs").unwrap();
    assert!((pacs.estimated_restore_seconds - 204.8).abs() < 1e-6);
}
