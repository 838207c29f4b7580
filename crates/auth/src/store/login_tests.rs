//! Login, lockout, second factor, inactivity and session tests.

use chrono::Duration;

use super::super::testutil::*;
use super::*;
use crate::password::KdfParams;
use crate::role::{Grant, Permission, Role};
use crate::totp::code_at;
use crate::AuthConfig;
use crate::TotpSecret;

/// A store with the MFA admin and a user `nurse1` (password [`STRONG_PW`], no TOTP).
fn setup() -> (tempfile::TempDir, AuthStore, Principal) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let admin = mfa_admin(&mut store);
    store
        .create_account(&admin, "nurse1", STRONG_PW, t0())
        .unwrap();
    (dir, store, admin)
}

fn fail(store: &mut AuthStore, user: &str, pw: &str, now: DateTime<Utc>) -> AuthEvent {
    let out = store.login(&request(user, pw, None), now);
    assert!(
        matches!(out.result, Err(AuthError::InvalidCredentials)),
        "{:?}",
        out.result
    );
    out.audit.event
}

#[test]
fn every_failure_looks_identical_but_audit_says_why() {
    let (_dir, mut store, admin) = setup();
    // nurse1 enrols TOTP so the second-factor failures can be produced.
    let nurse = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap();
    let secret = enrol(&mut store, &nurse.principal, t0());
    store
        .create_account(&admin, "leaver", STRONG_PW, t0())
        .unwrap();
    store.disable(&admin, "leaver", t0()).unwrap();
    let now = t0() + Duration::seconds(60);
    let good = code_at(&secret, now).unwrap();
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    let attempts: Vec<(LoginRequest<'_>, &str)> = vec![
        (request("nobody", STRONG_PW, None), "unknown-account"),
        (request("nurse1", "Wrong#pass-123", None), "wrong-password"),
        (request("nurse1", STRONG_PW, None), "second-factor-missing"),
        (
            request("nurse1", STRONG_PW, Some(&wrong)),
            "wrong-second-factor",
        ),
        (
            request("nurse1", STRONG_PW, Some("AAAA-BBBB-CCCC-DDDD")),
            "wrong-second-factor",
        ),
        (request("leaver", STRONG_PW, None), "account-disabled"),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for (req, event) in attempts {
        let out = store.login(&req, now);
        let err = out.result.unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredentials));
        messages.insert(err.to_string());
        let json = serde_json::to_value(&out.audit.event).unwrap();
        assert_eq!(json["event"], event, "{req:?}");
        assert!(!format!("{:?}", out.audit).contains(STRONG_PW));
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    // The right code still works afterwards.
    let out = store.login(&request("nurse1", STRONG_PW, Some(&good)), now);
    assert!(out.result.is_ok(), "{:?}", out.audit);
}

#[test]
fn lockout_after_ten_failures_with_growing_delay() {
    let (_dir, mut store, _admin) = setup();
    let mut now = t0();
    for i in 1..=9 {
        let event = fail(&mut store, "nurse1", "Wrong#pass-123", now);
        assert_eq!(
            event,
            AuthEvent::WrongPassword {
                failures: i,
                locked_until: None
            }
        );
    }
    let event = fail(&mut store, "nurse1", "Wrong#pass-123", now);
    let until = now + Duration::seconds(60);
    assert_eq!(
        event,
        AuthEvent::WrongPassword {
            failures: 10,
            locked_until: Some(until)
        }
    );
    // While locked even the right password is refused, and the attempt does not extend it.
    now += Duration::seconds(30);
    assert_eq!(
        fail(&mut store, "nurse1", STRONG_PW, now),
        AuthEvent::AccountLocked { until }
    );
    // After the lock, one more failure locks again for twice as long.
    now = until;
    let event = fail(&mut store, "nurse1", "Wrong#pass-123", now);
    let until2 = now + Duration::seconds(120);
    assert_eq!(
        event,
        AuthEvent::WrongPassword {
            failures: 11,
            locked_until: Some(until2)
        }
    );
    now += Duration::seconds(90);
    assert_eq!(
        fail(&mut store, "nurse1", STRONG_PW, now),
        AuthEvent::AccountLocked { until: until2 }
    );
    // A success after the lock resets the counter.
    now = until2;
    let out = store.login(&request("nurse1", STRONG_PW, None), now);
    assert!(out.result.is_ok(), "{:?}", out.audit);
    let event = fail(&mut store, "nurse1", "Wrong#pass-123", now);
    assert_eq!(
        event,
        AuthEvent::WrongPassword {
            failures: 1,
            locked_until: None
        }
    );
}

