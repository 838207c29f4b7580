//! Roles, permissions, scoped grants and the [`Principal`] that carries them.
//!
//! Least privilege by default: an account or token starts with no grants and therefore no
//! rights. A grant is `(role, repository or "*", optional source)`; a permission check walks the
//! grants and succeeds only if one grant's role includes the permission *and* its scope covers
//! the repository and source of the request. Management permissions (accounts, roles, repos,
//! keys, audit) are not about one repository, so only a grant on `"*"` carries them.
//!
//! The [`Role::Backup`] role is append-only by construction: it has no permission that deletes,
//! overwrites, shortens a lock or touches configuration or keys, and a test pins that down.
//! There is deliberately no "shorten retention lock" permission at all: compliance-mode locks
//! can only be extended.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{AuthError, Denied};
use crate::names::{validate_repo, validate_source};

/// What a principal may do. Each variant is checked by exactly one kind of server route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Upload new chunks/packs (put-if-absent; never overwrite).
    AddObjects,
    /// Read object existence/index data, needed for deduplication.
    ReadObjects,
    /// Commit a new snapshot (generation).
    CommitSnapshot,
    /// List snapshots and their metadata.
    ListSnapshots,
    /// Restore data out of a repository.
    Restore,
    /// Run structural or data verification.
    Check,
    /// Run a restore drill into a sandbox.
    Drill,
    /// Mark expired generations for removal.
    Forget,
    /// Remove unreferenced data after the grace period.
    Prune,
    /// Extend (never shorten) a retention lock.
    LockExtend,
    /// Place or clear a legal hold.
    HoldChange,
    /// Approve another person's deletion request (four-eyes).
    ApproveDeletion,
    /// Read the audit log.
    ReadAudit,
    /// Read reports (verification results, drills, access reviews).
    ReadReports,
    /// View clinical summaries in the emergency viewer.
    ClinicalView,
    /// Create, disable, enable and delete accounts; reset passwords; manage tokens.
    ManageAccounts,
    /// Grant and revoke roles.
    ManageRoles,
    /// Create repositories and change repository configuration.
    ManageRepos,
    /// Key custody: add or revoke key wraps, recovery shares.
    ManageKeys,
}

impl Permission {
    /// Every permission, for tables and tests.
    pub const ALL: [Permission; 19] = [
        Permission::AddObjects,
        Permission::ReadObjects,
        Permission::CommitSnapshot,
        Permission::ListSnapshots,
        Permission::Restore,
        Permission::Check,
        Permission::Drill,
        Permission::Forget,
        Permission::Prune,
        Permission::LockExtend,
        Permission::HoldChange,
        Permission::ApproveDeletion,
        Permission::ReadAudit,
        Permission::ReadReports,
        Permission::ClinicalView,
        Permission::ManageAccounts,
        Permission::ManageRoles,
        Permission::ManageRepos,
        Permission::ManageKeys,
    ];

