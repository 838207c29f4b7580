//! The clinical model shared by both readers and the index.
//!
//! Every entry keeps the display text exactly as the source recorded it (Japanese, full-width
//! digits and all), the codes that came with it, and — once placed in a summary — the relative
//! path of the file it came from. Nothing is translated or normalised for display: during an
//! outage a clinician must see what the EHR said, and be able to find the file it said it in.
//!
//! Times are kept as normalised strings (`YYYY[-MM[-DD[THH:MM[:SS]]]]`, see
//! [`normalize_time`]) rather than `chrono` types because sources record partial dates
//! (`2018`, `2022-05`, `199601`) that must not be invented into full ones. The normalised form
//! sorts chronologically as plain text, which is all the index needs.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// A code with its code system and display text, as found in the source.
///
/// HL7 v2 CWE `code^text^system` and FHIR `Coding {system, code, display}` both map here. The
/// system is kept as written (`HOT9`, `JC10`, `http://medis.or.jp/...`); use
/// [`crate::codes::normalize_system`] to compare systems across formats.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Code {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
}

/// JP-CLINS sharing indications (`meta.tag` in `JP_ehrshrs_indication`) and the SS-MIX2 PRB-25
/// sensitivity. A clinician viewer shows these as badges; patient-facing output must suppress
/// entries with `uninformed` or `undelivered` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Indications {
    /// `LTS`: long-term storage requested.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lts: bool,
    /// `UNINFORMED`: 未告知 — the patient has not been told (e.g. a diagnosis).
    #[serde(default, skip_serializing_if = "is_false")]
    pub uninformed: bool,
    /// `UNDELIVERED`: 未提供 — not to be shared outside the hospital.
    #[serde(default, skip_serializing_if = "is_false")]
    pub undelivered: bool,
    /// SS-MIX2 PRB-25 `V` (非常に限定): very restricted sensitivity.
    #[serde(default, skip_serializing_if = "is_false")]
    pub restricted: bool,
}

impl Indications {
    /// True when no flag is set (used to keep serialized entries small).
    pub fn is_empty(&self) -> bool {
        *self == Indications::default()
    }
}

/// Administrative sex as recorded (HL7 table 0001 / FHIR `gender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "O")]
    Other,
    #[default]
    #[serde(rename = "U")]
    Unknown,
}

impl Sex {
    /// Map HL7 v2 (`M`, `F`, `O`, `U`, `A`, `N`) and FHIR (`male`, `female`, …) values.
    pub fn parse(value: &str) -> Sex {
        match value.trim().to_ascii_lowercase().as_str() {
            "m" | "male" => Sex::Male,
            "f" | "female" => Sex::Female,
            "o" | "a" | "other" => Sex::Other,
            _ => Sex::Unknown,
        }
    }
}

/// Patient demographics from ADT-00 / PID or a FHIR `Patient`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Demographics {
    /// Hospital patient ID (the SS-MIX2 folder ID, or the FHIR hospital identifier).
    pub patient_id: String,
    /// Name in kanji (PID-5 `^I`, FHIR `IDE`), as recorded, e.g. `患者 太郎`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_kanji: String,
    /// Name in kana (PID-5 `^P`, FHIR `SYL`), as recorded, e.g. `カンジャ タロウ`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_kana: String,
    #[serde(default)]
    pub sex: Sex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// One allergy or intolerance (AL1, IAM or FHIR `AllergyIntolerance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Allergy {
    /// Allergen as recorded, e.g. `ペニシリン`, `キーウイ`.
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Code>,
    /// Category as recorded: HL7 0127 (`DA^薬剤アレルギー`) or FHIR `medication`/`food`/….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Code>,
    /// Severity / criticality as recorded (`MO^中等度`, `high`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Code>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reaction: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<String>,
    #[serde(default, skip_serializing_if = "Indications::is_empty")]
    pub indications: Indications,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// One diagnosis (PPR-01 PRB or FHIR `Condition`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Diagnosis {
    /// Full name as recorded including modifiers (PRB-17 / `code.text`), e.g. `十二指腸潰瘍・H1期`.
    pub text: String,
    /// Disease codes: MEDIS 病名管理番号 (`MDCDX2`), ICD-10 (`I10`), receipt codes …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<String>,
    /// Resolution date (PRB-9 / `abatementDateTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// Outcome or clinical status as recorded (`N^回復せず`, `active`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Code>,
    /// False once resolved, cured, dead, or deleted; only active diagnoses reach a summary.
    pub active: bool,
    /// 疑い病名 (suspected): PRB-13 or FHIR `verificationStatus = unconfirmed`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspected: bool,
    /// Stable problem key (PRB-4 instance ID, FHIR identifier) when present.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub problem_id: String,
    #[serde(default, skip_serializing_if = "Indications::is_empty")]
    pub indications: Indications,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// Prescription (内服/外用) or injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MedicationKind {
    #[default]
    Prescription,
    Injection,
}

