//! Account administration: first administrator, accounts, passwords, TOTP enrolment, grants,
//! disable/enable/unlock/delete and the access-review listing.
//!
//! Every operation takes the acting [`Principal`] and checks its permission itself, so a route
//! that forgets a check cannot hand out rights. Self-service (own password, own TOTP) needs no
//! permission. Operations that could leave the system without an enabled administrator are
//! refused with [`AuthError::LastAdmin`].

use chrono::{DateTime, Utc};
use std::fmt;

use super::{AuthStore, StoreFile};
use crate::account::{Account, AccountSummary, DisableReason, Disabled, TotpRecord};
use crate::error::AuthError;
use crate::lockout::AccountLock;
use crate::names::validate_account;
use crate::password::{check_policy, PasswordError, HISTORY_LEN};
use crate::role::{Grant, Permission, Principal, Role};
use crate::totp::{self, TotpSecret};

/// Creator recorded for the first administrator.
const BOOTSTRAP: &str = "bootstrap";

/// A started TOTP enrolment: show the URI as a QR code (or the secret for manual entry), then
/// confirm with a code from the app.
#[derive(Clone)]
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret_base32: String,
    /// `otpauth://` URI for a QR code.
    pub otpauth_uri: String,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrolment(<redacted>)")
    }
}

impl AuthStore {
    /// Creates the first administrator. Refused once any account holds an admin grant: there is
    /// no default account and no default password, and this cannot be used to add a second one.
    pub fn create_first_admin(
        &mut self,
        name: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        if self.state.accounts.values().any(Account::is_admin) {
            return Err(AuthError::AdminExists);
        }
        let mut account = self.new_account(name, password, BOOTSTRAP, now)?;
        account.must_change_password = false;
        account.grants.push(Grant::new(Role::Admin, "*", None)?);
        let principal = Self::account_principal(&account, false);
        self.mutate(|s| insert_new(s, account))?;
        Ok(principal)
    }

    /// Creates an account with no rights and an administrator-chosen password that the user
    /// should change at first login. Needs `manage-accounts`.
    pub fn create_account(
        &mut self,
        actor: &Principal,
        name: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        let account = self.new_account(name, password, &actor.label(), now)?;
        self.mutate(|s| insert_new(s, account))
    }