#[test]
fn lock_survives_a_restart() {
    let (dir, mut store, _admin) = setup();
    for _ in 0..10 {
        fail(&mut store, "nurse1", "Wrong#pass-123", t0());
    }
    drop(store);
    let mut store = open(dir.path());
    let event = fail(&mut store, "nurse1", STRONG_PW, t0() + Duration::seconds(5));
    assert!(
        matches!(event, AuthEvent::AccountLocked { .. }),
        "{event:?}"
    );
}

#[test]
fn one_address_trying_many_accounts_is_throttled() {
    let (_dir, mut store, _admin) = setup();
    let limit = store.config().lockout.source_max_failures;
    let mut blocked = None;
    for i in 0..limit {
        let out = store.login(&request(&format!("user{i}"), "Guess#1234567", None), t0());
        blocked = out.audit.remote_blocked_until;
    }
    let until = blocked.expect("last failure blocks the address");
    // Now even a correct login from that address is refused...
    let out = store.login(&request("nurse1", STRONG_PW, None), t0());
    assert!(matches!(out.result, Err(AuthError::InvalidCredentials)));
    assert_eq!(out.audit.event, AuthEvent::SourceBlocked { until });
    // ...while another address still works, and the account itself was never locked.
    let mut other = request("nurse1", STRONG_PW, None);
    other.remote = "198.51.100.7";
    assert!(store.login(&other, t0()).result.is_ok());
    assert!(store
        .login(&request("nurse1", STRONG_PW, None), until)
        .result
        .is_ok());
}

#[test]
fn totp_code_cannot_be_replayed() {
    let (_dir, mut store, _admin) = setup();
    let nurse = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap();
    let secret = enrol(&mut store, &nurse.principal, t0());
    let now = t0() + Duration::seconds(30);
    let code = code_at(&secret, now).unwrap();
    let first = store.login(&request("nurse1", STRONG_PW, Some(&code)), now);
    assert!(first.result.unwrap().principal.mfa);
    let replay = store.login(
        &request("nurse1", STRONG_PW, Some(&code)),
        now + Duration::seconds(5),
    );
    assert!(matches!(replay.result, Err(AuthError::InvalidCredentials)));
    assert!(matches!(
        replay.audit.event,
        AuthEvent::TotpReplayed { failures: 1, .. }
    ));
    // The enrolment code itself (step of t0) was also consumed.
    let enrol_code = code_at(&secret, t0()).unwrap();
    let out = store.login(&request("nurse1", STRONG_PW, Some(&enrol_code)), now);
    assert!(out.result.is_err());
}

#[test]
fn recovery_code_logs_in_once() {
    let (_dir, mut store, _admin) = setup();
    let nurse = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap();
    let name = "nurse1";
    let enrolment = store.begin_totp_enrolment(&nurse.principal, name).unwrap();
    let secret = TotpSecret::from_base32(&enrolment.secret_base32).unwrap();
    let code = code_at(&secret, t0()).unwrap();
    let codes = store
        .confirm_totp_enrolment(&nurse.principal, name, &code, t0())
        .unwrap();
    let out = store.login(&request(name, STRONG_PW, Some(&codes[0])), t0());
    assert!(out.result.is_ok());
    assert!(matches!(
        out.audit.event,
        AuthEvent::LoginSucceeded {
            mfa: true,
            recovery_code_used: true,
            recovery_codes_left: 9,
            ..
        }
    ));
    let again = store.login(&request(name, STRONG_PW, Some(&codes[0])), t0());
    assert!(matches!(
        again.audit.event,
        AuthEvent::WrongSecondFactor { .. }
    ));
}

