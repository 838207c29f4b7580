//! SS-MIX2 standardized storage reader.
//!
//! A file is read in four steps, each lenient:
//! 1. the *path* gives the record key and version ([`Ssmix2Name`]); files flagged `0`/`2` need
//!    no bytes at all — they only retire older versions;
//! 2. the *bytes* are decoded to text ([`decode::decode_hl7_bytes`]) before any splitting;
//! 3. the text is split into an HL7 [`hl7::Message`];
//! 4. the data type picks an extractor that turns segments into [`Fact`]s.
//!
//! Unsupported data types (OMP-11 execution notices, OMD meals, OMG imaging …) are skipped
//! with a reason, not an error: the backup still holds them.

pub mod decode;
mod extract;
pub mod hl7;
mod orders;
pub mod path;

use self::decode::{decode_hl7_bytes, TextEncoding};
use self::hl7::Message;
use self::path::Ssmix2Name;
use crate::error::SkipReason;
use crate::model::{Fact, MedicationKind};

/// Data types whose content reaches the clinical summary.
pub const SUPPORTED_DATA_TYPES: &[&str] = &[
    "ADT-00", "ADT-22", "ADT-52", "ADT-61", "PPR-01", "OMP-01", "OMP-02", "OML-11",
];

/// What one SS-MIX2 file yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssmix2Content {
    pub facts: Vec<Fact>,
    pub encoding: TextEncoding,
    /// Replacement characters introduced by a lossy decode (0 normally).
    pub replacements: usize,
}

/// Decode and extract one SS-MIX2 file whose name has already been parsed.
pub fn read_ssmix2(name: &Ssmix2Name, bytes: &[u8]) -> Result<Ssmix2Content, SkipReason> {
    if !SUPPORTED_DATA_TYPES.contains(&name.data_type.as_str()) {
        return Err(SkipReason::UnsupportedDataType(name.data_type.clone()));
    }
    let decoded = decode_hl7_bytes(bytes)?;
    let msg = Message::parse(&decoded.text).ok_or(SkipReason::NotHl7)?;
    Ok(Ssmix2Content {
        facts: extract(&msg, name),
        encoding: decoded.encoding,
        replacements: decoded.replacements,
    })
}

/// Run the extractor for the file's data type. The caller has checked it is supported.
fn extract(msg: &Message, name: &Ssmix2Name) -> Vec<Fact> {
    let mut facts = match name.data_type.as_str() {
        "ADT-00" => return extract::adt00(msg, name),
        "ADT-61" => extract::adt61(msg),
        "PPR-01" => extract::ppr01(msg),
        "OMP-01" => orders::omp(msg, name, MedicationKind::Prescription),
        "OMP-02" => orders::omp(msg, name, MedicationKind::Injection),
        "OML-11" => orders::oml11(msg, name),
        "ADT-22" | "ADT-52" => extract::admission(msg, name),
        _ => Vec::new(),
    };
    // Every message repeats PID; keep it as a fallback for patients without ADT-00, but only
    // from the few patient-level messages: lab and order files are the bulk of a storage and
    // repeating the name in each would dominate the index size.
    let fallback = matches!(
        name.data_type.as_str(),
        "ADT-61" | "PPR-01" | "ADT-22" | "ADT-52"
    );
    if let Some(d) = extract::demographics(msg, name).filter(|_| fallback) {
        facts.push(Fact::Patient {
            demographics: d,
            primary: false,
        });
    }
    facts
}

/// Fuzz-friendly entry point: decode, split and extract an SS-MIX2 message without a path.
/// The data type is inferred from MSH-9 and the patient ID from PID-3. Never panics.
pub fn parse_ssmix2_bytes(bytes: &[u8]) -> Result<Vec<Fact>, SkipReason> {
    let decoded = decode_hl7_bytes(bytes)?;
    let msg = Message::parse(&decoded.text).ok_or(SkipReason::NotHl7)?;
    let (ty, trigger) = msg.message_type();
    let data_type = match (ty.as_str(), trigger.as_str()) {
        ("ADT", "A08" | "A23") => "ADT-00",
        ("ADT", "A60") => "ADT-61",
        ("ADT", "A01" | "A11") => "ADT-22",
        ("ADT", "A03" | "A13") => "ADT-52",
        ("PPR", _) => "PPR-01",
        ("RDE", _) if msg.segment("RXC").is_some() => "OMP-02",
        ("RDE", _) => "OMP-01",
        ("OUL", _) => "OML-11",
        _ => return Err(SkipReason::UnsupportedDataType(format!("{ty}^{trigger}"))),
    };
    let patient_id = msg
        .segment("PID")
        .map(|pid| msg.component(pid.field(3), 1))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let name = Ssmix2Name {
        patient_id,
        date: None,
        data_type: data_type.to_string(),
        order_no: String::new(),
        timestamp: String::new(),
        department: None,
        flag: path::ConditionFlag::Current,
    };
    Ok(extract(&msg, &name))
}

#[cfg(test)]
mod tests;
