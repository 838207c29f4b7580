//! One patient's page: everything the summary holds, display text exactly as the source
//! recorded it, with the generation banner on top.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use kura_clinical::model::{Code, Indications, MedicationKind, Sex};
use kura_clinical::{AdmissionState, AdmissionStatus, PatientSummary};
use kura_engine::clinical_store::ClinicalStoreError;
use kura_engine::clinical_view::{ClinicalCache, ClinicalView};

use super::{audit_view, banner, data, reason_line, reason_or_form, require_clinician, t, AREA};
use crate::vault::Vault;
use crate::web::html::Html;
use crate::web::page::{tr, Lang, Texts};
use crate::web::{serve, Reply, Req};

pub(crate) const P: &Texts = &[
    ("patient", "患者サマリー", "Patient summary"),
    ("allergies", "アレルギー", "Allergies"),
    ("diagnoses", "病名（継続中）", "Active diagnoses"),
    (
        "medications",
        "処方・注射（直近90日）",
        "Prescriptions and injections (last 90 days)",
    ),
    ("labs", "検査結果（最新）", "Latest lab results"),
    ("infections", "感染症", "Infections"),
    ("documents", "文書", "Documents"),
    (
        "uncertain",
        "最新版が欠けている記録",
        "Records whose current version is missing",
    ),
    ("none", "記録なし", "none recorded"),
    ("prescription", "処方", "prescription"),
    ("injection", "注射", "injection"),
    ("suspected", "疑い", "suspected"),
    ("male", "男", "male"),
    ("female", "女", "female"),
    ("other", "その他", "other"),
    ("unknown_sex", "不明", "unknown"),
    (
        "not_found",
        "この患者の記録は見つかりません:",
        "No record of this patient:",
    ),
];

fn p(lang: Lang, key: &'static str) -> &'static str {
    tr(P, lang, key)
}

pub(crate) fn sex_label(lang: Lang, s: Sex) -> &'static str {
    p(
        lang,
        match s {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
            Sex::Unknown => "unknown_sex",
        },
    )
}

pub(crate) fn admission_text(lang: Lang, a: Option<&AdmissionStatus>) -> String {
    match a {
        Some(a) if a.state == AdmissionState::Admitted => format!(
            "{} {} {} {} ({})",
            t(lang, "admitted"),
            a.ward,
            a.room,
            a.bed,
            a.admitted_at.as_deref().unwrap_or("")
        ),
        Some(a) => format!(
            "{} ({})",
            t(lang, "discharged"),
            a.discharged_at.as_deref().unwrap_or("")
        ),
        None => t(lang, "outpatient").to_string(),
    }
}

fn code_text(c: &Option<Code>) -> &str {
    match c {
        Some(c) if !c.display.is_empty() => &c.display,
        Some(c) => &c.code,
        None => "",
    }
}

fn badges(body: &mut Html, lang: Lang, i: &Indications, suspected: bool) {
    for (on, label) in [
        (i.lts, "LTS 長期保存"),
        (i.uninformed, "未告知 UNINFORMED"),
        (i.undelivered, "未提供 UNDELIVERED"),
        (i.restricted, "限定 restricted"),
        (suspected, p(lang, "suspected")),
    ] {
        if on {
            body.el_class("span", "badge", label);
        }
    }
}

pub async fn page(
    State(v): State<Arc<Vault>>,
    req: Req,
    Path((repo_name, id)): Path<(String, String)>,
) -> Response {
    serve(v, &AREA, req, None, move |v, ctx| {
        require_clinician(ctx)?;
        let reason = match reason_or_form(ctx) {
            Ok(r) => r,
            Err(reply) => return Ok(reply),
        };
        let lang = ctx.lang;
        if !data::viewable(v, &ctx.caller).contains(&repo_name) {
            return Err(crate::error::ServerError::Forbidden(format!(
                "{} ({repo_name})",
                t(lang, "need_clinician")
            )));
        }
        let repo = data::repo(v, &repo_name)?;
        let mut body = Html::new();
        reason_line(&mut body, lang, &reason);
        let target = format!("{repo_name}/patient/{id}");
        match ClinicalView::find_patient(&repo, ClinicalCache::shared(), None, None, &id) {
            Ok((view, s)) => {
                let prov = view.provenance();
                audit_view(v, ctx, &reason, &target, std::slice::from_ref(&prov))?;
                banner(&mut body, lang, &prov);
                summary(&mut body, lang, &s);
            }
            Err(
                e @ (ClinicalStoreError::PatientNotFound { .. }
                | ClinicalStoreError::NoIndex { .. }),
            ) => {
                audit_view(v, ctx, &reason, &target, &[])?;
                body.el_class("p", "notice", &format!("{} {e}", p(lang, "not_found")));
            }
            Err(e) => return Err(data::store_error(e)),
        }
        Ok(Reply::Page {
            title: format!("{} {id}", p(lang, "patient")),
            body,
        })
    })
    .await
}

