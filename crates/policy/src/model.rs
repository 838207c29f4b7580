//! The plain data this crate receives: generations, holds, verdicts and the policy.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::duration::{format_duration, serde_duration};

/// Ransomware verdict of a generation, computed by the anomaly crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Checked and found free of ransomware signals.
    Clean,
    /// Shows ransomware signals (mass encryption, renames, entropy jump, ...).
    Suspicious,
    /// Not (yet) checked.
    #[default]
    Unknown,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Clean => "clean",
            Verdict::Suspicious => "suspicious",
            Verdict::Unknown => "unknown",
        })
    }
}

/// A legal hold: blocks deletion, has no end date, stays until explicitly released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Why the generation must be preserved (case number, investigation, ...).
    pub reason: String,
    /// Account that placed the hold.
    pub added_by: String,
    /// Repository time at which the hold was placed.
    pub added_at: DateTime<Utc>,
}

/// One generation (snapshot) as far as retention is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// Full hex id.
    pub id: String,
    /// Backup source, e.g. "ehr-db"; each source is retained independently.
    pub source: String,
    /// Host that produced the generation (informational here).
    pub host: String,
    /// Time the REPOSITORY recorded at commit; never a time claimed by the client.
    pub committed_at: DateTime<Utc>,
    /// Free-form tags, matched exactly by `keep_tags`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Retention lock (compliance semantics: can be extended, never shortened or removed).
    #[serde(default)]
    pub lock_until: Option<DateTime<Utc>>,
    /// Legal holds; any one of them blocks deletion.
    #[serde(default)]
    pub holds: Vec<Hold>,
    /// Ransomware verdict.
    #[serde(default)]
    pub verdict: Verdict,
}

/// A retention policy, stored in the repository as JSON.
///
/// `Default` has no rule at all; [`RetentionPolicy::validate`] refuses it and
/// [`crate::plan_forget`] keeps everything under it. Unknown fields are refused when
/// reading, so an older Kura never applies a newer policy with a keep rule it does not
/// understand (which would remove what that rule was meant to keep).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Keep the N newest non-suspicious generations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// Keep the newest non-suspicious generation of each of the N most recent hours that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_hourly: Option<u32>,
    /// The same per calendar day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// The same per ISO week (Monday to Sunday).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// The same per calendar month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// The same per calendar year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
    /// Keep generations committed within this duration of the source's newest one.
    /// Stored as a string such as "90d" (see [`crate::parse_duration`]).
    #[serde(
        with = "serde_duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_within: Option<Duration>,
    /// Keep generations carrying any of these tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keep_tags: Vec<String>,
    /// Every generation is locked for at least this many days after its commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_lock_days: Option<u32>,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum PolicyError {
    /// No keep rule at all: forgetting would remove every generation not locked or held.
    #[error(
        "refusing to forget with no keep rule: it would remove every generation; set at least one \
         of keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, \
         keep_within or keep_tags (a count of 0 and a duration of 0 are no rule)"
    )]
    NoKeepRule,
    /// `keep_within` is negative, which would keep nothing.
    #[error("keep_within is negative ({within}): give a positive duration such as 90d")]
    NegativeKeepWithin { within: String },
    /// An empty string in `keep_tags` matches no tag and is almost certainly a mistake.
    #[error("keep_tags contains an empty tag: remove it or write the tag name")]
    EmptyTag,
}

impl RetentionPolicy {
    /// Checks that the policy keeps something; call it before [`crate::plan_forget`].
    pub fn validate(&self) -> Result<(), PolicyError> {
        if let Some(within) = self.keep_within {
            if within < Duration::zero() {
                return Err(PolicyError::NegativeKeepWithin {
                    within: format_duration(within),
                });
            }
        }
        if self.keep_tags.iter().any(|t| t.is_empty()) {
            return Err(PolicyError::EmptyTag);
        }
        if !self.has_keep_rule() {
            return Err(PolicyError::NoKeepRule);
        }
        Ok(())
    }

