//! Cookies, the web session and CSRF tokens.
//!
//! **Session cookie.** `kura_session` holds a kura-auth session id (`kura_ses...`), set
//! `HttpOnly; Secure; SameSite=Strict; Path=/`: no script can read it, it never travels over
//! plain HTTP and no other site can make the browser send it. A cookie holding anything else (an
//! API token pasted into a cookie, say) is refused: backup and operator tokens are for the API,
//! never for the pages.
//!
//! **CSRF.** Every POST carries a token that is a keyed BLAKE3 hash of the session id under a
//! key drawn at process start. It cannot be computed without the session id (which scripts cannot
//! read) and stops being valid with the session, and when the process restarts (sessions live in
//! memory and end then too). The login form, which has no session yet, uses a double-submit
//! cookie (`kura_login`) instead; SameSite=Strict covers the rest.

use std::sync::OnceLock;

use axum::http::HeaderMap;
use rand::RngCore;

pub const SESSION_COOKIE: &str = "kura_session";
pub const LANG_COOKIE: &str = "kura_lang";
pub const LOGIN_COOKIE: &str = "kura_login";

fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    })
}

/// The CSRF token of a session.
pub fn csrf_token(session: &str) -> String {
    let mut h = blake3::Hasher::new_keyed(process_key());
    h.update(b"kura web csrf v1\0");
    h.update(session.as_bytes());
    h.finalize().to_hex()[..32].to_string()
}

/// Whether `given` is the CSRF token of `session` (compared in constant time).
pub fn csrf_ok(session: &str, given: &str) -> bool {
    let want = csrf_token(session);
    want.len() == given.len()
        && want
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A fresh random value for the login form's double-submit cookie.
pub fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

/// The value of cookie `name` from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// A `Set-Cookie` value with the attributes every Kura cookie carries.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> String {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    format!("{name}={value}; HttpOnly; Secure; SameSite=Strict; Path=/{age}")
}

/// Whether a cookie value has the shape of a kura-auth web session id: the only credential the
/// pages accept.
pub fn is_session_id(value: &str) -> bool {
    value.starts_with(kura_auth::session::SESSION_PREFIX)
        && value.len() < 200
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Where to go after login: only a page of this server (no `//host`, no scheme).
pub fn safe_next(next: &str) -> Option<&str> {
    let local = next.starts_with("/console") || next.starts_with("/viewer");
    let sneaky = next.contains("//") || next.contains('\\') || next.contains(['\r', '\n']);
    (local && !sneaky && next.len() < 512).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn csrf_is_bound_to_the_session() {
        let t = csrf_token("kura_ses_a");
        assert!(csrf_ok("kura_ses_a", &t));
        assert!(!csrf_ok("kura_ses_b", &t), "another session's token");
        assert!(!csrf_ok("kura_ses_a", ""));
        assert!(!csrf_ok("kura_ses_a", &t[..31]));
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut h = HeaderMap::new();
        h.append(
            "cookie",
            HeaderValue::from_static("a=1; kura_session=kura_ses_x"),
        );
        h.append("cookie", HeaderValue::from_static("kura_lang=en"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("kura_ses_x"));
        assert_eq!(cookie(&h, LANG_COOKIE).as_deref(), Some("en"));
        assert_eq!(cookie(&h, "missing"), None);
        let c = set_cookie(SESSION_COOKIE, "v", None);
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"));
    }

    #[test]
    fn only_session_ids_and_local_pages_pass() {
        assert!(is_session_id("kura_ses_abcDEF123"));
        assert!(
            !is_session_id("kura_tok_abc"),
            "API tokens are not web credentials"
        );
        assert!(!is_session_id("kura_ses_a;b"));
        assert_eq!(
            safe_next("/console/audit?actor=x"),
            Some("/console/audit?actor=x")
        );
        for bad in [
            "//evil.example/console",
            "https://evil/",
            "/console\\..",
            "/other",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }
}
