//! `/web/password`: an account changes its own password. New accounts and accounts reset by an
//! administrator must change theirs, so the login sends them here first.
//!
//! The form asks for the current password and a second-factor code again: a session cookie left
//! in an unlocked browser on a ward must not be enough to take the account over. The rules and
//! the audit entry live in [`Vault::change_own_password`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Form;

use super::html::Html;
use super::page::{tr, Lang, Texts, COMMON};
use super::{serve, Area, Ctx, Reply, Req};
use crate::error::ServerError;
use crate::vault::Vault;

const T: &Texts = &[
    ("title", "パスワードの変更", "Change password"),
    ("current", "現在のパスワード", "Current password"),
    ("new", "新しいパスワード", "New password"),
    ("repeat", "新しいパスワード（確認）", "New password again"),
    ("change", "変更する", "Change"),
    (
        "rules",
        "8文字以上（二要素認証のないアカウントは13文字以上）。ユーザー名、よく知られたパスワード、最近の5個のパスワードは使えません。変更後は新しいパスワードでログインし直してください。",
        "At least 8 characters (13 for accounts without a second factor); not your user name, a well-known password or one of your last 5. After the change, log in again with the new password.",
    ),
    (
        "mismatch",
        "新しいパスワードが一致しません。",
        "The new passwords do not match.",
    ),
];

fn t(lang: Lang, key: &'static str) -> &'static str {
    tr(T, lang, key)
}

fn no_nav(_: Lang) -> Vec<(&'static str, &'static str)> {
    Vec::new()
}

static AREA: Area = Area {
    name: "account",
    nav: no_nav,
};

fn form(ctx: &Ctx) -> Html {
    let lang = ctx.lang;
    let mut body = Html::new();
    body.raw("<p>").text(t(lang, "rules")).raw("</p>");
    body.raw("<form method=\"post\" action=\"/web/password\" class=\"login\">")
        .hidden("csrf", &ctx.csrf)
        .input("current", "password", t(lang, "current"), "")
        .input("code", "text", tr(COMMON, lang, "code"), "")
        .input("new", "password", t(lang, "new"), "")
        .input("repeat", "password", t(lang, "repeat"), "")
        .raw("<button type=\"submit\" id=\"change\">")
        .text(t(lang, "change"))
        .raw("</button></form>");
    body
}

pub async fn page(State(v): State<Arc<Vault>>, req: Req) -> Response {
    serve(v, &AREA, req, None, |_, ctx| {
        Ok(Reply::Page {
            title: t(ctx.lang, "title").to_string(),
            body: form(ctx),
        })
    })
    .await
}

pub async fn submit(
    State(v): State<Arc<Vault>>,
    req: Req,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (csrf, current, code, new, repeat) = (
        field("csrf"),
        field("current"),
        field("code"),
        field("new"),
        field("repeat"),
    );
    serve(v, &AREA, req, Some(csrf), move |v, ctx| {
        if new != repeat {
            return Err(ServerError::BadRequest(t(ctx.lang, "mismatch").into()));
        }
        let code = code.trim();
        let code = (!code.is_empty()).then_some(code);
        v.change_own_password(&ctx.caller, &current, code, &new)?;
        Ok(Reply::Redirect("/web/login?changed=1".into()))
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
