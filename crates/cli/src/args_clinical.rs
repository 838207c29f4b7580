//! Arguments of the clinical commands (`kura clinical ...`). Flattened into the top-level command
//! list by args.rs.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ClinicalCommand {
    /// The clinical index built from clinical sources (SS-MIX2, JP-CLINS FHIR).
    Clinical {
        #[command(subcommand)]
        command: ClinicalSub,
    },
}

#[derive(Subcommand)]
pub enum ClinicalSub {
    /// One patient's summary.
    Summary {
        #[arg(long)]
        patient: String,
    },
}
