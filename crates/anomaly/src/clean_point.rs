//! The last clean generation of a source, and the newest valid version of each file.
//!
//! After a slow attack no single generation may be clean: each night encrypted another
//! share of the files. What a hospital needs then is, per file, the newest version that
//! is still *valid*, wherever it is. [`assemble_clean`] walks each path's versions from
//! oldest to newest and judges every version against the last valid one before it (so
//! an encrypted version never becomes the reference, and a repaired file is valid again),
//! then picks the newest valid version and says why every newer version was refused.
//!
//! "Valid" ([`default_validity`]) means: not named like a ransom note; content consistent
//! with the extension; the same recognised type as the last valid version (or one the
//! extension equally allows); not random-looking when the type is text-like or when the
//! file was not random before; and no header that turned random behind a kept magic.
//!
//! Which paths are assembled: every path present in the newest clean generation or any
//! later one (all generations if none is clean). Paths deleted before the newest clean
//! generation were deleted in peace and are not brought back; paths that disappeared after
//! it are restored, since ransomware deletes originals, and flagged in the report.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::AnomalyError;
use crate::filetype::{expected_types, extension, is_consistent, EntropyClass, FileType};
use crate::notes::is_ransom_note;
use crate::observation::VerdictKind;
use crate::signals::FileSummary;

/// A generation (snapshot) id, as the repository prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GenerationId(pub String);

/// A file content id (e.g. the hash of its chunk list), as the repository prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentId(pub String);

/// One version of one file in one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileVersion {
    /// Which content.
    pub content: ContentId,
    /// Its signals summary.
    pub summary: FileSummary,
}

/// One generation of a source: its verdict and its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationFiles {
    /// Generation id.
    pub id: GenerationId,
    /// Verdict stored with it.
    pub verdict: VerdictKind,
    /// Path -> version.
    pub files: BTreeMap<String, FileVersion>,
}

/// Result of judging one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// The version can be restored.
    Valid,
    /// It cannot, for this reason.
    Invalid(String),
}

/// A version that was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Generation holding it.
    pub generation: GenerationId,
    /// Why it is not valid.
    pub reason: String,
}

/// The version chosen for a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssembledFile {
    /// Path in the source.
    pub path: String,
    /// Generation it comes from.
    pub generation: GenerationId,
    /// Content to restore.
    pub content: ContentId,
    /// The generation holding it was judged suspicious (the file itself looks valid).
    pub from_suspicious: bool,
    /// The path is absent from the newest generation (deleted after the clean point).
    pub absent_from_newest: bool,
    /// Newer versions that were refused, oldest first.
    pub newer_invalid: Vec<Rejected>,
}

/// A path with no valid version at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedFile {
    /// Path in the source.
    pub path: String,
    /// Every version and why it was refused.
    pub rejected: Vec<Rejected>,
}

/// The per-file clean assembly and its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanAssembly {
    /// Newest generation with a clean verdict, if any.
    pub newest_clean: Option<GenerationId>,
    /// Chosen version per path, sorted by path.
    pub files: Vec<AssembledFile>,
    /// Paths with no valid version, sorted by path.
    pub excluded: Vec<ExcludedFile>,
}

