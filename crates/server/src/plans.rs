//! Four-eyes deletion: every forget or prune on the vault is a *plan* that one person proposes and
//! a second, different person approves; only then does the vault execute it, with its own key.
//!
//! **Why plans live on the vault.** A stolen client credential (even a retention-admin's session)
//! must not be able to delete alone. With `require_approval = true` the API refuses every direct
//! removal (`perm::need_for_remove`), so the only way to remove a generation or a pack is a plan
//! stored here, approved by an account other than its proposer, and executed by the server.
//!
//! **State and crash safety.** Each plan is one JSON file `data_dir/plans/REPO/ID.json`, replaced
//! atomically (write, fsync, rename) at each step: `pending` → `approved` → `executed` (or
//! `failed`). Approval is written *before* execution starts, so a crash in between leaves an
//! `approved` plan that [`Vault::resume_approved_plans`] executes again when the server starts;
//! both executions are idempotent (a generation already removed is reported as such, a prune is
//! planned again from the repository as it is). Approvals from the server and from `kura admin`
//! on the same host are serialised by an exclusive lock on `data_dir/plans.lock`.
//!
//! **What execution re-checks.** A forget plan names generations; at execution the vault reads
//! locks and legal holds again and removes only generations `kura_policy::can_delete` allows, so a
//! hold placed after the proposal still protects. A prune plan is planned afresh at execution with
//! the grace period of the proposal (packs are first marked and deleted only after the grace).

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kura_audit::Outcome as AuditOutcome;
use kura_auth::Permission;
use kura_repo::Repository;
use kura_store::FileKind;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServerError};
use crate::fsutil::{private_dir, write_private};
use crate::perm::Need;
use crate::vault::{Caller, Vault};

/// Largest grace period a prune plan may ask for (a year): longer is surely a typo.
const MAX_GRACE_SECS: i64 = 366 * 86_400;

/// What a plan deletes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum PlanAction {
    /// Remove these generations (full ids; prefixes are resolved when proposing).
    Forget { snapshots: Vec<String> },
    /// Garbage-collect packs no generation references, after `grace_secs` marked unused.
    Prune {
        #[serde(default = "default_grace")]
        grace_secs: i64,
        #[serde(default = "default_repack")]
        repack_unused_percent: f64,
    },
}

fn default_grace() -> i64 {
    86_400
}

fn default_repack() -> f64 {
    25.0
}

impl PlanAction {
    /// The permission proposing this action needs.
    pub fn permission(&self) -> Permission {
        match self {
            PlanAction::Forget { .. } => Permission::Forget,
            PlanAction::Prune { .. } => Permission::Prune,
        }
    }

