//! The audit log in the console: filters (actor, action, outcome, date range, free text) and
//! paging, newest first.
//!
//! Structured filters are kura-audit's [`Filter`] (so the page and `kura audit export` select
//! the same entries); dates are days in Japan Standard Time, the `to` day included. Free text
//! is matched here, case-insensitively, against actor, role, address, action, target, reason
//! and details, over the newest [`MAX_PAGE`] entries that pass the other filters (so a text
//! search never reads the whole log into memory; narrow it with dates to look further back).
//! Lines the reader withholds (damaged or edited) are counted on the page with a pointer to
//! `kura audit verify`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kura_audit::{read_entries, Filter, Outcome, Page, StoredEntry, MAX_PAGE};
use kura_auth::Permission;
use serde::Deserialize;

use super::{t, AREA};
use crate::error::{Result, ServerError};
use crate::perm::Need;
use crate::vault::Vault;
use crate::web::html::{url_encode, Html};
use crate::web::page::{self, tr, Lang, Texts};
use crate::web::{serve, Reply, Req};

/// Entries per page.
const PAGE_SIZE: usize = 50;

const A: &Texts = &[
    ("actor", "実行者", "Actor"),
    ("action", "操作（前方一致）", "Action (prefix)"),
    ("outcome", "結果", "Outcome"),
    ("any", "すべて", "any"),
    ("from", "開始日", "From"),
    ("to", "終了日", "To"),
    ("text", "キーワード", "Text"),
    ("filter", "絞り込み", "Filter"),
    ("time", "日時", "Time"),
    ("role", "役割", "Role"),
    ("addr", "接続元", "Address"),
    ("target", "対象", "Target"),
    ("reason", "理由", "Reason"),
    ("matching", "該当件数", "Matching entries"),
    ("newer", "← 新しい", "← newer"),
    ("older", "古い →", "older →"),
    ("withheld", "読めない、または改ざんの疑いがある行を表示していません。`kura audit verify` を実行してください。行:", "Lines that cannot be read or fail their hash are not shown; run `kura audit verify`. Lines:"),
    ("text_window", "キーワード検索は、他の条件に合う最新の1000件が対象です。", "Text search covers the newest 1000 entries matching the other filters."),
];

fn a(lang: Lang, key: &'static str) -> &'static str {
    tr(A, lang, key)
}

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

fn day_start(text: &str, field: &str) -> Result<Option<DateTime<Utc>>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let d = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ServerError::BadRequest(format!("{field} {text:?} is not a date: use YYYY-MM-DD"))
    })?;
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    Ok(page::jst()
        .from_local_datetime(&midnight)
        .single()
        .map(|t| t.with_timezone(&Utc)))
}

fn filter_of(q: &AuditQuery) -> Result<Filter> {
    let outcome = match q.outcome.as_str() {
        "" => None,
        "success" => Some(Outcome::Success),
        "failure" => Some(Outcome::Failure),
        "denied" => Some(Outcome::Denied),
        other => {
            return Err(ServerError::BadRequest(format!(
                "outcome {other:?} is not one of success, failure, denied"
            )))
        }
    };
    let until = day_start(&q.to, "to")?.map(|t| t + chrono::Duration::days(1));
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    Ok(Filter {
        since: day_start(&q.from, "from")?,
        until,
        actor: nonempty(&q.actor),
        action_prefix: nonempty(&q.action),
        result: outcome,
    })
}

/// Whether `e` mentions `needle` (already lower-case) anywhere a reader would look.
fn mentions(e: &StoredEntry, needle: &str) -> bool {
    let ev = &e.event;
    let details = if ev.details.is_null() {
        String::new()
    } else {
        ev.details.to_string()
    };
    [
        ev.actor.as_str(),
        ev.role.as_deref().unwrap_or(""),
        ev.source_addr.as_deref().unwrap_or(""),
        ev.action.as_str(),
        ev.target.as_str(),
        ev.reason.as_deref().unwrap_or(""),
        details.as_str(),
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(needle))
}

