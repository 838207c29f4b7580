//! Per-file signals computed incrementally from the bytes a backup reads anyway.
//!
//! [`SignalAccumulator::update`] is called with each chunk of a file, in order;
//! [`SignalAccumulator::finish`] returns [`FileSignals`]. The cost is one histogram update per
//! sampled byte. By default only 4 KiB of every 32 KiB is counted (an eighth of the bytes):
//! entropy estimated from 8 KiB per 64 KiB block is within ~0.02 bit of the true value for
//! random data, and the leading [`LEAD_LEN`] bytes, where file types live, are always kept.
//!
//! Besides the whole-file entropy, the accumulator classifies each 64 KiB block as
//! random-looking or not, counts high/low transitions between neighbouring blocks, and keeps
//! the entropy of the first block apart from the rest. That is what reveals intermittent
//! encryption, which leaves the overall entropy of a text-like file only moderately raised:
//! every other block random gives many transitions; only the head random gives exactly one.

use serde::{Deserialize, Serialize};

use crate::filetype::{detect, FileType};

/// Size of the blocks classified one by one (the stripe most intermittent ransomware uses).
pub const BLOCK_SIZE: usize = 64 * 1024;
/// Leading bytes kept for type detection (DICOM needs 132).
pub const LEAD_LEN: usize = 512;
/// Sampling: count `SLICE` bytes at the start of every `STRIDE` bytes.
const SLICE: usize = 4 * 1024;
const STRIDE: usize = 32 * 1024;
/// Fewer sampled bytes than this say nothing reliable about randomness.
const MIN_JUDGED: u64 = 128;
/// Blocks with fewer sampled bytes (a file's short tail) are not classified.
const MIN_BLOCK_SAMPLE: u64 = 256;
/// A compression ratio (compressed / original) below this proves the data is not random.
const COMPRESSIBLE_RATIO: f32 = 0.9;

/// Byte histogram.
#[derive(Clone)]
struct Histogram {
    counts: [u64; 256],
    total: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: [0; 256],
            total: 0,
        }
    }

    fn add(&mut self, data: &[u8]) {
        for piece in data.chunks(BLOCK_SIZE) {
            let mut b = BlockHist::new();
            b.add(piece);
            self.merge(&b.to_histogram());
        }
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
    }

    fn entropy(&self) -> f32 {
        shannon(&self.counts)
    }
}

/// Histogram of at most one block, counted in four interleaved u32 tables: this breaks
/// the store-to-load dependency when a byte value repeats (text, zero runs) and runs ~3x
/// faster than a single table. u32 cannot overflow within one block.
#[derive(Clone)]
struct BlockHist {
    sub: [[u32; 256]; 4],
    total: u64,
}

impl BlockHist {
    fn new() -> Self {
        BlockHist {
            sub: [[0; 256]; 4],
            total: 0,
        }
    }

    fn add(&mut self, data: &[u8]) {
        let mut quads = data.chunks_exact(4);
        for q in &mut quads {
            self.sub[0][q[0] as usize] += 1;
            self.sub[1][q[1] as usize] += 1;
            self.sub[2][q[2] as usize] += 1;
            self.sub[3][q[3] as usize] += 1;
        }
        for &b in quads.remainder() {
            self.sub[0][b as usize] += 1;
        }
        self.total += data.len() as u64;
    }

    fn to_histogram(&self) -> Histogram {
        let mut h = Histogram::new();
        for (i, c) in h.counts.iter_mut().enumerate() {
            *c = self.sub.iter().map(|t| u64::from(t[i])).sum();
        }
        h.total = self.total;
        h
    }
}

/// Shannon entropy in bits per byte (0 to 8) of a byte histogram; 0 for an empty one.
///
/// Computed as `log2 n - (1/n) sum c log2 c`, with `c log2 c` looked up for the counts one
/// sampled block can hold: a backup computes two to four entropies per file, and with one
/// `log2` per byte value they were most of the per-file cost of detection on small files
/// (the HL7 messages that make up most of a hospital share).
pub fn shannon(counts: &[u64; 256]) -> f32 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    let table = xlog2x_table();
    let term = |c: u64| match table.get(c as usize) {
        Some(v) => *v,
        None => c as f64 * (c as f64).log2(),
    };
    // Four running sums: one chain of 256 dependent additions was the slowest part.
    let mut sums = [0f64; 4];
    for q in counts.chunks_exact(4) {
        for (s, &c) in sums.iter_mut().zip(q) {
            *s += term(c);
        }
    }
    let sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    (n.log2() - sum / n).max(0.0) as f32
}

