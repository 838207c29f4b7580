//! JP-CLINS / JP Core FHIR R4 JSON reader.
//!
//! Accepts the three shapes hospitals exchange:
//! - 5-info send Bundles (`type: collection`, Patient first, then one resource type);
//! - document Bundles (`type: document`, Composition first): 診療情報提供書, 退院時サマリー,
//!   健診結果報告書 — the Composition becomes a [`Document`] and the resources it carries
//!   (conditions, allergies, prescriptions, labs) become facts like any other;
//! - single resources, which reference their patient by `subject.identifier` or a reference.
//!
//! A Bundle's `identifier` is its record key: re-sending the same Bundle-ID replaces the
//! earlier report (JP-CLINS rule), so the index keeps only the newest by `timestamp`.
//! References are resolved by `fullUrl` with or without `urn:uuid:` (examples use both) and by
//! `Type/id`. A file belongs to one patient; resources that reference another patient are
//! dropped and counted in [`FhirContent::dropped`] rather than attached to the wrong person.

mod json;
mod resources;

use std::collections::HashMap;

use serde_json::Value;

use self::json::{arr, concept_text, human_name, indications, s, strip_html};
use crate::error::SkipReason;
use crate::model::{normalize_time, Document, Fact};

/// Longest document excerpt kept in the index, in characters.
pub const EXCERPT_CHARS: usize = 600;

/// What one FHIR JSON file yielded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FhirContent {
    /// The patient the facts belong to (hospital ID when known).
    pub patient_id: Option<String>,
    pub facts: Vec<Fact>,
    /// Bundle-ID (`identifier.value`) when the file is a Bundle that has one.
    pub bundle_id: Option<String>,
    /// `Bundle.timestamp`, else `meta.lastUpdated`, normalised.
    pub version: Option<String>,
    /// Resources dropped because they reference a different patient.
    pub dropped: usize,
}

/// Fuzz-friendly entry point: parse FHIR JSON bytes into facts. Never panics.
pub fn parse_fhir_bytes(bytes: &[u8]) -> Result<FhirContent, SkipReason> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SkipReason::Empty);
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| SkipReason::InvalidJson(e.to_string()))?;
    let resource_type = s(&value, "resourceType");
    match resource_type {
        "" => Err(SkipReason::NotFhir),
        "Bundle" => Ok(read_bundle(&value)),
        _ => read_single(&value),
    }
}

fn version_of(v: &Value) -> Option<String> {
    let ts = s(v, "timestamp");
    let t = if ts.is_empty() {
        v.get("meta").map(|m| s(m, "lastUpdated")).unwrap_or("")
    } else {
        ts
    };
    normalize_time(t)
}

fn read_single(v: &Value) -> Result<FhirContent, SkipReason> {
    let fact = extract_resource(v)
        .ok_or_else(|| SkipReason::UnsupportedResource(s(v, "resourceType").to_string()))?;
    let patient_id = match &fact {
        Fact::Patient { demographics, .. } => Some(demographics.patient_id.clone()),
        _ => subject_key(v),
    };
    Ok(FhirContent {
        patient_id,
        facts: vec![fact],
        bundle_id: None,
        version: version_of(v),
        dropped: 0,
    })
}

/// Patient key of an unresolved subject: its identifier value, else the reference string.
fn subject_key(v: &Value) -> Option<String> {
    let subject = v.get("subject").or_else(|| v.get("patient"))?;
    let id_value = subject
        .get("identifier")
        .map(|i| s(i, "value"))
        .unwrap_or("");
    let key = if id_value.is_empty() {
        s(subject, "reference")
    } else {
        id_value
    };
    (!key.is_empty()).then(|| key.to_string())
}

fn extract_resource(v: &Value) -> Option<Fact> {
    match s(v, "resourceType") {
        "Patient" => Some(resources::patient(v)),
        "AllergyIntolerance" => resources::allergy(v),
        "Condition" => resources::condition(v),
        "MedicationRequest" => resources::medication_request(v),
        "Observation" => resources::observation(v),
        _ => None,
    }
}

/// Lookup of bundle entries by every name a reference may use.
struct Entries<'a> {
    by_ref: HashMap<String, &'a Value>,
}

impl<'a> Entries<'a> {
    fn new(bundle: &'a Value) -> Entries<'a> {
        let mut by_ref = HashMap::new();
        for entry in arr(bundle, "entry") {
            let Some(res) = entry.get("resource") else {
                continue;
            };
            let full = s(entry, "fullUrl");
            if !full.is_empty() {
                by_ref.insert(strip_uuid(full).to_string(), res);
            }
            let (ty, id) = (s(res, "resourceType"), s(res, "id"));
            if !id.is_empty() {
                by_ref.insert(format!("{ty}/{id}"), res);
            }
        }
        Entries { by_ref }
    }

    fn get(&self, reference: &str) -> Option<&'a Value> {
        self.by_ref.get(strip_uuid(reference)).copied()
    }
}

