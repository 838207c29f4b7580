//! Adversarial and whole-plan tests for the forget planner: floods of generations with
//! skewed times, determinism, duplicate ids, refused policies and the JSON form.

use super::tests::{g, jst, pol, t, utc, Build, NEWEST};
use super::*;
use crate::lock::can_delete;

/// Deterministic pseudo-random numbers (64-bit LCG, Knuth's constants), so the flood is
/// the same on every run without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let bound = bound.unsigned_abs().max(1);
        i64::try_from((self.0 >> 33) % bound).expect("bounded")
    }
}

const NOW: &str = "2026-11-20T00:00";

/// 1,000 attacker generations around three real ones: a locked one, a held one and the
/// newest clean one. A quarter claim times up to 50 years in the future, a quarter are
/// spread over 36 years of the past, a quarter are recent and Suspicious, a quarter are
/// recent and Unknown (the anomaly crate has not looked at them yet).
fn flood() -> Vec<Generation> {
    let now = t(NOW);
    let mut rng = Lcg(0x6b75_7261);
    let mut gens = vec![
        g("real-locked", "2025-01-01T00:00").lock("2030-01-01T00:00"),
        g("real-held", "2024-06-01T00:00").hold("監査 2026-3"),
        g("real-clean", "2026-11-10T00:00"),
    ];
    for i in 0..1000 {
        let (at, verdict) = match i % 4 {
            0 => (
                now + Duration::minutes(6) + Duration::minutes(rng.next(50 * 525_600)),
                Verdict::Unknown,
            ),
            1 => (
                t("1990-01-01T00:00") + Duration::minutes(rng.next(36 * 525_600)),
                Verdict::Unknown,
            ),
            2 => (
                t("2026-11-10T00:01") + Duration::minutes(rng.next(14_000)),
                Verdict::Suspicious,
            ),
            _ => (
                t("2026-11-10T00:01") + Duration::minutes(rng.next(14_000)),
                Verdict::Unknown,
            ),
        };
        let mut x = g(&format!("flood-{i:04}"), NOW);
        x.committed_at = at;
        x.verdict = verdict;
        x.host = "attacker".into();
        gens.push(x);
    }
    gens
}

fn reasons_of<'a>(plan: &'a ForgetPlan, id: &str) -> Vec<String> {
    let d: &'a Decision = plan.decision(id).expect("id in plan");
    d.reasons.iter().map(ToString::to_string).collect()
}

#[test]
fn flood_never_pushes_out_locked_held_or_newest_clean() {
    let gens = flood();
    let policy = pol(|p| {
        p.keep_last = Some(10);
        p.keep_daily = Some(7);
        p.keep_weekly = Some(4);
        p.keep_monthly = Some(12);
    });
    let now = t(NOW);
    let plan = plan_forget(&gens, &policy, now, jst());

    // Protection comes first; a calendar rule may add a reason for these sparse old ones.
    assert_eq!(
        reasons_of(&plan, "real-locked")[0],
        "locked until 2030-01-01T00:00:00Z"
    );
    assert_eq!(reasons_of(&plan, "real-held")[0], "legal hold: 監査 2026-3");
    assert!(reasons_of(&plan, "real-clean").contains(&NEWEST.to_string()));

    let future: Vec<&Generation> = gens
        .iter()
        .filter(|x| x.committed_at > now + Duration::minutes(5))
        .collect();
    assert_eq!(future.len(), 250);
    for x in &future {
        assert_eq!(
            reasons_of(&plan, &x.id),
            vec!["committed in the future (clock anomaly)"],
            "{}",
            x.id
        );
    }
    let flagged = plan
        .anomalies
        .iter()
        .filter(|a| matches!(a, Anomaly::FutureCommit { .. }))
        .count();
    assert_eq!(flagged, 250);

    // No suspicious generation was kept by a count rule.
    for d in plan
        .decisions()
        .filter(|d| d.verdict == Verdict::Suspicious)
    {
        assert!(d.reasons.is_empty(), "{} kept: {:?}", d.id, d.reasons);
    }
    // Count rules keep at most 10 + 7 + 4 + 12 present generations (plus the 2 protected
    // ones and the newest clean), so the flood is mostly removed.
    let kept_present = plan
        .decisions()
        .filter(|d| d.is_kept() && d.committed_at <= now)
        .count();
    assert!(kept_present <= 10 + 7 + 4 + 12 + 3, "{kept_present}");
    assert!(
        plan.removed_ids().len() > 700,
        "{}",
        plan.removed_ids().len()
    );
    for id in plan.removed_ids() {
        let x = gens.iter().find(|x| x.id == id).expect("known");
        assert_eq!(can_delete(x, &policy, now), Ok(()), "{id}");
    }
}

#[test]
fn flood_of_clean_looking_generations_cannot_evict_locked_ones() {
    // An attacker whose junk is judged Clean becomes "newest clean"; min_lock_days is what
    // protects the real history then.
    let mut gens: Vec<Generation> = (0..30)
        .map(|d| {
            g(&format!("real-{d:02}"), "2026-10-22T00:00").pipe(|mut x| {
                x.committed_at += Duration::days(d);
                x
            })
        })
        .collect();
    let mut rng = Lcg(7);
    for i in 0..1000 {
        let mut x = g(&format!("junk-{i:04}"), "2026-11-19T23:00");
        x.committed_at += Duration::seconds(rng.next(3600));
        gens.push(x);
    }
    let policy = pol(|p| {
        p.keep_last = Some(5);
        p.min_lock_days = Some(30);
    });
    let plan = plan_forget(&gens, &policy, t(NOW), jst());
    for d in 0..30 {
        let id = format!("real-{d:02}");
        assert!(
            plan.decision(&id).is_some_and(Decision::is_kept),
            "{id} was removed"
        );
    }
}

