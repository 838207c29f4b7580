//! `kura key add|list|remove`

use anyhow::Result;

use crate::args::{Global, KeyCommand};
use crate::open;

pub fn run(g: &Global, c: &KeyCommand) -> Result<i32> {
    let repo = open::open(g)?;
    match c {
        KeyCommand::Add {
            new_password_file,
            label,
        } => {
            let pw = open::new_password(
                new_password_file.as_deref(),
                "pass --new-password-file FILE",
            )?;
            let id = repo.add_key(&pw, label)?;
            if g.json {
                println!("{}", serde_json::json!({ "id": id.to_hex() }));
            } else {
                println!("added key {}", id.short());
            }
        }
        KeyCommand::List => {
            let keys = repo.list_keys()?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<2} {:<10} {:<9} {:<20} {:<16} created",
                    "", "id", "kind", "label", "host"
                );
                for k in keys {
                    let mark = if k.current { "*" } else { "" };
                    println!(
                        "{:<2} {:<10} {:<9} {:<20} {:<16} {}",
                        mark,
                        &k.id[..8],
                        k.kind,
                        k.label,
                        k.host,
                        k.created.format("%Y-%m-%d %H:%M")
                    );
                }
            }
        }
        KeyCommand::Remove { id } => {
            let removed = repo.remove_key(id)?;
            if g.json {
                println!("{}", serde_json::json!({ "removed": removed }));
            } else {
                println!("removed key {}", &removed[..8]);
            }
        }
    }
    Ok(crate::exit::SUCCESS)
}
