//! FHIR reader tests against the JP-CLINS examples in `shared/samples/jp-clins-fhir`, plus
//! hand-written irregular inputs (the samples are CC BY-ND and must stay unmodified).

use super::*;
use crate::model::{Allergy, Diagnosis, LabResult, MedicationKind, Sex};
use crate::test_support::{sample, samples_dir};

fn read(name: &str) -> FhirContent {
    parse_fhir_bytes(&sample(&format!("jp-clins-fhir/{name}"))).expect("sample parses")
}

fn diagnoses(c: &FhirContent) -> Vec<&Diagnosis> {
    c.facts
        .iter()
        .filter_map(|f| match f {
            Fact::Diagnosis(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn allergies(c: &FhirContent) -> Vec<&Allergy> {
    c.facts
        .iter()
        .filter_map(|f| match f {
            Fact::Allergy(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn labs(c: &FhirContent) -> Vec<&LabResult> {
    c.facts
        .iter()
        .filter_map(|f| match f {
            Fact::Lab(l) => Some(l),
            _ => None,
        })
        .collect()
}

#[test]
fn every_fhir_sample_parses_with_facts() {
    let dir = samples_dir().join("jp-clins-fhir");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("sample dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("readable");
        let content = parse_fhir_bytes(&bytes).expect("parses");
        assert!(!content.facts.is_empty(), "{path:?}");
        assert!(content.patient_id.is_some(), "{path:?}");
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn observations_bundle_patient_and_labs() {
    let c = read("Bundle-Bundle-CLINS-Observations-Example-01.json");
    assert_eq!(c.patient_id.as_deref(), Some("000999739"));
    assert_eq!(
        c.bundle_id.as_deref(),
        Some("1318814790^2024^0123-IDa-203949583949")
    );
    assert_eq!(c.version.as_deref(), Some("2023-11-12T10:00:00"));
    let Some(Fact::Patient { demographics, .. }) = c.facts.first() else {
        panic!("patient first");
    };
    assert_eq!(demographics.name_kanji, "牧野 爛漫");
    assert_eq!(demographics.name_kana, "マキノ ランマン");
    assert_eq!(demographics.sex, Sex::Female);
    assert_eq!(
        demographics.birth_date.map(|d| d.to_string()).as_deref(),
        Some("1930-06-28")
    );
    let l = labs(&c);
    assert_eq!(l.len(), 4);
    assert_eq!(l[0].text, "アルブミン");
    assert_eq!(l[0].value, "3.9");
    assert_eq!(l[0].unit, "mg/L");
    assert_eq!(
        l[0].test_key(),
        "3A015000001827101",
        "JLAC10 code keys the test"
    );
    assert_eq!(l[0].date.as_deref(), Some("2021-07-05T11:19:41"));
    assert_eq!(l[3].value, "(±)");
    assert_eq!(l[3].text, "尿蛋⽩(定性)");
}

#[test]
fn referral_document_bundle() {
    let c = read("Bundle-Bundle-CLINS-Referral-Example-01.json");
    assert_eq!(c.patient_id.as_deref(), Some("000999739"));
    let doc = c
        .facts
        .iter()
        .find_map(|f| match f {
            Fact::Document(d) => Some(d),
            _ => None,
        })
        .expect("document");
    assert_eq!(doc.title, "診療情報提供書");
    let ty = doc.doc_type.as_ref().expect("type");
    assert_eq!(
        (ty.code.as_str(), ty.display.as_str()),
        ("57133-1", "診療情報提供書")
    );
    assert_eq!(doc.date.as_deref(), Some("2020-08-21T12:12:20"));
    assert_eq!(doc.author, "大河内 勘三郎 / 港診療所");
    assert!(
        doc.excerpt.contains("【紹介目的】腹痛精査お願いします。"),
        "{}",
        doc.excerpt
    );
    assert!(
        doc.excerpt.contains("【家族歴】母 胃がん"),
        "{}",
        doc.excerpt
    );
    let dx = diagnoses(&c);
    assert_eq!(dx.len(), 5);
    let active: Vec<&str> = dx
        .iter()
        .filter(|d| d.active)
        .map(|d| d.text.as_str())
        .collect();
    assert_eq!(active, ["上腹部痛", "腰痛", "上腹部痛"]);
    let fx = dx
        .iter()
        .find(|d| d.text == "左前腕骨折")
        .expect("fracture");
    assert!(!fx.active, "resolved");
    let a = allergies(&c);
    let texts: Vec<&str> = a.iter().map(|x| x.text.as_str()).collect();
    assert_eq!(texts, ["さば", "キーウイ", "ヨードうがい液"]);
    assert!(a.iter().all(|x| x.indications.lts));
    assert_eq!(
        a[2].category.as_ref().map(|c| c.code.as_str()),
        Some("medication")
    );
    assert_eq!(a[2].reaction, "", "no reaction element; note absent");
    // The exam Observation (身体所見) is not a lab result.
    assert!(labs(&c).is_empty());
}

#[test]
fn single_resources_use_subject_identifier() {
    let c = read("Condition-Example-JP-Condition-eCS-01.json");
    assert_eq!(c.patient_id.as_deref(), Some("00012345:あいう:１８７:05"));
    let d = diagnoses(&c)[0];
    assert_eq!(d.text, "十二指腸潰瘍・H1期");
    assert_eq!(d.codes[0].code, "20064049");
    assert!(d.active);
    assert_eq!(d.onset.as_deref(), Some("2020-04-10"));

    let c = read("AllergyIntolerance-Example-JP-AllergyIntolerance-eCS-02.json");
    assert_eq!(
        c.patient_id.as_deref(),
        Some("Patient/Example-JP-Patient-eCS-MAKINO")
    );
    let a = allergies(&c)[0];
    assert_eq!(a.text, "キーウイ");
    assert_eq!(a.codes[0].display, "キウイフルーツ");
    assert_eq!(a.reaction, "食べると口の周りが痺れる感じ");
    assert!(a.indications.lts && !a.indications.uninformed);

    let c = read("MedicationRequest-Example-JP-MedReq-PO-TID-2days.json");
    let Some(Fact::Medication(m)) = c.facts.first() else {
        panic!("medication");
    };
    assert_eq!(m.kind, MedicationKind::Prescription);
    assert_eq!(m.text, "ミヤＢＭ錠（２０ｍｇ／錠）");
    assert_eq!(m.codes.len(), 3);
    assert_eq!(m.dose, "2 錠");
    assert_eq!(m.duration, "2 日");
    assert_eq!(m.date.as_deref(), Some("2021-07-09"));
    assert_eq!(
        m.usage.as_ref().map(|u| u.code.as_str()),
        Some("1013044400000000")
    );
    assert_eq!(
        m.order_no,
        "1318814790-9990767-0A1720D83807672021070909210705-2"
    );
}

#[test]
fn irregular_bundle_is_tolerated() {
    // Bare-UUID fullUrls, a single object where an array belongs, a code in `system`,
    // a second patient whose resources must not be attached to the first.
    let json = r#"{
      "resourceType":"Bundle","type":"collection",
      "entry":[
        {"fullUrl":"11111111-1111-1111-1111-111111111111","resource":{"resourceType":"Patient",
          "identifier":{"system":"urn:oid:1.2.392.100495.20.3.51.11318814790","value":"P1"},
          "name":[{"family":"山田","given":["一郎"]},{"text":"ヤマダ イチロウ"}]}},
        {"fullUrl":"urn:uuid:22222222-2222-2222-2222-222222222222","resource":{"resourceType":"Patient",
          "identifier":[{"value":"P2"}]}},
        {"resource":{"resourceType":"Condition","code":{"coding":[{"system":"20061593"}],"text":"結核"},
          "meta":{"tag":[{"code":"UNINFORMED"},{"code":"UNDELIVERED"}]},
          "subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}}},
        {"resource":{"resourceType":"Condition","code":{"text":"他人の病名"},
          "subject":{"reference":"urn:uuid:22222222-2222-2222-2222-222222222222"}}}
      ]}"#;
    let c = parse_fhir_bytes(json.as_bytes()).expect("tolerated");
    assert_eq!(c.patient_id.as_deref(), Some("P1"));
    assert_eq!(c.dropped, 2, "second patient and its condition");
    let dx = diagnoses(&c);
    assert_eq!(dx.len(), 1);
    assert_eq!(dx[0].text, "結核");
    assert!(dx[0].indications.uninformed && dx[0].indications.undelivered);
    let Some(Fact::Patient { demographics, .. }) = c.facts.first() else {
        panic!("patient");
    };
    assert_eq!(demographics.name_kanji, "山田 一郎");
    assert_eq!(demographics.name_kana, "ヤマダ イチロウ");
}

#[test]
fn malformed_json_is_skipped_with_reason() {
    assert_eq!(parse_fhir_bytes(b""), Err(SkipReason::Empty));
    assert_eq!(parse_fhir_bytes(b"  \n"), Err(SkipReason::Empty));
    assert!(matches!(
        parse_fhir_bytes(b"{\"resourceType\":"),
        Err(SkipReason::InvalidJson(_))
    ));
    assert_eq!(parse_fhir_bytes(b"{\"a\":1}"), Err(SkipReason::NotFhir));
    assert_eq!(parse_fhir_bytes(b"[1,2]"), Err(SkipReason::NotFhir));
    assert_eq!(
        parse_fhir_bytes(b"{\"resourceType\":\"Practitioner\"}"),
        Err(SkipReason::UnsupportedResource("Practitioner".into()))
    );
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let sample_bytes = sample("jp-clins-fhir/Bundle-Bundle-CLINS-Referral-Example-01.json");
    for _ in 0..300 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let cut = (rng as usize) % sample_bytes.len();
        let _ = parse_fhir_bytes(&sample_bytes[..cut]);
        let mut flipped = sample_bytes.clone();
        flipped[cut] = (rng >> 32) as u8;
        let _ = parse_fhir_bytes(&flipped);
    }
}
