//! API tokens for backup clients and automation.
//!
//! A token is 256 random bits shown once as `kura_tok_<base32>`; the store keeps only a
//! domain-separated BLAKE3 hash, looked up directly (a hash of a 256-bit secret leaks nothing,
//! so no slow KDF is needed). Each token carries exactly one grant. Roles whose permissions need
//! a second factor by a person (retention-admin, admin) cannot be put on a token: a stolen host
//! credential must never be able to delete or administer.

use chrono::{DateTime, Utc};
use data_encoding::HEXLOWER;
use std::fmt;

use super::AuthStore;
use crate::account::{TokenRecord, TokenSummary};
use crate::error::AuthError;
use crate::event::{sanitise, AuditRecord, AuthEvent, Outcome};
use crate::names::validate_label;
use crate::random::{random_bytes, secret_hash, token_string};
use crate::role::{Grant, Permission, Principal, PrincipalKind, Role};

/// Prefix of token strings.
pub const TOKEN_PREFIX: &str = "kura_tok";

/// A token string, returned once at creation. Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// The token to hand to the backup client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// A newly created token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Public id, for listing and revocation.
    pub id: String,
    /// The secret, shown once.
    pub secret: TokenSecret,
}

fn token_hash(token: &str) -> String {
    secret_hash("api-token", token.as_bytes())
}

/// Whether a role may be carried by a token.
fn token_role_allowed(role: Role) -> bool {
    !role
        .permissions()
        .iter()
        .any(|p| p.is_destructive_or_admin())
}

