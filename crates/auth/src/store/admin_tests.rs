//! Account administration tests.

use chrono::Duration;

use super::super::testutil::*;
use super::*;
use crate::event::AuthEvent;
use crate::role::PrincipalKind;

fn setup() -> (tempfile::TempDir, AuthStore, Principal) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let admin = mfa_admin(&mut store);
    (dir, store, admin)
}

#[test]
fn first_admin_can_be_created_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    // No default account exists.
    let out = store.login(&request("admin", "admin", None), t0());
    assert_eq!(out.audit.event, AuthEvent::UnknownAccount);
    // Without a second factor the first admin needs a 13-character password.
    let err = store
        .create_first_admin("root-admin", "Kx7#mq2Lp", t0())
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::Password(PasswordError::TooShort { min: 13, .. })
    ));
    let admin = bootstrap(&mut store);
    assert!(admin.has(Permission::ManageAccounts, "*", None));
    for name in ["root-admin", "second-admin"] {
        let err = store.create_first_admin(name, ADMIN_PW, t0()).unwrap_err();
        assert!(matches!(err, AuthError::AdminExists), "{name}: {err}");
    }
    drop(store);
    let mut store = open(dir.path());
    assert!(matches!(
        store.create_first_admin("x-admin", ADMIN_PW, t0()),
        Err(AuthError::AdminExists)
    ));
}

#[test]
fn admin_needs_a_second_factor_to_administer() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let admin = bootstrap(&mut store);
    let err = store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::MfaRequired {
                permission: "manage-accounts"
            }
        ),
        "{err}"
    );
    let admin = login_mfa(&mut store, &admin);
    assert!(store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .is_ok());
}

#[test]
fn new_accounts_have_no_rights_and_must_change_password() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap();
    assert!(matches!(
        store.create_account(&admin, "Clerk", STRONG_PW, t0()),
        Err(AuthError::AccountExists(_))
    ));
    let ok = store
        .login(&request("clerk", STRONG_PW, None), t0())
        .result
        .unwrap();
    assert!(ok.principal.grants.is_empty());
    assert!(ok.must_change_password && ok.second_factor_missing);
    for p in Permission::ALL {
        assert!(!ok.principal.has(p, "ehr", None) && !ok.principal.has(p, "*", None));
    }
}

#[test]
fn last_five_passwords_cannot_be_reused() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap();
    let me = store
        .login(&request("clerk", STRONG_PW, None), t0())
        .result
        .unwrap()
        .principal;
    let passwords: Vec<String> = (1..=5).map(|i| format!("Nq{i}#vLm8-Zt4xRw")).collect();
    let err = store
        .set_password(&me, "clerk", STRONG_PW, t0())
        .unwrap_err();
    assert!(
        matches!(err, AuthError::Password(PasswordError::Reused)),
        "{err}"
    );
    for pw in &passwords[..4] {
        store.set_password(&me, "clerk", pw, t0()).unwrap();
    }
    // History now: pw4 (current), pw3, pw2, pw1, STRONG_PW: all five refused.
    for pw in passwords[..4].iter().map(String::as_str).chain([STRONG_PW]) {
        let err = store.set_password(&me, "clerk", pw, t0()).unwrap_err();
        assert!(
            matches!(err, AuthError::Password(PasswordError::Reused)),
            "{pw}"
        );
    }
    store
        .set_password(&me, "clerk", &passwords[4], t0())
        .unwrap();
    // STRONG_PW is now the sixth most recent and may come back.
    store.set_password(&me, "clerk", STRONG_PW, t0()).unwrap();
    let ok = store
        .login(&request("clerk", STRONG_PW, None), t0())
        .result
        .unwrap();
    assert!(!ok.must_change_password, "self-chosen password");
}

#[test]
fn only_self_or_account_manager_sets_a_password() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap();
    store
        .create_account(&admin, "other", STRONG_PW, t0())
        .unwrap();
    let other = store
        .login(&request("other", STRONG_PW, None), t0())
        .result
        .unwrap();
    let err = store
        .set_password(&other.principal, "clerk", "Zz9#new-pass-42", t0())
        .unwrap_err();
    assert!(matches!(err, AuthError::Forbidden(_)), "{err}");
    // A reset by an administrator works, ends sessions and forces a change.
    let clerk = store
        .login(&request("clerk", STRONG_PW, None), t0())
        .result
        .unwrap();
    store
        .set_password(&admin, "clerk", "Zz9#new-pass-42", t0())
        .unwrap();
    assert!(store.session(clerk.session.expose(), t0()).is_err());
    let ok = store
        .login(&request("clerk", "Zz9#new-pass-42", None), t0())
        .result
        .unwrap();
    assert!(ok.must_change_password);
    assert!(matches!(
        store.set_password(&admin, "clerk", "clerk#Pass-2025x", t0()),
        Err(AuthError::Password(PasswordError::ContainsUserName))
    ));
}

