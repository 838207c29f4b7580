//! Kana normalisation for patient search.
//!
//! Registration desks type kana in every form: half-width katakana (`ｶﾝｼﾞｬ`), hiragana
//! (`かんじゃ`), full-width katakana (`カンジャ`), with or without spaces (half- or full-width).
//! [`normalize_kana`] maps all of them to full-width katakana without spaces, folding the
//! half-width voiced marks (`ｶﾞ` → `ガ`, `ﾊﾟ` → `パ`) and ASCII letters to upper case, so a
//! substring test on normalised strings is the whole search.

/// Half-width katakana U+FF66..=U+FF9D mapped to full-width, in code-point order.
const HALF_TO_FULL: &[char] = &[
    'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー', 'ア', 'イ', 'ウ', 'エ', 'オ',
    'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ',
    'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ',
    'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

const HALF_VOICED: char = '\u{FF9E}';
const HALF_SEMI_VOICED: char = '\u{FF9F}';

/// Normalise kana for search: full-width katakana, no spaces, ASCII upper case.
pub fn normalize_kana(input: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(input.len());
    for c in input.chars() {
        match c {
            ' ' | '\u{3000}' | '\t' | '・' | '･' => {}
            HALF_VOICED => voice(&mut out, '\u{3099}'),
            HALF_SEMI_VOICED => voice(&mut out, '\u{309A}'),
            '\u{3099}' | '\u{309A}' => voice(&mut out, c),
            '\u{FF66}'..='\u{FF9D}' => {
                let idx = c as usize - 0xFF66;
                out.push(HALF_TO_FULL.get(idx).copied().unwrap_or(c));
            }
            // Hiragana ぁ..ゖ and the iteration marks ゝゞ sit 0x60 below their katakana.
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                out.push(char::from_u32(c as u32 + 0x60).unwrap_or(c));
            }
            // Full-width ASCII letters/digits → ASCII.
            '\u{FF01}'..='\u{FF5E}' => {
                let ascii = char::from_u32(c as u32 - 0xFEE0).unwrap_or(c);
                out.push(ascii.to_ascii_uppercase());
            }
            _ => out.push(c.to_ascii_uppercase()),
        }
    }
    out.into_iter().collect()
}

/// Apply a (combining) voiced or semi-voiced mark to the previous katakana.
fn voice(out: &mut [char], mark: char) {
    let Some(prev) = out.last().copied() else {
        return;
    };
    let voiced = if mark == '\u{3099}' {
        match prev {
            'ウ' => Some('ヴ'),
            'カ'..='ト' | 'ハ'..='ホ' if can_voice(prev) => char::from_u32(prev as u32 + 1),
            _ => None,
        }
    } else {
        match prev {
            'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(prev as u32 + 2),
            _ => None,
        }
    };
    if let (Some(v), Some(last)) = (voiced, out.last_mut()) {
        *last = v;
    }
}

/// Katakana whose next code point is the voiced form (カ→ガ … ト→ド, ハ→バ …).
fn can_voice(c: char) -> bool {
    let unvoiced = "カキクケコサシスセソタチツテトハヒフヘホ";
    unvoiced.contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_kana_forms_normalize_to_the_same_string() {
        let expected = "カンジャタロウ";
        for input in [
            "カンジャ タロウ",
            "かんじゃ　たろう",
            "ｶﾝｼﾞｬ ﾀﾛｳ",
            "カンジャタロウ",
            "ｶﾝｼﾞｬ　ﾀﾛｳ",
        ] {
            assert_eq!(normalize_kana(input), expected, "{input:?}");
        }
    }

    #[test]
    fn voiced_and_semi_voiced_half_width() {
        assert_eq!(normalize_kana("ﾊﾟﾝ ﾌﾞﾝ ｳﾞｧ"), "パンブンヴァ");
        assert_eq!(normalize_kana("ﾎﾟ"), "ポ");
        // A stray mark at the start is dropped, not a panic.
        assert_eq!(normalize_kana("ﾞｱ"), "ア");
        // Marks cannot voice characters that have no voiced form.
        assert_eq!(normalize_kana("ｱﾞ"), "ア");
    }

    #[test]
    fn long_vowel_and_ascii() {
        assert_eq!(normalize_kana("ｰ"), "ー");
        assert_eq!(normalize_kana("ｽｰﾊﾟｰ abc"), "スーパーABC");
        assert_eq!(normalize_kana("ＡＢＣ１"), "ABC1");
    }
}
