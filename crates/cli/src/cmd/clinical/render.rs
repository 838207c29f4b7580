//! How clinical views are printed: JSON for scripts, a bilingual page for people.
//!
//! Display text is printed exactly as the source recorded it (full-width digits, vendor
//! spelling): during an outage a clinician must read what the EHR said. Labels are Japanese
//! with English beside them so one page serves the ward and the IT team. Every page and every
//! JSON object states the generation the data comes from, when it was taken and its verdict.

use std::fmt::Write;

use kura_clinical::model::{Code, Indications, Medication, MedicationKind, Sex};
use kura_clinical::{AdmissionState, AdmissionStatus, PatientBrief, PatientSummary};
use kura_policy::Verdict;
use serde_json::{json, Value};

use kura_engine::clinical_view::ClinicalView;

pub fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Clean => "正常 clean",
        Verdict::Suspicious => "ランサムウェアの疑い SUSPICIOUS",
        Verdict::Unknown => "未判定 not judged",
    }
}

/// The generation a view comes from, as JSON.
pub fn generation_json(l: &ClinicalView) -> Value {
    let p = l.provenance();
    json!({
        "id": p.snapshot.to_hex(),
        "source": p.source,
        "time": p.time.to_rfc3339(),
        "committed_at": p.committed_at.to_rfc3339(),
        "verdict": p.verdict.to_string(),
        "format": p.format,
        "as_of": p.as_of,
    })
}

/// One line naming the generation, for text pages.
pub fn generation_line(l: &ClinicalView) -> String {
    let p = l.provenance();
    let mut line = format!(
        "出典 Source: generation {} (source {}), taken {}, 判定 verdict: {}",
        p.snapshot.short(),
        p.source,
        p.committed_at.format("%Y-%m-%d %H:%M UTC"),
        verdict_label(p.verdict)
    );
    if p.verdict == Verdict::Suspicious {
        line.push_str("\n  ⚠ この世代はランサムウェアの疑いがあります。 This generation is suspected of ransomware damage: check the data against another generation.");
    }
    line
}

/// The summary as one JSON object: the patient's fields, the lists `allergies`, `diagnoses`,
/// `prescriptions` (prescriptions and injections of the last 90 days, each with its `kind`),
/// `labs`, `infections`, `documents` (each entry with its display `text`), and `generation`.
pub fn summary_json(l: &ClinicalView, s: &PatientSummary) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut v {
        if let Some(meds) = map.remove("medications") {
            map.insert("prescriptions".into(), meds);
        }
        // Documents carry a title, not a text: give every list entry the same `text` key.
        if let Some(Value::Array(docs)) = map.get_mut("documents") {
            for (d, doc) in docs.iter_mut().zip(&s.documents) {
                if let Value::Object(d) = d {
                    d.insert("text".into(), Value::String(document_text(doc)));
                }
            }
        }
        map.insert("generation".into(), generation_json(l));
    }
    v
}

fn document_text(d: &kura_clinical::model::Document) -> String {
    if !d.title.is_empty() {
        return d.title.clone();
    }
    d.doc_type.as_ref().map(code_text).unwrap_or_default()
}

fn code_text(c: &Code) -> String {
    if c.display.is_empty() {
        c.code.clone()
    } else {
        c.display.clone()
    }
}

fn sex_label(s: Sex) -> &'static str {
    match s {
        Sex::Male => "男 M",
        Sex::Female => "女 F",
        Sex::Other => "その他 O",
        Sex::Unknown => "不明 U",
    }
}

fn badges(i: &Indications) -> String {
    let mut out = String::new();
    for (set, label) in [
        (i.lts, " [LTS 長期保存]"),
        (i.uninformed, " [未告知 UNINFORMED]"),
        (i.undelivered, " [未提供 UNDELIVERED]"),
        (i.restricted, " [限定 restricted]"),
    ] {
        if set {
            out.push_str(label);
        }
    }
    out
}

fn opt(label: &str, value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => format!("  {label} {v}"),
        _ => String::new(),
    }
}

pub fn admission_text(a: Option<&AdmissionStatus>) -> String {
    match a {
        None => "記録なし none recorded".into(),
        Some(a) if a.state == AdmissionState::Admitted => format!(
            "入院中 admitted — 病棟 ward {} 病室 room {} ベッド bed {}{}",
            a.ward,
            a.room,
            a.bed,
            opt("入院日 since", a.admitted_at.as_deref())
        ),
        Some(a) => format!(
            "退院 discharged{}{}",
            opt("入院 admitted", a.admitted_at.as_deref()),
            opt("退院 discharged", a.discharged_at.as_deref())
        ),
    }
}

pub fn medication_line(m: &Medication) -> String {
    let kind = match m.kind {
        MedicationKind::Prescription => "処方 Rx",
        MedicationKind::Injection => "注射 Inj",
    };
    let mut line = format!("{} {kind} {}", m.date.as_deref().unwrap_or("----"), m.text);
    for part in [
        m.dose.clone(),
        m.usage.as_ref().map(code_text).unwrap_or_default(),
        m.route.as_ref().map(code_text).unwrap_or_default(),
        m.duration.clone(),
    ] {
        if !part.is_empty() {
            line.push_str("  ");
            line.push_str(&part);
        }
    }
    line + &badges(&m.indications)
}

