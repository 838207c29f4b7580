//! [`AuthStore`]: all accounts and tokens in one JSON file, plus in-memory sessions and
//! per-address throttling.
//!
//! Every administrative change is made on a copy of the state, written crash-safely, and only
//! then swapped in, so memory never holds a change the disk does not. Login bookkeeping
//! (failure counters, last login) is the exception: it is applied in memory first and then saved
//! best-effort, because a full disk must not switch off lockout; a save error is reported in the
//! audit record.
//!
//! The store is not internally locked: the server keeps it behind one `Mutex` and makes only
//! one process open a data directory.
//!
//! # File format (`<data dir>/auth.json`, version 1)
//!
//! ```text
//! { "format": "kura-auth", "version": 1,
//!   "accounts": { "<name>": Account, ... },   // key == account.name
//!   "tokens":   { "<id>": TokenRecord, ... } } // key == token.id, hashes unique
//! ```
//!
//! `Account.password_hash` and `password_history` are Argon2id PHC strings (`$argon2id$v=19$
//! m=..,t=..,p=..$salt$hash`); `totp.secret` is base32; `totp.recovery_hashes` and
//! `TokenRecord.hash` are hex BLAKE3 `derive_key("kura-auth 2025 <domain>")` hashes with domains
//! `recovery` and `api-token`. Unknown fields at the top level are refused; a loader that finds
//! a version it does not know must refuse the file rather than guess.

mod admin;
mod login;
#[cfg(test)]
mod testutil;
mod tokens;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use admin::TotpEnrolment;
pub use login::{LoginRequest, LoginSuccess};
pub use tokens::{NewToken, TokenSecret};

use crate::account::{Account, TokenRecord};
use crate::error::{AuthError, StoreError};
use crate::lockout::{LockoutPolicy, SourceThrottle};
use crate::names::validate_account;
use crate::password::{parse_stored, KdfParams, PasswordHasher};
use crate::role::{Permission, Principal, PrincipalKind};
use crate::session::{SessionPolicy, SessionTable};

/// File name inside the data directory.
pub const STORE_FILE: &str = "auth.json";
/// Format marker in the file.
const FORMAT: &str = "kura-auth";
/// Current file version.
const VERSION: u32 = 1;
/// Largest store file accepted (about 20 000 accounts); bounds memory on a crafted file.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Settings for the store; defaults follow the MHLW guideline and NIST SP 800-63B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Argon2id parameters for new hashes.
    pub kdf: KdfParams,
    /// Lockout settings.
    pub lockout: LockoutPolicy,
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// Accounts unused this many days are disabled at their next login attempt.
    pub inactivity_days: i64,
    /// Issuer shown in authenticator apps.
    pub totp_issuer: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            kdf: KdfParams::default(),
            lockout: LockoutPolicy::default(),
            sessions: SessionPolicy::default(),
            inactivity_days: 90,
            totp_issuer: "Kura".to_owned(),
        }
    }
}

