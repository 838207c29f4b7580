//! Writes one synthetic patient as SS-MIX2 standardized-storage files (ISO-2022-JP, CR
//! segment ends, trailing 0x1C, real path and file-name layout).

use chrono::NaiveDate;

use super::tables::{Disease, Drug, INFECTION_LAB};
use super::{Facts, SynthFile};
use crate::index::FileFormat;
use crate::model::Sex;
use crate::ssmix2::decode::encode_iso2022jp;
use crate::ssmix2::path::{ConditionFlag, Ssmix2Name};

const NO_ORDER: &str = "999999999999999";

/// Escape HL7 delimiters in free text.
fn esc(s: &str) -> String {
    s.replace('\\', "\\E\\")
        .replace('|', "\\F\\")
        .replace('^', "\\S\\")
        .replace('&', "\\T\\")
        .replace('~', "\\R\\")
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// A 17-digit 発生日時 at `hour` o'clock on `d`.
fn ts17(d: NaiveDate, hour: u32) -> String {
    format!("{}{hour:02}0000000", ymd(d))
}

struct Key<'a> {
    date: Option<NaiveDate>,
    data_type: &'a str,
    order_no: String,
    ts: String,
    flag: ConditionFlag,
}

fn file(f: &Facts, key: Key, segments: &[String]) -> SynthFile {
    let name = Ssmix2Name {
        patient_id: f.id.clone(),
        date: key.date.map(ymd),
        data_type: key.data_type.to_string(),
        order_no: key.order_no,
        timestamp: key.ts.clone(),
        department: key.date.map(|_| "01".to_string()),
        flag: key.flag,
    };
    let mut text = segments.join("\r");
    text.push_str("\r\u{1c}");
    SynthFile {
        rel_path: name.standard_path(),
        bytes: encode_iso2022jp(&text),
        format: FileFormat::Ssmix2,
    }
}

fn msh(message_type: &str, ts: &str) -> String {
    format!(
        "MSH|^~\\&|HIS|SYNTH|GW|RCV|{}||{message_type}|{ts}|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO",
        &ts[..14]
    )
}

fn pid(f: &Facts) -> String {
    let sex = if f.sex == Sex::Male { "M" } else { "F" };
    format!(
        "PID|0001||{}^^^^PI||{}^{}^^^^^L^I~{}^{}^^^^^L^P||{}|{sex}",
        f.id,
        f.kanji.0,
        f.kanji.1,
        f.kana.0,
        f.kana.1,
        ymd(f.birth)
    )
}

/// All files of one patient. `crashed_delete` leaves the deleted order's old file flagged
/// `1` (the writer died before renaming it), which a newer `_0` must still override.
pub(crate) fn write_patient(f: &Facts, crashed_delete: bool) -> Vec<SynthFile> {
    let mut out = demographics(f);
    out.extend(problems(f));
    let mut seq = 0;
    let mut next_order = || {
        seq += 1;
        format!("{:015}", seq)
    };
    for (drug, date) in &f.recent_rx {
        out.push(prescription(
            f,
            drug,
            *date,
            &next_order(),
            ConditionFlag::Current,
        ));
    }
    out.push(prescription(
        f,
        f.old_rx.0,
        f.old_rx.1,
        &next_order(),
        ConditionFlag::Current,
    ));
    let (drug, date) = f.deleted_rx;
    let order = next_order();
    let old_flag = if crashed_delete {
        ConditionFlag::Current
    } else {
        ConditionFlag::Deleted
    };
    out.push(prescription(f, drug, date, &order, old_flag));
    out.push(cancel(f, date, &order));
    if let Some((inj, date)) = f.injection {
        out.push(injection(f, inj, date, &next_order()));
    }
    out.extend(labs(f, &mut next_order));
    out.extend(stay(f));
    out
}

/// One OML-11 file per result: the older and newer value of each test, and the infection test.
fn labs(f: &Facts, next_order: &mut impl FnMut() -> String) -> Vec<SynthFile> {
    let mut out = Vec::new();
    for (lab, older, newer) in &f.labs {
        for (value, date) in [older, newer] {
            let obx = format!(
                "OBX|1|NM|{}^{}^JC10||{value}|{u}^{u}^99XYZ|{}||||F|||{}0900",
                lab.code,
                lab.name,
                lab.range,
                ymd(*date),
                u = esc(lab.unit)
            );
            out.push(lab_file(f, *date, &next_order(), obx));
        }
    }
    if f.infection_lab {
        let date = f.old_rx.1;
        let obx = format!(
            "OBX|1|ST|{}^{}^JC10||{}||||||F|||{}0900",
            INFECTION_LAB.code,
            INFECTION_LAB.name,
            INFECTION_LAB.result,
            ymd(date)
        );
        out.push(lab_file(f, date, &next_order(), obx));
    }
    out
}

