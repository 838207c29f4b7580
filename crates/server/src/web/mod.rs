//! The web pages of `kura serve`: server-rendered HTML, no script, no build step.
//!
//! Two page sets share this layer: the vault console ([`crate::console`], admin and auditor)
//! and the emergency clinical viewer ([`crate::viewer`], clinician). What they share:
//!
//! - **Escaping by construction** ([`html::Html`]): markup only from `&'static str`, every value
//!   escaped.
//! - **Login** ([`login`]): user, password and TOTP code (or a recovery code) through the same
//!   [`Vault::login`] as the API, with the API's one failure message; the session id goes into
//!   an `HttpOnly; Secure; SameSite=Strict` cookie ([`session`]).
//! - **One request path** ([`serve`]): cookie → [`Vault::authenticate`] (an expired session goes
//!   back to login), CSRF check for every POST, the page function, then an audit entry for the
//!   view or action *before* the page is sent: a view the log cannot record is not shown.
//! - **Security headers** on every answer ([`security_headers`]): CSP `default-src 'self'`
//!   (hence the external style sheet), `X-Frame-Options: DENY`, `Cache-Control: no-store`
//!   (clinical data must not stay in a shared PC's cache), `Referrer-Policy: no-referrer`.
//! - **Languages** ([`page`]): Japanese by default, `?lang=en` remembered in a cookie.

pub mod html;
mod login;
pub mod page;
mod password;
pub mod session;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kura_audit::Outcome as AuditOutcome;

use crate::error::{Result, ServerError};
use crate::http::RemoteAddr;
use crate::vault::{Caller, Vault};
use html::{url_encode, Html};
use page::{Frame, Lang, Viewer};
use session::{cookie, csrf_ok, csrf_token, is_session_id, LANG_COOKIE, SESSION_COOKIE};

/// What the pages need from a request.
pub struct Req {
    pub headers: HeaderMap,
    pub remote: String,
    pub path: String,
    pub query: String,
    pub method: Method,
}

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let remote = parts
            .extensions
            .get::<RemoteAddr>()
            .map(|r| r.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(Req {
            headers: parts.headers.clone(),
            remote,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            method: parts.method.clone(),
        })
    }
}

impl Req {
    /// `?lang=` if given (then also remembered), else the cookie, else Japanese.
    pub fn lang(&self) -> (Lang, bool) {
        let asked = self
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .and_then(Lang::parse);
        match asked {
            Some(l) => (l, true),
            None => (
                cookie(&self.headers, LANG_COOKIE)
                    .as_deref()
                    .and_then(Lang::parse)
                    .unwrap_or(Lang::Ja),
                false,
            ),
        }
    }

    fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

/// A logged-in request, as page functions see it.
pub struct Ctx {
    pub caller: Caller,
    pub account: String,
    pub lang: Lang,
    pub csrf: String,
    pub session: String,
    pub path: String,
    pub remote: String,
}

/// What a page function answers.
pub enum Reply {
    Page { title: String, body: Html },
    Redirect(String),
}

/// A page set: its name (audit actions `NAME.view` / `NAME.action`) and navigation.
pub struct Area {
    pub name: &'static str,
    pub nav: fn(Lang) -> Vec<(&'static str, &'static str)>,
}

/// Serve one page or action for a logged-in account. `posted_csrf` is `Some` for POSTs (the
/// form's `csrf` field) and must match the session.
pub async fn serve<F>(
    v: Arc<Vault>,
    area: &'static Area,
    req: Req,
    posted_csrf: Option<String>,
    f: F,
) -> Response
where
    F: FnOnce(&Vault, &Ctx) -> Result<Reply> + Send + 'static,
{
    let job = tokio::task::spawn_blocking(move || handle(&v, area, &req, posted_csrf, f));
    job.await.unwrap_or_else(|_| {
        plain_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page failed; see the vault's log",
        )
    })
}

fn handle<F>(v: &Vault, area: &Area, req: &Req, posted: Option<String>, f: F) -> Response
where
    F: FnOnce(&Vault, &Ctx) -> Result<Reply>,
{
    let (lang, chosen) = req.lang();
    let Some(caller_session) = web_caller(v, req) else {
        return to_login(req);
    };
    let (caller, session) = caller_session;
    let csrf = csrf_token(&session);
    let account = caller
        .principal
        .account_name()
        .unwrap_or_default()
        .to_string();
    let ctx = Ctx {
        caller,
        account,
        lang,
        csrf,
        session,
        path: req.path.clone(),
        remote: req.remote.clone(),
    };
    let kind = if posted.is_some() { "action" } else { "view" };
    let action = format!("{}.{kind}", area.name);
    let result = match &posted {
        Some(given) if !csrf_ok(&ctx.session, given) => Err(ServerError::Forbidden(
            "the form's security token does not match this session; reload the page and try again"
                .into(),
        )),
        _ => f(v, &ctx),
    };
    let (outcome, reason) = match &result {
        Ok(_) => (AuditOutcome::Success, None),
        Err(e) if e.status() == 403 => (AuditOutcome::Denied, Some(e.to_string())),
        Err(e) => (AuditOutcome::Failure, Some(e.to_string())),
    };
    let mut event = ctx.caller.audit(&action, &req.target(), outcome);
    if let Some(r) = reason {
        event = event.with_reason(r);
    }
    if let Err(e) = v.audit(event) {
        return render_error(&ctx, area, &e);
    }
    let mut response = match result {
        Ok(Reply::Redirect(to)) => redirect(&to),
        Ok(Reply::Page { title, body }) => {
            let body = with_password_reminder(&ctx, area, body);
            render(&ctx, area, &title, &body, StatusCode::OK)
        }
        Err(e) if e.status() == 401 => to_login(req),
        Err(e) => render_error(&ctx, area, &e),
    };
    if chosen {
        remember_lang(&mut response, lang);
    }
    response
}

