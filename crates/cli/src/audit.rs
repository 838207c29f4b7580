//! The local audit log: privileged actions run against a local repository (init, keys, forget,
//! prune, locks, holds, policy) are appended to a hash-chained log (kura-audit). A vault keeps its
//! own log; this one covers the embedded default. Location: `KURA_AUDIT_LOG`, else
//! `$XDG_STATE_HOME/kura/audit.jsonl` (`~/.local/state/kura/audit.jsonl`).

use std::path::PathBuf;

use kura_audit::{AuditEvent, AuditLog, Outcome};

fn log_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("KURA_AUDIT_LOG") {
        return Some(PathBuf::from(p));
    }
    let state = std::env::var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .ok()
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("kura").join("audit.jsonl"))
}

fn actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{user}@{}", host.trim())
}

/// Append one entry. A failure to write the log is reported but does not undo the action.
pub fn record(action: &str, target: &str, outcome: Outcome, details: serde_json::Value) {
    let Some(path) = log_path() else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let event = AuditEvent::now(actor(), action, target, outcome).with_details(details);
    if let Err(e) = AuditLog::open(&path).and_then(|log| log.append(event).map(|_| ())) {
        eprintln!(
            "warning: could not write the audit log {}: {e}",
            path.display()
        );
    }
}
