//! SQL-like EHR database dumps (`ehr/dump/ehr_YYYYMMDD.sql`).
//!
//! The text imitates a `pg_dump --inserts` file: a header, then sections of `INSERT INTO`
//! statements per table (patient, prescription_order, lab_result, progress_note). Every row
//! is drawn from the vocabulary tables with the seeded RNG — never by repeating a block — so
//! that zstd level 3 compresses it 3–5x like a real dump (names, codes and column layouts
//! recur; identifiers, timestamps, values, per-row UUIDs and e-signature digests do not;
//! the UUID and signature columns were added to bring the ratio from ~5.6x down to ~3.9x).
//! A repeated block would compress ~100x and make deduplication and compression benchmarks
//! lie.
//!
//! Rows are formatted straight into a byte buffer with the `push_*` helpers: this is the
//! hottest loop of the dataset generator (~45% of all bytes).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use rand::{Rng, RngCore};

use crate::util::{pick, push_fixed, push_iso_date, push_iso_datetime, push_num, TkRng};
use crate::vocab;

/// Identifier counters and the time window of one dump, carried across sections.
#[derive(Debug, Clone)]
pub(crate) struct DumpState {
    next_order: u64,
    next_result: u64,
    next_note: u64,
    /// First patient id; ids are drawn from `first_patient .. first_patient + patients`.
    first_patient: u64,
    patients: u64,
    /// Seconds since the epoch of the oldest and newest event timestamps.
    from_secs: i64,
    to_secs: i64,
}

impl DumpState {
    /// State for the monthly archive dump taken on `day` (days since the epoch): its rows
    /// carry timestamps from the 31 days before.
    pub(crate) fn new(rng: &mut TkRng, day: i64) -> Self {
        let to_secs = day * 86_400;
        DumpState {
            next_order: rng.gen_range(1_000_000..9_000_000),
            next_result: rng.gen_range(10_000_000..90_000_000),
            next_note: rng.gen_range(1_000_000..9_000_000),
            first_patient: 10_000_000,
            patients: 400_000,
            from_secs: to_secs - 31 * 86_400,
            to_secs,
        }
    }
}

#[derive(Clone, Copy)]
enum Table {
    Patient,
    Order,
    Lab,
    Note,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Patient => "patient",
            Table::Order => "prescription_order",
            Table::Lab => "lab_result",
            Table::Note => "progress_note",
        }
    }
}

/// The pg_dump-like file header.
pub(crate) fn header(day: i64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"--\n-- PostgreSQL database dump (Kura synthetic EHR)\n--\n-- Dumped on ");
    push_iso_date(&mut b, day);
    b.extend_from_slice(
        b"\n\nSET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\
          SET standard_conforming_strings = on;\n\n",
    );
    b
}

/// The closing comment of a dump.
pub(crate) const FOOTER: &[u8] = b"\n--\n-- PostgreSQL database dump complete\n--\n";

/// Appends complete statements until `buf` has grown by at least `target` bytes (the last
/// section may be cut short, never a statement). Sections hold 100–1000 rows of one table,
/// the way a dump lists table by table; every call starts a new section, so a dump written
/// in 1 MiB pieces has a section header at least every MiB.
pub(crate) fn push_sections(buf: &mut Vec<u8>, rng: &mut TkRng, st: &mut DumpState, target: usize) {
    let start = buf.len();
    while buf.len() - start < target {
        // Weights chosen so labs dominate, as they do in real EHR databases.
        let table = match rng.gen_range(0..10) {
            0 => Table::Patient,
            1..=3 => Table::Order,
            4..=7 => Table::Lab,
            _ => Table::Note,
        };
        buf.extend_from_slice(b"\n--\n-- Data for Name: ");
        buf.extend_from_slice(table.name().as_bytes());
        buf.extend_from_slice(b"; Type: TABLE DATA; Schema: public\n--\n\n");
        let rows = rng.gen_range(100..1000);
        for _ in 0..rows {
            push_row(buf, rng, st, table);
            if buf.len() - start >= target {
                break;
            }
        }
    }
}

