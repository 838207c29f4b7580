//! Small builders shared by the unit tests.

use std::path::PathBuf;

use crate::plan::{Plan, PlanHeader, Priority, System};

/// A system with the given dependencies, `1h` RPO, `4h` RTO and one source of its own name.
pub fn sys(name: &str, priority: Priority, deps: &[&str]) -> System {
    System {
        name: name.to_string(),
        title: None,
        priority,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        rpo: "1h".into(),
        rto: "4h".into(),
        sources: vec![name.to_string()],
        restore_to: Some(PathBuf::from(format!("/restore/{name}"))),
        drill_to: None,
        responsible: None,
        verify: Vec::new(),
        notes: None,
    }
}

/// A plan holding these systems.
pub fn plan_of(systems: Vec<System>) -> Plan {
    Plan {
        plan: PlanHeader {
            hospital: "Test Hospital".into(),
            timezone: "+09:00".into(),
            scratch_dir: Some(PathBuf::from("/scratch")),
            default_restore_mib_per_s: None,
            owner: None,
            revision: None,
            env: Default::default(),
        },
        systems,
    }
}
