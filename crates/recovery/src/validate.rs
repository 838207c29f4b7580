//! `kura plan check`: every mistake in a plan, reported at once.
//!
//! A plan is read by people under stress, so a check lists all problems in one pass (not the
//! first one only) and each message names the system, the field and what to do. Findings are
//! errors (the plan cannot be used) or warnings (the plan works but is probably not what the
//! hospital meant, e.g. a P1 system waiting for a P3 one).

use std::collections::{BTreeMap, BTreeSet};

use chrono::FixedOffset;
use thiserror::Error;

use crate::order::{positions, restore_order};
use crate::plan::{Check, Plan, System};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The plan cannot be used as written.
    Error,
    /// The plan works, but probably not as intended.
    Warning,
}

/// One problem found in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("the plan has no [[system]]: add one table per system to protect")]
    NoSystems,
    #[error("a system has an empty name: give every [[system]] a short unique name")]
    EmptyName,
    #[error("system {name:?} is defined {count} times: system names must be unique")]
    DuplicateName { name: String, count: usize },
    #[error("system {system:?} lists no sources: name the Kura sources (kura backup --source NAME) that hold it")]
    NoSources { system: String },
    #[error("system {system:?}: source {source_name:?} is not in the repository (known sources: {known}); check the spelling or back it up first")]
    UnknownSource {
        system: String,
        source_name: String,
        known: String,
    },
    #[error("system {system:?} depends on {dependency:?}, which is not a system of this plan")]
    UnknownDependency { system: String, dependency: String },
    #[error("dependency cycle: {}; no system in it could ever be restored first, remove one of these depends_on entries", .cycle.join(" → "))]
    Cycle { cycle: Vec<String> },
    #[error("system {system:?}: {field} {value:?} is not a duration: {message}")]
    BadDuration {
        system: String,
        field: &'static str,
        value: String,
        message: String,
    },
    #[error("system {system:?}: {field} is zero; no backup or restore can meet that, write the real target (e.g. 15m)")]
    ZeroDuration { system: String, field: &'static str },
    #[error("system {system:?} has no restore_to: say which directory a real restore writes to")]
    MissingRestoreTo { system: String },
    #[error("system {system:?} ({priority}) depends on {dependency:?} ({dependency_priority}): the {priority} system cannot come back before the lower-priority one; raise its priority or remove the dependency")]
    PriorityInversion {
        system: String,
        priority: crate::Priority,
        dependency: String,
        dependency_priority: crate::Priority,
    },
    #[error("system {system:?}, check {check:?}: {problem}")]
    BadCheck {
        system: String,
        check: String,
        problem: String,
    },
    #[error("timezone {value:?} is not a UTC offset: write it like +09:00")]
    BadTimezone { value: String },
}

