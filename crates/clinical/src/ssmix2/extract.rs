//! Patient-level SS-MIX2 messages: demographics (PID), allergies (AL1, IAM), diagnoses (PRB)
//! and admission/discharge (PV1). Orders and results are in [`super::orders`].
//!
//! Field numbers are HL7 v2.5 positions as profiled by SS-MIX2 / JAHIS (see the format notes,
//! section A8). Every extractor is total: a missing field gives an empty value, never an error.

use chrono::NaiveDate;

use super::hl7::{Message, Segment};
use super::path::Ssmix2Name;
use crate::model::{
    normalize_time, AdmissionEvent, AdmissionEventKind, Allergy, Code, Demographics, Diagnosis,
    Fact, Indications, Sex,
};

/// A CWE/CE field (`code^text^system[^alt code^alt text^alt system]`) as codes; empty parts
/// are dropped, and a field with neither code nor text gives no code.
pub(crate) fn cwe_codes(msg: &Message, field: &str) -> Vec<Code> {
    let mut out = Vec::new();
    for base in [0, 3] {
        let code = Code {
            code: msg.component(field, base + 1),
            display: msg.component(field, base + 2),
            system: msg.component(field, base + 3),
        };
        if !code.code.is_empty() || !code.display.is_empty() {
            out.push(code);
        }
    }
    out
}

/// The first code of a CWE field, if any.
pub(crate) fn cwe(msg: &Message, field: &str) -> Option<Code> {
    cwe_codes(msg, field).into_iter().next()
}

/// Display text of a CWE: component 2, else component 1.
pub(crate) fn cwe_text(msg: &Message, field: &str) -> String {
    let text = msg.component(field, 2);
    if text.is_empty() {
        msg.component(field, 1)
    } else {
        text
    }
}

/// Demographics from the PID segment. The patient ID is the file name's (the folder is what
/// the storage is keyed by; NHO samples show PID-3 can disagree with it).
pub(crate) fn demographics(msg: &Message, name: &Ssmix2Name) -> Option<Demographics> {
    let pid = msg.segment("PID")?;
    let (kanji, kana) = pid_names(msg, pid);
    let birth = normalize_time(&msg.component(pid.field(7), 1));
    Some(Demographics {
        patient_id: name.patient_id.clone(),
        name_kanji: kanji,
        name_kana: kana,
        sex: Sex::parse(&msg.component(pid.field(8), 1)),
        birth_date: birth.and_then(|b| NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok()),
        source: String::new(),
    })
}

/// PID-5 repetitions: XPN-8 `I` (ideographic) is the kanji name, `P` (phonetic) the kana.
/// Without markers the first repetition is taken as kanji and the second as kana.
fn pid_names(msg: &Message, pid: &Segment) -> (String, String) {
    let (mut kanji, mut kana) = (String::new(), String::new());
    let mut unmarked = Vec::new();
    for rep in msg.repetitions(pid.field(5)) {
        let family = msg.rep_component(rep, 1);
        let given = msg.rep_component(rep, 2);
        let full = [family, given]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        match msg.rep_component(rep, 8).as_str() {
            "I" if kanji.is_empty() => kanji = full,
            "P" if kana.is_empty() => kana = full,
            _ => unmarked.push(full),
        }
    }
    let mut rest = unmarked.into_iter();
    if kanji.is_empty() {
        kanji = rest.next().unwrap_or_default();
    }
    if kana.is_empty() {
        kana = rest.next().unwrap_or_default();
    }
    (kanji, kana)
}

/// ADT-00: primary demographics plus AL1 allergies.
pub(crate) fn adt00(msg: &Message, name: &Ssmix2Name) -> Vec<Fact> {
    let mut facts = Vec::new();
    if let Some(d) = demographics(msg, name) {
        facts.push(Fact::Patient {
            demographics: d,
            primary: true,
        });
    }
    for al1 in msg.segments_named("AL1") {
        let codes = cwe_codes(msg, al1.field(3));
        let text = cwe_text(msg, al1.field(3));
        if text.is_empty() && codes.is_empty() {
            continue;
        }
        facts.push(Fact::Allergy(Allergy {
            text,
            codes,
            category: cwe(msg, al1.field(2)),
            severity: cwe(msg, al1.field(4)),
            reaction: msg.component(al1.field(5), 1),
            onset: normalize_time(&msg.component(al1.field(6), 1)),
            ..Allergy::default()
        }));
    }
    facts
}

/// ADT-61 (ADT^A60): IAM allergies. IAM-6 action `D` (delete) entries are dropped.
pub(crate) fn adt61(msg: &Message) -> Vec<Fact> {
    let mut facts = Vec::new();
    for iam in msg.segments_named("IAM") {
        if msg.component(iam.field(6), 1).eq_ignore_ascii_case("D") {
            continue;
        }
        let codes = cwe_codes(msg, iam.field(3));
        let text = cwe_text(msg, iam.field(3));
        if text.is_empty() && codes.is_empty() {
            continue;
        }
        // IAM-11 is a date; IAM-12 is free text (`小学校低学年の頃`) kept when no date exists.
        let onset = normalize_time(&msg.component(iam.field(11), 1)).or_else(|| {
            let t = msg.unescape(iam.field(12));
            (!t.is_empty()).then_some(t)
        });
        facts.push(Fact::Allergy(Allergy {
            text,
            codes,
            category: cwe(msg, iam.field(2)),
            severity: cwe(msg, iam.field(4)),
            reaction: msg.unescape(iam.field(5)),
            onset,
            ..Allergy::default()
        }));
    }
    facts
}