    /// The stable short name used in messages, configuration and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Permission::AddObjects => "add-objects",
            Permission::ReadObjects => "read-objects",
            Permission::CommitSnapshot => "commit-snapshot",
            Permission::ListSnapshots => "list-snapshots",
            Permission::Restore => "restore",
            Permission::Check => "check",
            Permission::Drill => "drill",
            Permission::Forget => "forget",
            Permission::Prune => "prune",
            Permission::LockExtend => "lock-extend",
            Permission::HoldChange => "hold-change",
            Permission::ApproveDeletion => "approve-deletion",
            Permission::ReadAudit => "read-audit",
            Permission::ReadReports => "read-reports",
            Permission::ClinicalView => "clinical-view",
            Permission::ManageAccounts => "manage-accounts",
            Permission::ManageRoles => "manage-roles",
            Permission::ManageRepos => "manage-repos",
            Permission::ManageKeys => "manage-keys",
        }
    }

    /// A sentence fragment for error messages, e.g.
    /// `missing permission 'prune' on repository 'ehr'`.
    pub fn describe(self, repo: &str, source: Option<&str>) -> String {
        match (self.is_global(), source) {
            (true, _) => format!("missing permission '{}' (global)", self.name()),
            (false, None) => format!(
                "missing permission '{}' on repository '{}'",
                self.name(),
                repo
            ),
            (false, Some(src)) => format!(
                "missing permission '{}' on repository '{}' for source '{}'",
                self.name(),
                repo,
                src
            ),
        }
    }

    /// Permissions that are not about one repository; only a `"*"` grant carries them.
    pub fn is_global(self) -> bool {
        matches!(
            self,
            Permission::ManageAccounts
                | Permission::ManageRoles
                | Permission::ManageRepos
                | Permission::ManageKeys
                | Permission::ReadAudit
        )
    }

    /// Permissions that destroy data, weaken protection or change who can do what. The backup
    /// role must never hold one of these.
    pub fn is_destructive_or_admin(self) -> bool {
        matches!(
            self,
            Permission::Forget
                | Permission::Prune
                | Permission::HoldChange
                | Permission::ApproveDeletion
                | Permission::ManageAccounts
                | Permission::ManageRoles
                | Permission::ManageRepos
                | Permission::ManageKeys
        )
    }

    /// Whether an interactive account must have passed a second factor to use this permission
    /// (MHLW: MFA for administration, restore, deletion and key operations).
    pub fn requires_mfa(self) -> bool {
        self.is_destructive_or_admin() || self == Permission::Restore
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A job-based role (MHLW: 職種・担当業務別のアクセス権限).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A backup client: append-only.
    Backup,
    /// Restore, verification and drills.
    Operator,
    /// Retention, legal holds, deletion approval.
    RetentionAdmin,
    /// Read-only access to logs and reports.
    Auditor,
    /// Emergency clinical viewer.
    Clinician,
    /// Account, role, repository and key administration.
    Admin,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 6] = [
        Role::Backup,
        Role::Operator,
        Role::RetentionAdmin,
        Role::Auditor,
        Role::Clinician,
        Role::Admin,
    ];

    /// The permissions this role carries. Admin deliberately does not include deletion or
    /// restore: an administrator who needs them grants themselves a role, which is audited.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Backup => &[AddObjects, ReadObjects, CommitSnapshot, ListSnapshots],
            Role::Operator => &[
                ListSnapshots,
                Restore,
                Check,
                Drill,
                LockExtend,
                ReadReports,
            ],
            Role::RetentionAdmin => &[
                ListSnapshots,
                Forget,
                Prune,
                LockExtend,
                HoldChange,
                ApproveDeletion,
                ReadReports,
            ],
            Role::Auditor => &[ReadAudit, ReadReports, ListSnapshots],
            Role::Clinician => &[ClinicalView],
            Role::Admin => &[
                ManageAccounts,
                ManageRoles,
                ManageRepos,
                ManageKeys,
                ReadReports,
            ],
        }
    }

    /// Whether this role carries `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }

    /// The stable short name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Backup => "backup",
            Role::Operator => "operator",
            Role::RetentionAdmin => "retention-admin",
            Role::Auditor => "auditor",
            Role::Clinician => "clinician",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The repository part of a grant's scope. Serialised as the repository name or `"*"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RepoScope {
    /// Every repository, and global permissions.
    All,
    /// One named repository.
    Named(String),
}

impl RepoScope {
    /// Parses `"*"` or a repository name.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        if text == "*" {
            return Ok(RepoScope::All);
        }
        validate_repo(text)?;
        Ok(RepoScope::Named(text.to_owned()))
    }

    fn covers(&self, repo: &str) -> bool {
        match self {
            RepoScope::All => true,
            RepoScope::Named(name) => name == repo,
        }
    }
}

impl TryFrom<String> for RepoScope {
    type Error = AuthError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RepoScope::parse(&value)
    }
}

impl From<RepoScope> for String {
    fn from(value: RepoScope) -> Self {
        match value {
            RepoScope::All => "*".to_owned(),
            RepoScope::Named(name) => name,
        }
    }
}

