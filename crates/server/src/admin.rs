//! Administration on the vault host (`kura admin ...`): the first administrator, repositories,
//! tokens and accounts. Every action is audited with the host console as actor.
//!
//! **Repository keys.** `repo create` initialises the repository with the password the hospital
//! chose (KURA_PASSWORD_FILE, used by clients to encrypt) and then adds a second key file wrapped
//! with 256 random bits that only the vault knows, stored in `data_dir/keys/NAME.key` (mode 0600).
//! The vault opens the repository with that key to set commit times (and later to prune and check
//! on the server side); the hospital's password is never stored on the vault, and the vault's key
//! can be revoked with `kura key remove` like any other.

use chrono::Utc;
use kura_audit::Outcome as AuditOutcome;
use kura_auth::{AccountSummary, Grant, Principal, PrincipalKind, Role, TotpSecret};
use kura_repo::{InitOptions, Repository};
use kura_store::LocalBackend;
use rand::RngCore;
use std::sync::Arc;

use crate::error::{Result, ServerError};
use crate::fsutil::{create_private_new, private_dir};
use crate::vault::{host_console, Caller, Vault};

/// What a new account (or the first administrator) must be shown once.
#[derive(Debug)]
pub struct NewAccount {
    /// Base32 TOTP secret for the authenticator app (None when enrolment was skipped).
    pub totp_secret: Option<String>,
    pub otpauth_uri: Option<String>,
    pub recovery_codes: Vec<String>,
}

fn console() -> Caller {
    Caller {
        principal: host_console(),
        remote: "local".into(),
    }
}

impl Vault {
    fn audited<T>(&self, action: &str, target: &str, r: Result<T>) -> Result<T> {
        let c = console();
        let event = match &r {
            Ok(_) => c.audit(action, target, AuditOutcome::Success),
            Err(e) => c
                .audit(action, target, AuditOutcome::Failure)
                .with_reason(e.to_string()),
        };
        self.audit(event)?;
        r
    }

    /// Create the first administrator and enrol TOTP for them at once (the secret is shown once).
    pub fn init_admin(&self, name: &str, password: &str) -> Result<NewAccount> {
        let r = (|| {
            let now = Utc::now();
            let admin = self.with_auth(|s| s.create_first_admin(name, password, now))??;
            self.enrol_totp(&admin, name)
        })();
        self.audited(kura_audit::actions::ACCOUNT_CREATE, name, r)
    }

    /// Enrol TOTP for `name` from the host console: start, then confirm with the current code.
    fn enrol_totp(&self, who: &Principal, name: &str) -> Result<NewAccount> {
        let now = Utc::now();
        let enrolment = self.with_auth(|s| s.begin_totp_enrolment(who, name))??;
        let secret = TotpSecret::from_base32(&enrolment.secret_base32)
            .ok_or_else(|| ServerError::BadRequest("TOTP secret does not decode".into()))?;
        let code = kura_auth::totp::code_at(&secret, now)
            .ok_or_else(|| ServerError::BadRequest("the clock is out of TOTP range".into()))?;
        let codes = self.with_auth(|s| s.confirm_totp_enrolment(who, name, &code, now))??;
        Ok(NewAccount {
            totp_secret: Some(enrolment.secret_base32),
            otpauth_uri: Some(enrolment.otpauth_uri),
            recovery_codes: codes,
        })
    }

    /// Create a repository in `data_dir/repos/NAME` and the vault's key for it. Returns the
    /// repository's recovery key, to be shown once.
    pub fn create_repo(&self, name: &str, password: &[u8]) -> Result<String> {
        let r = self.create_repo_inner(name, password);
        self.audited("repo.create", name, r)
    }