/// PPR-01 (PPR^ZD1): one diagnosis per PRB; a following ZPR adds the 交換用コード.
pub(crate) fn ppr01(msg: &Message) -> Vec<Fact> {
    let mut out: Vec<Diagnosis> = Vec::new();
    let mut last_was_prb = false;
    for seg in &msg.segments {
        match seg.name() {
            "PRB" => {
                last_was_prb = match prb(msg, seg) {
                    Some(d) => {
                        out.push(d);
                        true
                    }
                    None => false,
                };
            }
            "ZPR" if last_was_prb => {
                if let (Some(d), Some(code)) = (out.last_mut(), cwe(msg, seg.field(5))) {
                    if !d.codes.contains(&code) {
                        d.codes.push(code);
                    }
                }
            }
            _ => last_was_prb = false,
        }
    }
    out.into_iter().map(Fact::Diagnosis).collect()
}

fn prb(msg: &Message, seg: &Segment) -> Option<Diagnosis> {
    let action = msg.component(seg.field(1), 1);
    let mut codes = cwe_codes(msg, seg.field(3));
    let icd = msg.component(seg.field(10), 1);
    if !icd.is_empty() {
        codes.push(Code {
            code: icd,
            system: msg.component(seg.field(10), 3),
            display: msg.component(seg.field(10), 2),
        });
    }
    let full_name = msg.unescape(seg.field(17));
    let text = if full_name.is_empty() {
        cwe_text(msg, seg.field(3))
    } else {
        full_name
    };
    if text.is_empty() && codes.is_empty() {
        return None;
    }
    let resolved = normalize_time(&msg.component(seg.field(9), 1));
    let status = cwe(msg, seg.field(14));
    let confirmation = cwe(msg, seg.field(13));
    let active = !action.eq_ignore_ascii_case("DE") && is_active(status.as_ref(), &resolved);
    Some(Diagnosis {
        text,
        codes,
        onset: normalize_time(&msg.component(seg.field(16), 1))
            .or_else(|| normalize_time(&msg.component(seg.field(7), 1))),
        resolved,
        status,
        active,
        suspected: confirmation.is_some_and(|c| c.code == "S" || c.display.contains('疑')),
        problem_id: msg.component(seg.field(4), 1),
        indications: Indications {
            restricted: msg.component(seg.field(25), 1) == "V",
            ..Indications::default()
        },
        source: String::new(),
    })
}

/// A problem is active unless its outcome (PRB-14, HL7 0241 or JAHIS 転帰) says it ended, or —
/// when no outcome is recorded — a resolution date (PRB-9) exists. The outcome wins over the
/// date because NHO samples carry a 転帰日 with outcome `N^回復せず`; when unsure, showing a
/// diagnosis is safer than hiding it.
fn is_active(outcome: Option<&Code>, resolved: &Option<String>) -> bool {
    match outcome {
        Some(o) => {
            let ended_code = matches!(o.code.as_str(), "D" | "F");
            let ended_text = ["治癒", "死亡", "中止", "転医", "削除"]
                .iter()
                .any(|w| o.display.contains(w));
            !(ended_code || ended_text)
        }
        None => resolved.is_none(),
    }
}

/// ADT-22 / ADT-52: admission or discharge (or their cancellations, told by MSH-9).
pub(crate) fn admission(msg: &Message, name: &Ssmix2Name) -> Vec<Fact> {
    let (_, trigger) = msg.message_type();
    let kind = match (name.data_type.as_str(), trigger.as_str()) {
        (_, "A11") => AdmissionEventKind::AdmissionCancelled,
        (_, "A13") => AdmissionEventKind::DischargeCancelled,
        (_, "A03") | ("ADT-52", _) => AdmissionEventKind::Discharged,
        _ => AdmissionEventKind::Admitted,
    };
    let empty = Segment::empty();
    let pv1 = msg.segment("PV1").unwrap_or(&empty);
    let evn = msg.segment("EVN").unwrap_or(&empty);
    let time_field = match kind {
        AdmissionEventKind::Discharged | AdmissionEventKind::DischargeCancelled => 45,
        _ => 44,
    };
    let date = normalize_time(&msg.component(pv1.field(time_field), 1))
        .or_else(|| normalize_time(&msg.component(evn.field(6), 1)))
        .or_else(|| name.date.as_deref().and_then(normalize_time));
    let department = msg.component(pv1.field(10), 1);
    vec![Fact::Admission(AdmissionEvent {
        kind,
        date,
        ward: msg.component(pv1.field(3), 1),
        room: msg.component(pv1.field(3), 2),
        bed: msg.component(pv1.field(3), 3),
        department: if department.is_empty() {
            name.department.clone().unwrap_or_default()
        } else {
            department
        },
        source: String::new(),
    })]
}
