//! `kura copy`, `kura export` and `kura media`: copies a takeover cannot reach. Thin: open the
//! repositories, call kura-server's copy and media functions, print.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use kura_repo::{InitOptions, Repository};
use kura_server::copy::{copy_generations, CopyReport, Selection};
use kura_server::media::{self, MediumRecord};
use kura_server::VaultConfig;
use kura_store::{Backend, LocalBackend};

use crate::args::Global;
use crate::args_vault::{MediaCommand, VaultCommand};

pub fn run(g: &Global, c: &VaultCommand) -> Result<i32> {
    match c {
        VaultCommand::Copy {
            from,
            to,
            sources,
            snapshots,
        } => copy(g, from, to, sources, snapshots),
        VaultCommand::Export {
            to,
            sources,
            snapshots,
            config,
            medium,
        } => {
            let sel = Selection {
                snapshots: snapshots.clone(),
                sources: sources.clone(),
            };
            export(g, to, &sel, config.as_deref(), medium.as_deref())
        }
        VaultCommand::Media {
            command: MediaCommand::List { c },
        } => list_media(g, &c.config),
        VaultCommand::Media {
            command: MediaCommand::Verify { dir, c, medium },
        } => verify_medium(g, dir, &c.config, medium.as_deref()),
        _ => bail!("not a copy command"),
    }
}

/// The source of `kura copy`: a directory, or a vault with its own token and fingerprint.
fn source_backend(from: &str) -> Result<Arc<dyn Backend>> {
    if !from.starts_with("https://") {
        return Ok(Arc::new(LocalBackend::new(from)));
    }
    let token_file = std::env::var_os("KURA_FROM_TOKEN_FILE")
        .context("copying from a vault needs a read-only token: set KURA_FROM_TOKEN_FILE")?;
    let token = crate::open::read_secret_file(Path::new(&token_file))?;
    let fp = std::env::var("KURA_FROM_TLS_FINGERPRINT")
        .context("set KURA_FROM_TLS_FINGERPRINT to the source vault's certificate fingerprint")?;
    let token = String::from_utf8(token).context("the token file is not UTF-8")?;
    Ok(Arc::new(kura_store::remote::RemoteBackend::new(
        from, &token, &fp,
    )?))
}

fn copy(g: &Global, from: &str, to: &Path, sources: &[String], snaps: &[String]) -> Result<i32> {
    let pw_file = std::env::var_os("KURA_FROM_PASSWORD_FILE")
        .context("set KURA_FROM_PASSWORD_FILE to the source repository's password file")?;
    let src_pw = crate::open::read_secret_file(Path::new(&pw_file))?;
    let src = Repository::open(source_backend(from)?, &src_pw)
        .with_context(|| format!("opening the source {from}"))?;
    let to_text = to.to_string_lossy();
    if to_text.contains("://") {
        bail!("--to must be a local repository: a second vault pulls into its own repository (under its data_dir/repos/NAME)");
    }
    let dst_pw = crate::open::password(g, &format!("password for {}: ", to.display()))?;
    let dst = Repository::open(Arc::new(LocalBackend::new(to)), &dst_pw)
        .with_context(|| format!("opening the destination {}", to.display()))?;
    let sel = Selection {
        snapshots: snaps.to_vec(),
        sources: sources.to_vec(),
    };
    let report = copy_generations(&src, &dst, &sel)?;
    print_report(g, &report)?;
    Ok(crate::exit::SUCCESS)
}

fn print_report(g: &Global, r: &CopyReport) -> Result<()> {
    if g.json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    for gen in &r.generations {
        let what = if gen.copied { "copied" } else { "present" };
        println!(
            "{what}\t{} -> {}\t{}\t{}",
            &gen.source_id[..8],
            &gen.dest_id[..8],
            gen.source,
            gen.time.to_rfc3339()
        );
    }
    println!("{} blob(s), {} byte(s) added", r.blobs_added, r.bytes_added);
    Ok(())
}

