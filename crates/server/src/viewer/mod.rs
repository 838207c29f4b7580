//! The emergency clinical viewer (`/viewer/...`): read-only pages for the clinician role,
//! served from the clinical indexes stored with the generations, without restoring anything.
//!
//! | page | path |
//! |---|---|
//! | break-glass reason, then search (patient ID, kana name, birth date) | `/viewer/`, POST `/viewer/reason`, `/viewer/search` |
//! | one patient: allergies, diagnoses, prescriptions/injections, labs, infections, admission, documents | `/viewer/patient/{repo}/{id}` |
//! | ward list of inpatients with allergies and current prescriptions, print layout | `/viewer/ward` |
//!
//! **Break-glass.** No patient data is shown before the clinician states why (a choice and a
//! free text, both required). The reason is kept with the session and written, with the
//! generation shown, in a `clinical.view` audit entry for every search, summary and ward list,
//! before the page is sent.
//!
//! **Which data.** Each page says which generation it comes from, when it was taken and its
//! verdict. Summaries use the newest generation not judged suspicious that holds the patient
//! (the rule of `kura clinical summary`, in [`kura_engine::clinical_view`]); lists use the
//! newest such generation of each source.

mod data;
mod patient;
mod ward;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{NaiveDate, Utc};
use kura_audit::Outcome as AuditOutcome;
use kura_auth::Role;
use kura_clinical::PatientBrief;
use kura_engine::clinical_view::{ClinicalCache, ClinicalView, Provenance};
use kura_policy::Verdict;
use kura_repo::Repository;

use crate::error::{Result, ServerError};
use crate::vault::Vault;
use crate::web::html::{url_encode, Html};
use crate::web::page::{self, tr, Lang, Texts};
use crate::web::{serve, Area, Ctx, Reply, Req};
use data::Reason;

pub(crate) const T: &Texts = &[
    ("title", "緊急時診療情報閲覧", "Emergency clinical viewer"),
    ("search", "患者検索", "Patient search"),
    ("ward", "病棟患者一覧（印刷用）", "Ward list (print)"),
    ("bg_title", "閲覧理由の入力（ブレークグラス）", "Reason for access (break-glass)"),
    ("bg_lead", "患者情報を表示する前に、閲覧の理由を選択し、具体的に記入してください。すべての閲覧は理由とともに監査ログに記録されます。", "Before any patient data is shown, choose and describe why you need it. Every view is written to the audit log with this reason."),
    ("bg_choice", "理由の種類", "Kind of reason"),
    ("bg_text", "具体的な理由", "Details"),
    ("bg_submit", "理由を記録して閲覧を開始", "Record the reason and continue"),
    ("bg_missing", "理由の種類と具体的な理由の両方が必要です。", "Both a kind of reason and details are required."),
    ("bg_current", "閲覧理由:", "Reason:"),
    ("r_emergency", "救急・急変対応", "Emergency or sudden deterioration"),
    ("r_outage", "システム停止中の診療継続", "Continuing care during the outage"),
    ("r_ward", "入院患者の継続診療", "Ongoing care of an inpatient"),
    ("r_other", "その他", "Other"),
    ("by_id", "患者ID", "Patient ID"),
    ("by_kana", "カナ氏名", "Name in kana"),
    ("by_birth", "生年月日 (YYYY-MM-DD)", "Birth date (YYYY-MM-DD)"),
    ("search_button", "検索", "Search"),
    ("results", "検索結果", "Results"),
    ("no_results", "該当する患者はいません。", "No patient matches."),
    ("name", "氏名", "Name"),
    ("kana", "カナ", "Kana"),
    ("sex", "性別", "Sex"),
    ("birth", "生年月日", "Birth date"),
    ("admission", "入院状況", "Admission"),
    ("from", "データの出典:", "Data from:"),
    ("generation", "世代", "generation"),
    ("source", "ソース", "source"),
    ("taken", "取得日時", "taken"),
    ("verdict", "判定", "verdict"),
    ("clean", "正常", "clean"),
    ("suspicious", "ランサムウェアの疑い", "SUSPICIOUS"),
    ("unknown", "未判定", "not judged"),
    ("suspicious_warn", "この世代にはランサムウェアの疑いがあります。他の世代のデータと照合してください。", "This generation is suspected of ransomware damage: check the data against another generation."),
    ("need_clinician", "このページは臨床 (clinician) の役割が必要です", "this page needs the clinician role"),
    ("your_roles", "あなたの役割", "your roles"),
    ("no_data", "閲覧できる診療情報がありません:", "No clinical data can be shown:"),
    ("admitted", "入院中", "admitted"),
    ("discharged", "退院", "discharged"),
    ("outpatient", "外来", "outpatient"),
];