#[test]
fn unused_accounts_are_disabled_at_login() {
    let (_dir, mut store, admin) = setup();
    let day89 = t0() + Duration::days(89);
    assert!(store
        .login(&request("nurse1", STRONG_PW, None), day89)
        .result
        .is_ok());
    // 90 days after that last login is still fine; 90 days and a second is not.
    let stale = day89 + Duration::days(90) + Duration::seconds(1);
    let event = fail(&mut store, "nurse1", STRONG_PW, stale);
    assert_eq!(event, AuthEvent::DisabledForInactivity { last_used: day89 });
    assert_eq!(
        fail(&mut store, "nurse1", STRONG_PW, stale),
        AuthEvent::AccountDisabled
    );
    // An administrator can re-enable it; the inactivity clock restarts.
    store.enable(&admin, "nurse1", stale).unwrap();
    assert!(store
        .login(&request("nurse1", STRONG_PW, None), stale)
        .result
        .is_ok());
}

#[test]
fn sessions_expire_when_idle_or_too_old_and_on_logout() {
    let (_dir, mut store, _admin) = setup();
    let policy = store.config().sessions;
    let s = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap()
        .session;
    let idle = Duration::seconds(policy.idle_timeout_secs);
    assert!(store
        .session(s.expose(), t0() + idle - Duration::seconds(1))
        .is_ok());
    let late = t0() + idle * 2;
    assert!(matches!(
        store.session(s.expose(), late),
        Err(AuthError::SessionExpired)
    ));

    // A busy session still ends at the absolute limit.
    let s = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap()
        .session;
    let mut now = t0();
    let absolute = t0() + Duration::seconds(policy.absolute_timeout_secs);
    while now + idle / 2 < absolute {
        now += idle / 2;
        assert!(store.session(s.expose(), now).is_ok(), "{now}");
    }
    assert!(store.session(s.expose(), absolute).is_err());

    let s = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap()
        .session;
    assert!(store.logout(s.expose()));
    assert!(store.session(s.expose(), t0()).is_err());
}

#[test]
fn session_reflects_current_grants_and_disable() {
    let (_dir, mut store, admin) = setup();
    let s = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap()
        .session;
    assert!(!store
        .session(s.expose(), t0())
        .unwrap()
        .has(Permission::Check, "ehr", None));
    let grant = Grant::new(Role::Operator, "ehr", None).unwrap();
    store.grant(&admin, "nurse1", grant).unwrap();
    assert!(store
        .session(s.expose(), t0())
        .unwrap()
        .has(Permission::Check, "ehr", None));
    store.disable(&admin, "nurse1", t0()).unwrap();
    assert!(store.session(s.expose(), t0()).is_err());
}

#[test]
fn login_upgrades_hash_parameters() {
    let (dir, store, _admin) = setup();
    drop(store);
    let stronger = AuthConfig {
        kdf: KdfParams {
            m_kib: 128,
            t: 1,
            p: 1,
        },
        ..config()
    };
    let mut store = AuthStore::open(dir.path(), stronger).unwrap();
    let out = store.login(&request("nurse1", STRONG_PW, None), t0());
    assert!(matches!(
        out.audit.event,
        AuthEvent::LoginSucceeded { rehashed: true, .. }
    ));
    let hash = &store.state.accounts["nurse1"].password_hash;
    assert!(hash.contains("m=128,t=1,p=1"), "{hash}");
    let out = store.login(&request("nurse1", STRONG_PW, None), t0());
    assert!(matches!(
        out.audit.event,
        AuthEvent::LoginSucceeded {
            rehashed: false,
            ..
        }
    ));
}

#[test]
fn user_name_is_case_insensitive_and_request_debug_is_redacted() {
    let (_dir, mut store, _admin) = setup();
    assert!(store
        .login(&request(" Nurse1 ", STRONG_PW, None), t0())
        .result
        .is_ok());
    let dbg = format!("{:?}", request("nurse1", STRONG_PW, Some("123456")));
    assert!(!dbg.contains(STRONG_PW) && !dbg.contains("123456"), "{dbg}");
}

