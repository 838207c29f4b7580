//! SS-MIX2 reader tests against the NHO sample storage in `shared/samples/ssmix2`.

use super::*;
use crate::model::{AdmissionEventKind, Allergy, Diagnosis, LabResult, Medication, Sex};
use crate::test_support::{sample, samples_dir};

const ROOT: &str = "ssmix2/standard_root";

fn read(rel: &str) -> Vec<Fact> {
    let name = Ssmix2Name::parse(rel).expect("sample name parses");
    let bytes = sample(&format!("{ROOT}/{rel}"));
    read_ssmix2(&name, &bytes).expect("sample reads").facts
}

fn allergies(facts: &[Fact]) -> Vec<&Allergy> {
    facts
        .iter()
        .filter_map(|f| match f {
            Fact::Allergy(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn meds(facts: &[Fact]) -> Vec<&Medication> {
    facts
        .iter()
        .filter_map(|f| match f {
            Fact::Medication(m) => Some(m),
            _ => None,
        })
        .collect()
}

#[test]
fn every_sample_file_decodes_and_splits() {
    let mut files = Vec::new();
    let mut stack = vec![samples_dir().join(ROOT)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("sample dir readable") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert_eq!(files.len(), 10, "sample tree changed: {files:?}");
    for path in files {
        let bytes = std::fs::read(&path).expect("readable");
        let d = decode::decode_hl7_bytes(&bytes).expect("decodes");
        assert_eq!(d.encoding, decode::TextEncoding::Iso2022Jp, "{path:?}");
        let msg = Message::parse(&d.text).expect("hl7");
        assert!(msg.segment("PID").is_some(), "{path:?}");
        let name = Ssmix2Name::parse(&path.to_string_lossy()).expect("name parses");
        let outcome = read_ssmix2(&name, &bytes);
        if SUPPORTED_DATA_TYPES.contains(&name.data_type.as_str()) {
            assert!(outcome.is_ok(), "{path:?}: {outcome:?}");
        } else {
            assert_eq!(
                outcome,
                Err(SkipReason::UnsupportedDataType(name.data_type.clone()))
            );
        }
    }
}

#[test]
fn adt00_demographics_and_al1_allergy() {
    let facts =
        read("999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1");
    let Some(Fact::Patient {
        demographics: d,
        primary: true,
    }) = facts.first()
    else {
        panic!("first fact must be primary demographics: {facts:?}");
    };
    assert_eq!(d.patient_id, "9999013");
    assert_eq!(d.name_kanji, "患者 太郎");
    assert_eq!(d.name_kana, "カンジャ タロウ");
    assert_eq!(d.sex, Sex::Male);
    assert_eq!(
        d.birth_date.map(|b| b.to_string()).as_deref(),
        Some("1948-04-05")
    );
    let a = allergies(&facts);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].text, "ペニシリン");
    assert_eq!(a[0].codes[0].code, "1");
    assert_eq!(a[0].codes[0].system, "99XYZ");
    assert_eq!(a[0].category.as_ref().map(|c| c.code.as_str()), Some("DA"));
}

#[test]
fn adt61_iam_allergies() {
    let facts =
        read("999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1");
    let a = allergies(&facts);
    let texts: Vec<&str> = a.iter().map(|x| x.text.as_str()).collect();
    assert_eq!(texts, ["スギ", "ソバ", "ハウスダスト", "アリナミン"]);
    let drug = a[3];
    assert_eq!(drug.codes[0].code, "106824501");
    assert_eq!(drug.codes[0].system, "HOT9");
    assert_eq!(drug.reaction, "のどの渇きが止まらない");
    assert_eq!(
        drug.severity.as_ref().map(|s| s.display.as_str()),
        Some("中等度")
    );
    assert_eq!(drug.onset.as_deref(), Some("2007-07-10"));
    assert_eq!(a[0].onset.as_deref(), Some("1996-01"));
    assert_eq!(a[1].onset.as_deref(), Some("小学校低学年の頃"));
    assert_eq!(a[1].codes[0].system, "JC10");
}

#[test]
fn ppr01_diagnosis_with_icd10_and_restriction() {
    let facts =
        read("999/901/9999013/-/PPR-01/9999013_-_PPR-01_999999999999999_20111209163030000_01_1");
    let dx: Vec<&Diagnosis> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Diagnosis(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(dx.len(), 1);
    let d = dx[0];
    assert_eq!(d.text, "胃炎");
    assert!(d.active, "outcome N^回復せず keeps it active");
    assert!(!d.suspected);
    assert_eq!(d.onset.as_deref(), Some("2011-08-31"));
    assert_eq!(d.problem_id, "123456789012345");
    assert!(d.indications.restricted);
    let codes: Vec<(&str, &str)> = d
        .codes
        .iter()
        .map(|c| (c.code.as_str(), c.system.as_str()))
        .collect();
    assert_eq!(
        codes,
        [("20054174", "MDCDX2"), ("K297", "I10"), ("TSQF", "MDCDX2")]
    );
}

#[test]
fn omp01_prescription_lines() {
    let facts = read("999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1");
    let m = meds(&facts);
    let texts: Vec<&str> = m.iter().map(|x| x.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "ダーゼン錠（５mg)",
            "パンスポリンＴ錠（１００mg)",
            "アレピアチン１０倍散"
        ]
    );
    let first = m[0];
    assert_eq!(first.kind, MedicationKind::Prescription);
    assert_eq!(first.codes[0].code, "108665201");
    assert_eq!(first.codes[0].system, "HOT9");
    assert_eq!(first.dose, "1 錠");
    let usage = first.usage.as_ref().expect("usage");
    assert_eq!(usage.code, "1013044400000000");
    assert_eq!(usage.display, "内服・経口・１日３回朝昼夕食後");
    assert_eq!(usage.system, "JAMISDP01");
    assert_eq!(first.duration, "5 d");
    assert_eq!(first.date.as_deref(), Some("2011-07-01T00"));
    assert_eq!(first.route.as_ref().map(|r| r.display.as_str()), Some("口"));
    assert_eq!(first.order_no, "000000011000185");
    assert_eq!(m[2].duration, "14 d");
    assert_eq!(m[2].dose, "50 ミリグラム");
}

#[test]
fn omp02_injection_components() {
    let facts = read("999/901/9999013/20110701/OMP-02/9999013_20110701_OMP-02_123456789012345_20110701224603984_01_1");
    let m = meds(&facts);
    assert_eq!(m.len(), 6, "3 groups x 2 RXC components");
    assert!(m.iter().all(|x| x.kind == MedicationKind::Injection));
    // WHATWG maps JIS 0x215D to U+FF0D (full-width hyphen-minus), not U+2212.
    assert_eq!(m[0].text, "ソリタ\u{FF0D}Ｔ３号輸液５００ｍＬ");
    assert_eq!(m[0].dose, "1 本");
    assert_eq!(m[1].text, "アドナ注（静脈用）50mg");
    assert_eq!(m[0].route.as_ref().map(|r| r.code.as_str()), Some("IV"));
    assert_eq!(m[0].date.as_deref(), Some("2011-07-01T08:00"));
    assert_eq!(m[2].date.as_deref(), Some("2011-07-01T13:00"));
}

#[test]
fn oml11_lab_results() {
    let facts = read("999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1");
    let labs: Vec<&LabResult> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Lab(l) => Some(l),
            _ => None,
        })
        .collect();
    assert_eq!(labs.len(), 3);
    let tp = labs[1];
    assert_eq!(tp.text, "総蛋白");
    assert_eq!(tp.codes[0].code, "3A010000002327101");
    assert_eq!(tp.codes[0].system, "JC10");
    assert_eq!(tp.value, "7.2");
    assert_eq!(tp.unit, "g/dl");
    assert_eq!(tp.reference_range, "6.70-8.3");
    assert_eq!(tp.date.as_deref(), Some("2011-12-19T15:00"));
    assert!(!tp.infection);
    assert_eq!(labs[0].unit, "", "A/G比 has no unit");
}

#[test]
fn adt22_and_adt52_admission_events() {
    let facts = read("999/901/9999013/20111120/ADT-22/9999013_20111120_ADT-22_999999999999999_20111220224447339_01_1");
    let Some(Fact::Admission(a)) = facts.first() else {
        panic!("admission expected: {facts:?}");
    };
    assert_eq!(a.kind, AdmissionEventKind::Admitted);
    assert_eq!(a.date.as_deref(), Some("2011-11-20T16:00"));
    assert_eq!(
        (a.ward.as_str(), a.room.as_str(), a.bed.as_str()),
        ("32", "302", "1")
    );
    assert_eq!(a.department, "01");
    let facts = read("999/901/9999013/20111220/ADT-52/9999013_20111220_ADT-52_999999999999999_20111220224447339_08_1");
    let Some(Fact::Admission(d)) = facts.first() else {
        panic!("discharge expected: {facts:?}");
    };
    assert_eq!(d.kind, AdmissionEventKind::Discharged);
    assert_eq!(d.date.as_deref(), Some("2011-12-20T12:00"));
    assert_eq!(d.ward, "41");
}

#[test]
fn fuzz_entry_infers_data_type_from_msh9() {
    let bytes = sample(&format!(
        "{ROOT}/999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1"
    ));
    let facts = parse_ssmix2_bytes(&bytes).expect("parses");
    assert_eq!(allergies(&facts).len(), 4);
    let bytes = sample(&format!(
        "{ROOT}/000/000/0000001/20000401/OMP-11/0000001_20000401_OMP-11_123456789012345_20110701113813225_01_1"
    ));
    assert_eq!(
        parse_ssmix2_bytes(&bytes),
        Err(SkipReason::UnsupportedDataType("RAS^O17".into()))
    );
}

/// A tiny deterministic generator so the robustness loop needs no dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let seed_file = sample(&format!(
        "{ROOT}/999/901/9999013/20110701/OMP-02/9999013_20110701_OMP-02_123456789012345_20110701224603984_01_1"
    ));
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..2000 {
        let mut bytes = if round % 2 == 0 {
            seed_file.clone()
        } else {
            let len = (xorshift(&mut rng) % 300) as usize;
            (0..len).map(|_| xorshift(&mut rng) as u8).collect()
        };
        let flips = xorshift(&mut rng) % 8;
        for _ in 0..flips {
            if bytes.is_empty() {
                break;
            }
            let i = (xorshift(&mut rng) as usize) % bytes.len();
            bytes[i] = xorshift(&mut rng) as u8;
        }
        let cut = (xorshift(&mut rng) as usize) % (bytes.len() + 1);
        let _ = parse_ssmix2_bytes(&bytes[..cut]);
        let _ = parse_ssmix2_bytes(&bytes);
    }
}

#[test]
fn truncated_sample_is_partial_not_fatal() {
    let bytes = sample(&format!(
        "{ROOT}/999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1"
    ));
    // Cut inside MSH: not HL7 any more.
    assert!(parse_ssmix2_bytes(&bytes[..2]).is_err());
    // Cut in the middle: whatever complete segments remain are read.
    let facts = parse_ssmix2_bytes(&bytes[..bytes.len() * 2 / 3]).expect("partial parse");
    assert!(allergies(&facts).len() < 4);
}