    fn new_account(
        &self,
        name: &str,
        password: &str,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Account, AuthError> {
        let name = Self::normalise_name(name);
        validate_account(&name)?;
        if self.state.accounts.contains_key(&name) {
            return Err(AuthError::AccountExists(name));
        }
        check_policy(&name, password, false)?;
        Ok(Account {
            password_hash: self.hasher.hash(password)?,
            name,
            created_at: now,
            created_by: created_by.to_owned(),
            password_history: Vec::new(),
            password_changed_at: now,
            must_change_password: true,
            totp: None,
            pending_totp: None,
            grants: Vec::new(),
            disabled: None,
            last_login: None,
            enabled_at: None,
            lock: AccountLock::default(),
        })
    }

    /// Sets a password: the account itself (the server must have re-checked the old password)
    /// or a holder of `manage-accounts` (reset; the user must change it). Refuses the last
    /// [`HISTORY_LEN`] passwords. Ends the account's sessions.
    pub fn set_password(
        &mut self,
        actor: &Principal,
        name: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let name = Self::normalise_name(name);
        Self::require_self_or(actor, &name, Permission::ManageAccounts)?;
        let account = self
            .state
            .accounts
            .get(&name)
            .ok_or_else(|| AuthError::NoSuchAccount(name.clone()))?;
        check_policy(&name, password, account.totp.is_some())?;
        let recent = std::iter::once(&account.password_hash).chain(&account.password_history);
        for old in recent.take(HISTORY_LEN) {
            if self.hasher.verify(password, old) {
                return Err(PasswordError::Reused.into());
            }
        }
        let hash = self.hasher.hash(password)?;
        let by_self = actor.account_name() == Some(name.as_str());
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            let old = std::mem::replace(&mut account.password_hash, hash);
            account.password_history.insert(0, old);
            account.password_history.truncate(HISTORY_LEN - 1);
            account.password_changed_at = now;
            account.must_change_password = !by_self;
            Ok(())
        })?;
        self.sessions.remove_account(&name);
        Ok(())
    }

    /// Starts TOTP enrolment for the actor's own account (nobody else may learn the secret).
    pub fn begin_totp_enrolment(
        &mut self,
        actor: &Principal,
        name: &str,
    ) -> Result<TotpEnrolment, AuthError> {
        let name = Self::normalise_name(name);
        if actor.account_name() != Some(name.as_str()) {
            return Err(AuthError::Totp(
                "only the account holder can enrol their own authenticator",
            ));
        }
        let secret = TotpSecret::generate();
        let enrolment = TotpEnrolment {
            secret_base32: secret.to_base32(),
            otpauth_uri: secret.otpauth_uri(&self.config.totp_issuer, &name),
        };
        self.mutate(|s| {
            Self::account_mut(s, &name)?.pending_totp = Some(secret);
            Ok(())
        })?;
        Ok(enrolment)
    }

    /// Confirms enrolment with a code from the app; returns the recovery codes, shown once.
    /// Replaces any earlier TOTP and recovery codes.
    pub fn confirm_totp_enrolment(
        &mut self,
        actor: &Principal,
        name: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, AuthError> {
        let name = Self::normalise_name(name);
        if actor.account_name() != Some(name.as_str()) {
            return Err(AuthError::Totp(
                "only the account holder can enrol their own authenticator",
            ));
        }
        let (shown, stored) = totp::new_recovery_codes();
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            let secret = account.pending_totp.take().ok_or(AuthError::Totp(
                "no enrolment is in progress; start the enrolment again",
            ))?;
            let step = totp::verify(&secret, code, now, None).ok_or(AuthError::Totp(
                "the code does not match; check the phone's clock and enter the current code",
            ))?;
            account.totp = Some(TotpRecord {
                secret,
                last_step: Some(step),
                recovery_hashes: stored,
                enrolled_at: now,
            });
            Ok(())
        })?;
        Ok(shown)
    }

    /// Removes an account's TOTP (lost phone); the user must enrol again. `manage-accounts`.
    pub fn reset_totp(&mut self, actor: &Principal, name: &str) -> Result<(), AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        let name = Self::normalise_name(name);
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            account.totp = None;
            account.pending_totp = None;
            Ok(())
        })?;
        self.sessions.remove_account(&name);
        Ok(())
    }

    /// Adds a grant (idempotent). Needs `manage-roles`.
    pub fn grant(&mut self, actor: &Principal, name: &str, grant: Grant) -> Result<(), AuthError> {
        actor.require(Permission::ManageRoles, "*", None)?;
        let name = Self::normalise_name(name);
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            if !account.grants.contains(&grant) {
                account.grants.push(grant);
            }
            Ok(())
        })
    }

    /// Removes a grant. Needs `manage-roles`; refused if it removes the last administrator.
    pub fn revoke(
        &mut self,
        actor: &Principal,
        name: &str,
        grant: &Grant,
    ) -> Result<(), AuthError> {
        actor.require(Permission::ManageRoles, "*", None)?;
        let name = Self::normalise_name(name);
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            account.grants.retain(|g| g != grant);
            guard_last_admin(s)
        })
    }

    /// Disables an account (leaver, suspicion) and ends its sessions. `manage-accounts`.
    pub fn disable(
        &mut self,
        actor: &Principal,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        let name = Self::normalise_name(name);
        let by = actor.label();
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            if account.disabled.is_none() {
                account.disabled = Some(Disabled {
                    at: now,
                    reason: DisableReason::ByAdmin { by },
                });
            }
            guard_last_admin(s)
        })?;
        self.sessions.remove_account(&name);
        Ok(())
    }

    /// Re-enables an account, clears its lock and restarts its inactivity clock.
    pub fn enable(
        &mut self,
        actor: &Principal,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        let name = Self::normalise_name(name);
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            account.disabled = None;
            account.enabled_at = Some(now);
            account.lock.record_success();
            Ok(())
        })
    }

    /// Clears a lockout before it expires. `manage-accounts`.
    pub fn unlock(&mut self, actor: &Principal, name: &str) -> Result<(), AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        let name = Self::normalise_name(name);
        self.mutate(|s| {
            Self::account_mut(s, &name)?.lock.record_success();
            Ok(())
        })
    }

    /// Deletes an account. `manage-accounts`; refused for the last administrator. Tokens it
    /// created stay (they belong to hosts, and their records name the creator for the audit).
    pub fn delete_account(&mut self, actor: &Principal, name: &str) -> Result<(), AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        let name = Self::normalise_name(name);
        self.mutate(|s| {
            s.accounts
                .remove(&name)
                .ok_or_else(|| AuthError::NoSuchAccount(name.clone()))?;
            guard_last_admin(s)
        })?;
        self.sessions.remove_account(&name);
        Ok(())
    }

    /// Break-glass recovery for the offline `kura` CLI only (server stopped, operator with root
    /// on the vault host): re-enables and unlocks an account that holds a global admin grant,
    /// e.g. when the only administrator was disabled for inactivity. Not for HTTP routes.
    pub fn break_glass_enable_admin(
        &mut self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let name = Self::normalise_name(name);
        self.mutate(|s| {
            let account = Self::account_mut(s, &name)?;
            if !account.is_admin() {
                return Err(AuthError::Config(format!(
                    "break-glass recovery only applies to administrators; '{name}' is not one"
                )));
            }
            account.disabled = None;
            account.enabled_at = Some(now);
            account.lock.record_success();
            Ok(())
        })
    }

    /// All accounts without secrets, for administration and the access review.
    /// Needs `manage-accounts` or `read-audit`.
    pub fn list_accounts(
        &self,
        actor: &Principal,
        now: DateTime<Utc>,
    ) -> Result<Vec<AccountSummary>, AuthError> {
        if !actor.has(Permission::ReadAudit, "*", None) {
            actor.require(Permission::ManageAccounts, "*", None)?;
        }
        Ok(self
            .state
            .accounts
            .values()
            .map(|a| a.summary(now))
            .collect())
    }

    /// Disables every enabled account unused for the configured period; returns their names.
    /// For a daily job, so inactive accounts are closed even if nobody tries them.
    pub fn disable_inactive(&mut self, now: DateTime<Utc>) -> Result<Vec<String>, AuthError> {
        let stale: Vec<String> = self
            .state
            .accounts
            .values()
            .filter(|a| a.disabled.is_none() && self.inactive(a, now))
            .map(|a| a.name.clone())
            .collect();
        if stale.is_empty() {
            return Ok(stale);
        }
        self.mutate(|s| {
            for name in &stale {
                let account = Self::account_mut(s, name)?;
                let last_used = account.last_activity();
                account.disabled = Some(Disabled {
                    at: now,
                    reason: DisableReason::Inactive { last_used },
                });
            }
            Ok(())
        })?;
        for name in &stale {
            self.sessions.remove_account(name);
        }
        Ok(stale)
    }
}

fn insert_new(state: &mut StoreFile, account: Account) -> Result<(), AuthError> {
    if state.accounts.contains_key(&account.name) {
        return Err(AuthError::AccountExists(account.name));
    }
    state.accounts.insert(account.name.clone(), account);
    Ok(())
}

/// Refuses a change that left no enabled account with a global admin grant. Called on the
/// changed copy of the state, so a refusal changes nothing.
fn guard_last_admin(state: &StoreFile) -> Result<(), AuthError> {
    if AuthStore::other_enabled_admin(state, "") {
        Ok(())
    } else {
        Err(AuthError::LastAdmin)
    }
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
