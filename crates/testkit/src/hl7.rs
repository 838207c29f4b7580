//! SS-MIX2-like HL7 v2.5 files for benchmarks.
//!
//! Layout and naming follow the SS-MIX2 standardized storage (see
//! `shared/notes/jp-medical-formats.md` §A3–A4):
//! `ssmix2/standard_root/<PID[0..3]>/<PID[3..6]>/<PID>/<YYYYMMDD or ->/<DATATYPE>/`
//! `<PID>_<date>_<DATATYPE>_<orderno>_<timestamp17>_<dept>_<flag>` (no extension).
//! Bytes follow the real files: ISO-2022-JP text (`ESC $ B` … `ESC ( B`), CR after every
//! segment, and a trailing `0x1C`. The messages look like HL7 (MSH, PID, PV1, ORC/RXE/TQ1,
//! OBX, PRB, IAM…) but are not clinically exact; `kura-clinical` has the exact generator.
//!
//! Each file targets a size drawn from 1–8 KiB: after the fixed segments, the repeating
//! group of its message type (one prescription, one lab value, one diagnosis…) is appended
//! until the target is reached, never growing past 8 KiB.

use rand::Rng;

use crate::util::{pick, push_num, push_ts17, push_yyyymmdd, TkRng};
use crate::vocab;

/// Smallest and largest file sizes, in bytes.
pub(crate) const MIN_SIZE: usize = 1024;
pub(crate) const MAX_SIZE: usize = 8192;

/// Patient-level data types, stored in the `-` date folder.
const UNDATED: &[&str] = &["ADT-00", "PPR-01", "ADT-61"];

/// Every data type the generator writes.
pub(crate) const KNOWN_TYPES: &[&str] = &[
    "ADT-00", "PPR-01", "ADT-61", "OMP-01", "OMP-02", "OML-11", "ADT-22", "ADT-52",
];

/// Whether files of `data_type` live in the `-` (no care date) folder.
pub(crate) fn is_undated(data_type: &str) -> bool {
    UNDATED.contains(&data_type)
}

/// One synthetic patient (demographics repeated in every message, as in PID).
#[derive(Debug, Clone)]
pub(crate) struct Patient {
    pub(crate) id: String,
    surname: (&'static str, &'static str),
    given: (&'static str, &'static str),
    male: bool,
    birth_day: i64,
    address: String,
    phone: String,
}

impl Patient {
    /// A random patient with the given identifier.
    pub(crate) fn random(rng: &mut TkRng, id: String, today: i64) -> Self {
        let male = rng.gen_bool(0.5);
        let given = *pick(
            rng,
            if male {
                vocab::GIVEN_MALE
            } else {
                vocab::GIVEN_FEMALE
            },
        );
        let (pref, city, area) = *pick(rng, vocab::PLACES);
        let town = *pick(rng, vocab::TOWNS);
        let mut address = format!(
            "^^^^{:03}-{:04}^JPN^H^",
            rng.gen_range(0..1000),
            rng.gen_range(0..10_000)
        );
        address.push_str(&format!(
            "{pref}{city}{town}{}-{}-{}",
            rng.gen_range(1..10),
            rng.gen_range(1..40),
            rng.gen_range(1..30)
        ));
        let phone = format!(
            "{area}-{:03}-{:04}",
            rng.gen_range(100..1000),
            rng.gen_range(0..10_000)
        );
        Patient {
            id,
            surname: *pick(rng, vocab::SURNAMES),
            given,
            male,
            birth_day: today - rng.gen_range(365..36_500),
            address,
            phone,
        }
    }
}

/// One generated file: its path below the storage root, bytes and send time.
#[derive(Debug, Clone)]
pub(crate) struct Hl7File {
    pub(crate) rel_path: String,
    pub(crate) bytes: Vec<u8>,
    /// Send time (seconds since the epoch, milliseconds), also used as the file's mtime.
    pub(crate) secs: i64,
    pub(crate) millis: u32,
}

/// Which message to write: data type, care day (`None` = the `-` folder), order number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageKey {
    pub(crate) data_type: &'static str,
    pub(crate) day: Option<i64>,
    pub(crate) order_no: u64,
    pub(crate) flag: u8,
}

