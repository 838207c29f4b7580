//! Arguments of the vault commands (`kura serve`, `kura admin ...`, `kura audit ...`).
//! Flattened into the top-level command list by args.rs.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum VaultCommand {
    /// Run the vault server (HTTPS) described by a configuration file.
    Serve {
        /// The vault's TOML configuration (see crates/server/CONFIG.md).
        #[arg(long)]
        config: PathBuf,
    },
    /// Administer the vault on its own host: first admin, repositories, tokens, accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Check and export the hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Args, Clone)]
pub struct ConfigArg {
    /// The vault's TOML configuration.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create the first administrator (password typed, or from KURA_ADMIN_PASSWORD_FILE) and
    /// enrol their TOTP; prints the TOTP secret and recovery codes once.
    Init {
        #[command(flatten)]
        c: ConfigArg,
        /// The administrator's account name (asked for on a terminal; "admin" in scripts).
        #[arg(long)]
        name: Option<String>,
    },
    /// Print the SHA-256 fingerprint of the vault's certificate (64 hex digits) for clients.
    Fingerprint {
        #[command(flatten)]
        c: ConfigArg,
    },
    /// Manage repositories served by the vault.
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
pub enum RepoCommand {
    /// Create a repository (password from KURA_PASSWORD_FILE); prints its recovery key once.
    Create {
        /// The repository's name (clients use https://HOST:PORT/NAME).
        name: String,
        #[command(flatten)]
        c: ConfigArg,
    },
    /// List the repositories.
    List {
        #[command(flatten)]
        c: ConfigArg,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints only the token on standard output.
    Create {
        #[command(flatten)]
        c: ConfigArg,
        /// The repository the token is for.
        #[arg(long)]
        repo: String,
        /// backup (append-only) or operator (restore, check, drills).
        #[arg(long)]
        role: String,
        /// Limit a backup token to one source (its generations must carry this source).
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account with no rights (password from KURA_USER_PASSWORD_FILE or typed) and
    /// enrol TOTP; prints the TOTP secret and recovery codes once.
    Add {
        name: String,
        #[command(flatten)]
        c: ConfigArg,
        /// Do not enrol TOTP (only for clinicians when clinician_mfa_exempt is set).
        #[arg(long)]
        no_totp: bool,
    },
    /// Grant a role on a repository ("*" for all; admin and auditor need "*").
    Grant {
        name: String,
        #[command(flatten)]
        c: ConfigArg,
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "*")]
        repo: String,
        #[arg(long)]
        source: Option<String>,
    },
    /// List accounts with their roles, second factor and last login.
    List {
        #[command(flatten)]
        c: ConfigArg,
    },
    /// Disable an account (it keeps its history; enable again with an administrator).
    Disable {
        name: String,
        #[command(flatten)]
        c: ConfigArg,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check that no entry was edited, removed, inserted or reordered, and (with --config) that
    /// the log still reaches the newest head recorded with a generation.
    Verify {
        /// The audit log (JSON lines); default: the vault's log from --config.
        file: Option<PathBuf>,
        /// The vault's configuration: verify its log against the recorded heads.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Export the log as CSV or JSON lines to standard output.
    Export {
        /// The audit log; default: the vault's log from --config.
        file: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
        /// RFC 4180 CSV with a header row. Without it (or with the global --json) the export is
        /// JSON lines, byte for byte as stored, so each line can still be checked.
        #[arg(long)]
        csv: bool,
    },
}
