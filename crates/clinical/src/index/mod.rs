//! The clinical index: per-file extracts plus the per-patient summaries resolved from them.
//!
//! Incremental by construction. The index stores one [`FileExtract`] per file, keyed by
//! relative path and the caller's content id. The next backup passes the previous extracts to
//! [`ClinicalIndexBuilder::with_extracts`] (read with [`ClinicalIndex::extracts_from_json`],
//! which does not resolve summaries); for every file it first asks
//! [`ClinicalIndexBuilder::keep_unchanged`], which moves the old extract over when the content
//! id matches, and only otherwise reads the bytes with [`ClinicalIndexBuilder::add_file`].
//! Files absent from the new run simply disappear. [`ClinicalIndexBuilder::finish`] resolves
//! versions (SS-MIX2 condition flags, re-sent JP-CLINS Bundle-IDs) into [`PatientSummary`]s.
//!
//! Serialization ([`ClinicalIndex::to_json`]) stores only the extracts, the `as_of` date and
//! the report; summaries are rebuilt on load (`serde(try_from)`). Fields an SS-MIX2 path
//! determines (record key, version, flag) are not stored either. Resolving 100,000 patients on
//! every lookup is far too slow, so the repository also stores the resolved summaries in
//! shards ([`shard_of`]) and the [`PatientTable`] (kura-engine `clinical_store`, FORMAT.md
//! §15.1); this crate stays pure and defines only what those documents hold.
//!
//! Size (measured by `tests/synth_roundtrip.rs` on synthetic patients with ~21 files each and
//! 64-hex content ids): about 14 KB of JSON per patient, i.e. ~1.4 GB for 100,000 patients;
//! gzip brings it to ~0.7 KB and zstd -3 to ~0.5 KB per patient (~50 MB per 100,000). Store
//! it compressed. Size grows with the number of files per patient, not with their bytes.
//! (kura-engine's `clinical_index_at_scale` measured 952 MB of extracts JSON for 100,000
//! patients with ~17 files each, stored as ~74 MB with the shards and tables.)

mod extract;
mod resolve;
mod table;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use self::extract::{FileExtract, FileFormat, FileOutcome};
pub use self::resolve::{AdmissionState, AdmissionStatus, PatientSummary, UncertainRecord};
pub use self::table::{shard_of, PatientTable, WardEntry};
use crate::error::ClinicalError;
use crate::model::Sex;

/// Serialized format version of [`ClinicalIndex`].
pub const INDEX_FORMAT_VERSION: u32 = 1;

/// Days of prescriptions and injections a summary shows, counted back from `as_of`.
pub const MEDICATION_WINDOW_DAYS: i64 = 90;

/// Counts an operator reads after an index run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ParseReport {
    /// Files in the index.
    pub files: usize,
    /// Files whose bytes were read in this run.
    pub parsed: usize,
    /// Files whose previous extract was reused (content id unchanged).
    pub reused: usize,
    /// SS-MIX2 files flagged 0/2 (name only).
    pub retired: usize,
    /// Files skipped, by [`crate::SkipReason::key`].
    pub skipped: BTreeMap<String, usize>,
    /// Records whose newest state is a delete.
    pub deleted_records: usize,
    /// Records with only replaced (`_2`) versions: state uncertain, see the summaries.
    pub uncertain_records: usize,
    /// Files with facts but no identifiable patient.
    pub unassigned_files: usize,
    /// Files with warnings (lossy decode, dropped resources).
    pub files_with_warnings: usize,
    pub patients: usize,
}

impl ParseReport {
    /// Total number of skipped files.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// A row in a patient list (search results, ward list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientBrief {
    pub patient_id: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub sex: Sex,
    pub birth_date: Option<NaiveDate>,
    pub admission: Option<AdmissionStatus>,
}

/// Builds a [`ClinicalIndex`], reusing a previous one's extracts for unchanged files.
#[derive(Debug)]
pub struct ClinicalIndexBuilder {
    previous: HashMap<String, FileExtract>,
    files: BTreeMap<String, FileExtract>,
    parsed: usize,
    reused: usize,
}