/// All files of one patient: the undated trio plus 2–14 visit days with 1–3 orders each.
/// About 5% of orders also keep a superseded `_2` version, as SS-MIX2 updates do.
pub(crate) fn patient_files(rng: &mut TkRng, patient: &Patient, today: i64) -> Vec<Hl7File> {
    let mut files = Vec::new();
    for dt in UNDATED {
        if *dt == "ADT-61" && rng.gen_bool(0.5) {
            continue; // not every patient has recorded allergies
        }
        let key = MessageKey {
            data_type: dt,
            day: None,
            order_no: 999_999_999_999_999,
            flag: 1,
        };
        let send_day = today - rng.gen_range(0..30);
        files.push(message_file(rng, patient, key, send_day));
    }
    for _ in 0..rng.gen_range(2..15) {
        let day = today - rng.gen_range(1..3 * 365);
        for _ in 0..rng.gen_range(1..4) {
            let data_type = *pick(
                rng,
                &[
                    "OMP-01", "OMP-01", "OML-11", "OML-11", "OML-11", "OMP-02", "ADT-22", "ADT-52",
                ],
            );
            let order_no = rng.gen_range(10_000_000_000..99_999_999_999);
            let superseded = rng.gen_bool(0.05);
            if superseded {
                let old = MessageKey {
                    data_type,
                    day: Some(day),
                    order_no,
                    flag: 2,
                };
                files.push(message_file(rng, patient, old, day));
            }
            let key = MessageKey {
                data_type,
                day: Some(day),
                order_no,
                flag: 1,
            };
            // A superseding version is sent on a later day, so its timestamp is newer.
            let send_day = day + rng.gen_range(0..2) + i64::from(superseded);
            files.push(message_file(rng, patient, key, send_day));
        }
    }
    files
}

/// One file for `key`, sent on `send_day` at a random working-hours time.
pub(crate) fn message_file(
    rng: &mut TkRng,
    p: &Patient,
    key: MessageKey,
    send_day: i64,
) -> Hl7File {
    let secs = send_day * 86_400 + rng.gen_range(8 * 3600..20 * 3600);
    let millis = rng.gen_range(0..1000);
    let dept = pick(rng, vocab::DEPARTMENTS);
    let bytes = message(rng, p, key, dept, secs);
    let mut name = Vec::with_capacity(64);
    name.extend_from_slice(p.id.as_bytes());
    name.push(b'_');
    date_field(&mut name, key.day);
    name.push(b'_');
    name.extend_from_slice(key.data_type.as_bytes());
    name.push(b'_');
    push_num(&mut name, key.order_no, 15);
    name.push(b'_');
    push_ts17(&mut name, secs, millis);
    name.push(b'_');
    // Patient-level demographics carry no department, like the NHO samples.
    let dept_code = if key.data_type == "ADT-00" || key.data_type == "ADT-61" {
        "-"
    } else {
        dept.0
    };
    name.extend_from_slice(dept_code.as_bytes());
    name.push(b'_');
    push_num(&mut name, u64::from(key.flag), 1);
    let name = String::from_utf8_lossy(&name).into_owned();
    let mut dir = Vec::new();
    date_field(&mut dir, key.day);
    let date_dir = String::from_utf8_lossy(&dir).into_owned();
    let id = &p.id;
    let (a, b) = (id.get(0..3).unwrap_or(id), id.get(3..6).unwrap_or(id));
    let rel_path = format!("{a}/{b}/{id}/{date_dir}/{}/{name}", key.data_type);
    Hl7File {
        rel_path,
        bytes,
        secs,
        millis,
    }
}

fn date_field(buf: &mut Vec<u8>, day: Option<i64>) {
    match day {
        Some(d) => push_yyyymmdd(buf, d),
        None => buf.push(b'-'),
    }
}