/// Appends exactly one `INSERT` statement of `table`.
fn push_row(b: &mut Vec<u8>, rng: &mut TkRng, st: &mut DumpState, table: Table) {
    b.extend_from_slice(b"INSERT INTO public.");
    b.extend_from_slice(table.name().as_bytes());
    b.extend_from_slice(b" VALUES (");
    match table {
        Table::Patient => patient_row(b, rng, st),
        Table::Order => order_row(b, rng, st),
        Table::Lab => lab_row(b, rng, st),
        Table::Note => note_row(b, rng, st),
    }
    b.extend_from_slice(b");\n");
}

fn quoted(b: &mut Vec<u8>, s: &str) {
    b.push(b'\'');
    b.extend_from_slice(s.as_bytes());
    b.extend_from_slice(b"', ");
}

fn patient_id(b: &mut Vec<u8>, rng: &mut TkRng, st: &DumpState) {
    b.push(b'\'');
    push_num(b, st.first_patient + rng.gen_range(0..st.patients), 8);
    b.extend_from_slice(b"', ");
}

fn timestamp(b: &mut Vec<u8>, rng: &mut TkRng, st: &DumpState) {
    b.push(b'\'');
    push_iso_datetime(b, rng.gen_range(st.from_secs..st.to_secs));
    b.extend_from_slice(b"', ");
}

/// A random UUID-like value: real EHR tables carry surrogate keys and row hashes, which are
/// exactly the incompressible part of a dump.
fn uuid(b: &mut Vec<u8>, rng: &mut TkRng) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (hi, lo) = (rng.next_u64(), rng.next_u64());
    b.push(b'\'');
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            b.push(b'-');
        }
        let v = if i < 16 { hi } else { lo };
        b.push(HEX[((v >> ((i % 16) * 4)) & 15) as usize]);
    }
    b.push(b'\'');
}

/// A 22-character base64 electronic-signature digest (真正性 / e-signature columns are
/// required for electronic medical records in Japan); like UUIDs it barely compresses.
fn signature(b: &mut Vec<u8>, rng: &mut TkRng) {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (hi, lo) = (rng.next_u64(), rng.next_u64());
    b.push(b'\'');
    for i in 0..22u32 {
        let v = if i < 11 {
            hi >> (i * 6)
        } else {
            lo >> ((i - 11) * 6)
        };
        b.push(B64[(v & 63) as usize]);
    }
    b.extend_from_slice(b"', ");
}

fn patient_row(b: &mut Vec<u8>, rng: &mut TkRng, st: &DumpState) {
    patient_id(b, rng, st);
    let (sk, skana) = pick(rng, vocab::SURNAMES);
    let male = rng.gen_bool(0.5);
    let (gk, gkana) = pick(
        rng,
        if male {
            vocab::GIVEN_MALE
        } else {
            vocab::GIVEN_FEMALE
        },
    );
    b.push(b'\'');
    b.extend_from_slice(sk.as_bytes());
    b.extend_from_slice("\u{3000}".as_bytes());
    b.extend_from_slice(gk.as_bytes());
    b.extend_from_slice(b"', '");
    b.extend_from_slice(skana.as_bytes());
    b.push(b' ');
    b.extend_from_slice(gkana.as_bytes());
    b.extend_from_slice(if male { b"', 'M', '" } else { b"', 'F', '" });
    push_iso_date(b, st.to_secs / 86_400 - rng.gen_range(365..36_500));
    b.extend_from_slice(b"', '");
    push_num(b, rng.gen_range(0..1000), 3);
    b.push(b'-');
    push_num(b, rng.gen_range(0..10_000), 4);
    b.extend_from_slice(b"', '");
    let (pref, city, area) = pick(rng, vocab::PLACES);
    b.extend_from_slice(pref.as_bytes());
    b.extend_from_slice(city.as_bytes());
    b.extend_from_slice(pick(rng, vocab::TOWNS).as_bytes());
    push_num(b, rng.gen_range(1..10), 1);
    b.push(b'-');
    push_num(b, rng.gen_range(1..40), 1);
    b.push(b'-');
    push_num(b, rng.gen_range(1..30), 1);
    b.extend_from_slice(b"', '");
    b.extend_from_slice(area.as_bytes());
    b.push(b'-');
    push_num(b, rng.gen_range(100..1000), 3);
    b.push(b'-');
    push_num(b, rng.gen_range(0..10_000), 4);
    b.extend_from_slice(b"', '0");
    push_num(b, rng.gen_range(6_000_000..6_999_999), 7);
    b.extend_from_slice(b"', ");
    timestamp(b, rng, st);
    uuid(b, rng);
}

