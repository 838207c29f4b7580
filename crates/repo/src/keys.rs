//! Key files: add, list, remove, and unlock the master key with a password or the recovery key.

use chrono::{DateTime, Utc};
use kura_format::crypto::MasterKey;
use kura_format::keyfile::{normalize_recovery_key, KeyFile, KeyKind};
use kura_format::FileId;
use kura_store::{Backend, FileKind};

use crate::error::{RepoError, Result};
use crate::{host_and_user, verify_file_id, Repository};

pub(crate) fn save_key_file(backend: &dyn Backend, kf: &KeyFile) -> Result<FileId> {
    let bytes = kf.to_bytes();
    let id = FileId::of(&bytes);
    backend.create(FileKind::Key, &id.to_hex(), &bytes)?;
    Ok(id)
}

/// Readable key files with their ids, and the names of damaged ones.
type KeyFiles = (Vec<(FileId, KeyFile)>, Vec<String>);

fn load_key_files_checked(backend: &dyn Backend) -> Result<KeyFiles> {
    let mut out = Vec::new();
    let mut damaged = Vec::new();
    for f in backend.list(FileKind::Key)? {
        if f.size as usize > kura_format::keyfile::MAX_KEYFILE_LEN {
            damaged.push(f.name);
            continue;
        }
        let bytes = backend.read(FileKind::Key, &f.name)?;
        // A key file that is damaged or altered is skipped: another key may still open the repository.
        match (verify_file_id(&f.name, &bytes), KeyFile::from_bytes(&bytes)) {
            (Ok(id), Ok(kf)) => out.push((id, kf)),
            _ => damaged.push(f.name),
        }
    }
    Ok((out, damaged))
}

fn load_key_files(backend: &dyn Backend) -> Result<Vec<(FileId, KeyFile)>> {
    Ok(load_key_files_checked(backend)?.0)
}

/// Names of key files that cannot be read (for `check`).
pub fn damaged_key_files(backend: &dyn Backend) -> Result<Vec<String>> {
    Ok(load_key_files_checked(backend)?.1)
}

/// Try the secret against every key file (password files as given, recovery files normalized).
pub(crate) fn unlock(backend: &dyn Backend, secret: &[u8]) -> Result<(MasterKey, FileId)> {
    let (files, damaged) = load_key_files_checked(backend)?;
    if files.is_empty() && damaged.is_empty() {
        return Err(RepoError::Refused(format!(
            "the repository at {} has no readable key file: restore the keys/ directory from a copy",
            backend.location()
        )));
    }
    // Password keys first: they are what people type daily.
    let mut ordered: Vec<&(FileId, KeyFile)> = files
        .iter()
        .filter(|(_, k)| k.kind == KeyKind::Password)
        .collect();
    ordered.extend(files.iter().filter(|(_, k)| k.kind == KeyKind::Recovery));
    for (id, kf) in ordered {
        let candidate = match kf.kind {
            KeyKind::Password => secret.to_vec(),
            KeyKind::Recovery => match std::str::from_utf8(secret) {
                Ok(s) => normalize_recovery_key(s).into_bytes(),
                Err(_) => continue,
            },
        };
        match kf.unwrap_key(&candidate) {
            Ok(Some(key)) => return Ok((key, *id)),
            Ok(None) => {}
            Err(_) => {} // capped or malformed parameters: never run them, try the next file
        }
    }
    if !damaged.is_empty() {
        return Err(RepoError::Refused(format!(
            "no readable key file opens with this password, and {} key file(s) are damaged ({}): try the recovery key, or restore keys/ from a copy",
            damaged.len(),
            damaged.iter().map(|d| &d[..8.min(d.len())]).collect::<Vec<_>>().join(", ")
        )));
    }
    Err(RepoError::WrongPassword)
}

/// A key file as listed to people (no secrets).
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyInfo {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub created: DateTime<Utc>,
    pub host: String,
    pub user: String,
    pub current: bool,
}

impl Repository {
    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(load_key_files(self.backend().as_ref())?
            .into_iter()
            .map(|(id, k)| KeyInfo {
                id: id.to_hex(),
                kind: match k.kind {
                    KeyKind::Password => "password".into(),
                    KeyKind::Recovery => "recovery".into(),
                },
                label: k.label,
                created: k.created,
                host: k.host,
                user: k.user,
                current: id == self.key_id(),
            })
            .collect())
    }

    /// Add a password key file; returns its id.
    pub fn add_key(&self, password: &[u8], label: &str) -> Result<FileId> {
        let (host, user) = host_and_user();
        let kf = KeyFile::wrap(self.key(), password, KeyKind::Password, label, &host, &user)
            .map_err(|e| RepoError::damaged("new key file", e))?;
        save_key_file(self.backend().as_ref(), &kf)
    }

    /// Remove a key file by id or unique prefix. Refuses the key in use (so the caller cannot lock
    /// itself out mid-command) and the last password key.
    pub fn remove_key(&self, prefix: &str) -> Result<String> {
        let keys = self.list_keys()?;
        let matches: Vec<&KeyInfo> = keys.iter().filter(|k| k.id.starts_with(prefix)).collect();
        let target = match matches.as_slice() {
            [one] => *one,
            [] => {
                return Err(RepoError::Refused(format!(
                    "no key file matches {prefix:?}: see `kura key list`"
                )))
            }
            _ => {
                return Err(RepoError::Refused(format!(
                    "{prefix:?} matches several key files: give more digits"
                )))
            }
        };
        if target.current {
            return Err(RepoError::Refused(
                "refusing to remove the key you opened the repository with: open it with another key first".into(),
            ));
        }
        let passwords = keys.iter().filter(|k| k.kind == "password").count();
        if target.kind == "password" && passwords <= 1 {
            return Err(RepoError::Refused(
                "refusing to remove the last password key".into(),
            ));
        }
        self.backend().remove(FileKind::Key, &target.id)?;
        Ok(target.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitOptions;
    use std::sync::Arc;

    #[test]
    fn add_list_remove_keys_leaves_others_working() {
        let dir = tempfile::tempdir().unwrap();
        let backend: Arc<dyn Backend> = Arc::new(kura_store::LocalBackend::new(dir.path()));
        let (repo, rk) =
            Repository::init(backend.clone(), b"first", &InitOptions::default()).unwrap();
        let second = repo.add_key(b"second", "vendor").unwrap();
        assert_eq!(repo.list_keys().unwrap().len(), 3);
        assert!(
            repo.remove_key(&repo.key_id().to_hex()[..8]).is_err(),
            "cannot remove own key"
        );
        let repo2 = Repository::open(backend.clone(), b"second").unwrap();
        assert_eq!(repo2.key_id(), second);
        repo2.remove_key(&repo.key_id().to_hex()).unwrap();
        assert!(matches!(
            Repository::open(backend.clone(), b"first"),
            Err(RepoError::WrongPassword)
        ));
        assert!(Repository::open(backend.clone(), b"second").is_ok());
        assert!(Repository::open(backend, rk.as_bytes()).is_ok());
    }
}
