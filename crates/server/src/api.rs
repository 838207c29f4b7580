//! The HTTP API. Thin: authenticate, call one `Vault` method on a blocking thread, render.
//!
//! | method | path                                  | needs (see `perm.rs`)                      |
//! |--------|---------------------------------------|--------------------------------------------|
//! | GET    | `/repo/{repo}/list/{kind}`            | any read permission on the repository       |
//! | GET    | `/repo/{repo}/obj/{kind}/{name}`      | same; `?offset=&len=` reads a range         |
//! | GET    | `/repo/{repo}/size/{kind}/{name}`     | same                                        |
//! | PUT    | `/repo/{repo}/obj/{kind}/{name}`      | `add-objects`; snapshot `commit-snapshot`; config/key `manage-keys`; meta by record type |
//! | POST   | `/repo/{repo}/commit/{name}`          | `commit-snapshot` for the snapshot's source |
//! | DELETE | `/repo/{repo}/obj/{kind}/{name}`      | `prune` (key: `manage-keys`); never with `require_approval`, never the config |
//! | POST   | `/repo/{repo}/plans`                  | `forget` or `prune` (an account): propose a deletion plan |
//! | GET    | `/repo/{repo}/plans`                  | `approve-deletion`, `forget`, `prune` or `read-reports` |
//! | POST   | `/repo/{repo}/plans/{id}/approve`     | `approve-deletion`, by an account other than the proposer |
//! | GET    | `/audit?format=json\|csv`             | `read-audit` (global)                       |
//! | GET    | `/whoami`                             | a valid credential                          |
//! | POST   | `/login`                              | none (password + TOTP; answers a session id)|
//!
//! The web pages (`/`, `/web/...`, `/console/...`, `/viewer/...`) are merged in from
//! [`crate::web::routes`] and authenticate with a session cookie instead.
//!
//! Every request but `/login` carries `Authorization: Bearer <token or session id>`. Answers:
//! 200/201 with the body, or an error status with a one-line text body that the client shows
//! as is (403 names the missing permission, 409 means "exists, never overwritten").

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use kura_audit::Outcome as AuditOutcome;
use kura_auth::Permission;
use kura_store::FileKind;
use serde::Deserialize;

use crate::error::{Result, ServerError};
use crate::http::RemoteAddr;
use crate::perm::Need;
use crate::vault::{Caller, Vault};

/// Largest request body: a pack (16 MiB by default) with generous room for larger pack sizes.
pub const MAX_BODY: usize = 512 << 20;

type V = State<Arc<Vault>>;
type Remote = Extension<RemoteAddr>;

pub fn router(vault: Arc<Vault>) -> Router {
    Router::new()
        .route("/repo/{repo}/list/{kind}", get(list))
        .route(
            "/repo/{repo}/obj/{kind}/{name}",
            put(put_object).get(get_object).delete(delete_object),
        )
        .route("/repo/{repo}/size/{kind}/{name}", get(size))
        .route("/repo/{repo}/commit/{name}", post(commit))
        .route("/repo/{repo}/plans", post(propose_plan).get(list_plans))
        .route("/repo/{repo}/plans/{id}/approve", post(approve_plan))
        .route("/audit", get(audit_export))
        .route("/whoami", get(whoami))
        .route("/login", post(login))
        .merge(crate::web::routes())
        .fallback(unknown)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(vault)
}

fn error_response(e: &ServerError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, format!("{e}\n")).into_response()
}

fn bearer(headers: &HeaderMap) -> Result<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
        .ok_or(ServerError::Auth(kura_auth::AuthError::InvalidCredentials))
}

/// Authenticate and run `f` on a blocking thread (file I/O, Argon2, fsync).
async fn authed<F>(v: Arc<Vault>, headers: HeaderMap, remote: RemoteAddr, f: F) -> Response
where
    F: FnOnce(&Vault, Caller) -> Result<Response> + Send + 'static,
{
    let job = tokio::task::spawn_blocking(move || {
        let token = bearer(&headers);
        let caller = match token {
            Ok(t) => v.authenticate(&t, &remote.0.ip().to_string()),
            Err(e) => {
                let event = kura_audit::AuditEvent::now(
                    "anonymous",
                    "auth.failed",
                    "vault",
                    AuditOutcome::Failure,
                )
                .with_source(remote.0.ip().to_string())
                .with_reason("no bearer credential");
                v.audit(event).and(Err(e))
            }
        }?;
        f(&v, caller)
    });
    match job.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => error_response(&e),
        Err(_) => error_response(&ServerError::BadRequest(
            "the request handler failed; see the vault's log".into(),
        )),
    }
}

fn parse_kind(v: &Vault, c: &Caller, text: &str) -> Result<FileKind> {
    FileKind::ALL
        .into_iter()
        .find(|k| k.to_string() == text)
        .ok_or_else(|| v.refuse_bad(c, "request", text, format!("unknown file kind {text:?}")))
}

async fn list(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path((repo, kind)): Path<(String, String)>,
) -> Response {
    authed(v, h, r, move |v, c| {
        let kind = parse_kind(v, &c, &kind)?;
        let files: Vec<_> = v
            .list(&c, &repo, kind)?
            .into_iter()
            .map(|f| {
                let ms = f
                    .modified
                    .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as u64);
                serde_json::json!({"name": f.name, "size": f.size, "modified_ms": ms})
            })
            .collect();
        Ok(axum::Json(files).into_response())
    })
    .await
}

#[derive(Deserialize)]
struct RangeQuery {
    offset: Option<u64>,
    len: Option<u64>,
}

