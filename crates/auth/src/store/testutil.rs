//! Helpers shared by the store tests: a fast-KDF store, a fixed clock and logged-in admins.

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::path::Path;

use super::{AuthConfig, AuthStore, LoginRequest};
use crate::password::KdfParams;
use crate::role::Principal;
use crate::totp::{code_at, TotpSecret};

/// Passes the policy without a second factor.
pub const STRONG_PW: &str = "Kx7#mq2Lp-Rw9z";
/// The first administrator's password.
pub const ADMIN_PW: &str = "Tq4!vN8z#Lm2Ps";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).single().unwrap()
}

pub fn config() -> AuthConfig {
    AuthConfig {
        kdf: KdfParams::INSECURE_FAST,
        ..AuthConfig::default()
    }
}

pub fn open(dir: &Path) -> AuthStore {
    AuthStore::open(dir, config()).unwrap()
}

/// Creates `root-admin` (no second factor yet).
pub fn bootstrap(store: &mut AuthStore) -> Principal {
    store
        .create_first_admin("root-admin", ADMIN_PW, t0())
        .unwrap()
}

pub fn request<'a>(user: &'a str, password: &'a str, code: Option<&'a str>) -> LoginRequest<'a> {
    LoginRequest {
        user,
        password,
        second_factor: code,
        remote: "192.0.2.10",
    }
}

/// Enrols TOTP for `who` (already logged in) at `now`; returns the secret.
pub fn enrol(store: &mut AuthStore, who: &Principal, now: DateTime<Utc>) -> TotpSecret {
    let name = who.account_name().unwrap().to_owned();
    let enrolment = store.begin_totp_enrolment(who, &name).unwrap();
    let secret = TotpSecret::from_base32(&enrolment.secret_base32).unwrap();
    let code = code_at(&secret, now).unwrap();
    store
        .confirm_totp_enrolment(who, &name, &code, now)
        .unwrap();
    secret
}

/// Enrols TOTP for the bootstrap admin and logs in with it one step later.
pub fn login_mfa(store: &mut AuthStore, admin: &Principal) -> Principal {
    let secret = enrol(store, admin, t0());
    let later = t0() + Duration::seconds(30);
    let code = code_at(&secret, later).unwrap();
    let name = admin.account_name().unwrap().to_owned();
    let out = store.login(&request(&name, ADMIN_PW, Some(&code)), later);
    out.result.unwrap().principal
}

/// A fresh store's bootstrap admin, logged in with a second factor.
pub fn mfa_admin(store: &mut AuthStore) -> Principal {
    let admin = bootstrap(store);
    login_mfa(store, &admin)
}
