//! Forget: remove generations according to a retention policy, never one that is locked or held.
//!
//! The plan comes from `kura-policy` (a pure function of the generations, their locks, holds and
//! verdicts, the policy and the clock). Execution re-checks every removal against the locks and
//! holds read again just before deleting, so a hold placed after planning still wins.

use chrono::{DateTime, Duration, Utc};
use kura_policy::{can_delete, plan_forget, ForgetPlan, Generation, RetentionPolicy};
use kura_repo::meta::RetentionState;
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::Repository;
use kura_store::FileKind;

use crate::error::{EngineError, Result};

/// The lock of a generation: the latest of its lock records, its own `lock_days`, and the
/// repository minimum.
pub fn lock_until(entry: &SnapshotEntry, state: &RetentionState) -> Option<DateTime<Utc>> {
    let own = entry
        .snapshot
        .lock_days
        .map(|d| entry.snapshot.committed_at + Duration::days(d as i64));
    let recorded = state.locks.get(&entry.id).copied();
    own.max(recorded)
}

pub fn generations(list: &[SnapshotEntry], state: &RetentionState) -> Vec<Generation> {
    list.iter()
        .map(|s| Generation {
            id: s.id.to_hex(),
            source: s.snapshot.source.clone(),
            host: s.snapshot.host.clone(),
            committed_at: s.snapshot.committed_at,
            tags: s.snapshot.tags.clone(),
            lock_until: lock_until(s, state),
            holds: state.holds.get(&s.id).cloned().unwrap_or_default(),
            verdict: crate::detect::verdict_of(&s.snapshot),
        })
        .collect()
}

/// The policy in force: the one given, else the stored one; the stored repository minimum lock
/// always applies.
pub fn effective_policy(
    given: Option<RetentionPolicy>,
    state: &RetentionState,
) -> Result<RetentionPolicy> {
    let stored = state.policy.clone();
    let mut p = match (given, &stored) {
        (Some(p), _) => p,
        (None, Some(s)) => s.clone(),
        (None, None) => return Err(EngineError::Invalid("no keep rule given and no policy stored: pass --keep-* options or run `kura policy set`".into())),
    };
    let stored_min = stored.and_then(|s| s.min_lock_days);
    p.min_lock_days = p.min_lock_days.max(stored_min);
    p.validate()
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    Ok(p)
}

pub struct ForgetOutcome {
    pub plan: ForgetPlan,
    pub removed: Vec<String>,
    pub refused: Vec<(String, String)>,
}

/// Plan a forget (and execute it unless `dry_run`). `sources` limits the plan to those sources.
pub fn forget(
    repo: &Repository,
    policy: Option<RetentionPolicy>,
    sources: &[String],
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<ForgetOutcome> {
    let state = repo.retention_state()?;
    let policy = effective_policy(policy, &state)?;
    let list = repo.list_snapshots()?;
    if let Some((name, e)) = list.damaged.first() {
        return Err(EngineError::Invalid(format!("generation {name} cannot be read ({e}): forget refuses to plan around it; run `kura check`")));
    }
    let selected: Vec<SnapshotEntry> = list
        .snapshots
        .into_iter()
        .filter(|s| sources.is_empty() || sources.contains(&s.snapshot.source))
        .collect();
    let plan = plan_forget(
        &generations(&selected, &state),
        &policy,
        now,
        kura_policy::JST,
    );
    let mut outcome = ForgetOutcome {
        plan,
        removed: Vec::new(),
        refused: Vec::new(),
    };
    if dry_run {
        return Ok(outcome);
    }
    // Read locks and holds again: anything added since planning still protects.
    let fresh = repo.retention_state()?;
    let fresh_gens = generations(&selected, &fresh);
    for id in outcome.plan.removed_ids() {
        let Some(g) = fresh_gens.iter().find(|g| g.id == id) else {
            continue;
        };
        match can_delete(g, &policy, now) {
            Ok(()) => {
                repo.backend().remove(FileKind::Snapshot, id)?;
                outcome.removed.push(id.to_string());
            }
            Err(blocked) => outcome.refused.push((id.to_string(), blocked.to_string())),
        }
    }
    Ok(outcome)
}
