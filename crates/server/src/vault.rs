//! The vault's state: accounts (kura-auth), the audit log (kura-audit) and the repositories it
//! serves, each opened with a vault-held key.
//!
//! Everything here is synchronous; the HTTP layer runs it on blocking threads. The account store
//! is shared with `kura admin` commands run on the same host while the server is up: both take
//! an exclusive lock on `data_dir/auth.lock` around every use, and the server reloads
//! `auth.json` when another process replaced it (new tokens and grants take effect at once; web
//! sessions and per-address throttling, which live in memory, restart when that happens).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use kura_audit::{AuditEvent, AuditLog, Outcome as AuditOutcome, StoredEntry};
use kura_auth::{AuthStore, Principal, PrincipalKind};
use kura_repo::Repository;
use kura_store::LocalBackend;

use crate::config::VaultConfig;
use crate::error::{Result, ServerError};
use crate::fsutil::private_dir;

/// API tokens start with this (kura-auth's token format); anything else is a web session id.
const TOKEN_PREFIX: &str = "kura_tok";

/// Who asked, from where: what every audit entry of a request carries.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub remote: String,
}

impl Caller {
    /// The roles of the caller's grants, for the audit log's `role` column.
    pub fn roles(&self) -> String {
        let mut roles: Vec<&str> = self
            .principal
            .grants
            .iter()
            .map(|g| g.role.name())
            .collect();
        roles.sort_unstable();
        roles.dedup();
        roles.join(",")
    }

    pub fn audit(&self, action: &str, target: &str, result: AuditOutcome) -> AuditEvent {
        AuditEvent::now(self.principal.label(), action, target, result)
            .with_role(self.roles())
            .with_source(self.remote.clone())
    }
}

/// The identity of the file `auth.json` as last seen, to notice another process replacing it.
type Stamp = Option<(u64, u64, i64, i64)>;

struct AuthCell {
    store: AuthStore,
    stamp: Stamp,
}

pub struct Vault {
    pub config: VaultConfig,
    auth: Mutex<AuthCell>,
    audit: AuditLog,
    repos: Mutex<HashMap<String, Arc<Repository>>>,
    /// When each (caller, repository) read was last audited.
    pub(crate) seen: Mutex<HashMap<(String, String), std::time::Instant>>,
}

impl Vault {
    /// Open (creating the data directory, certificate and empty stores on first use).
    pub fn open(config: VaultConfig) -> Result<Vault> {
        private_dir(&config.data_dir)?;
        crate::tls::ensure_certificate(&config)?;
        let audit = AuditLog::open(config.audit_path())?;
        let store = AuthStore::open(&config.data_dir, config.auth_config())?;
        let stamp = stamp(&store.path().to_path_buf());
        Ok(Vault {
            config,
            auth: Mutex::new(AuthCell { store, stamp }),
            audit,
            repos: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
        })
    }