trait Pipe: Sized {
    fn pipe(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }
}

impl Pipe for Generation {}

/// Shifts every time in the input and `now` by `by`.
fn shifted(gens: &[Generation], by: Duration) -> Vec<Generation> {
    gens.iter()
        .cloned()
        .map(|mut x| {
            x.committed_at += by;
            x.lock_until = x.lock_until.map(|l| l + by);
            x
        })
        .collect()
}

#[test]
fn plan_depends_only_on_arguments_not_real_time_or_order() {
    let gens = flood();
    let policy = pol(|p| {
        p.keep_last = Some(10);
        p.keep_within = Some(Duration::days(3));
        p.min_lock_days = Some(2);
    });
    let now = t(NOW);
    let plan = plan_forget(&gens, &policy, now, utc());
    let kept = |p: &ForgetPlan| {
        let mut ids: Vec<String> = p.kept_ids().into_iter().map(String::from).collect();
        ids.sort();
        ids
    };
    // Same input in reverse order: identical plan.
    let mut reversed = gens.clone();
    reversed.reverse();
    assert_eq!(plan_forget(&reversed, &policy, now, utc()), plan);
    // The same history a century later or decades earlier keeps the same generations:
    // only the distance to `now` matters for these rules, never the real clock.
    for by in [Duration::days(36_500), Duration::days(-15_000)] {
        let other = plan_forget(&shifted(&gens, by), &policy, now + by, utc());
        assert_eq!(kept(&other), kept(&plan), "shift {by}");
    }
}

#[test]
fn duplicate_ids_are_kept_and_reported() {
    let gens = vec![
        g("a", "2026-11-01T00:00"),
        g("dup", "2026-11-02T00:00"),
        g("dup", "2026-11-03T00:00").src("pacs"),
        g("b", "2026-11-04T00:00"),
        g("c", "2026-11-05T00:00").src("pacs"),
    ];
    let plan = plan_forget(&gens, &pol(|p| p.keep_last = Some(1)), t(NOW), jst());
    assert_eq!(plan.removed_ids(), vec!["a"]);
    let dups: Vec<&Decision> = plan.decisions().filter(|d| d.id == "dup").collect();
    assert_eq!(dups.len(), 2);
    assert!(dups
        .iter()
        .all(|d| d.reasons == vec![KeepReason::DuplicateId]));
    assert_eq!(
        plan.anomalies,
        vec![Anomaly::DuplicateId {
            id: "dup".into(),
            count: 2
        }]
    );
}

#[test]
fn refused_policy_keeps_everything() {
    let gens = vec![
        g("a", "2026-11-01T00:00").sus(),
        g("b", "2026-11-02T00:00").lock("2027-01-01T00:00"),
    ];
    let plan = plan_forget(&gens, &RetentionPolicy::default(), t(NOW), jst());
    assert!(plan.removed_ids().is_empty());
    let b = reasons_of(&plan, "b");
    assert!(
        b[0].starts_with("policy refused, nothing removed: refusing to forget with no keep rule"),
        "{b:?}"
    );
    assert_eq!(b[1], "locked until 2027-01-01T00:00:00Z");
}

#[test]
fn empty_input_gives_empty_plan() {
    let plan = plan_forget(&[], &pol(|p| p.keep_last = Some(1)), t(NOW), jst());
    assert_eq!(plan, ForgetPlan::default());
}

#[test]
fn extreme_times_do_not_panic() {
    let mut far = g("max", NOW);
    far.committed_at = DateTime::<Utc>::MAX_UTC;
    let mut early = g("min", NOW);
    early.committed_at = DateTime::<Utc>::MIN_UTC;
    let gens = vec![far, early, g("mid", NOW)];
    let policy = pol(|p| {
        p.keep_within = Some(Duration::MAX);
        p.keep_yearly = Some(u32::MAX);
        p.min_lock_days = Some(u32::MAX);
    });
    for now in [DateTime::<Utc>::MIN_UTC, t(NOW), DateTime::<Utc>::MAX_UTC] {
        let plan = plan_forget(&gens, &policy, now, jst());
        assert_eq!(plan.decisions().count(), 3);
        // min_lock_days saturates and keep_within reaches before the calendar start, so
        // nothing is removed whatever `now` is.
        assert!(plan.removed_ids().is_empty(), "now {now}");
    }
}

#[test]
fn plan_serializes_to_tagged_json() {
    let gens = vec![
        g("a", "2026-11-19T00:00"),
        g("b", "2026-11-20T00:00").tag("x"),
    ];
    let policy = pol(|p| {
        p.keep_daily = Some(1);
        p.keep_within = Some(Duration::days(30));
    });
    let plan = plan_forget(&gens, &policy, t(NOW), utc());
    let json = serde_json::to_value(&plan).expect("serializes");
    let reasons = &json["sources"][0]["decisions"][0]["reasons"];
    assert_eq!(
        reasons[0],
        serde_json::json!({"kind": "calendar", "bucket": {"period": "daily", "date": "2026-11-20"}})
    );
    assert_eq!(
        reasons[1],
        serde_json::json!({"kind": "within", "within": "30d"})
    );
    let back: ForgetPlan = serde_json::from_value(json).expect("parses back");
    assert_eq!(back, plan);
}

#[test]
fn jst_constant_is_nine_hours_east() {
    assert_eq!(crate::JST, jst());
    assert_eq!(crate::JST.local_minus_utc(), 32_400);
}