fn strip_uuid(r: &str) -> &str {
    r.strip_prefix("urn:uuid:").unwrap_or(r)
}

fn read_bundle(bundle: &Value) -> FhirContent {
    let entries = Entries::new(bundle);
    let resources: Vec<&Value> = arr(bundle, "entry")
        .iter()
        .filter_map(|e| e.get("resource"))
        .collect();
    let first_patient = resources
        .iter()
        .find(|r| s(r, "resourceType") == "Patient")
        .copied();
    let patient_id = first_patient.map(resources::patient_key);
    let mut content = FhirContent {
        patient_id: patient_id.clone(),
        bundle_id: bundle
            .get("identifier")
            .map(|i| s(i, "value").to_string())
            .filter(|v| !v.is_empty()),
        version: version_of(bundle),
        ..FhirContent::default()
    };
    for res in resources {
        if s(res, "resourceType") == "Patient" && !std::ptr::eq(res, first_patient.unwrap_or(res)) {
            content.dropped += 1;
            continue;
        }
        if !belongs_to(res, &entries, patient_id.as_deref()) {
            content.dropped += 1;
            continue;
        }
        let fact = if s(res, "resourceType") == "Composition" {
            Some(Fact::Document(composition(res, &entries)))
        } else {
            extract_resource(res)
        };
        content.facts.extend(fact);
    }
    if content.patient_id.is_none() {
        content.patient_id = resources_subject(&content, bundle);
    }
    content
}

/// Patient of a Bundle without a Patient entry: the first resource subject found.
fn resources_subject(_content: &FhirContent, bundle: &Value) -> Option<String> {
    arr(bundle, "entry")
        .iter()
        .filter_map(|e| e.get("resource"))
        .find_map(subject_key)
}

/// True when the resource's subject/patient is the bundle's patient (or cannot be resolved
/// to a different Patient entry).
fn belongs_to(res: &Value, entries: &Entries, patient_id: Option<&str>) -> bool {
    let Some(subject) = res.get("subject").or_else(|| res.get("patient")) else {
        return true;
    };
    let reference = s(subject, "reference");
    match (entries.get(reference), patient_id) {
        (Some(target), Some(pid)) if s(target, "resourceType") == "Patient" => {
            resources::patient_key(target) == pid
        }
        _ => true,
    }
}

/// Composition → document: type, date, title, authors (names resolved through the bundle)
/// and an excerpt of the section narratives.
fn composition(c: &Value, entries: &Entries) -> Document {
    let authors: Vec<String> = arr(c, "author")
        .iter()
        .filter_map(|a| {
            let target = entries.get(s(a, "reference"))?;
            let name = match s(target, "resourceType") {
                "Organization" => s(target, "name").to_string(),
                _ => pick_kanji_name(target),
            };
            (!name.is_empty()).then_some(name)
        })
        .collect();
    let mut excerpt = String::new();
    collect_sections(arr(c, "section"), &mut excerpt);
    Document {
        doc_type: c
            .get("type")
            .and_then(|t| json::codings(t).into_iter().next())
            .map(|mut code| {
                if code.display.is_empty() {
                    code.display = concept_text(c.get("type").unwrap_or(&Value::Null));
                }
                code
            }),
        date: normalize_time(s(c, "date")),
        title: s(c, "title").to_string(),
        author: authors.join(" / "),
        excerpt: truncate_chars(&excerpt, EXCERPT_CHARS),
        indications: indications(c),
        source: String::new(),
    }
}

fn pick_kanji_name(practitioner: &Value) -> String {
    let names = arr(practitioner, "name");
    let ide = names.iter().find(|n| {
        arr(n, "extension")
            .iter()
            .any(|e| s(e, "valueCode") == "IDE")
    });
    ide.or_else(|| names.first())
        .map(human_name)
        .unwrap_or_default()
}

/// Depth-first `【title】 text` for every section with narrative.
fn collect_sections(sections: &[Value], out: &mut String) {
    for section in sections {
        let text = section
            .get("text")
            .map(|t| strip_html(s(t, "div")))
            .unwrap_or_default();
        if !text.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            let title = s(section, "title");
            if !title.is_empty() {
                out.push_str(&format!("【{title}】"));
            }
            out.push_str(&text);
        }
        collect_sections(arr(section, "section"), out);
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
