//! Code-system names across formats, and the infection heuristics.
//!
//! HL7 v2 names code systems with short tokens (`JC10`, `HOT9`, `MDCDX2`, `I10`) while FHIR
//! uses URIs, and published JP-CLINS examples mix several URIs for the same system (MEDIS
//! URIs, CLINS subset CodeSystems, `urn:oid:` forms, `|version` suffixes). Comparing raw
//! strings would miss matches, so everything goes through [`normalize_system`] first.
//!
//! Infections: JP-CLINS tells 感染症 from 検査 by the item's CodeSystem
//! (`…/JP_CLINS_ObsLabResult_InfectionLabo_CS`). SS-MIX2 has no such marker, so for OBX we use
//! the JLAC10 analyte classification (5E 感染症血清反応, 5F ウイルス感染症関連, 6x 微生物学的検査)
//! and for diagnoses ICD-10 chapter I (A00–B99). These are heuristics and are documented as
//! such in the summary; the display text is always the source's own.

/// A code system reduced to a short canonical token, so that `JC10`,
/// `http://medis.or.jp/CodeSystem/master-JLAC10-17digits` and `urn:oid:1.2.392.200119.4.504`
/// compare equal. Unknown systems are returned trimmed and without a `|version` suffix.
pub fn normalize_system(system: &str) -> String {
    let s = system.trim();
    let s = s.split('|').next().unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    let table: &[(&str, &str)] = &[
        ("jc10", "JLAC10"),
        ("jlac10", "JLAC10"),
        ("master-jlac10-17digits", "JLAC10"),
        ("urn:oid:1.2.392.200119.4.504", "JLAC10"),
        ("hot9", "HOT9"),
        ("master-hot9", "HOT9"),
        ("urn:oid:1.2.392.200119.4.403.1", "HOT9"),
        ("urn:oid:1.2.392.100495.20.2.74", "HOT9"),
        ("hot7", "HOT7"),
        ("master-hot7", "HOT7"),
        ("hot13", "HOT13"),
        ("master-hot13", "HOT13"),
        ("yj-code", "YJ"),
        ("urn:oid:1.2.392.100495.20.2.73", "YJ"),
        ("mdcdx2", "MDCDX2"),
        ("master-disease-keynumber", "MDCDX2"),
        ("master-disease-excode", "MDCDX2-EX"),
        ("i10", "ICD10"),
        ("icd10-2013-full", "ICD10"),
        ("jamisdp01", "JAMI-USAGE"),
        ("medicationusage", "JAMI-USAGE"),
        ("mr9p", "MERIT9"),
    ];
    for (needle, canon) in table {
        if lower == *needle || lower.ends_with(&format!("/{needle}")) {
            return (*canon).to_string();
        }
    }
    // CLINS subset CodeSystems live under a `/JLAC10/` path segment.
    if lower.contains("/jlac10/") {
        return "JLAC10".to_string();
    }
    s.to_string()
}

/// True for any spelling of JLAC10 (HL7 `JC10`, MEDIS URI, CLINS subset URIs, OID).
pub fn is_jlac10_system(system: &str) -> bool {
    normalize_system(system) == "JLAC10"
}

/// True for the JP-CLINS infection lab subset CodeSystem.
pub fn is_clins_infection_system(system: &str) -> bool {
    system.contains("InfectionLabo")
}

/// JLAC10 analyte classes that are infection tests: `5E` (感染症血清反応, e.g. syphilis),
/// `5F` (ウイルス感染症関連, e.g. HBs抗原, HCV抗体, HIV) and `6` (微生物学的検査).
pub fn is_infection_jlac10(code: &str) -> bool {
    let c = code.trim();
    c.len() == 17 && (c.starts_with("5E") || c.starts_with("5F") || c.starts_with('6'))
}

/// ICD-10 chapter I (A00–B99): certain infectious and parasitic diseases.
pub fn is_infection_icd10(code: &str) -> bool {
    let mut chars = code.trim().chars();
    matches!(chars.next(), Some('A' | 'B' | 'a' | 'b'))
        && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// True when a lab item with these codes is an infection test.
pub fn is_infection_lab(codes: &[crate::model::Code]) -> bool {
    codes.iter().any(|c| {
        is_clins_infection_system(&c.system)
            || (is_jlac10_system(&c.system) && is_infection_jlac10(&c.code))
    })
}

/// True when a diagnosis with these codes is an infectious disease (ICD-10 chapter I).
pub fn is_infection_diagnosis(codes: &[crate::model::Code]) -> bool {
    codes
        .iter()
        .any(|c| normalize_system(&c.system) == "ICD10" && is_infection_icd10(&c.code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Code;

    #[test]
    fn jlac10_spellings_normalize_together() {
        for s in [
            "JC10",
            "http://medis.or.jp/CodeSystem/master-JLAC10-17digits",
            "http://jpfhir.jp/fhir/clins/CodeSystem/JLAC10/JP_CLINS_ObsLabResult_CoreLabo_CS",
            "urn:oid:1.2.392.200119.4.504",
        ] {
            assert!(is_jlac10_system(s), "{s}");
        }
        assert!(!is_jlac10_system("99XYZ"));
    }

    #[test]
    fn versioned_and_uri_systems_normalize() {
        assert_eq!(
            normalize_system("http://medis.or.jp/CodeSystem/master-HOT9|1"),
            "HOT9"
        );
        assert_eq!(
            normalize_system("http://medis.or.jp/CodeSystem/master-disease-keyNumber"),
            "MDCDX2"
        );
        assert_eq!(normalize_system("I10"), "ICD10");
        assert_eq!(normalize_system("99XYZ"), "99XYZ");
    }

    #[test]
    fn infection_classification() {
        let hbs = Code {
            code: "5F016141002305211".into(),
            system: "JC10".into(),
            display: "HBs抗原".into(),
        };
        let tp = Code {
            code: "3A010000002327101".into(),
            system: "JC10".into(),
            display: "総蛋白".into(),
        };
        assert!(is_infection_lab(std::slice::from_ref(&hbs)));
        assert!(!is_infection_lab(std::slice::from_ref(&tp)));
        let flu = Code {
            code: "J111".into(),
            system: "I10".into(),
            display: String::new(),
        };
        let tb = Code {
            code: "A162".into(),
            system: "I10".into(),
            display: String::new(),
        };
        assert!(!is_infection_diagnosis(&[flu]));
        assert!(is_infection_diagnosis(&[tb]));
        assert!(!is_infection_icd10("B"));
    }
}
