//! `kura admin plan ...`: four-eyes deletion plans on the vault host.
//!
//! Proposing and approving act as a *named account*, never as the host console: the command logs
//! in with that account's password and TOTP code exactly as the web login does (lockout, single
//! use codes, audit), so two different people are needed for a deletion even on the vault host.
//! Listing needs no login (the host console may read plans).

use std::io::IsTerminal;

use anyhow::{bail, Context, Result};
use kura_server::plans::{Plan, PlanAction, PlanStatus};
use kura_server::{Caller, Vault, VaultConfig};

use crate::args::Global;
use crate::args_vault::PlanCommand;

pub fn run(g: &Global, c: &PlanCommand) -> Result<i32> {
    match c {
        PlanCommand::Propose {
            c,
            repo,
            user,
            forget,
            prune,
            grace,
            reason,
        } => {
            let v = Vault::open(VaultConfig::load(&c.config)?)?;
            let action = if *prune {
                let grace = kura_policy::parse_duration(grace).context("--grace")?;
                PlanAction::Prune {
                    grace_secs: grace.num_seconds(),
                    repack_unused_percent: 25.0,
                }
            } else {
                PlanAction::Forget {
                    snapshots: forget.clone(),
                }
            };
            let plan = as_user(&v, user, |caller| {
                Ok(v.propose_plan(caller, repo, action, reason)?)
            })?;
            show(g, &plan)?;
        }
        PlanCommand::List { c, repo } => {
            let v = Vault::open(VaultConfig::load(&c.config)?)?;
            let console = Caller {
                principal: kura_server::vault::host_console(),
                remote: "local".into(),
            };
            let names = match repo {
                Some(r) => vec![r.clone()],
                None => v.repo_names(),
            };
            let mut all = Vec::new();
            for name in names {
                all.extend(v.list_plans(&console, &name)?);
            }
            all.sort_by_key(|p| p.status != PlanStatus::Pending);
            if g.json {
                println!("{}", serde_json::to_string(&all)?);
            } else {
                all.iter().for_each(print_plan);
            }
        }
        PlanCommand::Approve { id, c, repo, user } => {
            let v = Vault::open(VaultConfig::load(&c.config)?)?;
            let plan = as_user(&v, user, |caller| Ok(v.approve_plan(caller, repo, id)?))?;
            show(g, &plan)?;
            if plan.status == PlanStatus::Failed {
                return Ok(crate::exit::FAILURE);
            }
        }
    }
    Ok(crate::exit::SUCCESS)
}

fn show(g: &Global, plan: &Plan) -> Result<()> {
    if g.json {
        println!("{}", serde_json::to_string(plan)?);
    } else {
        print_plan(plan);
    }
    Ok(())
}

fn print_plan(p: &Plan) {
    let status = format!("{:?}", p.status).to_lowercase();
    println!(
        "{}\t{}\t{}\tproposed by {} at {}\tapproved by {}\t{}",
        p.id,
        p.repo,
        status,
        p.proposed_by,
        p.proposed_at.to_rfc3339(),
        p.approved_by.as_deref().unwrap_or("-"),
        p.action.describe()
    );
    if let Some(r) = &p.result {
        println!("  result: {r}");
    }
}

/// Log in as `user` (password + TOTP), run `f` with that session, and log out again.
fn as_user<T>(v: &Vault, user: &str, f: impl FnOnce(&Caller) -> Result<T>) -> Result<T> {
    let password = match std::env::var_os("KURA_USER_PASSWORD_FILE") {
        Some(p) => crate::open::read_secret_file(std::path::Path::new(&p))?,
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("password of {user}: "))?.into_bytes()
        }
        None => bail!("no password for {user}: set KURA_USER_PASSWORD_FILE"),
    };
    let password = String::from_utf8(password).context("the password is not valid UTF-8")?;
    let code = match std::env::var("KURA_TOTP") {
        Ok(c) => c,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("TOTP code of {user}: "))?
        }
        Err(_) => bail!("no TOTP code for {user}: set KURA_TOTP or run on a terminal"),
    };
    let login = v.login(user, &password, Some(code.trim()), "host-console")?;
    let caller = v.authenticate(&login.session, "host-console")?;
    let result = f(&caller);
    v.logout(&login.session)?;
    result
}
