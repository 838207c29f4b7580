//! One extractor per FHIR resource type: JSON resource → [`Fact`].
//!
//! Statuses that mean "this is not true" (`entered-in-error`, `refuted`, `cancelled`) drop
//! the resource; statuses that mean "no longer current" keep it with `active = false` where
//! the model has that notion, so the index decides what a summary shows.

use chrono::NaiveDate;
use serde_json::Value;

use super::json::{
    arr, choice_time, codings, concept_text, first_code, human_name, indications, s, scalar_text,
};
use crate::codes::{is_infection_lab, is_jlac10_system};
use crate::model::{
    normalize_time, Allergy, Code, Demographics, Diagnosis, Fact, LabResult, Medication,
    MedicationKind, Sex,
};

/// Identifier system prefix of the hospital patient ID (`…51.1` + 10-digit institution no).
const HOSPITAL_PATIENT_ID_PREFIX: &str = "urn:oid:1.2.392.100495.20.3.51.";
const MEMBER_ID_SUFFIX: &str = "JP_Insurance_memberID";

/// The patient ID the index keys by: the hospital ID (the link to SS-MIX2), else another
/// identifier, else the insurance member ID, else the resource id.
pub fn patient_key(patient: &Value) -> String {
    let ids = arr(patient, "identifier");
    let pick = |pred: &dyn Fn(&str) -> bool| {
        ids.iter()
            .find(|i| pred(s(i, "system")) && !s(i, "value").is_empty())
            .map(|i| s(i, "value").to_string())
    };
    pick(&|sys| sys.starts_with(HOSPITAL_PATIENT_ID_PREFIX))
        .or_else(|| pick(&|sys| !sys.ends_with(MEMBER_ID_SUFFIX)))
        .or_else(|| pick(&|_| true))
        .unwrap_or_else(|| s(patient, "id").to_string())
}

/// `Patient` → demographics. Names marked `IDE` are kanji, `SYL` kana; unmarked names fill
/// kanji then kana in order.
pub fn patient(v: &Value) -> Fact {
    let (mut kanji, mut kana) = (String::new(), String::new());
    let mut unmarked = Vec::new();
    for name in arr(v, "name") {
        let repr = arr(name, "extension")
            .iter()
            .find(|e| s(e, "url").ends_with("iso21090-EN-representation"))
            .map(|e| s(e, "valueCode"))
            .unwrap_or("");
        let text = human_name(name);
        match repr {
            "IDE" if kanji.is_empty() => kanji = text,
            "SYL" if kana.is_empty() => kana = text,
            _ => unmarked.push(text),
        }
    }
    let mut rest = unmarked.into_iter();
    if kanji.is_empty() {
        kanji = rest.next().unwrap_or_default();
    }
    if kana.is_empty() {
        kana = rest.next().unwrap_or_default();
    }
    Fact::Patient {
        demographics: Demographics {
            patient_id: patient_key(v),
            name_kanji: kanji,
            name_kana: kana,
            sex: Sex::parse(s(v, "gender")),
            birth_date: NaiveDate::parse_from_str(s(v, "birthDate"), "%Y-%m-%d").ok(),
            source: String::new(),
        },
        primary: true,
    }
}

/// `AllergyIntolerance` → allergy; inactive, resolved and refuted entries are dropped.
pub fn allergy(v: &Value) -> Option<Fact> {
    let clinical = first_code(v.get("clinicalStatus"));
    let verification = first_code(v.get("verificationStatus"));
    if matches!(clinical.as_str(), "inactive" | "resolved")
        || matches!(verification.as_str(), "refuted" | "entered-in-error")
    {
        return None;
    }
    let concept = v.get("code")?;
    let text = concept_text(concept);
    if text.is_empty() {
        return None;
    }
    let category = arr(v, "category")
        .iter()
        .filter_map(Value::as_str)
        .next()
        .map(|c| Code {
            code: c.to_string(),
            ..Code::default()
        });
    let criticality = s(v, "criticality");
    let reaction = arr(v, "reaction").first();
    let reaction_text = reaction
        .and_then(|r| arr(r, "manifestation").first())
        .map(concept_text)
        .or_else(|| arr(v, "note").first().map(|n| s(n, "text").to_string()))
        .unwrap_or_default();
    let severity = if criticality.is_empty() {
        reaction.map(|r| s(r, "severity")).filter(|x| !x.is_empty())
    } else {
        Some(criticality)
    };
    Some(Fact::Allergy(Allergy {
        text,
        codes: codings(concept),
        category,
        severity: severity.map(|c| Code {
            code: c.to_string(),
            ..Code::default()
        }),
        reaction: reaction_text,
        onset: choice_time(v, "onset", false),
        indications: indications(v),
        source: String::new(),
    }))
}