    /// Whether at least one keep rule would keep something. `min_lock_days` is not a keep
    /// rule: it is a floor under every other rule.
    fn has_keep_rule(&self) -> bool {
        let counts = [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ];
        counts.iter().any(|c| c.is_some_and(|n| n > 0))
            || self.keep_within.is_some_and(|d| d > Duration::zero())
            || !self.keep_tags.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_refused() {
        let err = RetentionPolicy::default()
            .validate()
            .expect_err("empty policy refused");
        assert_eq!(err, PolicyError::NoKeepRule);
        assert!(err
            .to_string()
            .starts_with("refusing to forget with no keep rule: it would remove every generation"));
    }

    #[test]
    fn zero_counts_and_lock_alone_are_no_rule() {
        let p = RetentionPolicy {
            keep_last: Some(0),
            keep_daily: Some(0),
            keep_within: Some(Duration::zero()),
            min_lock_days: Some(30),
            ..Default::default()
        };
        assert_eq!(p.validate(), Err(PolicyError::NoKeepRule));
    }

    #[test]
    fn each_rule_alone_is_valid() {
        let policies = [
            RetentionPolicy {
                keep_last: Some(1),
                ..Default::default()
            },
            RetentionPolicy {
                keep_hourly: Some(1),
                ..Default::default()
            },
            RetentionPolicy {
                keep_daily: Some(1),
                ..Default::default()
            },
            RetentionPolicy {
                keep_weekly: Some(1),
                ..Default::default()
            },
            RetentionPolicy {
                keep_monthly: Some(1),
                ..Default::default()
            },
            RetentionPolicy {
                keep_yearly: Some(1),
                ..Default::default()
            },
            RetentionPolicy {
                keep_within: Some(Duration::days(1)),
                ..Default::default()
            },
            RetentionPolicy {
                keep_tags: vec!["archive".into()],
                ..Default::default()
            },
        ];
        for p in policies {
            assert_eq!(p.validate(), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn negative_within_and_empty_tag_are_refused() {
        let p = RetentionPolicy {
            keep_within: Some(Duration::days(-3)),
            ..Default::default()
        };
        assert_eq!(
            p.validate(),
            Err(PolicyError::NegativeKeepWithin {
                within: "-3d".into()
            })
        );
        let p = RetentionPolicy {
            keep_last: Some(3),
            keep_tags: vec![String::new()],
            ..Default::default()
        };
        assert_eq!(p.validate(), Err(PolicyError::EmptyTag));
    }

    #[test]
    fn policy_json_round_trip_uses_duration_strings() {
        let p = RetentionPolicy {
            keep_daily: Some(7),
            keep_within: Some(Duration::days(90)),
            keep_tags: vec!["monthly-archive".into()],
            min_lock_days: Some(30),
            ..Default::default()
        };
        let json = serde_json::to_string(&p).expect("serializes");
        assert_eq!(
            json,
            r#"{"keep_daily":7,"keep_within":"90d","keep_tags":["monthly-archive"],"min_lock_days":30}"#
        );
        let back: RetentionPolicy = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, p);
        let empty: RetentionPolicy = serde_json::from_str("{}").expect("parses");
        assert_eq!(empty, RetentionPolicy::default());
    }

    #[test]
    fn policy_json_refuses_unknown_fields_and_bad_durations() {
        let err = serde_json::from_str::<RetentionPolicy>(r#"{"keep_last":3,"keep_quarterly":4}"#)
            .expect_err("unknown field refused");
        assert!(err.to_string().contains("keep_quarterly"), "{err}");
        let err = serde_json::from_str::<RetentionPolicy>(r#"{"keep_within":"6M"}"#)
            .expect_err("month unit refused");
        assert!(
            err.to_string().contains("months are not supported"),
            "{err}"
        );
        let p: RetentionPolicy = serde_json::from_str(r#"{"keep_within":null}"#).expect("null ok");
        assert_eq!(p.keep_within, None);
    }

    #[test]
    fn generation_defaults_missing_optional_fields() {
        let g: Generation = serde_json::from_str(
            r#"{"id":"ab","source":"ehr-db","host":"h","committed_at":"2026-11-20T00:00:00Z"}"#,
        )
        .expect("parses");
        assert_eq!(g.verdict, Verdict::Unknown);
        assert!(g.holds.is_empty() && g.tags.is_empty() && g.lock_until.is_none());
    }
}
