//! Password (+ second factor) login, sessions and logout.
//!
//! Every failed login returns the same [`AuthError::InvalidCredentials`] and runs one Argon2
//! verification (against a dummy hash when the real one must not be consulted), so neither the
//! answer nor its timing tells an attacker whether an account exists, is locked or disabled.
//! The [`AuditRecord`] returned alongside says what really happened.

use chrono::{DateTime, Utc};
use std::fmt;

use super::AuthStore;
use crate::account::{DisableReason, Disabled};
use crate::error::AuthError;
use crate::event::{sanitise, AuditRecord, AuthEvent, Outcome};
use crate::role::Principal;
use crate::session::SessionSecret;
use crate::totp;

/// One login attempt as received by the server.
#[derive(Clone, Copy)]
pub struct LoginRequest<'a> {
    /// Account name as typed.
    pub user: &'a str,
    /// Password as typed.
    pub password: &'a str,
    /// TOTP code or recovery code, if given.
    pub second_factor: Option<&'a str>,
    /// Remote address (for per-address throttling and the audit log).
    pub remote: &'a str,
}

impl fmt::Debug for LoginRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("remote", &self.remote)
            .field("password", &"<redacted>")
            .field("second_factor", &self.second_factor.map(|_| "<redacted>"))
            .finish()
    }
}

/// A successful login.
#[derive(Debug)]
pub struct LoginSuccess {
    /// The session id to give the client (shown once; only its hash is kept).
    pub session: SessionSecret,
    /// The account's rights for this session.
    pub principal: Principal,
    /// An administrator set the password; the user should change it now.
    pub must_change_password: bool,
    /// No second factor is enrolled; MFA-requiring permissions are unavailable until it is.
    pub second_factor_missing: bool,
}

/// Which second factor was accepted.
enum SecondFactor {
    None,
    Totp,
    Recovery,
}

impl AuthStore {
    /// Checks a password (and second factor if enrolled) and starts a session.
    pub fn login(&mut self, req: &LoginRequest<'_>, now: DateTime<Utc>) -> Outcome<LoginSuccess> {
        let mut audit = AuditRecord {
            at: now,
            claimed: sanitise(req.user),
            remote: sanitise(req.remote),
            event: AuthEvent::UnknownAccount,
            remote_blocked_until: None,
            store_error: None,
        };
        let result = self.login_steps(req, now, &mut audit);
        if matches!(audit.event, AuthEvent::SourceBlocked { .. }) {
            // Nothing was looked up, so nothing needs saving and timing reveals nothing.
            return Outcome { result, audit };
        }
        // Exactly one save on every other path, including unknown accounts whose state did not
        // change: an fsync only for existing accounts would let timing reveal which exist.
        audit.store_error = self.save_best_effort();
        if !audit.event.is_success() {
            audit.remote_blocked_until =
                self.sources
                    .record_failure(&self.config.lockout, req.remote, now);
        }
        Outcome { result, audit }
    }

