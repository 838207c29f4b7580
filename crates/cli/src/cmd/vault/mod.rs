//! Vault commands.

use anyhow::Result;

use crate::args::Global;
use crate::args_vault::{AuditCommand, VaultCommand};

pub fn run(g: &Global, c: &VaultCommand) -> Result<i32> {
    match c {
        VaultCommand::Audit {
            command: AuditCommand::Verify { file },
        } => {
            let report = kura_audit::verify(file, None)?;
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": report.is_ok(), "report": report.to_string()})
                );
            } else {
                println!("{report}");
            }
            Ok(if report.is_ok() {
                crate::exit::SUCCESS
            } else {
                crate::exit::FAILURE
            })
        }
    }
}
