//! The drill report as one standalone HTML page for the BCP binder.
//!
//! One file, inline CSS, no script, no external resource: it opens the same on an offline
//! PC during an outage and prints to A4 (or "Save as PDF") with a page per few systems.
//! Headings are in Japanese and English because the same sheet is read by hospital staff,
//! vendors and inspectors (厚生労働省 checklist 3-②: 復旧手順の確認). Every text that comes
//! from the plan or from command output is HTML-escaped. Times are shown in the plan's UTC
//! offset (JST for Japanese hospitals).

use std::fmt::Write;

use chrono::{DateTime, FixedOffset, Offset, Utc};

use crate::drill::{DrillReport, SystemDrill};
use crate::status::human;
use crate::validate::parse_offset;
use crate::verify::{excerpt_head, CheckResult};

const CSS: &str = "
body{font-family:'Hiragino Sans','Noto Sans CJK JP','Yu Gothic',sans-serif;margin:2em;color:#111;line-height:1.45}
h1{font-size:1.5em;border-bottom:3px solid #333;padding-bottom:.2em}
h2{font-size:1.2em;margin-top:1.6em;border-left:6px solid #555;padding-left:.4em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#eee;width:28%}
.pass{color:#05620f;font-weight:bold}.fail{color:#b00000;font-weight:bold}
.banner{padding:.6em 1em;border:2px solid;margin:1em 0;font-size:1.1em}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:.85em}
section{page-break-inside:avoid;break-inside:avoid}
.sign td{height:2.5em}
@page{size:A4;margin:15mm}
@media print{body{margin:0}}
";

/// Renders the report as a complete HTML document.
pub fn render_html(report: &DrillReport) -> String {
    let tz = parse_offset(&report.timezone).unwrap_or_else(|| Utc.fix());
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>復旧訓練報告書 / Recovery drill report — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&report.hospital)
    );
    h.push_str("<h1>復旧訓練報告書 / Recovery drill report</h1>\n");
    summary(&mut h, report, &tz);
    for s in &report.systems {
        system_section(&mut h, s, &tz);
    }
    sign_off(&mut h);
    h.push_str("</body>\n</html>\n");
    h
}

fn summary(h: &mut String, r: &DrillReport, tz: &FixedOffset) {
    let (class, verdict) = if r.passed {
        ("pass", "合格 / PASSED: すべてのシステムを復元し検証しました / every system was restored and verified")
    } else {
        (
            "fail",
            "不合格 / FAILED: 下記の問題を確認してください / see the problems below",
        )
    };
    let _ = writeln!(h, "<div class=\"banner {class}\">{verdict}</div>");
    h.push_str("<table>\n");
    row(h, "医療機関 / Hospital", &esc(&r.hospital));
    if let Some(o) = &r.owner {
        row(h, "計画責任者 / Plan owner", &esc(o));
    }
    if let Some(v) = &r.plan_revision {
        row(h, "計画版 / Plan revision", &esc(v));
    }
    row(h, "開始 / Started", &time(&r.started_at, tz));
    row(h, "終了 / Finished", &time(&r.finished_at, tz));
    let missed = r.rto_missed();
    row(
        h,
        "目標復旧時間 / RTO",
        &if missed.is_empty() {
            "<span class=\"pass\">全システム達成 / met by every restored system</span>".to_string()
        } else {
            format!(
                "<span class=\"fail\">未達 / missed: {}</span>",
                esc(&missed.join(", "))
            )
        },
    );
    h.push_str("</table>\n");
    let failures = r.failures();
    if !failures.is_empty() {
        h.push_str("<h2>問題 / Problems</h2>\n<ul>\n");
        for f in failures {
            let _ = writeln!(h, "<li class=\"fail\">{}</li>", esc(&f));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2>概要 / Overview</h2>\n<table>\n<tr><th style=\"width:auto\">順序 / Order</th><th style=\"width:auto\">システム / System</th>\
        <th style=\"width:auto\">優先度 / Priority</th><th style=\"width:auto\">復元時間 / Restore time</th>\
        <th style=\"width:auto\">RTO</th><th style=\"width:auto\">結果 / Result</th></tr>\n");
    for (i, s) in r.systems.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
            i + 1,
            esc(s.title.as_deref().unwrap_or(&s.name)),
            s.priority,
            achieved(s),
            esc(&s.rto),
            mark(s.restore_error.is_none() && s.rto_met),
            mark(s.passed)
        );
    }
    h.push_str("</table>\n");
}

