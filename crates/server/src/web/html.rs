//! Building HTML so that no value can reach the page unescaped.
//!
//! [`Html`] accepts markup only as `&'static str` (written in this source code, never data) and
//! everything else through [`Html::text`], which escapes `& < > " '`. A value from a request, the
//! audit log, an account name or a patient record therefore cannot open a tag or leave an
//! attribute, whatever it contains; the tests below try.

use std::fmt::Write;

/// Escape `s` for HTML text and for double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business in a page; a NUL or an ESC from a damaged
            // record would only confuse the reader.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode `s` for a URL query value or path segment (RFC 3986 unreserved kept).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An HTML fragment under construction.
#[derive(Default, Debug, Clone)]
pub struct Html(String);

impl Html {
    pub fn new() -> Html {
        Html(String::new())
    }

    /// Markup written in the source code.
    pub fn raw(&mut self, markup: &'static str) -> &mut Html {
        self.0.push_str(markup);
        self
    }

    /// A value, escaped.
    pub fn text(&mut self, value: &str) -> &mut Html {
        self.0.push_str(&escape(value));
        self
    }

    /// `<tag>value</tag>` with the value escaped.
    pub fn el(&mut self, tag: &'static str, value: &str) -> &mut Html {
        let _ = write!(self.0, "<{tag}>{}</{tag}>", escape(value));
        self
    }

    /// `<tag class="class">value</tag>` with the value escaped.
    pub fn el_class(&mut self, tag: &'static str, class: &'static str, value: &str) -> &mut Html {
        let _ = write!(self.0, "<{tag} class=\"{class}\">{}</{tag}>", escape(value));
        self
    }

    /// A link; `href` is escaped as an attribute (callers percent-encode query values).
    pub fn link(&mut self, href: &str, label: &str) -> &mut Html {
        let _ = write!(self.0, "<a href=\"{}\">{}</a>", escape(href), escape(label));
        self
    }

    /// A hidden form field.
    pub fn hidden(&mut self, name: &'static str, value: &str) -> &mut Html {
        let _ = write!(
            self.0,
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        );
        self
    }

    /// A labelled text input with a current value.
    pub fn input(
        &mut self,
        name: &'static str,
        kind: &'static str,
        label: &str,
        value: &str,
    ) -> &mut Html {
        let _ = write!(
            self.0,
            "<label>{} <input type=\"{kind}\" name=\"{name}\" id=\"{name}\" value=\"{}\"></label>",
            escape(label),
            escape(value)
        );
        self
    }

    /// A number, which needs no escaping.
    pub fn num(&mut self, n: impl Into<u64>) -> &mut Html {
        let _ = write!(self.0, "{}", n.into());
        self
    }

    /// Another fragment built the same way.
    pub fn push(&mut self, other: &Html) -> &mut Html {
        self.0.push_str(&other.0);
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACK: &str = "\"><script>alert('x')</script><img src=x onerror=alert(1)>";

    #[test]
    fn an_xss_attempt_stays_text_in_every_position() {
        let mut h = Html::new();
        h.el("td", ATTACK)
            .link(&format!("/x?q={ATTACK}"), ATTACK)
            .hidden("csrf", ATTACK)
            .input("q", "text", ATTACK, ATTACK)
            .text(ATTACK);
        let out = h.into_string();
        assert!(!out.contains("<script") && !out.contains("<img"), "{out}");
        // Take out every escaped copy of the attack: what is left is only our own markup.
        let rest = out.replace(&escape(ATTACK), "");
        assert_eq!(out.matches(&escape(ATTACK)).count(), 7, "{out}");
        for bad in ["script", "img", "alert", "onerror", "&"] {
            assert!(
                !rest.contains(bad),
                "{bad} outside an escaped value: {rest}"
            );
        }
    }

    #[test]
    fn escape_keeps_japanese_and_replaces_controls() {
        assert_eq!(escape("山田 花子 ｶﾅ & co"), "山田 花子 ｶﾅ &amp; co");
        assert_eq!(escape("a\u{0}b\u{1b}c\nd"), "a\u{FFFD}b\u{FFFD}c\nd");
    }

    #[test]
    fn url_encode_keeps_only_unreserved() {
        assert_eq!(url_encode("ヤ a&b=c/d"), "%E3%83%A4%20a%26b%3Dc%2Fd");
        assert_eq!(url_encode("plan.approve-1_~"), "plan.approve-1_~");
    }
}