fn order_row(b: &mut Vec<u8>, rng: &mut TkRng, st: &mut DumpState) {
    st.next_order += 1;
    push_num(b, st.next_order, 1);
    b.extend_from_slice(b", ");
    patient_id(b, rng, st);
    timestamp(b, rng, st);
    let (dcode, dname) = pick(rng, vocab::DEPARTMENTS);
    quoted(b, dcode);
    quoted(b, dname);
    quoted(b, pick::<&str>(rng, vocab::STAFF));
    let (hot, drug, unit) = pick(rng, vocab::DRUGS);
    quoted(b, hot);
    quoted(b, drug);
    push_num(b, rng.gen_range(1..4), 1);
    b.extend_from_slice(b", ");
    quoted(b, unit);
    push_num(b, rng.gen_range(1..91), 1);
    b.extend_from_slice(b", ");
    let (ucode, utext) = pick(rng, vocab::USAGES);
    quoted(b, ucode);
    quoted(b, utext);
    timestamp(b, rng, st);
    signature(b, rng);
    uuid(b, rng);
}

fn lab_row(b: &mut Vec<u8>, rng: &mut TkRng, st: &mut DumpState) {
    st.next_result += 1;
    push_num(b, st.next_result, 1);
    b.extend_from_slice(b", ");
    push_num(b, st.next_order.saturating_sub(rng.gen_range(0..5000)), 1);
    b.extend_from_slice(b", ");
    patient_id(b, rng, st);
    timestamp(b, rng, st);
    // Specimen barcode: random per tube, like the labels printed at the blood draw.
    b.push(b'\'');
    push_num(b, rng.gen_range(0..1_000_000_000_000), 12);
    b.extend_from_slice(b"', ");
    let (code, name, unit, low, high) = *pick(rng, vocab::LAB_TESTS);
    quoted(b, code);
    quoted(b, name);
    // Values mostly inside the reference range, sometimes outside, two decimals.
    let span = (high - low).max(0.01);
    let v = (low - span * 0.3 + rng.gen::<f32>() * span * 1.6).max(0.0);
    push_fixed(b, (v * 100.0) as u64, 2);
    b.extend_from_slice(b", ");
    quoted(b, unit);
    push_fixed(b, (low * 100.0) as u64, 2);
    b.extend_from_slice(b", ");
    push_fixed(b, (high * 100.0) as u64, 2);
    b.extend_from_slice(b", ");
    b.extend_from_slice(if v < low {
        b"'L', "
    } else if v > high {
        b"'H', "
    } else {
        b"'N', "
    });
    uuid(b, rng);
}

fn note_row(b: &mut Vec<u8>, rng: &mut TkRng, st: &mut DumpState) {
    st.next_note += 1;
    push_num(b, st.next_note, 1);
    b.extend_from_slice(b", ");
    patient_id(b, rng, st);
    timestamp(b, rng, st);
    quoted(b, pick::<&str>(rng, vocab::STAFF));
    quoted(b, pick(rng, vocab::DEPARTMENTS).1);
    b.extend_from_slice(b"'S) ");
    for _ in 0..rng.gen_range(1..4) {
        b.extend_from_slice(pick(rng, vocab::NOTE_PHRASES).as_bytes());
        b.extend_from_slice("。".as_bytes());
    }
    b.extend_from_slice(b"\\nO) ");
    for _ in 0..rng.gen_range(1..4) {
        b.extend_from_slice(pick(rng, vocab::NOTE_PHRASES).as_bytes());
        b.extend_from_slice("。".as_bytes());
    }
    b.extend_from_slice(b"\\nA) ");
    b.extend_from_slice(pick(rng, vocab::DIAGNOSES).1.as_bytes());
    b.extend_from_slice(b"\\nP) ");
    b.extend_from_slice(pick(rng, vocab::NOTE_PHRASES).as_bytes());
    b.extend_from_slice("。', ".as_bytes());
    timestamp(b, rng, st);
    signature(b, rng);
    uuid(b, rng);
}

