//! Password policy and Argon2id hashing.
//!
//! Policy (MHLW 6.0 and the R7 checklist, see `shared/notes/security-requirements.md` §6.20):
//! at least 8 characters mixing letters, digits and symbols; at least 13 when the account has no
//! second factor; not one of the last [`HISTORY_LEN`] passwords; not a well-known password even
//! when disguised with leetspeak and trailing digits ("P@$$w0rd", "Admin123!"); not equal to or
//! containing the user name.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`), so the parameters travel
//! with each hash and can be upgraded at the next login. Parameters read back from the store are
//! capped before verification because the KDF runs before anything can reject a crafted file.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::StoreError;

/// How many recent passwords (including the current one) may not be reused.
pub const HISTORY_LEN: usize = 5;
/// Minimum length with a second factor.
pub const MIN_LEN_WITH_MFA: usize = 8;
/// Minimum length without a second factor.
pub const MIN_LEN_WITHOUT_MFA: usize = 13;
/// Longest accepted password; bounds the hashing work an attacker can ask for.
pub const MAX_LEN: usize = 1024;

/// Why a new password was refused. Messages never repeat the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short for the account's situation.
    #[error("the password is too short: it has {actual} characters and needs at least {min}{}",
        if *.min == MIN_LEN_WITHOUT_MFA { " because the account has no second factor (enrol TOTP to allow 8)" } else { "" })]
    TooShort {
        /// Required minimum.
        min: usize,
        /// Characters given.
        actual: usize,
    },
    /// Longer than [`MAX_LEN`].
    #[error("the password is longer than {MAX_LEN} characters; choose a shorter one")]
    TooLong,
    /// A character class is missing.
    #[error("the password must mix letters, digits and symbols; it has no {missing}")]
    MissingClass {
        /// "letter", "digit" or "symbol".
        missing: &'static str,
    },
    /// A well-known or default password.
    #[error("the password is a well-known password (or a small variation of one) that attackers try first; choose another")]
    WellKnown,
    /// Equal to or contains the user name.
    #[error("the password must not contain the user name")]
    ContainsUserName,
    /// One of the recent passwords.
    #[error("the password was used recently; choose one that differs from the last {HISTORY_LEN}")]
    Reused,
}

/// Checks every rule except reuse (which needs the stored hashes; see [`PasswordHasher`]).
pub fn check_policy(
    user: &str,
    password: &str,
    has_second_factor: bool,
) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let min = if has_second_factor {
        MIN_LEN_WITH_MFA
    } else {
        MIN_LEN_WITHOUT_MFA
    };
    if len < min {
        return Err(PasswordError::TooShort { min, actual: len });
    }
    if !password.chars().any(char::is_alphabetic) {
        return Err(PasswordError::MissingClass { missing: "letter" });
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(PasswordError::MissingClass { missing: "digit" });
    }
    let is_symbol = |c: char| !c.is_alphanumeric() && !c.is_control();
    if !password.chars().any(is_symbol) {
        return Err(PasswordError::MissingClass { missing: "symbol" });
    }
    if contains_user_name(user, password) {
        return Err(PasswordError::ContainsUserName);
    }
    if is_well_known(password) {
        return Err(PasswordError::WellKnown);
    }
    Ok(())
}

fn contains_user_name(user: &str, password: &str) -> bool {
    let user = user.to_lowercase();
    let lower = password.to_lowercase();
    if user.is_empty() {
        return false;
    }
    if lower == user {
        return true;
    }
    // Very short names ("al") occur inside many good passwords; only equality counts for them.
    user.chars().count() >= 3 && (lower.contains(&user) || unleet(&lower).contains(&user))
}