fn summary(body: &mut Html, lang: Lang, s: &PatientSummary) {
    demographics(body, lang, s);
    section(body, lang, "allergies", s.allergies.is_empty());
    for a in &s.allergies {
        body.raw("<li class=\"allergy\">").text(&a.text);
        for extra in [
            code_text(&a.category),
            code_text(&a.severity),
            a.reaction.as_str(),
        ] {
            if !extra.is_empty() {
                body.raw(" / ").text(extra);
            }
        }
        badges(body, lang, &a.indications, false);
        body.raw("</li>");
    }
    section(body, lang, "diagnoses", s.diagnoses.is_empty());
    for d in &s.diagnoses {
        body.raw("<li>").text(&d.text);
        if let Some(o) = &d.onset {
            body.raw(" (").text(o).raw(")");
        }
        badges(body, lang, &d.indications, d.suspected);
        body.raw("</li>");
    }
    medications(body, lang, s);
    results(body, lang, s);
    documents(body, lang, s);
    if !s.uncertain.is_empty() {
        body.raw("<section><h2>")
            .text(p(lang, "uncertain"))
            .raw("</h2><ul>");
        for u in &s.uncertain {
            body.el("li", &format!("{} ({})", u.record_key, u.files.join(", ")));
        }
        body.raw("</ul></section>");
    }
}

fn demographics(body: &mut Html, lang: Lang, s: &PatientSummary) {
    body.raw("<table id=\"demographics\"><tr>");
    for k in ["by_id", "name", "kana", "sex", "birth", "admission"] {
        body.el("th", t(lang, k));
    }
    body.raw("</tr><tr>")
        .el("td", &s.patient_id)
        .el("td", &s.name_kanji);
    body.el("td", &s.name_kana).el("td", sex_label(lang, s.sex));
    body.el(
        "td",
        &s.birth_date.map(|d| d.to_string()).unwrap_or_default(),
    );
    body.el("td", &admission_text(lang, s.admission.as_ref()));
    body.raw("</tr></table>");
}

fn medications(body: &mut Html, lang: Lang, s: &PatientSummary) {
    section(body, lang, "medications", s.medications.is_empty());
    for m in &s.medications {
        let kind = if m.kind == MedicationKind::Injection {
            "injection"
        } else {
            "prescription"
        };
        body.raw("<li>[")
            .text(p(lang, kind))
            .raw("] <b>")
            .text(&m.text)
            .raw("</b> ");
        let date = m.date.as_deref().unwrap_or("");
        let parts = [
            m.dose.as_str(),
            code_text(&m.usage),
            m.duration.as_str(),
            date,
        ];
        let parts: Vec<&str> = parts.into_iter().filter(|x| !x.is_empty()).collect();
        body.text(&parts.join(" / "));
        badges(body, lang, &m.indications, false);
        body.raw("</li>");
    }
}

/// Labs and infections.
fn results(body: &mut Html, lang: Lang, s: &PatientSummary) {
    section(body, lang, "labs", s.labs.is_empty());
    for l in &s.labs {
        body.raw("<li>")
            .text(&l.text)
            .raw(": <b>")
            .text(&l.value)
            .raw("</b> ")
            .text(&l.unit);
        let date = l.date.as_deref().unwrap_or("");
        for extra in [l.abnormal_flag.as_str(), l.reference_range.as_str(), date] {
            if !extra.is_empty() {
                body.raw(" / ").text(extra);
            }
        }
        body.raw("</li>");
    }
    section(body, lang, "infections", s.infections.is_empty());
    for i in &s.infections {
        body.raw("<li>").text(&i.text);
        if !i.value.is_empty() {
            body.raw(": ").text(&i.value);
        }
        body.raw(" ")
            .text(i.date.as_deref().unwrap_or(""))
            .raw("</li>");
    }
}

fn documents(body: &mut Html, lang: Lang, s: &PatientSummary) {
    section(body, lang, "documents", s.documents.is_empty());
    for d in &s.documents {
        let title = if d.title.is_empty() {
            code_text(&d.doc_type)
        } else {
            d.title.as_str()
        };
        body.raw("<li><b>")
            .text(title)
            .raw("</b> ")
            .text(d.date.as_deref().unwrap_or(""));
        body.raw(" ").text(&d.author);
        badges(body, lang, &d.indications, false);
        if !d.excerpt.is_empty() {
            body.raw("<br>").text(&d.excerpt);
        }
        body.raw("</li>");
    }
    body.raw("</ul></section>");
}

/// Close the previous section (if any) and open `key`'s, with "none recorded" when empty.
fn section(body: &mut Html, lang: Lang, key: &'static str, empty: bool) {
    if key != "allergies" {
        body.raw("</ul></section>");
    }
    body.raw("<section id=\"")
        .raw(key)
        .raw("\"><h2>")
        .text(p(lang, key))
        .raw("</h2><ul>");
    if empty {
        body.el_class("li", "none", p(lang, "none"));
    }
}