impl AuthConfig {
    /// Refuses settings that weaken the rules.
    pub fn validate(&self) -> Result<(), AuthError> {
        self.lockout.validate()?;
        self.sessions.validate()?;
        if self.inactivity_days <= 0 || self.inactivity_days > 3650 {
            return Err(AuthError::Config(
                "inactivity_days must be between 1 and 3650".to_owned(),
            ));
        }
        if !self.kdf.within_cap() {
            return Err(AuthError::Config(
                "Argon2 parameters exceed the cap (m <= 256 MiB, t <= 10, p <= 8)".to_owned(),
            ));
        }
        if !self.kdf.meets_floor() && !cfg!(any(test, feature = "insecure-fast-kdf")) {
            return Err(AuthError::Config(
                "Argon2 parameters are below the OWASP minimum (m >= 19 MiB, t >= 2, p >= 1)"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

/// The JSON file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    format: String,
    version: u32,
    accounts: BTreeMap<String, Account>,
    tokens: BTreeMap<String, TokenRecord>,
}

impl StoreFile {
    fn empty() -> Self {
        StoreFile {
            format: FORMAT.to_owned(),
            version: VERSION,
            accounts: BTreeMap::new(),
            tokens: BTreeMap::new(),
        }
    }

    /// Checks invariants that serde cannot: keys match names, hashes are sane, ids unique.
    fn validate(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "format marker is '{}', expected '{FORMAT}'",
                self.format
            ));
        }
        if self.version != VERSION {
            return Err(format!(
                "file version {} is not supported by this build (supports {VERSION}); \
                 use a newer Kura",
                self.version
            ));
        }
        for (key, account) in &self.accounts {
            validate_account_record(key, account)?;
        }
        let mut hashes = BTreeSet::new();
        for (key, token) in &self.tokens {
            if key != &token.id {
                return Err(format!("token stored under '{key}' has id '{}'", token.id));
            }
            if token.hash.len() != 64 || !hashes.insert(token.hash.as_str()) {
                return Err(format!("token '{key}' has a malformed or duplicate hash"));
            }
        }
        Ok(())
    }
}

fn validate_account_record(key: &str, account: &Account) -> Result<(), String> {
    if key != account.name {
        return Err(format!(
            "account stored under '{key}' is named '{}'",
            account.name
        ));
    }
    validate_account(key).map_err(|e| e.to_string())?;
    let hashes = std::iter::once(&account.password_hash).chain(&account.password_history);
    for hash in hashes {
        if parse_stored(hash).is_none() {
            return Err(format!(
                "account '{key}' has a password hash that is not Argon2id within the parameter cap"
            ));
        }
    }
    Ok(())
}

/// Accounts, tokens, sessions and lockout state for one vault server.
#[derive(Debug)]
pub struct AuthStore {
    path: PathBuf,
    config: AuthConfig,
    hasher: PasswordHasher,
    state: StoreFile,
    sessions: SessionTable,
    sources: SourceThrottle,
}

impl AuthStore {
    /// Opens (or prepares to create) the store in `data_dir`. A missing file means no accounts
    /// yet: the next step is [`AuthStore::create_first_admin`]. A corrupt file is an error, never
    /// silently replaced.
    pub fn open(data_dir: &Path, config: AuthConfig) -> Result<Self, AuthError> {
        config.validate()?;
        let path = data_dir.join(STORE_FILE);
        let state = match crate::persist::read_optional(&path, MAX_FILE_BYTES)? {
            None => StoreFile::empty(),
            Some(bytes) => {
                let corrupt = |reason: String| StoreError::Corrupt {
                    path: path.clone(),
                    reason,
                };
                let state: StoreFile = serde_json::from_slice(&bytes)
                    .map_err(|e| corrupt(format!("not valid store JSON: {e}")))?;
                state.validate().map_err(corrupt)?;
                state
            }
        };
        Ok(AuthStore {
            hasher: PasswordHasher::new(config.kdf)?,
            sessions: SessionTable::new(config.sessions),
            sources: SourceThrottle::default(),
            path,
            config,
            state,
        })
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    fn encode(state: &StoreFile) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec_pretty(state).map_err(|e| StoreError::Encode(e.to_string()))
    }

    /// Applies `change` to a copy of the state, saves it, then swaps it in.
    fn mutate<T>(
        &mut self,
        change: impl FnOnce(&mut StoreFile) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let mut next = self.state.clone();
        let value = change(&mut next)?;
        next.validate()
            .map_err(|reason| AuthError::Config(format!("internal invariant broken: {reason}")))?;
        crate::persist::write_atomic(&self.path, &Self::encode(&next)?)?;
        self.state = next;
        Ok(value)
    }

    /// Saves the in-memory state; returns the error text instead of failing (login path).
    fn save_best_effort(&self) -> Option<String> {
        let result = Self::encode(&self.state)
            .and_then(|bytes| crate::persist::write_atomic(&self.path, &bytes));
        result.err().map(|e| e.to_string())
    }

    /// Builds the principal for an account from its current grants.
    fn account_principal(account: &Account, mfa: bool) -> Principal {
        Principal {
            kind: PrincipalKind::Account {
                name: account.name.clone(),
            },
            grants: account.grants.clone(),
            mfa,
            must_change_password: account.must_change_password,
        }
    }

