//! Issue 7 acceptance through the CLI, JP-CLINS FHIR and the real samples: generated bundles
//! backed up with `--clinical fhir` summarise to their known facts (re-sent bundles handled),
//! a second backup reuses every unchanged bundle, and the public SS-MIX2 and JP-CLINS samples
//! in the shared folder parse through a backup with every field the viewer shows.

use crate::clinical_support;
use crate::common;

use clinical_support::*;
use common::{stderr, Kura};
use kura_clinical::synth::{generate, SynthConfig};

#[test]
fn fhir_bundles_summarise_to_known_facts_and_are_reused() {
    let k = Kura::init();
    let outbox = k.path("jp-clins");
    let data = generate(SynthConfig {
        patients: 10,
        seed: 17,
        as_of: today(),
    });
    write_files(&outbox, &data.fhir);

    let (index, first) = backup(&k, "fhir", "jp-clins", &outbox);
    let r = &index["report"];
    assert_eq!(r["patients"], 10);
    assert_eq!(r["files"], data.fhir.len());
    assert_eq!(r["skipped"], serde_json::json!({}));
    for e in &data.expected {
        let s = summary(&k, &e.patient_id, &[]);
        check_common(&s, e);
        assert_eq!(
            texts(&s, "documents"),
            e.document_titles,
            "{}",
            e.patient_id
        );
        assert_eq!(texts(&s, "prescriptions"), Vec::<String>::new());
        assert!(
            !texts(&s, "diagnoses").contains(&"古い病名".to_string()),
            "the older re-sent bundle is hidden"
        );
        assert_eq!(s["generation"]["format"], "fhir");
        assert_eq!(s["generation"]["id"], first["snapshot"]);
    }

    // A new bundle for one patient: everything else is reused, not parsed again.
    let extra = serde_json::json!({
        "resourceType": "AllergyIntolerance",
        "id": "extra-1",
        "patient": {"reference": "Patient/x"},
        "code": {"text": "ラテックス"}
    });
    std::fs::write(outbox.join("extra.json"), extra.to_string()).unwrap();
    let (index2, _) = backup(&k, "fhir", "jp-clins", &outbox);
    assert_eq!(
        index2["report"]["reused"],
        data.fhir.len(),
        "{}",
        index2["report"]
    );
    assert_eq!(index2["report"]["parsed"], 1);
}

#[test]
fn shared_ssmix2_samples_parse_through_a_backup() {
    let root = samples_dir().join("ssmix2/standard_root");
    assert!(
        root.is_dir(),
        "samples at {} (set KURA_SHARED_DIR)",
        root.display()
    );
    let k = Kura::init();
    let (index, _) = backup(&k, "ss-mix2", "ssmix2-samples", &root);
    let r = &index["report"];
    assert_eq!(r["files"], 10, "{r}");
    assert_eq!(r["retired"], 1, "the OMP-11 _0 file: {r}");
    assert_eq!(r["skipped"]["unsupported_data_type"], 1, "{r}");
    assert_eq!(r["patients"], 1, "{r}");

    let s = summary(&k, "9999013", &[]);
    assert_eq!(s["name_kanji"], "患者 太郎");
    assert_eq!(s["name_kana"], "カンジャ タロウ");
    assert_eq!(s["birth_date"], "1948-04-05");
    assert_eq!(s["sex"], "M");
    assert_eq!(
        texts(&s, "allergies"),
        ["アリナミン", "スギ", "ソバ", "ハウスダスト", "ペニシリン"]
    );
    assert_eq!(texts(&s, "diagnoses"), ["胃炎"]);
    assert_eq!(s["labs"].as_array().map(Vec::len), Some(3));
    assert!(s["labs"][0]["codes"].to_string().contains("JC10"));
    assert_eq!(s["admission"]["state"], "Discharged");
    assert_eq!(s["admission"]["admitted_at"], "2011-11-20T16:00");
    // The 2011 orders are far outside the 90 days before today's generation.
    assert_eq!(texts(&s, "prescriptions"), Vec::<String>::new());
    assert!(s["allergies"][0]["source"]
        .as_str()
        .unwrap()
        .contains("9999013"));

    let out = run(
        &k,
        &[
            "clinical",
            "summary",
            "--patient",
            "9999013",
            "--reason",
            REASON,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    for want in [
        "患者 太郎",
        "カンジャ タロウ",
        "ペニシリン",
        "胃炎",
        "退院 discharged",
    ] {
        assert!(page.contains(want), "{want} missing from\n{page}");
    }
}

#[test]
fn shared_jp_clins_samples_parse_through_a_backup() {
    let dir = samples_dir().join("jp-clins-fhir");
    let k = Kura::init();
    let (index, _) = backup(&k, "fhir", "jp-clins-samples", &dir);
    let r = &index["report"];
    assert_eq!(r["files"], 5, "{r}");
    assert_eq!(r["skipped"], serde_json::json!({}), "{r}");
    let s = summary(&k, "000999739", &[]);
    assert_eq!(s["name_kanji"], "牧野 爛漫");
    assert_eq!(s["labs"].as_array().map(Vec::len), Some(4));
    assert_eq!(s["diagnoses"].as_array().map(Vec::len), Some(3));
    let docs = texts(&s, "documents");
    assert_eq!(docs.len(), 1);
    assert!(
        !docs[0].is_empty(),
        "the referral letter has a display text"
    );
    let search = run(
        &k,
        &[
            "clinical",
            "search",
            "--kana",
            "マキノ",
            "--json",
            "--reason",
            REASON,
        ],
    );
    assert!(search.status.success(), "{}", stderr(&search));
    let results = json_lines(&search)[0]["results"].clone();
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["patient_id"] == "000999739"),
        "{results}"
    );
}
