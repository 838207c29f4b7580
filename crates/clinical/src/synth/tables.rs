//! Made-up master tables for the synthetic generator. Codes imitate the real systems' shapes
//! (HOT9 9 digits, JLAC10 17 characters, MEDIS 病名管理番号 8 digits, ICD-10) but are not
//! taken from the licensed masters and may not exist there.

use super::Rng;

pub(crate) const FAMILY: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
];

pub(crate) const GIVEN_MALE: &[(&str, &str)] = &[
    ("太郎", "タロウ"),
    ("健一", "ケンイチ"),
    ("大輔", "ダイスケ"),
    ("誠", "マコト"),
    ("翔太", "ショウタ"),
    ("浩", "ヒロシ"),
];

pub(crate) const GIVEN_FEMALE: &[(&str, &str)] = &[
    ("花子", "ハナコ"),
    ("陽子", "ヨウコ"),
    ("美咲", "ミサキ"),
    ("恵子", "ケイコ"),
    ("由美", "ユミ"),
    ("さくら", "サクラ"),
];

/// ADT-00 AL1 allergy (local code system `99XYZ`).
#[derive(Debug)]
pub(crate) struct Al1 {
    pub code: &'static str,
    pub name: &'static str,
}

pub(crate) const AL1: &[Al1] = &[
    Al1 {
        code: "1",
        name: "ペニシリン",
    },
    Al1 {
        code: "2",
        name: "ヨード造影剤",
    },
];

/// ADT-61 IAM allergen.
#[derive(Debug)]
pub(crate) struct Allergen {
    /// HL7 0127 type and its display.
    pub kind: (&'static str, &'static str),
    pub code: &'static str,
    pub name: &'static str,
    /// `HOT9` or `JC10`.
    pub system: &'static str,
    pub reaction: &'static str,
    /// FHIR category.
    pub category: &'static str,
}

pub(crate) const ALLERGENS: &[Allergen] = &[
    Allergen {
        kind: ("DA", "薬剤アレルギー"),
        code: "111111101",
        name: "ロキソプロフェン",
        system: "HOT9",
        reaction: "喘息発作",
        category: "medication",
    },
    Allergen {
        kind: ("FA", "食物アレルギー"),
        code: "5A1002411023006",
        name: "ソバ",
        system: "JC10",
        reaction: "湿疹",
        category: "food",
    },
    Allergen {
        kind: ("FA", "食物アレルギー"),
        code: "5A1002310023006",
        name: "卵白",
        system: "JC10",
        reaction: "じんましん",
        category: "food",
    },
    Allergen {
        kind: ("LA", "花粉アレルギー"),
        code: "5A1002216023023",
        name: "スギ",
        system: "JC10",
        reaction: "目のかゆみ",
        category: "environment",
    },
];

/// A diagnosis: MEDIS 病名管理番号, name, ICD-10.
#[derive(Debug)]
pub(crate) struct Disease {
    pub medis: &'static str,
    pub name: &'static str,
    pub icd10: &'static str,
}

pub(crate) const DISEASES: &[Disease] = &[
    Disease {
        medis: "20054174",
        name: "胃炎",
        icd10: "K297",
    },
    Disease {
        medis: "20060826",
        name: "高血圧症",
        icd10: "I10",
    },
    Disease {
        medis: "20062380",
        name: "２型糖尿病",
        icd10: "E119",
    },
    Disease {
        medis: "20057932",
        name: "気管支喘息",
        icd10: "J459",
    },
    Disease {
        medis: "20059340",
        name: "帯状疱疹",
        icd10: "B029",
    },
    Disease {
        medis: "20065590",
        name: "脂質異常症",
        icd10: "E785",
    },
    Disease {
        medis: "20061840",
        name: "肺結核",
        icd10: "A162",
    },
];

/// A prescription drug (HOT9) with dose unit and usage.
#[derive(Debug)]
pub(crate) struct Drug {
    pub hot9: &'static str,
    pub name: &'static str,
    pub unit: (&'static str, &'static str),
    pub usage: (&'static str, &'static str),
}

const TID: (&str, &str) = ("1013044400000000", "内服・経口・１日３回朝昼夕食後");
const QD: (&str, &str) = ("1011000400000000", "内服・経口・１日１回朝食後");

pub(crate) const DRUGS: &[Drug] = &[
    Drug {
        hot9: "103835401",
        name: "アムロジピン錠５ｍｇ",
        unit: ("TAB", "錠"),
        usage: QD,
    },
    Drug {
        hot9: "105271807",
        name: "メトホルミン塩酸塩錠２５０ｍｇ",
        unit: ("TAB", "錠"),
        usage: TID,
    },
    Drug {
        hot9: "100795402",
        name: "ロキソプロフェンＮａ錠６０ｍｇ",
        unit: ("TAB", "錠"),
        usage: TID,
    },
    Drug {
        hot9: "108665201",
        name: "ダーゼン錠（５ｍｇ）",
        unit: ("TAB", "錠"),
        usage: TID,
    },
    Drug {
        hot9: "114509101",
        name: "ファモチジン錠２０ｍｇ",
        unit: ("TAB", "錠"),
        usage: QD,
    },
];

/// An injection drug (RXC component).
#[derive(Debug)]
pub(crate) struct Injection {
    pub hot9: &'static str,
    pub name: &'static str,
    pub unit: (&'static str, &'static str),
}

pub(crate) const INJECTIONS: &[Injection] = &[
    Injection {
        hot9: "620007329",
        name: "ソリタＴ３号輸液５００ｍＬ",
        unit: ("HON", "本"),
    },
    Injection {
        hot9: "620002559",
        name: "アドナ注（静脈用）５０ｍｇ",
        unit: ("AMP", "アンプル"),
    },
];

/// A numeric lab test (JLAC10) with a value range for generation.
#[derive(Debug)]
pub(crate) struct Lab {
    pub code: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub range: &'static str,
    /// Generated values are `low + k/10` for `k` in `0..spread_tenths`.
    pub low: u32,
    pub spread_tenths: u32,
}

impl Lab {
    pub(crate) fn value(&self, rng: &mut Rng) -> String {
        let tenths = self.low * 10 + rng.below(self.spread_tenths as usize) as u32;
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

pub(crate) const LABS: &[Lab] = &[
    Lab {
        code: "3A010000002327101",
        name: "総蛋白",
        unit: "g/dL",
        range: "6.7-8.3",
        low: 6,
        spread_tenths: 30,
    },
    Lab {
        code: "3D010000001926101",
        name: "グルコース",
        unit: "mg/dL",
        range: "73-109",
        low: 70,
        spread_tenths: 900,
    },
    Lab {
        code: "3C015000002327101",
        name: "クレアチニン",
        unit: "mg/dL",
        range: "0.46-0.79",
        low: 0,
        spread_tenths: 20,
    },
    // A unit containing `^` exercises HL7 escaping (`\S\`) end to end.
    Lab {
        code: "2A990000001930952",
        name: "白血球数",
        unit: "10^3/uL",
        range: "3.3-8.6",
        low: 3,
        spread_tenths: 60,
    },
];

/// The qualitative infection test.
#[derive(Debug)]
pub(crate) struct InfectionLab {
    pub code: &'static str,
    pub name: &'static str,
    pub result: &'static str,
}

pub(crate) const INFECTION_LAB: InfectionLab = InfectionLab {
    code: "5F016141002305211",
    name: "HBs抗原",
    result: "陰性",
};

pub(crate) const WARDS: &[&str] = &["3E", "4W", "5N"];