/// One drug line of a prescription or injection order (RXE/RXC + TQ1 + RXR, or FHIR
/// `MedicationRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Medication {
    pub kind: MedicationKind,
    /// Drug name as recorded, e.g. `ダーゼン錠（５mg)`.
    pub text: String,
    /// HOT9 / YJ / local codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Code>,
    /// Dose per administration with its unit as recorded, e.g. `1 錠`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dose: String,
    /// Usage (用法) as recorded, e.g. `内服・経口・１日３回朝昼夕食後`, with its JAMI code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Code>,
    /// Duration as recorded, e.g. `5 d`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    /// Route as recorded (`PO^口`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Code>,
    /// Order / start date used for the 90-day window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub order_no: String,
    #[serde(default, skip_serializing_if = "Indications::is_empty")]
    pub indications: Indications,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// One lab result (OBX in OML-11, FHIR `Observation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LabResult {
    /// Test name as recorded, e.g. `総蛋白`.
    pub text: String,
    /// JLAC10 (`JC10`, 17 digits) and local codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Code>,
    /// Value as recorded (`7.2`, `(±)`, `陰性`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference_range: String,
    /// Abnormal flag (OBX-8 `H`/`L`, FHIR interpretation code).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub abnormal_flag: String,
    /// Collection / effective time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// True when the item is an infection test (see [`crate::codes::is_infection_lab`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub infection: bool,
    #[serde(default, skip_serializing_if = "Indications::is_empty")]
    pub indications: Indications,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

impl LabResult {
    /// The key "latest per test code" groups by: the JLAC10 code when present, else the first
    /// code, else the display text.
    pub fn test_key(&self) -> String {
        let jlac = self
            .codes
            .iter()
            .find(|c| crate::codes::is_jlac10_system(&c.system) && !c.code.is_empty());
        match jlac.or_else(|| self.codes.iter().find(|c| !c.code.is_empty())) {
            Some(c) => c.code.clone(),
            None => self.text.clone(),
        }
    }
}

/// An infection shown to the clinician: an infection lab result or an infectious diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Infection {
    /// What was found, as recorded (test name or diagnosis name).
    pub text: String,
    /// Result value for lab-derived infections (`陽性`, `(+)`), empty for diagnoses.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// What an ADT event did to the admission state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdmissionEventKind {
    /// ADT-22 `ADT^A01`.
    Admitted,
    /// ADT-22 `ADT^A11` (admission cancelled).
    AdmissionCancelled,
    /// ADT-52 `ADT^A03`.
    Discharged,
    /// ADT-52 `ADT^A13` (discharge cancelled).
    DischargeCancelled,
}

/// One admission or discharge event (ADT-22 / ADT-52).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionEvent {
    pub kind: AdmissionEventKind,
    /// Event time: PV1-44 (admit) / PV1-45 (discharge), falling back to EVN-6 and the file's 診療日.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Ward (病棟) code from PV1-3.1.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ward: String,
    /// Room (病室) from PV1-3.2.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub room: String,
    /// Bed from PV1-3.3.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bed: String,
    /// Department code (PV1-10 or the file name's 診療科コード).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub department: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// A clinical document (3文書): 診療情報提供書, 退院時サマリー, 健診結果報告書.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Document {
    /// Document type (`57133-1` 診療情報提供書, `18842-5` 退院時サマリー, `53576-5` 健診…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_type: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Author names as recorded (practitioner, then organisation).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Section titles with their narrative text, tags stripped, cut to a short excerpt.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "Indications::is_empty")]
    pub indications: Indications,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// One fact a file contributed. Facts carry no patient ID: a file belongs to one patient
