//! The byte format of one log line and the hash that seals it.
//!
//! The hash is computed over exact bytes, never over a re-serialisation, so a verifier
//! written in any language needs no JSON canonicalisation: strip the fixed-width
//! `,"hash":"<64 hex>"` member from the end of the line, close the object with `}`, and
//! BLAKE3 the result. The layout is specified in the crate documentation (lib.rs).

use crate::event::{AuditEvent, Outcome, StoredEntry};
use crate::AuditError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `prev` of the first entry: 64 zeros (the hash of "nothing").
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest accepted line, newline included. Bounding it keeps every reader's memory bounded
/// even on a hostile file, and keeps one append a single small write.
pub const MAX_LINE_BYTES: usize = 1 << 20;

const HASH_HEX_LEN: usize = 64;
const TRAILER_OPEN: &[u8] = b",\"hash\":\"";
const TRAILER_CLOSE: &[u8] = b"\"}";
/// Length of `,"hash":"<64 hex>"}`, the fixed-width end of every line.
const TRAILER_LEN: usize = TRAILER_OPEN.len() + HASH_HEX_LEN + TRAILER_CLOSE.len();

/// The hashed part of a line. Field order here IS the on-disk order; changing it changes
/// the format (document it in lib.rs and bump the format version if that ever happens).
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    prev: &'a str,
    time: &'a DateTime<Utc>,
    actor: &'a str,
    role: &'a Option<String>,
    source_addr: &'a Option<String>,
    action: &'a str,
    target: &'a str,
    result: Outcome,
    reason: &'a Option<String>,
    details: &'a serde_json::Value,
}

/// A whole line as read back. Unknown fields are refused so that nothing can hide in a
/// line that the verifier does not understand.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    seq: u64,
    prev: String,
    time: DateTime<Utc>,
    actor: String,
    role: Option<String>,
    source_addr: Option<String>,
    action: String,
    target: String,
    result: Outcome,
    reason: Option<String>,
    details: serde_json::Value,
    hash: String,
}

/// A line ready to append.
#[derive(Debug)]
pub struct Encoded {
    /// The full line, `\n` included.
    pub line: Vec<u8>,
    /// Hex hash stored in the line.
    pub hash: String,
}

/// Encodes `event` as entry `seq` chained to `prev`.
pub fn encode(seq: u64, prev: &str, event: &AuditEvent) -> Result<Encoded, AuditError> {
    let body = Body {
        seq,
        prev,
        time: &event.time,
        actor: &event.actor,
        role: &event.role,
        source_addr: &event.source_addr,
        action: &event.action,
        target: &event.target,
        result: event.result,
        reason: &event.reason,
        details: &event.details,
    };
    let mut bytes = serde_json::to_vec(&body)
        .map_err(|e| AuditError::InvalidEvent(format!("cannot serialise event: {e}")))?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    // serde_json always closes a struct with `}`; replace it with the hash member.
    if bytes.pop() != Some(b'}') {
        return Err(AuditError::InvalidEvent(
            "serialised event does not end with '}'".into(),
        ));
    }
    bytes.extend_from_slice(TRAILER_OPEN);
    bytes.extend_from_slice(hash.as_bytes());
    bytes.extend_from_slice(TRAILER_CLOSE);
    bytes.push(b'\n');
    if bytes.len() > MAX_LINE_BYTES {
        return Err(AuditError::TooLarge {
            len: bytes.len(),
            max: MAX_LINE_BYTES,
        });
    }
    Ok(Encoded { line: bytes, hash })
}

/// A parsed line together with the hash recomputed from its bytes.
#[derive(Debug)]
pub struct Decoded {
    /// The entry as written (its `hash` field is the stored hash).
    pub entry: StoredEntry,
    /// BLAKE3 of the line's hashed bytes; differs from `entry.hash` if the line was edited.
    pub computed: String,
}

impl Decoded {
    /// Whether the stored hash matches the bytes.
    pub fn hash_ok(&self) -> bool {
        self.entry.hash == self.computed
    }
}

fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses one line (without its `\n`). The error says, in words, why it is unreadable.
pub fn decode(line: &[u8]) -> Result<Decoded, String> {
    if line.len() < TRAILER_LEN + 2 {
        return Err(format!(
            "line is too short to be an entry ({} bytes)",
            line.len()
        ));
    }
    let (head, trailer) = line.split_at(line.len() - TRAILER_LEN);
    let hex = &trailer[TRAILER_OPEN.len()..TRAILER_OPEN.len() + HASH_HEX_LEN];
    if !trailer.starts_with(TRAILER_OPEN) || !trailer.ends_with(TRAILER_CLOSE) || !is_lower_hex(hex)
    {
        return Err("line does not end with a ,\"hash\":\"<64 lowercase hex>\"} member".into());
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(head);
    hasher.update(b"}");
    let computed = hasher.finalize().to_hex().to_string();
    let wire: Wire =
        serde_json::from_slice(line).map_err(|e| format!("line is not a valid entry: {e}"))?;
    if wire.hash.as_bytes() != hex {
        return Err("line has more than one hash member".into());
    }
    if wire.prev.len() != HASH_HEX_LEN || !is_lower_hex(wire.prev.as_bytes()) {
        return Err("prev is not 64 lowercase hex digits".into());
    }
    Ok(Decoded {
        entry: into_entry(wire),
        computed,
    })
}

fn into_entry(w: Wire) -> StoredEntry {
    StoredEntry {
        seq: w.seq,
        prev: w.prev,
        hash: w.hash,
        event: AuditEvent {
            time: w.time,
            actor: w.actor,
            role: w.role,
            source_addr: w.source_addr,
            action: w.action,
            target: w.target,
            result: w.result,
            reason: w.reason,
            details: w.details,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> AuditEvent {
        let t = Utc.with_ymd_and_hms(2025, 4, 1, 9, 30, 0).unwrap();
        AuditEvent::at(t, "鈴木", "login", "console", Outcome::Success).with_source("10.1.2.3")
    }

    #[test]
    fn encode_has_documented_layout() {
        let enc = encode(1, GENESIS_PREV, &sample()).unwrap();
        let text = String::from_utf8(enc.line.clone()).unwrap();
        let expected_body = format!(
            "{{\"seq\":1,\"prev\":\"{GENESIS_PREV}\",\"time\":\"2025-04-01T09:30:00Z\",\
             \"actor\":\"鈴木\",\"role\":null,\"source_addr\":\"10.1.2.3\",\"action\":\"login\",\
             \"target\":\"console\",\"result\":\"success\",\"reason\":null,\"details\":null}}"
        );
        let expected_hash = blake3::hash(expected_body.as_bytes()).to_hex().to_string();
        assert_eq!(enc.hash, expected_hash);
        let expected_line = format!(
            "{},\"hash\":\"{expected_hash}\"}}\n",
            &expected_body[..expected_body.len() - 1]
        );
        assert_eq!(text, expected_line);
    }

    #[test]
    fn decode_round_trips_and_checks_hash() {
        let enc = encode(7, GENESIS_PREV, &sample()).unwrap();
        let d = decode(&enc.line[..enc.line.len() - 1]).unwrap();
        assert!(d.hash_ok());
        assert_eq!(d.entry.seq, 7);
        assert_eq!(d.entry.event, sample());
        assert_eq!(d.entry.hash, enc.hash);
    }

    #[test]
    fn decode_detects_edited_bytes() {
        let enc = encode(1, GENESIS_PREV, &sample()).unwrap();
        let text = String::from_utf8(enc.line).unwrap();
        let edited = text.trim_end().replace("success", "failure");
        let d = decode(edited.as_bytes()).unwrap();
        assert!(!d.hash_ok());
    }

    #[test]
    fn decode_rejects_garbage_without_panicking() {
        for bad in [
            &b""[..],
            b"{}",
            b"not json at all, but long enough to pass the length check of the decoder......",
            "{\"seq\":1,\"hash\":\"ＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸＸ\"}".as_bytes(),
        ] {
            assert!(decode(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn decode_rejects_unknown_and_duplicate_fields() {
        let enc = encode(1, GENESIS_PREV, &sample()).unwrap();
        let text = String::from_utf8(enc.line).unwrap();
        let extra = text.replacen("{", "{\"extra\":1,", 1);
        assert!(decode(extra.trim_end().as_bytes()).is_err());
        let dup = text.replacen("{", &format!("{{\"hash\":\"{}\",", "a".repeat(64)), 1);
        assert!(decode(dup.trim_end().as_bytes()).is_err());
    }

    #[test]
    fn hostile_text_stays_on_one_line() {
        let e = sample()
            .with_reason("line1\nline2\r{\"seq\":99}\u{2028}")
            .with_details(serde_json::json!({"k\n": "\u{0}"}));
        let enc = encode(1, GENESIS_PREV, &e).unwrap();
        let newlines = enc.line.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(newlines, 1);
        let d = decode(&enc.line[..enc.line.len() - 1]).unwrap();
        assert!(d.hash_ok());
        assert_eq!(d.entry.event, e);
    }

    #[test]
    fn encode_refuses_oversized_event() {
        let big = sample().with_details(serde_json::json!("x".repeat(MAX_LINE_BYTES)));
        assert!(matches!(
            encode(1, GENESIS_PREV, &big),
            Err(AuditError::TooLarge { .. })
        ));
    }
}