    /// Whether any enabled account other than `except` holds a global admin grant.
    fn other_enabled_admin(state: &StoreFile, except: &str) -> bool {
        state
            .accounts
            .values()
            .any(|a| a.name != except && a.disabled.is_none() && a.is_admin())
    }

    /// Requires `permission` globally, or that `actor` is the account `name` itself.
    fn require_self_or(
        actor: &Principal,
        name: &str,
        permission: Permission,
    ) -> Result<(), AuthError> {
        if actor.account_name() == Some(name) {
            return Ok(());
        }
        actor.require(permission, "*", None)
    }

    fn normalise_name(name: &str) -> String {
        name.trim().to_lowercase()
    }

    /// Looks up an account by name in `state`.
    fn account_mut<'a>(state: &'a mut StoreFile, name: &str) -> Result<&'a mut Account, AuthError> {
        state
            .accounts
            .get_mut(name)
            .ok_or_else(|| AuthError::NoSuchAccount(crate::event::sanitise(name)))
    }

    /// Whether the account's inactivity period has run out at `now`.
    fn inactive(&self, account: &Account, now: DateTime<Utc>) -> bool {
        now - account.last_activity() > chrono::Duration::days(self.config.inactivity_days)
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let admin = mfa_admin(&mut store);
        store
            .create_account(&admin, "nurse1", STRONG_PW, t0())
            .unwrap();
        let before = store.state.clone();
        drop(store);
        let reopened = open(dir.path());
        assert_eq!(reopened.state, before);
        assert_eq!(reopened.state.accounts.len(), 2);
    }

    #[test]
    fn missing_file_means_empty_store_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert!(store.state.accounts.is_empty());
        assert!(!store.path().exists());
    }

    #[test]
    fn stray_temp_file_from_a_crash_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let admin = bootstrap(&mut store);
        let good = store.state.clone();
        // A crash between writing the temp file and the rename leaves garbage behind.
        std::fs::write(crate::persist::temp_path(store.path()), b"{ half writ").unwrap();
        drop(store);
        let mut reopened = open(dir.path());
        assert_eq!(reopened.state, good);
        // ...and the next save goes through.
        enrol(&mut reopened, &admin, t0());
        assert!(open(dir.path()).state.accounts["root-admin"].totp.is_some());
    }

    #[test]
    fn failed_save_leaves_disk_and_memory_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let admin = bootstrap(&mut store);
        let admin = login_mfa(&mut store, &admin);
        let on_disk = std::fs::read(store.path()).unwrap();
        std::fs::create_dir(crate::persist::temp_path(store.path())).unwrap();
        let err = store
            .create_account(&admin, "clerk", STRONG_PW, t0())
            .unwrap_err();
        assert!(matches!(err, AuthError::Store(_)), "{err}");
        assert!(!store.state.accounts.contains_key("clerk"));
        assert_eq!(std::fs::read(store.path()).unwrap(), on_disk);
    }

    #[test]
    fn corrupt_or_tampered_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        bootstrap(&mut store);
        let path = store.path().to_path_buf();
        let text = std::fs::read_to_string(&path).unwrap();
        let cases = [
            text.replace("\"version\": 1", "\"version\": 9"),
            text.replace("$argon2id$", "$argon2i$"),
            text.replace("m=64,", "m=4194304,"),
            text.replace("\"name\": \"root-admin\"", "\"name\": \"other\""),
            text[..text.len() / 2].to_owned(),
        ];
        for (i, bad) in cases.iter().enumerate() {
            assert_ne!(bad, &text, "case {i} did not change the file");
            std::fs::write(&path, bad).unwrap();
            let err = AuthStore::open(dir.path(), config()).unwrap_err();
            assert!(err.to_string().contains("is corrupt"), "case {i}: {err}");
        }
    }

    #[test]
    fn config_validation() {
        assert!(AuthConfig::default().validate().is_ok());
        let c = AuthConfig {
            inactivity_days: 0,
            ..AuthConfig::default()
        };
        assert!(c.validate().is_err());
        let mut c = AuthConfig::default();
        c.kdf.m_kib = 1 << 30;
        assert!(c.validate().is_err());
    }
}
