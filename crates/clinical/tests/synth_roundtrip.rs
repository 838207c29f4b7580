//! End to end: generated SS-MIX2 trees and JP-CLINS bundles, indexed, must summarise to
//! exactly the facts the generator put in — with replaced and deleted records handled.

use chrono::NaiveDate;
use kura_clinical::synth::{generate, ExpectedLab, ExpectedPatient, SynthConfig, SynthFile};
use kura_clinical::{AdmissionState, ClinicalIndex, ClinicalIndexBuilder, PatientSummary};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 1).expect("valid date")
}

fn index(files: &[SynthFile]) -> ClinicalIndex {
    let mut b = ClinicalIndexBuilder::new(None);
    for f in files {
        b.add_file(&f.rel_path, &f.rel_path, &f.bytes, f.format);
    }
    b.finish(as_of())
}

fn sorted(v: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.collect();
    v.sort();
    v
}

fn check_common(s: &PatientSummary, e: &ExpectedPatient) {
    assert_eq!(s.name_kanji, e.name_kanji);
    assert_eq!(s.name_kana, e.name_kana);
    assert_eq!(s.sex, e.sex);
    assert_eq!(s.birth_date, Some(e.birth_date));
    assert_eq!(
        sorted(s.allergies.iter().map(|a| a.text.clone())),
        e.allergies,
        "{}",
        e.patient_id
    );
    assert_eq!(
        sorted(s.diagnoses.iter().map(|d| d.text.clone())),
        e.diagnoses,
        "{}",
        e.patient_id
    );
    let mut labs: Vec<ExpectedLab> = s
        .labs
        .iter()
        .map(|l| ExpectedLab {
            code: l.test_key(),
            text: l.text.clone(),
            value: l.value.clone(),
            unit: l.unit.clone(),
        })
        .collect();
    labs.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(labs, e.labs, "{}", e.patient_id);
    assert_eq!(
        sorted(s.infections.iter().map(|i| i.text.clone())),
        e.infections,
        "{}",
        e.patient_id
    );
    assert!(s.uncertain.is_empty());
    assert!(s.allergies.iter().all(|a| !a.source.is_empty()));
}

#[test]
fn ssmix2_tree_summaries_equal_known_facts() {
    let data = generate(SynthConfig {
        patients: 60,
        seed: 7,
        as_of: as_of(),
    });
    let index = index(&data.ssmix2);
    assert_eq!(index.report().skipped_total(), 0);
    assert_eq!(
        index.report().deleted_records,
        60,
        "one deleted order per patient"
    );
    for e in &data.expected {
        let s = index.summary(&e.patient_id).expect("patient indexed");
        check_common(&s, e);
        assert_eq!(
            sorted(s.medications.iter().map(|m| m.text.clone())),
            e.medications,
            "{}",
            e.patient_id
        );
        match (&e.admitted_ward, e.discharged) {
            (Some(ward), _) => {
                let a = s.admission.as_ref().expect("admitted");
                assert_eq!(a.state, AdmissionState::Admitted);
                assert_eq!(&a.ward, ward);
            }
            (None, true) => {
                let a = s.admission.as_ref().expect("discharged");
                assert_eq!(a.state, AdmissionState::Discharged);
                assert!(a.discharged_at.is_some());
            }
            (None, false) => assert_eq!(s.admission, None),
        }
    }
    let admitted = data
        .expected
        .iter()
        .filter(|e| e.admitted_ward.is_some())
        .count();
    assert_eq!(index.inpatients().len(), admitted);
}

#[test]
fn jp_clins_bundles_summaries_equal_known_facts() {
    let data = generate(SynthConfig {
        patients: 60,
        seed: 7,
        as_of: as_of(),
    });
    let index = index(&data.fhir);
    assert_eq!(index.report().skipped_total(), 0);
    for e in &data.expected {
        let s = index.summary(&e.patient_id).expect("patient indexed");
        check_common(&s, e);
        assert!(
            !s.diagnoses.iter().any(|d| d.text == "古い病名"),
            "stale re-sent bundle hidden"
        );
        assert!(s.medications.is_empty());
        assert_eq!(
            s.documents
                .iter()
                .map(|d| d.title.clone())
                .collect::<Vec<_>>(),
            e.document_titles
        );
    }
}

#[test]
fn both_formats_in_one_index_merge_per_patient() {
    let data = generate(SynthConfig {
        patients: 10,
        seed: 3,
        as_of: as_of(),
    });
    let mut files = data.ssmix2.clone();
    files.extend(data.fhir.iter().cloned());
    let index = index(&files);
    assert_eq!(index.report().patients, 10);
    for e in &data.expected {
        let s = index.summary(&e.patient_id).expect("patient");
        // Same allergen from both formats is shown once.
        assert_eq!(
            sorted(s.allergies.iter().map(|a| a.text.clone())).len(),
            e.allergies.len()
        );
        let kana_hits = index.search_kana(&e.name_kana.replace(' ', ""));
        assert!(kana_hits.iter().any(|h| h.patient_id == e.patient_id));
        assert!(index
            .search_birth(e.birth_date)
            .iter()
            .any(|h| h.patient_id == e.patient_id));
    }
}

/// Size check for the 100,000-patient target: prints bytes per patient (run with
/// `--nocapture`) and bounds it so a regression is noticed.
#[test]
fn serialized_index_size_per_patient() {
    let n = 200;
    let data = generate(SynthConfig {
        patients: n,
        seed: 11,
        as_of: as_of(),
    });
    let mut files = data.ssmix2.clone();
    files.extend(data.fhir.iter().cloned());
    let index = index(&files);
    let json = index.to_json().expect("serializes");
    let per_patient = json.len() / n;
    println!(
        "clinical index: {} files, {} bytes, {per_patient} bytes/patient, ~{} MB per 100k patients",
        files.len(),
        json.len(),
        per_patient * 100_000 / 1_000_000
    );
    assert!(per_patient < 40_000, "{per_patient} bytes per patient");
    let back = ClinicalIndex::from_json(&json).expect("round trip");
    assert_eq!(
        back.summary(&data.expected[0].patient_id),
        index.summary(&data.expected[0].patient_id)
    );
}