impl ClinicalIndexBuilder {
    pub fn new(previous: Option<ClinicalIndex>) -> Self {
        ClinicalIndexBuilder::with_extracts(previous.map(|p| p.files).unwrap_or_default())
    }

    /// A builder reusing `previous` extracts (from [`ClinicalIndex::extracts_from_json`]): no
    /// summaries are resolved for them, which at 100,000 patients saves most of the load.
    pub fn with_extracts(previous: BTreeMap<String, FileExtract>) -> Self {
        ClinicalIndexBuilder {
            previous: previous.into_iter().collect(),
            files: BTreeMap::new(),
            parsed: 0,
            reused: 0,
        }
    }

    /// Reuse the previous extract of `rel_path` if its content id equals `content_id`.
    /// Returns false when the file must be read with [`Self::add_file`].
    pub fn keep_unchanged(&mut self, rel_path: &str, content_id: &str) -> bool {
        match self.previous.get(rel_path) {
            Some(ex) if ex.content_id == content_id => {
                if let Some(ex) = self.previous.remove(rel_path) {
                    self.files.insert(rel_path.to_string(), ex);
                    self.reused += 1;
                }
                true
            }
            _ => false,
        }
    }

    /// Read one file and add its extract (replacing any earlier one for the same path).
    pub fn add_file(
        &mut self,
        rel_path: &str,
        content_id: &str,
        bytes: &[u8],
        format: FileFormat,
    ) -> &FileExtract {
        let ex = FileExtract::read(rel_path, content_id, bytes, format);
        self.add_extract(ex)
    }

    /// Add an extract computed elsewhere (e.g. on another thread with [`FileExtract::read`]).
    pub fn add_extract(&mut self, extract: FileExtract) -> &FileExtract {
        self.parsed += 1;
        let key = extract.rel_path.clone();
        self.files.insert(key.clone(), extract);
        &self.files[&key]
    }

    /// Number of files read (not reused) so far.
    pub fn parsed_count(&self) -> usize {
        self.parsed
    }

    /// Resolve versions and build per-patient summaries as of `as_of` (the 90-day medication
    /// window ends there).
    pub fn finish(self, as_of: NaiveDate) -> ClinicalIndex {
        let mut index = ClinicalIndex {
            as_of,
            files: self.files,
            report: ParseReport::default(),
            patients: BTreeMap::new(),
            table: PatientTable::default(),
        };
        index.rebuild();
        index.report.parsed = self.parsed;
        index.report.reused = self.reused;
        index
    }
}

/// The clinical index of one backup generation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "IndexRepr")]
pub struct ClinicalIndex {
    as_of: NaiveDate,
    files: BTreeMap<String, FileExtract>,
    report: ParseReport,
    patients: BTreeMap<String, PatientSummary>,
    /// Briefs and search keys of `patients`.
    table: PatientTable,
}

#[derive(Serialize)]
struct IndexReprRef<'a> {
    format_version: u32,
    as_of: NaiveDate,
    report: &'a ParseReport,
    files: Vec<&'a FileExtract>,
}

#[derive(Deserialize)]
struct IndexRepr {
    format_version: u32,
    as_of: NaiveDate,
    report: ParseReport,
    files: Vec<FileExtract>,
}

impl Serialize for ClinicalIndex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        IndexReprRef {
            format_version: INDEX_FORMAT_VERSION,
            as_of: self.as_of,
            report: &self.report,
            files: self.files.values().collect(),
        }
        .serialize(serializer)
    }
}

impl TryFrom<IndexRepr> for ClinicalIndex {
    type Error = String;

    fn try_from(repr: IndexRepr) -> Result<Self, Self::Error> {
        if repr.format_version != INDEX_FORMAT_VERSION {
            return Err(ClinicalError::IndexVersion {
                found: repr.format_version,
                supported: INDEX_FORMAT_VERSION,
            }
            .to_string());
        }
        let mut index = ClinicalIndex {
            as_of: repr.as_of,
            files: repr
                .files
                .into_iter()
                .map(|mut f| {
                    f.rederive();
                    (f.rel_path.clone(), f)
                })
                .collect(),
            report: repr.report,
            patients: BTreeMap::new(),
            table: PatientTable::default(),
        };
        let (parsed, reused) = (index.report.parsed, index.report.reused);
        index.rebuild();
        index.report.parsed = parsed;
        index.report.reused = reused;
        Ok(index)
    }
}

