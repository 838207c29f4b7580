//! Languages, text tables and the page layout shared by the console and the viewer.
//!
//! Pages are Japanese unless the user chose English (`?lang=en`, remembered in a cookie). Each
//! page set keeps its texts in one table of `(key, 日本語, English)` rows, so a translation is
//! reviewed in one place and a missing key shows up as the key itself (and fails the table test).

use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, Utc};

use super::html::{url_encode, Html};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// One page set's texts: `(key, Japanese, English)`.
pub type Texts = [(&'static str, &'static str, &'static str)];

/// The text for `key` in `lang`; the key itself if the table lacks it.
pub fn tr(table: &'static Texts, lang: Lang, key: &'static str) -> &'static str {
    match table.iter().find(|(k, _, _)| *k == key) {
        Some((_, ja, en)) => match lang {
            Lang::Ja => ja,
            Lang::En => en,
        },
        None => key,
    }
}

/// Texts of the layout and the login page.
pub const COMMON: &Texts = &[
    ("brand", "Kura 蔵 バックアップ保管庫", "Kura vault"),
    ("logout", "ログアウト", "Log out"),
    ("other_lang", "English", "日本語"),
    ("login_title", "ログイン", "Log in"),
    ("user", "ユーザー名", "User name"),
    ("password", "パスワード", "Password"),
    (
        "code",
        "確認コード（6桁）または回復コード",
        "Code (6 digits) or recovery code",
    ),
    ("login_button", "ログイン", "Log in"),
    (
        "login_reload",
        "ログイン画面の有効期限が切れました。もう一度入力してください。",
        "The login form expired; please enter your details again.",
    ),
    ("error", "エラー", "Error"),
    (
        "forbidden",
        "この画面を表示する権限がありません",
        "You may not open this page",
    ),
    ("back", "戻る", "Back"),
    ("signed_in_as", "ログイン中:", "Signed in as"),
    ("change_password", "パスワード変更", "Change password"),
    (
        "must_change",
        "管理者が設定したパスワードを使用中です。ご自身のパスワードに変更してください。",
        "You are using a password an administrator set. Please change it to your own.",
    ),
    (
        "password_changed",
        "パスワードを変更しました。新しいパスワードでログインしてください。",
        "Your password was changed. Log in with the new password.",
    ),
];

/// Japan Standard Time: the vault's pages show and take times in the hospital's zone.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// `2026-04-01 09:30 JST`.
pub fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&jst())
        .format("%Y-%m-%d %H:%M JST")
        .to_string()
}

/// A duration in the page's language, to the largest whole unit.
pub fn age(lang: Lang, secs: i64) -> String {
    let secs = secs.max(0);
    let (n, ja, en) = if secs >= 2 * 86_400 {
        (secs / 86_400, "日前", "days ago")
    } else if secs >= 3_600 {
        (secs / 3_600, "時間前", "hours ago")
    } else {
        (secs / 60, "分前", "minutes ago")
    };
    match lang {
        Lang::Ja => format!("{n} {ja}"),
        Lang::En => format!("{n} {en}"),
    }
}

/// Who is looking at a page, for its header.
pub struct Viewer<'a> {
    pub name: &'a str,
    pub roles: &'a str,
    pub csrf: &'a str,
}

/// What the layout needs besides the body.
pub struct Frame<'a> {
    pub lang: Lang,
    /// The page set, used as the body's class (`console`, `viewer`, `login`).
    pub area: &'static str,
    pub title: &'a str,
    /// Navigation links: (href, label).
    pub nav: Vec<(&'static str, &'static str)>,
    pub viewer: Option<Viewer<'a>>,
    /// The path of this page, for the language switch.
    pub path: &'a str,
}