/// The page's entries, how many match in all, and the withheld line numbers.
fn select(path: &std::path::Path, q: &AuditQuery) -> Result<(Vec<StoredEntry>, u64, Vec<u64>)> {
    let filter = filter_of(q)?;
    let needle = q.q.trim().to_lowercase();
    let offset = q.page.saturating_mul(PAGE_SIZE);
    if needle.is_empty() {
        let r = read_entries(
            path,
            &filter,
            Page {
                offset,
                limit: PAGE_SIZE,
            },
        )?;
        return Ok((r.entries, r.total_matching, r.withheld_lines));
    }
    let window = read_entries(
        path,
        &filter,
        Page {
            offset: 0,
            limit: MAX_PAGE,
        },
    )?;
    let hits: Vec<StoredEntry> = window
        .entries
        .into_iter()
        .filter(|e| mentions(e, &needle))
        .collect();
    let total = hits.len() as u64;
    let page = hits.into_iter().skip(offset).take(PAGE_SIZE).collect();
    Ok((page, total, window.withheld_lines))
}

pub async fn page(State(v): State<Arc<Vault>>, req: Req, Query(q): Query<AuditQuery>) -> Response {
    serve(v, &AREA, req, None, move |v, ctx| {
        v.guard(
            &ctx.caller,
            Need::One(Permission::ReadAudit),
            "*",
            None,
            "audit.read",
            "audit.log",
        )?;
        let lang = ctx.lang;
        let (entries, total, withheld) = select(&v.audit_path(), &q)?;
        let mut body = Html::new();
        filter_form(&mut body, lang, &q);
        if !withheld.is_empty() {
            let lines: Vec<String> = withheld.iter().take(20).map(|n| n.to_string()).collect();
            body.raw("<p class=\"error\">").text(a(lang, "withheld"));
            body.raw(" ").text(&lines.join(", ")).raw("</p>");
        }
        if !q.q.trim().is_empty() {
            body.raw("<p>").text(a(lang, "text_window")).raw("</p>");
        }
        body.raw("<p>")
            .text(a(lang, "matching"))
            .raw(": <b id=\"matching\">");
        body.num(total).raw("</b></p>");
        entries_table(&mut body, lang, &entries);
        pager(&mut body, lang, &q, total);
        Ok(Reply::Page {
            title: t(lang, "audit").to_string(),
            body,
        })
    })
    .await
}

fn filter_form(body: &mut Html, lang: Lang, q: &AuditQuery) {
    body.raw("<form method=\"get\" action=\"/console/audit\" id=\"audit-filter\">");
    body.input("actor", "text", a(lang, "actor"), &q.actor);
    body.input("action", "text", a(lang, "action"), &q.action);
    body.raw("<label>")
        .text(a(lang, "outcome"))
        .raw(" <select name=\"outcome\" id=\"outcome\">");
    for (value, label) in [
        ("", a(lang, "any")),
        ("success", "success"),
        ("failure", "failure"),
        ("denied", "denied"),
    ] {
        body.raw("<option value=\"").text(value).raw("\"");
        if q.outcome == value {
            body.raw(" selected");
        }
        body.raw(">").text(label).raw("</option>");
    }
    body.raw("</select></label>");
    body.input("from", "date", a(lang, "from"), &q.from);
    body.input("to", "date", a(lang, "to"), &q.to);
    body.input("q", "text", a(lang, "text"), &q.q);
    body.raw("<button type=\"submit\" id=\"filter\">")
        .text(a(lang, "filter"))
        .raw("</button></form>");
}