pub(crate) fn t(lang: Lang, key: &'static str) -> &'static str {
    tr(T, lang, key)
}

/// The break-glass choices: (key, text key).
pub(crate) const REASONS: &[(&str, &str)] = &[
    ("emergency", "r_emergency"),
    ("outage", "r_outage"),
    ("ward", "r_ward"),
    ("other", "r_other"),
];

fn nav(lang: Lang) -> Vec<(&'static str, &'static str)> {
    vec![
        ("/viewer/", t(lang, "search")),
        ("/viewer/ward", t(lang, "ward")),
    ]
}

pub(crate) static AREA: Area = Area {
    name: "viewer",
    nav,
};

pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route(
            "/viewer",
            get(|| async { crate::web::redirect("/viewer/") }),
        )
        .route("/viewer/", get(home))
        .route("/viewer/reason", post(give_reason))
        .route("/viewer/search", get(search))
        .route("/viewer/patient/{repo}/{id}", get(patient::page))
        .route("/viewer/ward", get(ward::page))
}

/// Clinicians only; the 403 page names the role.
fn require_clinician(ctx: &Ctx) -> Result<()> {
    if ctx
        .caller
        .principal
        .grants
        .iter()
        .any(|g| g.role == Role::Clinician)
    {
        return Ok(());
    }
    let have = ctx.caller.roles();
    Err(ServerError::Forbidden(format!(
        "{} ({}: {})",
        t(ctx.lang, "need_clinician"),
        t(ctx.lang, "your_roles"),
        if have.is_empty() {
            "-".to_string()
        } else {
            have
        }
    )))
}

/// The session's break-glass reason, or a redirect to the form.
fn reason_or_form(ctx: &Ctx) -> std::result::Result<Reason, Reply> {
    data::reason(&ctx.session).ok_or_else(|| Reply::Redirect("/viewer/".into()))
}

/// Write the `clinical.view` entry of a view, with the reason and the generations shown.
pub(crate) fn audit_view(
    v: &Vault,
    ctx: &Ctx,
    reason: &Reason,
    target: &str,
    shown: &[Provenance],
) -> Result<()> {
    let gens: Vec<serde_json::Value> = shown
        .iter()
        .map(|p| serde_json::json!({"generation": p.snapshot.to_hex(), "source": p.source, "verdict": p.verdict.to_string()}))
        .collect();
    let event = ctx
        .caller
        .audit(
            kura_audit::actions::CLINICAL_VIEW,
            target,
            AuditOutcome::Success,
        )
        .with_reason(reason.audit_text())
        .with_details(serde_json::json!({ "shown": gens }));
    v.audit(event).map(|_| ())
}

/// The banner naming the generation a page's data comes from.
pub(crate) fn banner(body: &mut Html, lang: Lang, p: &Provenance) {
    let suspicious = p.verdict == Verdict::Suspicious;
    body.raw(if suspicious {
        "<div class=\"banner suspicious-gen\">"
    } else {
        "<div class=\"banner\">"
    });
    body.text(t(lang, "from"))
        .raw(" ")
        .text(t(lang, "generation"))
        .raw(" <b class=\"gen\">");
    body.text(&p.snapshot.short())
        .raw("</b> (")
        .text(t(lang, "source"))
        .raw(" ");
    body.text(&p.source)
        .raw(", ")
        .text(t(lang, "taken"))
        .raw(" ");
    body.text(&page::when(p.committed_at))
        .raw(") ")
        .text(t(lang, "verdict"))
        .raw(": ");
    match p.verdict {
        Verdict::Clean => body.el_class("span", "clean", t(lang, "clean")),
        Verdict::Suspicious => body.el_class("span", "suspicious", t(lang, "suspicious")),
        Verdict::Unknown => body.el_class("span", "unknown", t(lang, "unknown")),
    };
    if suspicious {
        body.raw("<br>").text(t(lang, "suspicious_warn"));
    }
    body.raw("</div>");
}

fn reason_line(body: &mut Html, lang: Lang, r: &Reason) {
    let label = REASONS
        .iter()
        .find(|(k, _)| *k == r.choice)
        .map(|(_, l)| t(lang, l))
        .unwrap_or("");
    body.raw("<p class=\"noprint\" id=\"reason\">")
        .text(t(lang, "bg_current"))
        .raw(" ");
    body.text(label).raw(" — ").text(&r.text).raw("</p>");
}

async fn home(State(v): State<Arc<Vault>>, req: Req) -> Response {
    serve(v, &AREA, req, None, |_, ctx| {
        require_clinician(ctx)?;
        let lang = ctx.lang;
        let mut body = Html::new();
        match data::reason(&ctx.session) {
            None => reason_form(&mut body, ctx, None),
            Some(r) => {
                reason_line(&mut body, lang, &r);
                search_form(&mut body, lang, &SearchQuery::default());
            }
        }
        Ok(Reply::Page {
            title: t(lang, "title").to_string(),
            body,
        })
    })
    .await
}

