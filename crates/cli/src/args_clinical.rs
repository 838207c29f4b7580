//! Arguments of the clinical commands (`kura clinical ...`). Flattened into the top-level command
//! list by args.rs.
//!
//! Every command that shows patient data takes `--reason`: viewing clinical data from a backup is
//! break-glass access, and the reason is written to the audit log with the view.

use chrono::NaiveDate;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ClinicalCommand {
    /// The clinical index built from clinical sources (SS-MIX2, JP-CLINS FHIR).
    Clinical {
        #[command(subcommand)]
        command: ClinicalSub,
    },
}

#[derive(Subcommand)]
pub enum ClinicalSub {
    /// One patient's summary (患者サマリー) from the newest clean generation holding them.
    Summary {
        /// Hospital patient ID (患者ID).
        #[arg(long)]
        patient: String,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Find patients by kana (or kanji) name, or by birth date.
    Search {
        #[command(flatten)]
        by: SearchBy,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Ward list (病棟患者一覧) of inpatients with allergies and current prescriptions, for paper
    /// fallback during an outage.
    Ward {
        /// Only this ward (病棟コード).
        #[arg(long)]
        ward: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Build (or rebuild) the clinical index of an existing generation.
    Index {
        /// Generation: an ID prefix, `latest` or `latest:SOURCE`.
        #[arg(long, default_value = "latest")]
        snapshot: String,
        /// How the generation's files are read.
        #[arg(long, value_parser = ["ss-mix2", "fhir"])]
        format: String,
    },
    /// List generations that have a clinical index, with their verdicts and parse reports.
    List {
        /// Only generations of this source.
        #[arg(long)]
        source: Option<String>,
    },
}

/// Which generation a view reads, and why the clinician is looking.
#[derive(Args)]
pub struct ViewArgs {
    /// Read this generation (ID prefix, `latest`, `latest:SOURCE`) even if it is suspicious;
    /// default: the newest clean generation.
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Only generations of this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Why the data is viewed (break-glass), written to the audit log. Asked for on a terminal
    /// when not given.
    #[arg(long, env = "KURA_VIEW_REASON")]
    pub reason: Option<String>,
}

/// Exactly one search key.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct SearchBy {
    /// Kana or kanji name, or its start (half-width, hiragana and spaces are folded).
    #[arg(long)]
    pub kana: Option<String>,
    /// Birth date, YYYY-MM-DD or YYYYMMDD.
    #[arg(long, value_parser = parse_date)]
    pub birth: Option<NaiveDate>,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .map_err(|_| format!("{s:?} is not a date: write YYYY-MM-DD, e.g. 1980-01-02"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_forms_parse_and_nonsense_is_refused() {
        let d = NaiveDate::from_ymd_opt(1980, 1, 2);
        assert_eq!(parse_date("1980-01-02").ok(), d);
        assert_eq!(parse_date("19800102").ok(), d);
        assert!(parse_date("1980-13-02").is_err());
        assert!(parse_date("昭和55年").is_err());
    }
}
