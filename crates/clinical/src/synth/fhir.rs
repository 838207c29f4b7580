//! Writes one synthetic patient as JP-CLINS FHIR JSON: 5-info collection Bundles (one
//! resource type each, Patient first) and, after a discharge, a 退院時サマリー document Bundle.

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::tables::{Disease, INFECTION_LAB};
use super::{Facts, Rng, SynthFile};
use crate::index::FileFormat;

pub(crate) const DISCHARGE_TITLE: &str = "退院時サマリー";
const INSTITUTION: &str = "1318814790";
const ICD10: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full";
const MEDIS_DX: &str = "http://medis.or.jp/CodeSystem/master-disease-keyNumber";
const JLAC10: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
const INFECTION_CS: &str =
    "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC10/JP_CLINS_ObsLabResult_InfectionLabo_CS";

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next();
    let b = rng.next();
    format!(
        "urn:uuid:{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn patient(f: &Facts) -> Value {
    let name = |repr: &str, n: &(String, String)| {
        json!({
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": repr}],
            "text": format!("{} {}", n.0, n.1), "family": n.0, "given": [n.1]
        })
    };
    json!({
        "resourceType": "Patient",
        "identifier": [
            {"system": format!("urn:oid:1.2.392.100495.20.3.51.1{INSTITUTION}"), "value": f.id},
            {"system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID", "value": "00012345:あいう:１８７:"}
        ],
        "name": [name("IDE", &f.kanji), name("SYL", &f.kana)],
        "gender": if f.sex == crate::model::Sex::Male { "male" } else { "female" },
        "birthDate": f.birth.format("%Y-%m-%d").to_string()
    })
}

/// A collection Bundle: Patient first, then `resources` (each given `subject`/`patient`).
fn bundle(
    f: &Facts,
    rng: &mut Rng,
    kind: &str,
    id: &str,
    ts: &str,
    resources: Vec<Value>,
) -> SynthFile {
    let patient_url = uuid(rng);
    let mut entries = vec![json!({"fullUrl": patient_url, "resource": patient(f)})];
    for mut r in resources {
        let field = if r["resourceType"] == "AllergyIntolerance" {
            "patient"
        } else {
            "subject"
        };
        r[field] = json!({"reference": patient_url});
        entries.push(json!({"fullUrl": uuid(rng), "resource": r}));
    }
    let b = json!({
        "resourceType": "Bundle",
        "meta": {
            "profile": ["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS|1"],
            "tag": [{"system": "http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS", "code": kind}]
        },
        "identifier": {"system": "http://jpfhir.jp/fhir/clins/bundle-identifier", "value": format!("{INSTITUTION}^2024^{}-{id}", f.id)},
        "type": "collection",
        "timestamp": ts,
        "entry": entries
    });
    SynthFile {
        rel_path: format!("clins/{}/{id}-{}.json", f.id, &ts[..10]),
        bytes: serde_json::to_vec_pretty(&b).unwrap_or_default(),
        format: FileFormat::Fhir,
    }
}

fn condition(d: &Disease, active: bool) -> Value {
    json!({
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": if active { "active" } else { "resolved" }}]},
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"coding": [
            {"system": MEDIS_DX, "code": d.medis, "display": d.name},
            {"system": ICD10, "code": d.icd10}
        ], "text": d.name},
        "onsetDateTime": "2020-04-01"
    })
}

fn observation(code: &str, system: &str, name: &str, value: Value, date: NaiveDate) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS", "code": "laboratory"}]}],
        "code": {"coding": [{"system": system, "code": code, "display": name}], "text": name},
        "effectiveDateTime": format!("{}T09:00:00+09:00", date.format("%Y-%m-%d"))
    });
    if let (Some(obj), Some(v)) = (o.as_object_mut(), value.as_object()) {
        obj.extend(v.clone());
    }
    o
}

