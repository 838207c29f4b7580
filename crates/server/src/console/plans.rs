//! Deletion plans in the console: the pending ones with an approve button, then recent ones.
//!
//! Approval calls [`Vault::approve_plan`], the same function as the API and `kura admin plan
//! approve`: the four-eyes rule (the proposer cannot approve), the `approve-deletion`
//! permission and the execution all stay in `plans.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Form;
use kura_auth::{Permission, Role};

use super::{require_role, t, AREA};
use crate::perm::{self, Need};
use crate::plans::{Plan, PlanStatus};
use crate::vault::Vault;
use crate::web::html::Html;
use crate::web::page::{self, tr, Lang, Texts};
use crate::web::{serve, Reply, Req};

const P: &Texts = &[
    ("pending", "承認待ちの削除計画", "Pending deletion plans"),
    ("recent", "最近の削除計画", "Recent deletion plans"),
    (
        "none_pending",
        "承認待ちの計画はありません。",
        "No plan is waiting for approval.",
    ),
    ("id", "計画ID", "Plan"),
    ("what", "内容", "What"),
    ("reason", "理由", "Reason"),
    ("proposed", "提案者・日時", "Proposed by"),
    ("status", "状態", "Status"),
    ("approved", "承認者", "Approved by"),
    ("approve", "承認して実行", "Approve and execute"),
    (
        "done",
        "計画を承認し、実行しました:",
        "Plan approved and executed:",
    ),
    (
        "four_eyes",
        "提案者本人は承認できません（二者承認）。",
        "The proposer cannot approve their own plan (four-eyes).",
    ),
];

fn p(lang: Lang, key: &'static str) -> &'static str {
    tr(P, lang, key)
}

/// Who may see plans: as `plans.rs` says (approve, forget, prune or read reports).
const READ_PLANS: &[Permission] = &[
    Permission::ApproveDeletion,
    Permission::Forget,
    Permission::Prune,
    Permission::ReadReports,
];

pub async fn list(State(v): State<Arc<Vault>>, req: Req) -> Response {
    let done = req
        .query
        .split('&')
        .find_map(|kv| kv.strip_prefix("done="))
        .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string);
    serve(v, &AREA, req, None, move |v, ctx| {
        require_role(ctx, &[Role::Admin, Role::Auditor], "need_console")?;
        let lang = ctx.lang;
        let mut all: Vec<Plan> = Vec::new();
        for repo in v.repo_names() {
            let need = Need::Any(READ_PLANS);
            if perm::check(&ctx.caller.principal, need, &repo, None).is_ok() {
                all.extend(v.list_plans(&ctx.caller, &repo)?);
            }
        }
        let mut body = Html::new();
        if let Some(id) = done {
            body.raw("<p class=\"notice\" id=\"done\">")
                .text(p(lang, "done"));
            body.raw(" ").text(&id).raw("</p>");
        }
        body.el("h2", p(lang, "pending"));
        body.raw("<p>").text(p(lang, "four_eyes")).raw("</p>");
        let (pending, other): (Vec<&Plan>, Vec<&Plan>) =
            all.iter().partition(|pl| pl.status == PlanStatus::Pending);
        if pending.is_empty() {
            body.raw("<p id=\"no-pending\">")
                .text(p(lang, "none_pending"))
                .raw("</p>");
        } else {
            table(&mut body, lang, &pending, Some(&ctx.csrf), "pending");
        }
        body.el("h2", p(lang, "recent"));
        let recent: Vec<&Plan> = other.into_iter().take(20).collect();
        table(&mut body, lang, &recent, None, "recent");
        Ok(Reply::Page {
            title: t(lang, "plans").to_string(),
            body,
        })
    })
    .await
}

/// A table of plans; with `csrf`, each row gets an approve button.
fn table(body: &mut Html, lang: Lang, plans: &[&Plan], csrf: Option<&str>, id: &'static str) {
    body.raw("<table id=\"").raw(id).raw("\"><tr>");
    for k in ["id", "what", "reason", "proposed", "status", "approved"] {
        body.el("th", p(lang, k));
    }
    body.el("th", t(lang, "repo"));
    if csrf.is_some() {
        body.raw("<th></th>");
    }
    body.raw("</tr>");
    for pl in plans {
        body.raw("<tr>")
            .el("td", &pl.id)
            .el("td", &pl.action.describe());
        body.el("td", &pl.reason);
        body.el(
            "td",
            &format!("{} {}", pl.proposed_by, page::when(pl.proposed_at)),
        );
        body.el("td", &format!("{:?}", pl.status).to_lowercase());
        body.el("td", pl.approved_by.as_deref().unwrap_or(""));
        body.el("td", &pl.repo);
        if let Some(token) = csrf {
            body.raw("<td><form method=\"post\" action=\"/console/plans/approve\">")
                .hidden("csrf", token)
                .hidden("repo", &pl.repo)
                .hidden("id", &pl.id)
                .raw("<button type=\"submit\" class=\"approve\">")
                .text(p(lang, "approve"))
                .raw("</button></form></td>");
        }
        body.raw("</tr>");
    }
    body.raw("</table>");
}

pub async fn approve(
    State(v): State<Arc<Vault>>,
    req: Req,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let csrf = f.get("csrf").cloned().unwrap_or_default();
    let repo = f.get("repo").cloned().unwrap_or_default();
    let id = f.get("id").cloned().unwrap_or_default();
    serve(v, &AREA, req, Some(csrf), move |v, ctx| {
        require_role(ctx, &[Role::Admin, Role::Auditor], "need_console")?;
        let plan = v.approve_plan(&ctx.caller, &repo, &id)?;
        Ok(Reply::Redirect(format!("/console/plans?done={}", plan.id)))
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn texts_are_complete() {
        crate::web::page::check_table(super::P);
    }
}