fn section(out: &mut String, title: &str, lines: Vec<String>) {
    let _ = writeln!(out, "\n■ {title} ({})", lines.len());
    if lines.is_empty() {
        let _ = writeln!(out, "  なし none recorded");
    }
    for l in lines {
        let _ = writeln!(out, "  ・{l}");
    }
}

/// A readable page for one patient.
pub fn summary_text(l: &ClinicalView, s: &PatientSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "══ 患者サマリー Patient summary ══");
    let _ = writeln!(out, "患者ID Patient ID: {}", s.patient_id);
    let _ = writeln!(out, "氏名 Name: {}  ({})", s.name_kanji, s.name_kana);
    let birth = s.birth_date.map(|d| d.to_string()).unwrap_or_default();
    let _ = writeln!(
        out,
        "性別 Sex: {}   生年月日 Birth date: {birth}",
        sex_label(s.sex)
    );
    let _ = writeln!(
        out,
        "入院状況 Admission: {}",
        admission_text(s.admission.as_ref())
    );
    let _ = writeln!(out, "{}", generation_line(l));
    let _ = writeln!(
        out,
        "処方は {} までの90日間 Prescriptions: the 90 days up to {}",
        l.manifest().as_of,
        l.manifest().as_of
    );
    let allergies = s.allergies.iter().map(|a| {
        let cat = a.category.as_ref().map(code_text);
        let sev = a.severity.as_ref().map(code_text);
        format!(
            "{}{}{}{}{}",
            a.text,
            opt("分類 category", cat.as_deref()),
            opt("重症度 severity", sev.as_deref()),
            opt("症状 reaction", Some(&a.reaction)),
            badges(&a.indications)
        )
    });
    section(&mut out, "アレルギー Allergies", allergies.collect());
    let dx = s.diagnoses.iter().map(|d| {
        let codes: Vec<&str> = d.codes.iter().map(|c| c.code.as_str()).collect();
        format!(
            "{}{}  ({}){}{}",
            d.text,
            if d.suspected {
                " [疑い suspected]"
            } else {
                ""
            },
            codes.join(", "),
            opt("発症 onset", d.onset.as_deref()),
            badges(&d.indications)
        )
    });
    section(&mut out, "病名 Active diagnoses", dx.collect());
    let meds = s.medications.iter().map(medication_line).collect();
    section(&mut out, "処方・注射 Prescriptions and injections", meds);
    summary_text_rest(&mut out, s);
    out
}

fn summary_text_rest(out: &mut String, s: &PatientSummary) {
    let labs = s.labs.iter().map(|r| {
        format!(
            "{} {} {} {}{}{}",
            r.date.as_deref().unwrap_or("----"),
            r.text,
            r.value,
            r.unit,
            opt("基準値 range", Some(&r.reference_range)),
            opt("判定 flag", Some(&r.abnormal_flag))
        )
    });
    section(out, "検査結果 Latest lab results", labs.collect());
    let inf = s.infections.iter().map(|i| {
        format!(
            "{} {}{}",
            i.text,
            i.value,
            opt("日付 date", i.date.as_deref())
        )
    });
    section(out, "感染症 Infections", inf.collect());
    let docs = s.documents.iter().map(|d| {
        let excerpt: String = d.excerpt.chars().take(120).collect();
        format!(
            "{} {}{}{}{}",
            d.date.as_deref().unwrap_or("----"),
            document_text(d),
            opt("作成者 author", Some(&d.author)),
            badges(&d.indications),
            opt("\n     ", Some(&excerpt))
        )
    });
    section(out, "文書 Documents", docs.collect());
    if !s.uncertain.is_empty() {
        let unc = s.uncertain.iter().map(|u| {
            format!(
                "{}: 最新版なし no current version (files: {})",
                u.record_key,
                u.files.join(", ")
            )
        });
        section(out, "要確認 Uncertain records", unc.collect());
    }
}

/// One search or ward-list row.
pub fn brief_json(b: &PatientBrief, l: &ClinicalView) -> Value {
    let mut v = serde_json::to_value(b).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut v {
        map.insert(
            "generation".into(),
            Value::String(l.generation().entry.id.to_hex()),
        );
    }
    v
}

pub fn brief_line(b: &PatientBrief) -> String {
    let birth = b.birth_date.map(|d| d.to_string()).unwrap_or_default();
    let stay = match &b.admission {
        Some(a) if a.state == AdmissionState::Admitted => format!("  入院中 ward {}", a.ward),
        _ => String::new(),
    };
    format!(
        "{}  {}  ({})  {}  {birth}{stay}",
        b.patient_id,
        b.name_kanji,
        b.name_kana,
        sex_label(b.sex)
    )
}
