//! Orders and results: OMP-01 / OMP-02 (RDE^O11 prescriptions and injections) and OML-11
//! (OUL^R22 lab results).
//!
//! Both messages are sequences of repeating groups whose context is set by an earlier segment
//! (ORC for orders, SPM/OBR for results), so they are read by walking the segments in order
//! and keeping that context, rather than by a grammar: the walk tolerates missing and
//! reordered segments, which real feeds produce.

use super::extract::{cwe, cwe_codes, cwe_text};
use super::hl7::{Message, Segment};
use super::path::Ssmix2Name;
use crate::codes::is_infection_lab;
use crate::model::{normalize_time, Code, Fact, LabResult, Medication, MedicationKind};

/// One RXE and the RXC components that follow it; TQ1/RXR apply to the whole group.
struct DrugGroup {
    meds: Vec<Medication>,
    rxc_seen: bool,
}

/// OMP-01 / OMP-02: one [`Medication`] per RXE line, or per RXC component when the RXE names
/// only a generic placeholder (injection mixtures list their drugs in RXC).
pub(crate) fn omp(msg: &Message, name: &Ssmix2Name, kind: MedicationKind) -> Vec<Fact> {
    let mut out = Vec::new();
    let mut order_no = name.order_no.clone();
    let mut order_date = name.date.as_deref().and_then(normalize_time);
    let mut group: Option<DrugGroup> = None;
    for seg in &msg.segments {
        match seg.name() {
            "ORC" => {
                flush(&mut group, &mut out);
                let no = msg.component(seg.field(2), 1);
                if !no.is_empty() {
                    order_no = no;
                }
                if let Some(t) = normalize_time(&msg.component(seg.field(9), 1)) {
                    order_date = Some(t);
                }
            }
            "RXE" => {
                flush(&mut group, &mut out);
                let mut med = rxe(msg, seg, kind);
                med.order_no = order_no.clone();
                med.date = order_date.clone();
                group = Some(DrugGroup {
                    meds: vec![med],
                    rxc_seen: false,
                });
            }
            "RXC" => {
                if let Some(g) = group.as_mut() {
                    rxc(msg, seg, g);
                }
            }
            "TQ1" => {
                if let Some(g) = group.as_mut() {
                    g.meds.iter_mut().for_each(|m| tq1(msg, seg, m));
                }
            }
            "RXR" => {
                if let Some(g) = group.as_mut() {
                    let route = cwe(msg, seg.field(1));
                    g.meds.iter_mut().for_each(|m| m.route = route.clone());
                }
            }
            _ => {}
        }
    }
    flush(&mut group, &mut out);
    out.into_iter().map(Fact::Medication).collect()
}

fn flush(group: &mut Option<DrugGroup>, out: &mut Vec<Medication>) {
    if let Some(g) = group.take() {
        out.extend(g.meds.into_iter().filter(|m| !m.text.is_empty()));
    }
}

fn rxe(msg: &Message, seg: &Segment, kind: MedicationKind) -> Medication {
    let amount = msg.component(seg.field(3), 1);
    let unit = cwe_text(msg, seg.field(5));
    Medication {
        kind,
        text: cwe_text(msg, seg.field(2)),
        codes: cwe_codes(msg, seg.field(2)),
        dose: join_nonempty(&[amount, unit]),
        ..Medication::default()
    }
}

fn rxc(msg: &Message, seg: &Segment, group: &mut DrugGroup) {
    let Some(template) = group.meds.first() else {
        return;
    };
    let mut med = template.clone();
    med.text = cwe_text(msg, seg.field(2));
    med.codes = cwe_codes(msg, seg.field(2));
    med.dose = join_nonempty(&[msg.component(seg.field(3), 1), cwe_text(msg, seg.field(4))]);
    if group.rxc_seen {
        group.meds.push(med);
    } else {
        // The first RXC replaces the RXE placeholder (`00^一般`): the components are the drugs.
        group.meds[0] = med;
        group.rxc_seen = true;
    }
}

