//! SS-MIX2 standard-storage paths and file names.
//!
//! `<root>/<PID[0:3]>/<PID[3:6]>/<PID>/<診療日|->/<データ種別>/<file>` where the file name is
//! `<患者ID>_<診療日|->_<データ種別>_<オーダNo>_<発生日時 17>_<診療科|->_<0|1|2>`.
//!
//! The file name alone carries every key field, so only the name is parsed; the folders are
//! not checked (the guideline's rule for IDs shorter than six characters is unknown, and
//! backups may strip or add a root prefix). Splitting is done from both ends so a data-type
//! name containing `_` (extended storage) still parses. Known extensions (`.txt`, `.hl7`,
//! `.dat`) written by some tools are stripped.

use serde::{Deserialize, Serialize};

use crate::error::ClinicalError;

/// The condition flag (コンディションフラグ), the last field of the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConditionFlag {
    /// `1`: the current (valid) version.
    Current,
    /// `2`: superseded by a newer version (renamed from `1` by the writer).
    Replaced,
    /// `0`: deleted (renamed from `1`/`2`, or the delete message itself).
    Deleted,
}

impl ConditionFlag {
    fn parse(s: &str) -> Option<ConditionFlag> {
        match s {
            "1" => Some(ConditionFlag::Current),
            "2" => Some(ConditionFlag::Replaced),
            "0" => Some(ConditionFlag::Deleted),
            _ => None,
        }
    }

    /// The digit used in file names.
    pub fn as_char(self) -> char {
        match self {
            ConditionFlag::Current => '1',
            ConditionFlag::Replaced => '2',
            ConditionFlag::Deleted => '0',
        }
    }
}

/// A parsed SS-MIX2 file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ssmix2Name {
    pub patient_id: String,
    /// 診療日 `YYYYMMDD`, or `None` for the `-` (undated) folder.
    pub date: Option<String>,
    /// データ種別, e.g. `ADT-00`, `OMP-01`.
    pub data_type: String,
    /// オーダNo (`999999999999999` when the message has no order).
    pub order_no: String,
    /// 発生日時, 17 digits `YYYYMMDDHHMMSSfff`; orders versions of one record.
    pub timestamp: String,
    /// 診療科コード, or `None` for `-`.
    pub department: Option<String>,
    pub flag: ConditionFlag,
}

impl Ssmix2Name {
    /// Parse the last component of `rel_path` (either `/` or `\` separators).
    pub fn parse(rel_path: &str) -> Result<Ssmix2Name, ClinicalError> {
        let bad = |why| ClinicalError::BadSsmix2Path {
            path: rel_path.to_string(),
            why,
        };
        let name = rel_path.rsplit(['/', '\\']).next().unwrap_or(rel_path);
        let name = strip_known_extension(name);
        let parts: Vec<&str> = name.split('_').collect();
        if parts.len() < 7 {
            return Err(bad("fewer than 7 '_'-separated fields"));
        }
        let n = parts.len();
        let patient_id = parts[0];
        let date = parts[1];
        let data_type = parts[2..n - 4].join("_");
        let (order_no, timestamp, department, flag) =
            (parts[n - 4], parts[n - 3], parts[n - 2], parts[n - 1]);
        if patient_id.is_empty() || data_type.is_empty() || order_no.is_empty() {
            return Err(bad("empty patient ID, data type or order number"));
        }
        let date = match date {
            "-" => None,
            d if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => Some(d.to_string()),
            _ => return Err(bad("date is neither YYYYMMDD nor '-'")),
        };
        // The guideline says 17 digits; tolerate shorter digit runs seen in the field.
        if timestamp.len() < 8 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("occurrence time is not a digit run"));
        }
        let flag = ConditionFlag::parse(flag).ok_or_else(|| bad("condition flag not 0, 1 or 2"))?;
        Ok(Ssmix2Name {
            patient_id: patient_id.to_string(),
            date,
            data_type,
            order_no: order_no.to_string(),
            timestamp: timestamp.to_string(),
            department: (department != "-" && !department.is_empty())
                .then(|| department.to_string()),
            flag,
        })
    }

    /// The logical record key: (患者ID, 診療日, データ種別, オーダNo). All versions of one
    /// record share it; the flag and timestamp tell them apart.
    pub fn record_key(&self) -> String {
        format!(
            "ssmix2:{}/{}/{}/{}",
            self.patient_id,
            self.date.as_deref().unwrap_or("-"),
            self.data_type,
            self.order_no
        )
    }

    /// The version ordering key: the 17-digit 発生日時 padded so shorter runs sort correctly.
    pub fn version(&self) -> String {
        format!("{:0<17}", self.timestamp)
    }

    /// The file name this record would have (no extension).
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}_{}_{}_{}_{}",
            self.patient_id,
            self.date.as_deref().unwrap_or("-"),
            self.data_type,
            self.order_no,
            self.timestamp,
            self.department.as_deref().unwrap_or("-"),
            self.flag.as_char()
        )
    }

    /// The standard relative path `PID[0:3]/PID[3:6]/PID/date/type/name`. IDs shorter than six
    /// characters use what is there (the guideline's rule for them is unknown).
    pub fn standard_path(&self) -> String {
        let id = &self.patient_id;
        let head: String = id.chars().take(3).collect();
        let mid: String = id.chars().skip(3).take(3).collect();
        format!(
            "{head}/{mid}/{id}/{}/{}/{}",
            self.date.as_deref().unwrap_or("-"),
            self.data_type,
            self.file_name()
        )
    }
}

