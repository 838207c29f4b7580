//! Recovery-plan commands.

use anyhow::Result;

use crate::args::Global;
use crate::args_plan::{PlanCommand, PlanSub};

pub fn run(g: &Global, c: &PlanCommand) -> Result<i32> {
    match c {
        PlanCommand::Plan {
            command: PlanSub::Check { plan },
        } => {
            let p = kura_recovery::Plan::load(plan)?;
            let findings = kura_recovery::lint(&p, &[]);
            for f in &findings {
                eprintln!("{f}");
            }
            let _ = g;
            Ok(if findings.iter().any(|f| f.is_error()) {
                crate::exit::FAILURE
            } else {
                crate::exit::SUCCESS
            })
        }
    }
}
