//! A small seam for the crates that produce audit events (auth, server, engine).
//!
//! They depend on [`AuditSink`] rather than on [`AuditLog`] so that their own tests can
//! record into a [`MemorySink`] and assert what was audited, without files or fsync.

use crate::{AuditError, AuditEvent, AuditLog};
use std::sync::{Mutex, PoisonError};

/// Somewhere audit events go. Implementations must be durable before returning `Ok`
/// (except test doubles), because callers treat `Ok` as "this action is on the record".
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: AuditEvent) -> Result<(), AuditError>;
}

impl AuditSink for AuditLog {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.append(event).map(drop)
    }
}

/// An in-memory sink for tests of other crates.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything recorded so far, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{actions, verify, Outcome};

    fn login(sink: &dyn AuditSink, who: &str) {
        let e = AuditEvent::now(who, actions::LOGIN_FAILED, "console", Outcome::Failure);
        sink.record(e).unwrap();
    }

    #[test]
    fn memory_sink_keeps_events_in_order() {
        let sink = MemorySink::new();
        login(&sink, "a");
        login(&sink, "b");
        let actors: Vec<String> = sink.events().into_iter().map(|e| e.actor).collect();
        assert_eq!(actors, ["a", "b"]);
    }

    #[test]
    fn audit_log_is_a_sink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        login(&log, "a");
        let report = verify(&path, None).unwrap();
        assert_eq!((report.is_ok(), report.entries), (true, 1));
    }
}