impl ClinicalIndex {
    /// Serialize as compact JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, ClinicalError> {
        serde_json::to_vec(self).map_err(ClinicalError::IndexEncode)
    }

    /// Load an index written by [`Self::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<ClinicalIndex, ClinicalError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The extracts of an index written by [`Self::to_json`], by relative path, without
    /// resolving summaries: what the next backup reuses.
    pub fn extracts_from_json(
        bytes: &[u8],
    ) -> Result<BTreeMap<String, FileExtract>, ClinicalError> {
        let repr: IndexRepr = serde_json::from_slice(bytes)?;
        if repr.format_version != INDEX_FORMAT_VERSION {
            return Err(ClinicalError::IndexVersion {
                found: repr.format_version,
                supported: INDEX_FORMAT_VERSION,
            });
        }
        Ok(repr
            .files
            .into_iter()
            .map(|mut f| {
                f.rederive();
                (f.rel_path.clone(), f)
            })
            .collect())
    }

    fn rebuild(&mut self) {
        let (patients, report) = resolve::resolve(&self.files, self.as_of);
        self.patients = patients;
        self.report = report;
        self.table = PatientTable::new(self.patients.values().map(brief_of).collect());
    }

    /// The date the medication window ends at.
    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    pub fn report(&self) -> &ParseReport {
        &self.report
    }

    /// All file extracts, by relative path.
    pub fn files(&self) -> &BTreeMap<String, FileExtract> {
        &self.files
    }

    /// The summary of one patient.
    pub fn summary(&self, patient_id: &str) -> Option<PatientSummary> {
        self.patients.get(patient_id).cloned()
    }

    /// Patient IDs in the index, sorted.
    pub fn patient_ids(&self) -> impl Iterator<Item = &str> {
        self.patients.keys().map(String::as_str)
    }

    /// Every patient's summary, by patient ID.
    pub fn summaries(&self) -> impl Iterator<Item = &PatientSummary> {
        self.patients.values()
    }

    /// The briefs and search keys of every patient.
    pub fn table(&self) -> &PatientTable {
        &self.table
    }

    /// Patients whose kana (or kanji) name contains `query` after normalisation (half-width,
    /// hiragana and spaces folded). Prefix matches come first, then other matches, each in
    /// kana order. An empty query matches nothing.
    pub fn search_kana(&self, query: &str) -> Vec<PatientBrief> {
        self.table.search_kana(query)
    }

    /// Patients born on `date`.
    pub fn search_birth(&self, date: NaiveDate) -> Vec<PatientBrief> {
        self.table.search_birth(date)
    }

    /// Currently admitted patients, ordered by ward, room, bed.
    pub fn inpatients(&self) -> Vec<PatientBrief> {
        self.table.inpatients()
    }

    /// The printed ward list: current inpatients (of `ward`, if given) ordered by ward, room
    /// and bed, with their allergies and current prescriptions and injections.
    pub fn ward_list(&self, ward: Option<&str>) -> Vec<WardEntry> {
        self.inpatients()
            .into_iter()
            .filter(|b| ward.is_none_or(|w| b.admission.as_ref().is_some_and(|a| a.ward == w)))
            .filter_map(|b| {
                let s = self.patients.get(&b.patient_id)?;
                Some(WardEntry {
                    allergies: s.allergies.clone(),
                    medications: s.medications.clone(),
                    patient: b,
                })
            })
            .collect()
    }
}

/// The search-table row of a summary.
pub fn brief_of(p: &PatientSummary) -> PatientBrief {
    PatientBrief {
        patient_id: p.patient_id.clone(),
        name_kanji: p.name_kanji.clone(),
        name_kana: p.name_kana.clone(),
        sex: p.sex,
        birth_date: p.birth_date,
        admission: p.admission.clone(),
    }
}

#[cfg(test)]
mod tests;
