//! What each request needs: the permission table of the repository API.
//!
//! Every route of `api.rs` names its [`Need`] beside its handler by calling one of the functions
//! here, so the whole policy can be read (and is tested) in one place. The rules that matter most
//! against a stolen backup token:
//! - writing config or key files needs `manage-keys`, which no token can hold;
//! - removing anything needs `prune` (or `manage-keys` for a key file), which no token can hold, and
//!   with `require_approval` no direct removal is accepted at all;
//! - metadata records (locks, holds, policy, garbage collection) are authorised by the record type
//!   found *inside* the sealed record, not by its name, so a backup token cannot slip in a hold or a
//!   garbage-collection mark disguised as something else.

use kura_auth::{Permission, Principal, PrincipalKind};
use kura_store::FileKind;

/// Permissions any one of which lets a principal read encrypted repository files. Reading is
/// harmless without the repository password (client-side encryption) but still needs a grant on
/// the repository.
pub const READ_ANY: &[Permission] = &[
    Permission::ReadObjects,
    Permission::ListSnapshots,
    Permission::Restore,
    Permission::Check,
    Permission::Drill,
    Permission::Forget,
    Permission::Prune,
];

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// This permission.
    One(Permission),
    /// Any of these permissions.
    Any(&'static [Permission]),
    /// Nobody may do this over the API; the text says why.
    Never(&'static str),
}

/// Creating a file of `kind` (metadata records are decided by [`need_for_meta`]).
pub fn need_for_create(kind: FileKind) -> Need {
    match kind {
        FileKind::Pack | FileKind::Index => Need::One(Permission::AddObjects),
        FileKind::Snapshot => Need::One(Permission::CommitSnapshot),
        FileKind::Config | FileKind::Key => Need::One(Permission::ManageKeys),
        // Checked again with the record type once the record is opened.
        FileKind::Meta => Need::Any(&[
            Permission::CommitSnapshot,
            Permission::Drill,
            Permission::LockExtend,
            Permission::HoldChange,
            Permission::Forget,
            Permission::Prune,
        ]),
    }
}

/// Creating a metadata record whose sealed JSON says `"type": record_type`.
pub fn need_for_meta(record_type: &str) -> Need {
    match record_type {
        "lock" => Need::One(Permission::LockExtend),
        "hold" => Need::One(Permission::HoldChange),
        "policy" => Need::One(Permission::Forget),
        "gc" | "prune-lock" => Need::One(Permission::Prune),
        // Checked further (source scope, no replacement) by `Vault::guard_clinical_record`.
        "clinical-index" => Need::One(Permission::CommitSnapshot),
        "drill" => Need::One(Permission::Drill),
        _ => Need::One(Permission::ManageRepos),
    }
}

/// Removing a file of `kind`.
pub fn need_for_remove(kind: FileKind, require_approval: bool) -> Need {
    match kind {
        FileKind::Config => Need::Never("the repository config is never removed"),
        FileKind::Key => Need::One(Permission::ManageKeys),
        _ if require_approval => Need::Never(
            "this vault requires a deletion plan approved by a second administrator (four-eyes); direct removal is refused",
        ),
        _ => Need::One(Permission::Prune),
    }
}

/// Reading, listing or sizing files of `kind`.
pub fn need_for_read(_kind: FileKind) -> Need {
    Need::Any(READ_ANY)
}

/// Check `need` for `principal` on `repo`. `source` is the backup source the request is about
/// (a snapshot's source); `None` means "objects shared by all sources", which any of the
/// principal's source scopes covers. Returns the refusal text naming the missing permission.
pub fn check(p: &Principal, need: Need, repo: &str, source: Option<&str>) -> Result<(), String> {
    let perms: &[Permission] = match &need {
        Need::One(perm) => std::slice::from_ref(perm),
        Need::Any(list) => list,
        Need::Never(why) => return Err(format!("{}: {why}", p.label())),
    };
    let allowed = |perm: Permission| {
        p.grants.iter().any(|g| match source {
            Some(s) => g.allows(perm, repo, Some(s)),
            None => g.allows(perm, repo, g.source.as_deref()),
        })
    };
    let Some(found) = perms.iter().copied().find(|perm| allowed(*perm)) else {
        let names: Vec<&str> = perms.iter().map(|p| p.name()).collect();
        let what = if names.len() == 1 {
            perms[0].describe(repo, source)
        } else {
            format!(
                "missing permission (one of '{}') on repository '{repo}'",
                names.join("', '")
            )
        };
        return Err(format!("{} is not allowed: {what}", p.label()));
    };
    let is_account = matches!(p.kind, PrincipalKind::Account { .. });
    if is_account && found.requires_mfa() && !p.mfa {
        return Err(format!(
            "{}: permission '{}' needs a login with a second factor",
            p.label(),
            found.name()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_auth::{Grant, Role};

    fn principal(role: Role, source: Option<&str>) -> Principal {
        Principal {
            kind: PrincipalKind::Token {
                id: "t".into(),
                name: "host".into(),
            },
            grants: vec![Grant::new(role, "ehr", source).unwrap()],
            mfa: false,
            must_change_password: false,
        }
    }

    #[test]
    fn backup_token_can_only_add_and_read() {
        let p = principal(Role::Backup, Some("db01"));
        for kind in [FileKind::Pack, FileKind::Index] {
            assert!(check(&p, need_for_create(kind), "ehr", None).is_ok());
        }
        assert!(check(&p, need_for_create(FileKind::Snapshot), "ehr", Some("db01")).is_ok());
        let other = check(&p, need_for_create(FileKind::Snapshot), "ehr", Some("pacs"));
        assert!(other.unwrap_err().contains("for source 'pacs'"));
        for kind in [FileKind::Config, FileKind::Key] {
            let e = check(&p, need_for_create(kind), "ehr", None).unwrap_err();
            assert!(e.contains("missing permission"), "{e}");
        }
        // A metadata record is judged by its type once opened: only its own clinical index.
        assert!(check(&p, need_for_create(FileKind::Meta), "ehr", None).is_ok());
        for t in [
            "lock",
            "hold",
            "policy",
            "gc",
            "prune-lock",
            "drill",
            "other",
        ] {
            assert!(check(&p, need_for_meta(t), "ehr", None).is_err(), "{t}");
        }
        let index = need_for_meta("clinical-index");
        assert!(check(&p, index, "ehr", Some("db01")).is_ok());
        assert!(check(&p, index, "ehr", Some("pacs")).is_err());
        for kind in FileKind::ALL {
            for approval in [true, false] {
                assert!(check(&p, need_for_remove(kind, approval), "ehr", None).is_err());
            }
            assert!(check(&p, need_for_read(kind), "ehr", None).is_ok());
            assert!(check(&p, need_for_read(kind), "pacs", None).is_err());
        }
        let e = check(&p, need_for_remove(FileKind::Pack, false), "ehr", None).unwrap_err();
        assert!(e.contains("'prune'"), "names the missing permission: {e}");
    }

    #[test]
    fn operator_reads_and_extends_locks_but_never_removes() {
        let p = principal(Role::Operator, None);
        assert!(check(&p, need_for_read(FileKind::Pack), "ehr", None).is_ok());
        assert!(check(&p, need_for_meta("lock"), "ehr", None).is_ok());
        assert!(check(&p, need_for_meta("hold"), "ehr", None).is_err());
        assert!(check(&p, need_for_create(FileKind::Pack), "ehr", None).is_err());
        assert!(check(&p, need_for_remove(FileKind::Snapshot, false), "ehr", None).is_err());
    }

    #[test]
    fn accounts_need_a_second_factor_for_destructive_permissions() {
        let mut p = principal(Role::RetentionAdmin, None);
        p.kind = PrincipalKind::Account {
            name: "sato".into(),
        };
        let e = check(&p, need_for_remove(FileKind::Pack, false), "ehr", None).unwrap_err();
        assert!(e.contains("second factor"), "{e}");
        p.mfa = true;
        assert!(check(&p, need_for_remove(FileKind::Pack, false), "ehr", None).is_ok());
        assert!(check(&p, need_for_remove(FileKind::Pack, true), "ehr", None).is_err());
        assert!(check(&p, need_for_remove(FileKind::Config, false), "ehr", None).is_err());
    }
}