/// The encoded message: fixed segments, then repeating groups up to a random 1–8 KiB size.
fn message(
    rng: &mut TkRng,
    p: &Patient,
    key: MessageKey,
    dept: &(&str, &str),
    secs: i64,
) -> Vec<u8> {
    let target = rng.gen_range(MIN_SIZE..MAX_SIZE);
    let ts = ts_text(secs);
    let mut out = Vec::with_capacity(target + 512);
    let msg_type = match key.data_type {
        "ADT-00" => "ADT^A08^ADT_A01",
        "ADT-61" => "ADT^A60^ADT_A60",
        "ADT-22" => "ADT^A01^ADT_A01",
        "ADT-52" => "ADT^A03^ADT_A03",
        "PPR-01" => "PPR^ZD1^PPR_ZD1",
        "OML-11" => "OUL^R22^OUL_R22",
        _ => "RDE^O11^RDE_O11",
    };
    let ctrl = rng.gen_range(10_000_000_000u64..99_999_999_999);
    push_segment(&mut out, &format!(
        "MSH|^~\\&|KURA-HIS|KURA|GW|RCV|{ts}||{msg_type}|{ctrl}|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO"
    ));
    if key.data_type.starts_with("ADT") {
        push_segment(&mut out, &format!("EVN||{ts}||||{ts}"));
    }
    push_segment(&mut out, &pid_segment(p, &ts));
    let doctor = pick(rng, vocab::STAFF);
    push_segment(
        &mut out,
        &format!("PV1|0001|O|{}^^^^^C||||110^{doctor}^^^^^^^L^^^^^I", dept.0),
    );
    if key.data_type == "OML-11" {
        push_segment(
            &mut out,
            &format!(
                "SPM|1|{:012}||023^血清^JC10|||||||||||||{ts}",
                rng.gen_range(0..1_000_000_000_000u64)
            ),
        );
        push_segment(
            &mut out,
            &format!("OBR|1|{:015}||KENSA^検体検査^99O01|||{ts}", key.order_no),
        );
    }
    let mut n = 1;
    loop {
        let seg = group(rng, key, dept, doctor, n, &ts);
        let encoded = encode(&seg);
        if out.len() >= target || out.len() + encoded.len() + 1 > MAX_SIZE {
            break;
        }
        out.extend_from_slice(&encoded);
        n += 1;
    }
    out.push(0x1C);
    out
}

/// The repeating group of a data type (segments already CR-terminated, not yet encoded).
fn group(
    rng: &mut TkRng,
    key: MessageKey,
    dept: &(&str, &str),
    doctor: &str,
    n: usize,
    ts: &str,
) -> String {
    let on = key.order_no;
    match key.data_type {
        "ADT-00" | "ADT-22" | "ADT-52" => {
            let (code, name, _) = pick(rng, vocab::DRUGS);
            format!("AL1|{n}|DA^薬剤アレルギー^HL70127|{code}^{name}^HOT9|MO^中等症^HL70128|発疹\rOBX|{n}|NM|9N001000000000001^身長^JC10||{}|cm^cm^ISO+|||||F\r", rng.gen_range(1400..1900) as f32 / 10.0)
        }
        "ADT-61" => {
            let (code, name, _) = pick(rng, vocab::DRUGS);
            format!("IAM|{n}|A|DA^薬剤アレルギー^HL70127|{code}^{name}^HOT9|MO^中等症^HL70128|蕁麻疹^^99XYZ||||||{ts}\r")
        }
        "PPR-01" => {
            let (code, name, icd) = pick(rng, vocab::DIAGNOSES);
            format!("PRB|AD|{ts}|{code}^{name}^MDCDX2|{n:05}|||{ts}||||{icd}^^I10||||{ts}\rZPR||||||||{}|{}\r", dept.0, dept.1)
        }
        "OML-11" => {
            let (code, name, unit, low, high) = *pick(rng, vocab::LAB_TESTS);
            let v = low + rng.gen::<f32>() * (high - low) * 1.3;
            format!("OBX|{n}|NM|{code}^{name}^JC10||{v:.2}|{unit}^{unit}^99XYZ|{low}-{high}|N|||F|||{ts}\r")
        }
        _ => {
            let (hot, drug, unit) = pick(rng, vocab::DRUGS);
            let (ucode, utext) = pick(rng, vocab::USAGES);
            format!(
                "ORC|NW|{on:015}||{n}|||||{ts}|||110^{doctor}^^^^^^^L^^^^^I|{}^^^^^C\rRXE||{hot}^{drug}^HOT9|{}||{unit}^{unit}^MR9P|||||{}|{unit}^{unit}^MR9P\rTQ1|||{ucode}&{utext}&JAMISDP01|||{}^d|{ts}\rRXR|PO^口^HL70162\r",
                dept.0, rng.gen_range(1..4), rng.gen_range(1..91), rng.gen_range(1..31)
            )
        }
    }
}

