//! Retention commands: `forget`, `prune`, `lock`, `hold`, `policy`, `repair index`.

use anyhow::{bail, Context, Result};
use chrono::Utc;
use kura_audit::Outcome;
use kura_engine::prune::{execute_prune, plan_prune, PruneOptions};
use kura_policy::{
    check_lock_change, check_policy_change, format_duration, parse_date_or_time, parse_duration,
    RetentionPolicy, JST,
};
use kura_repo::meta::{HoldAction, MetaRecord};
use serde_json::json;

use crate::args::{
    ForgetArgs, Global, HoldCommand, KeepArgs, LockArgs, PolicyCommand, PruneArgs, RepairCommand,
};
use crate::audit::record;
use crate::output::human_bytes;
use crate::{exit, open};

fn actor() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

fn policy_from(k: &KeepArgs) -> Result<Option<RetentionPolicy>> {
    let within = k
        .keep_within
        .as_deref()
        .map(parse_duration)
        .transpose()
        .context("--keep-within")?;
    let p = RetentionPolicy {
        keep_last: k.keep_last,
        keep_hourly: k.keep_hourly,
        keep_daily: k.keep_daily,
        keep_weekly: k.keep_weekly,
        keep_monthly: k.keep_monthly,
        keep_yearly: k.keep_yearly,
        keep_within: within,
        keep_tags: k.keep_tags.clone(),
        min_lock_days: None,
    };
    Ok((p != RetentionPolicy::default()).then_some(p))
}

pub fn forget(g: &Global, a: &ForgetArgs) -> Result<i32> {
    let repo = open::open(g)?;
    let now = Utc::now();
    let outcome =
        kura_engine::retention::forget(&repo, policy_from(&a.keep)?, &a.sources, now, a.dry_run)?;
    if g.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"dry_run": a.dry_run, "plan": outcome.plan, "removed": outcome.removed, "refused": outcome.refused})
            )?
        );
    } else {
        for sp in &outcome.plan.sources {
            println!(
                "source {}: keep {} of {}",
                sp.source,
                sp.decisions.iter().filter(|d| d.is_kept()).count(),
                sp.decisions.len()
            );
            for d in &sp.decisions {
                let reasons: Vec<String> = d.reasons.iter().map(|r| r.to_string()).collect();
                let what = if d.is_kept() {
                    format!("keep    {}", reasons.join(", "))
                } else {
                    "remove".to_string()
                };
                println!(
                    "  {}  {}  {}",
                    &d.id[..8],
                    d.committed_at
                        .with_timezone(&JST)
                        .format("%Y-%m-%d %H:%M JST"),
                    what
                );
            }
        }
        for an in &outcome.plan.anomalies {
            println!("anomaly: {an}");
        }
        for (id, why) in &outcome.refused {
            println!("not removed {}: {why}", &id[..8]);
        }
        if a.dry_run {
            println!("dry run: nothing was removed");
        } else {
            println!(
                "removed {} generation(s); run `kura prune` to free their space",
                outcome.removed.len()
            );
        }
    }
    if !a.dry_run {
        record(
            "forget",
            &repo.backend().location(),
            Outcome::Success,
            json!({"removed": outcome.removed, "refused": outcome.refused.len()}),
        );
        if a.prune {
            return prune(
                g,
                &PruneArgs {
                    dry_run: false,
                    grace: "24h".into(),
                    repack_unused: 25.0,
                    now: None,
                },
            );
        }
    }
    Ok(exit::SUCCESS)
}