    fn lock_file(&self) -> Result<File> {
        let path = self.config.data_dir.join("auth.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ServerError::io("open", &path, e))?;
        f.lock().map_err(|e| ServerError::io("lock", &path, e))?;
        Ok(f)
    }

    /// Run `f` on the account store, reloading it first if another process changed it.
    pub fn with_auth<T>(&self, f: impl FnOnce(&mut AuthStore) -> T) -> Result<T> {
        let _lock = self.lock_file()?;
        let mut cell = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        let path = cell.store.path().to_path_buf();
        if stamp(&path) != cell.stamp {
            cell.store = AuthStore::open(&self.config.data_dir, self.config.auth_config())?;
        }
        let value = f(&mut cell.store);
        cell.stamp = stamp(&path);
        Ok(value)
    }

    /// Append to the audit log. An entry that cannot be written fails the request: an action
    /// the log cannot record is not done.
    pub fn audit(&self, event: AuditEvent) -> Result<StoredEntry> {
        Ok(self.audit.append(event)?)
    }

    pub fn audit_path(&self) -> PathBuf {
        self.config.audit_path()
    }

    /// Record what kura-auth decided about a login or token check.
    pub fn audit_auth(&self, record: &kura_auth::AuditRecord, ok: bool) -> Result<()> {
        let action = if ok { "auth.ok" } else { "auth.failed" };
        let result = if ok {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure
        };
        let event = AuditEvent::now(record.claimed.clone(), action, "vault", result)
            .with_source(record.remote.clone())
            .with_details(serde_json::json!({
                "event": format!("{:?}", record.event),
                "remote_blocked_until": record.remote_blocked_until.map(|t| t.to_rfc3339()),
                "store_error": record.store_error,
            }));
        self.audit(event).map(|_| ())
    }

    /// Resolve a bearer credential: an API token (`kura_tok...`) or a web session id. Every failure
    /// is audited and answered with the same message.
    pub fn authenticate(&self, bearer: &str, remote: &str) -> Result<Caller> {
        let now = Utc::now();
        if bearer.starts_with(TOKEN_PREFIX) {
            let outcome = self.with_auth(|s| s.authenticate_token(bearer, remote, now))?;
            if outcome.result.is_err() {
                self.audit_auth(&outcome.audit, false)?;
            }
            let principal = outcome.result?;
            return Ok(Caller {
                principal,
                remote: remote.to_string(),
            });
        }
        match self.with_auth(|s| s.session(bearer, now))? {
            Ok(principal) => Ok(Caller {
                principal,
                remote: remote.to_string(),
            }),
            Err(e) => {
                let event =
                    AuditEvent::now("session", "auth.failed", "vault", AuditOutcome::Failure)
                        .with_source(remote.to_string())
                        .with_reason("unknown or expired session");
                self.audit(event)?;
                Err(e.into())
            }
        }
    }

    /// The repository `name`, opened once with the vault's key file and then kept open.
    pub fn repo(&self, name: &str) -> Result<Arc<Repository>> {
        kura_store::validate_name(name).map_err(|_| ServerError::NoSuchRepo(name.into()))?;
        let mut repos = self.repos.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = repos.get(name) {
            return Ok(r.clone());
        }
        let repo = self.fresh_repo(name)?;
        repos.insert(name.to_string(), repo.clone());
        Ok(repo)
    }

    /// The repository `name` opened anew with the vault's key (not the cached handle): for work
    /// that loads the index or changes packs, such as executing an approved prune.
    pub fn fresh_repo(&self, name: &str) -> Result<Arc<Repository>> {
        kura_store::validate_name(name).map_err(|_| ServerError::NoSuchRepo(name.into()))?;
        let key_path = self.config.keys_dir().join(format!("{name}.key"));
        let dir = self.config.repos_dir().join(name);
        if !dir.join("config").exists() || !key_path.exists() {
            return Err(ServerError::NoSuchRepo(name.into()));
        }
        let secret = std::fs::read(&key_path).map_err(|e| ServerError::io("read", &key_path, e))?;
        let repo = Repository::open(Arc::new(LocalBackend::new(&dir)), secret.trim_ascii())?;
        Ok(Arc::new(repo))
    }

    /// Drop the cached handle of `name`, so the next request opens the repository again.
    pub fn forget_cached_repo(&self, name: &str) {
        let mut repos = self.repos.lock().unwrap_or_else(|p| p.into_inner());
        repos.remove(name);
    }

    /// End a web session (no error if it already ended).
    /// The caller changes their own password. The current password and second factor are checked
    /// again through [`Vault::login`] (a stolen session cookie alone cannot change a password;
    /// lockout and throttling count these attempts too), then the new password is set under the
    /// password rules (length, not the name, not one of the last ones). Every session of the
    /// account ends, the caller's included: the next step is a login with the new password.
    pub fn change_own_password(
        &self,
        caller: &Caller,
        current: &str,
        code: Option<&str>,
        new: &str,
    ) -> Result<()> {
        let name = caller
            .principal
            .account_name()
            .ok_or_else(|| ServerError::Forbidden("only a named account has a password".into()))?
            .to_string();
        let r: Result<()> = (|| {
            // A wrong current password is a refused form, not a lost session (401 would send
            // the user to the login page).
            let check = self
                .login(&name, current, code, &caller.remote)
                .map_err(|e| match e.status() {
                    401 => ServerError::Forbidden(e.to_string()),
                    _ => e,
                })?;
            self.logout(&check.session)?;
            let now = Utc::now();
            let me = caller.principal.clone();
            Ok(self.with_auth(|s| s.set_password(&me, &name, new, now))??)
        })();
        let event = match &r {
            Ok(()) => caller.audit(
                kura_audit::actions::PASSWORD_CHANGE,
                &name,
                AuditOutcome::Success,
            ),
            Err(e) => caller
                .audit(
                    kura_audit::actions::PASSWORD_CHANGE,
                    &name,
                    AuditOutcome::Failure,
                )
                .with_reason(e.to_string()),
        };
        self.audit(event)?;
        r
    }

    pub fn logout(&self, session: &str) -> Result<()> {
        self.with_auth(|s| s.logout(session))?;
        Ok(())
    }

    /// Names of the repositories this vault serves.
    pub fn repo_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.config.repos_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| self.config.keys_dir().join(format!("{n}.key")).exists())
            .collect();
        names.sort();
        names
    }
}

