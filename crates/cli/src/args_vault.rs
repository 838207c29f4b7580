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
    /// Pull generations from one repository into another (re-encrypted with the destination's
    /// key). The source is only read: password from KURA_FROM_PASSWORD_FILE, and for a vault a
    /// read-only token from KURA_FROM_TOKEN_FILE and the certificate fingerprint from
    /// KURA_FROM_TLS_FINGERPRINT. The destination is a local repository opened with
    /// KURA_PASSWORD_FILE. A deletion at the source never reaches the copy.
    Copy {
        /// The repository to copy from (a directory or https://HOST:PORT/NAME).
        #[arg(long)]
        from: String,
        /// The local repository to copy into (the second vault's own repository).
        #[arg(long)]
        to: std::path::PathBuf,
        /// Only generations of this source (repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
        /// Generations to copy (ids, prefixes, latest, latest:SOURCE); default all.
        snapshots: Vec<String>,
    },
    /// Write generations of the repository (--repo / KURA_REPOSITORY) to removable media as a
    /// new self-contained repository with a manifest; with --config the vault records the medium.
    Export {
        /// An empty or new directory on the medium.
        #[arg(long)]
        to: std::path::PathBuf,
        /// Only generations of this source (repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
        /// Generations to export; default all.
        snapshots: Vec<String>,
        /// The vault whose media records note this medium.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// The medium's label in the vault's records (default: the directory's name).
        #[arg(long)]
        medium: Option<String>,
    },
    /// The vault's records of exported media.
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
}

#[derive(Subcommand)]
pub enum MediaCommand {
    /// List media: label, generations, when exported and when last verified.
    List {
        #[command(flatten)]
        c: ConfigArg,
    },
    /// Check a medium's files against its manifest (no password needed) and record the result.
    Verify {
        /// Where the medium is mounted (the directory given to `kura export --to`).
        dir: std::path::PathBuf,
        #[command(flatten)]
        c: ConfigArg,
        /// The medium's label (default: the directory's name).
        #[arg(long)]
        medium: Option<String>,
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
    /// Four-eyes deletion plans: one named account proposes, a second one approves, the vault
    /// executes. Acts as the account given with --user (password from KURA_USER_PASSWORD_FILE or
    /// typed; TOTP code from KURA_TOTP or typed).
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
}

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Propose removing generations (--forget ID...) or garbage-collecting packs (--prune).
    Propose {
        #[command(flatten)]
        c: ConfigArg,
        #[arg(long)]
        repo: String,
        /// The proposing account (retention-admin).
        #[arg(long)]
        user: String,
        /// Generations to remove (ids or unique prefixes).
        #[arg(long, num_args = 1.., required_unless_present = "prune", conflicts_with = "prune")]
        forget: Vec<String>,
        /// Garbage-collect packs no generation references.
        #[arg(long)]
        prune: bool,
        /// With --prune: how long a pack stays marked unused before it is deleted.
        #[arg(long, default_value = "24h")]
        grace: String,
        /// Why: shown to the approver and kept in the audit log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List plans (pending first), with their proposer, approver and result.
    List {
        #[command(flatten)]
        c: ConfigArg,
        /// Only this repository (default: all).
        #[arg(long)]
        repo: Option<String>,
    },
    /// Approve a pending plan as a second account; the vault then executes it.
    Approve {
        /// The plan id (16 hex digits, from `kura admin plan list`).
        id: String,
        #[command(flatten)]
        c: ConfigArg,
        #[arg(long)]
        repo: String,
        /// The approving account (retention-admin, not the proposer).
        #[arg(long)]
        user: String,
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
    /// Set a new password for a forgotten one (from KURA_USER_PASSWORD_FILE or typed). The user
    /// must change it at the next login; every session of the account ends.
    Password {
        name: String,
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