async fn get_object(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path((repo, kind, name)): Path<(String, String, String)>,
    Query(q): Query<RangeQuery>,
) -> Response {
    authed(v, h, r, move |v, c| {
        let kind = parse_kind(v, &c, &kind)?;
        let range = match (q.offset, q.len) {
            (Some(o), Some(l)) => Some((o, l)),
            (None, None) => None,
            _ => return Err(ServerError::BadRequest("give both offset and len".into())),
        };
        Ok(v.read_object(&c, &repo, kind, &name, range)?
            .into_response())
    })
    .await
}

async fn size(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path((repo, kind, name)): Path<(String, String, String)>,
) -> Response {
    authed(v, h, r, move |v, c| {
        let kind = parse_kind(v, &c, &kind)?;
        Ok(v.size(&c, &repo, kind, &name)?.to_string().into_response())
    })
    .await
}

async fn put_object(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path((repo, kind, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    authed(v, h, r, move |v, c| {
        let kind = parse_kind(v, &c, &kind)?;
        v.create_object(&c, &repo, kind, &name, &body)?;
        Ok(StatusCode::CREATED.into_response())
    })
    .await
}

async fn delete_object(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path((repo, kind, name)): Path<(String, String, String)>,
) -> Response {
    authed(v, h, r, move |v, c| {
        let kind = parse_kind(v, &c, &kind)?;
        v.remove(&c, &repo, kind, &name)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn commit(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path((repo, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    authed(v, h, r, move |v, c| {
        let id = v.commit_snapshot(&c, &repo, &name, &body)?;
        Ok((StatusCode::CREATED, id).into_response())
    })
    .await
}

#[derive(Deserialize)]
struct AuditQuery {
    format: Option<String>,
}

async fn audit_export(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    authed(v, h, r, move |v, c| {
        v.guard(
            &c,
            Need::One(Permission::ReadAudit),
            "*",
            None,
            "audit.read",
            "audit.log",
        )?;
        let mut out = Vec::new();
        let filter = kura_audit::Filter::default();
        match q.format.as_deref().unwrap_or("json") {
            "json" => kura_audit::export_json(v.audit_path(), &mut out, &filter)?,
            "csv" => kura_audit::export_csv(v.audit_path(), &mut out, &filter)?,
            other => {
                return Err(ServerError::BadRequest(format!(
                    "unknown format {other:?}; use json or csv"
                )))
            }
        };
        v.audit(c.audit("audit.read", "audit.log", AuditOutcome::Success))?;
        Ok(out.into_response())
    })
    .await
}

async fn whoami(State(v): V, Extension(r): Remote, h: HeaderMap) -> Response {
    authed(v, h, r, move |_, c| {
        let grants: Vec<String> = c
            .principal
            .grants
            .iter()
            .map(|g| format!("{}@{}{}", g.role, g.repo, g.source.as_ref().map(|s| format!(":{s}")).unwrap_or_default()))
            .collect();
        Ok(axum::Json(serde_json::json!({"principal": c.principal.label(), "grants": grants, "mfa": c.principal.mfa})).into_response())
    })
    .await
}

#[derive(Deserialize)]
struct LoginBody {
    user: String,
    password: String,
    totp: Option<String>,
}

async fn login(
    State(v): V,
    Extension(r): Remote,
    axum::Json(b): axum::Json<LoginBody>,
) -> Response {
    let job = tokio::task::spawn_blocking(move || {
        v.login(
            &b.user,
            &b.password,
            b.totp.as_deref(),
            &r.0.ip().to_string(),
        )
    });
    match job.await {
        Ok(Ok(s)) => axum::Json(s).into_response(),
        Ok(Err(e)) => error_response(&e),
        Err(_) => error_response(&ServerError::BadRequest("login failed internally".into())),
    }
}

/// Any other path or method: audited (an attacker probing for a way around the API leaves a
/// trace), then 404.
async fn unknown(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    uri: axum::http::Uri,
    method: axum::http::Method,
) -> Response {
    authed(v, h, r, move |v, c| {
        let target = format!("{method} {}", uri.path());
        let event = c
            .audit("request.unknown", &target, AuditOutcome::Denied)
            .with_reason("no such route");
        v.audit(event)?;
        Ok((StatusCode::NOT_FOUND, format!("no route {target}\n")).into_response())
    })
    .await
}

#[derive(Deserialize)]
struct ProposeBody {
    #[serde(flatten)]
    action: crate::plans::PlanAction,
    #[serde(default)]
    reason: String,
}

/// Propose a deletion plan: `{"action":"forget","snapshots":[...]}` or `{"action":"prune"}`.
async fn propose_plan(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path(repo): Path<String>,
    body: Bytes,
) -> Response {
    authed(v, h, r, move |v, c| {
        let b: ProposeBody = serde_json::from_slice(&body)
            .map_err(|e| v.refuse_bad(&c, "plan.propose", &repo, format!("not a plan: {e}")))?;
        let plan = v.propose_plan(&c, &repo, b.action, &b.reason)?;
        Ok((StatusCode::CREATED, axum::Json(plan)).into_response())
    })
    .await
}

async fn list_plans(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path(repo): Path<String>,
) -> Response {
    authed(v, h, r, move |v, c| {
        Ok(axum::Json(v.list_plans(&c, &repo)?).into_response())
    })
    .await
}

async fn approve_plan(
    State(v): V,
    Extension(r): Remote,
    h: HeaderMap,
    Path((repo, id)): Path<(String, String)>,
) -> Response {
    authed(v, h, r, move |v, c| {
        Ok(axum::Json(v.approve_plan(&c, &repo, &id)?).into_response())
    })
    .await
}
