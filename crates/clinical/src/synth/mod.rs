//! Synthetic hospital data with known facts (feature `synth`).
//!
//! [`generate`] makes N patients from a seed and writes each one twice: as an SS-MIX2
//! standardized-storage tree (ISO-2022-JP, real layout and naming) and as JP-CLINS FHIR
//! Bundles. It returns the facts a correct reader must show ([`ExpectedPatient`]), so tests can
//! compare summaries exactly. The data deliberately exercises version handling:
//!
//! - ADT-00 and PPR-01 have an older `_2` (replaced) version with a different allergy /
//!   diagnosis that must *not* show;
//! - every patient has a deleted prescription order: its old file renamed to `_0` plus the
//!   newer delete message `_0`; on odd patients the old file is left as `_1` (a writer that
//!   crashed before renaming) and the newer delete must still win;
//! - every patient has an old prescription outside the 90-day window;
//! - labs have an older and a newer result for the same JLAC10 code (latest must win);
//! - JP-CLINS Condition Bundles are re-sent with the same Bundle-ID; the older one carries a
//!   diagnosis that must not show.
//!
//! Names, codes and values are made up from small tables; codes look like the real systems
//! (HOT9, JLAC10, MEDIS 病名管理番号, ICD-10) but are not guaranteed to exist in the masters.

mod fhir;
mod ssmix2;
mod tables;

use chrono::{Duration, NaiveDate};

use crate::index::FileFormat;
use crate::model::Sex;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthConfig {
    pub patients: usize,
    pub seed: u64,
    /// The reference date: recent orders fall within 90 days before it.
    pub as_of: NaiveDate,
}

/// One generated file, path relative to the storage root (SS-MIX2) or the outbox (FHIR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthFile {
    pub rel_path: String,
    pub bytes: Vec<u8>,
    pub format: FileFormat,
}

/// An expected lab result: JLAC10 code, display text, latest value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedLab {
    pub code: String,
    pub text: String,
    pub value: String,
    pub unit: String,
}

/// What a correct summary of one patient shows. Lists are sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPatient {
    pub patient_id: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    /// Allergen display texts.
    pub allergies: Vec<String>,
    /// Active diagnosis names.
    pub diagnoses: Vec<String>,
    /// Drug names of prescriptions and injections within the 90-day window (SS-MIX2 only:
    /// JP-CLINS never sends prescriptions alone).
    pub medications: Vec<String>,
    pub labs: Vec<ExpectedLab>,
    /// Infection names (infection lab test names and infectious diagnoses).
    pub infections: Vec<String>,
    /// `Some(ward)` when currently admitted (SS-MIX2 only).
    pub admitted_ward: Option<String>,
    /// `true` when an admission and discharge were recorded (SS-MIX2 only).
    pub discharged: bool,
    /// Titles of FHIR documents (FHIR only).
    pub document_titles: Vec<String>,
}

/// Generated files and the facts they encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthData {
    pub ssmix2: Vec<SynthFile>,
    pub fhir: Vec<SynthFile>,
    pub expected: Vec<ExpectedPatient>,
}

/// SplitMix64: small, seedable, good enough for test data (not for anything secret).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish integer in `0..n` (`n > 0`; returns 0 for `n == 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A lab test with an older and a newer (value, date): the summary must show the newer.
pub(crate) type LabSeries = (
    &'static tables::Lab,
    (String, NaiveDate),
    (String, NaiveDate),
);