fn export(
    g: &Global,
    to: &Path,
    sel: &Selection,
    config: Option<&Path>,
    medium: Option<&str>,
) -> Result<i32> {
    let config = config.map(VaultConfig::load).transpose()?;
    let src = crate::open::open(g)?;
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        bail!(
            "{} is not empty: export writes a new repository into an empty directory",
            to.display()
        );
    }
    // The medium's password: its own, or the source's.
    let pw = match std::env::var_os("KURA_EXPORT_PASSWORD_FILE") {
        Some(p) => crate::open::read_secret_file(Path::new(&p))?,
        None => crate::open::password(g, "password for the medium: ")?,
    };
    let backend = Arc::new(LocalBackend::new(to));
    let (dst, recovery) = Repository::init(backend, &pw, &InitOptions::default())?;
    let report = copy_generations(&src, &dst, sel)?;
    let from = src.backend().location();
    let manifest = media::write_manifest(to, &from, &report.generations)?;
    if let Some(cfg) = &config {
        let label = medium_label(to, medium)?;
        let rec = MediumRecord {
            label,
            path: std::fs::canonicalize(to)?,
            exported_at: manifest.created_at,
            generations: manifest.generations.clone(),
            last_verified: None,
            last_result: None,
        };
        media::save_medium(&cfg.data_dir, &rec)?;
    }
    if g.json {
        println!(
            "{}",
            serde_json::json!({"report": report, "recovery_key": recovery, "files": manifest.files.len()})
        );
    } else {
        print_report(g, &report)?;
        println!("manifest: {} file(s) hashed", manifest.files.len());
        println!("RECOVERY KEY of the medium (shown once; keep it apart from the medium):");
        println!("    {recovery}");
    }
    Ok(crate::exit::SUCCESS)
}

fn medium_label(dir: &Path, given: Option<&str>) -> Result<String> {
    match given {
        Some(l) => Ok(l.to_string()),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("give --medium LABEL"),
    }
}

fn list_media(g: &Global, config: &Path) -> Result<i32> {
    let cfg = VaultConfig::load(config)?;
    let all = media::list_media(&cfg.data_dir)?;
    if g.json {
        println!("{}", serde_json::to_string(&all)?);
        return Ok(crate::exit::SUCCESS);
    }
    for m in all {
        let ids: Vec<&str> = m.generations.iter().map(|x| &x.id[..8]).collect();
        let verified = match (&m.last_verified, &m.last_result) {
            (Some(t), Some(r)) if r.is_ok() => format!("verified ok {}", t.to_rfc3339()),
            (Some(t), Some(_)) => format!("DAMAGED at {}", t.to_rfc3339()),
            _ => "never verified".to_string(),
        };
        println!(
            "{}\t{}\texported {}\t{}\tgenerations {}",
            m.label,
            m.path.display(),
            m.exported_at.to_rfc3339(),
            verified,
            ids.join(" ")
        );
    }
    Ok(crate::exit::SUCCESS)
}

fn verify_medium(g: &Global, dir: &Path, config: &Path, medium: Option<&str>) -> Result<i32> {
    let cfg = VaultConfig::load(config)?;
    let label = medium_label(dir, medium)?;
    let (manifest, check) = media::verify_manifest(dir)?;
    let mut rec = match media::load_medium(&cfg.data_dir, &label) {
        Ok(r) => r,
        Err(_) => MediumRecord {
            label: label.clone(),
            path: dir.to_path_buf(),
            exported_at: manifest.created_at,
            generations: manifest.generations.clone(),
            last_verified: None,
            last_result: None,
        },
    };
    rec.last_verified = Some(chrono::Utc::now());
    rec.last_result = Some(check.clone());
    media::save_medium(&cfg.data_dir, &rec)?;
    if g.json {
        println!("{}", serde_json::to_string(&check)?);
    } else if check.is_ok() {
        println!(
            "medium {label}: {} file(s), {} byte(s) match the manifest",
            check.files_checked, check.bytes_checked
        );
    } else {
        println!(
            "medium {label}: DAMAGED {:?}, MISSING {:?}",
            check.damaged, check.missing
        );
    }
    Ok(if check.is_ok() {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    })
}
