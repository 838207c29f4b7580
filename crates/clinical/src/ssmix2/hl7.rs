//! A small HL7 v2 splitter over *decoded* text.
//!
//! Only what the viewer needs: segments, fields, repetitions, components, subcomponents and
//! escape sequences. Field numbers follow the standard (MSH-1 is the field separator itself),
//! so `seg.field(3)` is PID-3 on a PID segment and MSH-3 on the MSH segment.
//!
//! Framing: segments end with CR; files in the wild also carry MLLP bytes (`0x0B`, a trailing
//! `0x1C`) and sometimes LF, so all of those are treated as segment breaks.

/// The five delimiters declared in MSH-1/MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
        }
    }
}

/// One segment; `fields[0]` is the segment name, `fields[n]` is field n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    fields: Vec<String>,
}

/// A parsed message: its delimiters and segments in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub delimiters: Delimiters,
    pub segments: Vec<Segment>,
}

impl Message {
    /// Split decoded text into segments. Returns `None` when no MSH segment starts the
    /// message (after skipping blank lines and framing bytes): the text is not HL7 v2.
    pub fn parse(text: &str) -> Option<Message> {
        let mut lines = text
            .split(['\r', '\n', '\u{0B}', '\u{1C}'])
            .map(|l| l.trim_start_matches('\u{FEFF}'))
            .filter(|l| !l.trim().is_empty());
        let first = lines.next()?;
        let delimiters = parse_msh_delimiters(first)?;
        let mut segments = vec![split_msh(first, delimiters)];
        for line in lines {
            segments.push(Segment {
                fields: line.split(delimiters.field).map(str::to_string).collect(),
            });
        }
        Some(Message {
            delimiters,
            segments,
        })
    }

    /// First segment with this name.
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name() == name)
    }

    /// All segments with this name, in order.
    pub fn segments_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Segment> {
        self.segments.iter().filter(move |s| s.name() == name)
    }

    /// MSH-9 message type and trigger, e.g. (`ADT`, `A08`).
    pub fn message_type(&self) -> (String, String) {
        let Some(msh) = self.segment("MSH") else {
            return (String::new(), String::new());
        };
        let f = msh.field(9);
        (self.component(f, 1), self.component(f, 2))
    }

    /// Component `n` (1-based) of the first repetition of a raw field, unescaped; `""` when
    /// absent (and for `n == 0`).
    pub fn component(&self, field: &str, n: usize) -> String {
        let rep = field.split(self.delimiters.repetition).next().unwrap_or("");
        self.rep_component(rep, n)
    }

    /// Repetitions of a raw field.
    pub fn repetitions<'a>(&self, field: &'a str) -> impl Iterator<Item = &'a str> {
        field
            .split(self.delimiters.repetition)
            .filter(|r| !r.is_empty())
    }

    /// Component `n` (1-based) of one repetition, unescaped; `""` when absent or `n == 0`.
    pub fn rep_component(&self, repetition: &str, n: usize) -> String {
        let Some(index) = n.checked_sub(1) else {
            return String::new();
        };
        let comp = repetition
            .split(self.delimiters.component)
            .nth(index)
            .unwrap_or("");
        self.unescape(comp)
    }

    /// Subcomponents of one component, unescaped.
    pub fn subcomponents(&self, component: &str) -> Vec<String> {
        component
            .split(self.delimiters.subcomponent)
            .map(|s| self.unescape(s))
            .collect()
    }

    /// Undo HL7 escapes: `\F\ \S\ \T\ \R\ \E\`, `\.br\` (line break), `\Xhh..\` (ASCII bytes).
    /// Unknown or unterminated escapes are kept verbatim: showing `\Z1\` beats losing text.
    pub fn unescape(&self, s: &str) -> String {
        let esc = self.delimiters.escape;
        if !s.contains(esc) {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(pos) = rest.find(esc) {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + esc.len_utf8()..];
            let Some(end) = after.find(esc) else {
                out.push_str(&rest[pos..]);
                return out;
            };
            let body = &after[..end];
            match self.escape_body(body) {
                Some(text) => out.push_str(&text),
                None => {
                    out.push(esc);
                    out.push_str(body);
                    out.push(esc);
                }
            }
            rest = &after[end + esc.len_utf8()..];
        }
        out.push_str(rest);
        out
    }

    fn escape_body(&self, body: &str) -> Option<String> {
        let d = self.delimiters;
        let simple = match body {
            "F" => Some(d.field),
            "S" => Some(d.component),
            "T" => Some(d.subcomponent),
            "R" => Some(d.repetition),
            "E" => Some(d.escape),
            ".br" => Some('\n'),
            _ => None,
        };
        if let Some(c) = simple {
            return Some(c.to_string());
        }
        let hex = body.strip_prefix('X')?;
        if hex.is_empty() || hex.len() % 2 != 0 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect();
        String::from_utf8(bytes?).ok()
    }
}

