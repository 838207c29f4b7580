//! The vault console (`/console/...`): for the admin and auditor roles.
//!
//! | page | path | who |
//! |---|---|---|
//! | overview: repositories, sources, newest generation, its age and verdict | `/console/` | admin, auditor (repositories they have a grant on) |
//! | accounts and roles | `/console/accounts` | admin |
//! | deletion plans, approve (four-eyes) | `/console/plans`, POST `/console/plans/approve` | see; approve needs `approve-deletion` |
//! | audit log with filters and paging | `/console/audit` | auditor (`read-audit`) |
//! | restore drills, newest first; repositories without one in a year | `/console/drills` | admin, auditor (repositories they have a grant on) |
//!
//! Any other account gets a 403 page naming the roles needed. Pages only read and call the same
//! [`Vault`] methods as the API (`list_plans`, `approve_plan`, ...), so the rules — four-eyes
//! included — live in one place.

mod audit;
mod drills;
mod plans;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use kura_auth::{Permission, Role};
use kura_policy::Verdict;
use kura_repo::snapshots::SnapshotEntry;

use crate::error::{Result, ServerError};
use crate::perm::{self, Need};
use crate::vault::Vault;
use crate::web::html::Html;
use crate::web::page::{self, tr, Lang, Texts};
use crate::web::{serve, Area, Ctx, Reply, Req};

pub(crate) const T: &Texts = &[
    ("overview", "概要", "Overview"),
    ("accounts", "アカウント", "Accounts"),
    ("plans", "削除計画の承認", "Deletion approvals"),
    ("audit", "監査ログ", "Audit log"),
    ("drills", "復元訓練", "Restore drills"),
    ("repo", "リポジトリ", "Repository"),
    ("source", "ソース", "Source"),
    ("generations", "世代数", "Generations"),
    ("newest", "最新世代", "Newest generation"),
    ("taken", "取得日時", "Taken"),
    ("age", "経過", "Age"),
    ("verdict", "判定", "Verdict"),
    ("clean", "正常", "clean"),
    ("suspicious", "ランサムウェアの疑い", "suspicious"),
    ("unknown", "未判定", "not judged"),
    ("none", "世代なし", "no generation yet"),
    ("name", "名前", "Name"),
    ("roles", "役割", "Roles"),
    ("totp", "二要素認証", "Second factor"),
    ("state", "状態", "State"),
    ("last_login", "最終ログイン", "Last login"),
    ("created", "作成", "Created"),
    ("enabled", "有効", "enabled"),
    ("disabled", "無効", "disabled"),
    ("locked", "ロック中", "locked"),
    ("yes", "あり", "yes"),
    ("no", "なし", "no"),
    (
        "need_console",
        "このページは管理者 (admin) または監査者 (auditor) の役割が必要です",
        "this page needs the admin or auditor role",
    ),
    (
        "need_admin",
        "このページは管理者 (admin) の役割が必要です",
        "this page needs the admin role",
    ),
    ("your_roles", "あなたの役割", "your roles"),
    ("no_role", "なし", "none"),
];

pub(crate) fn t(lang: Lang, key: &'static str) -> &'static str {
    tr(T, lang, key)
}

fn nav(lang: Lang) -> Vec<(&'static str, &'static str)> {
    vec![
        ("/console/", t(lang, "overview")),
        ("/console/plans", t(lang, "plans")),
        ("/console/audit", t(lang, "audit")),
        ("/console/drills", t(lang, "drills")),
        ("/console/accounts", t(lang, "accounts")),
    ]
}

pub(crate) static AREA: Area = Area {
    name: "console",
    nav,
};

/// Refuse (403, naming the role needed) unless the caller holds one of `roles`.
pub(crate) fn require_role(ctx: &Ctx, roles: &[Role], need: &'static str) -> Result<()> {
    if ctx
        .caller
        .principal
        .grants
        .iter()
        .any(|g| roles.contains(&g.role))
    {
        return Ok(());
    }
    let have = ctx.caller.roles();
    let have = if have.is_empty() {
        t(ctx.lang, "no_role").to_string()
    } else {
        have
    };
    Err(ServerError::Forbidden(format!(
        "{} ({}: {have})",
        t(ctx.lang, need),
        t(ctx.lang, "your_roles")
    )))
}

fn require_console(ctx: &Ctx) -> Result<()> {
    require_role(ctx, &[Role::Admin, Role::Auditor], "need_console")
}

pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route(
            "/console",
            get(|| async { crate::web::redirect("/console/") }),
        )
        .route("/console/", get(overview))
        .route("/console/accounts", get(accounts))
        .route("/console/plans", get(plans::list))
        .route("/console/plans/approve", post(plans::approve))
        .route("/console/audit", get(audit::page))
        .route("/console/drills", get(drills::page))
}