fn entries_table(body: &mut Html, lang: Lang, entries: &[StoredEntry]) {
    body.raw("<table id=\"audit\"><tr><th>#</th>");
    for k in [
        "time", "actor", "role", "addr", "action", "target", "outcome", "reason",
    ] {
        body.el("th", a(lang, k));
    }
    body.raw("</tr>");
    for e in entries {
        let ev = &e.event;
        body.raw("<tr><td>").num(e.seq).raw("</td>");
        body.el("td", &page::when(ev.time)).el("td", &ev.actor);
        body.el("td", ev.role.as_deref().unwrap_or(""));
        body.el("td", ev.source_addr.as_deref().unwrap_or(""));
        body.el("td", &ev.action)
            .el("td", &ev.target)
            .el("td", ev.result.as_str());
        body.el("td", ev.reason.as_deref().unwrap_or(""))
            .raw("</tr>");
    }
    body.raw("</table>");
}

fn pager(body: &mut Html, lang: Lang, q: &AuditQuery, total: u64) {
    let link = |page: usize| {
        format!(
            "/console/audit?actor={}&action={}&outcome={}&from={}&to={}&q={}&page={page}",
            url_encode(&q.actor),
            url_encode(&q.action),
            url_encode(&q.outcome),
            url_encode(&q.from),
            url_encode(&q.to),
            url_encode(&q.q)
        )
    };
    body.raw("<p class=\"pager\">");
    if q.page > 0 {
        body.link(&link(q.page - 1), a(lang, "newer"));
    }
    if ((q.page + 1) * PAGE_SIZE) < total as usize {
        body.raw("<a id=\"older\" href=\"")
            .text(&link(q.page + 1))
            .raw("\">");
        body.text(a(lang, "older")).raw("</a>");
    }
    body.raw("</p>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_audit::{AuditEvent, AuditLog};

    #[test]
    fn texts_are_complete() {
        crate::web::page::check_table(A);
    }

    fn log_with(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        for i in 0..n {
            let actor = if i % 2 == 0 { "sato" } else { "suzuki" };
            let ev = AuditEvent::now(
                actor,
                "plan.approve",
                format!("ehr/plan/{i}"),
                Outcome::Success,
            )
            .with_reason(if i == 7 {
                "患者 ヤマダ の記録"
            } else {
                "routine"
            });
            log.append(ev).unwrap();
        }
        (dir, path)
    }

    #[test]
    fn filters_text_and_pages_select_the_right_entries() {
        let (_d, path) = log_with(120);
        let q = AuditQuery {
            actor: "sato".into(),
            ..Default::default()
        };
        let (page0, total, withheld) = select(&path, &q).unwrap();
        assert_eq!((total, page0.len(), withheld.len()), (60, 50, 0));
        assert_eq!(page0[0].seq, 119, "newest first");
        let q1 = AuditQuery {
            page: 1,
            ..q.clone()
        };
        assert_eq!(select(&path, &q1).unwrap().0.len(), 10);
        let text = AuditQuery {
            q: "ヤマダ".into(),
            ..Default::default()
        };
        let (hits, total, _) = select(&path, &text).unwrap();
        assert_eq!((total, hits[0].seq), (1, 8));
        let none = AuditQuery {
            outcome: "denied".into(),
            ..Default::default()
        };
        assert_eq!(select(&path, &none).unwrap().1, 0);
        let future = AuditQuery {
            from: "2999-01-01".into(),
            ..Default::default()
        };
        assert_eq!(select(&path, &future).unwrap().1, 0);
        let today = page::jst()
            .from_utc_datetime(&Utc::now().naive_utc())
            .date_naive();
        let day = AuditQuery {
            from: today.to_string(),
            to: today.to_string(),
            ..Default::default()
        };
        assert_eq!(
            select(&path, &day).unwrap().1,
            120,
            "the `to` day is included"
        );
        let bad = AuditQuery {
            from: "yesterday".into(),
            ..Default::default()
        };
        assert!(select(&path, &bad)
            .unwrap_err()
            .to_string()
            .contains("YYYY-MM-DD"));
    }
}