impl Segment {
    /// A segment with no fields, used where an optional segment is absent.
    pub fn empty() -> Segment {
        Segment { fields: Vec::new() }
    }

    /// Segment name (`PID`, `OBX`, …).
    pub fn name(&self) -> &str {
        self.fields.first().map(String::as_str).unwrap_or("")
    }

    /// Raw field `n` (escapes not undone; use [`Message::component`] for values), or `""`.
    pub fn field(&self, n: usize) -> &str {
        self.fields.get(n).map(String::as_str).unwrap_or("")
    }
}

fn parse_msh_delimiters(line: &str) -> Option<Delimiters> {
    let rest = line.strip_prefix("MSH")?;
    let mut chars = rest.chars();
    let field = chars.next()?;
    let mut d = Delimiters {
        field,
        ..Delimiters::default()
    };
    // MSH-2 holds component, repetition, escape, subcomponent in that order; a shorter
    // MSH-2 keeps the defaults for what it leaves out.
    let enc: Vec<char> = chars.take_while(|&c| c != field).collect();
    let slots = [
        &mut d.component,
        &mut d.repetition,
        &mut d.escape,
        &mut d.subcomponent,
    ];
    for (slot, c) in slots.into_iter().zip(enc) {
        *slot = c;
    }
    Some(d)
}

fn split_msh(line: &str, d: Delimiters) -> Segment {
    // "MSH|^~\&|A|B" → ["MSH", "|", "^~\&", "A", "B"] so that MSH-n is fields[n].
    let mut fields = vec!["MSH".to_string(), d.field.to_string()];
    let after = line.get(3 + d.field.len_utf8()..).unwrap_or("");
    fields.extend(after.split(d.field).map(str::to_string));
    Segment { fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = "\u{0B}MSH|^~\\&|HIS123|SEND|GW|RCV|20111220224447.3399||ADT^A08^ADT_A01|1|P|2.5\rPID|0001||9999013^^^^PI||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P||19480405|M\rNTE|1||a\\F\\b\\S\\c\\E\\d\\X41\\\\Z9\\\r\u{1C}";

    #[test]
    fn msh_fields_are_numbered_from_the_separator() {
        let m = Message::parse(MSG).expect("hl7");
        let msh = m.segment("MSH").expect("msh");
        assert_eq!(msh.field(1), "|");
        assert_eq!(msh.field(2), "^~\\&");
        assert_eq!(msh.field(3), "HIS123");
        assert_eq!(m.message_type(), ("ADT".to_string(), "A08".to_string()));
    }

    #[test]
    fn fields_components_and_repetitions() {
        let m = Message::parse(MSG).expect("hl7");
        let pid = m.segment("PID").expect("pid");
        assert_eq!(m.component(pid.field(3), 1), "9999013");
        let reps: Vec<&str> = m.repetitions(pid.field(5)).collect();
        assert_eq!(reps.len(), 2);
        assert_eq!(m.rep_component(reps[1], 1), "カンジャ");
        assert_eq!(m.rep_component(reps[1], 8), "P");
        assert_eq!(pid.field(99), "");
        assert_eq!(
            m.component(pid.field(3), 0),
            "",
            "component 0 does not exist"
        );
        assert_eq!(m.segments_named("PID").count(), 1);
    }

    #[test]
    fn escapes_are_undone_after_splitting() {
        let m = Message::parse(MSG).expect("hl7");
        let nte = m.segment("NTE").expect("nte");
        assert_eq!(m.unescape(nte.field(3)), "a|b^c\\dA\\Z9\\");
        assert_eq!(m.unescape("open\\F"), "open\\F");
    }

    #[test]
    fn non_hl7_text_is_rejected() {
        assert_eq!(Message::parse(""), None);
        assert_eq!(Message::parse("PID|1\r"), None);
        assert_eq!(Message::parse("MSH"), None);
    }

    #[test]
    fn custom_delimiters_from_msh2() {
        let m = Message::parse("MSH#:*!@#A#B\rPID#1##x:y*z:w").expect("hl7");
        let pid = m.segment("PID").expect("pid");
        assert_eq!(m.component(pid.field(3), 2), "y");
        assert_eq!(m.repetitions(pid.field(3)).count(), 2);
    }
}
