//! Finding the repository and the password.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use kura_repo::Repository;
use kura_store::{Backend, LocalBackend};

use crate::args::Global;

pub fn backend(g: &Global) -> Result<Arc<dyn Backend>> {
    let Some(repo) = &g.repo else {
        bail!("no repository given: pass --repo DIR or set KURA_REPOSITORY");
    };
    if repo.starts_with("https://") {
        let remote =
            kura_store::remote::RemoteBackend::from_env(repo, g.tls_fingerprint.as_deref())?;
        return Ok(Arc::new(remote));
    }
    if repo.starts_with("s3:") {
        return Ok(Arc::new(kura_store::s3::S3Backend::from_url(repo)?));
    }
    if repo.contains("://") {
        bail!("{repo}: use a local directory, https://HOST:PORT/NAME (a vault) or s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]");
    }
    Ok(Arc::new(LocalBackend::new(repo)))
}

/// The backend for a backup that locks its generation for `lock_days`. On S3 every object is then
/// written with COMPLIANCE retention for that long, after the bucket has proved that it enforces
/// create-only writes and Object Lock (servers that accept the headers and ignore them exist, see
/// `kura_store::s3`'s probe): a store that fails the probe is refused rather than trusted.
/// Elsewhere the lock is Kura's own record (and the vault's, which extends its own locks).
pub fn backend_for_lock(g: &Global, lock_days: Option<u32>) -> Result<Arc<dyn Backend>> {
    let days = lock_days.filter(|d| *d > 0);
    match (&g.repo, days) {
        (Some(repo), Some(days)) if repo.starts_with("s3:") => {
            let b = kura_store::s3::S3Backend::from_url(repo)?.with_lock_days(days);
            let report = b.probe_immutable()?;
            if !g.quiet && !g.json {
                eprintln!(
                    "the S3 store enforces immutability ({} checks passed: {})",
                    report.checks.len(),
                    report.checks.join("; ")
                );
            }
            Ok(Arc::new(b))
        }
        _ => backend(g),
    }
}

/// Read a secret from a file: the first line, without its line ending.
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path)
        .with_context(|| format!("cannot read password file {}", path.display()))?;
    let line = raw.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        bail!("password file {} is empty", path.display());
    }
    Ok(line.to_vec())
}

pub fn password(g: &Global, prompt: &str) -> Result<Vec<u8>> {
    if let Some(p) = &g.password_file {
        return read_secret_file(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: set KURA_PASSWORD_FILE or pass --password-file (passwords are never taken as arguments)");
    }
    let pw = rpassword::prompt_password(prompt).context("reading the password")?;
    Ok(pw.into_bytes())
}

/// A new password: from `file` if given, else typed twice on a terminal. `hint` names the option a
/// script should use instead.
pub fn new_password(file: Option<&Path>, hint: &str) -> Result<Vec<u8>> {
    if let Some(f) = file {
        return read_secret_file(f);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: {hint} (passwords are never taken as arguments)");
    }
    let a = rpassword::prompt_password("new password: ")?;
    let b = rpassword::prompt_password("repeat the new password: ")?;
    if a != b {
        bail!("the two passwords differ");
    }
    if a.chars().count() < 8 {
        bail!("the password is too short: use at least 8 characters (13 or more is better)");
    }
    Ok(a.into_bytes())
}

pub fn open(g: &Global) -> Result<Repository> {
    open_on(g, backend(g)?)
}

/// Open the repository on a backend chosen by the caller (see [`backend_for_lock`]).
pub fn open_on(g: &Global, backend: Arc<dyn Backend>) -> Result<Repository> {
    let pw = password(g, &format!("password for {}: ", backend.location()))?;
    let repo = Repository::open(backend, &pw)?;
    Ok(repo)
}

pub fn open_with_index(g: &Global) -> Result<Repository> {
    load_index(g, open(g)?)
}

/// Load the index of an opened repository, warning about damaged index files.
pub fn load_index(g: &Global, repo: Repository) -> Result<Repository> {
    let problems = repo.load_index()?;
    if !problems.is_empty() && !g.quiet {
        for (name, e) in &problems {
            eprintln!("warning: index {name} skipped: {e}");
        }
        eprintln!(
            "warning: some index files are damaged: run `kura check`, then `kura repair index`"
        );
    }
    Ok(repo)
}

pub fn no_repo_error(e: &anyhow::Error) -> Option<i32> {
    match e.downcast_ref::<kura_repo::RepoError>() {
        Some(kura_repo::RepoError::NotARepository { .. }) => Some(crate::exit::NO_REPOSITORY),
        Some(kura_repo::RepoError::WrongPassword) => Some(crate::exit::WRONG_PASSWORD),
        _ => None,
    }
}
