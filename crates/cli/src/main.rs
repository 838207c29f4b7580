//! The `kura` command: parse, call the libraries, print, and exit with a code scripts can trust.
#![forbid(unsafe_code)]

mod args;
mod args_clinical;
mod args_plan;
mod args_vault;
mod audit;
mod cmd;
mod exit;
mod open;
mod output;

use clap::Parser;

use args::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let g = &cli.global;
    let result = match &cli.command {
        Command::Init(a) => cmd::init::run(g, a),
        Command::Backup(a) => cmd::backup::run(g, a),
        Command::Snapshots(a) => cmd::browse::snapshots(g, a),
        Command::Ls(a) => cmd::browse::ls(g, a),
        Command::Diff(a) => cmd::browse::diff(g, a),
        Command::Dump(a) => cmd::browse::dump(g, a),
        Command::Restore(a) => cmd::restore::run(g, a),
        Command::Check(a) => cmd::check::run(g, a),
        Command::Analyze(a) => cmd::detect::analyze(g, a),
        Command::CleanPoint(a) => cmd::detect::clean_point(g, a),
        Command::Key { command } => cmd::key::run(g, command),
        Command::Forget(a) => cmd::retention::forget(g, a),
        Command::Prune(a) => cmd::retention::prune(g, a),
        Command::Lock(a) => cmd::retention::lock(g, a),
        Command::Hold { command } => cmd::retention::hold(g, command),
        Command::Policy { command } => cmd::retention::policy(g, command),
        Command::Repair { command } => cmd::retention::repair(g, command),
        Command::Demo(a) => cmd::demo::run(g, a),
        Command::Vault(c) => cmd::vault::run(g, c),
        Command::Plan(c) => cmd::plan::run(g, c),
        Command::Clinical(c) => cmd::clinical::run(g, c),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            let code = open::no_repo_error(&e).unwrap_or(exit::FAILURE);
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"message_type": "error", "error": format!("{e:#}"), "exit_code": code})
                );
            }
            eprintln!("kura: {e:#}");
            code
        }
    };
    std::process::exit(code);
}
