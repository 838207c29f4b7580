//! Total accessors over `serde_json::Value` for the FHIR shapes the reader touches.
//!
//! The published JP-CLINS examples are not all valid (codes in `system`, bare-UUID
//! `fullUrl`s, missing `text`), so the reader walks untyped JSON with accessors that return
//! empty values instead of failing: a typed serde model would reject whole files for one
//! odd field.

use serde_json::Value;

use crate::model::{Code, Indications};

/// `v[key]` as a string, or `""`.
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `v[key]` as an array slice (a single object is treated as a one-element array, an
/// irregularity seen in hand-written examples).
pub fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    match v.get(key) {
        Some(Value::Array(a)) => a,
        Some(other @ Value::Object(_)) => std::slice::from_ref(other),
        _ => &[],
    }
}

/// A number or string field rendered as text (`3.9` stays `3.9`, `75` stays `75`).
pub fn scalar_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Codings of a CodeableConcept as [`Code`]s (empty codings dropped).
pub fn codings(concept: &Value) -> Vec<Code> {
    arr(concept, "coding")
        .iter()
        .map(|c| Code {
            code: s(c, "code").to_string(),
            system: s(c, "system").to_string(),
            display: s(c, "display").to_string(),
        })
        .filter(|c| !c.code.is_empty() || !c.display.is_empty())
        .collect()
}

/// Display text of a CodeableConcept: `text` first (JP-CLINS puts the full name with
/// modifiers there), else the first coding display, else the first code.
pub fn concept_text(concept: &Value) -> String {
    let text = s(concept, "text");
    if !text.is_empty() {
        return text.to_string();
    }
    let codes = codings(concept);
    codes
        .iter()
        .find(|c| !c.display.is_empty())
        .map(|c| c.display.clone())
        .or_else(|| codes.first().map(|c| c.code.clone()))
        .unwrap_or_default()
}

/// The first coding's code of a CodeableConcept (e.g. `clinicalStatus`), or `""`.
pub fn first_code(concept: Option<&Value>) -> String {
    concept
        .map(codings)
        .and_then(|c| c.into_iter().next())
        .map(|c| c.code)
        .unwrap_or_default()
}

/// JP-CLINS `meta.tag` indications (LTS / UNINFORMED / UNDELIVERED).
pub fn indications(resource: &Value) -> Indications {
    let mut ind = Indications::default();
    let Some(meta) = resource.get("meta") else {
        return ind;
    };
    for tag in arr(meta, "tag") {
        match s(tag, "code") {
            "LTS" => ind.lts = true,
            "UNINFORMED" => ind.uninformed = true,
            "UNDELIVERED" => ind.undelivered = true,
            _ => {}
        }
    }
    ind
}

/// First non-empty `<prefix>DateTime`, `<prefix>String`, `<prefix>Period.start` (or `.end`
/// for abatement) of a choice element, as recorded.
pub fn choice_time(v: &Value, prefix: &str, period_end: bool) -> Option<String> {
    for suffix in ["DateTime", "Date", "Instant", "String"] {
        let t = s(v, &format!("{prefix}{suffix}"));
        if !t.is_empty() {
            return Some(t.to_string());
        }
    }
    let period = v.get(format!("{prefix}Period"))?;
    let t = s(period, if period_end { "end" } else { "start" });
    (!t.is_empty()).then(|| t.to_string())
}

/// Narrative XHTML to plain text: tags removed, common entities decoded, whitespace collapsed.
pub fn strip_html(div: &str) -> String {
    let mut out = String::with_capacity(div.len());
    let mut in_tag = false;
    for c in div.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A HumanName rendered as recorded: `text`, else `family given…` joined by a space.
pub fn human_name(name: &Value) -> String {
    let text = s(name, "text");
    if !text.is_empty() {
        return text.to_string();
    }
    let mut parts = vec![s(name, "family").to_string()];
    parts.extend(
        arr(name, "given")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn concept_text_prefers_text_then_display() {
        let c = json!({"coding":[{"code":"1","display":"胃炎"}],"text":"胃炎・急性"});
        assert_eq!(concept_text(&c), "胃炎・急性");
        let c = json!({"coding":[{"code":"1"},{"code":"2","display":"胃炎"}]});
        assert_eq!(concept_text(&c), "胃炎");
        assert_eq!(concept_text(&json!({})), "");
    }

    #[test]
    fn strip_html_removes_tags_and_entities() {
        let div = "<div xmlns=\"x\"><p>アレルギー:キーウイ</p>発症 &lt;2020&gt; &amp; 記録</div>";
        assert_eq!(strip_html(div), "アレルギー:キーウイ 発症 <2020> & 記録");
    }

    #[test]
    fn choice_time_and_names() {
        let v = json!({"onsetPeriod":{"start":"2020-01"},"abatementString":"昨年"});
        assert_eq!(choice_time(&v, "onset", false).as_deref(), Some("2020-01"));
        assert_eq!(choice_time(&v, "abatement", true).as_deref(), Some("昨年"));
        assert_eq!(choice_time(&v, "recorded", false), None);
        assert_eq!(
            human_name(&json!({"family":"牧野","given":["爛漫"]})),
            "牧野 爛漫"
        );
    }

    #[test]
    fn indications_from_meta_tags() {
        let v = json!({"meta":{"tag":[{"code":"LTS"},{"code":"UNINFORMED"}]}});
        let ind = indications(&v);
        assert!(ind.lts && ind.uninformed && !ind.undelivered);
    }
}
