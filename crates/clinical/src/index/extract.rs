//! What one file contributed: [`FileExtract`], the unit of incremental reuse.
//!
//! An extract depends only on (relative path, bytes), so it can be computed in parallel by the
//! caller and reused verbatim by the next backup when the content id is unchanged. It holds the
//! record key and version the index needs to resolve SS-MIX2 condition flags and re-sent
//! JP-CLINS bundles, plus the facts (without source paths: the path is on the extract).

use serde::{Deserialize, Serialize};

use crate::error::SkipReason;
use crate::fhir::parse_fhir_bytes;
use crate::model::Fact;
use crate::ssmix2::decode::TextEncoding;
use crate::ssmix2::path::{ConditionFlag, Ssmix2Name};
use crate::ssmix2::read_ssmix2;

/// Which reader a file goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FileFormat {
    /// SS-MIX2 standard storage (HL7 v2.5, ISO-2022-JP).
    Ssmix2,
    /// JP-CLINS / JP Core FHIR R4 JSON.
    Fhir,
}

impl FileFormat {
    /// Guess the format: JSON-looking bytes or a `.json` path are FHIR; a path whose file name
    /// parses as an SS-MIX2 name is SS-MIX2. `None` when neither fits.
    pub fn detect(rel_path: &str, bytes: &[u8]) -> Option<FileFormat> {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if rel_path.to_ascii_lowercase().ends_with(".json") || first == Some(&b'{') {
            return Some(FileFormat::Fhir);
        }
        Ssmix2Name::parse(rel_path).ok().map(|_| FileFormat::Ssmix2)
    }
}

/// How a file was handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "o", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Content was read (it may still have yielded no facts).
    #[default]
    Parsed,
    /// An SS-MIX2 file flagged `0` (deleted) or `2` (replaced): only its name matters, its
    /// bytes are not read.
    Retired,
    /// Nothing could be read; the reason says why.
    Skipped { reason: SkipReason },
}

/// What one file contributed to the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileExtract {
    /// Path relative to the backup root, as the caller named it.
    pub rel_path: String,
    /// Caller-supplied content id (e.g. a chunk hash); equal id ⇒ extract reusable.
    pub content_id: String,
    pub format: FileFormat,
    #[serde(default, skip_serializing_if = "FileOutcome::is_parsed")]
    pub outcome: FileOutcome,
    /// Logical record this file is a version of (SS-MIX2 key, FHIR Bundle-ID, or the path).
    /// Not stored when it can be derived from the path again ([`Self::rederive`]).
    #[serde(default, skip_serializing_if = "is_derivable_key")]
    pub record_key: String,
    /// Version order within the record (SS-MIX2 発生日時, FHIR timestamp). SS-MIX2 versions
    /// (17 digits) are derived from the path on load and not stored.
    #[serde(default, skip_serializing_if = "is_ssmix2_version")]
    pub version: String,
    /// SS-MIX2 condition flag; FHIR files are always `Current`. Derived on load.
    #[serde(default = "current_flag", skip_serializing_if = "is_current")]
    pub flag: ConditionFlag,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
    /// Non-fatal oddities worth showing an operator (lossy decode, dropped resources).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_derivable_key(key: &str) -> bool {
    key.starts_with("ssmix2:") || key.starts_with("path:")
}

fn is_ssmix2_version(v: &str) -> bool {
    v.bytes().all(|b| b.is_ascii_digit())
}

fn current_flag() -> ConditionFlag {
    ConditionFlag::Current
}

fn is_current(flag: &ConditionFlag) -> bool {
    *flag == ConditionFlag::Current
}

impl FileOutcome {
    fn is_parsed(&self) -> bool {
        *self == FileOutcome::Parsed
    }
}

impl FileExtract {
    /// Restore the fields that serialization leaves out because the path determines them
    /// (record key, version and flag of SS-MIX2 files; the path key of keyless files).
    pub(crate) fn rederive(&mut self) {
        if self.format == FileFormat::Ssmix2 {
            if let Ok(name) = Ssmix2Name::parse(&self.rel_path) {
                if self.record_key.is_empty() {
                    self.record_key = name.record_key();
                }
                if self.version.is_empty() {
                    self.version = name.version();
                }
                self.flag = name.flag;
            }
        }
        if self.record_key.is_empty() {
            self.record_key = format!("path:{}", self.rel_path);
        }
    }

    /// Read one file. Never fails: problems become [`FileOutcome::Skipped`].
    pub fn read(rel_path: &str, content_id: &str, bytes: &[u8], format: FileFormat) -> Self {
        let mut ex = FileExtract {
            rel_path: rel_path.to_string(),
            content_id: content_id.to_string(),
            format,
            outcome: FileOutcome::Parsed,
            record_key: format!("path:{rel_path}"),
            version: String::new(),
            flag: ConditionFlag::Current,
            patient_id: None,
            facts: Vec::new(),
            warnings: Vec::new(),
        };
        let result = match format {
            FileFormat::Ssmix2 => ex.read_ssmix2(bytes),
            FileFormat::Fhir => ex.read_fhir(bytes),
        };
        if let Err(reason) = result {
            ex.outcome = FileOutcome::Skipped { reason };
            ex.facts.clear();
        }
        ex
    }

    fn read_ssmix2(&mut self, bytes: &[u8]) -> Result<(), SkipReason> {
        let name = Ssmix2Name::parse(&self.rel_path)
            .map_err(|e| SkipReason::NotSsmix2Path(e.to_string()))?;
        self.record_key = name.record_key();
        self.version = name.version();
        self.flag = name.flag;
        self.patient_id = Some(name.patient_id.clone());
        if name.flag != ConditionFlag::Current {
            // Retired versions only tell the index that a newer state exists.
            self.outcome = FileOutcome::Retired;
            return Ok(());
        }
        let content = read_ssmix2(&name, bytes)?;
        if content.encoding != TextEncoding::Iso2022Jp {
            self.warnings.push(format!(
                "decoded as {:?} ({} replacement characters)",
                content.encoding, content.replacements
            ));
        }
        self.facts = content.facts;
        Ok(())
    }

    fn read_fhir(&mut self, bytes: &[u8]) -> Result<(), SkipReason> {
        let content = parse_fhir_bytes(bytes)?;
        if let Some(id) = &content.bundle_id {
            self.record_key = format!("fhir:{id}");
        }
        self.version = content.version.unwrap_or_default();
        self.patient_id = content.patient_id;
        if content.dropped > 0 {
            self.warnings.push(format!(
                "{} resources reference another patient and were not indexed",
                content.dropped
            ));
        }
        self.facts = content.facts;
        Ok(())
    }
}