/// The whole document. Styles come from `/web/style.css` (the Content-Security-Policy allows
/// nothing inline), including the print layout.
pub fn layout(f: &Frame<'_>, body: &Html) -> String {
    let t = |k| tr(COMMON, f.lang, k);
    let mut h = Html::new();
    h.raw("<!DOCTYPE html><html lang=\"")
        .raw(f.lang.code())
        .raw("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
        .text(f.title)
        .raw(" - Kura</title><link rel=\"stylesheet\" href=\"/web/style.css\"></head><body class=\"")
        .raw(f.area)
        .raw("\"><header class=\"noprint\"><span class=\"brand\">")
        .text(t("brand"))
        .raw("</span><nav>");
    for (href, label) in &f.nav {
        h.link(href, label).raw(" ");
    }
    h.raw("</nav><span class=\"tools\">");
    let other = match f.lang {
        Lang::Ja => "en",
        Lang::En => "ja",
    };
    h.raw("<a id=\"lang-switch\" href=\"")
        .text(&format!("{}?lang={}", f.path, url_encode(other)))
        .raw("\">")
        .text(t("other_lang"))
        .raw("</a>");
    if let Some(v) = &f.viewer {
        h.raw(" <span class=\"who\">")
            .text(t("signed_in_as"))
            .raw(" <b id=\"who\">")
            .text(v.name)
            .raw("</b> (")
            .text(v.roles)
            .raw(")</span> <a id=\"change-password\" href=\"/web/password\">")
            .text(t("change_password"))
            .raw("</a><form class=\"inline\" method=\"post\" action=\"/web/logout\">")
            .hidden("csrf", v.csrf)
            .raw("<button type=\"submit\" id=\"logout\">")
            .text(t("logout"))
            .raw("</button></form>");
    }
    h.raw("</span></header><main><h1>")
        .text(f.title)
        .raw("</h1>")
        .push(body)
        .raw("</main></body></html>");
    h.into_string()
}

/// The body of an error page: what happened, in the vault's own words (already safe for users:
/// the same texts the API answers).
pub fn error_body(lang: Lang, status: StatusCode, message: &str) -> Html {
    let mut h = Html::new();
    let lead = if status == StatusCode::FORBIDDEN {
        tr(COMMON, lang, "forbidden")
    } else {
        tr(COMMON, lang, "error")
    };
    h.raw("<div class=\"error\" id=\"error\"><p><b>")
        .text(lead)
        .raw("</b></p><p>")
        .text(message)
        .raw("</p></div>");
    h
}

/// Test helper for every page set's table: unique keys, both languages present.
#[cfg(test)]
pub(crate) fn check_table(table: &'static Texts) {
    for (i, (k, ja, en)) in table.iter().enumerate() {
        assert!(!ja.is_empty() && !en.is_empty(), "{k}");
        assert!(
            table[i + 1..].iter().all(|(other, _, _)| other != k),
            "duplicate key {k}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_unique_keys_and_both_languages() {
        check_table(COMMON);
    }

    #[test]
    fn layout_escapes_the_title_and_offers_the_other_language() {
        let f = Frame {
            lang: Lang::Ja,
            area: "console",
            title: "<b>x</b>",
            nav: vec![],
            viewer: Some(Viewer {
                name: "<i>sato</i>",
                roles: "admin",
                csrf: "\"tok",
            }),
            path: "/console/",
        };
        let page = layout(&f, &Html::new());
        assert!(
            !page.contains("<b>x</b>") && !page.contains("<i>sato"),
            "{page}"
        );
        assert!(page.contains("href=\"/console/?lang=en\""), "{page}");
        assert!(page.contains("lang=\"ja\""));
        assert_eq!(tr(COMMON, Lang::En, "logout"), "Log out");
        assert_eq!(tr(COMMON, Lang::Ja, "no-such-key"), "no-such-key");
    }

    #[test]
    fn ages_are_in_the_largest_unit() {
        assert_eq!(age(Lang::Ja, 90), "1 分前");
        assert_eq!(age(Lang::En, 3 * 3600 + 5), "3 hours ago");
        assert_eq!(age(Lang::Ja, 3 * 86_400), "3 日前");
        assert_eq!(age(Lang::En, -5), "0 minutes ago");
    }
}