/// Newest generation whose verdict is clean; generations are given oldest first.
pub fn newest_clean<'a, I>(generations: I) -> Option<&'a GenerationId>
where
    I: IntoIterator<Item = (&'a GenerationId, VerdictKind)>,
{
    generations
        .into_iter()
        .filter(|(_, v)| *v == VerdictKind::Clean)
        .map(|(id, _)| id)
        .last()
}

/// The default validity rule described in the module documentation. `last_valid` is the
/// newest earlier version of the same path that was judged valid.
pub fn default_validity(path: &str, v: &FileVersion, last_valid: Option<&FileVersion>) -> Validity {
    let s = &v.summary;
    let lv = last_valid.map(|l| &l.summary);
    if is_ransom_note(path) {
        return Validity::Invalid("named like a ransom note".into());
    }
    let same_type_as_before = lv.is_some_and(|l| l.file_type == s.file_type);
    if !is_consistent(path, s.file_type) && !same_type_as_before {
        return Validity::Invalid(format!(
            "content is {} but the extension promises something else",
            s.file_type.label()
        ));
    }
    if let Some(l) = lv {
        if l.file_type.is_recognised() && !compatible(path, l.file_type, s.file_type) {
            return Validity::Invalid(format!(
                "was {}, now {}",
                l.file_type.label(),
                s.file_type.label()
            ));
        }
        if s.file_type == l.file_type && !l.lead_random && s.lead_random {
            return Validity::Invalid("header turned random-looking".into());
        }
    }
    if s.random_looking {
        let low = s.file_type.entropy_class() == EntropyClass::Low;
        let unexpected = s.file_type == FileType::Unknown && lv.is_none_or(|l| !l.random_looking);
        if low || unexpected {
            return Validity::Invalid(format!(
                "random-looking data in a {} file that was not random before",
                s.file_type.label()
            ));
        }
    }
    if s.file_type == FileType::Unknown && s.lead_random && lv.is_none_or(|l| !l.lead_random) {
        return Validity::Invalid("unrecognised data with a random-looking header".into());
    }
    Validity::Valid
}

/// Same type, both text-like (HL7 is text), or both allowed by the extension.
fn compatible(path: &str, was: FileType, now: FileType) -> bool {
    if was == now {
        return true;
    }
    let text = |t| matches!(t, FileType::Text | FileType::Hl7);
    if text(was) && text(now) {
        return true;
    }
    extension(path).is_some_and(|e| {
        let allowed = expected_types(&e);
        allowed.contains(&was) && allowed.contains(&now)
    })
}

/// Assembles the newest valid version of every path; generations oldest first. `validity`
/// is usually [`default_validity`]. A version whose content equals the last valid one is
/// valid without asking (an unchanged file stays as good as it was).
pub fn assemble_clean<F>(
    generations: &[GenerationFiles],
    validity: F,
) -> Result<CleanAssembly, AnomalyError>
where
    F: Fn(&str, &FileVersion, Option<&FileVersion>) -> Validity,
{
    let mut seen = HashSet::new();
    for g in generations {
        if !seen.insert(&g.id) {
            return Err(AnomalyError::DuplicateGeneration(g.id.0.clone()));
        }
    }
    let clean_index = generations
        .iter()
        .rposition(|g| g.verdict == VerdictKind::Clean);
    let scope: BTreeSet<&String> = generations[clean_index.unwrap_or(0)..]
        .iter()
        .flat_map(|g| g.files.keys())
        .collect();
    let mut out = CleanAssembly {
        newest_clean: clean_index.map(|i| generations[i].id.clone()),
        files: Vec::new(),
        excluded: Vec::new(),
    };
    for path in scope {
        match choose(generations, path, &validity) {
            Ok(file) => out.files.push(file),
            Err(rejected) => out.excluded.push(ExcludedFile {
                path: path.clone(),
                rejected,
            }),
        }
    }
    Ok(out)
}

/// The newest valid version of one path, or every rejection if there is none.
fn choose<F>(
    gens: &[GenerationFiles],
    path: &str,
    validity: &F,
) -> Result<AssembledFile, Vec<Rejected>>
where
    F: Fn(&str, &FileVersion, Option<&FileVersion>) -> Validity,
{
    let mut last_valid: Option<(usize, &FileVersion)> = None;
    let mut rejected: Vec<(usize, String)> = Vec::new();
    for (i, g) in gens.iter().enumerate() {
        let Some(v) = g.files.get(path) else { continue };
        let reference = last_valid.map(|(_, lv)| lv);
        let verdict = if reference.is_some_and(|lv| lv.content == v.content) {
            Validity::Valid
        } else {
            validity(path, v, reference)
        };
        match verdict {
            Validity::Valid => last_valid = Some((i, v)),
            Validity::Invalid(reason) => rejected.push((i, reason)),
        }
    }
    let to_rejected = |(i, reason): (usize, String)| Rejected {
        generation: gens[i].id.clone(),
        reason,
    };
    let Some((i, v)) = last_valid else {
        return Err(rejected.into_iter().map(to_rejected).collect());
    };
    Ok(AssembledFile {
        path: path.to_string(),
        generation: gens[i].id.clone(),
        content: v.content.clone(),
        from_suspicious: gens[i].verdict == VerdictKind::Suspicious,
        absent_from_newest: gens.last().is_some_and(|g| !g.files.contains_key(path)),
        newer_invalid: rejected
            .into_iter()
            .filter(|(j, _)| *j > i)
            .map(to_rejected)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::FileSignals;

    fn version(content: &str, data: &[u8]) -> FileVersion {
        FileVersion {
            content: ContentId(content.into()),
            summary: FileSignals::of(data).summary(),
        }
    }

    fn random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn gen(id: &str, verdict: VerdictKind, files: Vec<(&str, FileVersion)>) -> GenerationFiles {
        GenerationFiles {
            id: GenerationId(id.into()),
            verdict,
            files: files.into_iter().map(|(p, v)| (p.to_string(), v)).collect(),
        }
    }

    #[test]
    fn newest_clean_is_the_last_clean_one() {
        let ids: Vec<GenerationId> = (0..4).map(|i| GenerationId(format!("g{i}"))).collect();
        let v = [
            VerdictKind::Clean,
            VerdictKind::Clean,
            VerdictKind::Suspicious,
            VerdictKind::Suspicious,
        ];
        assert_eq!(newest_clean(ids.iter().zip(v)), Some(&ids[1]));
        assert_eq!(
            newest_clean(ids.iter().zip([VerdictKind::Suspicious; 4])),
            None
        );
    }

    #[test]
    fn slow_attack_takes_each_file_from_its_last_valid_generation() {
        use VerdictKind::*;
        let pdf1 = b"%PDF-1.7\n1 0 obj << >> endobj\nversion one".to_vec();
        let pdf2 = b"%PDF-1.7\n1 0 obj << >> endobj\nversion two".to_vec();
        let hl7 = b"MSH|^~\\&|HIS|||20260401||ADT^A08|1|P|2.5\rPID|1||123\r".repeat(20);
        let gens = vec![
            gen(
                "g0",
                Clean,
                vec![("a.pdf", version("a1", &pdf1)), ("m", version("m1", &hl7))],
            ),
            gen(
                "g1",
                Suspicious,
                vec![
                    ("a.pdf", version("a2", &pdf2)),
                    ("m", version("mx", &random(1000, 1))),
                ],
            ),
            gen(
                "g2",
                Suspicious,
                vec![
                    ("a.pdf", version("ax", &random(3000, 2))),
                    ("m", version("mx", &random(1000, 1))),
                    ("HOW_TO_DECRYPT.txt", version("n", b"pay us")),
                ],
            ),
        ];
        let a = assemble_clean(&gens, default_validity).unwrap();
        assert_eq!(a.newest_clean, Some(GenerationId("g0".into())));
        let by: BTreeMap<_, _> = a.files.iter().map(|f| (f.path.as_str(), f)).collect();
        assert_eq!(by["a.pdf"].content.0, "a2");
        assert_eq!(by["a.pdf"].generation.0, "g1");
        assert!(by["a.pdf"].from_suspicious);
        assert_eq!(by["a.pdf"].newer_invalid.len(), 1);
        assert_eq!(by["m"].content.0, "m1");
        assert_eq!(
            by["m"].newer_invalid.len(),
            2,
            "the encrypted version in g1 and in g2"
        );
        assert_eq!(a.excluded.len(), 1);
        assert_eq!(a.excluded[0].path, "HOW_TO_DECRYPT.txt");
    }

    #[test]
    fn files_deleted_after_the_clean_point_come_back_and_earlier_deletions_do_not() {
        use VerdictKind::*;
        let t = b"some text\n".to_vec();
        let gens = vec![
            gen(
                "g0",
                Clean,
                vec![("old.txt", version("o", &t)), ("x.txt", version("x", &t))],
            ),
            gen("g1", Clean, vec![("x.txt", version("x", &t))]),
            gen(
                "g2",
                Suspicious,
                vec![("x.txt.locked", version("xl", &random(500, 3)))],
            ),
        ];
        let a = assemble_clean(&gens, default_validity).unwrap();
        let paths: Vec<&str> = a.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["x.txt"]);
        assert!(a.files[0].absent_from_newest);
        assert_eq!(a.excluded[0].path, "x.txt.locked");
    }

    #[test]
    fn duplicate_generation_ids_are_refused() {
        let g = gen("same", VerdictKind::Clean, vec![]);
        let err = assemble_clean(&[g.clone(), g], default_validity).unwrap_err();
        assert!(err.to_string().contains("same"));
        assert!(assemble_clean(&[], default_validity)
            .unwrap()
            .files
            .is_empty());
    }

    #[test]
    fn default_validity_rules() {
        let pdf = version("p", b"%PDF-1.7\n%abc\n");
        let zip = version("z", b"PK\x03\x04rest");
        assert_eq!(default_validity("a.pdf", &pdf, None), Validity::Valid);
        assert!(matches!(
            default_validity("a.pdf", &zip, None),
            Validity::Invalid(_)
        ));
        assert!(matches!(
            default_validity("a", &zip, Some(&pdf)),
            Validity::Invalid(_)
        ));
        let hl7 = version("h", b"MSH|^~\\&|x\r");
        let txt = version("t", b"plain text\n");
        assert_eq!(default_validity("m", &txt, Some(&hl7)), Validity::Valid);
        let ole = version("o", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest");
        let docx = version("d", b"PK\x03\x04rest");
        assert_eq!(
            default_validity("a.doc", &docx, Some(&ole)),
            Validity::Valid
        );
        let blob = version("b", &random(4000, 9));
        assert!(matches!(
            default_validity("data.bin", &blob, None),
            Validity::Invalid(_)
        ));
        let blob2 = version("b2", &random(4000, 10));
        assert_eq!(
            default_validity("data.bin", &blob2, Some(&blob)),
            Validity::Valid
        );
    }
}
