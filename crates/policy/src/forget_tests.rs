//! Table-driven tests for the forget planner. Each case lists the generations, the policy,
//! `now`, the zone, and EVERY kept generation with its exact reasons; everything not
//! listed must be removed.

use super::*;
use crate::lock::can_delete;
use crate::model::Hold;

pub(super) const NEWEST: &str = "newest clean generation";

pub(super) fn t(s: &str) -> DateTime<Utc> {
    // "YYYY-MM-DDTHH:MM" in UTC, the compact form used by the table.
    let full = if s.len() == 16 {
        format!("{s}:00Z")
    } else {
        s.to_string()
    };
    DateTime::parse_from_rfc3339(&full)
        .expect("test time")
        .with_timezone(&Utc)
}

pub(super) fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("offset")
}

pub(super) fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("offset")
}

/// A clean generation of source "ehr-db"; adjust with the builder methods below.
pub(super) fn g(id: &str, at: &str) -> Generation {
    Generation {
        id: id.into(),
        source: "ehr-db".into(),
        host: "db1".into(),
        committed_at: t(at),
        tags: vec![],
        lock_until: None,
        holds: vec![],
        verdict: Verdict::Clean,
    }
}

pub(super) trait Build {
    fn src(self, s: &str) -> Self;
    fn tag(self, tag: &str) -> Self;
    fn sus(self) -> Self;
    fn unk(self) -> Self;
    fn lock(self, until: &str) -> Self;
    fn hold(self, reason: &str) -> Self;
}

impl Build for Generation {
    fn src(mut self, s: &str) -> Self {
        self.source = s.into();
        self
    }
    fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.into());
        self
    }
    fn sus(mut self) -> Self {
        self.verdict = Verdict::Suspicious;
        self
    }
    fn unk(mut self) -> Self {
        self.verdict = Verdict::Unknown;
        self
    }
    fn lock(mut self, until: &str) -> Self {
        self.lock_until = Some(t(until));
        self
    }
    fn hold(mut self, reason: &str) -> Self {
        self.holds.push(Hold {
            reason: reason.into(),
            added_by: "legal".into(),
            added_at: t("2026-01-01T00:00"),
        });
        self
    }
}

pub(super) fn pol(f: impl FnOnce(&mut RetentionPolicy)) -> RetentionPolicy {
    let mut p = RetentionPolicy::default();
    f(&mut p);
    p
}

struct Case {
    name: &'static str,
    gens: Vec<Generation>,
    policy: RetentionPolicy,
    now: &'static str,
    tz: FixedOffset,
    kept: Vec<(&'static str, Vec<&'static str>)>,
}