/// Counts up to this are looked up: the most one value can occur in a sampled block.
const XLOGX_TABLE_MAX: usize = SLICE * (BLOCK_SIZE / STRIDE);

/// `c * log2(c)` for `c` in `0..=XLOGX_TABLE_MAX` (0 for 0), computed once (64 KiB).
fn xlog2x_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Box<[f64]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=XLOGX_TABLE_MAX)
            .map(|c| {
                if c == 0 {
                    0.0
                } else {
                    c as f64 * (c as f64).log2()
                }
            })
            .collect()
    })
}

/// Entropy of the leading bytes: at most [`LEAD_LEN`], so one plain table is enough.
fn lead_entropy(lead: &[u8]) -> f32 {
    let mut counts = [0u64; 256];
    for &b in lead {
        counts[b as usize] += 1;
    }
    shannon(&counts)
}

/// Shannon entropy of a byte slice, bits per byte.
pub fn entropy_of(data: &[u8]) -> f32 {
    let mut h = Histogram::new();
    h.add(data);
    h.entropy()
}

/// The entropy above which `n` sampled bytes look random. The plug-in estimate of uniform
/// random data falls short of 8 bits by about 255 / (2 n ln 2) (Miller-Madow), so short
/// samples need a lower bar; 0.35 bit of margin keeps compressed-but-structured data
/// (JPEG bodies reach 7.9+ anyway) on the right side and text (4-6 bits) far below.
pub fn random_threshold(n: u64) -> f32 {
    let n = n.max(1) as f64;
    let bias = (255.0 / (2.0 * n * std::f64::consts::LN_2)).min(3.0);
    (8.0 - bias - 0.35) as f32
}

/// Incremental computation of [`FileSignals`]; feed every chunk of one file in order.
pub struct SignalAccumulator {
    sampled: bool,
    size: u64,
    lead: Vec<u8>,
    /// The first block's histogram and, if it was classified, its entropy. Kept apart from
    /// `rest` (not subtracted from a total at the end) so that a one-block file, most files
    /// of a hospital share, costs one histogram and one entropy.
    first_block: Option<(Histogram, Option<f32>)>,
    /// Every block after the first.
    rest: Histogram,
    block: BlockHist,
    blocks: BlockStats,
}

#[derive(Default, Clone, Copy)]
struct BlockStats {
    classified: u32,
    high: u32,
    transitions: u32,
    first_high: Option<bool>,
    last_high: Option<bool>,
}

impl Default for SignalAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl SignalAccumulator {
    /// Sampled accumulator (4 KiB of every 32 KiB): the one for the backup hot path.
    pub fn new() -> Self {
        Self::with_sampling(true)
    }

    /// Accumulator that counts every byte (tests, offline analysis).
    pub fn full() -> Self {
        Self::with_sampling(false)
    }

    fn with_sampling(sampled: bool) -> Self {
        SignalAccumulator {
            sampled,
            size: 0,
            lead: Vec::with_capacity(LEAD_LEN),
            first_block: None,
            rest: Histogram::new(),
            block: BlockHist::new(),
            blocks: BlockStats::default(),
        }
    }