fn reason_form(body: &mut Html, ctx: &Ctx, error: Option<&str>) {
    let lang = ctx.lang;
    body.el("h2", t(lang, "bg_title"))
        .raw("<p>")
        .text(t(lang, "bg_lead"))
        .raw("</p>");
    if let Some(e) = error {
        body.el_class("p", "error", e);
    }
    body.raw("<form method=\"post\" action=\"/viewer/reason\" id=\"break-glass\">")
        .hidden("csrf", &ctx.csrf);
    body.raw("<label>")
        .text(t(lang, "bg_choice"))
        .raw(" <select name=\"choice\" id=\"choice\" required><option value=\"\"></option>");
    for (key, label) in REASONS {
        body.raw("<option value=\"")
            .text(key)
            .raw("\">")
            .text(t(lang, label))
            .raw("</option>");
    }
    body.raw("</select></label><label>")
        .text(t(lang, "bg_text"));
    body.raw(" <input type=\"text\" name=\"text\" id=\"reason-text\" required maxlength=\"500\"></label>");
    body.raw("<button type=\"submit\" id=\"reason-submit\">")
        .text(t(lang, "bg_submit"))
        .raw("</button></form>");
}

async fn give_reason(
    State(v): State<Arc<Vault>>,
    req: Req,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let csrf = f.get("csrf").cloned().unwrap_or_default();
    serve(v, &AREA, req, Some(csrf), move |v, ctx| {
        require_clinician(ctx)?;
        let choice = f
            .get("choice")
            .and_then(|c| REASONS.iter().find(|(k, _)| *k == c.as_str()))
            .map(|(k, _)| *k);
        let text: String = f
            .get("text")
            .map(|s| s.trim())
            .unwrap_or("")
            .chars()
            .take(500)
            .collect();
        let (Some(choice), false) = (choice, text.is_empty()) else {
            let mut body = Html::new();
            reason_form(&mut body, ctx, Some(t(ctx.lang, "bg_missing")));
            return Ok(Reply::Page {
                title: t(ctx.lang, "title").to_string(),
                body,
            });
        };
        let reason = Reason {
            choice,
            text,
            at: Utc::now(),
        };
        let event = ctx
            .caller
            .audit("clinical.break_glass", "viewer", AuditOutcome::Success)
            .with_reason(reason.audit_text());
        v.audit(event)?;
        data::set_reason(&ctx.session, reason);
        Ok(Reply::Redirect("/viewer/".into()))
    })
    .await
}

#[derive(serde::Deserialize, Default, Clone)]
pub struct SearchQuery {
    #[serde(default)]
    id: String,
    #[serde(default)]
    kana: String,
    #[serde(default)]
    birth: String,
}

fn search_form(body: &mut Html, lang: Lang, q: &SearchQuery) {
    body.raw("<form method=\"get\" action=\"/viewer/search\" id=\"search\">");
    body.input("id", "text", t(lang, "by_id"), &q.id);
    body.input("kana", "text", t(lang, "by_kana"), &q.kana);
    body.input("birth", "text", t(lang, "by_birth"), &q.birth);
    body.raw("<button type=\"submit\" id=\"search-button\">")
        .text(t(lang, "search_button"))
        .raw("</button></form>");
}

async fn search(State(v): State<Arc<Vault>>, req: Req, Query(q): Query<SearchQuery>) -> Response {
    serve(v, &AREA, req, None, move |v, ctx| {
        require_clinician(ctx)?;
        let reason = match reason_or_form(ctx) {
            Ok(r) => r,
            Err(reply) => return Ok(reply),
        };
        let lang = ctx.lang;
        let birth = match q.birth.trim() {
            "" => None,
            b => Some(NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| {
                ServerError::BadRequest(format!("birth date {b:?} is not a date: use YYYY-MM-DD"))
            })?),
        };
        let mut body = Html::new();
        reason_line(&mut body, lang, &reason);
        search_form(&mut body, lang, &q);
        body.el("h2", t(lang, "results"));
        let mut shown = Vec::new();
        each_newest_view(v, ctx, &mut body, |body, repo_name, repo, view| {
            let hits = matches(&view, repo, &q, birth)?;
            banner(body, lang, &view.provenance());
            results(body, lang, repo_name, &hits);
            shown.push(view.provenance());
            Ok(())
        })?;
        let target = format!(
            "search id={} kana={} birth={}",
            q.id.trim(),
            q.kana.trim(),
            q.birth.trim()
        );
        audit_view(v, ctx, &reason, &target, &shown)?;
        Ok(Reply::Page {
            title: t(lang, "search").to_string(),
            body,
        })
    })
    .await
}

