//! Which generation's clinical index a view reads.
//!
//! During an outage the question is "what did the record say before the attack?". So the
//! default is the newest generation that has an index and is not Suspicious (Clean or not yet
//! judged), and every view states which generation it used, when it was taken and its
//! verdict. `--snapshot` reads a named generation even if it is suspicious: the view says so.
//! A damaged index does not stop a view: it is reported and the next older one is used.

use anyhow::{bail, Result};
use kura_clinical::{ClinicalIndex, PatientSummary};
use kura_engine::detect::verdict_of;
use kura_engine::retention::generations;
use kura_format::BlobId;
use kura_policy::Verdict;
use kura_repo::snapshots::{resolve_in, SnapshotEntry};
use kura_repo::Repository;

use super::store::{self, Manifest};
use crate::args_clinical::ViewArgs;

/// A generation with a clinical index.
#[derive(Clone)]
pub struct Indexed {
    pub entry: SnapshotEntry,
    pub verdict: Verdict,
    pub manifest_id: BlobId,
}

/// An index loaded for viewing.
pub struct Loaded {
    pub gen: Indexed,
    pub manifest: Manifest,
    pub index: ClinicalIndex,
}

/// Suspicious if either retention's view or the stored detection verdict says so; clean if
/// either says clean; unknown otherwise.
fn combine(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Suspicious, _) | (_, Verdict::Suspicious) => Verdict::Suspicious,
        (Verdict::Clean, _) | (_, Verdict::Clean) => Verdict::Clean,
        _ => Verdict::Unknown,
    }
}

/// Generations with a clinical index, newest first, optionally of one source.
pub fn indexed(repo: &Repository, source: Option<&str>) -> Result<Vec<Indexed>> {
    let list = repo.list_snapshots()?.snapshots;
    let records = store::records(repo)?;
    // Locks and holds do not matter for viewing; a damaged record must not block it.
    let state = repo.retention_state().unwrap_or_default();
    let gens = generations(&list, &state);
    let mut out: Vec<Indexed> = list
        .into_iter()
        .zip(gens)
        .filter(|(e, _)| source.is_none_or(|s| e.snapshot.source == s))
        .filter_map(|(entry, g)| {
            let manifest_id = *records.get(&entry.id)?;
            let verdict = combine(g.verdict, verdict_of(&entry.snapshot));
            Some(Indexed {
                entry,
                verdict,
                manifest_id,
            })
        })
        .collect();
    out.reverse();
    Ok(out)
}

pub fn load(repo: &Repository, gen: &Indexed) -> Result<Loaded> {
    let manifest = store::load_manifest(repo, &gen.entry.id, &gen.manifest_id)?;
    let index = store::load_index(repo, &manifest)?;
    Ok(Loaded {
        gen: gen.clone(),
        manifest,
        index,
    })
}

/// The generation named by `--snapshot`, which must have an index.
fn explicit(repo: &Repository, spec: &str, source: Option<&str>) -> Result<Indexed> {
    let list = repo.list_snapshots()?.snapshots;
    let entry = resolve_in(&list, spec)?;
    let all = indexed(repo, source)?;
    match all.into_iter().find(|g| g.entry.id == entry.id) {
        Some(g) => Ok(g),
        None => bail!(
            "generation {} has no clinical index: build one with `kura clinical index --snapshot {} --format ss-mix2` (or fhir)",
            entry.id.short(),
            entry.id.short()
        ),
    }
}

fn no_index_error(source: Option<&str>) -> anyhow::Error {
    let which = source
        .map(|s| format!(" of source {s}"))
        .unwrap_or_default();
    anyhow::anyhow!(
        "no clean generation{which} has a clinical index: back up clinical sources with `kura backup --clinical ss-mix2|fhir`, or name a generation with --snapshot"
    )
}

/// The summary of `patient` from the newest clean generation holding them (or the one named).
pub fn find_patient(
    repo: &Repository,
    view: &ViewArgs,
    patient: &str,
) -> Result<(Loaded, PatientSummary)> {
    let source = view.source.as_deref();
    if let Some(spec) = &view.snapshot {
        let loaded = load(repo, &explicit(repo, spec, source)?)?;
        return match loaded.index.summary(patient) {
            Some(s) => Ok((loaded, s)),
            None => bail!(
                "patient {patient} is not in the clinical index of generation {}",
                loaded.gen.entry.id.short()
            ),
        };
    }
    let mut suspicious = Vec::new();
    let mut searched = 0;
    for gen in indexed(repo, source)? {
        if gen.verdict == Verdict::Suspicious {
            suspicious.push(gen.entry.id.short());
            continue;
        }
        searched += 1;
        match load(repo, &gen) {
            Ok(l) => {
                if let Some(s) = l.index.summary(patient) {
                    return Ok((l, s));
                }
            }
            Err(e) => eprintln!("warning: {e:#}; trying an older generation"),
        }
    }
    if searched == 0 && suspicious.is_empty() {
        return Err(no_index_error(source));
    }
    let hint = if suspicious.is_empty() {
        String::new()
    } else {
        format!(
            "; suspicious generations not searched: {} (view one with --snapshot ID)",
            suspicious.join(", ")
        )
    };
    bail!("patient {patient} is not in the clinical index of any of {searched} clean generation(s){hint}")
}

/// For lists (search, ward): the newest clean indexed generation of each source, or the one
/// named by `--snapshot`.
pub fn newest_per_source(repo: &Repository, view: &ViewArgs) -> Result<Vec<Loaded>> {
    let source = view.source.as_deref();
    if let Some(spec) = &view.snapshot {
        return Ok(vec![load(repo, &explicit(repo, spec, source)?)?]);
    }
    let mut out: Vec<Loaded> = Vec::new();
    for gen in indexed(repo, source)? {
        let src = &gen.entry.snapshot.source;
        if gen.verdict == Verdict::Suspicious
            || out.iter().any(|l| &l.gen.entry.snapshot.source == src)
        {
            continue;
        }
        match load(repo, &gen) {
            Ok(l) => out.push(l),
            Err(e) => eprintln!("warning: {e:#}; trying an older generation"),
        }
    }
    if out.is_empty() {
        return Err(no_index_error(source));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicious_wins_then_clean_then_unknown() {
        use Verdict::*;
        assert_eq!(combine(Unknown, Suspicious), Suspicious);
        assert_eq!(combine(Clean, Suspicious), Suspicious);
        assert_eq!(combine(Unknown, Clean), Clean);
        assert_eq!(combine(Unknown, Unknown), Unknown);
    }
}
