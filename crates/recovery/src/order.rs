//! Dependency order: which systems come back first, and which can be restored together.
//!
//! Systems are grouped in *levels* (waves): a system's level is one more than the highest
//! level of anything it depends on, so every system in a level depends only on earlier
//! levels and the systems of one level can be restored in parallel. Within a level the order
//! is priority (P1 first), then the order of the plan file, which is how a hospital reads
//! its own list. The flattened order gives each system its *position* (1, 2, 3, ...), the
//! `restore_order` of `kura plan status --json`.
//!
//! These functions never fail: a dependency on an unknown system is ignored and systems
//! caught in a cycle are put together in one last level, so a status report can still be
//! printed for a broken plan. [`crate::validate`] is what reports those mistakes.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::Plan;

/// The systems in restore levels: `levels[0]` first; each inner list is in restore order.
pub fn restore_order(plan: &Plan) -> Vec<Vec<String>> {
    let names: BTreeSet<&str> = plan.systems.iter().map(|s| s.name.as_str()).collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut levels: Vec<Vec<String>> = Vec::new();
    // Index of the first occurrence of each name: the file-order tie-break.
    let mut first_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in plan.systems.iter().enumerate() {
        first_index.entry(s.name.as_str()).or_insert(i);
    }
    let mut remaining: Vec<(usize, &crate::plan::System)> = plan
        .systems
        .iter()
        .enumerate()
        .filter(|(i, s)| first_index[s.name.as_str()] == *i)
        .collect();
    while !remaining.is_empty() {
        let (mut ready, blocked): (Vec<_>, Vec<_>) = remaining.into_iter().partition(|(_, s)| {
            s.depends_on
                .iter()
                .all(|d| placed.contains(d.as_str()) || !names.contains(d.as_str()))
        });
        if ready.is_empty() {
            // Only cycles (or systems depending on them) are left: one last level.
            ready = blocked;
            ready.sort_by_key(|(i, s)| (s.priority, *i));
            levels.push(ready.iter().map(|(_, s)| s.name.clone()).collect());
            break;
        }
        ready.sort_by_key(|(i, s)| (s.priority, *i));
        for (_, s) in &ready {
            placed.insert(s.name.as_str());
        }
        levels.push(ready.iter().map(|(_, s)| s.name.clone()).collect());
        remaining = blocked;
    }
    levels
}

/// Each system's position in the flattened restore order, starting at 1, and its level
/// (also starting at 1).
pub fn positions(levels: &[Vec<String>]) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    let mut position = 0;
    for (level, names) in levels.iter().enumerate() {
        for name in names {
            position += 1;
            out.insert(name.clone(), (position, level + 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{plan_of, sys};
    use crate::Priority::*;

    #[test]
    fn dependencies_come_in_earlier_levels_and_p1_first_within_a_level() {
        let plan = plan_of(vec![
            sys("scan", P3, &[]),
            sys("orders", P1, &["ehr-db"]),
            sys("lab", P2, &["ehr-db"]),
            sys("ehr-db", P1, &[]),
            sys("ssmix2", P1, &[]),
            sys("pacs", P2, &[]),
        ]);
        let levels = restore_order(&plan);
        assert_eq!(
            levels,
            vec![
                vec!["ehr-db", "ssmix2", "pacs", "scan"],
                vec!["orders", "lab"]
            ]
        );
        let pos = positions(&levels);
        assert_eq!(pos["ehr-db"], (1, 1));
        assert_eq!(pos["scan"], (4, 1));
        assert_eq!(pos["orders"], (5, 2));
        assert_eq!(pos["lab"], (6, 2));
    }

    #[test]
    fn chains_make_one_level_per_step() {
        let plan = plan_of(vec![
            sys("c", P1, &["b"]),
            sys("b", P1, &["a"]),
            sys("a", P1, &[]),
        ]);
        assert_eq!(restore_order(&plan), vec![vec!["a"], vec!["b"], vec!["c"]]);
    }

    #[test]
    fn cycles_and_unknown_dependencies_do_not_panic() {
        let plan = plan_of(vec![
            sys("x", P1, &["y"]),
            sys("y", P2, &["x"]),
            sys("z", P1, &["ghost"]),
            sys("w", P3, &["w"]),
        ]);
        let levels = restore_order(&plan);
        assert_eq!(levels, vec![vec!["z"], vec!["x", "y", "w"]]);
    }

    #[test]
    fn duplicate_names_are_listed_once() {
        let plan = plan_of(vec![sys("a", P1, &[]), sys("a", P2, &[])]);
        assert_eq!(restore_order(&plan), vec![vec!["a"]]);
    }
}