fn strip_known_extension(name: &str) -> &str {
    for ext in [".txt", ".hl7", ".dat", ".TXT", ".HL7", ".DAT"] {
        if let Some(stem) = name.strip_suffix(ext) {
            return stem;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dated_order_file() {
        let n = Ssmix2Name::parse(
            "999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1",
        )
        .expect("valid name");
        assert_eq!(n.patient_id, "9999013");
        assert_eq!(n.date.as_deref(), Some("20110701"));
        assert_eq!(n.data_type, "OMP-01");
        assert_eq!(n.order_no, "000000011000185");
        assert_eq!(n.timestamp, "20110701224603984");
        assert_eq!(n.department.as_deref(), Some("01"));
        assert_eq!(n.flag, ConditionFlag::Current);
        assert_eq!(
            n.standard_path(),
            "999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1"
        );
    }

    #[test]
    fn parses_undated_file_with_dash_department_and_windows_separators() {
        let n = Ssmix2Name::parse(
            r"root\999\901\9999013\-\ADT-00\9999013_-_ADT-00_999999999999999_20111220224447339_-_0.hl7",
        )
        .expect("valid name");
        assert_eq!(n.date, None);
        assert_eq!(n.department, None);
        assert_eq!(n.flag, ConditionFlag::Deleted);
        assert_eq!(n.record_key(), "ssmix2:9999013/-/ADT-00/999999999999999");
    }

    #[test]
    fn data_type_with_underscore_is_split_from_both_ends() {
        let n = Ssmix2Name::parse("1234567_20200101_A_B_000000000000001_20200101000000000_-_2")
            .expect("valid name");
        assert_eq!(n.data_type, "A_B");
        assert_eq!(n.flag, ConditionFlag::Replaced);
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "",
            "README.md",
            "9999013_-_ADT-00_999_20111220224447339_-_7",
            "9999013_2011_ADT-00_999_20111220224447339_-_1",
            "9999013_-_ADT-00_999_2011x220224447339_-_1",
            "_-_ADT-00_999_20111220224447339_-_1",
        ] {
            assert!(
                Ssmix2Name::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn short_timestamps_sort_as_if_padded() {
        let a = Ssmix2Name::parse("1_-_ADT-00_9_201112202244_-_1").expect("valid");
        let b = Ssmix2Name::parse("1_-_ADT-00_9_20111220224447339_-_1").expect("valid");
        assert!(a.version() < b.version());
    }
}
