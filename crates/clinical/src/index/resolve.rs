//! Version resolution and per-patient summaries.
//!
//! Step 1 groups extracts by record key and keeps the winning version of each record:
//! - the newest `_1` (current) file wins;
//! - a `_0` (deleted) file *newer* than that winner removes the record;
//! - a record with only `_2` (replaced) files has lost its current version — typically a
//!   crash between the writer's rename and its write. It is not hidden silently: it is listed
//!   in the patient's [`PatientSummary::uncertain`] and counted in the report.
//!
//! JP-CLINS bundles with the same Bundle-ID form one record too; the newest timestamp wins.
//!
//! Step 2 folds the winners' facts into one [`PatientSummary`] per patient, attaching each
//! entry's source path.

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::extract::{FileExtract, FileOutcome};
use super::{ParseReport, MEDICATION_WINDOW_DAYS};
use crate::codes::is_infection_diagnosis;
use crate::model::{
    normalize_time, time_to_date, AdmissionEvent, AdmissionEventKind, Allergy, Demographics,
    Diagnosis, Document, Fact, Infection, LabResult, Medication, Sex,
};
use crate::ssmix2::path::ConditionFlag;

/// Whether the patient is in hospital according to the newest ADT events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdmissionState {
    Admitted,
    Discharged,
}

/// Admission status for the ward list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionStatus {
    pub state: AdmissionState,
    pub admitted_at: Option<String>,
    pub discharged_at: Option<String>,
    pub ward: String,
    pub room: String,
    pub bed: String,
    pub department: String,
    /// File of the event that set the current state.
    pub source: String,
}

/// A record whose current version is missing (only `_2` files exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncertainRecord {
    pub record_key: String,
    pub files: Vec<String>,
}

/// Everything the emergency viewer shows for one patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PatientSummary {
    pub patient_id: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub sex: Sex,
    pub birth_date: Option<NaiveDate>,
    /// File the demographics came from.
    pub demographics_source: String,
    pub allergies: Vec<Allergy>,
    /// Active diagnoses only.
    pub diagnoses: Vec<Diagnosis>,
    /// Prescriptions and injections dated within 90 days before `as_of` (inclusive), newest first.
    pub medications: Vec<Medication>,
    /// Latest result per test code, newest first.
    pub labs: Vec<LabResult>,
    /// Infection lab results (latest per code) and active infectious diagnoses.
    pub infections: Vec<Infection>,
    pub admission: Option<AdmissionStatus>,
    /// Documents, newest first.
    pub documents: Vec<Document>,
    pub uncertain: Vec<UncertainRecord>,
}

/// Facts of one patient gathered from winning files, before summarising.
#[derive(Default)]
struct Gathered {
    demographics: Option<(bool, String, Demographics)>,
    allergies: Vec<Allergy>,
    diagnoses: Vec<Diagnosis>,
    medications: Vec<Medication>,
    labs: Vec<LabResult>,
    admissions: Vec<AdmissionEvent>,
    documents: Vec<Document>,
    uncertain: Vec<UncertainRecord>,
}

/// Resolve all extracts into summaries and a report (parsed/reused are the caller's).
pub(super) fn resolve(
    files: &BTreeMap<String, FileExtract>,
    as_of: NaiveDate,
) -> (BTreeMap<String, PatientSummary>, ParseReport) {
    let mut report = ParseReport {
        files: files.len(),
        ..ParseReport::default()
    };
    let mut records: BTreeMap<&str, Vec<&FileExtract>> = BTreeMap::new();
    for ex in files.values() {
        match &ex.outcome {
            FileOutcome::Skipped { reason } => {
                *report.skipped.entry(reason.key().to_string()).or_default() += 1;
            }
            FileOutcome::Retired => report.retired += 1,
            FileOutcome::Parsed => {}
        }
        if !ex.warnings.is_empty() {
            report.files_with_warnings += 1;
        }
        records.entry(ex.record_key.as_str()).or_default().push(ex);
    }
    let mut gathered: BTreeMap<String, Gathered> = BTreeMap::new();
    for (key, versions) in records {
        match pick_version(&versions) {
            Pick::Winner(ex) => {
                let Some(pid) = ex.patient_id.as_deref() else {
                    report.unassigned_files += usize::from(!ex.facts.is_empty());
                    continue;
                };
                gather(gathered.entry(pid.to_string()).or_default(), ex);
            }
            Pick::Deleted => report.deleted_records += 1,
            Pick::Nothing => {}
            Pick::Uncertain => {
                report.uncertain_records += 1;
                if let Some(pid) = versions.iter().find_map(|v| v.patient_id.as_deref()) {
                    gathered
                        .entry(pid.to_string())
                        .or_default()
                        .uncertain
                        .push(UncertainRecord {
                            record_key: key.to_string(),
                            files: versions.iter().map(|v| v.rel_path.clone()).collect(),
                        });
                }
            }
        }
    }
    let patients: BTreeMap<String, PatientSummary> = gathered
        .into_iter()
        .map(|(pid, g)| {
            let summary = summarise(&pid, g, as_of);
            (pid, summary)
        })
        .collect();
    report.patients = patients.len();
    (patients, report)
}