    /// A one-line description for lists and the console.
    pub fn describe(&self) -> String {
        match self {
            PlanAction::Forget { snapshots } => {
                let short: Vec<&str> = snapshots.iter().map(|s| &s[..s.len().min(8)]).collect();
                format!(
                    "forget {} generation(s): {}",
                    snapshots.len(),
                    short.join(" ")
                )
            }
            PlanAction::Prune { grace_secs, .. } => {
                format!("prune unreferenced packs (grace {grace_secs} s)")
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStatus {
    Pending,
    Approved,
    Executed,
    Failed,
}

/// One deletion plan, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub repo: String,
    #[serde(flatten)]
    pub action: PlanAction,
    pub reason: String,
    pub status: PlanStatus,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub executed_at: Option<DateTime<Utc>>,
    /// What execution did (removed and refused generations, or the prune summary), or the error.
    pub result: Option<serde_json::Value>,
}

/// Who may see plans: the people who propose, approve or report on deletions.
const READ_PLANS: &[Permission] = &[
    Permission::ApproveDeletion,
    Permission::Forget,
    Permission::Prune,
    Permission::ReadReports,
];

fn plan_target(repo: &str, id: &str) -> String {
    format!("{repo}/plan/{id}")
}

impl Vault {
    fn plans_dir(&self, repo: &str) -> PathBuf {
        self.config.data_dir.join("plans").join(repo)
    }

    fn plan_path(&self, repo: &str, id: &str) -> Result<PathBuf> {
        let ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(ServerError::BadRequest(format!(
                "{id:?} is not a plan id (16 hex digits); list plans with `kura admin plan list`"
            )));
        }
        Ok(self.plans_dir(repo).join(format!("{id}.json")))
    }

    fn plans_lock(&self) -> Result<File> {
        let path = self.config.data_dir.join("plans.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ServerError::io("open", &path, e))?;
        f.lock().map_err(|e| ServerError::io("lock", &path, e))?;
        Ok(f)
    }

    fn save_plan(&self, plan: &Plan) -> Result<()> {
        private_dir(&self.plans_dir(&plan.repo))?;
        let bytes = serde_json::to_vec_pretty(plan)
            .map_err(|e| ServerError::BadRequest(format!("plan does not serialise: {e}")))?;
        write_private(&self.plan_path(&plan.repo, &plan.id)?, &bytes)
    }

    fn load_plan(&self, repo: &str, id: &str) -> Result<Plan> {
        let path = self.plan_path(repo, id)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ServerError::BadRequest(format!(
                    "no plan {id} for repository '{repo}'; list plans with `kura admin plan list`"
                )))
            }
            Err(e) => return Err(ServerError::io("read", &path, e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| ServerError::Config {
            path,
            detail: format!("the plan file is damaged ({e})"),
        })
    }

    /// Plans are proposed and approved by named people, never by machine tokens.
    fn person(&self, c: &Caller, action: &str, target: &str) -> Result<String> {
        match c.principal.account_name() {
            Some(n) => Ok(n.to_string()),
            None => {
                let why = format!(
                    "{} is a token: deletion plans are proposed and approved by named accounts \
                     logged in with a second factor",
                    c.principal.label()
                );
                self.audit(
                    c.audit(action, target, AuditOutcome::Denied)
                        .with_reason(&why),
                )?;
                Err(ServerError::Forbidden(why))
            }
        }
    }

    /// Propose a deletion plan. Nothing is deleted until a second person approves it.
    pub fn propose_plan(
        &self,
        c: &Caller,
        repo: &str,
        action: PlanAction,
        reason: &str,
    ) -> Result<Plan> {
        let t = format!("{repo}/plan");
        let need = Need::One(action.permission());
        self.guard(c, need, repo, None, "plan.propose", &t)?;
        let who = self.person(c, "plan.propose", &t)?;
        let action = match self.check_action(repo, action) {
            Ok(a) => a,
            Err(e) => return Err(self.refuse_bad(c, "plan.propose", &t, e.to_string())),
        };
        let mut raw = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let plan = Plan {
            id: hex::encode(raw),
            repo: repo.to_string(),
            action,
            reason: reason.chars().take(500).collect(),
            status: PlanStatus::Pending,
            proposed_by: who,
            proposed_at: Utc::now(),
            approved_by: None,
            approved_at: None,
            executed_at: None,
            result: None,
        };
        self.save_plan(&plan)?;
        let event = c
            .audit(
                "plan.propose",
                &plan_target(repo, &plan.id),
                AuditOutcome::Success,
            )
            .with_details(serde_json::json!({"plan": plan.action, "reason": plan.reason}));
        self.audit(event)?;
        Ok(plan)
    }

    /// Resolve generation prefixes to full ids and check the numbers of a prune plan.
    fn check_action(&self, repo: &str, action: PlanAction) -> Result<PlanAction> {
        match action {
            PlanAction::Forget { snapshots } => {
                if snapshots.is_empty() {
                    return Err(ServerError::BadRequest(
                        "a forget plan names at least one generation".into(),
                    ));
                }
                let r = self.repo(repo)?;
                let mut full = Vec::new();
                for spec in &snapshots {
                    let id = r.resolve_snapshot(spec)?.id.to_hex();
                    if !full.contains(&id) {
                        full.push(id);
                    }
                }
                Ok(PlanAction::Forget { snapshots: full })
            }
            PlanAction::Prune {
                grace_secs,
                repack_unused_percent,
            } => {
                let ok_grace = (0..=MAX_GRACE_SECS).contains(&grace_secs);
                if !ok_grace || !(0.0..=100.0).contains(&repack_unused_percent) {
                    return Err(ServerError::BadRequest(
                        "grace_secs must be 0..=31622400 and repack_unused_percent 0..=100".into(),
                    ));
                }
                Ok(PlanAction::Prune {
                    grace_secs,
                    repack_unused_percent,
                })
            }
        }
    }

    /// The plans of `repo`, newest first.
    pub fn list_plans(&self, c: &Caller, repo: &str) -> Result<Vec<Plan>> {
        let t = format!("{repo}/plan");
        self.guard(c, Need::Any(READ_PLANS), repo, None, "plan.list", &t)?;
        self.read_plans(repo)
    }

    pub(crate) fn read_plans(&self, repo: &str) -> Result<Vec<Plan>> {
        let mut plans = Vec::new();
        let Ok(dir) = std::fs::read_dir(self.plans_dir(repo)) else {
            return Ok(plans);
        };
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json") {
                plans.push(self.load_plan(repo, id)?);
            }
        }
        plans.sort_by_key(|p| std::cmp::Reverse(p.proposed_at));
        Ok(plans)
    }

