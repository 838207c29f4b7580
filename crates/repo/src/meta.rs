//! Metadata records: what changes about generations after they are committed.
//!
//! Repository files are never modified, so every change is a new record in `meta/`, named
//! `<kind>-<BLAKE3 of the sealed bytes>` and sealed like every other object (kind Meta). The current
//! state is a fold over all records:
//! - `lock`: a retention lock; the effective lock of a generation is the *latest* `until` of its lock
//!   records (and its own `lock_days`), so a lock can be extended by adding a record but never shortened;
//! - `hold`: a legal hold added or released, with its reason;
//! - `policy`: the stored retention policy; the newest record wins;
//! - `gc`: the state of two-phase garbage collection (which packs are marked unused since when,
//!   which were deleted); the newest record wins, older ones are removed by the prune that replaced them;
//! - `prune-lock`: held while a prune runs (create-only, so two prunes cannot run at once);
//! - `clinical`: the clinical index built with a generation;
//! - `drill`: the result of a restore drill that restored a generation.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kura_format::crypto::{Compression, ObjectKind};
use kura_format::{BlobId, FileId};
use kura_policy::{Hold, RetentionPolicy};
use kura_store::FileKind;
use serde::{Deserialize, Serialize};

use crate::error::{RepoError, Result};
use crate::Repository;

const MAX_META_LEN: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldAction {
    Add,
    Release,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum MetaRecord {
    Lock {
        snapshot: FileId,
        until: DateTime<Utc>,
        created_at: DateTime<Utc>,
        actor: String,
    },
    Hold {
        snapshot: FileId,
        action: HoldAction,
        reason: String,
        created_at: DateTime<Utc>,
        actor: String,
    },
    Policy {
        policy: RetentionPolicy,
        created_at: DateTime<Utc>,
        actor: String,
    },
    Gc {
        created_at: DateTime<Utc>,
        /// Packs found unreferenced, with the time they were first found so.
        marked: Vec<(FileId, DateTime<Utc>)>,
        /// Packs deleted by the prune that wrote this record.
        deleted: Vec<FileId>,
    },
    PruneLock {
        host: String,
        pid: u32,
        created_at: DateTime<Utc>,
    },
    /// The clinical index built with a generation: a manifest blob and the blobs it lists (named
    /// here too, so that prune keeps them without parsing the manifest).
    ClinicalIndex {
        snapshot: FileId,
        manifest: BlobId,
        blobs: Vec<BlobId>,
        created_at: DateTime<Utc>,
    },
    /// A restore drill restored this generation and ran the plan's checks on it (issue 8): the
    /// result is kept with the generation, so copies and exported media carry the proof that it
    /// restores, and `kura snapshots` can show it.
    Drill {
        snapshot: FileId,
        /// The system of the recovery plan the generation was restored for.
        system: String,
        /// The plan's hospital name (plans have no other stable identity).
        plan: String,
        /// Restored and every check passed.
        passed: bool,
        /// Achieved restore time of the whole system, in seconds.
        restore_seconds: f64,
        /// Whether that time was within the system's RTO.
        rto_met: bool,
        /// One line per failed check (empty when passed).
        failures: Vec<String>,
        created_at: DateTime<Utc>,
        actor: String,
    },
}

impl MetaRecord {
    pub fn kind(&self) -> &'static str {
        match self {
            MetaRecord::Lock { .. } => "lock",
            MetaRecord::Hold { .. } => "hold",
            MetaRecord::Policy { .. } => "policy",
            MetaRecord::Gc { .. } => "gc",
            MetaRecord::PruneLock { .. } => "prune-lock",
            MetaRecord::ClinicalIndex { .. } => "clinical",
            MetaRecord::Drill { .. } => "drill",
        }
    }

    /// When the record was written.
    pub fn created_at(&self) -> DateTime<Utc> {
        created_at(self)
    }
}

/// Readable records with their names, and the names of damaged ones with why.
pub type MetaList = (Vec<(String, MetaRecord)>, Vec<(String, RepoError)>);

/// Locks, holds and the policy, folded from all records.
#[derive(Clone, Debug, Default)]
pub struct RetentionState {
    pub locks: HashMap<FileId, DateTime<Utc>>,
    pub holds: HashMap<FileId, Vec<Hold>>,
    pub policy: Option<RetentionPolicy>,
    pub gc: Option<(String, MetaRecord)>,
}

impl Repository {
    /// Store a record; returns its name.
    pub fn save_meta(&self, rec: &MetaRecord) -> Result<String> {
        let json = serde_json::to_vec(rec).expect("meta record serializes");
        let sealed = self
            .key()
            .seal(ObjectKind::Meta, None, &json, Compression::default());
        let name = format!("{}-{}", rec.kind(), FileId::of(&sealed).to_hex());
        self.backend().create(FileKind::Meta, &name, &sealed)?;
        Ok(name)
    }

    /// Store a record under a fixed name (create-only): used for the prune lock.
    pub fn create_named_meta(&self, name: &str, rec: &MetaRecord) -> Result<()> {
        let json = serde_json::to_vec(rec).expect("meta record serializes");
        let sealed = self
            .key()
            .seal(ObjectKind::Meta, None, &json, Compression::default());
        Ok(self.backend().create(FileKind::Meta, name, &sealed)?)
    }

