//! The small tables a viewer searches without loading any patient's summary: one
//! [`PatientBrief`] per patient (kana, kanji, birth date, admission) and the ward list.
//!
//! A stored index keeps these beside the per-patient summaries so that a search or a printed
//! ward list reads a few megabytes even for 100,000 patients, and a summary lookup reads one
//! shard ([`shard_of`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::resolve::AdmissionState;
use super::PatientBrief;
use crate::kana::normalize_kana;
use crate::model::{Allergy, Medication};

/// The shard of a patient among `shards`: FNV-1a (64-bit) over the UTF-8 bytes of the patient
/// ID, modulo the number of shards. Written down in FORMAT.md: a second implementation must
/// find the same shard. `shards == 0` is treated as 1.
pub fn shard_of(patient_id: &str, shards: usize) -> usize {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for b in patient_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    (h % shards.max(1) as u64) as usize
}

/// One inpatient on the printed ward list: who, where, allergies and current medication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardEntry {
    pub patient: PatientBrief,
    pub allergies: Vec<Allergy>,
    /// Prescriptions and injections of the medication window.
    pub medications: Vec<Medication>,
}

/// Every patient's brief, with the normalised search keys built once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatientTable {
    briefs: Vec<PatientBrief>,
    /// (normalised kana, normalised kanji, position in `briefs`), sorted by kana.
    keys: Vec<(String, String, usize)>,
}

impl PatientTable {
    /// A table over `briefs` (any order; they are kept sorted by patient ID).
    pub fn new(mut briefs: Vec<PatientBrief>) -> PatientTable {
        briefs.sort_by(|a, b| a.patient_id.cmp(&b.patient_id));
        let mut keys: Vec<(String, String, usize)> = briefs
            .iter()
            .enumerate()
            .map(|(i, b)| {
                (
                    normalize_kana(&b.name_kana),
                    normalize_kana(&b.name_kanji),
                    i,
                )
            })
            .collect();
        keys.sort();
        PatientTable { briefs, keys }
    }

    /// The briefs, sorted by patient ID.
    pub fn briefs(&self) -> &[PatientBrief] {
        &self.briefs
    }

    pub fn len(&self) -> usize {
        self.briefs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.briefs.is_empty()
    }

    /// Patients whose kana (or kanji) name contains `query` after normalisation (half-width,
    /// hiragana and spaces folded). Prefix matches come first, then other matches, each in
    /// kana order. An empty query matches nothing.
    pub fn search_kana(&self, query: &str) -> Vec<PatientBrief> {
        let q = normalize_kana(query);
        if q.is_empty() {
            return Vec::new();
        }
        let mut prefix = Vec::new();
        let mut contains = Vec::new();
        for (kana, kanji, i) in &self.keys {
            if kana.starts_with(&q) || kanji.starts_with(&q) {
                prefix.push(*i);
            } else if kana.contains(&q) || kanji.contains(&q) {
                contains.push(*i);
            }
        }
        prefix
            .into_iter()
            .chain(contains)
            .filter_map(|i| self.briefs.get(i).cloned())
            .collect()
    }

    /// Patients born on `date`, by patient ID.
    pub fn search_birth(&self, date: NaiveDate) -> Vec<PatientBrief> {
        self.briefs
            .iter()
            .filter(|b| b.birth_date == Some(date))
            .cloned()
            .collect()
    }

    /// Currently admitted patients, ordered by ward, room, bed.
    pub fn inpatients(&self) -> Vec<PatientBrief> {
        let mut list: Vec<PatientBrief> = self
            .briefs
            .iter()
            .filter(|b| {
                b.admission
                    .as_ref()
                    .is_some_and(|a| a.state == AdmissionState::Admitted)
            })
            .cloned()
            .collect();
        list.sort_by_key(|b| {
            let a = b.admission.clone();
            a.map(|a| (a.ward, a.room, a.bed)).unwrap_or_default()
        });
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_of_is_fnv1a_and_stable() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (published test vector).
        assert_eq!(
            shard_of("a", usize::MAX),
            (0xaf63dc4c8601ec8c_u64 % usize::MAX as u64) as usize
        );
        assert_eq!(shard_of("", 7), (0xcbf29ce484222325_u64 % 7) as usize);
        assert_eq!(shard_of("0012345", 0), 0);
        let spread: std::collections::HashSet<usize> = (0..1000)
            .map(|i| shard_of(&format!("{i:010}"), 16))
            .collect();
        assert_eq!(spread.len(), 16, "ids spread over every shard");
    }
}
