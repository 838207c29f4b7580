//! Index tests: version resolution, incremental reuse, summaries of the sample storage,
//! search, serialization, and malformed input accounting.

use super::*;
use crate::ssmix2::decode::encode_iso2022jp;
use crate::test_support::samples_dir;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

fn adt00(
    pid: &str,
    kanji: (&str, &str),
    kana: (&str, &str),
    birth: &str,
    allergy: &str,
) -> Vec<u8> {
    let text = format!(
        "MSH|^~\\&|HIS|H|GW|R|20240401||ADT^A08^ADT_A01|1|P|2.5\r\
         PID|1||{pid}^^^^PI||{}^{}^^^^^L^I~{}^{}^^^^^L^P||{birth}|F\r\
         AL1|1|DA^薬剤アレルギー^HL70127|1^{allergy}^99XYZ\r\u{1c}",
        kanji.0, kanji.1, kana.0, kana.1
    );
    encode_iso2022jp(&text)
}

fn adt00_path(pid: &str, ts: &str, flag: char) -> String {
    format!(
        "{}/{}/{pid}/-/ADT-00/{pid}_-_ADT-00_999999999999999_{ts}_-_{flag}",
        &pid[0..3],
        &pid[3..6]
    )
}

/// Every file of the sample storage and the FHIR samples, by path relative to `samples/`.
fn sample_files() -> Vec<(String, Vec<u8>)> {
    let root = samples_dir();
    let mut out = Vec::new();
    let mut stack = vec![
        root.join("ssmix2/standard_root"),
        root.join("jp-clins-fhir"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&path).expect("readable")));
        }
    }
    out.sort();
    out
}

fn index_samples(as_of: NaiveDate) -> ClinicalIndex {
    let mut b = ClinicalIndexBuilder::new(None);
    for (rel, bytes) in sample_files() {
        let format = FileFormat::detect(&rel, &bytes).expect("format detected");
        b.add_file(&rel, &format!("{}", bytes.len()), &bytes, format);
    }
    b.finish(as_of)
}

#[test]
fn sample_storage_summary() {
    let index = index_samples(date(2011, 7, 20));
    let r = index.report();
    assert_eq!(r.files, 15);
    assert_eq!(r.retired, 1, "the OMP-11 _0 file");
    assert_eq!(r.skipped.get("unsupported_data_type"), Some(&1));
    let s = index.summary("9999013").expect("sample patient");
    assert_eq!(s.name_kanji, "患者 太郎");
    assert_eq!(s.name_kana, "カンジャ タロウ");
    assert_eq!(
        s.birth_date,
        Some(date(1948, 4, 5)),
        "ADT-00 beats other PIDs"
    );
    assert!(s.demographics_source.contains("ADT-00"));
    let allergies: Vec<&str> = s.allergies.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        allergies,
        ["アリナミン", "スギ", "ソバ", "ハウスダスト", "ペニシリン"]
    );
    assert_eq!(s.diagnoses.len(), 1);
    assert_eq!(s.diagnoses[0].text, "胃炎");
    assert!(s.diagnoses[0].source.ends_with("_01_1"));
    assert_eq!(
        s.medications.len(),
        9,
        "3 prescription lines + 6 injection lines"
    );
    assert_eq!(s.labs.len(), 3);
    let adm = s.admission.as_ref().expect("admission status");
    assert_eq!(adm.state, AdmissionState::Discharged);
    assert_eq!(adm.admitted_at.as_deref(), Some("2011-11-20T16:00"));
    assert_eq!(adm.discharged_at.as_deref(), Some("2011-12-20T12:00"));
    assert!(s.uncertain.is_empty());

    let fhir = index.summary("000999739").expect("FHIR patient");
    assert_eq!(fhir.name_kanji, "牧野 爛漫");
    assert_eq!(fhir.documents.len(), 1);
    assert_eq!(fhir.labs.len(), 4);
    assert_eq!(
        fhir.diagnoses.len(),
        3,
        "上腹部痛 with and without onset kept apart"
    );
}

#[test]
fn medication_window_is_90_days_before_as_of() {
    let later = index_samples(date(2011, 12, 31));
    let s = later.summary("9999013").expect("patient");
    assert!(
        s.medications.is_empty(),
        "July orders are older than 90 days"
    );
    let edge = index_samples(date(2011, 9, 29));
    let s = edge.summary("9999013").expect("patient");
    // 2011-09-29 minus 90 days is 2011-07-01: orders on that day are included.
    assert_eq!(s.medications.len(), 9);
    let before = index_samples(date(2011, 6, 30));
    assert!(before
        .summary("9999013")
        .expect("patient")
        .medications
        .is_empty());
}

