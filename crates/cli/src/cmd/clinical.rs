//! Clinical index commands and the backup hook that builds the index.

use anyhow::{bail, Result};

use crate::args::Global;
use crate::args_clinical::{ClinicalCommand, ClinicalSub};

/// Called by `kura backup --clinical FORMAT` after the generation is committed.
pub fn after_backup(
    _g: &Global,
    _repo: &kura_repo::Repository,
    _result: &kura_engine::backup::BackupResult,
    format: &str,
) -> Result<()> {
    bail!("--clinical {format}: the clinical index is not built by this version yet")
}

pub fn run(_g: &Global, c: &ClinicalCommand) -> Result<i32> {
    match c {
        ClinicalCommand::Clinical {
            command: ClinicalSub::Summary { patient },
        } => {
            bail!("no clinical index holds patient {patient}: clinical indexes are not built by this version yet")
        }
    }
}