impl PlanError {
    /// Whether the plan is unusable ([`Severity::Error`]) or merely suspicious.
    pub fn severity(&self) -> Severity {
        match self {
            PlanError::PriorityInversion { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// Checks a plan against the sources that exist in the repository.
///
/// Returns `Ok` when there is no error (warnings alone do not fail); otherwise every finding,
/// errors first, warnings after. Use [`lint`] to see warnings of a valid plan too.
pub fn validate(plan: &Plan, known_sources: &[String]) -> Result<(), Vec<PlanError>> {
    let findings = lint(plan, known_sources);
    if findings.iter().any(PlanError::is_error) {
        Err(findings)
    } else {
        Ok(())
    }
}

/// Every finding, errors first then warnings, each group in plan-file order.
pub fn lint(plan: &Plan, known_sources: &[String]) -> Vec<PlanError> {
    let mut out = Vec::new();
    if plan.systems.is_empty() {
        out.push(PlanError::NoSystems);
    }
    if parse_offset(&plan.plan.timezone).is_none() {
        out.push(PlanError::BadTimezone {
            value: plan.plan.timezone.clone(),
        });
    }
    check_names(plan, &mut out);
    let known: BTreeSet<&str> = known_sources.iter().map(String::as_str).collect();
    for system in &plan.systems {
        check_system(plan, system, &known, &mut out);
    }
    out.extend(find_cycles(plan));
    check_checks(plan, &mut out);
    // Stable sort keeps file order inside each severity.
    out.sort_by_key(PlanError::severity);
    out
}

/// Parses `+09:00`, `-05:30` or `Z` into an offset.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    if text == "Z" || text == "UTC" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn check_names(plan: &Plan, out: &mut Vec<PlanError>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &plan.systems {
        *counts.entry(s.name.as_str()).or_default() += 1;
    }
    if counts.contains_key("") {
        out.push(PlanError::EmptyName);
    }
    let mut reported = BTreeSet::new();
    for s in &plan.systems {
        let count = counts[s.name.as_str()];
        if count > 1 && !s.name.is_empty() && reported.insert(s.name.as_str()) {
            out.push(PlanError::DuplicateName {
                name: s.name.clone(),
                count,
            });
        }
    }
}

fn check_system(plan: &Plan, s: &System, known: &BTreeSet<&str>, out: &mut Vec<PlanError>) {
    let system = || s.name.clone();
    if s.sources.is_empty() {
        out.push(PlanError::NoSources { system: system() });
    }
    for source in &s.sources {
        if !known.contains(source.as_str()) {
            out.push(PlanError::UnknownSource {
                system: system(),
                source_name: source.clone(),
                known: known_list(known),
            });
        }
    }
    for dep in &s.depends_on {
        match plan.system(dep) {
            None => out.push(PlanError::UnknownDependency {
                system: system(),
                dependency: dep.clone(),
            }),
            Some(d) if d.priority > s.priority => out.push(PlanError::PriorityInversion {
                system: system(),
                priority: s.priority,
                dependency: dep.clone(),
                dependency_priority: d.priority,
            }),
            Some(_) => {}
        }
    }
    for (field, value) in [("rpo", &s.rpo), ("rto", &s.rto)] {
        match kura_policy::parse_duration(value) {
            Err(e) => out.push(PlanError::BadDuration {
                system: system(),
                field,
                value: value.clone(),
                message: e.to_string(),
            }),
            Ok(d) if d.is_zero() => out.push(PlanError::ZeroDuration {
                system: system(),
                field,
            }),
            Ok(_) => {}
        }
    }
    if s.restore_to.is_none() {
        out.push(PlanError::MissingRestoreTo { system: system() });
    }
}

fn known_list(known: &BTreeSet<&str>) -> String {
    if known.is_empty() {
        "none: the repository has no generations yet".to_string()
    } else {
        known.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

/// Every elementary cycle reachable by depth-first search in file order, each reported
/// once, starting at the system listed first in the file ("ehr-db → orders → ehr-db").
fn find_cycles(plan: &Plan) -> Vec<PlanError> {
    let index: BTreeMap<&str, usize> = plan
        .systems
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = finished.
    let mut state = vec![0u8; plan.systems.len()];
    let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut out = Vec::new();
    for start in 0..plan.systems.len() {
        if state[start] == 0 {
            let mut path = Vec::new();
            dfs(
                plan, &index, start, &mut state, &mut path, &mut seen, &mut out,
            );
        }
    }
    out
}

fn dfs(
    plan: &Plan,
    index: &BTreeMap<&str, usize>,
    node: usize,
    state: &mut [u8],
    path: &mut Vec<usize>,
    seen: &mut BTreeSet<Vec<String>>,
    out: &mut Vec<PlanError>,
) {
    state[node] = 1;
    path.push(node);
    for dep in &plan.systems[node].depends_on {
        let Some(&next) = index.get(dep.as_str()) else {
            continue;
        };
        match state[next] {
            0 => dfs(plan, index, next, state, path, seen, out),
            1 => {
                let from = path.iter().position(|&n| n == next).unwrap_or(0);
                let mut members: Vec<usize> = path[from..].to_vec();
                // Rotate so the cycle starts at the system listed first in the file.
                let min_pos = members
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, &n)| n)
                    .map_or(0, |(i, _)| i);
                members.rotate_left(min_pos);
                let mut names: Vec<String> = members
                    .iter()
                    .map(|&n| plan.systems[n].name.clone())
                    .collect();
                names.push(names[0].clone());
                if seen.insert(names.clone()) {
                    out.push(PlanError::Cycle { cycle: names });
                }
            }
            _ => {}
        }
    }
    path.pop();
    state[node] = 2;
}

/// Checks of the `verify` commands: shape, timeouts and `same_as` references, which must
/// point at a check that runs earlier in a drill (drills run systems in restore order and
/// checks in file order).
fn check_checks(plan: &Plan, out: &mut Vec<PlanError>) {
    let pos = positions(&restore_order(plan));
    for s in &plan.systems {
        let mut names = BTreeSet::new();
        for (i, c) in s.verify.iter().enumerate() {
            let mut bad = |problem: String| {
                out.push(PlanError::BadCheck {
                    system: s.name.clone(),
                    check: c.name.clone(),
                    problem,
                })
            };
            if !names.insert(c.name.as_str()) {
                bad("the check name is used twice in this system".into());
            }
            if let Some(problem) = check_shape(c) {
                bad(problem);
            }
            if let Some(target) = &c.expect.same_as {
                if let Some(problem) = same_as_problem(plan, s, i, target, &pos) {
                    bad(problem);
                }
            }
        }
    }
}

fn check_shape(c: &Check) -> Option<String> {
    if c.name.is_empty() || c.name.contains('/') {
        return Some("a check needs a name without '/'".into());
    }
    match (&c.command, &c.shell) {
        (None, None) => return Some("give either command = [...] or shell = \"...\"".into()),
        (Some(_), Some(_)) => return Some("give command or shell, not both".into()),
        (Some(cmd), None) if cmd.first().is_none_or(|p| p.is_empty()) => {
            return Some("command is empty: its first element is the program to run".into())
        }
        _ => {}
    }
    if let Some(t) = &c.timeout {
        match kura_policy::parse_duration(t) {
            Err(e) => return Some(format!("timeout: {e}")),
            Ok(d) if d.is_zero() => return Some("timeout is zero".into()),
            Ok(_) => {}
        }
    }
    if c.expect.output_conditions() > 1 {
        return Some("expect may hold only one of output, at_least, same_as".into());
    }
    None
}

fn same_as_problem(
    plan: &Plan,
    s: &System,
    index: usize,
    target: &str,
    pos: &BTreeMap<String, (usize, usize)>,
) -> Option<String> {
    let (sys_name, check_name) = target.split_once('/').unwrap_or((&s.name, target));
    let Some(other) = plan.system(sys_name) else {
        return Some(format!(
            "same_as {target:?}: there is no system {sys_name:?}"
        ));
    };
    let Some(other_index) = other.verify.iter().position(|c| c.name == check_name) else {
        return Some(format!(
            "same_as {target:?}: system {sys_name:?} has no check {check_name:?}"
        ));
    };
    let earlier = if other.name == s.name {
        other_index < index
    } else {
        let p = |n: &str| pos.get(n).map_or(usize::MAX, |p| p.0);
        p(&other.name) < p(&s.name)
    };
    if earlier {
        None
    } else {
        Some(format!(
            "same_as {target:?}: that check runs later in a drill, so its output is not known \
             yet; move it earlier (drills verify systems in restore order, checks in file order)"
        ))
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
