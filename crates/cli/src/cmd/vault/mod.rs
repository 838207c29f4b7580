//! Vault commands: `kura serve`, `kura admin ...` (on the vault host) and `kura audit ...`.
//! Thin: parse, call kura-server, print.

mod admin;
mod copy;
mod plan;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use kura_server::VaultConfig;

use crate::args::Global;
use crate::args_vault::{AuditCommand, VaultCommand};

pub fn run(g: &Global, c: &VaultCommand) -> Result<i32> {
    match c {
        VaultCommand::Serve { config } => {
            let config = VaultConfig::load(config)?;
            kura_server::http::run(config)?;
            Ok(crate::exit::SUCCESS)
        }
        VaultCommand::Admin { command } => admin::run(g, command),
        VaultCommand::Audit {
            command: AuditCommand::Verify { file, config },
        } => verify(g, file.as_deref(), config.as_deref()),
        VaultCommand::Audit {
            command: AuditCommand::Export { file, config, csv },
        } => export(file.as_deref(), config.as_deref(), *csv),
        VaultCommand::Copy { .. } | VaultCommand::Export { .. } | VaultCommand::Media { .. } => {
            copy::run(g, c)
        }
    }
}

/// The log file to use, and the newest head recorded with a generation (with --config).
fn log_and_head(
    file: Option<&Path>,
    config: Option<&Path>,
) -> Result<(PathBuf, Option<kura_server::commit::Anchor>)> {
    let config = config.map(VaultConfig::load).transpose()?;
    let anchor = config
        .as_ref()
        .and_then(|c| kura_server::commit::newest_anchor(&c.anchors_dir()));
    let path = match (file, &config) {
        (Some(f), _) => f.to_path_buf(),
        (None, Some(c)) => c.audit_path(),
        (None, None) => bail!("give the audit log file or --config of the vault"),
    };
    Ok((path, anchor))
}

fn verify(g: &Global, file: Option<&Path>, config: Option<&Path>) -> Result<i32> {
    let (path, anchor) = log_and_head(file, config)?;
    let expected = anchor.as_ref().map(|a| a.head());
    let report = kura_audit::verify(&path, expected.as_ref())
        .with_context(|| format!("verifying {}", path.display()))?;
    if g.json {
        println!(
            "{}",
            serde_json::json!({
                "ok": report.is_ok(),
                "entries": report.entries,
                "anchored_head": anchor.as_ref().map(|a| a.audit_seq),
                "report": report.to_string(),
            })
        );
    } else {
        println!("{report}");
        if let Some(a) = &anchor {
            println!(
                "checked against the head recorded with generation {} of {} (entry {})",
                a.snapshot, a.repo, a.audit_seq
            );
        }
    }
    Ok(if report.is_ok() {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    })
}

fn export(file: Option<&Path>, config: Option<&Path>, csv: bool) -> Result<i32> {
    let (path, _) = log_and_head(file, config)?;
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::new(stdout.lock());
    let filter = kura_audit::Filter::default();
    let summary = if csv {
        kura_audit::export_csv(&path, out, &filter)?
    } else {
        kura_audit::export_json(&path, out, &filter)?
    };
    if !summary.withheld_lines.is_empty() {
        eprintln!(
            "warning: {} line(s) failed their hash check and were not exported (lines {:?}); run `kura audit verify`",
            summary.withheld_lines.len(),
            summary.withheld_lines
        );
        return Ok(crate::exit::FAILURE);
    }
    Ok(crate::exit::SUCCESS)
}