    fn create_repo_inner(&self, name: &str, password: &[u8]) -> Result<String> {
        kura_auth::Grant::new(Role::Backup, name, None)?; // same name rules as grants
        let dir = self.config.repos_dir().join(name);
        let key_path = self.config.keys_dir().join(format!("{name}.key"));
        if dir.join("config").exists() || key_path.exists() {
            return Err(ServerError::RepoExists(name.into()));
        }
        private_dir(&self.config.repos_dir())?;
        private_dir(&self.config.keys_dir())?;
        let backend = Arc::new(LocalBackend::new(&dir));
        let (repo, recovery) = Repository::init(backend, password, &InitOptions::default())?;
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let secret = hex::encode(raw);
        repo.add_key(secret.as_bytes(), "vault")?;
        create_private_new(&key_path, secret.as_bytes())?;
        Ok(recovery)
    }

    /// Create an API token with one grant; returns the secret (shown once).
    pub fn create_token(&self, repo: &str, role: Role, source: Option<&str>) -> Result<String> {
        let target = format!("{repo}:{role}:{}", source.unwrap_or("*"));
        let r = (|| {
            if !self.config.repos_dir().join(repo).join("config").exists() {
                return Err(ServerError::NoSuchRepo(repo.into()));
            }
            let grant = Grant::new(role, repo, source)?;
            let label = format!("{role} {repo} {}", source.unwrap_or("all-sources"));
            let admin = host_console();
            let now = Utc::now();
            let t = self.with_auth(|s| s.create_token(&admin, &label, grant, None, now))??;
            Ok(t.secret.expose().to_string())
        })();
        self.audited("token.create", &target, r)
    }

    /// Create an account with no rights; enrol TOTP unless `totp` is false.
    pub fn add_user(&self, name: &str, password: &str, totp: bool) -> Result<NewAccount> {
        let r = (|| {
            let now = Utc::now();
            let admin = host_console();
            self.with_auth(|s| s.create_account(&admin, name, password, now))??;
            if !totp {
                return Ok(NewAccount {
                    totp_secret: None,
                    otpauth_uri: None,
                    recovery_codes: Vec::new(),
                });
            }
            // The host console enrols on the user's behalf and hands the secret over once.
            let user = Principal {
                kind: PrincipalKind::Account { name: name.into() },
                grants: Vec::new(),
                mfa: false,
                must_change_password: false,
            };
            self.enrol_totp(&user, name)
        })();
        self.audited(kura_audit::actions::ACCOUNT_CREATE, name, r)
    }

    pub fn grant(&self, name: &str, role: Role, repo: &str, source: Option<&str>) -> Result<()> {
        let target = format!("{name}:{role}:{repo}:{}", source.unwrap_or("*"));
        let r = (|| {
            let grant = Grant::new(role, repo, source)?;
            let admin = host_console();
            Ok(self.with_auth(|s| s.grant(&admin, name, grant))??)
        })();
        self.audited(kura_audit::actions::ROLE_GRANT, &target, r)
    }

    pub fn disable_user(&self, name: &str) -> Result<()> {
        let r = (|| {
            let admin = host_console();
            let now = Utc::now();
            Ok(self.with_auth(|s| s.disable(&admin, name, now))??)
        })();
        self.audited("account.disable", name, r)
    }

    /// `kura admin user password NAME`: an administrator on the vault host sets a new password
    /// for a forgotten one. The user must change it at the next login and every session of the
    /// account ends. A locked-out account stays locked until its lockout expires: a reset is not
    /// a way around the lockout.
    pub fn reset_password(&self, name: &str, password: &str) -> Result<()> {
        let r = (|| {
            let admin = host_console();
            let now = Utc::now();
            Ok(self.with_auth(|s| s.set_password(&admin, name, password, now))??)
        })();
        self.audited(kura_audit::actions::PASSWORD_RESET, name, r)
    }

    pub fn list_users(&self) -> Result<Vec<AccountSummary>> {
        let admin = host_console();
        let now = Utc::now();
        Ok(self.with_auth(|s| s.list_accounts(&admin, now))??)
    }
}
