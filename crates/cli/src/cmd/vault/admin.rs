//! `kura admin ...`: run on the vault host with access to its data directory.

use std::io::IsTerminal;

use anyhow::{bail, Context, Result};
use kura_auth::Role;
use kura_server::admin::NewAccount;
use kura_server::{Vault, VaultConfig};

use crate::args::Global;
use crate::args_vault::{AdminCommand, RepoCommand, TokenCommand, UserCommand};

fn vault(config: &std::path::Path) -> Result<Vault> {
    Ok(Vault::open(VaultConfig::load(config)?)?)
}

pub fn run(g: &Global, c: &AdminCommand) -> Result<i32> {
    match c {
        AdminCommand::Init { c, name } => init(&vault(&c.config)?, name.as_deref()),
        AdminCommand::Fingerprint { c } => {
            let config = VaultConfig::load(&c.config)?;
            kura_server::tls::ensure_certificate(&config)?;
            println!("{}", kura_server::tls::fingerprint(&config)?);
            Ok(crate::exit::SUCCESS)
        }
        AdminCommand::Repo { command } => repo(g, command),
        AdminCommand::Token {
            command:
                TokenCommand::Create {
                    c,
                    repo,
                    role,
                    source,
                },
        } => {
            let role = parse_role(role)?;
            if !matches!(role, Role::Backup | Role::Operator) {
                bail!("tokens are for machines: use --role backup or --role operator");
            }
            let v = vault(&c.config)?;
            println!("{}", v.create_token(repo, role, source.as_deref())?);
            Ok(crate::exit::SUCCESS)
        }
        AdminCommand::User { command } => user(g, command),
        AdminCommand::Plan { command } => super::plan::run(g, command),
    }
}

fn parse_role(text: &str) -> Result<Role> {
    Role::ALL
        .into_iter()
        .find(|r| r.name() == text)
        .with_context(|| {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            format!("unknown role {text:?}; use one of {}", names.join(", "))
        })
}

/// A password for a new account: from the file named by `env`, or typed twice on a terminal.
fn account_password(env: &str) -> Result<String> {
    let file = std::env::var_os(env).map(std::path::PathBuf::from);
    let pw = crate::open::new_password(file.as_deref(), &format!("set {env}"))?;
    String::from_utf8(pw).context("the password is not valid UTF-8")
}

fn init(v: &Vault, name: Option<&str>) -> Result<i32> {
    let name = match name {
        Some(n) => n.to_string(),
        None if std::io::stdin().is_terminal() => {
            eprint!("administrator account name: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_string()
        }
        None => "admin".to_string(),
    };
    let password = account_password("KURA_ADMIN_PASSWORD_FILE")?;
    let account = v.init_admin(&name, &password)?;
    println!("administrator: {name}");
    print_account(&account);
    Ok(crate::exit::SUCCESS)
}

fn print_account(a: &NewAccount) {
    if let (Some(secret), Some(uri)) = (&a.totp_secret, &a.otpauth_uri) {
        println!("totp-secret: {secret}");
        println!("totp-uri: {uri}");
        println!("Add the secret to an authenticator app now; it is not shown again.");
    }
    if !a.recovery_codes.is_empty() {
        println!("recovery codes (each works once; keep them offline):");
        for c in &a.recovery_codes {
            println!("  {c}");
        }
    }
}

fn repo(g: &Global, c: &RepoCommand) -> Result<i32> {
    match c {
        RepoCommand::Create { name, c } => {
            let v = vault(&c.config)?;
            let pw =
                crate::open::password(g, &format!("password for the new repository {name}: "))?;
            let recovery = v.create_repo(name, &pw)?;
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"repo": name, "recovery_key": recovery})
                );
            } else {
                println!("created repository {name}");
                println!("RECOVERY KEY (shown once; keep it offline, it opens the repository if every password is lost):");
                println!("    {recovery}");
            }
        }
        RepoCommand::List { c } => {
            for name in vault(&c.config)?.repo_names() {
                println!("{name}");
            }
        }
    }
    Ok(crate::exit::SUCCESS)
}

fn user(g: &Global, c: &UserCommand) -> Result<i32> {
    match c {
        UserCommand::Add { name, c, no_totp } => {
            let v = vault(&c.config)?;
            let password = account_password("KURA_USER_PASSWORD_FILE")?;
            print_account(&v.add_user(name, &password, !no_totp)?);
        }
        UserCommand::Grant {
            name,
            c,
            role,
            repo,
            source,
        } => vault(&c.config)?.grant(name, parse_role(role)?, repo, source.as_deref())?,
        UserCommand::List { c } => list_users(g, &vault(&c.config)?)?,
        UserCommand::Password { name, c } => {
            let v = vault(&c.config)?;
            let password = account_password("KURA_USER_PASSWORD_FILE")?;
            v.reset_password(name, &password)?;
            if !g.quiet {
                println!("password of {name} set; they must choose their own at the next login");
            }
        }
        UserCommand::Disable { name, c } => vault(&c.config)?.disable_user(name)?,
    }
    Ok(crate::exit::SUCCESS)
}

fn list_users(g: &Global, v: &Vault) -> Result<()> {
    let users = v.list_users()?;
    if g.json {
        println!("{}", serde_json::to_string(&users)?);
        return Ok(());
    }
    for u in users {
        let grants: Vec<String> = u
            .grants
            .iter()
            .map(|gr| format!("{}@{}", gr.role, gr.repo))
            .collect();
        println!(
            "{}\tgrants={}\ttotp={}\tdisabled={}\tlast_login={}",
            u.name,
            grants.join(","),
            u.totp_enrolled,
            u.disabled.is_some(),
            u.last_login
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into())
        );
    }
    Ok(())
}
