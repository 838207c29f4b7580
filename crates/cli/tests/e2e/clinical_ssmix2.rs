//! Issue 7 acceptance through the CLI, SS-MIX2: generated patients backed up with
//! `--clinical ss-mix2` summarise to exactly their known facts (replaced and deleted records
//! handled); a second backup re-parses only the changed files; search, ward list, malformed
//! files, and the audit trail of every view.

use crate::clinical_support;
use crate::common;

use std::collections::BTreeSet;

use clinical_support::*;
use common::{stderr, Kura};
use kura_clinical::ssmix2::decode::{decode_hl7_bytes, encode_iso2022jp};
use kura_clinical::synth::{generate, ExpectedPatient, SynthConfig, SynthData};

fn synth(patients: usize, seed: u64) -> SynthData {
    generate(SynthConfig {
        patients,
        seed,
        as_of: today(),
    })
}

fn check_ssmix2(s: &serde_json::Value, e: &ExpectedPatient) {
    check_common(s, e);
    let id = &e.patient_id;
    assert_eq!(texts(s, "prescriptions"), e.medications, "{id}");
    assert_eq!(texts(s, "documents"), Vec::<String>::new(), "{id}");
    match (&e.admitted_ward, e.discharged) {
        (Some(ward), _) => {
            assert_eq!(s["admission"]["state"], "Admitted", "{id}");
            assert_eq!(s["admission"]["ward"], ward.as_str(), "{id}");
        }
        (None, true) => assert_eq!(s["admission"]["state"], "Discharged", "{id}"),
        (None, false) => assert!(s["admission"].is_null(), "{id}"),
    }
}

/// Replace patient `e`'s current ADT-00 the way an SS-MIX2 writer does: the old `_1` file is
/// renamed `_2` and a newer `_1` version is written, here with another AL1 allergen.
/// Returns the allergen that was replaced.
fn replace_adt00(root: &std::path::Path, data: &SynthData, e: &ExpectedPatient) -> String {
    let current = data
        .ssmix2
        .iter()
        .find(|f| {
            f.rel_path.contains(&format!("{}_-_ADT-00_", e.patient_id))
                && f.rel_path.ends_with("_1")
        })
        .expect("patient has a current ADT-00");
    let text = decode_hl7_bytes(&current.bytes).expect("decodes").text;
    let al1 = text
        .split('\r')
        .find(|seg| seg.starts_with("AL1|"))
        .expect("ADT-00 has an AL1 segment");
    let old_allergen = al1
        .split('|')
        .nth(3)
        .and_then(|f| f.split('^').nth(1))
        .expect("AL1-3.2")
        .to_string();
    let new_text = text.replace(
        al1,
        "AL1|1|DA^薬剤アレルギー^HL70127|1^テストマイシン^99XYZ",
    );
    let (dir, name) = current.rel_path.rsplit_once('/').expect("in a folder");
    let fields: Vec<&str> = name.split('_').collect();
    let newer_ts = format!(
        "{}",
        fields[4].parse::<u64>().expect("digits") + 1_000_000_000
    );
    let new_name = [
        fields[0], fields[1], fields[2], fields[3], &newer_ts, fields[5], "1",
    ]
    .join("_");
    let old_path = root.join(&current.rel_path);
    let retired = root.join(dir).join(format!("{}2", &name[..name.len() - 1]));
    std::fs::rename(&old_path, retired).unwrap();
    std::fs::write(root.join(dir).join(new_name), encode_iso2022jp(&new_text)).unwrap();
    old_allergen
}