pub fn prune(g: &Global, a: &PruneArgs) -> Result<i32> {
    let repo = open::open(g)?;
    let grace = parse_duration(&a.grace).context("--grace")?;
    if !(0.0..=100.0).contains(&a.repack_unused) {
        bail!("--repack-unused must be a percentage between 0 and 100");
    }
    let now = match &a.now {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .context("--now")?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let opts = PruneOptions {
        grace,
        repack_unused_percent: a.repack_unused,
        now,
    };
    let plan = plan_prune(&repo, &opts)?;
    if !g.json && !g.quiet {
        println!(
            "{} generation(s) reference {} blob(s) in {} pack(s)",
            plan.generations, plan.referenced_blobs, plan.packs
        );
        println!(
            "plan: delete {} pack(s) ({}), mark {} unused, repack {}, unmark {}, {} waiting for the grace period ({}), {} too young to judge",
            plan.delete.len(),
            human_bytes(plan.bytes_to_free),
            plan.mark.len(),
            plan.repack.len(),
            plan.unmark.len(),
            plan.waiting.len(),
            format_duration(grace),
            plan.too_young
        );
        if let Some((_, until)) = plan.waiting.iter().min_by_key(|(_, t)| *t) {
            println!(
                "the first marked pack can be deleted after {}",
                until.with_timezone(&JST).format("%Y-%m-%d %H:%M JST")
            );
        }
        let locked: Vec<_> = plan.store_locked.iter().map(|(_, t)| *t).collect();
        print_store_locked("pack(s) left in place", &locked);
    }
    if a.dry_run {
        if g.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"dry_run": true, "plan": plan}))?
            );
        } else {
            println!("dry run: nothing was changed");
        }
        return Ok(exit::SUCCESS);
    }
    let summary = execute_prune(&repo, &plan, &opts)?;
    record(
        "prune",
        &repo.backend().location(),
        Outcome::Success,
        serde_json::to_value(&summary)?,
    );
    if g.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"dry_run": false, "plan": plan, "summary": summary})
            )?
        );
    } else if !g.quiet {
        println!(
            "freed {} by deleting {} pack(s); repacked {} pack(s) ({} blobs); {} pack(s) marked unused",
            human_bytes(summary.bytes_freed),
            summary.packs_deleted,
            summary.packs_repacked,
            summary.blobs_repacked,
            summary.packs_marked
        );
        let locked: Vec<_> = summary.store_locked.iter().map(|l| l.until).collect();
        print_store_locked("more file(s) the store refused to delete", &locked);
    }
    Ok(exit::SUCCESS)
}

/// Say what prune leaves because the store locks it (S3 Object Lock), and until when.
fn print_store_locked(what: &str, until: &[chrono::DateTime<Utc>]) {
    let (Some(first), Some(last)) = (until.iter().min(), until.iter().max()) else {
        return;
    };
    let fmt = |t: &chrono::DateTime<Utc>| {
        t.with_timezone(&JST)
            .format("%Y-%m-%d %H:%M JST")
            .to_string()
    };
    println!(
        "{} {what}: locked at the store (Object Lock) until {} (the last until {}); a prune after that deletes them",
        until.len(),
        fmt(first),
        fmt(last)
    );
}

pub fn lock(g: &Global, a: &LockArgs) -> Result<i32> {
    let repo = open::open_with_index(g)?;
    let snap = repo.resolve_snapshot(&a.snapshot)?;
    let now = Utc::now();
    let until = parse_date_or_time(&a.until, JST).context("--until")?;
    let state = repo.retention_state()?;
    let current = kura_engine::retention::lock_until(&snap, &state);
    let until = match check_lock_change(current, until, now) {
        Ok(t) => t,
        Err(e) => {
            record(
                "lock.extend",
                &snap.id.to_hex(),
                Outcome::Denied,
                json!({"requested": until, "current": current, "why": e.to_string()}),
            );
            bail!("{e}");
        }
    };
    repo.save_meta(&MetaRecord::Lock {
        snapshot: snap.id,
        until,
        created_at: now,
        actor: actor(),
    })?;
    record(
        "lock.extend",
        &snap.id.to_hex(),
        Outcome::Success,
        json!({"until": until}),
    );
    if g.json {
        println!(
            "{}",
            json!({"snapshot": snap.id.to_hex(), "locked_until": until})
        );
    } else {
        println!(
            "generation {} is locked until {}",
            snap.id.short(),
            until.with_timezone(&JST).format("%Y-%m-%d %H:%M JST")
        );
    }
    crate::cmd::store_lock::extend_and_report(g, &repo, &snap, until)?;
    Ok(exit::SUCCESS)
}