#[test]
fn every_looked_up_attempt_saves_once_and_lockout_survives_a_full_disk() {
    let (_dir, mut store, _admin) = setup();
    // Break saving: a directory where the temp file must go.
    std::fs::create_dir(crate::persist::temp_path(store.path())).unwrap();
    // Unknown accounts cost the same save attempt as known ones (timing must not differ).
    let out = store.login(&request("nobody", STRONG_PW, None), t0());
    assert_eq!(out.audit.event, AuthEvent::UnknownAccount);
    assert!(out.audit.store_error.is_some());
    for _ in 0..9 {
        let out = store.login(&request("nurse1", "Wrong#pass-123", None), t0());
        assert!(out.audit.store_error.is_some());
    }
    let out = store.login(&request("nurse1", "Wrong#pass-123", None), t0());
    assert!(matches!(
        out.audit.event,
        AuthEvent::WrongPassword {
            locked_until: Some(_),
            ..
        }
    ));
    // The lock holds in memory although it could not be written.
    let event = fail(&mut store, "nurse1", STRONG_PW, t0());
    assert!(
        matches!(event, AuthEvent::AccountLocked { .. }),
        "{event:?}"
    );
}

#[test]
fn store_debug_output_has_no_secrets() {
    let (_dir, mut store, _admin) = setup();
    let s = store
        .login(&request("nurse1", STRONG_PW, None), t0())
        .result
        .unwrap()
        .session;
    let debug = format!("{store:?}");
    let secret = store.state.accounts["root-admin"]
        .totp
        .as_ref()
        .unwrap()
        .secret
        .to_base32();
    assert!(!debug.contains("$argon2"), "{debug}");
    assert!(!debug.contains(&secret));
    assert!(!debug.contains(s.expose()));
}

#[test]
fn hostile_input_never_panics_and_gets_the_generic_answer() {
    let (_dir, mut store, _admin) = setup();
    let long = "A#1".repeat(40_000);
    let inputs = [
        "",
        " ",
        "\0",
        "nurse1\n",
        "../../etc/passwd",
        "ｎｕｒｓｅ１",
        "İ",
        &long,
    ];
    for (i, text) in inputs.iter().enumerate() {
        let mut req = request(text, text, Some(text));
        req.remote = text;
        let out = store.login(&req, t0());
        assert!(
            matches!(out.result, Err(AuthError::InvalidCredentials)),
            "{i}"
        );
        assert!(out.audit.claimed.chars().count() <= 80);
        assert!(!out.audit.claimed.contains('\n') && !out.audit.remote.contains('\0'));
        let tok = store.authenticate_token(text, "192.0.2.1", t0());
        assert!(
            matches!(tok.result, Err(AuthError::InvalidCredentials)),
            "{i}"
        );
        assert!(matches!(
            store.session(text, t0()),
            Err(AuthError::SessionExpired)
        ));
        assert!(!store.logout(text));
    }
}

#[test]
fn every_attempt_runs_exactly_one_argon2_verification() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "leaver", STRONG_PW, t0())
        .unwrap();
    store.disable(&admin, "leaver", t0()).unwrap();
    store
        .create_account(&admin, "locked1", STRONG_PW, t0())
        .unwrap();
    for _ in 0..10 {
        fail(&mut store, "locked1", "Wrong#pass-123", t0());
    }
    let attempts = [
        ("nobody", STRONG_PW, "unknown-account"),
        ("leaver", STRONG_PW, "account-disabled"),
        ("locked1", STRONG_PW, "account-locked"),
        ("nurse1", "Wrong#pass-123", "wrong-password"),
        ("nurse1", STRONG_PW, "login-succeeded"),
    ];
    for (user, pw, event) in attempts {
        let before = store.hasher.verifications();
        let out = store.login(&request(user, pw, None), t0());
        assert_eq!(
            serde_json::to_value(&out.audit.event).unwrap()["event"],
            event
        );
        assert_eq!(store.hasher.verifications() - before, 1, "{event}");
    }
}