#[test]
fn ssmix2_summaries_equal_known_facts_and_unchanged_files_are_reused() {
    let k = Kura::init();
    let root = k.path("standard_root");
    let data = synth(12, 21);
    write_files(&root, &data.ssmix2);

    let (index, first) = backup(&k, "ss-mix2", "ssmix2", &root);
    let r = &index["report"];
    assert_eq!(r["patients"], 12);
    assert_eq!(r["files"], data.ssmix2.len());
    assert_eq!(
        r["parsed"],
        data.ssmix2.len(),
        "first backup reads everything"
    );
    assert_eq!(r["reused"], 0);
    assert_eq!(
        r["skipped"],
        serde_json::json!({}),
        "generated files all parse"
    );
    assert_eq!(r["deleted_records"], 12, "one deleted order per patient");
    assert_eq!(index["snapshot"], first["snapshot"]);
    for e in &data.expected {
        let s = summary(&k, &e.patient_id, &[]);
        check_ssmix2(&s, e);
        assert_eq!(s["generation"]["id"], first["snapshot"]);
        assert_eq!(s["generation"]["as_of"], today().to_string().as_str());
    }

    // One patient's demographics replaced: only the two touched files are read again.
    let changed = &data.expected[3];
    let old_allergen = replace_adt00(&root, &data, changed);
    let (index2, second) = backup(&k, "ss-mix2", "ssmix2", &root);
    let r2 = &index2["report"];
    assert_eq!(r2["files"], data.ssmix2.len() + 1);
    assert_eq!(
        r2["parsed"], 2,
        "the renamed _2 file and the new _1 file: {r2}"
    );
    assert_eq!(r2["reused"], data.ssmix2.len() - 1, "{r2}");
    // Every folder but the changed patient's ADT-00 folder is an unchanged tree: its files are
    // taken over without reading it.
    let by_dir = index2["reused_by_directory"].as_u64().unwrap() as usize;
    let folder = format!("{}/-/ADT-00/", changed.patient_id);
    let in_folder = data
        .ssmix2
        .iter()
        .filter(|f| f.rel_path.contains(&folder))
        .count();
    assert_eq!(by_dir, data.ssmix2.len() - in_folder, "{index2}");
    let s = summary(&k, &changed.patient_id, &[]);
    assert_eq!(s["generation"]["id"], second["snapshot"]);
    let mut want = changed.allergies.clone();
    let at = want
        .iter()
        .position(|a| *a == old_allergen)
        .expect("AL1 allergen expected");
    want[at] = "テストマイシン".to_string();
    want.sort();
    assert_eq!(texts(&s, "allergies"), want, "{old_allergen} replaced");
    // An unchanged patient reads the same from the reused extracts.
    check_ssmix2(
        &summary(&k, &data.expected[0].patient_id, &[]),
        &data.expected[0],
    );
    // The first generation still shows what was true then.
    let first_id = first["snapshot"].as_str().unwrap();
    let old = summary(&k, &changed.patient_id, &["--snapshot", &first_id[..12]]);
    check_ssmix2(&old, changed);
    assert_eq!(old["generation"]["id"], first["snapshot"]);

    // Every view is in the audit log with its reason.
    let views = audit_lines(&k, "clinical.view");
    assert_eq!(views.len(), 12 + 3, "{views:?}");
    assert!(views.iter().all(|l| l.contains(REASON)));
    assert!(views.iter().any(|l| l.contains(&changed.patient_id)));
}

