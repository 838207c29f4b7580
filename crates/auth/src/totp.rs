//! TOTP second factor (RFC 6238 over RFC 4226 HOTP) and one-time recovery codes.
//!
//! Fixed to what every authenticator app supports: HMAC-SHA-1, 30-second steps, 6 digits,
//! 160-bit secrets. Verification accepts the current step and one step either side (clock
//! skew), and refuses any step at or before the last accepted one, so a code seen over a
//! shoulder or in a proxy log cannot be replayed (RFC 6238 §5.2). The caller stores the returned
//! step per account.
//!
//! Recovery codes are 80-bit random strings shown once and stored as BLAKE3 hashes; each works
//! once and is then removed.

use chrono::{DateTime, Utc};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use std::fmt;

use crate::random::{constant_time_eq, random_bytes, secret_hash};

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u64 = 1;
/// Secret length in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// How many recovery codes are issued at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// A TOTP shared secret. Debug output is redacted; serialised as base32.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        TotpSecret(random_bytes(SECRET_BYTES))
    }

    /// Wraps raw key bytes (used for the RFC test vectors).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        TotpSecret(bytes.to_vec())
    }

    /// Parses base32 (upper or lower case, no padding), as shown to users.
    pub fn from_base32(text: &str) -> Option<Self> {
        let upper = text.trim().to_ascii_uppercase();
        let bytes = BASE32_NOPAD.decode(upper.as_bytes()).ok()?;
        (bytes.len() >= 16 && bytes.len() <= 64).then_some(TotpSecret(bytes))
    }

    /// The secret in base32, for manual entry into an authenticator app.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://` URI an authenticator app imports (usually via a QR code).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent_encode(issuer),
            percent_encode(account),
            self.to_base32(),
            percent_encode(issuer),
        )
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TryFrom<String> for TotpSecret {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TotpSecret::from_base32(&value)
            .ok_or_else(|| "TOTP secret is not 16..64 bytes of base32".to_owned())
    }
}

impl From<TotpSecret> for String {
    fn from(value: TotpSecret) -> Self {
        value.to_base32()
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 4226 HOTP value with `digits` digits (6..=9).
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail; fall back to a value no code equals.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // Dynamic truncation: the low nibble of the last byte picks 4 bytes.
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(digits.clamp(6, 9))
}

/// The RFC 6238 time step for `now`, or `None` before 1970.
pub fn time_step(now: DateTime<Utc>) -> Option<u64> {
    u64::try_from(now.timestamp())
        .ok()
        .map(|s| s / STEP_SECONDS)
}

/// The 6-digit code for `now`, zero-padded (what the authenticator shows).
pub fn code_at(secret: &TotpSecret, now: DateTime<Utc>) -> Option<String> {
    let step = time_step(now)?;
    Some(format!("{:06}", hotp(&secret.0, step, DIGITS)))
}

/// Checks `code` at `now` with ±1 step of skew, refusing steps at or before `last_step`.
/// Returns the matched step, which the caller must store as the new `last_step`.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now: DateTime<Utc>,
    last_step: Option<u64>,
) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = time_step(now)?;
    let mut accepted = None;
    // Check every candidate step (no early return) so timing does not reveal which matched.
    for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
        let expected = format!("{:06}", hotp(&secret.0, step, DIGITS));
        let fresh = last_step.is_none_or(|last| step > last);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) && fresh && accepted.is_none() {
            accepted = Some(step);
        }
    }
    accepted
}

/// Whether `input` looks like a TOTP code rather than a recovery code.
pub fn looks_like_totp(input: &str) -> bool {
    let t = input.trim();
    t.len() == DIGITS as usize && t.bytes().all(|b| b.is_ascii_digit())
}

fn normalise_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Issues `RECOVERY_CODES` codes: returns (codes to show once, hashes to store).
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut stored = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        // 80 bits: 16 base32 characters, shown in groups of four for reading aloud.
        let raw = BASE32_NOPAD.encode(&random_bytes(10));
        let chars: Vec<char> = raw.chars().collect();
        let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
        stored.push(secret_hash("recovery", raw.as_bytes()));
        shown.push(groups.join("-"));
    }
    (shown, stored)
}

