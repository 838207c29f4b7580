//! Errors and skip reasons.
//!
//! Rules: reading clinical data is *lenient* — one bad file never stops an index build. The
//! readers therefore return [`SkipReason`] values that the index counts per reason and keeps
//! per file, rather than failing. [`ClinicalError`] is reserved for calls where the caller
//! asked for one specific thing (parse this path, load this index) and must be told why it
//! could not be done. Every message says what happened and what to do next.

use serde::{Deserialize, Serialize};

/// Why a file contributed nothing to the clinical index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum SkipReason {
    #[error("file is empty; the writer may have crashed mid-write — check the source system")]
    Empty,
    #[error("path is not an SS-MIX2 standard-storage file name: {0}")]
    NotSsmix2Path(String),
    #[error("bytes are neither ISO-2022-JP, Shift_JIS nor UTF-8; the file is damaged or not clinical data")]
    Undecodable,
    #[error("no MSH segment found; the file is not an HL7 v2 message (truncated or foreign)")]
    NotHl7,
    #[error("data type {0} is not read by the emergency viewer; the file is kept in the backup")]
    UnsupportedDataType(String),
    #[error("invalid JSON: {0}; the file is truncated or not FHIR JSON")]
    InvalidJson(String),
    #[error("JSON has no FHIR resourceType; the file is not a FHIR resource")]
    NotFhir,
    #[error("FHIR resource type {0} carries no clinical summary content")]
    UnsupportedResource(String),
    #[error("format could not be recognised from the path or the bytes")]
    UnknownFormat,
}

impl SkipReason {
    /// Short stable key used to count skips in [`crate::ParseReport`].
    pub fn key(&self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::NotSsmix2Path(_) => "not_ssmix2_path",
            SkipReason::Undecodable => "undecodable",
            SkipReason::NotHl7 => "not_hl7",
            SkipReason::UnsupportedDataType(_) => "unsupported_data_type",
            SkipReason::InvalidJson(_) => "invalid_json",
            SkipReason::NotFhir => "not_fhir",
            SkipReason::UnsupportedResource(_) => "unsupported_resource",
            SkipReason::UnknownFormat => "unknown_format",
        }
    }
}

/// Errors for calls that must either succeed or explain themselves.
#[derive(Debug, thiserror::Error)]
pub enum ClinicalError {
    #[error("{path}: not an SS-MIX2 file name ({why}); expected <patientID>_<date|->_<type>_<orderNo>_<17-digit time>_<dept|->_<0|1|2>")]
    BadSsmix2Path { path: String, why: &'static str },
    #[error(
        "clinical index could not be read: {0}; rebuild it from the backup with a full index run"
    )]
    IndexDecode(#[from] serde_json::Error),
    #[error("clinical index could not be written: {0}; report this as a bug")]
    IndexEncode(serde_json::Error),
    #[error("clinical index version {found} is not supported (this build reads {supported}); rebuild the index")]
    IndexVersion { found: u32, supported: u32 },
}