fn demographics(f: &Facts) -> Vec<SynthFile> {
    let old = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or(f.birth);
    let new = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap_or(f.birth);
    let adt00 = |date: NaiveDate, flag, allergy: (&str, &str)| {
        let ts = ts17(date, 10);
        let segs = [
            msh("ADT^A08^ADT_A01", &ts),
            format!("EVN||{}", &ts[..12]),
            pid(f),
            format!(
                "AL1|1|DA^薬剤アレルギー^HL70127|{}^{}^99XYZ",
                allergy.0, allergy.1
            ),
        ];
        let key = Key {
            date: None,
            data_type: "ADT-00",
            order_no: NO_ORDER.into(),
            ts,
            flag,
        };
        file(f, key, &segs)
    };
    let mut out = vec![
        // The replaced version names an allergy that is no longer true.
        adt00(old, ConditionFlag::Replaced, ("9", "卵")),
        adt00(new, ConditionFlag::Current, (f.al1.code, f.al1.name)),
    ];
    if !f.iam.is_empty() {
        let ts = ts17(new, 11);
        let mut segs = vec![msh("ADT^A60^ADT_A60", &ts), pid(f)];
        for (i, a) in f.iam.iter().enumerate() {
            segs.push(format!(
                "IAM|{}|{}^{}^HL70127|{}^{}^{}|MO^中等度^HL70128|{}|A^追加^HL70323|||||20100101",
                i + 1,
                a.kind.0,
                a.kind.1,
                a.code,
                a.name,
                a.system,
                a.reaction
            ));
        }
        let key = Key {
            date: None,
            data_type: "ADT-61",
            order_no: NO_ORDER.into(),
            ts,
            flag: ConditionFlag::Current,
        };
        out.push(file(f, key, &segs));
    }
    out
}

fn prb(i: usize, d: &Disease, onset: &str, ended: Option<&str>) -> String {
    let (resolved, outcome) = match ended {
        Some(date) => (date, "F^治癒^HL70241"),
        None => ("", ""),
    };
    format!(
        "PRB|AD|{onset}|{}^{}^MDCDX2|{:015}|||{onset}||{resolved}|{}^^I10||||{outcome}||{onset}|{}",
        d.medis, d.name, i, d.icd10, d.name
    )
}

fn problems(f: &Facts) -> Vec<SynthFile> {
    let ppr = |date: NaiveDate, flag, body: Vec<String>| {
        let ts = ts17(date, 9);
        let mut segs = vec![msh("PPR^ZD1^PPR_ZD1", &ts), pid(f)];
        segs.extend(body);
        let key = Key {
            date: None,
            data_type: "PPR-01",
            order_no: NO_ORDER.into(),
            ts,
            flag,
        };
        file(f, key, &segs)
    };
    let old_body = vec![format!(
        "PRB|AD|20190101|99999999^古い病名^MDCDX2|{:015}|||20190101||||||||||20190101|古い病名",
        99
    )];
    let mut body: Vec<String> = f
        .active_dx
        .iter()
        .enumerate()
        .map(|(i, d)| prb(i + 1, d, "20200401", None))
        .collect();
    body.push(prb(9, f.resolved_dx, "20190401", Some("20190601")));
    vec![
        ppr(
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or(f.birth),
            ConditionFlag::Replaced,
            old_body,
        ),
        ppr(
            NaiveDate::from_ymd_opt(2021, 1, 1).unwrap_or(f.birth),
            ConditionFlag::Current,
            body,
        ),
    ]
}

fn order_key<'a>(
    date: NaiveDate,
    data_type: &'a str,
    order: &str,
    hour: u32,
    flag: ConditionFlag,
) -> Key<'a> {
    Key {
        date: Some(date),
        data_type,
        order_no: order.to_string(),
        ts: ts17(date, hour),
        flag,
    }
}