impl AuthStore {
    /// Creates a token with one grant. Needs `manage-accounts` (with a second factor).
    pub fn create_token(
        &mut self,
        actor: &Principal,
        name: &str,
        grant: Grant,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<NewToken, AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        validate_label(name)?;
        if !token_role_allowed(grant.role) {
            return Err(AuthError::TokenRoleRefused(grant.role));
        }
        if expires_at.is_some_and(|e| e <= now) {
            return Err(AuthError::Config(
                "the token's expiry is in the past; choose a later time".to_owned(),
            ));
        }
        let secret = token_string(TOKEN_PREFIX, 32);
        let id = HEXLOWER.encode(&random_bytes(8));
        let record = TokenRecord {
            id: id.clone(),
            name: name.to_owned(),
            hash: token_hash(&secret),
            grant,
            created_by: actor.label(),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        self.mutate(|s| {
            if s.tokens.contains_key(&id) {
                // 64 random bits collided; vanishingly unlikely, but never overwrite a record.
                return Err(AuthError::Config(
                    "token id collision; try again".to_owned(),
                ));
            }
            s.tokens.insert(id.clone(), record);
            Ok(())
        })?;
        Ok(NewToken {
            id,
            secret: TokenSecret(secret),
        })
    }

    /// Revokes a token (kept in the file for the audit trail). Needs `manage-accounts`.
    pub fn revoke_token(
        &mut self,
        actor: &Principal,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        actor.require(Permission::ManageAccounts, "*", None)?;
        self.mutate(|s| {
            let token = s
                .tokens
                .get_mut(id)
                .ok_or_else(|| AuthError::NoSuchToken(sanitise(id)))?;
            token.revoked_at.get_or_insert(now);
            Ok(())
        })
    }

    /// All tokens without secrets. Needs `manage-accounts` or `read-audit`.
    pub fn list_tokens(&self, actor: &Principal) -> Result<Vec<TokenSummary>, AuthError> {
        if !actor.has(Permission::ReadAudit, "*", None) {
            actor.require(Permission::ManageAccounts, "*", None)?;
        }
        Ok(self
            .state
            .tokens
            .values()
            .map(TokenRecord::summary)
            .collect())
    }

    /// Checks a token presented by a client from `remote`.
    pub fn authenticate_token(
        &mut self,
        token: &str,
        remote: &str,
        now: DateTime<Utc>,
    ) -> Outcome<Principal> {
        let mut audit = AuditRecord {
            at: now,
            claimed: "token".to_owned(),
            remote: sanitise(remote),
            event: AuthEvent::TokenUnknown,
            remote_blocked_until: None,
            store_error: None,
        };
        let result = self.token_steps(token, remote, now, &mut audit);
        if result.is_err() && !matches!(audit.event, AuthEvent::SourceBlocked { .. }) {
            audit.remote_blocked_until =
                self.sources
                    .record_failure(&self.config.lockout, remote, now);
        }
        Outcome { result, audit }
    }

    fn token_steps(
        &mut self,
        token: &str,
        remote: &str,
        now: DateTime<Utc>,
        audit: &mut AuditRecord,
    ) -> Result<Principal, AuthError> {
        if let Some(until) = self.sources.blocked(remote, now) {
            audit.event = AuthEvent::SourceBlocked { until };
            return Err(AuthError::InvalidCredentials);
        }
        let hash = token_hash(token.trim());
        let Some(record) = self.state.tokens.values().find(|t| t.hash == hash) else {
            return Err(AuthError::InvalidCredentials);
        };
        audit.claimed = format!("token:{}", record.id);
        let token_id = record.id.clone();
        if record.revoked_at.is_some() {
            audit.event = AuthEvent::TokenRevoked { token_id };
            return Err(AuthError::InvalidCredentials);
        }
        if record.expires_at.is_some_and(|e| e <= now) {
            audit.event = AuthEvent::TokenExpired { token_id };
            return Err(AuthError::InvalidCredentials);
        }
        audit.event = AuthEvent::TokenAccepted { token_id };
        Ok(Principal {
            kind: PrincipalKind::Token {
                id: record.id.clone(),
                name: record.name.clone(),
            },
            grants: vec![record.grant.clone()],
            mfa: false,
            must_change_password: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use chrono::Duration;

    fn setup() -> (tempfile::TempDir, AuthStore, Principal) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let admin = mfa_admin(&mut store);
        (dir, store, admin)
    }

    #[test]
    fn backup_token_is_scoped_and_cannot_prune() {
        let (_dir, mut store, admin) = setup();
        let grant = Grant::new(Role::Backup, "ehr", Some("db01")).unwrap();
        let new = store
            .create_token(&admin, "db01 nightly", grant, None, t0())
            .unwrap();
        assert!(new.secret.expose().starts_with("kura_tok_"));
        let out = store.authenticate_token(new.secret.expose(), "10.1.1.1", t0());
        assert_eq!(
            out.audit.event,
            AuthEvent::TokenAccepted {
                token_id: new.id.clone()
            }
        );
        let p = out.result.unwrap();
        assert!(p
            .require(Permission::AddObjects, "ehr", Some("db01"))
            .is_ok());
        assert!(p.require(Permission::Prune, "ehr", Some("db01")).is_err());
        assert!(p.require(Permission::Forget, "ehr", Some("db01")).is_err());
        assert!(p
            .require(Permission::AddObjects, "pacs", Some("db01"))
            .is_err());
        assert!(p
            .require(Permission::AddObjects, "ehr", Some("db02"))
            .is_err());
    }

    #[test]
    fn tokens_cannot_carry_destructive_roles() {
        let (_dir, mut store, admin) = setup();
        for role in [Role::RetentionAdmin, Role::Admin] {
            let grant = Grant::new(role, "*", None).unwrap();
            let err = store
                .create_token(&admin, "x", grant, None, t0())
                .unwrap_err();
            assert!(matches!(err, AuthError::TokenRoleRefused(r) if r == role));
        }
    }

    #[test]
    fn revoked_expired_and_unknown_tokens_fail_the_same_way() {
        let (_dir, mut store, admin) = setup();
        let grant = Grant::new(Role::Backup, "ehr", None).unwrap();
        let a = store
            .create_token(&admin, "a", grant.clone(), None, t0())
            .unwrap();
        let expiry = t0() + Duration::days(1);
        let b = store
            .create_token(&admin, "b", grant, Some(expiry), t0())
            .unwrap();
        store.revoke_token(&admin, &a.id, t0()).unwrap();
        let cases = [
            (
                a.secret.expose().to_owned(),
                t0(),
                AuthEvent::TokenRevoked {
                    token_id: a.id.clone(),
                },
            ),
            (
                b.secret.expose().to_owned(),
                expiry,
                AuthEvent::TokenExpired {
                    token_id: b.id.clone(),
                },
            ),
            ("kura_tok_AAAA".to_owned(), t0(), AuthEvent::TokenUnknown),
            (String::new(), t0(), AuthEvent::TokenUnknown),
        ];
        for (token, now, event) in cases {
            let out = store.authenticate_token(&token, "10.1.1.1", now);
            assert!(matches!(out.result, Err(AuthError::InvalidCredentials)));
            assert_eq!(out.audit.event, event);
        }
        assert!(store
            .authenticate_token(b.secret.expose(), "h", t0())
            .result
            .is_ok());
    }

    #[test]
    fn tokens_survive_reopen_and_are_stored_hashed() {
        let (dir, mut store, admin) = setup();
        let grant = Grant::new(Role::Operator, "ehr", None).unwrap();
        let new = store
            .create_token(&admin, "drill", grant, None, t0())
            .unwrap();
        let file = std::fs::read_to_string(store.path()).unwrap();
        assert!(!file.contains(new.secret.expose()));
        drop(store);
        let mut store = open(dir.path());
        assert!(store
            .authenticate_token(new.secret.expose(), "h", t0())
            .result
            .is_ok());
        let list = store.list_tokens(&admin).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].role, Role::Operator);
        assert!(!format!("{list:?} {new:?}").contains(new.secret.expose()));
    }

    #[test]
    fn only_account_managers_create_tokens() {
        let (_dir, mut store, admin) = setup();
        store.create_account(&admin, "op", STRONG_PW, t0()).unwrap();
        let op = Principal {
            kind: PrincipalKind::Account { name: "op".into() },
            grants: vec![Grant::new(Role::Operator, "*", None).unwrap()],
            mfa: true,
            must_change_password: false,
        };
        let grant = Grant::new(Role::Backup, "ehr", None).unwrap();
        assert!(matches!(
            store.create_token(&op, "x", grant, None, t0()),
            Err(AuthError::Forbidden(_))
        ));
    }
}