async fn overview(State(v): State<Arc<Vault>>, req: Req) -> Response {
    serve(v, &AREA, req, None, |v, ctx| {
        require_console(ctx)?;
        let mut body = Html::new();
        body.raw("<table id=\"repos\"><tr>");
        for k in [
            "repo",
            "source",
            "generations",
            "newest",
            "taken",
            "age",
            "verdict",
        ] {
            body.el("th", t(ctx.lang, k));
        }
        body.raw("</tr>");
        for name in v.repo_names() {
            let readable: &[Permission] = &[Permission::ReadReports, Permission::ListSnapshots];
            if perm::check(&ctx.caller.principal, Need::Any(readable), &name, None).is_err() {
                continue;
            }
            let list = v.repo(&name)?.list_snapshots()?.snapshots;
            overview_rows(&mut body, ctx.lang, &name, &list);
        }
        body.raw("</table>");
        Ok(Reply::Page {
            title: t(ctx.lang, "overview").to_string(),
            body,
        })
    })
    .await
}

/// One row per source of `repo`: its newest generation by commit time.
fn overview_rows(body: &mut Html, lang: Lang, repo: &str, list: &[SnapshotEntry]) {
    let mut by_source: BTreeMap<&str, (usize, &SnapshotEntry)> = BTreeMap::new();
    for e in list {
        let slot = by_source.entry(&e.snapshot.source).or_insert((0, e));
        slot.0 += 1;
        if e.snapshot.committed_at > slot.1.snapshot.committed_at {
            slot.1 = e;
        }
    }
    if by_source.is_empty() {
        body.raw("<tr>").el("td", repo).raw("<td colspan=\"6\">");
        body.text(t(lang, "none")).raw("</td></tr>");
    }
    let now = Utc::now();
    for (source, (count, e)) in by_source {
        let s = &e.snapshot;
        body.raw("<tr>").el("td", repo).el("td", source);
        body.raw("<td>").num(count as u64).raw("</td>");
        body.el("td", &e.id.short())
            .el("td", &page::when(s.committed_at));
        body.el("td", &page::age(lang, (now - s.committed_at).num_seconds()));
        verdict_cell(body, lang, kura_engine::detect::verdict_of(s));
        body.raw("</tr>");
    }
}

pub(crate) fn verdict_cell(body: &mut Html, lang: Lang, v: Verdict) {
    match v {
        Verdict::Clean => body.el_class("td", "clean", t(lang, "clean")),
        Verdict::Suspicious => body
            .raw("<td>")
            .el_class("span", "suspicious", t(lang, "suspicious"))
            .raw("</td>"),
        Verdict::Unknown => body.el_class("td", "unknown", t(lang, "unknown")),
    };
}

async fn accounts(State(v): State<Arc<Vault>>, req: Req) -> Response {
    serve(v, &AREA, req, None, |v, ctx| {
        require_role(ctx, &[Role::Admin], "need_admin")?;
        let now = Utc::now();
        let principal = ctx.caller.principal.clone();
        let list = v.with_auth(|s| s.list_accounts(&principal, now))??;
        let lang = ctx.lang;
        let mut body = Html::new();
        body.raw("<table id=\"accounts\"><tr>");
        for k in ["name", "roles", "totp", "state", "last_login", "created"] {
            body.el("th", t(lang, k));
        }
        body.raw("</tr>");
        for a in list {
            let grants: Vec<String> = a
                .grants
                .iter()
                .map(|g| {
                    let src = g
                        .source
                        .as_ref()
                        .map(|s| format!(":{s}"))
                        .unwrap_or_default();
                    format!("{}@{}{src}", g.role, g.repo)
                })
                .collect();
            let state = match (&a.disabled, a.locked_until) {
                (Some(_), _) => t(lang, "disabled"),
                (None, Some(_)) => t(lang, "locked"),
                (None, None) => t(lang, "enabled"),
            };
            body.raw("<tr>")
                .el("td", &a.name)
                .el("td", &grants.join(", "));
            body.el("td", t(lang, if a.totp_enrolled { "yes" } else { "no" }));
            body.el("td", state);
            body.el("td", &a.last_login.map(page::when).unwrap_or_default());
            body.el(
                "td",
                &format!("{} ({})", page::when(a.created_at), a.created_by),
            );
            body.raw("</tr>");
        }
        body.raw("</table>");
        Ok(Reply::Page {
            title: t(lang, "accounts").to_string(),
            body,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn texts_are_complete() {
        crate::web::page::check_table(super::T);
    }
}