/// Writes one dump of about `size` bytes (overshooting by less than one row) and returns
/// the exact number of bytes written.
pub(crate) fn write_dump(path: &Path, rng: &mut TkRng, day: i64, size: u64) -> io::Result<u64> {
    const CHUNK: usize = 1 << 20;
    let mut st = DumpState::new(rng, day);
    let mut file = File::create(path)?;
    let mut buf = header(day);
    let mut written = 0u64;
    let body_target = size.saturating_sub((buf.len() + FOOTER.len()) as u64);
    let mut body = 0u64;
    while body < body_target {
        let before = buf.len();
        let want = (body_target - body).min(CHUNK as u64) as usize;
        push_sections(&mut buf, rng, &mut st, want);
        body += (buf.len() - before) as u64;
        file.write_all(&buf)?;
        written += buf.len() as u64;
        buf.clear();
    }
    buf.extend_from_slice(FOOTER);
    file.write_all(&buf)?;
    written += buf.len() as u64;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{base_day, stream};

    fn sample(seed: u64, len: usize) -> Vec<u8> {
        let mut rng = stream(seed, "dump-test");
        let mut st = DumpState::new(&mut rng, base_day());
        let mut buf = Vec::new();
        push_sections(&mut buf, &mut rng, &mut st, len);
        buf
    }

    #[test]
    fn sections_are_complete_utf8_statements() {
        let buf = sample(1, 2_000_000);
        assert!(buf.len() >= 2_000_000);
        let text = std::str::from_utf8(&buf).expect("dump text is UTF-8");
        let inserts = text
            .lines()
            .filter(|l| l.starts_with("INSERT INTO public."))
            .count();
        assert!(inserts > 500, "only {inserts} inserts");
        for line in text.lines().filter(|l| l.starts_with("INSERT")) {
            assert!(line.ends_with(");"), "truncated statement: {line}");
        }
        for table in [
            "patient",
            "prescription_order",
            "lab_result",
            "progress_note",
        ] {
            assert!(
                text.contains(&format!("INSERT INTO public.{table} VALUES")),
                "{table}"
            );
        }
        assert!(
            text.contains("ヤ") || text.contains("サ"),
            "katakana names present"
        );
    }

    #[test]
    fn zstd_level3_ratio_is_between_3_and_5() {
        let buf = sample(42, 4 << 20);
        let packed = zstd::bulk::compress(&buf, 3).expect("zstd");
        let ratio = buf.len() as f64 / packed.len() as f64;
        eprintln!("zstd ratio {ratio:.2}");
        assert!((3.0..=5.0).contains(&ratio), "zstd ratio {ratio:.2}");
    }

    #[test]
    fn the_text_is_not_a_repeated_block() {
        // A repeated block would let zstd level 19 with long-distance matching collapse it.
        let buf = sample(9, 2 << 20);
        let first = &buf[100_000..104_096];
        let again = buf[104_096..].windows(first.len()).any(|w| w == first);
        assert!(!again, "a 4 KiB window recurs later in the dump");
    }

    #[test]
    fn write_dump_hits_the_requested_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.sql");
        let mut rng = stream(3, "dump-test");
        let n = write_dump(&path, &mut rng, base_day(), 3_000_000).expect("write");
        let len = std::fs::metadata(&path).expect("meta").len();
        assert_eq!(n, len);
        assert!((3_000_000..3_001_000).contains(&len), "len {len}");
        let text = std::fs::read(&path).expect("read");
        assert!(text.ends_with(FOOTER));
    }
}