/// The principal used by `kura admin` on the vault host. Whoever can run commands with write
/// access to `data_dir` already controls the vault (the files are there), so the host console
/// acts as a global administrator; its actions are audited with the operating-system user.
pub fn host_console() -> Principal {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    Principal {
        kind: PrincipalKind::Account {
            name: format!("host-console:{}", sanitize_user(&user)),
        },
        grants: vec![kura_auth::Grant {
            role: kura_auth::Role::Admin,
            repo: kura_auth::RepoScope::All,
            source: None,
        }],
        mfa: true,
        must_change_password: false,
    }
}

fn sanitize_user(u: &str) -> String {
    u.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(32)
        .collect()
}

fn stamp(path: &PathBuf) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// What `/login` answers.
#[derive(Debug, serde::Serialize)]
pub struct LoginAnswer {
    pub session: String,
    pub must_change_password: bool,
}

impl Vault {
    /// Log in with password and TOTP. Every failure gives kura-auth's one message; the audit
    /// entry says what really happened. Human accounts without a second factor are refused,
    /// except clinicians when the configuration exempts them.
    pub fn login(
        &self,
        user: &str,
        password: &str,
        totp: Option<&str>,
        remote: &str,
    ) -> Result<LoginAnswer> {
        let now = Utc::now();
        let req = kura_auth::LoginRequest {
            user,
            password,
            second_factor: totp,
            remote,
        };
        let outcome = self.with_auth(|s| s.login(&req, now))?;
        self.audit_auth(&outcome.audit, outcome.result.is_ok())?;
        let ok = outcome.result?;
        let only_clinician = !ok.principal.grants.is_empty()
            && ok
                .principal
                .grants
                .iter()
                .all(|g| g.role == kura_auth::Role::Clinician);
        let exempt = self.config.clinician_mfa_exempt && only_clinician;
        if !(ok.principal.mfa || exempt) {
            let secret = ok.session.expose().to_string();
            self.with_auth(|s| s.logout(&secret))?;
            let why = format!(
                "account '{user}' has no second factor: every account except exempted clinicians \
                 must enrol TOTP (ask an administrator to run `kura admin user add` again)"
            );
            let event = AuditEvent::now(user, "login", "vault", AuditOutcome::Denied)
                .with_source(remote.to_string())
                .with_reason(&why);
            self.audit(event)?;
            return Err(ServerError::Forbidden(why));
        }
        Ok(LoginAnswer {
            session: ok.session.expose().to_string(),
            must_change_password: ok.must_change_password,
        })
    }
}