    /// Adds the next bytes of the file. Chunk boundaries may fall anywhere.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.lead.len() < LEAD_LEN {
            let take = (LEAD_LEN - self.lead.len()).min(data.len());
            self.lead.extend_from_slice(&data[..take]);
        }
        while !data.is_empty() {
            let in_block = (self.size % BLOCK_SIZE as u64) as usize;
            let n = data.len().min(BLOCK_SIZE - in_block);
            self.count_segment(in_block, &data[..n]);
            self.size += n as u64;
            data = &data[n..];
            if self.size.is_multiple_of(BLOCK_SIZE as u64) {
                self.close_block();
            }
        }
    }

    /// Counts the sampled part of `seg`, which starts `start` bytes into the current block.
    /// Because `BLOCK_SIZE` is a multiple of `STRIDE`, the sample positions are the same
    /// whether counted from the block or from the file.
    fn count_segment(&mut self, start: usize, seg: &[u8]) {
        if !self.sampled {
            self.block.add(seg);
            return;
        }
        let end = start + seg.len();
        let mut pos = start;
        while pos < end {
            let stride_start = pos - pos % STRIDE;
            if pos - stride_start < SLICE {
                let stop = end.min(stride_start + SLICE);
                self.block.add(&seg[pos - start..stop - start]);
                pos = stop;
            } else {
                pos = stride_start + STRIDE;
            }
        }
    }

    fn close_block(&mut self) {
        let block = self.block.to_histogram();
        self.block = BlockHist::new();
        let n = block.total;
        let mut entropy = None;
        if n >= MIN_BLOCK_SAMPLE {
            let e = block.entropy();
            entropy = Some(e);
            let high = e >= random_threshold(n);
            let b = &mut self.blocks;
            b.classified += 1;
            b.high += u32::from(high);
            if b.last_high.is_some_and(|last| last != high) {
                b.transitions += 1;
            }
            b.first_high.get_or_insert(high);
            b.last_high = Some(high);
        }
        if self.first_block.is_none() {
            self.first_block = Some((block, entropy));
        } else {
            self.rest.merge(&block);
        }
    }

    /// Ends the file and returns its signals. The compression ratio is left for the caller
    /// ([`FileSignals::set_compression_ratio`]), who is the one compressing.
    pub fn finish(mut self) -> FileSignals {
        if !self.size.is_multiple_of(BLOCK_SIZE as u64) || self.first_block.is_none() {
            self.close_block();
        }
        let (first, first_entropy) = self.first_block.unwrap_or_else(|| (Histogram::new(), None));
        let head_entropy = first_entropy.unwrap_or_else(|| first.entropy());
        let rest = self.rest;
        let (sampled_bytes, entropy) = if rest.total == 0 {
            (first.total, head_entropy)
        } else {
            let mut total = first;
            total.merge(&rest);
            (total.total, total.entropy())
        };
        // A file no longer than the lead was counted whole (the lead is shorter than a
        // sample slice), so its lead entropy is the file's.
        let lead_entropy = if self.size <= self.lead.len() as u64 {
            entropy
        } else {
            lead_entropy(&self.lead)
        };
        FileSignals {
            size: self.size,
            sampled_bytes,
            entropy,
            file_type: detect(&self.lead),
            lead_random: self.lead.len() as u64 >= MIN_JUDGED
                && lead_entropy >= random_threshold(self.lead.len() as u64),
            lead: self.lead,
            lead_entropy,
            head_entropy,
            tail_entropy: (rest.total >= MIN_BLOCK_SAMPLE).then(|| rest.entropy()),
            blocks: self.blocks.classified,
            high_blocks: self.blocks.high,
            transitions: self.blocks.transitions,
            first_block_high: self.blocks.first_high.unwrap_or(false),
            compression_ratio: None,
        }
    }
}

/// How random-looking content is laid out over a file's 64 KiB blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockPattern {
    /// All classified blocks alike (all random or none), and the head like the rest.
    Uniform,
    /// Random and non-random blocks alternate (every other block encrypted).
    Alternating,
    /// Only the head is random, the rest is not (first N KiB encrypted).
    HeadOnly,
    /// Both kinds, in runs (a PDF with embedded images, a DICOM with compressed pixels).
    Mixed,
}

/// Everything the detector knows about one file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSignals {
    /// Bytes in the file.
    pub size: u64,
    /// Bytes that went into the histograms.
    pub sampled_bytes: u64,
    /// Shannon entropy of the sampled bytes, bits per byte.
    pub entropy: f32,
    /// Type recognised from the leading bytes.
    pub file_type: FileType,
    /// The first [`LEAD_LEN`] bytes (fewer for a short file).
    pub lead: Vec<u8>,
    /// Entropy of `lead`.
    pub lead_entropy: f32,
    /// Whether `lead` alone looks random (a header overwritten by ciphertext).
    pub lead_random: bool,
    /// Entropy of the first block's sample.
    pub head_entropy: f32,
    /// Entropy of everything sampled after the first block, if enough was sampled.
    pub tail_entropy: Option<f32>,
    /// Number of blocks classified.
    pub blocks: u32,
    /// Blocks that look random.
    pub high_blocks: u32,
    /// Neighbouring blocks of different classes.
    pub transitions: u32,
    /// Whether the first classified block looks random.
    pub first_block_high: bool,
    /// Compressed size / original size as achieved by the caller's compressor, if known.
    pub compression_ratio: Option<f32>,
}

impl FileSignals {
    /// Signals of an in-memory file (tests and small inputs), sampled like the hot path.
    pub fn of(data: &[u8]) -> FileSignals {
        let mut acc = SignalAccumulator::new();
        acc.update(data);
        acc.finish()
    }

    /// Records the caller's compression result. A zero-length original leaves it unknown.
    pub fn set_compression_ratio(&mut self, compressed: u64, original: u64) {
        self.compression_ratio = (original > 0).then(|| compressed as f32 / original as f32);
    }