    pub fn load_meta(&self, name: &str) -> Result<MetaRecord> {
        let bytes = self.backend().read(FileKind::Meta, name)?;
        // Content-named records (`<kind>-<hash>`) must match their name, like every other file.
        if let Some((_, hash)) = name.rsplit_once('-').filter(|(_, h)| h.len() == 64) {
            if FileId::of(&bytes).to_hex() != hash {
                return Err(RepoError::damaged(
                    format!("meta {name}"),
                    kura_format::FormatError::Malformed {
                        what: "meta record",
                        detail: "its content does not match its name".into(),
                    },
                ));
            }
        }
        let plain = self
            .key()
            .open(ObjectKind::Meta, None, &bytes, MAX_META_LEN)
            .map_err(|e| RepoError::damaged(format!("meta {name}"), e))?;
        serde_json::from_slice(&plain).map_err(|e| {
            RepoError::damaged(
                format!("meta {name}"),
                kura_format::FormatError::Malformed {
                    what: "meta record",
                    detail: e.to_string(),
                },
            )
        })
    }

    /// All readable records with their names, and the names of damaged ones.
    pub fn list_meta(&self) -> Result<MetaList> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for f in self.backend().list(FileKind::Meta)? {
            match self.load_meta(&f.name) {
                Ok(r) => ok.push((f.name, r)),
                Err(e) => bad.push((f.name, e)),
            }
        }
        Ok((ok, bad))
    }

    /// Packs the newest garbage-collection record marks as unused (best effort: used by backups to
    /// avoid deduplicating against them; an unreadable record only costs deduplication).
    pub fn gc_marked_packs(&self) -> Vec<FileId> {
        let Ok(files) = self.backend().list(FileKind::Meta) else {
            return Vec::new();
        };
        let newest = files
            .iter()
            .filter(|f| f.name.starts_with("gc-"))
            .filter_map(|f| match self.load_meta(&f.name) {
                Ok(MetaRecord::Gc {
                    created_at, marked, ..
                }) => Some((created_at, marked)),
                _ => None,
            })
            .max_by_key(|(t, _)| *t);
        newest
            .map(|(_, m)| m.into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default()
    }

    pub fn retention_state(&self) -> Result<RetentionState> {
        let (records, damaged) = self.list_meta()?;
        if let Some((name, e)) = damaged.into_iter().next() {
            // A lock or hold that cannot be read must never be treated as absent.
            return Err(RepoError::Refused(format!(
                "metadata record {name} cannot be read ({e}): retention decisions are refused until `kura check` is clean"
            )));
        }
        Ok(fold(records))
    }
}

fn fold(mut records: Vec<(String, MetaRecord)>) -> RetentionState {
    records.sort_by_key(|(name, r)| (created_at(r), name.clone()));
    let mut st = RetentionState::default();
    let mut holds: HashMap<FileId, Vec<Hold>> = HashMap::new();
    for (name, r) in records {
        match &r {
            MetaRecord::Lock {
                snapshot, until, ..
            } => {
                let e = st.locks.entry(*snapshot).or_insert(*until);
                *e = (*e).max(*until);
            }
            MetaRecord::Hold {
                snapshot,
                action: HoldAction::Add,
                reason,
                created_at,
                actor,
            } => {
                holds.entry(*snapshot).or_default().push(Hold {
                    reason: reason.clone(),
                    added_by: actor.clone(),
                    added_at: *created_at,
                });
            }
            MetaRecord::Hold {
                snapshot,
                action: HoldAction::Release,
                ..
            } => {
                holds.remove(snapshot);
            }
            MetaRecord::Policy { policy, .. } => st.policy = Some(policy.clone()),
            MetaRecord::Gc { .. } => st.gc = Some((name, r)),
            MetaRecord::PruneLock { .. }
            | MetaRecord::ClinicalIndex { .. }
            | MetaRecord::Drill { .. } => {}
        }
    }
    st.holds = holds;
    st
}

fn created_at(r: &MetaRecord) -> DateTime<Utc> {
    match r {
        MetaRecord::Lock { created_at, .. }
        | MetaRecord::Hold { created_at, .. }
        | MetaRecord::Policy { created_at, .. }
        | MetaRecord::Gc { created_at, .. }
        | MetaRecord::PruneLock { created_at, .. }
        | MetaRecord::ClinicalIndex { created_at, .. }
        | MetaRecord::Drill { created_at, .. } => *created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn locks_only_grow_and_holds_release() {
        let s = FileId([1; 32]);
        let recs = vec![
            (
                "lock-a".to_string(),
                MetaRecord::Lock {
                    snapshot: s,
                    until: t("2027-01-01T00:00:00Z"),
                    created_at: t("2026-01-01T00:00:00Z"),
                    actor: "a".into(),
                },
            ),
            // A later record with an earlier date cannot shorten the lock.
            (
                "lock-b".to_string(),
                MetaRecord::Lock {
                    snapshot: s,
                    until: t("2026-06-01T00:00:00Z"),
                    created_at: t("2026-02-01T00:00:00Z"),
                    actor: "b".into(),
                },
            ),
            (
                "hold-a".to_string(),
                MetaRecord::Hold {
                    snapshot: s,
                    action: HoldAction::Add,
                    reason: "訴訟".into(),
                    created_at: t("2026-01-01T00:00:00Z"),
                    actor: "a".into(),
                },
            ),
        ];
        let st = fold(recs.clone());
        assert_eq!(st.locks[&s], t("2027-01-01T00:00:00Z"));
        assert_eq!(st.holds[&s].len(), 1);
        let mut more = recs;
        more.push((
            "hold-b".into(),
            MetaRecord::Hold {
                snapshot: s,
                action: HoldAction::Release,
                reason: "closed".into(),
                created_at: t("2026-03-01T00:00:00Z"),
                actor: "b".into(),
            },
        ));
        assert!(!fold(more).holds.contains_key(&s));
    }
}
