//! Command-line arguments. Names follow restic where a hospital administrator would expect them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kura",
    version,
    about = "Kura (蔵): ransomware-resilient, generation-managed backup for hospital medical records"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Repository location (a local directory).
    #[arg(long, short = 'r', global = true, env = "KURA_REPOSITORY")]
    pub repo: Option<String>,
    /// File holding the repository password (or the recovery key). Never pass a password as an argument.
    #[arg(long, global = true, env = "KURA_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Machine-readable output (JSON) on standard output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// SHA-256 fingerprint of the vault's certificate (`kura admin fingerprint` prints it).
    #[arg(long, global = true, env = "KURA_TLS_FINGERPRINT")]
    pub tls_fingerprint: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, global = true, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a repository, print its one-time recovery key.
    Init(InitArgs),
    /// Back up files, a stream or a command's output as a new generation.
    Backup(BackupArgs),
    /// List generations.
    Snapshots(SnapshotsArgs),
    /// List the files of a generation.
    Ls(LsArgs),
    /// Show what changed between two generations.
    Diff(DiffArgs),
    /// Write one file of a generation to standard output.
    Dump(DumpArgs),
    /// Restore a generation into a directory.
    Restore(RestoreArgs),
    /// Explain the ransomware verdict of a generation (default: the newest).
    Analyze(AnalyzeArgs),
    /// The newest clean generation of each source, and how many files need an older version.
    CleanPoint(CleanPointArgs),
    /// Verify the repository's structure and, optionally, every stored byte.
    Check(CheckArgs),
    /// Remove generations by a retention policy (never locked or held ones).
    Forget(ForgetArgs),
    /// Garbage-collect unused data in two phases (safe while backups run).
    Prune(PruneArgs),
    /// Lock a generation until a date: it cannot be forgotten or pruned before then.
    Lock(LockArgs),
    /// Legal holds: block deletion of a generation without a date.
    Hold {
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// The retention policy stored in the repository.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Repair repository structures.
    Repair {
        #[command(subcommand)]
        command: RepairCommand,
    },
    /// Manage key files (passwords) of the repository.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Recovery plans and drills (`plan`, `drill`), defined in args_plan.rs.
    #[command(flatten)]
    Plan(crate::args_plan::PlanCommand),
    /// Clinical index commands (`clinical`), defined in args_clinical.rs.
    #[command(flatten)]
    Clinical(crate::args_clinical::ClinicalCommand),
    /// Vault commands (`serve`, `admin`, `audit`, ...), defined in args_vault.rs.
    #[command(flatten)]
    Vault(crate::args_vault::VaultCommand),
    /// Show Kura's main job end to end on a small generated hospital data set, in ./kura-demo.
    Demo(DemoArgs),
}

#[derive(Args)]
pub struct InitArgs {
    /// Label for the first key (for example the administrator's name).
    #[arg(long, default_value = "initial")]
    pub key_label: String,
    /// Write the recovery key to this file (mode 0600) instead of only printing it.
    #[arg(long)]
    pub recovery_key_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct BackupArgs {
    /// Files and directories to back up.
    pub paths: Vec<PathBuf>,
    /// Source name: generations of one source are compared with each other and retained together.
    #[arg(long, default_value = "default")]
    pub source: String,
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Exclude paths matching a glob pattern (a pattern without '/' matches names).
    #[arg(long = "exclude")]
    pub excludes: Vec<String>,
    /// Host name recorded in the generation (default: this machine's).
    #[arg(long)]
    pub host: Option<String>,
    /// Read every file, even those that look unchanged.
    #[arg(long)]
    pub force: bool,
    /// Back up standard input as one file.
    #[arg(long, conflicts_with = "paths")]
    pub stdin: bool,
    /// File name for --stdin and --stdin-from-command.
    #[arg(long, default_value = "stdin")]
    pub stdin_filename: String,
    /// Run a command and back up its standard output (e.g. pg_dump); a non-zero exit fails the backup.
    #[arg(long, conflicts_with_all = ["paths", "stdin"])]
    pub stdin_from_command: bool,
    /// The command for --stdin-from-command, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
    /// Retention lock in days: the generation cannot be forgotten or pruned before then.
    #[arg(long)]
    pub lock_days: Option<u32>,
    /// Build a clinical index of this source during the backup (`ss-mix2` or `fhir`), for the
    /// emergency viewer and `kura clinical`.
    #[arg(long, value_parser = ["ss-mix2", "fhir"])]
    pub clinical: Option<String>,
    /// Do not compute ransomware signals (no verdict is stored).
    #[arg(long)]
    pub no_detect: bool,
    /// Run this shell command when the new generation is judged suspicious; it gets
    /// KURA_SNAPSHOT, KURA_SOURCE, KURA_SCORE and KURA_REASONS in its environment.
    #[arg(long)]
    pub on_suspicious: Option<String>,
}

#[derive(Args)]
pub struct SnapshotsArgs {
    /// Only generations of this source.
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Args)]
pub struct LsArgs {
    pub snapshot: String,
    /// Directory inside the generation to list (default: everything).
    pub path: Option<String>,
}