#[test]
fn search_ward_list_malformed_files_and_missing_patients() {
    let k = Kura::init();
    let root = k.path("standard_root");
    let data = synth(8, 5);
    write_files(&root, &data.ssmix2);
    let p0 = &data.expected[0];
    let dir = root
        .join(&p0.patient_id[..3])
        .join(&p0.patient_id[3..6])
        .join(&p0.patient_id);
    let bad = |name: &str| {
        dir.join("20240101/OMP-01").join(format!(
            "{}_20240101_OMP-01_{name}_20240101120000000_01_1",
            p0.patient_id
        ))
    };
    std::fs::create_dir_all(bad("x").parent().unwrap()).unwrap();
    std::fs::write(bad("000000000000001"), b"").unwrap();
    std::fs::write(
        bad("000000000000002"),
        [0xFFu8, 0xFE, 0x00, 0x1B, 0x24, 0x42, 0xFF, 0x80].repeat(50),
    )
    .unwrap();
    std::fs::write(
        bad("000000000000003"),
        b"PID|truncated before any MSH\r\x1c",
    )
    .unwrap();
    std::fs::write(root.join("README.txt"), "not clinical data").unwrap();

    let (index, _) = backup(&k, "ss-mix2", "ssmix2", &root);
    let skipped = &index["report"]["skipped"];
    assert_eq!(skipped["empty"], 1, "{skipped}");
    assert_eq!(skipped["not_ssmix2_path"], 1, "{skipped}");
    let total: u64 = skipped
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 4, "every malformed file is counted: {skipped}");
    assert_eq!(index["report"]["patients"], 8);
    for e in &data.expected {
        check_ssmix2(&summary(&k, &e.patient_id, &[]), e);
    }

    // Search by kana (written without the space) and by birth date.
    let e = &data.expected[2];
    let kana = e.name_kana.replace(' ', "");
    let out = run(
        &k,
        &[
            "clinical", "search", "--kana", &kana, "--json", "--reason", REASON,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let found = &json_lines(&out)[0]["results"];
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["patient_id"] == e.patient_id.as_str()),
        "{found}"
    );
    let birth = e.birth_date.to_string();
    let out = run(
        &k,
        &[
            "clinical", "search", "--birth", &birth, "--json", "--reason", REASON,
        ],
    );
    let found = json_lines(&out)[0]["results"].clone();
    let ids: BTreeSet<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["patient_id"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = data
        .expected
        .iter()
        .filter(|x| x.birth_date == e.birth_date)
        .map(|x| x.patient_id.as_str())
        .collect();
    assert_eq!(ids, want);
    let out = run(
        &k,
        &[
            "clinical",
            "search",
            "--kana",
            "ンンンンン",
            "--json",
            "--reason",
            REASON,
        ],
    );
    assert!(out.status.success());
    assert_eq!(json_lines(&out)[0]["results"], serde_json::json!([]));

    // Ward list: exactly the admitted patients, with their allergies.
    let out = run(&k, &["clinical", "ward", "--json", "--reason", REASON]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ward = json_lines(&out)[0]["inpatients"].clone();
    let listed: BTreeSet<&str> = ward
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["patient_id"].as_str().unwrap())
        .collect();
    let admitted: BTreeSet<&str> = data
        .expected
        .iter()
        .filter(|x| x.admitted_ward.is_some())
        .map(|x| x.patient_id.as_str())
        .collect();
    assert_eq!(listed, admitted);
    for row in ward.as_array().unwrap() {
        let e = data
            .expected
            .iter()
            .find(|x| x.patient_id == row["patient_id"].as_str().unwrap())
            .unwrap();
        assert_eq!(texts(row, "allergies"), e.allergies);
        assert_eq!(texts(row, "prescriptions"), e.medications);
    }
    let text = run(&k, &["clinical", "ward", "--reason", REASON]);
    let page = String::from_utf8_lossy(&text.stdout);
    assert!(
        page.contains("病棟患者一覧 Ward list") && page.contains("判定 verdict"),
        "{page}"
    );

    // A patient nobody has: a clear failure, audited as such.
    let out = run(
        &k,
        &[
            "clinical",
            "summary",
            "--patient",
            "0000000000",
            "--reason",
            REASON,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("0000000000 is not in the clinical index"),
        "{}",
        stderr(&out)
    );
    let failures = audit_lines(&k, r#""target":"0000000000""#);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains(r#""result":"failure""#),
        "{}",
        failures[0]
    );
    assert_eq!(audit_lines(&k, "clinical.view").len(), 8 + 3 + 2 + 1);
}

#[test]
fn text_page_names_the_generation_and_lists_the_facts() {
    let k = Kura::init();
    let root = k.path("standard_root");
    let data = synth(2, 9);
    write_files(&root, &data.ssmix2);
    let (_, first) = backup(&k, "ss-mix2", "ssmix2", &root);
    let e = &data.expected[1];
    let out = run(
        &k,
        &[
            "clinical",
            "summary",
            "--patient",
            &e.patient_id,
            "--reason",
            REASON,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    let short = &first["snapshot"].as_str().unwrap()[..8];
    assert!(page.contains(&format!("generation {short}")), "{page}");
    assert!(page.contains(&e.name_kanji), "{page}");
    for text in e.allergies.iter().chain(&e.diagnoses).chain(&e.medications) {
        assert!(page.contains(text.as_str()), "{text} missing from\n{page}");
    }
    let list = run(&k, &["clinical", "list", "--json"]);
    let rows = json_lines(&list)[0].clone();
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!(rows[0]["format"], "ss-mix2");
    assert_eq!(rows[0]["report"]["patients"], 2);
}
