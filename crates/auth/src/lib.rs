//! `kura-auth`: accounts, passwords, second factor, roles, tokens, sessions and lockout for
//! Kura's vault server (`kura serve`).
//!
//! # Design
//!
//! * **Pure logic with the clock passed in.** Every time-dependent call takes
//!   `now: DateTime<Utc>`, so lockout, TOTP, inactivity and session expiry are tested without
//!   sleeping. The HTTP server owns the wall clock, the mutex around [`AuthStore`] and the audit
//!   log; this crate owns the rules.
//! * **No default account, no rights by default.** [`AuthStore::create_first_admin`] works only
//!   while no administrator exists. New accounts and tokens hold no [`Grant`]; a grant is
//!   `(role, repository or "*", optional backup source)`, checked by [`Principal::has`] /
//!   [`Principal::require`]. The backup role is append-only; destructive and administrative
//!   permissions need a login with a second factor and can never be put on an API token.
//! * **One answer for every failed login.** Unknown user, wrong password, wrong or replayed
//!   TOTP, locked, disabled or throttled all return [`AuthError::InvalidCredentials`] after one
//!   Argon2 verification; the [`AuditRecord`] in the same [`Outcome`] says what really happened.
//! * **Secrets at rest.** Passwords: Argon2id PHC strings (OWASP parameters, upgraded at login,
//!   capped when read back). Session ids, API tokens, recovery codes: 80-256 random bits,
//!   stored as domain-separated BLAKE3 hashes. TOTP secrets must be kept in recoverable form
//!   and are protected by the file's 0600 permissions. `Debug` never prints a secret.
//! * **Crash-safe store.** One JSON file (`auth.json`) replaced by write-temp, fsync, rename,
//!   fsync-dir; validated on load (format, version, names, hash algorithm and parameter caps).
//!   Sessions and per-address throttling live in memory only.
//!
//! # Example
//!
//! ```
//! use chrono::{Duration, TimeZone, Utc};
//! use kura_auth::{AuthConfig, AuthStore, Grant, LoginRequest, Permission, Role};
//! # fn main() -> Result<(), kura_auth::AuthError> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let config = AuthConfig { kdf: kura_auth::KdfParams::INSECURE_FAST, ..AuthConfig::default() };
//! let now = Utc.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).unwrap();
//! let mut store = AuthStore::open(dir.path(), config)?;
//! // First run: the operator names the first administrator. No default account exists.
//! let admin = store.create_first_admin("sato", "Tq4!vN8z#Lm2Ps", now)?;
//! // The admin enrols TOTP (self-service) and logs in with it.
//! let enrolment = store.begin_totp_enrolment(&admin, "sato")?;
//! let secret = kura_auth::TotpSecret::from_base32(&enrolment.secret_base32).unwrap();
//! let code = kura_auth::totp::code_at(&secret, now).unwrap();
//! let _recovery_codes = store.confirm_totp_enrolment(&admin, "sato", &code, now)?;
//! let later = now + Duration::seconds(30);
//! let code = kura_auth::totp::code_at(&secret, later).unwrap();
//! let request = LoginRequest {
//!     user: "sato", password: "Tq4!vN8z#Lm2Ps", second_factor: Some(&code), remote: "192.0.2.7",
//! };
//! let outcome = store.login(&request, later);
//! // The server logs `outcome.audit`; the client only sees `outcome.result`.
//! let admin = outcome.result?.principal;
//! // A backup token for one host, scoped to one repository and source.
//! let grant = Grant::new(Role::Backup, "ehr", Some("db01"))?;
//! let token = store.create_token(&admin, "db01 nightly", grant, None, later)?;
//! let host = store.authenticate_token(token.secret.expose(), "192.0.2.20", later).result?;
//! assert!(host.has(Permission::CommitSnapshot, "ehr", Some("db01")));
//! assert!(!host.has(Permission::Prune, "ehr", Some("db01")));
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
pub mod error;
pub mod event;
pub mod lockout;
mod names;
pub mod password;
mod persist;
mod random;
pub mod role;
pub mod session;
mod store;
pub mod totp;

pub use account::{AccountSummary, DisableReason, Disabled, TokenSummary};
pub use error::{AuthError, Denied, StoreError};
pub use event::{AuditRecord, AuthEvent, Outcome};
pub use lockout::LockoutPolicy;
pub use password::{KdfParams, PasswordError, PasswordHasher};
pub use role::{Grant, Permission, Principal, PrincipalKind, RepoScope, Role};
pub use session::{SessionEnd, SessionPolicy, SessionSecret};
pub use store::{
    AuthConfig, AuthStore, LoginRequest, LoginSuccess, NewToken, TokenSecret, TotpEnrolment,
    STORE_FILE,
};
pub use totp::TotpSecret;
