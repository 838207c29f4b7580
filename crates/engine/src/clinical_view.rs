//! Reading the clinical index of a generation for the emergency viewer and `kura clinical`.
//!
//! During an outage the question is "what did the record say before the attack?". So the
//! default is the newest generation that has an index and is not Suspicious (Clean or not yet
//! judged), and every view states which generation it used, when it was taken and its verdict
//! ([`ClinicalView::provenance`]). A named generation can be read even if it is suspicious:
//! the provenance says so. A damaged index does not stop a view: it is skipped, a warning is
//! kept ([`ClinicalView::warnings`]) and the next older generation is used.
//!
//! Loaded indexes are kept in a [`ClinicalCache`] keyed by manifest blob (one per generation
//! and build), so a server answering many lookups decrypts and parses each index once.
//!
//! ```no_run
//! # fn demo(repo: &kura_repo::Repository) -> kura_engine::clinical_store::Result<()> {
//! use kura_engine::clinical_view::{ClinicalCache, ClinicalView};
//! let cache = ClinicalCache::shared();
//! let (view, summary) = ClinicalView::find_patient(repo, cache, None, None, "0012345")?;
//! println!("{} from generation {}", summary.name_kanji, view.provenance().snapshot.short());
//! # Ok(()) }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, NaiveDate, Utc};
pub use kura_clinical::WardEntry;
use kura_clinical::{shard_of, ClinicalIndex, PatientBrief, PatientSummary, PatientTable};
use kura_format::{BlobId, FileId};
use kura_policy::Verdict;
use kura_repo::snapshots::{resolve_in, SnapshotEntry};
use kura_repo::Repository;

use crate::clinical_store::{self, ClinicalStoreError, Manifest, Result};
use crate::detect::verdict_of;
use crate::retention::generations;

/// A generation with a clinical index.
#[derive(Debug, Clone)]
pub struct IndexedGeneration {
    pub entry: SnapshotEntry,
    pub verdict: Verdict,
    pub manifest_id: BlobId,
}

/// Where a view's data comes from: shown on every page and in every JSON answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub snapshot: FileId,
    pub source: String,
    /// When the backup started.
    pub time: DateTime<Utc>,
    /// When the generation was committed ("taken at" on the pages).
    pub committed_at: DateTime<Utc>,
    pub verdict: Verdict,
    /// `ss-mix2` or `fhir`.
    pub format: String,
    /// The day the 90-day medication window ends at.
    pub as_of: NaiveDate,
}

/// The decoded data of one stored index. A version 2 index is read piece by piece, as
/// lookups need it; a version 1 index is all extracts and is decoded whole.
#[derive(Debug)]
struct Loaded {
    manifest: Manifest,
    whole: Option<ClinicalIndex>,
    shards: Mutex<HashMap<usize, Arc<Vec<PatientSummary>>>>,
    table: Mutex<Option<Arc<PatientTable>>>,
    ward: Mutex<Option<Arc<Vec<WardEntry>>>>,
}