fn check(case: &Case) {
    let plan = plan_forget(&case.gens, &case.policy, t(case.now), case.tz);
    let mut got: Vec<(String, Vec<String>)> = plan
        .decisions()
        .filter(|d| d.is_kept())
        .map(|d| {
            (
                d.id.clone(),
                d.reasons.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    let mut want: Vec<(String, Vec<String>)> = case
        .kept
        .iter()
        .map(|(id, rs)| (id.to_string(), rs.iter().map(|r| r.to_string()).collect()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "case {:?}", case.name);
    // Every generation appears exactly once in the plan.
    assert_eq!(
        plan.decisions().count(),
        case.gens.len(),
        "case {:?}",
        case.name
    );
    // Nothing removed is locked or held.
    for d in plan.decisions().filter(|d| !d.is_kept()) {
        let gen = case.gens.iter().find(|x| x.id == d.id).expect("known id");
        assert_eq!(
            can_delete(gen, &case.policy, t(case.now)),
            Ok(()),
            "case {:?}: {}",
            case.name,
            d.id
        );
    }
}

fn calendar_cases() -> Vec<Case> {
    vec![
        Case {
            name: "keep_hourly in UTC",
            gens: vec![
                g("a", "2026-11-20T10:05"),
                g("b", "2026-11-20T10:40"),
                g("c", "2026-11-20T11:10"),
                g("d", "2026-11-20T12:30"),
            ],
            policy: pol(|p| p.keep_hourly = Some(2)),
            now: "2026-11-21T00:00",
            tz: utc(),
            kept: vec![
                ("d", vec!["hourly 2026-11-20 12:00", NEWEST]),
                ("c", vec!["hourly 2026-11-20 11:00"]),
            ],
        },
        Case {
            name: "keep_daily skips empty days",
            gens: vec![
                g("a", "2026-11-01T09:00"),
                g("b", "2026-11-05T09:00"),
                g("c", "2026-11-05T18:00"),
                g("d", "2026-11-10T09:00"),
                g("e", "2026-11-20T09:00"),
            ],
            policy: pol(|p| p.keep_daily = Some(3)),
            now: "2026-11-21T00:00",
            tz: utc(),
            kept: vec![
                ("e", vec!["daily 2026-11-20", NEWEST]),
                ("d", vec!["daily 2026-11-10"]),
                ("c", vec!["daily 2026-11-05"]),
            ],
        },
        Case {
            name: "keep_weekly uses ISO weeks starting Monday",
            gens: vec![
                g("sun46", "2026-11-15T12:00"),
                g("mon47", "2026-11-16T12:00"),
                g("sun47", "2026-11-22T12:00"),
                g("mon48", "2026-11-23T12:00"),
            ],
            policy: pol(|p| p.keep_weekly = Some(2)),
            now: "2026-11-24T00:00",
            tz: utc(),
            kept: vec![
                ("mon48", vec!["weekly 2026-W48", NEWEST]),
                ("sun47", vec!["weekly 2026-W47"]),
            ],
        },
        Case {
            name: "ISO week 53 spans the new year",
            gens: vec![
                g("w52", "2026-12-27T12:00"),
                g("w53a", "2026-12-28T12:00"),
                g("w53b", "2027-01-03T12:00"),
                g("w01", "2027-01-04T12:00"),
            ],
            policy: pol(|p| p.keep_weekly = Some(3)),
            now: "2027-01-05T00:00",
            tz: utc(),
            kept: vec![
                ("w01", vec!["weekly 2027-W01", NEWEST]),
                ("w53b", vec!["weekly 2026-W53"]),
                ("w52", vec!["weekly 2026-W52"]),
            ],
        },
        Case {
            name: "keep_yearly uses calendar years, not ISO years",
            gens: vec![
                g("w52", "2026-12-27T12:00"),
                g("w53a", "2026-12-28T12:00"),
                g("w53b", "2027-01-03T12:00"),
                g("w01", "2027-01-04T12:00"),
            ],
            policy: pol(|p| p.keep_yearly = Some(2)),
            now: "2027-01-05T00:00",
            tz: utc(),
            kept: vec![
                ("w01", vec!["yearly 2027", NEWEST]),
                ("w53a", vec!["yearly 2026"]),
            ],
        },
        Case {
            name: "keep_monthly at month ends and leap day",
            gens: vec![
                g("jan31", "2028-01-31T23:00"),
                g("feb28", "2028-02-28T12:00"),
                g("feb29", "2028-02-29T12:00"),
                g("mar01", "2028-03-01T00:00"),
            ],
            policy: pol(|p| p.keep_monthly = Some(3)),
            now: "2028-03-02T00:00",
            tz: utc(),
            kept: vec![
                ("mar01", vec!["monthly 2028-03", NEWEST]),
                ("feb29", vec!["monthly 2028-02"]),
                ("jan31", vec!["monthly 2028-01"]),
            ],
        },
        Case {
            name: "keep_daily on leap day",
            gens: vec![
                g("feb28", "2028-02-28T12:00"),
                g("feb29", "2028-02-29T12:00"),
                g("mar01", "2028-03-01T00:00"),
            ],
            policy: pol(|p| p.keep_daily = Some(2)),
            now: "2028-03-02T00:00",
            tz: utc(),
            kept: vec![
                ("mar01", vec!["daily 2028-03-01", NEWEST]),
                ("feb29", vec!["daily 2028-02-29"]),
            ],
        },
    ]
}

/// 15:00 UTC is 00:00 JST: the same generations fall into different days, months, years.
fn zone_cases() -> Vec<Case> {
    let day = || {
        vec![
            g("d", "2026-11-19T12:00"),
            g("c", "2026-11-20T10:00"),
            g("a", "2026-11-20T14:59"),
            g("b", "2026-11-20T15:00"),
        ]
    };
    let year = || {
        vec![
            g("z", "2025-06-01T00:00"),
            g("x", "2026-12-31T14:00"),
            g("y", "2026-12-31T16:00"),
        ]
    };
    vec![
        Case {
            name: "daily buckets in UTC",
            gens: day(),
            policy: pol(|p| p.keep_daily = Some(2)),
            now: "2026-11-22T00:00",
            tz: utc(),
            kept: vec![
                ("b", vec!["daily 2026-11-20", NEWEST]),
                ("d", vec!["daily 2026-11-19"]),
            ],
        },
        Case {
            name: "daily buckets in JST",
            gens: day(),
            policy: pol(|p| p.keep_daily = Some(2)),
            now: "2026-11-22T00:00",
            tz: jst(),
            kept: vec![
                ("b", vec!["daily 2026-11-21", NEWEST]),
                ("a", vec!["daily 2026-11-20"]),
            ],
        },
        Case {
            name: "hourly buckets in JST",
            gens: day(),
            policy: pol(|p| p.keep_hourly = Some(2)),
            now: "2026-11-22T00:00",
            tz: jst(),
            kept: vec![
                ("b", vec!["hourly 2026-11-21 00:00", NEWEST]),
                ("a", vec!["hourly 2026-11-20 23:00"]),
            ],
        },
        Case {
            name: "yearly buckets in JST: 15:00 UTC on 31 Dec is already next year",
            gens: year(),
            policy: pol(|p| p.keep_yearly = Some(2)),
            now: "2027-01-02T00:00",
            tz: jst(),
            kept: vec![
                ("y", vec!["yearly 2027", NEWEST]),
                ("x", vec!["yearly 2026"]),
            ],
        },
        Case {
            name: "yearly buckets in UTC",
            gens: year(),
            policy: pol(|p| p.keep_yearly = Some(2)),
            now: "2027-01-02T00:00",
            tz: utc(),
            kept: vec![
                ("y", vec!["yearly 2026", NEWEST]),
                ("z", vec!["yearly 2025"]),
            ],
        },
    ]
}

fn rule_cases() -> Vec<Case> {
    vec![
        Case {
            name: "keep_last",
            gens: vec![
                g("a", "2026-11-18T00:00"),
                g("b", "2026-11-19T00:00"),
                g("c", "2026-11-20T00:00"),
            ],
            policy: pol(|p| p.keep_last = Some(2)),
            now: "2026-11-21T00:00",
            tz: jst(),
            kept: vec![("c", vec!["last 1", NEWEST]), ("b", vec!["last 2"])],
        },
        Case {
            name: "keep_within is anchored on the newest generation, inclusive",
            gens: vec![
                g("old", "2025-12-01T00:00"),
                g("out", "2026-01-01T23:59"),
                g("edge", "2026-01-02T00:00"),
                g("in", "2026-01-20T00:00"),
                g("new", "2026-02-01T00:00"),
            ],
            policy: pol(|p| p.keep_within = Some(Duration::days(30))),
            now: "2026-11-20T00:00",
            tz: jst(),
            kept: vec![
                ("new", vec!["within 30d", NEWEST]),
                ("in", vec!["within 30d"]),
                ("edge", vec!["within 30d"]),
            ],
        },
        Case {
            name: "keep_tags keeps any listed tag, in policy order",
            gens: vec![
                g("a", "2026-10-01T00:00").tag("monthly-archive"),
                g("b", "2026-10-02T00:00")
                    .tag("pre-upgrade")
                    .tag("monthly-archive"),
                g("c", "2026-10-03T00:00").tag("other"),
                g("d", "2026-10-04T00:00"),
            ],
            policy: pol(|p| p.keep_tags = vec!["monthly-archive".into(), "pre-upgrade".into()]),
            now: "2026-11-20T00:00",
            tz: jst(),
            kept: vec![
                ("a", vec!["tag monthly-archive"]),
                ("b", vec!["tag monthly-archive", "tag pre-upgrade"]),
                ("d", vec![NEWEST]),
            ],
        },
        Case {
            name: "rules are ORed and reasons accumulate",
            gens: vec![
                g("a", "2026-11-18T00:00"),
                g("b", "2026-11-19T00:00").tag("keep"),
                g("c", "2026-11-20T00:00"),
            ],
            policy: pol(|p| {
                p.keep_last = Some(1);
                p.keep_daily = Some(2);
                p.keep_tags = vec!["keep".into()];
            }),
            now: "2026-11-21T00:00",
            tz: utc(),
            kept: vec![
                ("c", vec!["last 1", "daily 2026-11-20", NEWEST]),
                ("b", vec!["daily 2026-11-19", "tag keep"]),
            ],
        },
        Case {
            name: "sources are retained independently",
            gens: vec![
                g("e1", "2026-11-01T00:00"),
                g("e2", "2026-11-02T00:00"),
                g("p1", "2026-11-19T00:00").src("pacs"),
                g("p2", "2026-11-20T00:00").src("pacs"),
            ],
            policy: pol(|p| p.keep_last = Some(1)),
            now: "2026-11-21T00:00",
            tz: jst(),
            kept: vec![
                ("e2", vec!["last 1", NEWEST]),
                ("p2", vec!["last 1", NEWEST]),
            ],
        },
    ]
}

fn safety_cases() -> Vec<Case> {
    vec![
        Case {
            name: "locks and holds override the policy",
            gens: vec![
                g("locked", "2026-01-01T00:00").lock("2027-01-01T00:00"),
                g("expired", "2026-01-02T00:00").lock("2026-06-01T00:00"),
                g("held", "2026-01-03T00:00").hold("訴訟 2026-17"),
                g("minlock", "2026-11-01T00:00"),
                g("new", "2026-11-20T00:00"),
            ],
            policy: pol(|p| {
                p.keep_last = Some(1);
                p.min_lock_days = Some(30);
            }),
            now: "2026-12-15T00:00",
            tz: jst(),
            // "minlock" (committed 11-01, locked by policy until 12-01) has expired; "new"
            // is still inside min_lock_days.
            kept: vec![
                ("locked", vec!["locked until 2027-01-01T00:00:00Z"]),
                ("held", vec!["legal hold: 訴訟 2026-17"]),
                (
                    "new",
                    vec!["locked until 2026-12-20T00:00:00Z", "last 1", NEWEST],
                ),
            ],
        },
        Case {
            name: "suspicious generations take no count slot",
            gens: vec![
                g("c1", "2026-11-15T00:00"),
                g("c2", "2026-11-16T00:00"),
                g("s1", "2026-11-17T00:00").sus(),
                g("s2", "2026-11-18T00:00").sus(),
                g("s3", "2026-11-19T00:00").sus(),
            ],
            policy: pol(|p| {
                p.keep_last = Some(2);
                p.keep_daily = Some(1);
            }),
            now: "2026-11-20T00:00",
            tz: utc(),
            kept: vec![
                ("c2", vec!["last 1", "daily 2026-11-16", NEWEST]),
                ("c1", vec!["last 2"]),
            ],
        },
        Case {
            name: "suspicious generations can be kept by within and tags",
            gens: vec![
                g("c1", "2026-11-15T00:00"),
                g("s1", "2026-11-18T00:00").sus().tag("forensics"),
                g("s2", "2026-11-19T00:00").sus(),
                g("s3", "2026-11-19T12:00").sus(),
            ],
            policy: pol(|p| {
                p.keep_within = Some(Duration::hours(12));
                p.keep_tags = vec!["forensics".into()];
            }),
            now: "2026-11-20T00:00",
            tz: utc(),
            kept: vec![
                ("s3", vec!["within 12h"]),
                ("s2", vec!["within 12h"]),
                ("s1", vec!["tag forensics"]),
                ("c1", vec![NEWEST]),
            ],
        },
        Case {
            name: "newest unknown is kept when there is no clean generation",
            gens: vec![
                g("u1", "2026-11-15T00:00").unk(),
                g("u2", "2026-11-16T00:00").unk(),
                g("s1", "2026-11-17T00:00").sus(),
            ],
            policy: pol(|p| p.keep_tags = vec!["none".into()]),
            now: "2026-11-20T00:00",
            tz: utc(),
            kept: vec![("u2", vec!["newest unverified generation (no clean one)"])],
        },
        Case {
            name: "a source of only suspicious generations is never emptied",
            gens: vec![
                g("s1", "2026-11-17T00:00").sus(),
                g("s2", "2026-11-18T00:00").sus(),
            ],
            policy: pol(|p| p.keep_last = Some(5)),
            now: "2026-11-20T00:00",
            tz: utc(),
            kept: vec![("s2", vec!["newest generation (all are suspicious)"])],
        },
        Case {
            name: "future commits are kept, flagged and not counted",
            gens: vec![
                g("a", "2026-11-18T00:00"),
                g("b", "2026-11-19T00:00"),
                g("edge", "2026-11-20T00:05"),
                g("fut", "2026-11-21T00:00"),
                g("far", "2099-01-01T00:00"),
            ],
            policy: pol(|p| {
                p.keep_last = Some(2);
                p.keep_within = Some(Duration::hours(1));
            }),
            now: "2026-11-20T00:00",
            tz: utc(),
            kept: vec![
                ("far", vec!["committed in the future (clock anomaly)"]),
                ("fut", vec!["committed in the future (clock anomaly)"]),
                ("edge", vec!["last 1", "within 1h", NEWEST]),
                ("b", vec!["last 2"]),
            ],
        },
    ]
}

#[test]
fn forget_case_table() {
    let all = [calendar_cases(), zone_cases(), rule_cases(), safety_cases()];
    let mut n = 0;
    for case in all.iter().flatten() {
        check(case);
        n += 1;
    }
    assert!(n >= 20, "the table lost cases: {n}");
}
