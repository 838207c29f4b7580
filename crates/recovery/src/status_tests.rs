use super::*;
use crate::testutil::{plan_of, sys};
use crate::Priority::*;
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap()
}

fn fact(source: &str, age: Duration, size: u64, bps: Option<f64>) -> SourceFacts {
    SourceFacts {
        source: source.into(),
        newest_clean: Some(GenerationRef {
            id: format!("{source}-gen"),
            committed_at: now() - age,
        }),
        size_bytes: size,
        measured_restore_throughput: bps,
    }
}

fn by_name<'a>(st: &'a [SystemStatus], name: &str) -> &'a SystemStatus {
    st.iter().find(|s| s.name == name).unwrap()
}

const GIB: u64 = 1 << 30;

#[test]
fn fresh_backup_meets_rpo_and_stale_one_does_not() {
    let plan = plan_of(vec![sys("ehr-db", P1, &[]), sys("lab", P2, &[])]);
    let facts = [
        fact("ehr-db", Duration::minutes(59), GIB, Some(1e8)),
        fact("lab", Duration::minutes(61), GIB, Some(1e8)),
    ];
    let st = status(&plan, &facts, now());
    // Failing first, even though lab comes later in the restore order.
    assert_eq!(st[0].name, "lab");
    assert!(!st[0].rpo_met && st[0].rto_met && !st[0].ok);
    assert_eq!(st[0].newest_clean_age_seconds, Some(61 * 60));
    assert!(
        st[0].problems[0].contains("1h 1m old, RPO is 1h"),
        "{:?}",
        st[0].problems
    );
    assert!(st[1].rpo_met && st[1].ok);
    assert_eq!(st[1].restore_order, 1);
    assert!(!all_met(&st));
}

#[test]
fn rpo_boundary_is_inclusive_and_future_commits_count_as_fresh() {
    let plan = plan_of(vec![sys("a", P1, &[]), sys("b", P1, &[])]);
    let facts = [
        fact("a", Duration::hours(1), 0, None),
        fact("b", Duration::hours(-2), 0, None),
    ];
    let st = status(&plan, &facts, now());
    assert!(st.iter().all(|s| s.rpo_met), "{st:?}");
    assert_eq!(by_name(&st, "b").newest_clean_age_seconds, Some(0));
    assert!(all_met(&st));
}

#[test]
fn stalest_source_decides_and_missing_clean_generation_fails() {
    let mut s = sys("ssmix2", P1, &[]);
    s.sources = vec!["ssmix2-a".into(), "ssmix2-b".into()];
    let mut t = sys("pacs", P2, &[]);
    t.sources = vec!["pacs".into(), "pacs-archive".into()];
    let plan = plan_of(vec![s, t]);
    let mut none = fact("pacs-archive", Duration::zero(), 0, None);
    none.newest_clean = None;
    let facts = [
        fact("ssmix2-a", Duration::minutes(10), 0, None),
        fact("ssmix2-b", Duration::minutes(50), 0, None),
        fact("pacs", Duration::minutes(1), 0, None),
        none,
    ];
    let st = status(&plan, &facts, now());
    let ss = by_name(&st, "ssmix2");
    assert_eq!(ss.newest_clean_age_seconds, Some(50 * 60));
    assert_eq!(ss.generations.len(), 2);
    let pacs = by_name(&st, "pacs");
    assert!(!pacs.rpo_met);
    assert_eq!(pacs.newest_clean_age_seconds, None);
    assert!(pacs.problems[0].contains("\"pacs-archive\" has no clean generation"));
}

