//! Committing generations: the vault, not the client, decides when a generation was committed,
//! and records the audit log's head with it.
//!
//! Two ways in:
//! - **The commit route** (`POST /repo/NAME/commit/ID`, what `RemoteBackend::commit_snapshot`
//!   calls): the vault opens the sealed snapshot with the repository key, replaces `committed_at`
//!   with its own clock, seals it again and stores it under the new name, which it returns.
//! - **A plain create of a snapshot file** (what clients whose repository layer calls
//!   `Backend::create` for snapshots do): the vault opens it and accepts it only if
//!   `committed_at` is within `commit_time_tolerance_secs` of its own clock. A backdated or
//!   post-dated generation is refused and audited.
//!
//! Either way the snapshot's `source` must be covered by the caller's grant (a token for
//! `db01` cannot commit a generation that claims to be `pacs`).
//!
//! **Audit anchors.** After the `backup` audit entry of a commit is written, its head (`seq`,
//! `hash`) is stored in `data_dir/anchors/REPO/SNAPSHOT.json` (create-only, 0600). Because the
//! log's head is recorded for every generation, cutting entries off the end of the log is
//! detected by `kura audit verify --config` (it checks the log against the newest anchor).

use std::path::Path;

use chrono::{DateTime, Utc};
use kura_audit::{Head, Outcome as AuditOutcome};
use kura_format::snapshot::Snapshot;
use kura_format::FileId;
use kura_repo::Repository;
use kura_store::FileKind;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServerError};
use crate::fsutil::{create_private_new, private_dir};
use crate::ops::target;
use crate::perm::need_for_create;
use crate::vault::{Caller, Vault};

/// What an anchor file holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Anchor {
    pub repo: String,
    pub snapshot: String,
    pub committed_at: DateTime<Utc>,
    pub audit_seq: u64,
    pub audit_hash: String,
}

impl Anchor {
    pub fn head(&self) -> Head {
        Head::new(self.audit_seq, self.audit_hash.clone())
    }
}

impl Vault {
    /// The commit route: the vault sets `committed_at`. Returns the stored name.
    pub fn commit_snapshot(
        &self,
        c: &Caller,
        repo: &str,
        name: &str,
        data: &[u8],
    ) -> Result<String> {
        let t = target(repo, FileKind::Snapshot, name);
        let (r, mut snap) = self.open_snapshot(c, repo, &t, data)?;
        snap.committed_at = Utc::now();
        let sealed = snap.seal(r.key());
        let id = FileId::of(&sealed).to_hex();
        self.finish_commit(c, repo, &r, &snap, &id, &sealed)?;
        Ok(id)
    }

    /// A snapshot stored with a plain create: accepted only if its time is the vault's time.
    pub(crate) fn store_client_snapshot(
        &self,
        c: &Caller,
        repo: &str,
        name: &str,
        data: &[u8],
    ) -> Result<()> {
        let t = target(repo, FileKind::Snapshot, name);
        let (r, snap) = self.open_snapshot(c, repo, &t, data)?;
        if FileId::of(data).to_hex() != name {
            let why = "the name is not the BLAKE3 hash of the content".to_string();
            return Err(self.refuse_bad(c, "backup", &t, why));
        }
        let skew = (snap.committed_at - Utc::now()).num_seconds().abs();
        if skew > self.config.commit_time_tolerance_secs {
            let why = format!(
                "generation time {} differs from the vault's clock by {skew} s (more than {} s): \
                 the vault sets commit times, a client cannot backdate or post-date a generation",
                snap.committed_at.to_rfc3339(),
                self.config.commit_time_tolerance_secs
            );
            self.audit(
                c.audit("backup", &t, AuditOutcome::Denied)
                    .with_reason(&why),
            )?;
            return Err(ServerError::Forbidden(why));
        }
        self.finish_commit(c, repo, &r, &snap, name, data)
    }

    /// Check the caller may commit, then open the sealed snapshot with the repository key.
    fn open_snapshot(
        &self,
        c: &Caller,
        repo: &str,
        t: &str,
        data: &[u8],
    ) -> Result<(std::sync::Arc<Repository>, Snapshot)> {
        // Coarse check first, so a caller with no grant learns nothing about the repository.
        self.guard(
            c,
            need_for_create(FileKind::Snapshot),
            repo,
            None,
            "backup",
            t,
        )?;
        let r = self.repo(repo)?;
        let snap = match Snapshot::open(r.key(), data) {
            Ok(s) => s,
            Err(e) => {
                let why = format!("not a snapshot sealed with this repository's key: {e}");
                return Err(self.refuse_bad(c, "backup", t, why));
            }
        };
        let need = need_for_create(FileKind::Snapshot);
        self.guard(c, need, repo, Some(&snap.source), "backup", t)?;
        Ok((r, snap))
    }

    fn finish_commit(
        &self,
        c: &Caller,
        repo: &str,
        r: &Repository,
        snap: &Snapshot,
        id: &str,
        sealed: &[u8],
    ) -> Result<()> {
        let t = target(repo, FileKind::Snapshot, id);
        if let Err(e) = r.backend().create(FileKind::Snapshot, id, sealed) {
            let outcome = if e.is_already_exists() {
                AuditOutcome::Denied
            } else {
                AuditOutcome::Failure
            };
            self.audit(c.audit("backup", &t, outcome).with_reason(e.to_string()))?;
            return Err(e.into());
        }
        let event = c
            .audit(kura_audit::actions::BACKUP, &t, AuditOutcome::Success)
            .with_details(serde_json::json!({
                "source": snap.source,
                "host": snap.host,
                "committed_at": snap.committed_at.to_rfc3339(),
                "files_new": snap.stats.files_new,
                "bytes_added": snap.stats.bytes_added,
            }));
        let entry = self.audit(event)?;
        let anchor = Anchor {
            repo: repo.to_string(),
            snapshot: id.to_string(),
            committed_at: snap.committed_at,
            audit_seq: entry.seq,
            audit_hash: entry.hash,
        };
        let dir = self.config.anchors_dir().join(repo);
        private_dir(&dir)?;
        let json =
            serde_json::to_vec_pretty(&anchor).map_err(|e| ServerError::Tls(e.to_string()))?;
        create_private_new(&dir.join(format!("{id}.json")), &json)
    }
}

/// Every anchor under `anchors_dir`, unreadable files skipped.
pub fn load_anchors(anchors_dir: &Path) -> Vec<Anchor> {
    let mut out = Vec::new();
    for repo in std::fs::read_dir(anchors_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in std::fs::read_dir(repo.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let parsed = std::fs::read(f.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Anchor>(&b).ok());
            out.extend(parsed);
        }
    }
    out
}

/// The anchor with the highest audit sequence number: what the log must still contain.
pub fn newest_anchor(anchors_dir: &Path) -> Option<Anchor> {
    load_anchors(anchors_dir)
        .into_iter()
        .max_by_key(|a| a.audit_seq)
}