/// Shards kept per cached index; beyond that the shard cache starts afresh (a server that
/// has looked up patients in every shard would otherwise hold the whole index).
const SHARDS_KEPT: usize = 256;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a cache inconsistent: use it anyway.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Loaded {
    fn read(repo: &Repository, snapshot: &FileId, manifest_id: &BlobId) -> Result<Loaded> {
        let manifest = clinical_store::load_manifest(repo, snapshot, manifest_id)?;
        let whole = if manifest.is_sharded() {
            None
        } else {
            Some(clinical_store::load_index(repo, &manifest)?)
        };
        Ok(Loaded {
            manifest,
            whole,
            shards: Mutex::new(HashMap::new()),
            table: Mutex::new(None),
            ward: Mutex::new(None),
        })
    }

    fn shard(&self, repo: &Repository, i: usize) -> Result<Arc<Vec<PatientSummary>>> {
        if let Some(s) = lock(&self.shards).get(&i) {
            return Ok(s.clone());
        }
        // Read without holding the lock: other lookups go on meanwhile.
        let shard = Arc::new(clinical_store::load_shard(repo, &self.manifest, i)?);
        let mut shards = lock(&self.shards);
        if shards.len() >= SHARDS_KEPT {
            shards.clear();
        }
        shards.insert(i, shard.clone());
        Ok(shard)
    }

    fn summary(&self, repo: &Repository, patient: &str) -> Result<Option<PatientSummary>> {
        if let Some(index) = &self.whole {
            return Ok(index.summary(patient));
        }
        let shard = self.shard(repo, shard_of(patient, self.manifest.shards.len()))?;
        Ok(shard.iter().find(|s| s.patient_id == patient).cloned())
    }

    fn table(&self, repo: &Repository) -> Result<Arc<PatientTable>> {
        if let Some(t) = lock(&self.table).as_ref() {
            return Ok(t.clone());
        }
        let t = Arc::new(match &self.whole {
            Some(index) => index.table().clone(),
            None => clinical_store::load_table(repo, &self.manifest)?,
        });
        *lock(&self.table) = Some(t.clone());
        Ok(t)
    }

    fn ward(&self, repo: &Repository) -> Result<Arc<Vec<WardEntry>>> {
        if let Some(w) = lock(&self.ward).as_ref() {
            return Ok(w.clone());
        }
        let w = Arc::new(match &self.whole {
            Some(index) => index.ward_list(None),
            None => clinical_store::load_ward(repo, &self.manifest)?,
        });
        *lock(&self.ward) = Some(w.clone());
        Ok(w)
    }
}

/// Indexes already decrypted and decoded, keyed by manifest blob id, least recently used
/// dropped first. Cheap to share between threads.
#[derive(Debug)]
pub struct ClinicalCache {
    capacity: usize,
    entries: Mutex<VecDeque<(BlobId, Arc<Loaded>)>>,
}

impl Default for ClinicalCache {
    fn default() -> Self {
        ClinicalCache::new(4)
    }
}

impl ClinicalCache {
    /// A cache holding up to `capacity` indexes (at least one).
    pub fn new(capacity: usize) -> Self {
        ClinicalCache {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// One cache for the whole process (the server's handlers and the CLI share it).
    pub fn shared() -> &'static ClinicalCache {
        static SHARED: OnceLock<ClinicalCache> = OnceLock::new();
        SHARED.get_or_init(ClinicalCache::default)
    }

    /// Forget every cached index.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(BlobId, Arc<Loaded>)>> {
        lock(&self.entries)
    }

    fn get(&self, id: &BlobId) -> Option<Arc<Loaded>> {
        let mut entries = self.lock();
        let pos = entries.iter().position(|(k, _)| k == id)?;
        let hit = entries.remove(pos)?;
        let value = hit.1.clone();
        entries.push_front(hit);
        Some(value)
    }

