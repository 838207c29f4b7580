//! Arguments of the recovery-plan commands (`kura plan ...`, `kura drill`). Flattened into the
//! top-level command list by args.rs.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Recovery plans: check, status against RPO/RTO, dependency-ordered restore.
    Plan {
        #[command(subcommand)]
        command: PlanSub,
    },
}

#[derive(Subcommand)]
pub enum PlanSub {
    /// Validate a recovery plan file.
    Check {
        #[arg(long)]
        plan: std::path::PathBuf,
    },
}