#[derive(Args)]
pub struct DiffArgs {
    pub first: String,
    pub second: String,
}

#[derive(Args)]
pub struct DumpArgs {
    pub snapshot: String,
    /// Path of the file inside the generation.
    pub file: String,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// Generation: an ID prefix, `latest` or `latest:SOURCE` (not with --clean).
    #[arg(required_unless_present = "clean")]
    pub snapshot: Option<String>,
    /// Restore every file's newest valid version across the source's generations (after an
    /// attack), and write a report of which generation each file came from.
    #[arg(long, conflicts_with = "snapshot")]
    pub clean: bool,
    /// The source for --clean (needed when the repository holds several).
    #[arg(long)]
    pub source: Option<String>,
    /// Where --clean writes its report (default: beside the target, TARGET.clean-report.json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[arg(long)]
    pub target: PathBuf,
    /// Restore only paths matching this glob (and everything below a matching directory).
    #[arg(long = "include")]
    pub includes: Vec<String>,
    /// Allow restoring into a non-empty directory, replacing what is there.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Read and verify every stored byte.
    #[arg(long, conflicts_with = "read_data_subset")]
    pub read_data: bool,
    /// Read and verify this percentage of packs, e.g. `10%`.
    #[arg(long)]
    pub read_data_subset: Option<String>,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Add a password (read from --new-password-file or asked twice).
    Add {
        #[arg(long)]
        new_password_file: Option<PathBuf>,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List key files.
    List,
    /// Remove a key file by ID prefix; the others keep working.
    Remove { id: String },
}

#[derive(Args)]
pub struct DemoArgs {
    /// Where to create the demo (repository, data, restores).
    #[arg(long, default_value = "kura-demo")]
    pub dir: PathBuf,
    /// Size of the generated data set in MiB.
    #[arg(long, default_value_t = 64)]
    pub size_mib: u64,
}

#[derive(Args, Clone, Default)]
pub struct KeepArgs {
    #[arg(long)]
    pub keep_last: Option<u32>,
    #[arg(long)]
    pub keep_hourly: Option<u32>,
    #[arg(long)]
    pub keep_daily: Option<u32>,
    #[arg(long)]
    pub keep_weekly: Option<u32>,
    #[arg(long)]
    pub keep_monthly: Option<u32>,
    #[arg(long)]
    pub keep_yearly: Option<u32>,
    /// Keep generations committed within this duration of the newest one (e.g. 90d, 2w, 36h).
    #[arg(long)]
    pub keep_within: Option<String>,
    /// Keep generations carrying this tag.
    #[arg(long = "keep-tag")]
    pub keep_tags: Vec<String>,
}

#[derive(Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub keep: KeepArgs,
    /// Only these sources (default: all, each retained on its own).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Print the plan with the reason each generation is kept; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Run prune afterwards.
    #[arg(long)]
    pub prune: bool,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Print the plan; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// How long an unused pack stays marked before it is deleted (default 24h).
    #[arg(long, default_value = "24h")]
    pub grace: String,
    /// Repack packs with at least this percentage of unused bytes.
    #[arg(long, default_value_t = 25.0)]
    pub repack_unused: f64,
    /// Pretend the current time is this (RFC 3339): lets tests and GC drills see what a later
    /// prune would do without waiting for the grace period.
    #[arg(long, hide = true)]
    pub now: Option<String>,
}

#[derive(Args)]
pub struct LockArgs {
    pub snapshot: String,
    /// Date (YYYY-MM-DD, locked through that whole day in JST) or RFC 3339 time.
    #[arg(long)]
    pub until: String,
}

#[derive(Subcommand)]
pub enum HoldCommand {
    /// Place a legal hold.
    Add {
        snapshot: String,
        #[arg(long)]
        reason: String,
    },
    /// Release the legal holds of a generation.
    Remove {
        snapshot: String,
        #[arg(long)]
        reason: String,
    },
    /// List generations under legal hold.
    List,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Store a retention policy; it becomes the default of `forget`.
    Set {
        #[command(flatten)]
        keep: KeepArgs,
        /// Every generation is locked for at least this many days after its commit (cannot be lowered).
        #[arg(long)]
        min_lock_days: Option<u32>,
    },
    /// Show the stored policy.
    Show,
}

#[derive(Subcommand)]
pub enum RepairCommand {
    /// Rebuild the index from the pack files.
    Index,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Generation (default: latest).
    pub snapshot: Option<String>,
}

#[derive(Args)]
pub struct CleanPointArgs {
    /// Only this source.
    #[arg(long)]
    pub source: Option<String>,
}
