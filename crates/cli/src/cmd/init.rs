//! `kura init`

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result};
use kura_repo::{InitOptions, Repository};

use crate::args::{Global, InitArgs};
use crate::open;

pub fn run(g: &Global, a: &InitArgs) -> Result<i32> {
    let backend = open::backend(g)?;
    let pw = open::new_password(
        g.password_file.as_deref(),
        "set KURA_PASSWORD_FILE or pass --password-file",
    )?;
    if let Some(repo) = g.repo.as_ref().filter(|r| !r.contains("://")) {
        std::fs::create_dir_all(repo).with_context(|| format!("cannot create {repo}"))?;
        let _ = kura_store::local::make_private(std::path::Path::new(repo));
    }
    let opts = InitOptions {
        key_label: a.key_label.clone(),
        ..InitOptions::default()
    };
    let (repo, recovery) = Repository::init(backend, &pw, &opts)?;
    if let Some(path) = &a.recovery_key_file {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create recovery key file {}", path.display()))?;
        writeln!(f, "{recovery}")?;
    }
    if g.json {
        let v = serde_json::json!({
            "message_type": "initialized", "repository": repo.backend().location(),
            "id": repo.config().id, "recovery_key": recovery,
        });
        println!("{v}");
    } else {
        println!(
            "created Kura repository {} at {}",
            &repo.config().id[..10],
            repo.backend().location()
        );
        println!();
        println!("RECOVERY KEY (shown once; it opens the repository if every password is lost):");
        println!();
        println!("    {recovery}");
        println!();
        println!(
            "Print it or write it down and keep it offline, away from the hospital network (金庫)."
        );
    }
    Ok(crate::exit::SUCCESS)
}