fn pid_segment(p: &Patient, ts: &str) -> String {
    let birth = {
        let mut b = Vec::new();
        push_yyyymmdd(&mut b, p.birth_day);
        String::from_utf8_lossy(&b).into_owned()
    };
    let (sk, skana) = p.surname;
    let (gk, gkana) = p.given;
    let sex = if p.male { "M" } else { "F" };
    format!(
        "PID|0001||{}^^^^PI||{sk}^{gk}^^^^^L^I~{skana}^{gkana}^^^^^L^P||{birth}|{sex}|||{}||^PRN^PH^^^^^^^^^{}|||||||||||||||||||{ts}",
        p.id, p.address, p.phone
    )
}

/// HL7 TS with a fractional part, e.g. `20111220224447.3399`.
fn ts_text(secs: i64) -> String {
    let mut b = Vec::new();
    push_ts17(&mut b, secs, 0);
    b.truncate(14);
    String::from_utf8_lossy(&b).into_owned()
}

fn push_segment(out: &mut Vec<u8>, seg: &str) {
    out.extend_from_slice(&encode(seg));
    out.push(b'\r');
}

/// ISO-2022-JP bytes of `s`; characters outside JIS X 0208 would become numeric character
/// references, but the vocabulary only uses JIS X 0208 characters.
fn encode(s: &str) -> Vec<u8> {
    let (bytes, _, _) = encoding_rs::ISO_2022_JP.encode(s);
    bytes.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{base_day, stream};

    fn sample_patient(rng: &mut TkRng) -> Patient {
        Patient::random(rng, "0001234567".to_string(), base_day())
    }

    #[test]
    fn files_follow_the_ssmix2_layout_and_size_range() {
        let mut rng = stream(5, "hl7-test");
        let p = sample_patient(&mut rng);
        let files = patient_files(&mut rng, &p, base_day());
        assert!(files.len() >= 4);
        for f in &files {
            let parts: Vec<&str> = f.rel_path.split('/').collect();
            assert_eq!(&parts[..3], &["000", "123", "0001234567"], "{}", f.rel_path);
            let name: Vec<&str> = parts[5].split('_').collect();
            assert_eq!(name.len(), 7, "{}", parts[5]);
            assert_eq!(name[0], "0001234567");
            assert_eq!(name[1], parts[3], "date field matches folder");
            assert_eq!(name[2], parts[4], "data type matches folder");
            assert_eq!(name[3].len(), 15);
            assert_eq!(name[4].len(), 17);
            assert!(
                f.bytes.len() >= MIN_SIZE && f.bytes.len() <= MAX_SIZE,
                "{}",
                f.bytes.len()
            );
        }
        assert!(files.iter().any(|f| f.rel_path.contains("/-/ADT-00/")));
    }

    #[test]
    fn bytes_are_iso2022jp_hl7_with_cr_segments() {
        let mut rng = stream(6, "hl7-test");
        let p = sample_patient(&mut rng);
        for f in patient_files(&mut rng, &p, base_day()) {
            assert!(f.bytes.starts_with(b"MSH|^~\\&|"));
            assert_eq!(f.bytes.last(), Some(&0x1C));
            assert!(!f.bytes.contains(&b'\n'), "CR only");
            assert!(f.bytes.iter().all(|b| *b < 0x80), "7-bit ISO-2022-JP");
            let (text, had_errors) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(&f.bytes);
            assert!(!had_errors);
            assert!(text.contains("\rPID|0001||0001234567^^^^PI||"));
            assert!(text.contains(p.surname.0), "kanji name survives encoding");
        }
    }

    #[test]
    fn superseded_versions_are_older_than_the_current_one() {
        let mut rng = stream(7, "hl7-test");
        let mut seen = 0;
        for n in 0..200 {
            let p = Patient::random(&mut rng, format!("{:010}", 1_000_000 + n), base_day());
            let files = patient_files(&mut rng, &p, base_day());
            for old in files.iter().filter(|f| f.rel_path.ends_with("_2")) {
                let name = old.rel_path.rsplit('/').next().unwrap_or_default();
                let f: Vec<&str> = name.split('_').collect();
                let key = f[..4].join("_");
                let current = files
                    .iter()
                    .filter_map(|c| c.rel_path.rsplit('/').next())
                    .find(|c| c.starts_with(&key) && c.ends_with("_1"))
                    .expect("a current version exists");
                let current_ts = current.split('_').nth(4).unwrap_or_default();
                assert!(current_ts > f[4], "{current} vs {name}");
                seen += 1;
            }
        }
        assert!(seen > 5, "only {seen} superseded files");
    }
}