/// If `code` matches one of `stored`, removes that hash (single use) and returns true.
pub fn consume_recovery_code(stored: &mut Vec<String>, code: &str) -> bool {
    let hash = secret_hash("recovery", normalise_recovery(code).as_bytes());
    let position = stored
        .iter()
        .position(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()));
    match position {
        Some(i) => {
            stored.remove(i);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().unwrap()
    }

    const RFC_SEED: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, SHA-1 column (8 digits).
    #[test]
    fn rfc6238_sha1_vectors() {
        let vectors: [(i64, u32); 6] = [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ];
        for (t, want) in vectors {
            let step = time_step(at(t)).unwrap();
            assert_eq!(hotp(RFC_SEED, step, 8), want, "t={t}");
            // The 6-digit code is the same value mod 10^6.
            let six = code_at(&TotpSecret::from_bytes(RFC_SEED), at(t)).unwrap();
            assert_eq!(six, format!("{:06}", want % 1_000_000), "t={t}");
        }
    }

    /// RFC 4226 Appendix D, first counters.
    #[test]
    fn rfc4226_hotp_vectors() {
        let want = [755_224, 287_082, 359_152, 969_429, 338_314];
        for (counter, w) in want.iter().enumerate() {
            assert_eq!(hotp(RFC_SEED, counter as u64, 6), *w);
        }
    }

    #[test]
    fn accepts_skew_of_one_step_only() {
        let s = TotpSecret::generate();
        let now = at(1_700_000_000);
        let prev = code_at(&s, at(1_700_000_000 - 30)).unwrap();
        let next = code_at(&s, at(1_700_000_000 + 30)).unwrap();
        let old = code_at(&s, at(1_700_000_000 - 60)).unwrap();
        assert!(verify(&s, &prev, now, None).is_some());
        assert!(verify(&s, &next, now, None).is_some());
        if old != prev && old != next && Some(old.clone()) != code_at(&s, now) {
            assert!(verify(&s, &old, now, None).is_none());
        }
    }

    #[test]
    fn replay_of_an_accepted_code_is_refused() {
        let s = TotpSecret::generate();
        let now = at(1_700_000_000);
        let code = code_at(&s, now).unwrap();
        let step = verify(&s, &code, now, None).expect("fresh code accepted");
        assert_eq!(step, time_step(now).unwrap());
        assert_eq!(verify(&s, &code, now, Some(step)), None);
        // Still refused a step later, when it is inside the skew window as "previous".
        assert_eq!(verify(&s, &code, at(1_700_000_030), Some(step)), None);
        // The next step's code is fresh.
        let later = at(1_700_000_030);
        let next = code_at(&s, later).unwrap();
        assert_eq!(verify(&s, &next, later, Some(step)), Some(step + 1));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let s = TotpSecret::generate();
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert!(verify(&s, bad, at(1_700_000_000), None).is_none(), "{bad}");
        }
        assert!(verify(&s, "123456", at(-5), None).is_none());
    }

    #[test]
    fn secret_base32_uri_and_debug() {
        let s = TotpSecret::from_bytes(RFC_SEED);
        assert_eq!(s.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            TotpSecret::from_base32("gezdgnbvgy3tqojqgezdgnbvgy3tqojq"),
            Some(s.clone())
        );
        assert!(TotpSecret::from_base32("GEZDGNBV").is_none(), "too short");
        let uri = s.otpauth_uri("Kura Vault", "dr.sato");
        assert_eq!(
            uri,
            "otpauth://totp/Kura%20Vault:dr.sato?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Kura%20Vault&algorithm=SHA1&digits=6&period=30"
        );
        assert!(!format!("{s:?}").contains("GEZ"));
    }

    #[test]
    fn recovery_codes_work_once() {
        let (shown, mut stored) = new_recovery_codes();
        assert_eq!(shown.len(), RECOVERY_CODES);
        assert_eq!(stored.len(), RECOVERY_CODES);
        assert!(!stored.contains(&shown[0]), "stored as hashes");
        assert_eq!(shown[0].len(), 19, "four groups of four: {}", shown[0]);
        let typed = shown[3].to_lowercase().replace('-', " ");
        assert!(consume_recovery_code(&mut stored, &typed));
        assert_eq!(stored.len(), RECOVERY_CODES - 1);
        assert!(
            !consume_recovery_code(&mut stored, &shown[3]),
            "second use refused"
        );
        assert!(!consume_recovery_code(&mut stored, "AAAA-BBBB-CCCC-DDDD"));
        assert!(!looks_like_totp(&shown[0]));
        assert!(looks_like_totp(" 123456 "));
    }
}
