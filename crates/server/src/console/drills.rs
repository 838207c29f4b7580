//! Restore drills in the console: every `drill` record (written by `kura plan drill` after it
//! restored a generation and ran the recovery plan's checks), newest first, for the repositories
//! the caller may read. The ministry's checklist asks whether restores are tested; this page is
//! where an auditor sees it, and a repository with no recent drill is named above the table.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{Duration, Utc};
use kura_auth::{Permission, Role};
use kura_repo::meta::MetaRecord;

use super::{require_role, t, AREA};
use crate::perm::{self, Need};
use crate::vault::Vault;
use crate::web::html::Html;
use crate::web::page::{self, tr, Lang, Texts};
use crate::web::{serve, Reply, Req};

const D: &Texts = &[
    ("title", "復元訓練の記録", "Restore drills"),
    ("system", "システム", "System"),
    ("plan", "復旧計画", "Recovery plan"),
    ("generation", "世代", "Generation"),
    ("result", "結果", "Result"),
    ("passed", "成功", "passed"),
    ("failed", "失敗", "FAILED"),
    ("restore_time", "復元時間", "Restore time"),
    ("rto", "RTO", "RTO"),
    ("rto_met", "達成", "met"),
    ("rto_missed", "未達", "missed"),
    ("failures", "失敗した確認", "Failed checks"),
    ("actor", "実施者", "By"),
    ("when", "実施日時", "When"),
    (
        "stale",
        "過去1年に復元訓練の記録がないリポジトリ:",
        "Repositories without a restore drill in the last year:",
    ),
    (
        "none",
        "復元訓練の記録はまだありません。`kura plan drill` で実施できます。",
        "No restore drill recorded yet. Run one with `kura plan drill`.",
    ),
];

fn d(lang: Lang, key: &'static str) -> &'static str {
    tr(D, lang, key)
}

/// The guideline asks for a tested restore procedure; a year without a drill is worth saying.
const STALE_AFTER_DAYS: i64 = 365;

pub async fn page(State(v): State<Arc<Vault>>, req: Req) -> Response {
    serve(v, &AREA, req, None, |v, ctx| {
        require_role(ctx, &[Role::Admin, Role::Auditor], "need_console")?;
        let lang = ctx.lang;
        let readable: &[Permission] = &[Permission::ReadReports, Permission::ListSnapshots];
        let mut drills = Vec::new();
        let mut stale = Vec::new();
        let cutoff = Utc::now() - Duration::days(STALE_AFTER_DAYS);
        for name in v.repo_names() {
            if perm::check(&ctx.caller.principal, Need::Any(readable), &name, None).is_err() {
                continue;
            }
            let found = drills_of(v, &name)?;
            if !found.iter().any(|r| r.created_at() > cutoff) {
                stale.push(name.clone());
            }
            drills.extend(found.into_iter().map(|r| (name.clone(), r)));
        }
        drills.sort_by_key(|(_, r)| std::cmp::Reverse(r.created_at()));
        let mut body = Html::new();
        if !stale.is_empty() {
            body.raw("<p class=\"notice\" id=\"stale\">")
                .text(d(lang, "stale"))
                .raw(" ")
                .text(&stale.join(", "))
                .raw("</p>");
        }
        if drills.is_empty() {
            body.raw("<p id=\"no-drills\">")
                .text(d(lang, "none"))
                .raw("</p>");
        } else {
            table(&mut body, lang, &drills);
        }
        Ok(Reply::Page {
            title: d(lang, "title").to_string(),
            body,
        })
    })
    .await
}

/// The drill records of one repository. Unreadable records are skipped here: `check` names them,
/// and one damaged record must not hide the others from an auditor.
fn drills_of(v: &Vault, repo: &str) -> crate::error::Result<Vec<MetaRecord>> {
    let (records, _damaged) = v.repo(repo)?.list_meta()?;
    Ok(records
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| matches!(r, MetaRecord::Drill { .. }))
        .collect())
}

/// One row per `(repository, drill record)`; other records are skipped.
fn table(body: &mut Html, lang: Lang, drills: &[(String, MetaRecord)]) {
    body.raw("<table id=\"drills\"><tr>");
    body.el("th", d(lang, "when"));
    body.el("th", t(lang, "repo"));
    for k in [
        "system",
        "plan",
        "generation",
        "result",
        "restore_time",
        "rto",
        "failures",
        "actor",
    ] {
        body.el("th", d(lang, k));
    }
    body.raw("</tr>");
    for (repo, record) in drills {
        let MetaRecord::Drill {
            snapshot,
            system,
            plan,
            passed,
            restore_seconds,
            rto_met,
            failures,
            created_at,
            actor,
        } = record
        else {
            continue;
        };
        body.raw("<tr>")
            .el("td", &page::when(*created_at))
            .el("td", repo)
            .el("td", system)
            .el("td", plan)
            .el("td", &snapshot.short());
        if *passed {
            body.el_class("td", "clean", d(lang, "passed"));
        } else {
            body.raw("<td>")
                .el_class("span", "suspicious", d(lang, "failed"))
                .raw("</td>");
        }
        body.el("td", &format!("{restore_seconds:.1} s"));
        body.el(
            "td",
            d(lang, if *rto_met { "rto_met" } else { "rto_missed" }),
        );
        body.el("td", &failures.join(" / "));
        body.el("td", actor);
        body.raw("</tr>");
    }
    body.raw("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_complete() {
        crate::web::page::check_table(super::D);
    }

    #[test]
    fn a_failed_drill_is_marked_and_its_failures_escaped() {
        let drill = MetaRecord::Drill {
            snapshot: kura_format::FileId([7; 32]),
            system: "電子カルテ".into(),
            plan: "半田病院".into(),
            passed: false,
            restore_seconds: 12.34,
            rto_met: false,
            failures: vec!["<script>alert(1)</script> row count 0".into()],
            created_at: Utc::now(),
            actor: "sato".into(),
        };
        let mut body = Html::new();
        table(&mut body, Lang::En, &[("ehr".to_string(), drill)]);
        let html = body.into_string();
        assert!(html.contains("FAILED") && html.contains("missed"), "{html}");
        assert!(html.contains("12.3 s"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
