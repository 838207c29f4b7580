//! `kura-gen`: generate, mutate and digest synthetic hospital data (thin CLI over
//! `kura_testkit`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kura_testkit::{
    generate_edge_case_tree, generate_hospital_dataset, mutate_dataset, parse_size, tree_digest,
    tree_stats, DatasetSpec,
};

#[derive(Parser)]
#[command(
    name = "kura-gen",
    version,
    about = "Deterministic synthetic hospital data for Kura tests and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the hospital dataset (EHR dumps, SS-MIX2, DICOM, scans) into an empty DIR.
    Dataset {
        dir: PathBuf,
        /// Total size, e.g. 2GiB, 500MiB, 20M.
        #[arg(long, default_value = "2GiB", value_parser = parse_size)]
        size: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Apply one "day" of changes to a generated dataset in DIR.
    Mutate {
        dir: PathBuf,
        #[arg(long, default_value_t = 2)]
        seed: u64,
        /// Fraction of the bytes to change (0.01 = 1%).
        #[arg(long, default_value_t = 0.01)]
        fraction: f64,
    },
    /// Generate the file-system edge-case tree into an empty DIR.
    EdgeCases {
        dir: PathBuf,
        /// Number of small files.
        #[arg(long, default_value_t = 10_000)]
        files: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the tree digest (hex BLAKE3 of names, types, contents, symlink targets).
    Digest { dir: PathBuf },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let start = Instant::now();
    match cli.command {
        Command::Dataset { dir, size, seed } => {
            let spec = DatasetSpec {
                seed,
                total_bytes: size,
            };
            let s = generate_hospital_dataset(&dir, &spec)
                .with_context(|| format!("generating the dataset in {}", dir.display()))?;
            println!(
                "dataset {}: {} files, {} bytes in {:.1}s (seed {seed})",
                dir.display(),
                s.files(),
                s.bytes(),
                start.elapsed().as_secs_f64()
            );
            println!(
                "  dumps {}/{} B, hl7 {}/{} B, images {}/{} B, scans {}/{} B, {} dirs",
                s.dumps.files,
                s.dumps.bytes,
                s.hl7.files,
                s.hl7.bytes,
                s.images.files,
                s.images.bytes,
                s.scans.files,
                s.scans.bytes,
                s.dirs
            );
        }
        Command::Mutate {
            dir,
            seed,
            fraction,
        } => {
            let s = mutate_dataset(&dir, seed, fraction)
                .with_context(|| format!("mutating {}", dir.display()))?;
            println!(
                "mutated {}: {} files changed, {} new, {} renamed, {} deleted; \
                 {} B changed, {} B added, {} B removed",
                dir.display(),
                s.files_changed,
                s.files_new,
                s.files_renamed,
                s.files_deleted,
                s.bytes_changed,
                s.bytes_added,
                s.bytes_removed
            );
        }
        Command::EdgeCases { dir, files, seed } => {
            generate_edge_case_tree(&dir, seed, files)
                .with_context(|| format!("generating edge cases in {}", dir.display()))?;
            let t = tree_stats(&dir).with_context(|| format!("counting {}", dir.display()))?;
            println!(
                "edge cases {}: {} files ({files} small), {} dirs, {} symlinks, {} bytes (seed {seed})",
                dir.display(),
                t.files,
                t.dirs,
                t.symlinks,
                t.bytes
            );
        }
        Command::Digest { dir } => {
            let d = tree_digest(&dir).with_context(|| format!("digesting {}", dir.display()))?;
            println!("{d}  {}", dir.display());
        }
    }
    Ok(())
}