impl fmt::Display for RepoScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoScope::All => f.write_str("*"),
            RepoScope::Named(name) => f.write_str(name),
        }
    }
}

/// One role granted on a scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    /// The role granted.
    pub role: Role,
    /// The repository (or all) the grant applies to.
    pub repo: RepoScope,
    /// If set, the grant applies only to requests for this backup source (host/dataset).
    pub source: Option<String>,
}

impl Grant {
    /// Builds a validated grant; `repo` is a repository name or `"*"`.
    pub fn new(role: Role, repo: &str, source: Option<&str>) -> Result<Self, AuthError> {
        let repo = RepoScope::parse(repo)?;
        if let Some(src) = source {
            validate_source(src)?;
        }
        Ok(Grant {
            role,
            repo,
            source: source.map(str::to_owned),
        })
    }

    /// Whether this grant allows `permission` on `repo` for `source`.
    pub fn allows(&self, permission: Permission, repo: &str, source: Option<&str>) -> bool {
        if !self.role.allows(permission) {
            return false;
        }
        if permission.is_global() {
            // Global permissions must not leak out of a repository-scoped grant.
            return self.repo == RepoScope::All && self.source.is_none();
        }
        if !self.repo.covers(repo) {
            return false;
        }
        match (&self.source, source) {
            (None, _) => true,
            (Some(mine), Some(asked)) => mine == asked,
            // A source-bound grant does not cover requests that name no source.
            (Some(_), None) => false,
        }
    }
}

/// Who is acting: an interactive account or an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// A person who logged in.
    Account {
        /// Account name.
        name: String,
    },
    /// A non-interactive API token.
    Token {
        /// The token's public id.
        id: String,
        /// The token's descriptive name.
        name: String,
    },
}

/// An authenticated actor and its rights. Built fresh from the store on each request, so a
/// revoked grant takes effect immediately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Account or token identity.
    pub kind: PrincipalKind,
    /// The grants in force.
    pub grants: Vec<Grant>,
    /// Whether this authentication included a second factor (always false for tokens).
    pub mfa: bool,
    /// The account's password was chosen by an administrator and should be changed (always false
    /// for tokens). The web pages show a reminder while it is set.
    pub must_change_password: bool,
}

impl Principal {
    /// The account name or `token:<id>`, for audit records.
    pub fn label(&self) -> String {
        match &self.kind {
            PrincipalKind::Account { name } => name.clone(),
            PrincipalKind::Token { id, .. } => format!("token:{id}"),
        }
    }