/// Patients of one view matching every given criterion (an empty query matches nobody).
fn matches(
    view: &ClinicalView,
    repo: &kura_repo::Repository,
    q: &SearchQuery,
    birth: Option<NaiveDate>,
) -> Result<Vec<PatientBrief>> {
    let (id, kana) = (q.id.trim(), q.kana.trim());
    let mut hits: Vec<PatientBrief> = if !kana.is_empty() {
        view.search_kana(repo, kana).map_err(data::store_error)?
    } else if let Some(d) = birth {
        view.search_birth(repo, d).map_err(data::store_error)?
    } else if !id.is_empty() {
        let s = view.summary(repo, id).map_err(data::store_error)?;
        s.map(|s| PatientBrief {
            patient_id: s.patient_id,
            name_kanji: s.name_kanji,
            name_kana: s.name_kana,
            sex: s.sex,
            birth_date: s.birth_date,
            admission: s.admission,
        })
        .into_iter()
        .collect()
    } else {
        Vec::new()
    };
    hits.retain(|b| {
        (id.is_empty() || b.patient_id == id) && birth.is_none_or(|d| b.birth_date == Some(d))
    });
    Ok(hits)
}

fn results(body: &mut Html, lang: Lang, repo: &str, hits: &[PatientBrief]) {
    if hits.is_empty() {
        body.raw("<p class=\"no-results\">")
            .text(t(lang, "no_results"))
            .raw("</p>");
        return;
    }
    body.raw("<table class=\"results\"><tr>");
    for k in ["by_id", "name", "kana", "sex", "birth", "admission"] {
        body.el("th", t(lang, k));
    }
    body.raw("</tr>");
    for b in hits {
        let href = format!(
            "/viewer/patient/{}/{}",
            url_encode(repo),
            url_encode(&b.patient_id)
        );
        body.raw("<tr><td>").link(&href, &b.patient_id).raw("</td>");
        body.el("td", &b.name_kanji).el("td", &b.name_kana);
        body.el("td", patient::sex_label(lang, b.sex));
        body.el(
            "td",
            &b.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        );
        body.el("td", &patient::admission_text(lang, b.admission.as_ref()));
        body.raw("</tr>");
    }
    body.raw("</table>");
}

/// Calls `each` with every source's newest clinical view in each repository the caller may view.
/// A repository whose clinical data cannot be read gets a notice on the page instead: one broken
/// repository must not hide the others during an outage.
fn each_newest_view(
    v: &Vault,
    ctx: &Ctx,
    body: &mut Html,
    mut each: impl FnMut(&mut Html, &str, &Repository, ClinicalView) -> Result<()>,
) -> Result<()> {
    for repo_name in data::viewable(v, &ctx.caller) {
        let repo = data::repo(v, &repo_name)?;
        match ClinicalView::newest_per_source(&repo, ClinicalCache::shared(), None, None) {
            Ok(views) => {
                for view in views {
                    each(body, &repo_name, &repo, view)?;
                }
            }
            Err(e) => {
                body.el_class(
                    "p",
                    "notice",
                    &format!("{repo_name}: {} {e}", t(ctx.lang, "no_data")),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance(verdict: Verdict) -> Provenance {
        let t = chrono::DateTime::parse_from_rfc3339("2026-04-01T00:30:00Z")
            .unwrap()
            .to_utc();
        Provenance {
            snapshot: kura_format::FileId::of(b"generation"),
            source: "<ssmix2>".into(),
            time: t,
            committed_at: t,
            verdict,
            format: "ss-mix2".into(),
            as_of: t.date_naive(),
        }
    }

    #[test]
    fn the_banner_names_the_generation_and_warns_when_suspicious() {
        let p = provenance(Verdict::Clean);
        let mut h = Html::new();
        banner(&mut h, Lang::Ja, &p);
        let clean = h.into_string();
        assert!(
            clean.contains(&p.snapshot.short()) && clean.contains("&lt;ssmix2&gt;"),
            "{clean}"
        );
        assert!(
            clean.contains("2026-04-01 09:30 JST") && clean.contains("正常"),
            "{clean}"
        );
        assert!(!clean.contains("suspicious-gen"));
        let mut h = Html::new();
        banner(&mut h, Lang::En, &provenance(Verdict::Suspicious));
        let bad = h.into_string();
        assert!(
            bad.contains("suspicious-gen") && bad.contains("SUSPICIOUS"),
            "{bad}"
        );
        assert!(
            bad.contains("check the data against another generation"),
            "{bad}"
        );
    }

    #[test]
    fn texts_are_complete() {
        crate::web::page::check_table(super::T);
        crate::web::page::check_table(super::patient::P);
    }
}