pub fn hold(g: &Global, c: &HoldCommand) -> Result<i32> {
    let repo = open::open(g)?;
    let now = Utc::now();
    match c {
        HoldCommand::Add { snapshot, reason } | HoldCommand::Remove { snapshot, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason must say why (a case number, an investigation)");
            }
            let snap = repo.resolve_snapshot(snapshot)?;
            let (action, name) = match c {
                HoldCommand::Add { .. } => (HoldAction::Add, "hold.add"),
                _ => (HoldAction::Release, "hold.remove"),
            };
            repo.save_meta(&MetaRecord::Hold {
                snapshot: snap.id,
                action,
                reason: reason.clone(),
                created_at: now,
                actor: actor(),
            })?;
            record(
                name,
                &snap.id.to_hex(),
                Outcome::Success,
                json!({"reason": reason}),
            );
            if !g.quiet {
                println!(
                    "{} legal hold on generation {}",
                    if action == HoldAction::Add {
                        "placed"
                    } else {
                        "released"
                    },
                    snap.id.short()
                );
            }
        }
        HoldCommand::List => {
            let state = repo.retention_state()?;
            if g.json {
                let v: Vec<_> = state
                    .holds
                    .iter()
                    .map(|(id, h)| json!({"snapshot": id.to_hex(), "holds": h}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (id, holds) in &state.holds {
                    for h in holds {
                        println!(
                            "{}  {}  by {}  {}",
                            id.short(),
                            h.added_at.with_timezone(&JST).format("%Y-%m-%d"),
                            h.added_by,
                            h.reason
                        );
                    }
                }
            }
        }
    }
    Ok(exit::SUCCESS)
}

pub fn policy(g: &Global, c: &PolicyCommand) -> Result<i32> {
    let repo = open::open(g)?;
    let state = repo.retention_state()?;
    match c {
        PolicyCommand::Show => {
            let p = state.policy.clone().unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
        PolicyCommand::Set {
            keep,
            min_lock_days,
        } => {
            let mut p = policy_from(keep)?.unwrap_or_default();
            p.min_lock_days = *min_lock_days;
            let current = state.policy.clone().unwrap_or_default();
            if p.min_lock_days.is_none() {
                p.min_lock_days = current.min_lock_days;
            }
            check_policy_change(&current, &p).map_err(|e| anyhow::anyhow!("{e}"))?;
            if p.validate().is_err() && p.min_lock_days.is_none() {
                bail!("give at least one --keep-* rule or --min-lock-days");
            }
            repo.save_meta(&MetaRecord::Policy {
                policy: p.clone(),
                created_at: Utc::now(),
                actor: actor(),
            })?;
            record(
                "config.change",
                "retention-policy",
                Outcome::Success,
                serde_json::to_value(&p)?,
            );
            if !g.quiet {
                println!("stored policy: {}", serde_json::to_string(&p)?);
            }
        }
    }
    Ok(exit::SUCCESS)
}

pub fn repair(g: &Global, c: &RepairCommand) -> Result<i32> {
    let repo = open::open(g)?;
    match c {
        RepairCommand::Index => {
            let s = kura_engine::repair::repair_index(&repo)?;
            record(
                "repair.index",
                &repo.backend().location(),
                Outcome::Success,
                serde_json::to_value(&s)?,
            );
            if g.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!(
                    "indexed {} blob(s) in {} pack(s); replaced {} index file(s)",
                    s.blobs_indexed, s.packs_indexed, s.index_files_replaced
                );
                for d in &s.damaged_packs {
                    eprintln!("damaged pack, not indexed: {d}");
                }
            }
            Ok(if s.damaged_packs.is_empty() {
                exit::SUCCESS
            } else {
                exit::WARNINGS
            })
        }
    }
}
