#![forbid(unsafe_code)]
//! placeholder
pub mod order;
pub mod plan;
#[cfg(test)]
mod testutil;
pub mod validate;

pub use order::{positions, restore_order};
pub use plan::{Check, Expect, LoadError, Party, Plan, PlanHeader, Priority, Responsible, System};
pub use validate::{lint, parse_offset, validate, PlanError, Severity};
pub mod status;
pub use status::{
    all_met, status, GenerationRef, SourceFacts, SystemStatus, DEFAULT_RESTORE_MIB_PER_S,
};
pub mod journal;
pub mod run;
pub use journal::{Entry, JournalError, RestoreJournal, State};
pub use run::{
    remaining, run_plan, RestoreError, RestoreEvent, RestoreOutcome, RunOptions, RunReport,
};
pub mod verify;
pub use verify::{run_verification, CheckResult, VerificationResult, VerifyEnv};
pub mod drill;
pub mod report;
pub use drill::{run_drill, DrillReport, DrillRestore, DrilledGeneration, SystemDrill};
pub use report::render_html;
