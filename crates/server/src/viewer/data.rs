//! Where the viewer's data comes from: repository handles with a current index, the clinical
//! views of kura-engine, and the break-glass reason of each session.
//!
//! **Repository handles.** The viewer opens each repository with the vault's key (not the
//! handle the API uses for commits) and loads its blob index; before each use it lists the index
//! files and reloads when backups added some, so a generation committed a minute ago is
//! viewable without a restart. Decoded clinical indexes are cached by
//! [`ClinicalCache::shared`], so a second lookup costs no decryption.
//!
//! **Break-glass reasons** live in memory beside the sessions they belong to (keyed by a hash of
//! the session id, never the id itself) and end with the process, as sessions do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use kura_auth::Permission;
use kura_engine::clinical_store::ClinicalStoreError;
use kura_repo::Repository;
use kura_store::FileKind;

use crate::error::{Result, ServerError};
use crate::perm::{self, Need};
use crate::vault::{Caller, Vault};

/// A repository handle and the index files it has loaded.
struct Handle {
    repo: Arc<Repository>,
    indexes: Vec<String>,
}

fn handles() -> &'static Mutex<HashMap<(std::path::PathBuf, String), Handle>> {
    static H: OnceLock<Mutex<HashMap<(std::path::PathBuf, String), Handle>>> = OnceLock::new();
    H.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `name` opened with the vault's key, its blob index current.
pub fn repo(v: &Vault, name: &str) -> Result<Arc<Repository>> {
    let key = (v.config.data_dir.clone(), name.to_string());
    let mut map = handles().lock().unwrap_or_else(|p| p.into_inner());
    if !map.contains_key(&key) {
        let repo = v.fresh_repo(name)?;
        map.insert(
            key.clone(),
            Handle {
                repo,
                indexes: Vec::new(),
            },
        );
    }
    let h = map
        .get_mut(&key)
        .ok_or_else(|| ServerError::NoSuchRepo(name.into()))?;
    let mut names: Vec<String> = h
        .repo
        .backend()
        .list(FileKind::Index)?
        .into_iter()
        .map(|f| f.name)
        .collect();
    names.sort();
    if names != h.indexes {
        h.repo.load_index()?;
        h.indexes = names;
    }
    Ok(h.repo.clone())
}

/// The repositories whose clinical data `c` may view.
pub fn viewable(v: &Vault, c: &Caller) -> Vec<String> {
    v.repo_names()
        .into_iter()
        .filter(|r| perm::check(&c.principal, Need::One(Permission::ClinicalView), r, None).is_ok())
        .collect()
}

/// A clinical-store error as the vault reports it. "Nothing indexed" and "not found" are
/// answers, not failures: the pages show them as text; this is for the rest.
pub fn store_error(e: ClinicalStoreError) -> ServerError {
    match e {
        ClinicalStoreError::Repo(r) => ServerError::Repo(r),
        other => ServerError::BadRequest(other.to_string()),
    }
}

/// Why a clinician opened patient data (break-glass).
#[derive(Clone, Debug)]
pub struct Reason {
    /// One of [`super::REASONS`]' keys.
    pub choice: &'static str,
    pub text: String,
    pub at: DateTime<Utc>,
}

impl Reason {
    /// `choice: text`, as written to the audit log.
    pub fn audit_text(&self) -> String {
        format!("{}: {}", self.choice, self.text)
    }
}

fn reasons() -> &'static Mutex<HashMap<String, Reason>> {
    static R: OnceLock<Mutex<HashMap<String, Reason>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

fn session_key(session: &str) -> String {
    blake3::hash(format!("kura viewer reason\0{session}").as_bytes())
        .to_hex()
        .to_string()
}

/// Most reasons kept; beyond this the oldest half is dropped (their sessions have long expired
/// unless thousands of clinicians are logged in at once, and then they are simply asked again).
const MAX_REASONS: usize = 10_000;

pub fn set_reason(session: &str, reason: Reason) {
    let mut map = reasons().lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= MAX_REASONS {
        let mut times: Vec<DateTime<Utc>> = map.values().map(|r| r.at).collect();
        times.sort();
        let cut = times[times.len() / 2];
        map.retain(|_, r| r.at > cut);
    }
    map.insert(session_key(session), reason);
}

pub fn reason(session: &str) -> Option<Reason> {
    let map = reasons().lock().unwrap_or_else(|p| p.into_inner());
    map.get(&session_key(session)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_belong_to_their_session() {
        let r = Reason {
            choice: "outage",
            text: "停電".into(),
            at: Utc::now(),
        };
        set_reason("kura_ses_one", r);
        assert_eq!(reason("kura_ses_one").unwrap().audit_text(), "outage: 停電");
        assert!(reason("kura_ses_two").is_none());
    }
}
