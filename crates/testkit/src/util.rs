//! Small shared helpers: seeded RNG streams, calendar arithmetic, fast text formatting and
//! deterministic file times.
//!
//! Calendar code is hand-written (Howard Hinnant's `days_from_civil`) instead of pulling in
//! chrono: the generators only need proleptic Gregorian dates and fixed formats.

use std::io;
use std::path::Path;

use filetime::FileTime;
use rand::{Rng as _, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The PRNG used everywhere. Xoshiro256++ is fast for the many small draws of the text
/// generators and fills bulk buffers at several GB/s; its output for a given seed is stable
/// across `rand_xoshiro` 0.6.x, which keeps generated trees reproducible.
pub type TkRng = Xoshiro256PlusPlus;

/// An independent RNG stream for `label` under `seed`.
///
/// Each category (dumps, HL7, images, …) gets its own stream so that changing how many
/// values one generator draws does not shift the output of the others.
pub fn stream(seed: u64, label: &str) -> TkRng {
    let mut h = blake3::Hasher::new_derive_key("kura-testkit rng stream v1");
    h.update(&seed.to_le_bytes());
    h.update(label.as_bytes());
    TkRng::from_seed(*h.finalize().as_bytes())
}

/// A uniformly chosen element of a non-empty constant table.
pub fn pick<'a, T>(rng: &mut TkRng, table: &'a [T]) -> &'a T {
    &table[rng.gen_range(0..table.len())]
}

/// Appends `n` in decimal, left-padded with zeros to `width` digits.
pub fn push_num(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut v = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends a fixed-point number `value / 10^decimals` (e.g. 1234, 2 → "12.34").
pub fn push_fixed(buf: &mut Vec<u8>, value: u64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    push_num(buf, value / scale, 1);
    if decimals > 0 {
        buf.push(b'.');
        push_num(buf, value % scale, decimals as usize);
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day all generated data is "as of": 2026-04-01. Fixed (not the wall clock) so that a
/// seed alone determines every byte and every mtime.
pub fn base_day() -> i64 {
    days_from_civil(2026, 4, 1)
}

/// Appends `YYYYMMDD`.
pub fn push_yyyymmdd(buf: &mut Vec<u8>, day: i64) {
    let (y, m, d) = civil_from_days(day);
    push_num(buf, y.max(0) as u64, 4);
    push_num(buf, u64::from(m), 2);
    push_num(buf, u64::from(d), 2);
}

/// Appends `YYYY-MM-DD`.
pub fn push_iso_date(buf: &mut Vec<u8>, day: i64) {
    let (y, m, d) = civil_from_days(day);
    push_num(buf, y.max(0) as u64, 4);
    buf.push(b'-');
    push_num(buf, u64::from(m), 2);
    buf.push(b'-');
    push_num(buf, u64::from(d), 2);
}

/// Appends `YYYY-MM-DD HH:MM:SS` for seconds since the epoch.
pub fn push_iso_datetime(buf: &mut Vec<u8>, secs: i64) {
    push_iso_date(buf, secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u64;
    buf.push(b' ');
    push_num(buf, s / 3600, 2);
    buf.push(b':');
    push_num(buf, s / 60 % 60, 2);
    buf.push(b':');
    push_num(buf, s % 60, 2);
}

/// Appends the 17-digit `YYYYMMDDHHMMSSfff` timestamp SS-MIX2 uses in file names.
pub fn push_ts17(buf: &mut Vec<u8>, secs: i64, millis: u32) {
    push_yyyymmdd(buf, secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u64;
    push_num(buf, s / 3600, 2);
    push_num(buf, s / 60 % 60, 2);
    push_num(buf, s % 60, 2);
    push_num(buf, u64::from(millis % 1000), 3);
}

/// Formats with one of the `push_*` helpers into a `String` (all helpers emit ASCII).
pub fn ascii(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut v = Vec::new();
    f(&mut v);
    String::from_utf8_lossy(&v).into_owned()
}

/// Sets both atime and mtime of a file or directory (not following symlinks) so the tree's
/// times depend only on the seed.
pub fn set_times(path: &Path, secs: i64, nanos: u32) -> io::Result<()> {
    let t = FileTime::from_unix_time(secs, nanos);
    filetime::set_symlink_file_times(path, t, t)
}

/// Fails unless `root` is missing or an empty directory, then creates it.
///
/// Generating into a non-empty directory would mix old files into the tree and silently
/// break "same seed, same tree".
pub fn prepare_empty_root(root: &Path) -> io::Result<()> {
    match std::fs::read_dir(root) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} is not empty; generate into a new or empty directory",
                        root.display()
                    ),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(root),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(days_from_civil(2026, 4, 1)), (2026, 4, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in -800..800 {
            let (y, m, dd) = civil_from_days(d * 37);
            assert_eq!(days_from_civil(y, m, dd), d * 37);
        }
    }

    #[test]
    fn number_formatting_pads_and_scales() {
        let s = ascii(|b| {
            push_num(b, 42, 5);
            b.push(b' ');
            push_fixed(b, 1234, 2);
            b.push(b' ');
            push_fixed(b, 5, 2);
            b.push(b' ');
            push_num(b, 0, 1);
        });
        assert_eq!(s, "00042 12.34 0.05 0");
    }

    #[test]
    fn timestamps_have_the_documented_shape() {
        let secs = days_from_civil(2011, 12, 20) * 86_400 + 22 * 3600 + 44 * 60 + 47;
        assert_eq!(ascii(|b| push_ts17(b, secs, 339)), "20111220224447339");
        assert_eq!(ascii(|b| push_iso_datetime(b, secs)), "2011-12-20 22:44:47");
    }

    #[test]
    fn streams_are_independent_and_reproducible() {
        use rand::RngCore;
        let a1 = stream(7, "dump").next_u64();
        let a2 = stream(7, "dump").next_u64();
        let b = stream(7, "hl7").next_u64();
        let c = stream(8, "dump").next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn prepare_empty_root_refuses_non_empty_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("new");
        prepare_empty_root(&root).expect("missing dir is created");
        prepare_empty_root(&root).expect("empty dir is accepted");
        std::fs::write(root.join("x"), b"x").expect("write");
        let err = prepare_empty_root(&root).expect_err("non-empty must fail");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }
}
