//! Key files: `KeyFile::from_bytes` on raw bytes, then `unwrap_key` when the KDF parameters are
//! cheap. Parameters over the caps must be refused before any Argon2 work; recovery-key
//! normalization must only ever produce upper-case ASCII letters and digits.
#![no_main]

use std::time::Instant;

use kura_format::keyfile::{
    normalize_recovery_key, KeyFile, MAX_ITERATIONS, MAX_MEMORY_KIB, MAX_PARALLELISM,
};
use kura_format::FormatError;
use libfuzzer_sys::fuzz_target;

/// Argon2 memory (KiB) up to which the target actually runs the KDF; more would make fuzzing crawl.
const CHEAP_KIB: u32 = 256;

fuzz_target!(|data: &[u8]| {
    let typed = String::from_utf8_lossy(data);
    let normalized = normalize_recovery_key(&typed);
    assert!(normalized
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));

    let Ok(kf) = KeyFile::from_bytes(data) else {
        return;
    };
    let k = &kf.kdf;
    let over_caps = k.memory_kib > MAX_MEMORY_KIB
        || k.iterations > MAX_ITERATIONS
        || k.parallelism > MAX_PARALLELISM;
    if over_caps && k.algorithm == "argon2id" {
        let started = Instant::now();
        let r = kf.unwrap_key(b"password");
        assert!(
            matches!(
                r,
                Err(FormatError::TooLarge { .. }) | Err(FormatError::Malformed { .. })
            ),
            "parameters over the caps were not refused: {r:?}"
        );
        assert!(
            started.elapsed().as_millis() < 2000,
            "refusal did work first"
        );
    } else if k.memory_kib <= CHEAP_KIB && k.iterations <= 2 {
        // Wrong secret for whatever was wrapped: never a key, never a panic.
        if let Ok(Some(_)) = kf.unwrap_key(b"not the password") {
            panic!("a fuzzed key file opened with an arbitrary password");
        }
    }
});