    /// Approve a pending plan as a second person, then execute it at once.
    pub fn approve_plan(&self, c: &Caller, repo: &str, id: &str) -> Result<Plan> {
        let t = plan_target(repo, id);
        let need = Need::One(Permission::ApproveDeletion);
        self.guard(c, need, repo, None, "plan.approve", &t)?;
        let who = self.person(c, "plan.approve", &t)?;
        let _lock = self.plans_lock()?;
        let mut plan = self.load_plan(repo, id)?;
        let refusal = if plan.status != PlanStatus::Pending {
            Some(format!("plan {id} is {:?}, not pending", plan.status).to_lowercase())
        } else if plan.proposed_by == who {
            Some(format!(
                "{who} proposed plan {id} and cannot approve it: a second administrator must (four-eyes)"
            ))
        } else {
            None
        };
        if let Some(why) = refusal {
            self.audit(
                c.audit("plan.approve", &t, AuditOutcome::Denied)
                    .with_reason(&why),
            )?;
            return Err(ServerError::Forbidden(why));
        }
        plan.status = PlanStatus::Approved;
        plan.approved_by = Some(who);
        plan.approved_at = Some(Utc::now());
        self.save_plan(&plan)?;
        let event = c
            .audit("plan.approve", &t, AuditOutcome::Success)
            .with_details(serde_json::json!({"proposed_by": plan.proposed_by}));
        self.audit(event)?;
        self.execute_plan(c, plan)
    }

    /// Execute every plan left `approved` by a crash during its execution.
    pub fn resume_approved_plans(&self) -> Result<usize> {
        let _lock = self.plans_lock()?;
        let mut n = 0;
        for repo in self.repo_names() {
            for plan in self.read_plans(&repo)? {
                if plan.status == PlanStatus::Approved {
                    let c = Caller {
                        principal: crate::vault::host_console(),
                        remote: "local".into(),
                    };
                    self.execute_plan(&c, plan)?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    fn execute_plan(&self, c: &Caller, mut plan: Plan) -> Result<Plan> {
        let t = plan_target(&plan.repo, &plan.id);
        let outcome = self
            .fresh_repo(&plan.repo)
            .and_then(|r| run_action(&r, &plan.action));
        // A prune changed packs and index files: later requests must see the new state.
        self.forget_cached_repo(&plan.repo);
        let (status, result, audit) = match outcome {
            Ok(v) => (PlanStatus::Executed, v, AuditOutcome::Success),
            Err(e) => (
                PlanStatus::Failed,
                serde_json::json!({"error": e.to_string()}),
                AuditOutcome::Failure,
            ),
        };
        plan.status = status;
        plan.executed_at = Some(Utc::now());
        plan.result = Some(result.clone());
        self.save_plan(&plan)?;
        self.audit(c.audit("plan.execute", &t, audit).with_details(result))?;
        Ok(plan)
    }
}

/// Carry out an approved action on a repository opened with the vault's key.
fn run_action(repo: &Arc<Repository>, action: &PlanAction) -> Result<serde_json::Value> {
    match action {
        PlanAction::Forget { snapshots } => forget(repo, snapshots),
        PlanAction::Prune {
            grace_secs,
            repack_unused_percent,
        } => {
            let opts = kura_engine::prune::PruneOptions {
                grace: chrono::Duration::seconds(*grace_secs),
                repack_unused_percent: *repack_unused_percent,
                now: Utc::now(),
            };
            let engine = |e: kura_engine::EngineError| ServerError::BadRequest(e.to_string());
            let plan = kura_engine::prune::plan_prune(repo, &opts).map_err(engine)?;
            let summary = kura_engine::prune::execute_prune(repo, &plan, &opts).map_err(engine)?;
            Ok(serde_json::json!({"summary": summary}))
        }
    }
}

/// Remove the named generations that locks and holds (read now) allow.
fn forget(repo: &Repository, ids: &[String]) -> Result<serde_json::Value> {
    let state = repo.retention_state()?;
    let policy = state.policy.clone().unwrap_or_default();
    let now = Utc::now();
    let (mut removed, mut refused, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for id in ids {
        let entry = match repo.load_snapshot(id) {
            Ok(e) => e,
            Err(kura_repo::RepoError::Store(e)) if e.is_not_found() => {
                gone.push(id.clone());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let generation = kura_engine::retention::generations(&[entry], &state);
        match kura_policy::can_delete(&generation[0], &policy, now) {
            Ok(()) => {
                repo.backend().remove(FileKind::Snapshot, id)?;
                removed.push(id.clone());
            }
            Err(blocked) => refused.push((id.clone(), blocked.to_string())),
        }
    }
    Ok(serde_json::json!({"removed": removed, "refused": refused, "already_gone": gone}))
}
