//! Byte → text decoding for SS-MIX2 files.
//!
//! SS-MIX2 mandates ISO-2022-JP (ASCII + JIS X 0208). JIS double-byte runs contain byte
//! values equal to the HL7 delimiters (`|^~\&`), so a file must be decoded *before* it is
//! split; splitting bytes first corrupts names. Real installations leak other encodings, so
//! the order of attempts is:
//!
//! 1. ISO-2022-JP (after removing empty `ESC $ B ESC ( B` pairs, which `encoding_rs` reports
//!    as errors under the WHATWG rules although they are harmless);
//! 2. UTF-8, only when the file has no ESC byte (some tools write UTF-8);
//! 3. Shift_JIS (`encoding_rs` Shift_JIS is windows-31j compatible: NEC/IBM extensions);
//! 4. ISO-2022-JP with a few replacement characters, when the file clearly is ISO-2022-JP
//!    (has ESC) but has a handful of damaged bytes — losing an allergy list to one bad byte
//!    is worse than showing `�` in one name.
//!
//! Anything else is [`SkipReason::Undecodable`].

use encoding_rs::{ISO_2022_JP, SHIFT_JIS};
use serde::{Deserialize, Serialize};

use crate::error::SkipReason;

/// Which decoder produced the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextEncoding {
    Iso2022Jp,
    Utf8,
    ShiftJis,
    /// ISO-2022-JP with `replacements` damaged characters replaced by U+FFFD.
    Iso2022JpLossy,
}

/// Decoded file text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: TextEncoding,
    /// Number of U+FFFD characters introduced by decoding.
    pub replacements: usize,
}

const ESC: u8 = 0x1B;
/// At most this many replacement characters are accepted in a lossy ISO-2022-JP decode…
const MAX_LOSSY_REPLACEMENTS: usize = 8;
/// …and at most one in this many characters.
const MAX_LOSSY_RATIO: usize = 50;

/// Decode an SS-MIX2 file. Never panics; see the module docs for the order of attempts.
pub fn decode_hl7_bytes(bytes: &[u8]) -> Result<Decoded, SkipReason> {
    if bytes
        .iter()
        .all(|b| b.is_ascii_whitespace() || matches!(b, 0x0B | 0x1C))
    {
        return Err(SkipReason::Empty);
    }
    let cleaned = strip_empty_escape_pairs(bytes);
    let (text, had_errors) = ISO_2022_JP.decode_without_bom_handling(&cleaned);
    if !had_errors {
        return Ok(decoded(text.into_owned(), TextEncoding::Iso2022Jp));
    }
    let has_esc = bytes.contains(&ESC);
    if !has_esc {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return Ok(decoded(s.to_string(), TextEncoding::Utf8));
        }
        let (sjis, sjis_errors) = SHIFT_JIS.decode_without_bom_handling(bytes);
        if !sjis_errors {
            return Ok(decoded(sjis.into_owned(), TextEncoding::ShiftJis));
        }
        return Err(SkipReason::Undecodable);
    }
    let replacements = text.chars().filter(|&c| c == '\u{FFFD}').count();
    let chars = text.chars().count();
    if replacements <= MAX_LOSSY_REPLACEMENTS && replacements * MAX_LOSSY_RATIO <= chars {
        return Ok(Decoded {
            text: text.into_owned(),
            encoding: TextEncoding::Iso2022JpLossy,
            replacements,
        });
    }
    Err(SkipReason::Undecodable)
}

fn decoded(text: String, encoding: TextEncoding) -> Decoded {
    Decoded {
        text,
        encoding,
        replacements: 0,
    }
}

/// Remove `ESC $ B` immediately followed by `ESC ( B` (or `ESC ( J`): an empty JIS run that
/// some writers emit for empty fields and that the WHATWG decoder flags as an error.
fn strip_empty_escape_pairs(bytes: &[u8]) -> Vec<u8> {
    const OPEN: &[u8] = b"\x1b$B";
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(OPEN) {
            let after = &rest[OPEN.len()..];
            if after.starts_with(b"\x1b(B") || after.starts_with(b"\x1b(J") {
                i += OPEN.len() + 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Encode text as ISO-2022-JP (used by the synthetic generator and tests). Characters that
/// JIS X 0208 cannot represent become HTML numeric references, as `encoding_rs` does.
pub fn encode_iso2022jp(text: &str) -> Vec<u8> {
    let (bytes, _, _) = ISO_2022_JP.encode(text);
    bytes.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_iso2022jp_round_trip() {
        let src = "PID|0001||9999013||患者^太郎~カンジャ^タロウ|①";
        let bytes = encode_iso2022jp(src);
        assert!(bytes.contains(&ESC));
        let d = decode_hl7_bytes(&bytes).expect("decodes");
        assert_eq!(d.text, src);
        assert_eq!(d.encoding, TextEncoding::Iso2022Jp);
    }

    #[test]
    fn empty_escape_pair_is_not_an_error() {
        let d = decode_hl7_bytes(b"MSH|^~\\&|\x1b$B\x1b(B|x\r").expect("decodes");
        assert_eq!(d.text, "MSH|^~\\&||x\r");
        assert_eq!(d.encoding, TextEncoding::Iso2022Jp);
    }

    #[test]
    fn falls_back_to_shift_jis_for_raw_cp932() {
        let (sjis, _, _) = SHIFT_JIS.encode("PID|1||1||山田^太郎");
        let d = decode_hl7_bytes(&sjis).expect("decodes");
        assert_eq!(d.text, "PID|1||1||山田^太郎");
        assert_eq!(d.encoding, TextEncoding::ShiftJis);
    }

    #[test]
    fn accepts_utf8_without_escapes() {
        let d = decode_hl7_bytes("PID|1||1||山田^太郎".as_bytes()).expect("decodes");
        assert_eq!(d.encoding, TextEncoding::Utf8);
    }

    #[test]
    fn empty_and_garbage_are_rejected() {
        assert_eq!(decode_hl7_bytes(b""), Err(SkipReason::Empty));
        assert_eq!(decode_hl7_bytes(b"\r\n\x1c"), Err(SkipReason::Empty));
        // 0x80 0xFF is invalid in UTF-8 and Shift_JIS alike.
        assert_eq!(
            decode_hl7_bytes(&[0x80, 0xFF, 0x80, 0xFF]),
            Err(SkipReason::Undecodable)
        );
    }

    #[test]
    fn a_few_damaged_bytes_in_jis_are_tolerated_many_are_not() {
        let mut ok = encode_iso2022jp(&format!("MSH|{}|患者", "x".repeat(200)));
        ok.push(0xFF);
        let d = decode_hl7_bytes(&ok).expect("lossy decode accepted");
        assert_eq!(d.encoding, TextEncoding::Iso2022JpLossy);
        assert_eq!(d.replacements, 1);
        let mut bad = encode_iso2022jp("患者");
        bad.extend(std::iter::repeat_n(0xFFu8, 40));
        assert_eq!(decode_hl7_bytes(&bad), Err(SkipReason::Undecodable));
    }
}
