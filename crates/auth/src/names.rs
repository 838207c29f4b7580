//! Validation of the names that end up in the store file, audit records and URLs.
//!
//! Names are restricted to a small ASCII alphabet so that they cannot carry path separators,
//! control characters or look-alike Unicode into logs and file names.

use crate::error::AuthError;

const MAX_NAME: usize = 64;
const MAX_SOURCE: usize = 128;

fn check(kind: &'static str, text: &str, max: usize, extra: &[char]) -> Result<(), AuthError> {
    let invalid = |reason: String| AuthError::InvalidName {
        kind,
        name: text.chars().take(80).collect(),
        reason,
    };
    if text.is_empty() || text.len() > max {
        return Err(invalid(format!("must be 1 to {max} characters long")));
    }
    let first_ok = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok {
        return Err(invalid(
            "must start with a lower-case letter or a digit".to_owned(),
        ));
    }
    let allowed = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c) || extra.contains(&c)
    };
    if !text.chars().all(allowed) {
        return Err(invalid(
            "may contain only a-z, 0-9, '.', '_' and '-'".to_owned(),
        ));
    }
    Ok(())
}

/// Account names: lower-case ASCII, 1..=64 characters.
pub fn validate_account(name: &str) -> Result<(), AuthError> {
    check("account", name, MAX_NAME, &[])
}

/// Repository names: lower-case ASCII, 1..=64 characters (`"*"` is handled by the caller).
pub fn validate_repo(name: &str) -> Result<(), AuthError> {
    check("repository", name, MAX_NAME, &[])
}

/// Backup source names (host or dataset): like repository names but up to 128 characters and
/// `:` allowed, so `host:dataset` works.
pub fn validate_source(name: &str) -> Result<(), AuthError> {
    check("source", name, MAX_SOURCE, &[':'])
}

/// Free-text labels such as token names: printable, no control characters, 1..=128 chars.
pub fn validate_label(label: &str) -> Result<(), AuthError> {
    let count = label.chars().count();
    if count == 0 || count > MAX_SOURCE || label.chars().any(char::is_control) {
        return Err(AuthError::InvalidName {
            kind: "label",
            name: label.chars().filter(|c| !c.is_control()).take(80).collect(),
            reason: "must be 1 to 128 printable characters".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses_names() {
        for ok in ["alice", "dr.sato", "ward-3_nurse", "0admin"] {
            assert!(validate_account(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", "../etc", "a b", "-x", "名前", &"a".repeat(65)] {
            assert!(validate_account(bad).is_err(), "{bad}");
        }
        assert!(validate_source("db01:ehr").is_ok());
        assert!(validate_repo("db01:ehr").is_err());
        assert!(validate_label("夜間バックアップ host").is_ok());
        assert!(validate_label("bad\nlabel").is_err());
    }
}