/// The facts of one patient before they are written in either format.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub id: String,
    pub kanji: (String, String),
    pub kana: (String, String),
    pub sex: Sex,
    pub birth: NaiveDate,
    pub al1: &'static tables::Al1,
    pub iam: Vec<&'static tables::Allergen>,
    pub active_dx: Vec<&'static tables::Disease>,
    pub resolved_dx: &'static tables::Disease,
    pub recent_rx: Vec<(&'static tables::Drug, NaiveDate)>,
    pub old_rx: (&'static tables::Drug, NaiveDate),
    pub deleted_rx: (&'static tables::Drug, NaiveDate),
    pub injection: Option<(&'static tables::Injection, NaiveDate)>,
    pub labs: Vec<LabSeries>,
    pub infection_lab: bool,
    /// (admission date, ward, discharge date)
    pub stay: Option<(NaiveDate, &'static str, Option<NaiveDate>)>,
}

/// Generate `config.patients` patients.
pub fn generate(config: SynthConfig) -> SynthData {
    let mut rng = Rng(config.seed);
    let mut data = SynthData {
        ssmix2: Vec::new(),
        fhir: Vec::new(),
        expected: Vec::new(),
    };
    for i in 0..config.patients {
        let facts = make_facts(&mut rng, i, config.as_of);
        data.ssmix2
            .extend(ssmix2::write_patient(&facts, i % 2 == 1));
        data.fhir.extend(fhir::write_patient(&facts, &mut rng));
        data.expected.push(expected(&facts));
    }
    data
}

/// Patients `range` only, SS-MIX2 files and expected facts only (no JP-CLINS bundles): for
/// scale measurements that generate 100,000 patients in batches without holding them all.
/// Patient numbers (and so IDs) are those of [`generate`]; the facts come from a random stream
/// seeded by `config.seed` and `range.start`, so they differ from `generate`'s for the same
/// patient number. `config.patients` is ignored.
pub fn generate_ssmix2_range(config: SynthConfig, range: std::ops::Range<usize>) -> SynthData {
    let mut rng = Rng(config.seed ^ (range.start as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut data = SynthData {
        ssmix2: Vec::new(),
        fhir: Vec::new(),
        expected: Vec::new(),
    };
    for i in range {
        let facts = make_facts(&mut rng, i, config.as_of);
        data.ssmix2
            .extend(ssmix2::write_patient(&facts, i % 2 == 1));
        data.expected.push(expected(&facts));
    }
    data
}

fn days_before(as_of: NaiveDate, days: usize) -> NaiveDate {
    as_of - Duration::days(days as i64)
}

fn make_facts(rng: &mut Rng, i: usize, as_of: NaiveDate) -> Facts {
    let sex = if rng.below(2) == 0 {
        Sex::Male
    } else {
        Sex::Female
    };
    let family = rng.pick(tables::FAMILY);
    let given = rng.pick(if sex == Sex::Male {
        tables::GIVEN_MALE
    } else {
        tables::GIVEN_FEMALE
    });
    let birth = NaiveDate::from_ymd_opt(1930, 1, 1).unwrap_or(as_of)
        + Duration::days(rng.below(365 * 80) as i64);
    let start = rng.below(tables::ALLERGENS.len());
    let iam = (0..rng.below(3))
        .map(|k| &tables::ALLERGENS[(start + k) % tables::ALLERGENS.len()])
        .collect();
    // Active and resolved diagnoses are distinct rotations of the table.
    let d0 = rng.below(tables::DISEASES.len());
    let n_dx = 1 + rng.below(3);
    let dx = |k: usize| &tables::DISEASES[(d0 + k) % tables::DISEASES.len()];
    let r0 = rng.below(tables::DRUGS.len());
    let drug = |k: usize| &tables::DRUGS[(r0 + k) % tables::DRUGS.len()];
    let recent_rx = (0..1 + rng.below(2))
        .map(|k| (drug(k), days_before(as_of, rng.below(60))))
        .collect();
    let mut labs = Vec::new();
    for lab in tables::LABS {
        if rng.below(4) == 0 {
            continue;
        }
        let older = (lab.value(rng), days_before(as_of, 200 + rng.below(100)));
        let newer = (lab.value(rng), days_before(as_of, rng.below(100)));
        labs.push((lab, older, newer));
    }
    Facts {
        id: format!("{:010}", 2_000_000_000u64 + i as u64),
        kanji: (family.0.to_string(), given.0.to_string()),
        kana: (family.1.to_string(), given.1.to_string()),
        sex,
        birth,
        al1: rng.pick(tables::AL1),
        iam,
        active_dx: (0..n_dx).map(dx).collect(),
        resolved_dx: dx(n_dx),
        recent_rx,
        old_rx: (drug(2), days_before(as_of, 120 + rng.below(200))),
        deleted_rx: (drug(3), days_before(as_of, rng.below(30))),
        injection: (rng.below(3) == 0).then(|| {
            (
                rng.pick(tables::INJECTIONS),
                days_before(as_of, rng.below(80)),
            )
        }),
        labs,
        infection_lab: rng.below(2) == 0,
        stay: make_stay(rng, as_of),
    }
}

fn make_stay(
    rng: &mut Rng,
    as_of: NaiveDate,
) -> Option<(NaiveDate, &'static str, Option<NaiveDate>)> {
    match rng.below(3) {
        0 => Some((
            days_before(as_of, 5 + rng.below(20)),
            *rng.pick(tables::WARDS),
            None,
        )),
        1 => {
            let admit = days_before(as_of, 40 + rng.below(20));
            Some((
                admit,
                *rng.pick(tables::WARDS),
                Some(admit + Duration::days(10)),
            ))
        }
        _ => None,
    }
}

fn expected_labs(f: &Facts) -> Vec<ExpectedLab> {
    let mut labs: Vec<ExpectedLab> = f
        .labs
        .iter()
        .map(|(lab, _, newer)| ExpectedLab {
            code: lab.code.to_string(),
            text: lab.name.to_string(),
            value: newer.0.clone(),
            unit: lab.unit.to_string(),
        })
        .collect();
    if f.infection_lab {
        let hbs = &tables::INFECTION_LAB;
        labs.push(ExpectedLab {
            code: hbs.code.to_string(),
            text: hbs.name.to_string(),
            value: hbs.result.to_string(),
            unit: String::new(),
        });
    }
    labs.sort_by(|a, b| a.code.cmp(&b.code));
    labs
}

/// Infectious diagnoses are those in ICD-10 chapter I (A00–B99), as the index decides.
fn expected_infections(f: &Facts) -> Vec<String> {
    let mut infections: Vec<String> = f
        .active_dx
        .iter()
        .filter(|d| d.icd10.starts_with(['A', 'B']))
        .map(|d| d.name.to_string())
        .collect();
    if f.infection_lab {
        infections.push(tables::INFECTION_LAB.name.to_string());
    }
    infections.sort();
    infections
}

fn expected(f: &Facts) -> ExpectedPatient {
    let mut allergies: Vec<String> = std::iter::once(f.al1.name.to_string())
        .chain(f.iam.iter().map(|a| a.name.to_string()))
        .collect();
    allergies.sort();
    let mut diagnoses: Vec<String> = f.active_dx.iter().map(|d| d.name.to_string()).collect();
    diagnoses.sort();
    let mut medications: Vec<String> = f
        .recent_rx
        .iter()
        .map(|(d, _)| d.name.to_string())
        .collect();
    medications.extend(f.injection.iter().map(|(inj, _)| inj.name.to_string()));
    medications.sort();
    let labs = expected_labs(f);
    let infections = expected_infections(f);
    ExpectedPatient {
        patient_id: f.id.clone(),
        name_kanji: format!("{} {}", f.kanji.0, f.kanji.1),
        name_kana: format!("{} {}", f.kana.0, f.kana.1),
        sex: f.sex,
        birth_date: f.birth,
        allergies,
        diagnoses,
        medications,
        labs,
        infections,
        admitted_ward: f
            .stay
            .and_then(|(_, ward, dis)| dis.is_none().then(|| ward.to_string())),
        discharged: f.stay.is_some_and(|(_, _, dis)| dis.is_some()),
        document_titles: f
            .stay
            .filter(|(_, _, dis)| dis.is_some())
            .map(|_| vec![fhir::DISCHARGE_TITLE.to_string()])
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