/// `Condition` → diagnosis. Active unless the clinical status says otherwise or (without a
/// status) an abatement is recorded.
pub fn condition(v: &Value) -> Option<Fact> {
    let verification = first_code(v.get("verificationStatus"));
    if matches!(verification.as_str(), "refuted" | "entered-in-error") {
        return None;
    }
    let concept = v.get("code")?;
    let text = concept_text(concept);
    if text.is_empty() {
        return None;
    }
    let resolved = choice_time(v, "abatement", true);
    let status_code = first_code(v.get("clinicalStatus"));
    let active = match status_code.as_str() {
        "active" | "recurrence" | "relapse" => true,
        "" => resolved.is_none(),
        _ => false,
    };
    let status = v
        .get("clinicalStatus")
        .and_then(|c| codings(c).into_iter().next());
    Some(Fact::Diagnosis(Diagnosis {
        text,
        codes: codings(concept),
        onset: choice_time(v, "onset", false),
        resolved,
        status,
        active,
        suspected: matches!(
            verification.as_str(),
            "unconfirmed" | "provisional" | "differential"
        ),
        problem_id: arr(v, "identifier")
            .first()
            .map(|i| s(i, "value").to_string())
            .unwrap_or_default(),
        indications: indications(v),
        source: String::new(),
    }))
}

/// `MedicationRequest` → medication; cancelled and erroneous orders are dropped.
pub fn medication_request(v: &Value) -> Option<Fact> {
    if matches!(s(v, "status"), "cancelled" | "entered-in-error") {
        return None;
    }
    let concept = v.get("medicationCodeableConcept")?;
    let text = concept_text(concept);
    if text.is_empty() {
        return None;
    }
    let injection = arr(v.get("meta").unwrap_or(&Value::Null), "profile")
        .iter()
        .filter_map(Value::as_str)
        .any(|p| p.contains("Injection"));
    let dosage = arr(v, "dosageInstruction").first();
    let timing_code = dosage
        .and_then(|d| d.get("timing"))
        .and_then(|t| t.get("code"));
    let dose = dosage
        .and_then(|d| arr(d, "doseAndRate").first())
        .and_then(|r| r.get("doseQuantity"))
        .map(quantity_text)
        .unwrap_or_default();
    let duration = supply_duration(v, dosage);
    let start = dosage_start(dosage).unwrap_or_else(|| s(v, "authoredOn"));
    let order_no = order_number(v);
    Some(Fact::Medication(Medication {
        kind: if injection {
            MedicationKind::Injection
        } else {
            MedicationKind::Prescription
        },
        text,
        codes: codings(concept),
        dose,
        usage: timing_code.and_then(|c| codings(c).into_iter().next()),
        duration,
        route: dosage
            .and_then(|d| d.get("route"))
            .and_then(|r| codings(r).into_iter().next()),
        date: normalize_time(start),
        order_no: order_no.to_string(),
        indications: indications(v),
        source: String::new(),
    }))
}

/// Days supplied: `dispenseRequest.expectedSupplyDuration` (what was dispensed), else the
/// timing bounds (published examples disagree between the two; dispensing wins).
fn supply_duration(v: &Value, dosage: Option<&Value>) -> String {
    v.get("dispenseRequest")
        .and_then(|d| d.get("expectedSupplyDuration"))
        .or_else(|| {
            dosage
                .and_then(|d| d.get("timing"))
                .and_then(|t| t.get("repeat"))
                .and_then(|r| r.get("boundsDuration"))
        })
        .map(quantity_text)
        .unwrap_or_default()
}