/// Base words that, with leetspeak and digits/symbols around them, make a password well known.
/// Includes the hospital classics seen in Japanese incident reports (shared IDs, vendor defaults).
const WELL_KNOWN_CORES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "passw",
    "pwd",
    "welcome",
    "admin",
    "administrator",
    "qwerty",
    "qwertyuiop",
    "asdf",
    "asdfgh",
    "asdfghjkl",
    "zxcvbn",
    "letmein",
    "iloveyou",
    "changeme",
    "default",
    "secret",
    "master",
    "root",
    "user",
    "guest",
    "test",
    "temp",
    "login",
    "system",
    "sysadmin",
    "manager",
    "hospital",
    "byouin",
    "byoin",
    "clinic",
    "iryou",
    "iryo",
    "nurse",
    "kango",
    "doctor",
    "ishi",
    "karte",
    "denshikarte",
    "emr",
    "ehr",
    "pacs",
    "abc",
    "abcd",
    "abcdef",
    "abcdefg",
    "monkey",
    "dragon",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "soccer",
    "summer",
    "winter",
    "spring",
    "autumn",
    "tokyo",
    "osaka",
    "japan",
    "nippon",
    "sakura",
    "kura",
    "backup",
    "superuser",
    "service",
    "support",
    "maintenance",
    "vendor",
    "oracle",
    "postgres",
    "sa",
    "trustno",
    "starwars",
    "pokemon",
    "hello",
    "aaaa",
    "zaq",
    "qazwsx",
];

/// Whole passwords that are refused as typed (case-insensitive), beyond the core rule.
const WELL_KNOWN_EXACT: &[&str] = &[
    "p@ssw0rd",
    "passw0rd!",
    "password1",
    "welcome1!",
    "admin123!",
    "qwerty123!",
    "1qaz2wsx!",
    "1qaz!qaz",
    "p@ssw0rd1",
    "p@ssword1",
    "password123!",
    "abc123!@#",
    "!qaz2wsx",
    "zaq12wsx!",
];

fn leet(c: char) -> char {
    match c {
        '@' | '4' => 'a',
        '8' => 'b',
        '3' => 'e',
        '6' | '9' => 'g',
        '1' | '!' | '|' => 'i',
        '0' => 'o',
        '$' | '5' => 's',
        '7' | '+' => 't',
        '2' => 'z',
        other => other,
    }
}

fn unleet(text: &str) -> String {
    text.chars().map(leet).collect()
}

fn letters_only(text: &str) -> String {
    text.chars().filter(|c| c.is_alphabetic()).collect()
}

/// True if the password, after lower-casing, leetspeak normalisation and removal of the digits
/// and symbols people add to satisfy composition rules, is a well-known core word.
pub fn is_well_known(password: &str) -> bool {
    let lower = password.to_lowercase();
    if WELL_KNOWN_EXACT.contains(&lower.as_str()) {
        return true;
    }
    let is_decoration = |c: char| !c.is_alphabetic() && !matches!(c, '@' | '$' | '|');
    // Variants cover "Admin123!" (suffix digits are decoration, not leet), "@dmin1" (leading
    // leet letter) and "P@$$w0rd" (leet inside the word).
    let trailing_trimmed = lower.trim_end_matches(is_decoration);
    let both_trimmed = trailing_trimmed.trim_start_matches(|c: char| !c.is_alphabetic());
    let candidates = [
        letters_only(&unleet(trailing_trimmed)),
        letters_only(&unleet(both_trimmed)),
        letters_only(&unleet(&lower)),
        letters_only(&lower),
    ];
    candidates
        .iter()
        .any(|c| WELL_KNOWN_CORES.contains(&c.as_str()) || is_repeated(c))
}

