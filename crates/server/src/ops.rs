//! Repository operations as the API performs them: permission check, the operation, the audit
//! entry. Each refusal is audited (result `denied`, reason naming the missing permission) before
//! the error goes back to the client.
//!
//! Reads are audited once per caller and repository per [`ACCESS_AUDIT_INTERVAL`] rather than
//! per request: a restore reads thousands of ranges, and a line with an fdatasync for each would
//! bury the entries auditors look for. Every write, removal and refusal has its own entry.

use std::time::{Duration, Instant};

use kura_audit::Outcome as AuditOutcome;
use kura_format::FileId;
use kura_store::{FileInfo, FileKind, StoreError};

use crate::error::{Result, ServerError};
use crate::perm::{self, Need};
use crate::vault::{Caller, Vault};

/// How often repeated reads by the same caller of the same repository are audited.
pub const ACCESS_AUDIT_INTERVAL: Duration = Duration::from_secs(600);

/// Kinds whose file name must be the BLAKE3 of the file's bytes. Checking it stops a client from
/// squatting a name that a later, honest upload needs (it would be taken as "already stored").
fn content_addressed(kind: FileKind) -> bool {
    !matches!(kind, FileKind::Config | FileKind::Meta)
}

pub fn target(repo: &str, kind: FileKind, name: &str) -> String {
    format!("{repo}/{kind}/{name}")
}

impl Vault {
    /// Check `need`; on refusal write a `denied` entry and return [`ServerError::Forbidden`].
    pub fn guard(
        &self,
        c: &Caller,
        need: Need,
        repo: &str,
        source: Option<&str>,
        action: &str,
        target: &str,
    ) -> Result<()> {
        if let Err(msg) = perm::check(&c.principal, need, repo, source) {
            self.audit(
                c.audit(action, target, AuditOutcome::Denied)
                    .with_reason(&msg),
            )?;
            return Err(ServerError::Forbidden(msg));
        }
        Ok(())
    }

    /// Refuse a malformed request, audited.
    pub fn refuse_bad(&self, c: &Caller, action: &str, target: &str, why: String) -> ServerError {
        let event = c
            .audit(action, target, AuditOutcome::Denied)
            .with_reason(&why);
        match self.audit(event) {
            Ok(_) => ServerError::BadRequest(why),
            Err(e) => e,
        }
    }