/// TQ1-3 usage (JAMI 16-digit code; NHO writes `code&text&system` as subcomponents of
/// component 1), TQ1-6 duration (`5^d`), TQ1-7 start.
fn tq1(msg: &Message, seg: &Segment, med: &mut Medication) {
    let usage_field = seg.field(3);
    let first = usage_field
        .split(msg.delimiters.repetition)
        .next()
        .unwrap_or("")
        .split(msg.delimiters.component)
        .next()
        .unwrap_or("");
    let subs = msg.subcomponents(first);
    let usage = if subs.len() >= 2 {
        Some(Code {
            code: subs[0].clone(),
            display: subs.get(1).cloned().unwrap_or_default(),
            system: subs.get(2).cloned().unwrap_or_default(),
        })
    } else {
        cwe(msg, usage_field)
    };
    if usage.is_some() {
        med.usage = usage;
    }
    let duration = join_nonempty(&[
        msg.component(seg.field(6), 1),
        msg.component(seg.field(6), 2),
    ]);
    if !duration.is_empty() {
        med.duration = duration;
    }
    if let Some(start) = normalize_time(&msg.component(seg.field(7), 1)) {
        med.date = Some(start);
    }
}

fn join_nonempty(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// OML-11 (OUL^R22): one [`LabResult`] per OBX. The time comes from OBX-14, else the
/// specimen collection time (SPM-17), else OBR-7, else the file's 診療日.
pub(crate) fn oml11(msg: &Message, name: &Ssmix2Name) -> Vec<Fact> {
    let mut out = Vec::new();
    let mut context_time = name.date.as_deref().and_then(normalize_time);
    for seg in &msg.segments {
        match seg.name() {
            "SPM" => {
                if let Some(t) = normalize_time(&msg.component(seg.field(17), 1)) {
                    context_time = Some(t);
                }
            }
            "OBR" => {
                if let Some(t) = normalize_time(&msg.component(seg.field(7), 1)) {
                    context_time = Some(t);
                }
            }
            "OBX" => {
                if let Some(lab) = obx(msg, seg, &context_time) {
                    out.push(Fact::Lab(lab));
                }
            }
            _ => {}
        }
    }
    out
}

fn obx(msg: &Message, seg: &Segment, context_time: &Option<String>) -> Option<LabResult> {
    // OBX-11 `D` (deleted) and `W` (wrong, replaced) results must not be shown.
    let status = msg.component(seg.field(11), 1);
    if status == "D" || status == "W" {
        return None;
    }
    let codes = cwe_codes(msg, seg.field(3));
    let text = cwe_text(msg, seg.field(3));
    if text.is_empty() {
        return None;
    }
    let value = obx_value(msg, &msg.component(seg.field(2), 1), seg.field(5));
    Some(LabResult {
        infection: is_infection_lab(&codes),
        text,
        codes,
        value,
        unit: cwe_text(msg, seg.field(6)),
        reference_range: msg.unescape(seg.field(7)),
        abnormal_flag: msg.component(seg.field(8), 1),
        date: normalize_time(&msg.component(seg.field(14), 1)).or_else(|| context_time.clone()),
        ..LabResult::default()
    })
}

/// OBX-5 by value type: coded values show their text; structured numerics (`SN`:
/// comparator^number^separator^number) are joined (`<^10` → `<10`); others are unescaped as is.
fn obx_value(msg: &Message, value_type: &str, field: &str) -> String {
    let first = msg.repetitions(field).next().unwrap_or("");
    match value_type {
        "CWE" | "CE" | "CNE" => cwe_text(msg, first),
        "SN" => first
            .split(msg.delimiters.component)
            .map(|c| msg.unescape(c))
            .collect::<Vec<_>>()
            .join(""),
        _ => msg.unescape(first),
    }
}