    fn login_steps(
        &mut self,
        req: &LoginRequest<'_>,
        now: DateTime<Utc>,
        audit: &mut AuditRecord,
    ) -> Result<LoginSuccess, AuthError> {
        let refuse = |audit: &mut AuditRecord, hasher: &crate::PasswordHasher, event| {
            hasher.verify_dummy(req.password);
            audit.event = event;
            Err(AuthError::InvalidCredentials)
        };
        if let Some(until) = self.sources.blocked(req.remote, now) {
            return refuse(audit, &self.hasher, AuthEvent::SourceBlocked { until });
        }
        let name = Self::normalise_name(req.user);
        let Some(account) = self.state.accounts.get(&name) else {
            return refuse(audit, &self.hasher, AuthEvent::UnknownAccount);
        };
        if account.disabled.is_some() {
            return refuse(audit, &self.hasher, AuthEvent::AccountDisabled);
        }
        if self.inactive(account, now) {
            let last_used = account.last_activity();
            self.disable_for_inactivity(&name, now);
            return refuse(
                audit,
                &self.hasher,
                AuthEvent::DisabledForInactivity { last_used },
            );
        }
        if let Some(until) = account.lock.locked_at(now) {
            return refuse(audit, &self.hasher, AuthEvent::AccountLocked { until });
        }
        if !self.hasher.verify(req.password, &account.password_hash) {
            let (failures, locked_until) = self.record_failure(&name, now);
            audit.event = AuthEvent::WrongPassword {
                failures,
                locked_until,
            };
            return Err(AuthError::InvalidCredentials);
        }
        let factor = match self.check_second_factor(&name, req.second_factor, now) {
            Ok(factor) => factor,
            Err(kind) => {
                let (failures, locked_until) = self.record_failure(&name, now);
                audit.event = kind(failures, locked_until);
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.finish_login(&name, req.password, factor, now, audit)
    }

    fn disable_for_inactivity(&mut self, name: &str, now: DateTime<Utc>) {
        let Some(account) = self.state.accounts.get_mut(name) else {
            return;
        };
        account.disabled = Some(Disabled {
            at: now,
            reason: DisableReason::Inactive {
                last_used: account.last_activity(),
            },
        });
        self.sessions.remove_account(name);
    }

    fn record_failure(&mut self, name: &str, now: DateTime<Utc>) -> (u32, Option<DateTime<Utc>>) {
        let Some(account) = self.state.accounts.get_mut(name) else {
            return (0, None);
        };
        let locked_until = account.lock.record_failure(&self.config.lockout, now);
        (account.lock.failures, locked_until)
    }

    /// Checks the second factor. On failure returns the constructor of the audit event.
    #[allow(clippy::type_complexity)]
    fn check_second_factor(
        &mut self,
        name: &str,
        given: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SecondFactor, fn(u32, Option<DateTime<Utc>>) -> AuthEvent> {
        let Some(record) = self
            .state
            .accounts
            .get_mut(name)
            .and_then(|a| a.totp.as_mut())
        else {
            return Ok(SecondFactor::None);
        };
        let Some(code) = given.filter(|c| !c.trim().is_empty()) else {
            return Err(|failures, locked_until| AuthEvent::SecondFactorMissing {
                failures,
                locked_until,
            });
        };
        if totp::looks_like_totp(code) {
            if let Some(step) = totp::verify(&record.secret, code, now, record.last_step) {
                record.last_step = Some(step);
                return Ok(SecondFactor::Totp);
            }
            if totp::verify(&record.secret, code, now, None).is_some() {
                return Err(|failures, locked_until| AuthEvent::TotpReplayed {
                    failures,
                    locked_until,
                });
            }
        } else if totp::consume_recovery_code(&mut record.recovery_hashes, code) {
            return Ok(SecondFactor::Recovery);
        }
        Err(|failures, locked_until| AuthEvent::WrongSecondFactor {
            failures,
            locked_until,
        })
    }

    fn finish_login(
        &mut self,
        name: &str,
        password: &str,
        factor: SecondFactor,
        now: DateTime<Utc>,
        audit: &mut AuditRecord,
    ) -> Result<LoginSuccess, AuthError> {
        let hasher = &self.hasher;
        let Some(account) = self.state.accounts.get_mut(name) else {
            // Looked up a moment ago under `&mut self`; refuse rather than panic.
            return Err(AuthError::InvalidCredentials);
        };
        // Upgrade the hash to the current Argon2 parameters while we know the password.
        let new_hash = hasher
            .needs_rehash(&account.password_hash)
            .then(|| hasher.hash(password).ok())
            .flatten();
        if let Some(hash) = &new_hash {
            account.password_hash.clone_from(hash);
        }
        let mfa = !matches!(factor, SecondFactor::None);
        account.lock.record_success();
        account.last_login = Some(now);
        let principal = Self::account_principal(account, mfa);
        let must_change_password = account.must_change_password;
        let second_factor_missing = account.totp.is_none();
        let recovery_codes_left = account.totp.as_ref().map_or(0, |t| t.recovery_hashes.len());
        audit.event = AuthEvent::LoginSucceeded {
            mfa,
            recovery_code_used: matches!(factor, SecondFactor::Recovery),
            recovery_codes_left,
            rehashed: new_hash.is_some(),
        };
        Ok(LoginSuccess {
            session: self.sessions.create(name, mfa, now),
            principal,
            must_change_password,
            second_factor_missing,
        })
    }

    /// Resolves a session id to the account's current rights and refreshes its idle timer.
    /// Fails with [`AuthError::SessionExpired`] for unknown, logged-out, expired sessions and
    /// for sessions whose account was disabled or deleted since.
    pub fn session(
        &mut self,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let (name, mfa) = self
            .sessions
            .touch(session_id, now)
            .map_err(|_| AuthError::SessionExpired)?;
        match self.state.accounts.get(&name) {
            Some(account) if account.disabled.is_none() => {
                Ok(Self::account_principal(account, mfa))
            }
            _ => {
                self.sessions.remove_account(&name);
                Err(AuthError::SessionExpired)
            }
        }
    }

    /// Ends a session. Returns whether it existed.
    pub fn logout(&mut self, session_id: &str) -> bool {
        self.sessions.remove(session_id)
    }
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
