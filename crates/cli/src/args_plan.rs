//! Arguments of the recovery-plan commands (`kura plan ...`, `kura drill`). Flattened into the
//! top-level command list by args.rs. The plan file format is described in
//! crates/recovery/PLAN.md; `--json` and the repository options are global.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Recovery plans: check, status against RPO/RTO, dependency-ordered restore.
    Plan {
        #[command(subcommand)]
        command: PlanSub,
    },
    /// Restore every system of a plan into a scratch location, run its verification commands,
    /// measure the achieved restore time and write an HTML report for the BCP binder.
    Drill(DrillArgs),
}

#[derive(Subcommand)]
pub enum PlanSub {
    /// Validate a recovery plan file: syntax, dependency cycles, unknown sources (when a
    /// repository is given), durations and checks. Exit 1 when the plan has errors.
    Check {
        /// The recovery plan (TOML).
        #[arg(long)]
        plan: PathBuf,
    },
    /// Per system: age of the newest clean generation against the RPO and estimated restore
    /// time against the RTO, failing systems first. Exit 1 when any target is missed.
    Status {
        /// The recovery plan (TOML).
        #[arg(long)]
        plan: PathBuf,
    },
    /// Restore every system in dependency order (independent ones in parallel), resumable.
    Restore(PlanRestoreArgs),
}

#[derive(Args)]
pub struct PlanRestoreArgs {
    /// The recovery plan (TOML).
    #[arg(long)]
    pub plan: PathBuf,
    /// Restore the newest clean generation committed at or before this time (RFC 3339, or a
    /// date meaning the end of that day in the plan's timezone) instead of the newest one.
    #[arg(long)]
    pub before: Option<String>,
    /// Restore each system into DIR/<system> instead of its `restore_to`.
    #[arg(long, value_name = "DIR")]
    pub target_root: Option<PathBuf>,
    /// Journal recording finished systems (default: <plan>.restore-journal.json beside the
    /// plan). Run the same command again after an interruption to continue.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Most systems restored at the same time.
    #[arg(long, default_value_t = 3)]
    pub parallel: usize,
}

#[derive(Args)]
pub struct DrillArgs {
    /// The recovery plan (TOML).
    #[arg(long)]
    pub plan: PathBuf,
    /// Where to write the HTML report (default: drill-report-<date>.html beside the plan).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Restore every system into DIR/<system>, overriding `scratch_dir` and `drill_to`.
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
}