/// "aaaaaaaa", "abababab": one or two letters repeated carry almost no entropy.
fn is_repeated(letters: &str) -> bool {
    if letters.chars().count() < 4 {
        // Mostly-digit passwords have few letters; that is not repetition.
        return false;
    }
    let distinct: std::collections::BTreeSet<char> = letters.chars().collect();
    distinct.len() <= 2
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl KdfParams {
    /// OWASP minimum for Argon2id: 19 MiB, 2 iterations, 1 lane (also argon2's default).
    pub const OWASP: KdfParams = KdfParams {
        m_kib: 19_456,
        t: 2,
        p: 1,
    };
    /// Upper bounds accepted from a stored hash, so a crafted store cannot make login a DoS.
    pub const CAP: KdfParams = KdfParams {
        m_kib: 256 * 1024,
        t: 10,
        p: 8,
    };

    /// Cheap parameters for tests only. Not available in normal builds.
    #[cfg(any(test, feature = "insecure-fast-kdf"))]
    pub const INSECURE_FAST: KdfParams = KdfParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    /// Whether these are within [`KdfParams::CAP`].
    pub fn within_cap(&self) -> bool {
        self.m_kib <= Self::CAP.m_kib && self.t <= Self::CAP.t && self.p <= Self::CAP.p
    }

    /// Whether these meet the OWASP floor.
    pub fn meets_floor(&self) -> bool {
        self.m_kib >= Self::OWASP.m_kib && self.t >= Self::OWASP.t && self.p >= Self::OWASP.p
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes and verifies passwords with one set of Argon2id parameters.
pub struct PasswordHasher {
    params: KdfParams,
    /// Argon2 verifications run, real or dummy; lets tests prove every path pays the same cost.
    verifications: AtomicU64,
    /// A hash of a random password, verified against when the account is unknown, disabled or
    /// locked so that every failure costs the same time as a real check.
    dummy_hash: String,
}

impl Clone for PasswordHasher {
    fn clone(&self) -> Self {
        PasswordHasher {
            params: self.params,
            verifications: AtomicU64::new(self.verifications()),
            dummy_hash: self.dummy_hash.clone(),
        }
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Builds a hasher; fails if Argon2 rejects the parameters.
    pub fn new(params: KdfParams) -> Result<Self, StoreError> {
        let mut hasher = PasswordHasher {
            params,
            verifications: AtomicU64::new(0),
            dummy_hash: String::new(),
        };
        let random = crate::random::token_string("dummy", 16);
        hasher.dummy_hash = hasher.hash(&random)?;
        Ok(hasher)
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    fn argon2(params: KdfParams) -> Result<Argon2<'static>, StoreError> {
        let p = Params::new(params.m_kib, params.t, params.p, None)
            .map_err(|e| StoreError::Hash(format!("invalid Argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
    }

    /// Hashes `password` into a PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, StoreError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Self::argon2(self.params)?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Hash(e.to_string()))
    }

    /// Verifies `password` against a stored PHC string. A malformed hash, a non-Argon2id hash
    /// or parameters above the cap count as a mismatch (after a dummy check, to keep timing).
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        match parse_stored(stored) {
            Some((hash, params)) => {
                self.verifications.fetch_add(1, Ordering::Relaxed);
                Self::argon2(params)
                    .map(|a| a.verify_password(password.as_bytes(), &hash).is_ok())
                    .unwrap_or(false)
            }
            None => {
                self.verify_dummy(password);
                false
            }
        }
    }

    /// Spends the time of one verification and always fails.
    pub fn verify_dummy(&self, password: &str) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        if let Some((hash, params)) = parse_stored(&self.dummy_hash) {
            if let Ok(a) = Self::argon2(params) {
                let _ = a.verify_password(password.as_bytes(), &hash);
            }
        }
    }

    /// How many verifications (real or dummy) this hasher has run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Whether a stored hash uses other parameters than the current ones (rehash at login).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        parse_stored(stored).map(|(_, p)| p) != Some(self.params)
    }
}

/// Parses and validates a stored hash: Argon2id, version 0x13, parameters within the cap.
pub fn parse_stored(stored: &str) -> Option<(PasswordHash<'_>, KdfParams)> {
    let hash = PasswordHash::new(stored).ok()?;
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return None;
    }
    let params = Params::try_from(&hash).ok()?;
    let kdf = KdfParams {
        m_kib: params.m_cost(),
        t: params.t_cost(),
        p: params.p_cost(),
    };
    kdf.within_cap().then_some((hash, kdf))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (user, password, has_mfa, expected result). The table is the policy's specification.
    #[test]
    fn policy_table() {
        use PasswordError::*;
        let cases: &[(&str, &str, bool, Result<(), PasswordError>)] = &[
            ("alice", "Kx7#mq2Lp", true, Ok(())),
            (
                "alice",
                "Kx7#mq2Lp",
                false,
                Err(TooShort { min: 13, actual: 9 }),
            ),
            ("alice", "Kx7#mq2Lp-Rw9z", false, Ok(())),
            ("alice", "Kx7#mq", true, Err(TooShort { min: 8, actual: 6 })),
            (
                "alice",
                "12345678!",
                true,
                Err(MissingClass { missing: "letter" }),
            ),
            (
                "alice",
                "Kxq#mqLpz",
                true,
                Err(MissingClass { missing: "digit" }),
            ),
            (
                "alice",
                "Kx7mq2Lpz",
                true,
                Err(MissingClass { missing: "symbol" }),
            ),
            ("alice", "P@ssw0rd", true, Err(WellKnown)),
            ("alice", "P@$$w0rd", true, Err(WellKnown)),
            ("alice", "Passw0rd!", true, Err(WellKnown)),
            ("alice", "password1!", true, Err(WellKnown)),
            ("alice", "Welcome1!", true, Err(WellKnown)),
            ("alice", "Admin123!", true, Err(WellKnown)),
            ("alice", "Qwerty123!", true, Err(WellKnown)),
            ("alice", "@dmin2024!", true, Err(WellKnown)),
            ("alice", "Byouin#2024", true, Err(WellKnown)),
            ("alice", "Password2024!!", false, Err(WellKnown)),
            ("alice", "alice#2024x", true, Err(ContainsUserName)),
            ("alice", "xx-@l1ce-99", true, Err(ContainsUserName)),
            ("sato", "Sato-1234567", true, Err(ContainsUserName)),
            ("al", "Pal#9mkq7z", true, Ok(())),
            ("alice", "長い合言葉と数字7と記号!", true, Ok(())),
        ];
        for (user, pw, mfa, want) in cases {
            assert_eq!(
                &check_policy(user, pw, *mfa),
                want,
                "user={user} pw={pw} mfa={mfa}"
            );
        }
    }

    #[test]
    fn messages_do_not_contain_the_password() {
        let pw = "Kx7#mq";
        let err = check_policy("alice", pw, false).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains(pw));
        assert!(msg.contains("needs at least 13"), "{msg}");
        assert!(msg.contains("enrol TOTP"), "{msg}");
    }

    #[test]
    fn hash_verify_and_rehash() {
        let h = PasswordHasher::new(KdfParams::INSECURE_FAST).unwrap();
        let stored = h.hash("Kx7#mq2Lp").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{stored}"
        );
        assert!(h.verify("Kx7#mq2Lp", &stored));
        assert!(!h.verify("Kx7#mq2Lq", &stored));
        assert!(!h.needs_rehash(&stored));
        let stronger = PasswordHasher::new(KdfParams {
            m_kib: 128,
            t: 1,
            p: 1,
        })
        .unwrap();
        assert!(stronger.needs_rehash(&stored));
        // A hash made with other parameters still verifies: parameters travel in the PHC string.
        assert!(stronger.verify("Kx7#mq2Lp", &stored));
    }

    #[test]
    fn crafted_hashes_are_refused_without_running_them() {
        let h = PasswordHasher::new(KdfParams::INSECURE_FAST).unwrap();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(parse_stored(huge).is_none());
        assert!(!h.verify("x", huge));
        assert!(!h.verify("x", "not a hash"));
        let argon2i = "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(parse_stored(argon2i).is_none());
    }

    #[test]
    fn owasp_defaults() {
        assert!(KdfParams::default().meets_floor());
        assert!(!KdfParams::INSECURE_FAST.meets_floor());
        assert!(KdfParams::CAP.within_cap());
    }
}