#[test]
fn newest_current_version_wins_and_newer_delete_removes() {
    let pid = "1234567";
    let mut b = ClinicalIndexBuilder::new(None);
    let old = adt00_path(pid, "20240101000000000", '2');
    let cur = adt00_path(pid, "20240201000000000", '1');
    b.add_file(
        &old,
        "a",
        &adt00(pid, ("旧", "姓"), ("キュウ", "セイ"), "19800101", "卵"),
        FileFormat::Ssmix2,
    );
    b.add_file(
        &cur,
        "b",
        &adt00(
            pid,
            ("新", "姓"),
            ("シン", "セイ"),
            "19800101",
            "ペニシリン",
        ),
        FileFormat::Ssmix2,
    );
    let index = b.finish(date(2024, 3, 1));
    let s = index.summary(pid).expect("patient");
    assert_eq!(s.name_kanji, "新 姓");
    assert_eq!(s.allergies.len(), 1);
    assert_eq!(s.allergies[0].text, "ペニシリン");
    assert_eq!(s.allergies[0].source, cur);

    // Add a newer delete for the same key: the record disappears.
    let mut b = ClinicalIndexBuilder::new(Some(index));
    assert!(b.keep_unchanged(&old, "a"));
    assert!(b.keep_unchanged(&cur, "b"));
    let del = adt00_path(pid, "20240301000000000", '0');
    b.add_file(&del, "c", b"", FileFormat::Ssmix2);
    let index = b.finish(date(2024, 3, 1));
    assert_eq!(index.report().deleted_records, 1);
    assert!(
        index.summary(pid).is_none(),
        "no remaining facts for the patient"
    );
}

#[test]
fn replaced_only_record_is_reported_uncertain() {
    let pid = "7654321";
    let mut b = ClinicalIndexBuilder::new(None);
    let p = adt00_path(pid, "20240101000000000", '2');
    b.add_file(&p, "a", b"ignored", FileFormat::Ssmix2);
    let index = b.finish(date(2024, 3, 1));
    assert_eq!(index.report().uncertain_records, 1);
    let s = index.summary(pid).expect("uncertain patient is listed");
    assert_eq!(s.uncertain.len(), 1);
    assert_eq!(s.uncertain[0].files, [p]);
}

#[test]
fn unchanged_files_are_not_parsed_again() {
    let files = sample_files();
    let mut b = ClinicalIndexBuilder::new(None);
    for (rel, bytes) in &files {
        let f = FileFormat::detect(rel, bytes).expect("format");
        b.add_file(rel, "v1", bytes, f);
    }
    assert_eq!(b.parsed_count(), files.len());
    let first = b.finish(date(2011, 7, 20));

    let mut b = ClinicalIndexBuilder::new(Some(first.clone()));
    let mut parsed = 0;
    for (i, (rel, bytes)) in files.iter().enumerate() {
        // One file changed content; every other one is reused.
        let id = if i == 0 { "v2" } else { "v1" };
        if !b.keep_unchanged(rel, id) {
            let f = FileFormat::detect(rel, bytes).expect("format");
            b.add_file(rel, id, bytes, f);
            parsed += 1;
        }
    }
    assert_eq!(parsed, 1);
    assert_eq!(b.parsed_count(), 1);
    let second = b.finish(date(2011, 7, 20));
    assert_eq!(second.report().reused, files.len() - 1);
    assert_eq!(second.report().parsed, 1);
    assert_eq!(second.summary("9999013"), first.summary("9999013"));
}

#[test]
fn serialization_round_trip_rebuilds_summaries() {
    let index = index_samples(date(2011, 7, 20));
    let json = index.to_json().expect("serializes");
    let back = ClinicalIndex::from_json(&json).expect("loads");
    assert_eq!(back, index);
    let text = String::from_utf8(json).expect("utf8");
    assert!(
        !text.contains("\"medications\""),
        "summaries are derived, not stored"
    );
    assert!(ClinicalIndex::from_json(b"{}").is_err());
    let wrong = text.replacen("\"format_version\":1", "\"format_version\":99", 1);
    let err = ClinicalIndex::from_json(wrong.as_bytes()).expect_err("version checked");
    assert!(err.to_string().contains("version 99"), "{err}");
}