enum Pick<'a> {
    Winner(&'a FileExtract),
    Deleted,
    Uncertain,
    /// Only unreadable current versions: counted as skipped already.
    Nothing,
}

fn pick_version<'a>(versions: &[&'a FileExtract]) -> Pick<'a> {
    let newest = |flag: ConditionFlag| {
        versions
            .iter()
            .filter(|v| v.flag == flag)
            .max_by(|a, b| (&a.version, &a.rel_path).cmp(&(&b.version, &b.rel_path)))
            .copied()
    };
    let current = newest(ConditionFlag::Current);
    let deleted = newest(ConditionFlag::Deleted);
    match (current, deleted) {
        (Some(c), Some(d)) if d.version > c.version => Pick::Deleted,
        (Some(c), _) if c.outcome == FileOutcome::Parsed => Pick::Winner(c),
        (Some(_), _) => Pick::Nothing,
        (None, Some(_)) => Pick::Deleted,
        (None, None) => Pick::Uncertain,
    }
}

fn gather(g: &mut Gathered, ex: &FileExtract) {
    let src = || ex.rel_path.clone();
    for fact in &ex.facts {
        match fact.clone() {
            Fact::Patient {
                mut demographics,
                primary,
            } => {
                demographics.source = src();
                let when = normalize_time(&ex.version).unwrap_or_default();
                let better = match &g.demographics {
                    None => true,
                    Some((p, w, _)) => (primary, &when) > (*p, w),
                };
                if better {
                    g.demographics = Some((primary, when, demographics));
                }
            }
            Fact::Allergy(mut a) => {
                a.source = src();
                g.allergies.push(a);
            }
            Fact::Diagnosis(mut d) => {
                d.source = src();
                g.diagnoses.push(d);
            }
            Fact::Medication(mut m) => {
                m.source = src();
                g.medications.push(m);
            }
            Fact::Lab(mut l) => {
                l.source = src();
                g.labs.push(l);
            }
            Fact::Admission(mut a) => {
                a.source = src();
                g.admissions.push(a);
            }
            Fact::Document(mut d) => {
                d.source = src();
                g.documents.push(d);
            }
        }
    }
}

fn summarise(pid: &str, g: Gathered, as_of: NaiveDate) -> PatientSummary {
    let demo = g.demographics.map(|(_, _, d)| d).unwrap_or_default();
    let labs = latest_labs(g.labs);
    let diagnoses = active_diagnoses(g.diagnoses);
    let infections = infections(&labs, &diagnoses);
    let mut documents = g.documents;
    documents.sort_by(|a, b| b.date.cmp(&a.date).then(a.source.cmp(&b.source)));
    PatientSummary {
        patient_id: pid.to_string(),
        name_kanji: demo.name_kanji,
        name_kana: demo.name_kana,
        sex: demo.sex,
        birth_date: demo.birth_date,
        demographics_source: demo.source,
        allergies: dedupe_allergies(g.allergies),
        diagnoses,
        medications: recent_medications(g.medications, as_of),
        labs,
        infections,
        admission: admission_status(g.admissions),
        documents,
        uncertain: g.uncertain,
    }
}

/// The same allergen reported twice (AL1 and IAM, or two bundles) is shown once, preferring
/// the entry that records a reaction (IAM is richer than AL1).
fn dedupe_allergies(mut all: Vec<Allergy>) -> Vec<Allergy> {
    all.sort_by_key(|a| (a.text.clone(), a.reaction.is_empty(), a.source.clone()));
    let mut seen = HashSet::new();
    all.retain(|a| {
        let code = a.codes.first().map(|c| c.code.clone()).unwrap_or_default();
        seen.insert((a.text.clone(), code))
    });
    all
}

