//! The login page and logout.
//!
//! Login goes through [`Vault::login`], exactly as `POST /login` of the API does, so lockout,
//! per-address throttling, TOTP replay refusal, recovery codes and the audit entries are the
//! same, and so is the one message for an unknown user, a wrong password and a wrong code.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use kura_audit::Outcome as AuditOutcome;
use serde::Deserialize;

use super::html::Html;
use super::page::{self, tr, Frame, COMMON};
use super::session::{self, cookie, LOGIN_COOKIE, SESSION_COOKIE};
use super::{html_response, redirect, Req};
use crate::vault::Vault;

fn next_of(query: &str) -> String {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("next="))
        .map(percent_decode)
        .and_then(|n| session::safe_next(&n).map(str::to_string))
        .unwrap_or_default()
}

/// Decode `%XX` and `+` of a query value (invalid sequences are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The login form with a fresh double-submit value; `message` is shown above it.
fn login_page(req: &Req, next: &str, message: Option<&str>, status: StatusCode) -> Response {
    let (lang, _) = req.lang();
    let t = |k| tr(COMMON, lang, k);
    let pre = session::random_hex(16);
    let mut body = Html::new();
    if let Some(m) = message {
        body.raw("<p class=\"error\" id=\"error\">")
            .text(m)
            .raw("</p>");
    }
    body.raw("<form method=\"post\" action=\"/web/login\" class=\"login\">")
        .hidden("pre", &pre)
        .hidden("next", next)
        .input("user", "text", t("user"), "")
        .input("password", "password", t("password"), "")
        .input("code", "text", t("code"), "")
        .raw("<button type=\"submit\" id=\"login\">")
        .text(t("login_button"))
        .raw("</button></form>");
    let frame = Frame {
        lang,
        area: "login",
        title: t("login_title"),
        nav: Vec::new(),
        viewer: None,
        path: "/web/login",
    };
    let mut r = html_response(status, page::layout(&frame, &body));
    set(&mut r, &session::set_cookie(LOGIN_COOKIE, &pre, Some(1800)));
    r
}

fn set(r: &mut Response, cookie_value: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie_value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

pub async fn form(req: Req) -> Response {
    let next = next_of(&req.query);
    let changed = req.query.split('&').any(|kv| kv == "changed=1");
    let (lang, _) = req.lang();
    let notice = changed.then(|| tr(COMMON, lang, "password_changed"));
    login_page(&req, &next, notice, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pre: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn submit(State(v): State<Arc<Vault>>, req: Req, Form(f): Form<LoginForm>) -> Response {
    let next = session::safe_next(&f.next).unwrap_or("/").to_string();
    let (lang, _) = req.lang();
    let expected = cookie(&req.headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || expected != f.pre {
        let msg = tr(COMMON, lang, "login_reload");
        return login_page(&req, &next, Some(msg), StatusCode::BAD_REQUEST);
    }
    let remote = req.remote.clone();
    let job = tokio::task::spawn_blocking(move || {
        let code = f.code.trim();
        let code = (!code.is_empty()).then_some(code);
        v.login(f.user.trim(), &f.password, code, &remote)
    });
    match job.await {
        Ok(Ok(answer)) => {
            let mut r = redirect(&next);
            set(
                &mut r,
                &session::set_cookie(SESSION_COOKIE, &answer.session, None),
            );
            set(&mut r, &session::set_cookie(LOGIN_COOKIE, "", Some(0)));
            r
        }
        Ok(Err(e)) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            login_page(&req, &next, Some(&e.to_string()), status)
        }
        Err(_) => login_page(
            &req,
            &next,
            Some("login failed internally"),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// End the session (with its CSRF token: another site cannot log a clinician out mid-shift).
pub async fn logout(State(v): State<Arc<Vault>>, req: Req, Form(f): Form<LogoutForm>) -> Response {
    let Some(sid) = cookie(&req.headers, SESSION_COOKIE) else {
        return redirect("/web/login");
    };
    if !session::csrf_ok(&sid, &f.csrf) {
        let why = "the form's security token does not match this session; reload the page\n";
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let remote = req.remote.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Ok(c) = v.authenticate(&sid, &remote) {
            let _ = v.audit(c.audit("web.logout", "vault", AuditOutcome::Success));
        }
        v.logout(&sid)
    })
    .await;
    let mut r = redirect("/web/login");
    set(&mut r, &session::set_cookie(SESSION_COOKIE, "", Some(0)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_decoded_and_kept_local() {
        assert_eq!(
            next_of("next=%2Fconsole%2Faudit%3Factor%3Dsato"),
            "/console/audit?actor=sato"
        );
        assert_eq!(next_of("next=%2F%2Fevil.example%2Fconsole"), "");
        assert_eq!(next_of(""), "");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%E3%83%A4+x"), "ヤ x");
    }
}