/// Start of use from the JP Core `JP_MedicationDosage_PeriodOfUse` extension.
fn dosage_start(dosage: Option<&Value>) -> Option<&str> {
    dosage
        .and_then(|d| {
            arr(d, "extension")
                .iter()
                .find(|e| s(e, "url").ends_with("PeriodOfUse"))
        })
        .and_then(|e| e.get("valuePeriod"))
        .map(|p| s(p, "start"))
        .filter(|t| !t.is_empty())
}

/// The order number (`urn:oid:1.2.392.100495.20.3.11`), else the group identifier.
fn order_number(v: &Value) -> &str {
    arr(v, "identifier")
        .iter()
        .find(|i| s(i, "system") == "urn:oid:1.2.392.100495.20.3.11")
        .map(|i| s(i, "value"))
        .unwrap_or_else(|| {
            v.get("groupIdentifier")
                .map(|g| s(g, "value"))
                .unwrap_or("")
        })
}

fn quantity_text(q: &Value) -> String {
    let value = scalar_text(q.get("value"));
    let unit = [s(q, "unit"), s(q, "code")]
        .into_iter()
        .find(|u| !u.is_empty())
        .unwrap_or("");
    [value.as_str(), unit]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `Observation` → lab result, only for laboratory observations (category `laboratory` or
/// a JLAC10 / infection code); exam findings live in document excerpts instead.
pub fn observation(v: &Value) -> Option<Fact> {
    if matches!(s(v, "status"), "cancelled" | "entered-in-error") {
        return None;
    }
    let concept = v.get("code")?;
    let codes = codings(concept);
    let lab_category = arr(v, "category")
        .iter()
        .any(|c| codings(c).iter().any(|k| k.code == "laboratory"));
    let infection = is_infection_lab(&codes);
    if !lab_category && !infection && !codes.iter().any(|c| is_jlac10_system(&c.system)) {
        return None;
    }
    let (value, unit) = observation_value(v);
    Some(Fact::Lab(LabResult {
        text: concept_text(concept),
        codes,
        value,
        unit,
        reference_range: arr(v, "referenceRange")
            .first()
            .map(range_text)
            .unwrap_or_default(),
        abnormal_flag: arr(v, "interpretation")
            .first()
            .map(|i| first_code(Some(i)))
            .unwrap_or_default(),
        date: choice_time(v, "effective", false)
            .or_else(|| Some(s(v, "issued").to_string()))
            .and_then(|t| normalize_time(&t)),
        infection,
        indications: indications(v),
        source: String::new(),
    }))
}

fn observation_value(v: &Value) -> (String, String) {
    if let Some(q) = v.get("valueQuantity") {
        let unit = [s(q, "unit"), s(q, "code")]
            .into_iter()
            .find(|u| !u.is_empty())
            .unwrap_or("");
        let cmp = s(q, "comparator");
        return (
            format!("{cmp}{}", scalar_text(q.get("value"))),
            unit.to_string(),
        );
    }
    if let Some(c) = v.get("valueCodeableConcept") {
        return (concept_text(c), String::new());
    }
    for key in ["valueString", "valueInteger", "valueBoolean"] {
        let t = scalar_text(v.get(key));
        if !t.is_empty() {
            return (t, String::new());
        }
    }
    (String::new(), String::new())
}

fn range_text(r: &Value) -> String {
    let text = s(r, "text");
    if !text.is_empty() {
        return text.to_string();
    }
    let low = r
        .get("low")
        .map(|q| scalar_text(q.get("value")))
        .unwrap_or_default();
    let high = r
        .get("high")
        .map(|q| scalar_text(q.get("value")))
        .unwrap_or_default();
    if low.is_empty() && high.is_empty() {
        String::new()
    } else {
        format!("{low}-{high}")
    }
}