    fn audit_access(&self, c: &Caller, repo: &str) -> Result<()> {
        let key = (c.principal.label(), repo.to_string());
        let now = Instant::now();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < ACCESS_AUDIT_INTERVAL)
            {
                return Ok(());
            }
            if seen.len() > 10_000 {
                seen.clear();
            }
            seen.insert(key, now);
        }
        self.audit(c.audit("repo.access", repo, AuditOutcome::Success))
            .map(|_| ())
    }

    pub fn read_object(
        &self,
        c: &Caller,
        repo: &str,
        kind: FileKind,
        name: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>> {
        let t = target(repo, kind, name);
        self.guard(c, perm::need_for_read(kind), repo, None, "object.read", &t)?;
        self.audit_access(c, repo)?;
        let backend = self.repo(repo)?.backend().clone();
        Ok(match range {
            Some((offset, len)) => backend.read_range(kind, name, offset, len)?,
            None => backend.read(kind, name)?,
        })
    }

    pub fn size(&self, c: &Caller, repo: &str, kind: FileKind, name: &str) -> Result<u64> {
        let t = target(repo, kind, name);
        self.guard(c, perm::need_for_read(kind), repo, None, "object.size", &t)?;
        self.audit_access(c, repo)?;
        Ok(self.repo(repo)?.backend().size(kind, name)?)
    }

    pub fn list(&self, c: &Caller, repo: &str, kind: FileKind) -> Result<Vec<FileInfo>> {
        let t = format!("{repo}/{kind}");
        self.guard(c, perm::need_for_read(kind), repo, None, "object.list", &t)?;
        self.audit_access(c, repo)?;
        Ok(self.repo(repo)?.backend().list(kind)?)
    }

    /// Store a new file. Never overwrites: an existing name is refused (409) and audited.
    pub fn create_object(
        &self,
        c: &Caller,
        repo: &str,
        kind: FileKind,
        name: &str,
        data: &[u8],
    ) -> Result<()> {
        let t = target(repo, kind, name);
        if kura_store::validate_name(name).is_err() {
            return Err(self.refuse_bad(c, "object.create", &t, format!("invalid name {name:?}")));
        }
        if kind == FileKind::Snapshot {
            return self.store_client_snapshot(c, repo, name, data);
        }
        self.guard(
            c,
            perm::need_for_create(kind),
            repo,
            None,
            "object.create",
            &t,
        )?;
        if content_addressed(kind) && FileId::of(data).to_hex() != name {
            let why = "the name is not the BLAKE3 hash of the content".to_string();
            return Err(self.refuse_bad(c, "object.create", &t, why));
        }
        let r = self.repo(repo)?;
        if kind == FileKind::Meta {
            let record = self.meta_record(c, &r, &t, data)?;
            let record_type = record["type"].as_str().unwrap_or_default();
            if record_type == "clinical-index" {
                self.guard_clinical_record(c, &r, repo, &record, &t)?;
            } else {
                self.guard(
                    c,
                    perm::need_for_meta(record_type),
                    repo,
                    None,
                    "meta.create",
                    &t,
                )?;
            }
        }
        self.store_new(c, r.backend().as_ref(), kind, name, data, &t)
    }

    /// A sealed metadata record opened (the vault holds the key); it must have a `type`.
    fn meta_record(
        &self,
        c: &Caller,
        r: &kura_repo::Repository,
        t: &str,
        data: &[u8],
    ) -> Result<serde_json::Value> {
        let parsed = r
            .key()
            .open(kura_format::crypto::ObjectKind::Meta, None, data, 64 << 20)
            .ok()
            .and_then(|plain| serde_json::from_slice::<serde_json::Value>(&plain).ok());
        match parsed.filter(|v| v.get("type").and_then(|t| t.as_str()).is_some()) {
            Some(v) => Ok(v),
            None => Err(self.refuse_bad(
                c,
                "meta.create",
                t,
                "not a metadata record sealed with this repository's key".into(),
            )),
        }
    }

    /// A clinical index record is what the emergency viewer shows clinicians, so who may add one
    /// is narrow: the backup that made the generation (`commit-snapshot` for the generation's
    /// source), and only while the generation has no index yet. Replacing an existing index (a
    /// re-index) needs `manage-repos`; otherwise a stolen backup token could add a newer record
    /// with forged allergies to a clean generation.
    fn guard_clinical_record(
        &self,
        c: &Caller,
        r: &kura_repo::Repository,
        repo: &str,
        record: &serde_json::Value,
        t: &str,
    ) -> Result<()> {
        let snapshot = record["snapshot"].as_str().unwrap_or_default();
        let entry = match r.load_snapshot(snapshot) {
            Ok(e) => e,
            Err(_) => {
                let why = format!("the clinical index names generation {snapshot:?}, which this repository does not hold: commit the generation first");
                return Err(self.refuse_bad(c, "meta.create", t, why));
            }
        };
        let source = entry.snapshot.source.clone();
        let commit = Need::One(kura_auth::Permission::CommitSnapshot);
        self.guard(c, commit, repo, Some(&source), "meta.create", t)?;
        let (records, _) = r.list_meta()?;
        let indexed = records.iter().any(|(_, rec)| {
            matches!(rec, kura_repo::meta::MetaRecord::ClinicalIndex { snapshot: s, .. } if *s == entry.id)
        });
        if indexed {
            let replace = Need::One(kura_auth::Permission::ManageRepos);
            self.guard(c, replace, repo, None, "meta.create", t)?;
        }
        Ok(())
    }

    /// `create` on the backend with the outcome audited; "exists" is a refused overwrite.
    pub(crate) fn store_new(
        &self,
        c: &Caller,
        backend: &dyn kura_store::Backend,
        kind: FileKind,
        name: &str,
        data: &[u8],
        t: &str,
    ) -> Result<()> {
        match backend.create(kind, name, data) {
            Ok(()) => {
                let event = c
                    .audit("object.create", t, AuditOutcome::Success)
                    .with_details(serde_json::json!({ "bytes": data.len() }));
                self.audit(event)?;
                Ok(())
            }
            Err(e @ StoreError::AlreadyExists { .. }) => {
                let event = c
                    .audit("object.create", t, AuditOutcome::Denied)
                    .with_reason("the file exists; repository files are never overwritten");
                self.audit(event)?;
                Err(e.into())
            }
            Err(e) => {
                let event = c
                    .audit("object.create", t, AuditOutcome::Failure)
                    .with_reason(e.to_string());
                self.audit(event)?;
                Err(e.into())
            }
        }
    }

    /// Remove a file: only with `prune` (keys: `manage-keys`), never the config, and never at all
    /// while four-eyes approval is required.
    pub fn remove(&self, c: &Caller, repo: &str, kind: FileKind, name: &str) -> Result<()> {
        let t = target(repo, kind, name);
        let need = perm::need_for_remove(kind, self.config.require_approval);
        self.guard(c, need, repo, None, "object.remove", &t)?;
        let result = self.repo(repo)?.backend().remove(kind, name);
        let outcome = match &result {
            Ok(()) => AuditOutcome::Success,
            Err(_) => AuditOutcome::Failure,
        };
        let mut event = c.audit("object.remove", &t, outcome);
        if let Err(e) = &result {
            event = event.with_reason(e.to_string());
        }
        self.audit(event)?;
        Ok(result?)
    }
}