#[test]
fn totp_enrolment_is_self_service_and_checked() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap();
    assert!(matches!(
        store.begin_totp_enrolment(&admin, "clerk"),
        Err(AuthError::Totp(_))
    ));
    let me = store
        .login(&request("clerk", STRONG_PW, None), t0())
        .result
        .unwrap()
        .principal;
    assert!(matches!(
        store.confirm_totp_enrolment(&me, "clerk", "123456", t0()),
        Err(AuthError::Totp(_))
    ));
    let enrolment = store.begin_totp_enrolment(&me, "clerk").unwrap();
    assert!(enrolment
        .otpauth_uri
        .starts_with("otpauth://totp/Kura:clerk?secret="));
    assert!(!format!("{enrolment:?}").contains(&enrolment.secret_base32));
    let secret = crate::TotpSecret::from_base32(&enrolment.secret_base32).unwrap();
    let good = crate::totp::code_at(&secret, t0()).unwrap();
    let wrong = if good == "000000" { "111111" } else { "000000" };
    assert!(store
        .confirm_totp_enrolment(&me, "clerk", wrong, t0())
        .is_err());
    assert_eq!(
        store
            .confirm_totp_enrolment(&me, "clerk", &good, t0())
            .unwrap()
            .len(),
        10
    );
    // Reset by an administrator (lost phone) removes it again.
    store.reset_totp(&admin, "clerk").unwrap();
    assert!(store.state.accounts["clerk"].totp.is_none());
}

#[test]
fn the_last_enabled_admin_cannot_be_removed() {
    let (_dir, mut store, admin) = setup();
    let name = admin.account_name().unwrap().to_owned();
    let admin_grant = Grant::new(Role::Admin, "*", None).unwrap();
    assert!(matches!(
        store.disable(&admin, &name, t0()),
        Err(AuthError::LastAdmin)
    ));
    assert!(matches!(
        store.delete_account(&admin, &name),
        Err(AuthError::LastAdmin)
    ));
    assert!(matches!(
        store.revoke(&admin, &name, &admin_grant),
        Err(AuthError::LastAdmin)
    ));
    assert!(store.state.accounts[&name].is_admin());
    store
        .create_account(&admin, "admin2", STRONG_PW, t0())
        .unwrap();
    store.grant(&admin, "admin2", admin_grant.clone()).unwrap();
    store.revoke(&admin, &name, &admin_grant).unwrap();
    assert!(!store.state.accounts[&name].is_admin());
}

#[test]
fn grants_revokes_and_deletes_need_rights() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap();
    let clerk = store
        .login(&request("clerk", STRONG_PW, None), t0())
        .result
        .unwrap()
        .principal;
    let g = Grant::new(Role::Admin, "*", None).unwrap();
    assert!(matches!(
        store.grant(&clerk, "clerk", g.clone()),
        Err(AuthError::Forbidden(_))
    ));
    assert!(matches!(
        store.delete_account(&clerk, "clerk"),
        Err(AuthError::Forbidden(_))
    ));
    store
        .grant(
            &admin,
            "clerk",
            Grant::new(Role::Auditor, "*", None).unwrap(),
        )
        .unwrap();
    store
        .grant(
            &admin,
            "clerk",
            Grant::new(Role::Auditor, "*", None).unwrap(),
        )
        .unwrap();
    assert_eq!(
        store.state.accounts["clerk"].grants.len(),
        1,
        "grant is idempotent"
    );
    store.delete_account(&admin, "clerk").unwrap();
    assert!(matches!(
        store.delete_account(&admin, "clerk"),
        Err(AuthError::NoSuchAccount(_))
    ));
}

#[test]
fn account_listing_carries_no_secrets() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap();
    let auditor = Principal {
        kind: PrincipalKind::Account { name: "aud".into() },
        grants: vec![Grant::new(Role::Auditor, "*", None).unwrap()],
        mfa: false,
        must_change_password: false,
    };
    let list = store.list_accounts(&auditor, t0()).unwrap();
    assert_eq!(list.len(), 2);
    let json = serde_json::to_string(&list).unwrap();
    let debug = format!("{:?} {:?}", list, store.state.accounts);
    for text in [json, debug] {
        assert!(!text.contains("$argon2"), "{text}");
        let secret = store.state.accounts["root-admin"]
            .totp
            .as_ref()
            .unwrap()
            .secret
            .to_base32();
        assert!(!text.contains(&secret));
    }
    let clerk = store
        .login(&request("clerk", STRONG_PW, None), t0())
        .result
        .unwrap()
        .principal;
    assert!(store.list_accounts(&clerk, t0()).is_err());
}

#[test]
fn daily_sweep_disables_inactive_accounts() {
    let (_dir, mut store, admin) = setup();
    store
        .create_account(&admin, "clerk", STRONG_PW, t0())
        .unwrap();
    store
        .create_account(&admin, "active", STRONG_PW, t0())
        .unwrap();
    let late = t0() + Duration::days(80);
    assert!(store
        .login(&request("active", STRONG_PW, None), late)
        .result
        .is_ok());
    let now = t0() + Duration::days(91);
    let mut disabled = store.disable_inactive(now).unwrap();
    disabled.sort();
    assert_eq!(disabled, vec!["clerk".to_owned(), "root-admin".to_owned()]);
    assert!(store.disable_inactive(now).unwrap().is_empty());
    // The offline break-glass path brings the administrator back.
    assert!(store.break_glass_enable_admin("clerk", now).is_err());
    store.break_glass_enable_admin("root-admin", now).unwrap();
    assert!(store.state.accounts["root-admin"].disabled.is_none());
}