#[test]
fn search_by_kana_birth_and_ward() {
    let mut b = ClinicalIndexBuilder::new(None);
    for (pid, kanji, kana, birth) in [
        (
            "1000001",
            ("山田", "花子"),
            ("ヤマダ", "ハナコ"),
            "19800102",
        ),
        (
            "1000002",
            ("小山田", "太郎"),
            ("オヤマダ", "タロウ"),
            "19700304",
        ),
        ("1000003", ("田中", "一"), ("タナカ", "ハジメ"), "19800102"),
    ] {
        let p = adt00_path(pid, "20240101000000000", '1');
        b.add_file(
            &p,
            "x",
            &adt00(pid, kanji, kana, birth, "卵"),
            FileFormat::Ssmix2,
        );
    }
    let index = b.finish(date(2024, 1, 2));
    let ids = |v: Vec<PatientBrief>| v.into_iter().map(|p| p.patient_id).collect::<Vec<_>>();
    assert_eq!(
        ids(index.search_kana("ﾔﾏﾀﾞ")),
        ["1000001", "1000002"],
        "prefix first"
    );
    assert_eq!(ids(index.search_kana("やまだ　はなこ")), ["1000001"]);
    assert_eq!(ids(index.search_kana("山田")), ["1000001", "1000002"]);
    assert!(index.search_kana(" ").is_empty());
    assert_eq!(
        ids(index.search_birth(date(1980, 1, 2))),
        ["1000001", "1000003"]
    );
    assert!(index.inpatients().is_empty());
}

#[test]
fn malformed_files_are_counted_and_skipped() {
    let mut b = ClinicalIndexBuilder::new(None);
    let p = |n: u32| format!("1234567_-_ADT-00_999999999999999_2024010100000{n:04}_-_1");
    b.add_file(&p(1), "1", b"", FileFormat::Ssmix2);
    b.add_file(
        &p(2),
        "2",
        &[0x80, 0xFF, 0xFE, 0x81, 0xFF],
        FileFormat::Ssmix2,
    );
    b.add_file(&p(3), "3", b"PID|no msh\r", FileFormat::Ssmix2);
    b.add_file("README.txt", "4", b"hello", FileFormat::Ssmix2);
    b.add_file("x.json", "5", b"{\"resourceType\":\"Bund", FileFormat::Fhir);
    let index = b.finish(date(2024, 1, 2));
    let r = index.report();
    assert_eq!(r.skipped_total(), 5);
    for key in [
        "empty",
        "undecodable",
        "not_hl7",
        "not_ssmix2_path",
        "invalid_json",
    ] {
        assert_eq!(r.skipped.get(key), Some(&1), "{key}: {r:?}");
    }
    assert_eq!(r.patients, 0);
}

#[test]
fn format_detection() {
    assert_eq!(FileFormat::detect("a/b.json", b""), Some(FileFormat::Fhir));
    assert_eq!(
        FileFormat::detect("bundle", b"\xEF\xBB\xBF {"),
        Some(FileFormat::Fhir)
    );
    assert_eq!(
        FileFormat::detect(&adt00_path("1234567", "20240101000000000", '1'), b"MSH"),
        Some(FileFormat::Ssmix2)
    );
    assert_eq!(FileFormat::detect("notes.md", b"# hi"), None);
}

#[test]
fn extracts_from_json_reuse_without_resolving() {
    let as_of = date(2024, 6, 1);
    let index = index_samples(as_of);
    let json = index.to_json().unwrap();
    let extracts = ClinicalIndex::extracts_from_json(&json).unwrap();
    assert_eq!(&extracts, index.files());
    // A builder seeded with them reuses every file and resolves the same summaries.
    let mut b = ClinicalIndexBuilder::with_extracts(extracts);
    for (path, ex) in index.files() {
        assert!(b.keep_unchanged(path, &ex.content_id), "{path}");
    }
    let again = b.finish(as_of);
    assert_eq!(again.report().reused, index.files().len());
    let ids: Vec<&str> = index.patient_ids().collect();
    assert!(!ids.is_empty());
    for id in ids {
        assert_eq!(again.summary(id), index.summary(id));
    }
    let wrong = String::from_utf8(json).unwrap().replacen(
        "\"format_version\":1",
        "\"format_version\":99",
        1,
    );
    assert!(matches!(
        ClinicalIndex::extracts_from_json(wrong.as_bytes()),
        Err(ClinicalError::IndexVersion { found: 99, .. })
    ));
}
