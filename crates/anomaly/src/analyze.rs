//! From one generation's observation and the source's history to a verdict.
//!
//! 1. Every change is judged alone ([`crate::assess`]) and the flags are tallied, with the
//!    first example paths and a breakdown by former type or new extension.
//! 2. Each signal's count becomes a fraction of the source's files, and is compared with
//!    the highest fraction this source showed in its recent clean generations (the learned
//!    baseline, capped so history can never hide a mass event).
//! 3. The excess over the baseline becomes a strength in 0..1 (0 at `floor_fraction`
//!    above the baseline, 1 at `full_fraction` above, or at `full_count` files), times the
//!    signal's weight: points in 0..100.
//! 4. The score is the strongest signal's points plus 30% of the others', capped at 100;
//!    at `suspicious_score` or above the generation is suspicious.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::assess::{assess, pair_appended, FileFlags};
use crate::error::AnomalyError;
use crate::filetype::FileType;
use crate::observation::{
    ChangeKind, GenerationObservation, GenerationSummary, SignalCounts, SourceHistory, VerdictKind,
};
use crate::signals::BlockPattern;

/// The signals a verdict can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Recognised type replaced by random-looking data.
    TypeLost,
    /// Content became random-looking.
    EntropyJump,
    /// Random blocks alternate or only the head is random.
    Intermittent,
    /// Content no longer what the extension promises.
    ExtensionMismatch,
    /// New unrecognised random-looking files.
    NewRandom,
    /// Files renamed to unknown extensions.
    ExtensionChanged,
    /// Ransom-note names.
    RansomNotes,
    /// Originals deleted and random-looking copies written.
    CopyEncryptDelete,
    /// More deletions than this source ever had.
    MassDeletion,
    /// More changes than this source ever had.
    ChangeVolume,
}

/// Tunable thresholds; [`Thresholds::default`] documents the values used and tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Score (0..100) at or above which a generation is suspicious. Default 50.
    pub suspicious_score: f64,
    /// Fraction of files above the baseline where a per-file signal starts to count.
    /// Default 0.5%.
    pub floor_fraction: f64,
    /// Fraction above the baseline where it counts fully. Default 2.5% (so an attack on
    /// 5% of files scores its full weight).
    pub full_fraction: f64,
    /// Affected files that count fully whatever the fraction (huge sources). Default 500.
    pub full_count: u64,
    /// How many recent clean generations the baseline is learned from. Default 30.
    pub history_window: usize,
    /// Clean generations needed before any baseline is learned. Default 3.
    pub min_history: usize,
    /// The most a learned baseline can excuse for per-file signals. Default 10%.
    pub baseline_cap: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            suspicious_score: 50.0,
            floor_fraction: 0.005,
            full_fraction: 0.025,
            full_count: 500,
            history_window: 30,
            min_history: 3,
            baseline_cap: 0.10,
        }
    }
}

impl Thresholds {
    /// Refuses values that make the scoring meaningless.
    pub fn validate(&self) -> Result<(), AnomalyError> {
        let bad = |name, value, expected| {
            Err(AnomalyError::InvalidThreshold {
                name,
                value,
                expected,
            })
        };
        if !(self.suspicious_score > 0.0 && self.suspicious_score <= 100.0) {
            return bad("suspicious_score", self.suspicious_score, "in (0, 100]");
        }
        if !(self.floor_fraction >= 0.0 && self.floor_fraction < self.full_fraction) {
            return bad(
                "floor_fraction",
                self.floor_fraction,
                ">= 0 and < full_fraction",
            );
        }
        if self.full_fraction > 1.0 {
            return bad("full_fraction", self.full_fraction, "<= 1");
        }
        if !(0.0..=1.0).contains(&self.baseline_cap) {
            return bad("baseline_cap", self.baseline_cap, "in [0, 1]");
        }
        if self.full_count == 0 {
            return bad("full_count", 0.0, ">= 1");
        }
        Ok(())
    }
}

/// One signal's contribution to a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Which signal.
    pub signal: Signal,
    /// Files (or deletions) concerned.
    pub count: u64,
    /// `count` over the source's files.
    pub fraction: f64,
    /// Fraction this source showed in recent clean generations (learned baseline).
    pub baseline: f64,
    /// Contribution, 0..100.
    pub points: f64,
    /// Up to three example paths.
    pub examples: Vec<String>,
    /// The sentence shown to a person.
    pub reason: String,
}

