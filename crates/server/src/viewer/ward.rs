//! The ward list: current inpatients with allergies and current prescriptions, laid out for
//! paper (the style sheet's `@media print` hides navigation and forms) so that a ward can keep
//! working from a printout if the vault becomes unreachable too.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use kura_engine::clinical_view::WardEntry;

use super::patient::{sex_label, P};
use super::{
    audit_view, banner, data, each_newest_view, reason_line, reason_or_form, require_clinician, t,
    AREA,
};
use crate::vault::Vault;
use crate::web::html::Html;
use crate::web::page::{tr, Lang};
use crate::web::{serve, Reply, Req};

#[derive(serde::Deserialize, Default)]
pub struct WardQuery {
    #[serde(default)]
    ward: String,
}

pub async fn page(State(v): State<Arc<Vault>>, req: Req, Query(q): Query<WardQuery>) -> Response {
    serve(v, &AREA, req, None, move |v, ctx| {
        require_clinician(ctx)?;
        let reason = match reason_or_form(ctx) {
            Ok(r) => r,
            Err(reply) => return Ok(reply),
        };
        let lang = ctx.lang;
        let ward = q.ward.trim();
        let ward = (!ward.is_empty()).then_some(ward);
        let mut body = Html::new();
        reason_line(&mut body, lang, &reason);
        body.raw("<form method=\"get\" action=\"/viewer/ward\" class=\"noprint\">");
        body.input("ward", "text", "病棟 Ward", ward.unwrap_or(""));
        body.raw("<button type=\"submit\">")
            .text(t(lang, "search_button"))
            .raw("</button></form>");
        let mut shown = Vec::new();
        each_newest_view(v, ctx, &mut body, |body, _, repo, view| {
            let list = view.ward_list(repo, ward).map_err(data::store_error)?;
            let prov = view.provenance();
            banner(body, lang, &prov);
            table(body, lang, &list);
            shown.push(prov);
            Ok(())
        })?;
        let target = format!("ward {}", ward.unwrap_or("*"));
        audit_view(v, ctx, &reason, &target, &shown)?;
        Ok(Reply::Page {
            title: t(lang, "ward").to_string(),
            body,
        })
    })
    .await
}

fn table(body: &mut Html, lang: Lang, list: &[WardEntry]) {
    if list.is_empty() {
        body.raw("<p class=\"no-results\">")
            .text(t(lang, "no_results"))
            .raw("</p>");
        return;
    }
    body.raw("<table class=\"ward\"><tr>");
    body.el("th", "病棟/病室/床 Ward/room/bed");
    for k in ["by_id", "name", "sex", "birth"] {
        body.el("th", t(lang, k));
    }
    body.el("th", tr(P, lang, "allergies"))
        .el("th", tr(P, lang, "medications"))
        .raw("</tr>");
    for e in list {
        let b = &e.patient;
        let place = b
            .admission
            .as_ref()
            .map(|a| format!("{} {} {}", a.ward, a.room, a.bed))
            .unwrap_or_default();
        body.raw("<tr>").el("td", &place).el("td", &b.patient_id);
        body.el("td", &format!("{} ({})", b.name_kanji, b.name_kana));
        body.el("td", sex_label(lang, b.sex));
        body.el(
            "td",
            &b.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        );
        let allergies: Vec<&str> = e.allergies.iter().map(|a| a.text.as_str()).collect();
        body.el_class("td", "allergy", &allergies.join("、"));
        let meds: Vec<String> = e
            .medications
            .iter()
            .map(|m| {
                if m.dose.is_empty() {
                    m.text.clone()
                } else {
                    format!("{} {}", m.text, m.dose)
                }
            })
            .collect();
        body.el("td", &meds.join("、")).raw("</tr>");
    }
    body.raw("</table>");
}