/// ([`crate::index::FileExtract::patient_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Fact {
    /// Demographics; `primary` is true for ADT-00 and FHIR `Patient` (authoritative), false
    /// for the PID copy every HL7 message carries (used only when nothing better exists).
    Patient {
        demographics: Demographics,
        primary: bool,
    },
    Allergy(Allergy),
    Diagnosis(Diagnosis),
    Medication(Medication),
    Lab(LabResult),
    Admission(AdmissionEvent),
    Document(Document),
}

/// Normalise an HL7 TS/DT (`20111219`, `201112191500`, `20111220224447.3399`, `199601`) or a
/// FHIR date/dateTime (`2021-07-05T11:19:41+09:00`, `2022-05`) into
/// `YYYY[-MM[-DD[THH:MM[:SS]]]]`. Time zones are dropped: every source here records Japan
/// time, and the index only orders and windows by day. Returns `None` for anything that does
/// not start with a plausible year.
pub fn normalize_time(raw: &str) -> Option<String> {
    let digits: String = raw
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | 'T' | ':' | ' '))
        .filter(char::is_ascii_digit)
        .collect();
    // The `-`/`T`/`:` separators of FHIR times were skipped above, so both syntaxes reduce
    // to the HL7 digit run. `take_while` stops at `.`, `+`, `Z` (fractions and zones).
    if digits.len() < 4 {
        return None;
    }
    let year: u32 = digits[0..4].parse().ok()?;
    if !(1800..=2999).contains(&year) {
        return None;
    }
    let mut out = digits[0..4].to_string();
    let parts = [
        (4, '-', 12),
        (6, '-', 31),
        (8, 'T', 23),
        (10, ':', 59),
        (12, ':', 59),
    ];
    for (start, sep, max) in parts {
        let Some(piece) = digits.get(start..start + 2) else {
            break;
        };
        let value: u32 = piece.parse().ok()?;
        let min = if sep == '-' { 1 } else { 0 };
        if value < min || value > max {
            break;
        }
        out.push(sep);
        out.push_str(piece);
    }
    Some(out)
}

/// The calendar date of a normalised time, when it has day precision.
pub fn time_to_date(normalized: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(normalized.get(0..10)?, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_time_handles_hl7_and_fhir_forms() {
        assert_eq!(normalize_time("20111219").as_deref(), Some("2011-12-19"));
        assert_eq!(
            normalize_time("201112191500").as_deref(),
            Some("2011-12-19T15:00")
        );
        assert_eq!(
            normalize_time("20111220224447.3399").as_deref(),
            Some("2011-12-20T22:44:47")
        );
        assert_eq!(normalize_time("199601").as_deref(), Some("1996-01"));
        assert_eq!(
            normalize_time("2021-07-05T11:19:41+09:00").as_deref(),
            Some("2021-07-05T11:19:41")
        );
        assert_eq!(normalize_time("2022-05").as_deref(), Some("2022-05"));
        assert_eq!(normalize_time("2018").as_deref(), Some("2018"));
        assert_eq!(normalize_time("小学校低学年の頃"), None);
        assert_eq!(normalize_time("12"), None);
        assert_eq!(normalize_time(""), None);
    }

    #[test]
    fn normalize_time_stops_at_invalid_month() {
        assert_eq!(normalize_time("20111399").as_deref(), Some("2011"));
    }

    #[test]
    fn normalized_times_sort_chronologically() {
        let mut v = ["2011-12-19T15:00", "2011-12", "2011-12-19", "2010"];
        v.sort();
        assert_eq!(v, ["2010", "2011-12", "2011-12-19", "2011-12-19T15:00"]);
    }

    #[test]
    fn sex_parses_hl7_and_fhir() {
        assert_eq!(Sex::parse("M"), Sex::Male);
        assert_eq!(Sex::parse("female"), Sex::Female);
        assert_eq!(Sex::parse("A"), Sex::Other);
        assert_eq!(Sex::parse("?"), Sex::Unknown);
    }
}