    /// The account name if this principal is an account.
    pub fn account_name(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::Account { name } => Some(name),
            PrincipalKind::Token { .. } => None,
        }
    }

    /// Whether any grant allows `permission` on `repo` (use `"*"` for global permissions) for
    /// `source`. Ignores the MFA requirement; see [`Principal::require`].
    pub fn has(&self, permission: Permission, repo: &str, source: Option<&str>) -> bool {
        self.grants
            .iter()
            .any(|g| g.allows(permission, repo, source))
    }

    /// Like [`Principal::has`] but returns an error that says what is missing, and refuses
    /// MFA-requiring permissions to accounts that logged in without a second factor.
    pub fn require(
        &self,
        permission: Permission,
        repo: &str,
        source: Option<&str>,
    ) -> Result<(), AuthError> {
        if !self.has(permission, repo, source) {
            return Err(AuthError::Forbidden(Denied {
                principal: self.label(),
                detail: permission.describe(repo, source),
            }));
        }
        let is_account = matches!(self.kind, PrincipalKind::Account { .. });
        if is_account && permission.requires_mfa() && !self.mfa {
            return Err(AuthError::MfaRequired {
                permission: permission.name(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(grants: Vec<Grant>) -> Principal {
        Principal {
            kind: PrincipalKind::Token {
                id: "t1".into(),
                name: "host".into(),
            },
            grants,
            mfa: false,
            must_change_password: false,
        }
    }

    #[test]
    fn backup_role_never_destroys_or_administers() {
        for p in Role::Backup.permissions() {
            assert!(!p.is_destructive_or_admin(), "backup role holds {p}");
        }
        for p in [
            Permission::Forget,
            Permission::Prune,
            Permission::ManageRepos,
            Permission::ManageKeys,
            Permission::HoldChange,
        ] {
            assert!(!Role::Backup.allows(p));
        }
    }

    #[test]
    fn no_grants_means_no_rights() {
        let p = token(vec![]);
        for perm in Permission::ALL {
            assert!(!p.has(perm, "ehr", None));
            assert!(!p.has(perm, "*", None));
        }
    }

    #[test]
    fn backup_token_cannot_prune_and_is_repo_scoped() {
        let p = token(vec![Grant::new(Role::Backup, "ehr", None).unwrap()]);
        assert!(p.has(Permission::AddObjects, "ehr", None));
        assert!(p.has(Permission::CommitSnapshot, "ehr", Some("db01")));
        assert!(!p.has(Permission::Prune, "ehr", None));
        assert!(!p.has(Permission::Forget, "ehr", None));
        assert!(!p.has(Permission::AddObjects, "pacs", None));
        let err = p.require(Permission::Prune, "ehr", None).unwrap_err();
        assert!(
            err.to_string()
                .contains("missing permission 'prune' on repository 'ehr'"),
            "{err}"
        );
    }

    #[test]
    fn source_scoped_grant_only_covers_its_source() {
        let p = token(vec![Grant::new(Role::Backup, "ehr", Some("db01")).unwrap()]);
        assert!(p.has(Permission::AddObjects, "ehr", Some("db01")));
        assert!(!p.has(Permission::AddObjects, "ehr", Some("db02")));
        assert!(!p.has(Permission::AddObjects, "ehr", None));
    }

    #[test]
    fn global_permissions_need_a_star_grant() {
        let scoped = token(vec![Grant::new(Role::Admin, "ehr", None).unwrap()]);
        assert!(!scoped.has(Permission::ManageAccounts, "*", None));
        assert!(!scoped.has(Permission::ManageAccounts, "ehr", None));
        let global = token(vec![Grant::new(Role::Admin, "*", None).unwrap()]);
        assert!(global.has(Permission::ManageAccounts, "*", None));
        assert!(!global.has(Permission::Prune, "ehr", None));
    }

    #[test]
    fn star_grant_covers_every_repository() {
        let p = token(vec![Grant::new(Role::Operator, "*", None).unwrap()]);
        assert!(p.has(Permission::Restore, "ehr", None));
        assert!(p.has(Permission::Restore, "pacs", Some("x")));
    }

    #[test]
    fn account_without_mfa_cannot_use_mfa_permissions() {
        let mut p = Principal {
            kind: PrincipalKind::Account {
                name: "alice".into(),
            },
            grants: vec![Grant::new(Role::Operator, "*", None).unwrap()],
            mfa: false,
            must_change_password: false,
        };
        assert!(matches!(
            p.require(Permission::Restore, "ehr", None),
            Err(AuthError::MfaRequired { .. })
        ));
        assert!(p.require(Permission::Check, "ehr", None).is_ok());
        p.mfa = true;
        assert!(p.require(Permission::Restore, "ehr", None).is_ok());
    }

    #[test]
    fn grant_scope_round_trips_through_json() {
        let g = Grant::new(Role::Backup, "*", Some("db01")).unwrap();
        let json = serde_json::to_string(&g).unwrap();
        assert!(json.contains("\"repo\":\"*\""), "{json}");
        let back: Grant = serde_json::from_str(&json).unwrap();
        assert_eq!(back, g);
        assert!(
            serde_json::from_str::<Grant>(r#"{"role":"backup","repo":"../x","source":null}"#)
                .is_err()
        );
    }

    #[test]
    fn describe_names_permission_repo_and_source() {
        assert_eq!(
            Permission::Prune.describe("ehr", None),
            "missing permission 'prune' on repository 'ehr'"
        );
        assert!(Permission::AddObjects
            .describe("ehr", Some("db01"))
            .ends_with("for source 'db01'"));
    }
}