fn active_diagnoses(all: Vec<Diagnosis>) -> Vec<Diagnosis> {
    let mut seen = HashSet::new();
    let mut out: Vec<Diagnosis> = all
        .into_iter()
        .filter(|d| d.active)
        .filter(|d| seen.insert((d.text.clone(), d.onset.clone(), d.codes.clone())))
        .collect();
    out.sort_by(|a, b| b.onset.cmp(&a.onset).then(a.text.cmp(&b.text)));
    out
}

fn recent_medications(all: Vec<Medication>, as_of: NaiveDate) -> Vec<Medication> {
    let start = as_of - Duration::days(MEDICATION_WINDOW_DAYS);
    let mut out: Vec<Medication> = all
        .into_iter()
        .filter(|m| {
            m.date
                .as_deref()
                .and_then(time_to_date)
                .is_some_and(|d| d >= start && d <= as_of)
        })
        .collect();
    out.sort_by(|a, b| b.date.cmp(&a.date).then(a.text.cmp(&b.text)));
    out
}

fn latest_labs(all: Vec<LabResult>) -> Vec<LabResult> {
    let mut latest: BTreeMap<String, LabResult> = BTreeMap::new();
    for lab in all {
        let key = lab.test_key();
        match latest.get(&key) {
            Some(prev) if (&prev.date, &prev.source) >= (&lab.date, &lab.source) => {}
            _ => {
                latest.insert(key, lab);
            }
        }
    }
    let mut out: Vec<LabResult> = latest.into_values().collect();
    out.sort_by(|a, b| b.date.cmp(&a.date).then(a.text.cmp(&b.text)));
    out
}

fn infections(labs: &[LabResult], diagnoses: &[Diagnosis]) -> Vec<Infection> {
    let from_labs = labs.iter().filter(|l| l.infection).map(|l| Infection {
        text: l.text.clone(),
        value: l.value.clone(),
        codes: l.codes.clone(),
        date: l.date.clone(),
        source: l.source.clone(),
    });
    let from_dx = diagnoses
        .iter()
        .filter(|d| is_infection_diagnosis(&d.codes))
        .map(|d| Infection {
            text: d.text.clone(),
            value: String::new(),
            codes: d.codes.clone(),
            date: d.onset.clone(),
            source: d.source.clone(),
        });
    from_labs.chain(from_dx).collect()
}

/// Fold ADT events in time order. A cancellation undoes the matching event: a cancelled
/// admission returns the patient to the previous discharge (or to no ADT state), a cancelled
/// discharge returns them to the ward.
fn admission_status(mut events: Vec<AdmissionEvent>) -> Option<AdmissionStatus> {
    events.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then(kind_rank(a.kind).cmp(&kind_rank(b.kind)))
    });
    let mut admit: Option<AdmissionEvent> = None;
    let mut discharge: Option<AdmissionEvent> = None;
    let mut state: Option<AdmissionState> = None;
    for ev in events {
        match ev.kind {
            AdmissionEventKind::Admitted => {
                state = Some(AdmissionState::Admitted);
                discharge = None;
                admit = Some(ev);
            }
            AdmissionEventKind::AdmissionCancelled => {
                admit = None;
                state = discharge.as_ref().map(|_| AdmissionState::Discharged);
            }
            AdmissionEventKind::Discharged => {
                state = Some(AdmissionState::Discharged);
                discharge = Some(ev);
            }
            AdmissionEventKind::DischargeCancelled => {
                discharge = None;
                state = admit.as_ref().map(|_| AdmissionState::Admitted);
            }
        }
    }
    let state = state?;
    let setter = match state {
        AdmissionState::Admitted => admit.as_ref(),
        AdmissionState::Discharged => discharge.as_ref(),
    }?;
    // The ward comes from the admission when known: the discharge message's PV1 may name
    // the ward the patient left, which is what a ward list should show either way.
    let place = admit.as_ref().unwrap_or(setter);
    let place = if setter.ward.is_empty() {
        place
    } else {
        setter
    };
    Some(AdmissionStatus {
        state,
        admitted_at: admit.as_ref().and_then(|a| a.date.clone()),
        discharged_at: discharge.as_ref().and_then(|d| d.date.clone()),
        ward: place.ward.clone(),
        room: place.room.clone(),
        bed: place.bed.clone(),
        department: place.department.clone(),
        source: setter.source.clone(),
    })
}

fn kind_rank(kind: AdmissionEventKind) -> u8 {
    match kind {
        AdmissionEventKind::Admitted => 0,
        AdmissionEventKind::AdmissionCancelled => 1,
        AdmissionEventKind::Discharged => 2,
        AdmissionEventKind::DischargeCancelled => 3,
    }
}