fn prescription(
    f: &Facts,
    d: &Drug,
    date: NaiveDate,
    order: &str,
    flag: ConditionFlag,
) -> SynthFile {
    let ts = ts17(date, 12);
    let segs = [
        msh("RDE^O11^RDE_O11", &ts),
        pid(f),
        format!("ORC|NW|{order}||1|||||{}1030", ymd(date)),
        format!(
            "RXE||{}^{}^HOT9|1||{u}^{n}^MR9P|||||14|{u}^{n}^MR9P",
            d.hot9,
            d.name,
            u = d.unit.0,
            n = d.unit.1
        ),
        format!(
            "TQ1|1||{}&{}&JAMISDP01|||14^d|{}",
            d.usage.0,
            d.usage.1,
            ymd(date)
        ),
        "RXR|PO^口^HL70162".to_string(),
    ];
    file(f, order_key(date, "OMP-01", order, 12, flag), &segs)
}

/// The delete message for an order (written with flag 0, newer than the order itself).
fn cancel(f: &Facts, date: NaiveDate, order: &str) -> SynthFile {
    let ts = ts17(date, 18);
    let segs = [
        msh("RDE^O11^RDE_O11", &ts),
        pid(f),
        format!("ORC|CA|{order}||1|||||{}1800", ymd(date)),
    ];
    file(
        f,
        order_key(date, "OMP-01", order, 18, ConditionFlag::Deleted),
        &segs,
    )
}

fn injection(f: &Facts, inj: &super::tables::Injection, date: NaiveDate, order: &str) -> SynthFile {
    let ts = ts17(date, 7);
    let day = ymd(date);
    let segs = [
        msh("RDE^O11^RDE_O11", &ts),
        pid(f),
        format!("ORC|NW|{order}||1|||||{day}0700"),
        "RXE||00^一般^99I02|500||ML^ミリリットル^MR9P".to_string(),
        format!("TQ1|1||||||{day}0800|{day}1300"),
        "RXR|IV^静脈内^HL70162".to_string(),
        format!(
            "RXC|B|{}^{}^HOT9|1|{}^{}^MR9P",
            inj.hot9, inj.name, inj.unit.0, inj.unit.1
        ),
    ];
    file(
        f,
        order_key(date, "OMP-02", order, 7, ConditionFlag::Current),
        &segs,
    )
}

fn lab_file(f: &Facts, date: NaiveDate, order: &str, obx: String) -> SynthFile {
    let ts = ts17(date, 15);
    let day = ymd(date);
    let segs = [
        msh("OUL^R22^OUL_R22", &ts),
        pid(f),
        format!("SPM|1|{order}||023^血清^JC10|||||||||||||{day}0900"),
        format!("OBR|1|{order}||E001^検体検査^99O03|||{day}0900"),
        obx,
    ];
    file(
        f,
        order_key(date, "OML-11", order, 15, ConditionFlag::Current),
        &segs,
    )
}

fn pv1(ward: &str, admit: &str, discharge: &str) -> String {
    let mut fields = vec![String::new(); 46];
    fields[0] = "PV1".into();
    fields[1] = "0001".into();
    fields[2] = "I".into();
    fields[3] = format!("{ward}^101^1^^^N");
    fields[10] = "01".into();
    fields[44] = admit.into();
    fields[45] = discharge.into();
    fields.join("|")
}

fn stay(f: &Facts) -> Vec<SynthFile> {
    let Some((admit, ward, discharge)) = f.stay else {
        return Vec::new();
    };
    let admit_time = format!("{}1000", ymd(admit));
    let adt = |date: NaiveDate, data_type, ty: &str, pv: String| {
        let ts = ts17(date, 11);
        let segs = [msh(ty, &ts), format!("EVN||{}", &ts[..12]), pid(f), pv];
        let key = Key {
            date: Some(date),
            data_type,
            order_no: NO_ORDER.into(),
            ts,
            flag: ConditionFlag::Current,
        };
        file(f, key, &segs)
    };
    let mut out = vec![adt(
        admit,
        "ADT-22",
        "ADT^A01^ADT_A01",
        pv1(ward, &admit_time, ""),
    )];
    if let Some(d) = discharge {
        let pv = pv1(ward, &admit_time, &format!("{}1400", ymd(d)));
        out.push(adt(d, "ADT-52", "ADT^A03^ADT_A03", pv));
    }
    out
}
