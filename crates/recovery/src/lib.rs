//! Recovery plans for Kura: which system comes back first, how fresh and how fast it must be
//! (RPO/RTO), and proof by drill that it actually comes back.
//!
//! Hospitals are asked by the MHLW guideline and checklist (3-②, 3-③) to have a confirmed
//! restore procedure and a cyber-BCP that states, per system, its priority, its recovery
//! objectives, what it depends on and who is responsible (責任分界). This crate turns that
//! into a TOML file ([`Plan`], documented field by field in `PLAN.md`) and into the
//! decisions the `kura plan` and `kura drill` commands make:
//!
//! | step | function | pure? |
//! |---|---|---|
//! | parse the file (shape only, unknown keys refused) | [`Plan::load`], [`Plan::parse`] | yes |
//! | `kura plan check`: every problem at once | [`validate`], [`lint`] | yes |
//! | dependency levels and positions | [`restore_order`], [`positions`] | yes |
//! | `kura plan status`: RPO/RTO per system | [`status`] | yes (clock passed in) |
//! | `kura plan restore`: ordered, parallel, resumable | [`run_plan`] + [`RestoreJournal`] | restore passed in |
//! | `kura drill`: restore, verify, time | [`run_drill`], [`run_verification`] | restore passed in |
//! | the BCP binder page | [`render_html`] | yes |
//!
//! The crate does not depend on the repository or engine crates: the caller passes plain
//! facts ([`SourceFacts`]) and a restore function, so every decision here is testable with
//! fakes and the CLI stays thin. It runs external programs only for verification commands,
//! each in its own process group with a timeout. Durations use the grammar of
//! `kura-policy` ("30m" is thirty *minutes*), so RPO and retention read the same way.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use kura_recovery::{restore_order, status, validate, GenerationRef, Plan, SourceFacts};
//!
//! let plan = Plan::parse(r#"
//!     [plan]
//!     hospital = "Example Hospital"
//!
//!     [[system]]
//!     name = "ehr-db"
//!     priority = "P1"
//!     rpo = "1h"
//!     rto = "4h"
//!     sources = ["ehr-db"]
//!     restore_to = "/restore/ehr-db"
//!
//!     [[system]]
//!     name = "orders"
//!     priority = "P1"
//!     depends_on = ["ehr-db"]
//!     rpo = "1h"
//!     rto = "8h"
//!     sources = ["orders"]
//!     restore_to = "/restore/orders"
//! "#, "example").unwrap();
//! validate(&plan, &["ehr-db".to_string(), "orders".to_string()]).unwrap();
//! assert_eq!(restore_order(&plan), vec![vec!["ehr-db"], vec!["orders"]]);
//!
//! let now = Utc.with_ymd_and_hms(2027, 4, 1, 9, 0, 0).unwrap();
//! let fact = |source: &str, minutes: i64| SourceFacts {
//!     source: source.to_string(),
//!     newest_clean: Some(GenerationRef {
//!         id: "1a2b3c4d".to_string(),
//!         committed_at: now - chrono::Duration::minutes(minutes),
//!     }),
//!     size_bytes: 20 << 30,
//!     measured_restore_throughput: None, // no drill yet: default throughput, flagged
//! };
//! let st = status(&plan, &[fact("ehr-db", 30), fact("orders", 90)], now);
//! assert_eq!(st[0].name, "orders"); // failing systems first
//! assert!(!st[0].rpo_met);
//! assert!(st[1].rpo_met && st[1].rto_met && st[1].throughput_estimated);
//! ```
#![forbid(unsafe_code)]

pub mod drill;
pub mod journal;
pub mod order;
pub mod plan;
pub mod report;
pub mod run;
pub mod status;
pub mod validate;
pub mod verify;

#[cfg(test)]
mod testutil;

pub use drill::{run_drill, DrillReport, DrillRestore, DrilledGeneration, SystemDrill};
pub use journal::{Entry, JournalError, RestoreJournal, State};
pub use order::{positions, restore_order};
pub use plan::{Check, Expect, LoadError, Party, Plan, PlanHeader, Priority, Responsible, System};
pub use report::render_html;
pub use run::{
    remaining, run_plan, RestoreError, RestoreEvent, RestoreOutcome, RunOptions, RunReport,
};
pub use status::{
    all_met, human, status, GenerationRef, SourceFacts, SourceGeneration, SystemStatus,
    DEFAULT_RESTORE_MIB_PER_S,
};
pub use validate::{lint, parse_offset, validate, PlanError, Severity};
pub use verify::{
    run_verification, CheckResult, VerificationResult, VerifyEnv, DEFAULT_TIMEOUT_SECS,
    OUTPUT_LIMIT,
};