/// The session cookie turned into a caller, or `None` (then: log in). A cookie that is not a
/// web session id is refused and audited: API tokens never open the pages.
fn web_caller(v: &Vault, req: &Req) -> Option<(Caller, String)> {
    let value = cookie(&req.headers, SESSION_COOKIE)?;
    if !is_session_id(&value) {
        let event = kura_audit::AuditEvent::now("anonymous", "web.auth", &req.path, AuditOutcome::Denied)
            .with_source(req.remote.clone())
            .with_reason("the session cookie does not hold a web session id; API tokens cannot open the web pages");
        let _ = v.audit(event);
        return None;
    }
    let caller = v.authenticate(&value, &req.remote).ok()?;
    caller.principal.account_name()?;
    Some((caller, value))
}

fn render(ctx: &Ctx, area: &Area, title: &str, body: &Html, status: StatusCode) -> Response {
    let roles = ctx.caller.roles();
    let frame = Frame {
        lang: ctx.lang,
        area: area.name,
        title,
        nav: (area.nav)(ctx.lang),
        viewer: Some(Viewer {
            name: &ctx.account,
            roles: &roles,
            csrf: &ctx.csrf,
        }),
        path: &ctx.path,
    };
    html_response(status, page::layout(&frame, body))
}

fn render_error(ctx: &Ctx, area: &Area, e: &ServerError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = page::error_body(ctx.lang, status, &e.to_string());
    let title = page::tr(page::COMMON, ctx.lang, "error");
    render(ctx, area, title, &body, status)
}

pub fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn plain_error(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn to_login(req: &Req) -> Response {
    let next = if req.method == Method::GET {
        req.target()
    } else {
        req.path.clone()
    };
    redirect(&format!("/web/login?next={}", url_encode(&next)))
}

fn remember_lang(r: &mut Response, lang: Lang) {
    let c = session::set_cookie(LANG_COOKIE, lang.code(), Some(365 * 86_400));
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The headers every page and asset carries.
pub async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = [
        (
            "content-security-policy",
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ];
    for (name, value) in set {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response()
}

/// `/`: the pages of the caller's role, or the login page.
async fn home(axum::extract::State(v): axum::extract::State<Arc<Vault>>, req: Req) -> Response {
    let job = tokio::task::spawn_blocking(move || match web_caller(&v, &req) {
        None => redirect("/web/login"),
        Some((c, _)) => {
            let clinician_only = !c.principal.grants.is_empty()
                && c.principal
                    .grants
                    .iter()
                    .all(|g| g.role == kura_auth::Role::Clinician);
            redirect(if clinician_only {
                "/viewer/"
            } else {
                "/console/"
            })
        }
    });
    job.await.unwrap_or_else(|_| redirect("/web/login"))
}

/// Every page of an account whose password an administrator chose (new or reset) starts with a
/// reminder to change it. A reminder, not a wall: during an outage a clinician with a fresh
/// account must reach the viewer at once.
/// The reminder comes with the session's principal, which the account store builds on each
/// request: asking the store again per page took its lock file once more per page view.
fn with_password_reminder(ctx: &Ctx, area: &Area, body: Html) -> Html {
    let must = area.name != "account" && ctx.caller.principal.must_change_password;
    if !must {
        return body;
    }
    let mut out = Html::new();
    out.raw("<p class=\"notice\" id=\"must-change\">")
        .text(page::tr(page::COMMON, ctx.lang, "must_change"))
        .raw(" <a href=\"/web/password\">")
        .text(page::tr(page::COMMON, ctx.lang, "change_password"))
        .raw("</a></p>")
        .push(&body);
    out
}

/// The routes of both page sets, the login and the assets, with the security headers.
pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route("/", get(home))
        .route("/web/login", get(login::form).post(login::submit))
        .route("/web/logout", post(login::logout))
        .route("/web/password", get(password::page).post(password::submit))
        .route("/web/style.css", get(style))
        // Browsers ask for it on every first visit; without a route it would be audited as a
        // probe of the API.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(crate::console::routes())
        .merge(crate::viewer::routes())
        .layer(axum::middleware::map_response(security_headers))
}