/// The verdict stored with a generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `clean` or `suspicious`.
    pub verdict: VerdictKind,
    /// 0 (nothing seen) to 100 (certain); suspicious at [`Thresholds::suspicious_score`].
    pub score: f64,
    /// Readable reasons, strongest first: every finding that scored points, and on a
    /// suspicious generation also those seen below their threshold.
    pub reasons: Vec<String>,
}

/// Everything one analysis produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The verdict.
    pub verdict: Verdict,
    /// Every signal that was seen at all (also those that scored 0), strongest first.
    pub findings: Vec<Finding>,
    /// To be stored with the generation and passed back in the next [`SourceHistory`].
    pub summary: GenerationSummary,
}

/// Counts and examples of one signal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub count: u64,
    pub examples: Vec<String>,
    /// Breakdown: former type, new extension, or pattern name -> count.
    pub by: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, path: &str, key: Option<&str>) {
        self.count += 1;
        if self.examples.len() < 3 {
            self.examples.push(path.to_string());
        }
        if let Some(k) = key {
            *self.by.entry(k.to_string()).or_default() += 1;
        }
    }
}

/// All tallies of one generation.
#[derive(Debug, Default)]
pub(crate) struct Tallies {
    pub signals: BTreeMap<Signal, Tally>,
    pub note_folders: BTreeSet<String>,
    pub deleted_unpaired: Tally,
    pub randomised_replacements: u64,
    pub entropy_sum: f64,
    pub entropy_n: u64,
}

/// Analyses one generation of a source. Never fails and never panics: invalid thresholds
/// are replaced by the defaults (call [`Thresholds::validate`] to be told instead).
pub fn analyze(
    obs: &GenerationObservation,
    history: &SourceHistory,
    thresholds: &Thresholds,
) -> Analysis {
    let defaults = Thresholds::default();
    let th = if thresholds.validate().is_ok() {
        thresholds
    } else {
        &defaults
    };
    let t = tally(obs);
    let mut summary = summarize(obs, &t);
    let baselines = Baselines::learn(history, th);
    let mut findings = crate::report::findings(&t, &summary, &baselines, th);
    findings.sort_by(|a, b| b.points.total_cmp(&a.points).then(a.signal.cmp(&b.signal)));
    let score = combine(findings.iter().map(|f| f.points));
    let verdict = if score >= th.suspicious_score {
        VerdictKind::Suspicious
    } else {
        VerdictKind::Clean
    };
    summary.verdict = verdict;
    // Findings that scored nothing are context worth reading on a suspicious generation
    // (e.g. how many of the encrypted files showed the intermittent pattern), and noise on
    // a clean one.
    let reasons = findings
        .iter()
        .filter(|f| f.points > 0.0 || verdict == VerdictKind::Suspicious)
        .map(|f| f.reason.clone())
        .collect();
    Analysis {
        verdict: Verdict {
            verdict,
            score,
            reasons,
        },
        findings,
        summary,
    }
}

/// Strongest points plus 30% of the rest, capped at 100: one strong signal suffices, and
/// several weak ones add up without a single weak one ever being enough.
fn combine(points: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = points.filter(|p| *p > 0.0).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    let Some((first, rest)) = v.split_first() else {
        return 0.0;
    };
    let s = first + 0.3 * rest.iter().sum::<f64>();
    (s.min(100.0) * 10.0).round() / 10.0
}

fn tally(obs: &GenerationObservation) -> Tallies {
    let (judged, unpaired) = pair_appended(&obs.changes);
    let mut t = Tallies::default();
    for j in &judged {
        let flags = assess(j);
        record(&mut t, j.path, &flags);
        // A pairing by appended suffix stands for a deletion plus a random copy.
        if j.appended && (flags.type_lost.is_some() || flags.entropy_jump) {
            t.randomised_replacements += 1;
        }
    }
    for c in &obs.changes {
        if c.kind == ChangeKind::Changed {
            if let Some(s) = &c.signals {
                t.entropy_sum += f64::from(s.entropy);
                t.entropy_n += 1;
            }
        }
    }
    for d in unpaired {
        t.deleted_unpaired.add(&d.path, None);
    }
    t
}

fn record(t: &mut Tallies, path: &str, f: &FileFlags) {
    let mut add = |s: Signal, key: Option<&str>| t.signals.entry(s).or_default().add(path, key);
    if let Some(from) = f.type_lost {
        add(Signal::TypeLost, Some(from.label()));
    }
    if f.entropy_jump {
        add(Signal::EntropyJump, None);
    }
    if let Some(p) = f.intermittent {
        let key = match p {
            BlockPattern::Alternating => "alternating blocks",
            _ => "head only",
        };
        add(Signal::Intermittent, Some(key));
    }
    if let Some(actual) = f.extension_mismatch {
        add(Signal::ExtensionMismatch, Some(actual.label()));
    }
    if f.new_random {
        add(Signal::NewRandom, Some(FileType::Unknown.label()));
    }
    if let Some(ext) = &f.extension_changed {
        add(Signal::ExtensionChanged, Some(&format!(".{ext}")));
    }
    if f.ransom_note {
        add(Signal::RansomNotes, None);
        let folder = path.rfind('/').map_or("", |i| &path[..i]);
        t.note_folders.insert(folder.to_string());
    }
}