    fn put(&self, id: BlobId, value: Arc<Loaded>) {
        let mut entries = self.lock();
        entries.retain(|(k, _)| k != &id);
        entries.push_front((id, value));
        entries.truncate(self.capacity);
    }
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

/// Generations with a clinical index, newest first, optionally of one source. Damaged
/// metadata records are skipped and described in `warnings`.
pub fn indexed_generations(
    repo: &Repository,
    source: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Vec<IndexedGeneration>> {
    let list = repo.list_snapshots()?.snapshots;
    let records = clinical_store::records(repo, warnings)?;
    // Locks and holds do not matter for viewing; a damaged record must not block it.
    let state = repo.retention_state().unwrap_or_default();
    let gens = generations(&list, &state);
    let mut out: Vec<IndexedGeneration> = list
        .into_iter()
        .zip(gens)
        .filter(|(e, _)| source.is_none_or(|s| e.snapshot.source == s))
        .filter_map(|(entry, g)| {
            let manifest_id = *records.get(&entry.id)?;
            let verdict = combine(g.verdict, verdict_of(&entry.snapshot));
            Some(IndexedGeneration {
                entry,
                verdict,
                manifest_id,
            })
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// The clinical index of one generation, ready for lookups.
#[derive(Debug, Clone)]
pub struct ClinicalView {
    gen: IndexedGeneration,
    data: Arc<Loaded>,
    warnings: Vec<String>,
}

impl ClinicalView {
    /// Load the index of `gen` (from `cache` when it is there).
    pub fn load(
        repo: &Repository,
        cache: &ClinicalCache,
        gen: &IndexedGeneration,
    ) -> Result<ClinicalView> {
        let data = match cache.get(&gen.manifest_id) {
            Some(d) => d,
            None => {
                let d = Arc::new(Loaded::read(repo, &gen.entry.id, &gen.manifest_id)?);
                cache.put(gen.manifest_id, d.clone());
                d
            }
        };
        Ok(ClinicalView {
            gen: gen.clone(),
            data,
            warnings: Vec::new(),
        })
    }

    /// The newest generation (of `source`, if given) whose index loads and that is not
    /// suspicious.
    pub fn newest_clean(
        repo: &Repository,
        cache: &ClinicalCache,
        source: Option<&str>,
    ) -> Result<ClinicalView> {
        let mut warnings = Vec::new();
        for gen in indexed_generations(repo, source, &mut warnings)? {
            if gen.verdict == Verdict::Suspicious {
                continue;
            }
            match ClinicalView::load(repo, cache, &gen) {
                Ok(mut v) => {
                    v.warnings = warnings;
                    return Ok(v);
                }
                Err(e) => warnings.push(format!("{e}; trying an older generation")),
            }
        }
        Err(ClinicalStoreError::NoIndex {
            of_source: source.map(str::to_string),
        })
    }

    /// The generation named by `spec` (an id prefix or `latest`), suspicious or not; it must
    /// have an index (of `source`, if given).
    pub fn named(
        repo: &Repository,
        cache: &ClinicalCache,
        spec: &str,
        source: Option<&str>,
    ) -> Result<ClinicalView> {
        let list = repo.list_snapshots()?.snapshots;
        let id = resolve_in(&list, spec)?.id;
        let mut warnings = Vec::new();
        let all = indexed_generations(repo, source, &mut warnings)?;
        let gen = all
            .into_iter()
            .find(|g| g.entry.id == id)
            .ok_or(ClinicalStoreError::NotIndexed(id))?;
        let mut view = ClinicalView::load(repo, cache, &gen)?;
        view.warnings = warnings;
        Ok(view)
    }

    /// The summary of `patient` from the newest clean generation holding them, or from the
    /// generation named by `snapshot` (the rule of `kura clinical summary`).
    pub fn find_patient(
        repo: &Repository,
        cache: &ClinicalCache,
        source: Option<&str>,
        snapshot: Option<&str>,
        patient: &str,
    ) -> Result<(ClinicalView, PatientSummary)> {
        if let Some(spec) = snapshot {
            let view = ClinicalView::named(repo, cache, spec, source)?;
            return match view.summary(repo, patient)? {
                Some(s) => Ok((view, s)),
                None => Err(ClinicalStoreError::NotInGeneration {
                    patient: patient.to_string(),
                    snapshot: view.gen.entry.id,
                }),
            };
        }
        let mut warnings = Vec::new();
        let mut suspicious = Vec::new();
        let mut searched = 0;
        for gen in indexed_generations(repo, source, &mut warnings)? {
            if gen.verdict == Verdict::Suspicious {
                suspicious.push(gen.entry.id.short());
                continue;
            }
            searched += 1;
            let found = ClinicalView::load(repo, cache, &gen)
                .and_then(|v| Ok(v.summary(repo, patient)?.map(|s| (v, s))));
            match found {
                Ok(Some((mut v, s))) => {
                    v.warnings = warnings;
                    return Ok((v, s));
                }
                Ok(None) => {}
                Err(e) => warnings.push(format!("{e}; trying an older generation")),
            }
        }
        if searched == 0 && suspicious.is_empty() {
            return Err(ClinicalStoreError::NoIndex {
                of_source: source.map(str::to_string),
            });
        }
        Err(ClinicalStoreError::PatientNotFound {
            patient: patient.to_string(),
            searched,
            suspicious,
        })
    }

    /// For lists (search, ward): the newest clean indexed generation of each source (of
    /// `source` only, if given), or the one named by `snapshot`.
    pub fn newest_per_source(
        repo: &Repository,
        cache: &ClinicalCache,
        source: Option<&str>,
        snapshot: Option<&str>,
    ) -> Result<Vec<ClinicalView>> {
        if let Some(spec) = snapshot {
            return Ok(vec![ClinicalView::named(repo, cache, spec, source)?]);
        }
        let mut warnings = Vec::new();
        let mut out: Vec<ClinicalView> = Vec::new();
        for gen in indexed_generations(repo, source, &mut warnings)? {
            let src = &gen.entry.snapshot.source;
            if gen.verdict == Verdict::Suspicious
                || out.iter().any(|v| &v.gen.entry.snapshot.source == src)
            {
                continue;
            }
            match ClinicalView::load(repo, cache, &gen) {
                Ok(v) => out.push(v),
                Err(e) => warnings.push(format!("{e}; trying an older generation")),
            }
        }
        match out.first_mut() {
            Some(first) => first.warnings = warnings,
            None => {
                return Err(ClinicalStoreError::NoIndex {
                    of_source: source.map(str::to_string),
                })
            }
        }
        Ok(out)
    }

    /// The generation this view reads.
    pub fn generation(&self) -> &IndexedGeneration {
        &self.gen
    }

    /// The stored index's manifest (format, parse report, files not parsed).
    pub fn manifest(&self) -> &Manifest {
        &self.data.manifest
    }

    /// Which generation, when taken, and its verdict.
    pub fn provenance(&self) -> Provenance {
        let s = &self.gen.entry.snapshot;
        Provenance {
            snapshot: self.gen.entry.id,
            source: s.source.clone(),
            time: s.time,
            committed_at: s.committed_at,
            verdict: self.gen.verdict,
            format: self.data.manifest.format.clone(),
            as_of: self.data.manifest.as_of,
        }
    }

    /// Problems met while choosing this view (damaged records, unreadable newer indexes).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The summary of one patient in this generation.
    pub fn summary(&self, repo: &Repository, patient: &str) -> Result<Option<PatientSummary>> {
        self.data.summary(repo, patient)
    }

    /// Patients whose kana (or kanji) name contains `query` (prefix matches first).
    pub fn search_kana(&self, repo: &Repository, query: &str) -> Result<Vec<PatientBrief>> {
        Ok(self.data.table(repo)?.search_kana(query))
    }

    /// Patients born on `date`.
    pub fn search_birth(&self, repo: &Repository, date: NaiveDate) -> Result<Vec<PatientBrief>> {
        Ok(self.data.table(repo)?.search_birth(date))
    }

    /// Current inpatients (of `ward`, if given) ordered by ward, room and bed, with their
    /// allergies and current prescriptions and injections.
    pub fn ward_list(&self, repo: &Repository, ward: Option<&str>) -> Result<Vec<WardEntry>> {
        let all = self.data.ward(repo)?;
        let in_ward = |e: &&WardEntry| {
            ward.is_none_or(|w| e.patient.admission.as_ref().is_some_and(|a| a.ward == w))
        };
        Ok(all.iter().filter(in_ward).cloned().collect())
    }
}

#[cfg(test)]
#[path = "clinical_tests.rs"]
mod clinical_tests;

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
