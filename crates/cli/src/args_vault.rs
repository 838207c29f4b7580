//! Arguments of the vault commands (`kura serve`, `kura admin ...`, `kura audit ...`).
//! Flattened into the top-level command list by args.rs.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum VaultCommand {
    /// Verify a hash-chained audit log (`kura audit verify FILE`).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check that no entry was edited, removed, inserted or reordered.
    Verify {
        /// The audit log (JSON lines).
        file: std::path::PathBuf,
    },
}