fn summarize(obs: &GenerationObservation, t: &Tallies) -> GenerationSummary {
    let kind_count =
        |pred: fn(&ChangeKind) -> bool| obs.changes.iter().filter(|c| pred(&c.kind)).count() as u64;
    let count = |s: Signal| t.signals.get(&s).map_or(0, |x| x.count);
    GenerationSummary {
        files_before: obs.files_before(),
        files_after: obs.files_after(),
        new: kind_count(|k| *k == ChangeKind::New),
        changed: kind_count(|k| *k == ChangeKind::Changed),
        deleted: kind_count(|k| *k == ChangeKind::Deleted),
        renamed: kind_count(|k| matches!(k, ChangeKind::Renamed { .. })),
        signals: SignalCounts {
            type_lost: count(Signal::TypeLost),
            entropy_jump: count(Signal::EntropyJump),
            intermittent: count(Signal::Intermittent),
            extension_mismatch: count(Signal::ExtensionMismatch),
            new_random: count(Signal::NewRandom),
            extension_changed: count(Signal::ExtensionChanged),
            ransom_notes: count(Signal::RansomNotes),
            deleted: t.deleted_unpaired.count,
            touched: obs.changes.len() as u64,
        },
        mean_entropy_changed: (t.entropy_n > 0)
            .then(|| (t.entropy_sum / t.entropy_n as f64) as f32),
        verdict: VerdictKind::Clean,
    }
}

/// Highest fraction of each signal in the source's recent clean generations.
#[derive(Debug, Default, Clone)]
pub(crate) struct Baselines {
    per_signal: BTreeMap<Signal, f64>,
    pub deleted: f64,
    pub touched: f64,
}

impl Baselines {
    fn learn(history: &SourceHistory, th: &Thresholds) -> Baselines {
        let clean: Vec<&GenerationSummary> = history
            .generations
            .iter()
            .rev()
            .filter(|g| g.verdict == VerdictKind::Clean)
            .take(th.history_window)
            .collect();
        let mut b = Baselines::default();
        if clean.len() < th.min_history {
            return b;
        }
        let max = |f: &dyn Fn(&SignalCounts) -> u64| {
            clean
                .iter()
                .map(|g| f(&g.signals) as f64 / g.denominator() as f64)
                .fold(0.0, f64::max)
        };
        let cap = th.baseline_cap;
        let s = &mut b.per_signal;
        s.insert(Signal::TypeLost, max(&|c| c.type_lost).min(cap));
        s.insert(Signal::EntropyJump, max(&|c| c.entropy_jump).min(cap));
        s.insert(Signal::Intermittent, max(&|c| c.intermittent).min(cap));
        s.insert(
            Signal::ExtensionMismatch,
            max(&|c| c.extension_mismatch).min(cap),
        );
        s.insert(Signal::NewRandom, max(&|c| c.new_random).min(cap));
        s.insert(
            Signal::ExtensionChanged,
            max(&|c| c.extension_changed).min(cap),
        );
        // Volume and deletions are weak signals: a source that rewrites everything nightly
        // may learn a baseline of 100%.
        b.deleted = max(&|c| c.deleted).min(0.5);
        b.touched = max(&|c| c.touched);
        b
    }

    pub(crate) fn of(&self, s: Signal) -> f64 {
        self.per_signal.get(&s).copied().unwrap_or(0.0)
    }
}

/// 0 below `baseline + floor`, 1 at `baseline + full` or at `full_count` files.
pub(crate) fn strength(
    count: u64,
    denom: u64,
    baseline: f64,
    floor: f64,
    full: f64,
    full_count: u64,
) -> f64 {
    if count == 0 {
        return 0.0;
    }
    let f = count as f64 / denom.max(1) as f64;
    let by_fraction = ((f - baseline - floor) / (full - floor)).clamp(0.0, 1.0);
    let by_count = if f > baseline {
        (count as f64 / full_count.max(1) as f64).min(1.0)
    } else {
        0.0
    };
    by_fraction.max(by_count)
}