fn system_section(h: &mut String, s: &SystemDrill, tz: &FixedOffset) {
    let _ = writeln!(
        h,
        "<section>\n<h2>{} <small>({})</small></h2>\n<table>",
        esc(s.title.as_deref().unwrap_or(&s.name)),
        esc(&s.name)
    );
    row(h, "優先度 / Priority", &s.priority.to_string());
    row(h, "責任分界 / Responsibility", &responsibility(s));
    let gens = if s.generations.is_empty() {
        "—".to_string()
    } else {
        s.generations
            .iter()
            .map(|g| {
                format!(
                    "{}: <code>{}</code> ({})",
                    esc(&g.source),
                    esc(&g.id),
                    time(&g.committed_at, tz)
                )
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    row(h, "復元した世代 / Restored generations", &gens);
    if let Some(dir) = &s.restored_to {
        row(
            h,
            "復元先 / Restored to",
            &format!("<code>{}</code>", esc(&dir.display().to_string())),
        );
    }
    row(
        h,
        "データ量 / Data",
        &format!("{:.1} MiB", s.bytes as f64 / 1_048_576.0),
    );
    let rto_cell = format!(
        "{} / 目標 target {} {}",
        achieved(s),
        esc(&s.rto),
        mark(s.restore_error.is_none() && s.rto_met)
    );
    row(h, "達成復旧時間 / Achieved restore time", &rto_cell);
    if let Some(e) = &s.restore_error {
        row(
            h,
            "復元エラー / Restore error",
            &format!("<span class=\"fail\">{}</span>", esc(e)),
        );
    }
    h.push_str("</table>\n");
    if let Some(v) = &s.verification {
        checks_table(h, &v.checks);
    }
    h.push_str("</section>\n");
}

fn responsibility(s: &SystemDrill) -> String {
    let Some(r) = &s.responsible else {
        return "<span class=\"fail\">未記載 / not stated in the plan</span>".to_string();
    };
    let mut v = format!("{}: {}", r.party, esc(&r.name));
    for extra in [&r.contact, &r.scope].into_iter().flatten() {
        let _ = write!(v, "<br>{}", esc(extra));
    }
    v
}

fn checks_table(h: &mut String, checks: &[CheckResult]) {
    if checks.is_empty() {
        h.push_str("<p>検証コマンドなし / no verification commands in the plan</p>\n");
        return;
    }
    h.push_str("<table>\n<tr><th style=\"width:auto\">検証 / Check</th><th style=\"width:auto\">結果 / Result</th>\
        <th style=\"width:auto\">時間 / Time</th><th style=\"width:auto\">出力 / Output</th></tr>\n");
    for c in checks {
        let mut out = esc(&excerpt_head(&c.stdout));
        if !c.passed && !c.stderr.is_empty() {
            let _ = write!(out, "\n{}", esc(&c.stderr));
        }
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            esc(&c.name),
            mark(c.passed),
            esc(&c.message),
            human(c.seconds),
            out
        );
    }
    h.push_str("</table>\n");
}

fn sign_off(h: &mut String) {
    h.push_str(
        "<h2>確認 / Sign-off</h2>\n<table class=\"sign\">\n\
         <tr><th>実施者 / Performed by</th><td></td></tr>\n\
         <tr><th>確認者 (医療情報システム安全管理責任者) / Verified by</th><td></td></tr>\n\
         <tr><th>日付 / Date</th><td></td></tr>\n</table>\n",
    );
}

fn row(h: &mut String, head: &str, value: &str) {
    let _ = writeln!(h, "<tr><th>{head}</th><td>{value}</td></tr>");
}

fn achieved(s: &SystemDrill) -> String {
    if s.restore_error.is_some() {
        "—".to_string()
    } else {
        human(s.restore_seconds)
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "<span class=\"pass\">✔ OK</span>"
    } else {
        "<span class=\"fail\">✘ NG</span>"
    }
}

fn time(t: &DateTime<Utc>, tz: &FixedOffset) -> String {
    t.with_timezone(tz)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