    /// The whole file looks random: high entropy for its sample size, and not contradicted
    /// by a compressor that managed to shrink it.
    pub fn random_looking(&self) -> bool {
        self.sampled_bytes >= MIN_JUDGED
            && self.entropy >= random_threshold(self.sampled_bytes)
            && self
                .compression_ratio
                .is_none_or(|r| r >= COMPRESSIBLE_RATIO)
    }

    /// Some part of the file looks random (whole, a block, or the header).
    pub fn random_evidence(&self) -> bool {
        self.random_looking() || self.high_blocks > 0 || self.lead_random
    }

    /// How random content is laid out; see [`BlockPattern`].
    pub fn pattern(&self) -> BlockPattern {
        let low = self.blocks - self.high_blocks;
        if self.blocks >= 3 && self.high_blocks >= 2 && low >= 1 {
            // Every other block: nearly every neighbour pair differs (H L H at least).
            if self.transitions * 10 >= (self.blocks - 1) * 7 {
                return BlockPattern::Alternating;
            }
        }
        if self.first_block_high && self.transitions == 1 && low >= 1 {
            return BlockPattern::HeadOnly;
        }
        if self.lead_random && self.high_blocks == 0 && !self.random_looking() {
            return BlockPattern::HeadOnly;
        }
        if self.high_blocks > 0 && low > 0 {
            BlockPattern::Mixed
        } else {
            BlockPattern::Uniform
        }
    }

    /// The compact record kept per file version and compared with the next version.
    pub fn summary(&self) -> FileSummary {
        FileSummary {
            file_type: self.file_type,
            size: self.size,
            entropy: self.entropy,
            random_looking: self.random_looking(),
            lead_random: self.lead_random,
            lead_hash: fnv1a(&self.lead),
        }
    }
}

/// What is remembered of a file version: enough to judge the next version against it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    /// Recognised type.
    pub file_type: FileType,
    /// Size in bytes.
    pub size: u64,
    /// Entropy, bits per byte.
    pub entropy: f32,
    /// [`FileSignals::random_looking`].
    pub random_looking: bool,
    /// [`FileSignals::lead_random`].
    pub lead_random: bool,
    /// FNV-1a of the leading bytes: "did the header change" without keeping it.
    pub lead_hash: u64,
}