#[test]
fn restore_time_uses_measured_throughput_else_flagged_default() {
    let mut a = sys("measured", P1, &[]);
    a.rto = "10s".into();
    let mut b = sys("guessed", P1, &[]);
    b.rto = "10s".into();
    let plan = plan_of(vec![a, b]);
    let facts = [
        // 1 GiB at 128 MiB/s = 8 s.
        fact("measured", Duration::zero(), GIB, Some(128.0 * MIB)),
        // 1 GiB at the default 50 MiB/s = 20.48 s.
        fact("guessed", Duration::zero(), GIB, None),
    ];
    let st = status(&plan, &facts, now());
    let m = by_name(&st, "measured");
    assert!((m.estimated_restore_seconds - 8.0).abs() < 1e-9);
    assert!(m.rto_met && !m.throughput_estimated);
    let g = by_name(&st, "guessed");
    assert!((g.estimated_restore_seconds - 20.48).abs() < 1e-9);
    assert!(!g.rto_met && g.throughput_estimated);
    assert!(g.problems[0].contains("(no drill yet)"), "{:?}", g.problems);
}

#[test]
fn plan_default_throughput_overrides_the_built_in_one_and_nonsense_is_ignored() {
    let plan_with = |v: f64| {
        let mut p = plan_of(vec![sys("a", P1, &[])]);
        p.plan.default_restore_mib_per_s = Some(v);
        p
    };
    let facts = [fact("a", Duration::zero(), GIB, Some(f64::NAN))];
    let st = status(&plan_with(1024.0), &facts, now());
    assert!((st[0].estimated_restore_seconds - 1.0).abs() < 1e-9);
    let st = status(&plan_with(-3.0), &facts, now());
    assert!((st[0].estimated_restore_seconds - 20.48).abs() < 1e-9);
}

#[test]
fn ready_time_adds_the_longest_dependency_chain() {
    let mut orders = sys("orders", P1, &["ehr-db", "master"]);
    orders.rto = "25s".into();
    let plan = plan_of(vec![sys("ehr-db", P1, &[]), sys("master", P1, &[]), orders]);
    let facts = [
        fact("ehr-db", Duration::zero(), 20_000, Some(1000.0)), // 20 s
        fact("master", Duration::zero(), 5_000, Some(1000.0)),  // 5 s
        fact("orders", Duration::zero(), 6_000, Some(1000.0)),  // 6 s
    ];
    let st = status(&plan, &facts, now());
    let o = by_name(&st, "orders");
    assert!((o.estimated_restore_seconds - 6.0).abs() < 1e-9);
    assert!((o.estimated_ready_seconds - 26.0).abs() < 1e-9);
    assert!(!o.rto_met);
    assert_eq!((o.restore_order, o.restore_level), (3, 2));
}

#[test]
fn broken_plans_still_give_a_status() {
    let mut a = sys("a", P1, &["b"]);
    a.rpo = "soon".into();
    let plan = plan_of(vec![a, sys("b", P1, &["a"])]);
    let st = status(&plan, &[], now());
    assert_eq!(st.len(), 2);
    let a = by_name(&st, "a");
    assert!(!a.rpo_met && a.rpo_seconds.is_none());
    assert!(a.problems.iter().any(|p| p.contains("not a duration")));
}

#[test]
fn json_has_the_fields_scripts_rely_on() {
    let plan = plan_of(vec![sys("ehr-db", P1, &[])]);
    let facts = [fact("ehr-db", Duration::minutes(5), 10, Some(1e6))];
    let json = serde_json::to_value(status(&plan, &facts, now())).unwrap();
    let obj = &json.as_array().unwrap()[0];
    assert_eq!(obj["name"], "ehr-db");
    assert_eq!(obj["rpo_met"], true);
    assert_eq!(obj["rto_met"], true);
    assert_eq!(obj["restore_order"], 1);
    assert_eq!(obj["priority"], "P1");
    assert_eq!(obj["newest_clean_age_seconds"], 300);
}

#[test]
fn human_durations() {
    assert_eq!(human(45.0), "45s");
    assert_eq!(human(61.0), "1m 1s");
    assert_eq!(human(3.0 * 3600.0 + 25.0 * 60.0), "3h 25m");
    assert_eq!(human(2.0 * 86400.0 + 4.0 * 3600.0), "2d 4h");
    assert_eq!(human(f64::NAN), "?");
}