fn allergies(f: &Facts) -> Vec<Value> {
    let mut out = vec![json!({
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "category": ["medication"],
        "code": {"coding": [{"system": "urn:oid:1.2.392.100495.20.2.99XYZ", "code": f.al1.code, "display": f.al1.name}], "text": f.al1.name}
    })];
    for a in &f.iam {
        out.push(json!({
            "resourceType": "AllergyIntolerance",
            "meta": {"tag": [{"system": "http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication", "code": "LTS"}]},
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "category": [a.category],
            "code": {"coding": [{"code": a.code, "display": a.name}], "text": a.name},
            "reaction": [{"manifestation": [{"text": a.reaction}]}]
        }));
    }
    out
}

fn labs(f: &Facts) -> Vec<Value> {
    let mut out = Vec::new();
    for (lab, older, newer) in &f.labs {
        for (value, date) in [older, newer] {
            let v = json!({"valueQuantity": {"value": value.parse::<f64>().unwrap_or(0.0), "unit": lab.unit}});
            // Values are generated as `d.d`, which f64 and serde_json print back unchanged.
            out.push(observation(lab.code, JLAC10, lab.name, v, *date));
        }
    }
    if f.infection_lab {
        let v = json!({"valueCodeableConcept": {"text": INFECTION_LAB.result}});
        out.push(observation(
            INFECTION_LAB.code,
            INFECTION_CS,
            INFECTION_LAB.name,
            v,
            f.old_rx.1,
        ));
    }
    out
}

fn discharge_summary(f: &Facts, rng: &mut Rng, discharged: NaiveDate) -> SynthFile {
    let (patient_url, author_url) = (uuid(rng), uuid(rng));
    let date = discharged.format("%Y-%m-%d").to_string();
    let composition = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes", "code": "18842-5", "display": DISCHARGE_TITLE}]},
        "subject": {"reference": patient_url},
        "date": format!("{date}T15:00:00+09:00"),
        "author": [{"reference": author_url}],
        "title": DISCHARGE_TITLE,
        "section": [
            {"title": "入院理由", "text": {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">精査加療目的</div>"}},
            {"title": "入院中経過", "text": {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">経過良好にて退院</div>"}}
        ]
    });
    let practitioner = json!({"resourceType": "Practitioner", "name": [{"text": "医師 一郎"}]});
    let b = json!({
        "resourceType": "Bundle",
        "identifier": {"system": "http://jpfhir.jp/fhir/clins/bundle-identifier", "value": format!("{INSTITUTION}^2024^{}-DS", f.id)},
        "type": "document",
        "timestamp": format!("{date}T16:00:00+09:00"),
        "entry": [
            {"fullUrl": uuid(rng), "resource": composition},
            {"fullUrl": patient_url, "resource": patient(f)},
            {"fullUrl": author_url, "resource": practitioner}
        ]
    });
    SynthFile {
        rel_path: format!("clins/{}/discharge-summary.json", f.id),
        bytes: serde_json::to_vec_pretty(&b).unwrap_or_default(),
        format: FileFormat::Fhir,
    }
}

pub(crate) fn write_patient(f: &Facts, rng: &mut Rng) -> Vec<SynthFile> {
    let mut conditions: Vec<Value> = f.active_dx.iter().map(|d| condition(d, true)).collect();
    conditions.push(condition(f.resolved_dx, false));
    // An older send of the same Bundle-ID with a diagnosis that was later withdrawn.
    let stale = super::tables::Disease {
        medis: "99999999",
        name: "古い病名",
        icd10: "R69",
    };
    let mut out = vec![
        bundle(
            f,
            rng,
            "AllergyIntolerance",
            "ALG",
            "2024-01-10T10:00:00+09:00",
            allergies(f),
        ),
        bundle(
            f,
            rng,
            "Condition",
            "DX",
            "2023-05-01T10:00:00+09:00",
            vec![condition(&stale, true)],
        ),
        bundle(
            f,
            rng,
            "Condition",
            "DX",
            "2024-01-10T10:00:00+09:00",
            conditions,
        ),
        bundle(
            f,
            rng,
            "Observation",
            "LAB",
            "2024-01-10T10:00:00+09:00",
            labs(f),
        ),
    ];
    if let Some((_, _, Some(discharged))) = f.stay {
        out.push(discharge_summary(f, rng, discharged));
    }
    out
}