/// FNV-1a 64: a cheap, stable fingerprint (not a security boundary).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift stream: random-looking bytes without a dependency.
    pub(crate) fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    fn text(n: usize) -> Vec<u8> {
        b"MSH|^~\\&|HIS|HOSP|||20260401||ADT^A08|123|P|2.5\rPID|1||0001234^^^^PI||YAMADA^TARO\r"
            .iter()
            .cycle()
            .take(n)
            .copied()
            .collect()
    }

    #[test]
    fn random_data_of_every_size_looks_random_and_text_does_not() {
        for n in [128usize, 200, 512, 1024, 3000, 64 * 1024, 1 << 20] {
            let r = FileSignals::of(&random_bytes(n, n as u64));
            assert!(
                r.random_looking(),
                "random {n} bytes: entropy {}",
                r.entropy
            );
            let t = FileSignals::of(&text(n));
            assert!(!t.random_looking(), "text {n} bytes: entropy {}", t.entropy);
            assert_eq!(t.file_type, FileType::Hl7);
        }
    }

    #[test]
    fn chunk_boundaries_do_not_change_the_result() {
        let mut data = text(300_000);
        data[70_000..140_000].copy_from_slice(&random_bytes(70_000, 9));
        let whole = FileSignals::of(&data);
        let mut acc = SignalAccumulator::new();
        for piece in data.chunks(7_777) {
            acc.update(piece);
        }
        assert_eq!(acc.finish(), whole);
    }

    #[test]
    fn sampled_entropy_is_close_to_full_entropy() {
        let data = random_bytes(1 << 20, 3);
        let mut full = SignalAccumulator::full();
        full.update(&data);
        let full = full.finish();
        let sampled = FileSignals::of(&data);
        assert_eq!(full.sampled_bytes, 1 << 20);
        assert_eq!(sampled.sampled_bytes, 1 << 17);
        assert!((full.entropy - sampled.entropy).abs() < 0.01);
    }

    #[test]
    fn every_other_block_random_is_alternating() {
        let mut data = text(16 * BLOCK_SIZE);
        for b in (0..16).step_by(2) {
            let r = random_bytes(BLOCK_SIZE, b as u64 + 1);
            data[b * BLOCK_SIZE..(b + 1) * BLOCK_SIZE].copy_from_slice(&r);
        }
        let s = FileSignals::of(&data);
        assert_eq!((s.blocks, s.high_blocks, s.transitions), (16, 8, 15));
        assert_eq!(s.pattern(), BlockPattern::Alternating);
        assert!(!s.random_looking(), "half random is not random overall");
        assert_eq!(s.file_type, FileType::Unknown);
    }

    #[test]
    fn random_head_only_is_head_only_for_small_and_large_heads() {
        for head in [1024usize, 4096, 3 * BLOCK_SIZE] {
            let mut data = text(10 * BLOCK_SIZE);
            data[..head].copy_from_slice(&random_bytes(head, 5));
            let s = FileSignals::of(&data);
            assert_eq!(s.pattern(), BlockPattern::HeadOnly, "head {head}");
            assert!(s.lead_random && s.random_evidence());
            assert!(s.tail_entropy.is_some_and(|t| t < 6.0));
        }
    }

    #[test]
    fn plain_text_is_uniform_with_no_random_evidence() {
        let s = FileSignals::of(&text(5 * BLOCK_SIZE + 100));
        assert_eq!(s.pattern(), BlockPattern::Uniform);
        assert!(!s.random_evidence());
        assert_eq!(
            s.blocks, 5,
            "the 100-byte tail block is too small to classify"
        );
    }

    #[test]
    fn a_compressor_that_shrinks_the_data_vetoes_randomness() {
        let mut s = FileSignals::of(&random_bytes(4096, 1));
        assert!(s.random_looking());
        s.set_compression_ratio(2000, 4096);
        assert!(!s.random_looking());
        s.set_compression_ratio(4100, 4096);
        assert!(s.random_looking());
        s.set_compression_ratio(5, 0);
        assert_eq!(s.compression_ratio, None);
    }

    #[test]
    fn tiny_and_empty_files_are_never_random() {
        let empty = SignalAccumulator::new().finish();
        assert_eq!(empty.file_type, FileType::Empty);
        assert_eq!(empty.entropy, 0.0);
        assert!(!empty.random_evidence());
        assert!(!FileSignals::of(&random_bytes(60, 2)).random_looking());
    }

    #[test]
    fn summary_fingerprints_the_header() {
        let a = FileSignals::of(b"%PDF-1.7\nabc").summary();
        let b = FileSignals::of(b"%PDF-1.4\nabc").summary();
        assert_ne!(a.lead_hash, b.lead_hash);
        assert_eq!(a.file_type, FileType::Pdf);
    }

    /// The textbook formula, one `log2` per byte value: what the table-based `shannon` must equal.
    fn naive_entropy(data: &[u8]) -> f64 {
        let mut counts = [0u64; 256];
        data.iter().for_each(|&b| counts[b as usize] += 1);
        let n = data.len() as f64;
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| -(c as f64 / n) * (c as f64 / n).log2())
            .sum()
    }

    #[test]
    fn table_entropy_equals_the_textbook_formula_below_and_above_the_table() {
        let mut skewed = text(20_000);
        skewed.extend(std::iter::repeat_n(0u8, 30_000)); // counts beyond the lookup table
        let cases = [
            random_bytes(8192, 4),
            text(8192),
            vec![7u8; 100_000],
            skewed,
            b"ab".to_vec(),
        ];
        for data in cases {
            let want = naive_entropy(&data);
            let got = f64::from(entropy_of(&data));
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
        assert_eq!(entropy_of(&[]), 0.0);
        assert_eq!(entropy_of(&[9u8; 5000]), 0.0);
    }

    #[test]
    fn lead_entropy_shortcuts_agree_with_counting_the_lead_alone() {
        // Files shorter than the lead reuse the file's entropy; longer ones count the lead.
        for n in [1usize, 130, 511, 512, 513, 4096, 70_000] {
            let mut data = random_bytes(n.min(600), n as u64);
            data.extend(text(n.saturating_sub(600)));
            data.truncate(n);
            let s = FileSignals::of(&data);
            let lead = &data[..n.min(LEAD_LEN)];
            assert_eq!(s.lead, lead);
            assert!((s.lead_entropy - entropy_of(lead)).abs() < 1e-6, "size {n}");
        }
    }

    #[test]
    fn head_and_tail_entropy_match_the_bytes_they_describe() {
        let mut data = random_bytes(BLOCK_SIZE, 11);
        data.extend(text(3 * BLOCK_SIZE));
        let mut full = SignalAccumulator::full();
        full.update(&data);
        let s = full.finish();
        assert!((s.head_entropy - entropy_of(&data[..BLOCK_SIZE])).abs() < 1e-5);
        let tail = s.tail_entropy.expect("three text blocks were counted");
        assert!((tail - entropy_of(&data[BLOCK_SIZE..])).abs() < 1e-5);
        assert!((s.entropy - entropy_of(&data)).abs() < 1e-5);
    }
}
