//! Text taken from a server answer, made safe to keep and to show: secrets redacted, control
//! characters escaped, bodies cut to a short excerpt.

use std::borrow::Cow;
use std::ops::Range;

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// The query key whose value is redacted whatever it is, known secret or not.
const TOKEN_KEY: &str = "access_token=";

/// What a secret or an `access_token=` value is replaced with.
const REDACTED: &str = "<redacted>";

/// Whether `text` holds anything [`redact`] would replace: the plain forms first, and the scan
/// for escaped forms only when the text holds a `%` or a `\`.
fn needs_redaction(text: &str, secrets: &[&str]) -> bool {
    let secrets = || secrets.iter().filter(|s| !s.is_empty());
    if text.contains(TOKEN_KEY) || secrets().any(|s| text.contains(s)) {
        return true;
    }
    may_hold_escapes(text)
        && (find_spelled(text, TOKEN_KEY, 0).is_some()
            || secrets().any(|s| find_spelled(text, s, 0).is_some()))
}

/// [`redact`] for an owned string: returns it as it is, without copying, when it is clean.
pub(crate) fn redact_owned(text: String, secrets: &[&str]) -> String {
    if needs_redaction(&text, secrets) { redact(&text, secrets) } else { text }
}

/// Replaces every occurrence of each secret, and any `access_token=` query value, in `text` with
/// `<redacted>`.
///
/// A hostile or careless server can echo a secret escaped, so each secret and the
/// `access_token=` key are found however their bytes are spelled, each byte on its own:
/// - plain;
/// - percent-encoded, `%XX` with two hex digits in any case (`%41`, `%4a`, `%4A`), as in a URL
///   (so a non-ASCII secret is also found as its percent-encoded UTF-8 bytes);
/// - a JSON escape `\uXXXX` with four hex digits in any case, naming an ASCII character.
///
/// The spellings may be mixed within one occurrence (`a%62\u0063`). An `access_token=` value runs
/// to the first plain `&`, quote or whitespace (an escaped one does not end it, so a value is
/// redacted too far rather than not far enough). Escapes of escapes (`%2541`) are not decoded.
/// Empty secrets are ignored. Never panics: every cut is at a character boundary.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut spans: Vec<Range<usize>> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let mut from = 0;
        while let Some(found) = find_spelled(text, secret, from) {
            from = found.end;
            spans.push(found);
        }
    }
    let mut from = 0;
    while let Some(key) = find_spelled(text, TOKEN_KEY, from) {
        let end = text[key.end..]
            .find(|c: char| matches!(c, '&' | '"' | '\'') || c.is_whitespace())
            .map_or(text.len(), |i| key.end + i);
        spans.push(key.end..end);
        from = end;
    }
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_by_key(|s| (s.start, s.end));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut last: Option<Range<usize>> = None;
    for span in spans {
        let span = floor_char_boundary(text, span.start)..ceil_char_boundary(text, span.end);
        match &mut last {
            // Overlapping, or an empty span (an empty `access_token=` value) touching another: one
            // replacement for both.
            Some(last)
                if span.start < last.end
                    || (span.start == last.end && (span.start == span.end || last.start == last.end)) =>
            {
                last.end = last.end.max(span.end);
            }
            _ => {
                if let Some(done) = last.replace(span) {
                    out.push_str(&text[copied..done.start]);
                    out.push_str(REDACTED);
                    copied = done.end;
                }
            }
        }
    }
    if let Some(done) = last {
        out.push_str(&text[copied..done.start]);
        out.push_str(REDACTED);
        copied = done.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Whether `text` holds a `%` or a `\`, the start of an escape [`escaped_byte`] decodes.
fn may_hold_escapes(text: &str) -> bool {
    text.contains(['%', '\\'])
}

/// The first occurrence of `needle` in `text` at or after byte `from`, each of its bytes spelled
/// plain or escaped (see [`redact`]), as a byte range of `text`; the longest when several
/// spellings start at the same place.
fn find_spelled(text: &str, needle: &str, from: usize) -> Option<Range<usize>> {
    let (bytes, needle) = (text.as_bytes(), needle.as_bytes());
    let &first = needle.first()?;
    let (mut now, mut next) = (Vec::new(), Vec::new());
    // An occurrence starts with its first byte, plain, or with an escape.
    (from..bytes.len())
        .filter(|&i| bytes[i] == first || bytes[i] == b'%' || bytes[i] == b'\\')
        .find_map(|start| spelled_end(bytes, start, needle, &mut now, &mut next).map(|end| start..end))
}

/// Where `needle`, spelled from `text[start..]`, ends at the furthest, if it is spelled there.
///
/// A byte can be spelled two ways at one place (`%` plain, or `%25`), so this follows every
/// place the spelling so far can end at; `now` and `next` are scratch space.
fn spelled_end(
    text: &[u8],
    start: usize,
    needle: &[u8],
    now: &mut Vec<usize>,
    next: &mut Vec<usize>,
) -> Option<usize> {
    now.clear();
    now.push(start);
    for &want in needle {
        next.clear();
        for &at in now.iter() {
            if text.get(at) == Some(&want) {
                next.push(at + 1);
            }
            if let Some((byte, len)) = escaped_byte(text, at)
                && byte == want
            {
                next.push(at + len);
            }
        }
        if next.is_empty() {
            return None;
        }
        next.sort_unstable();
        next.dedup();
        std::mem::swap(now, next);
    }
    now.last().copied()
}

/// The byte the escape at `text[at..]` stands for and the escape's length in bytes: `%XX` (two
/// hex digits), `\uXXXX` (four hex digits) naming an ASCII character, hex digits in any case, or
/// JSON's two-character escapes of `/`, `"` and `\` (`\/` is what many JSON encoders write for
/// every `/`).
fn escaped_byte(text: &[u8], at: usize) -> Option<(u8, usize)> {
    match text.get(at)? {
        b'%' => Some((u8::try_from(hex_value(text.get(at + 1..at + 3)?)?).ok()?, 3)),
        b'\\' => match text.get(at + 1)? {
            b'u' => {
                let code = hex_value(text.get(at + 2..at + 6)?)?;
                Some((u8::try_from(code).ok().filter(u8::is_ascii)?, 6))
            }
            &b @ (b'/' | b'"' | b'\\') => Some((b, 2)),
            _ => None,
        },
        _ => None,
    }
}

/// The value of a run of hex digits (any case), or `None` if one is not a hex digit.
fn hex_value(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |value, &d| Some(value * 16 + char::from(d).to_digit(16)?))
}

/// The greatest character boundary of `text` at or before `at`.
fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The least character boundary of `text` at or after `at`.
fn ceil_char_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// Server text made safe to print: every character a terminal would not show as itself is
/// written as a `\u{…}` escape (`\u{1b}`, `\u{202e}`), everything else is kept as it is.
///
/// A server's `errmsg`, ids and bodies can hold characters that move the cursor, recolour or
/// clear the screen, break a log line in two, or reorder what is shown (a right-to-left override
/// can make `exe.txt` read as `txt.exe`). By [Unicode general category], these are escaped:
/// - `Cc`, control characters: line breaks, tabs, the terminal escape `ESC`, `DEL`;
/// - `Cf`, format characters: the bidirectional marks, embeddings, overrides and isolates
///   (U+200E, U+200F, U+061C, U+202A–U+202E, U+2066–U+2069), zero-width spaces and joiners,
///   the byte order mark U+FEFF, the soft hyphen, tag characters;
/// - `Zl` and `Zp`, the line and paragraph separators U+2028 and U+2029;
/// - `Co` and `Cn`, private-use and unassigned code points: no agreed glyph, so a terminal may show
///   anything or nothing (an emoji newer than the table, Unicode 18, is escaped too);
/// - `Cs`, surrogates, cannot occur in a `str`;
/// - and, whatever their category, the default-ignorable code points (Unicode's
///   `Default_Ignorable_Code_Point`), drawn as nothing: the combining grapheme joiner U+034F,
///   variation selectors U+FE00–U+FE0F, Hangul fillers U+115F, U+1160, U+3164, U+FFA0… (so an
///   id with one of them never looks like the id without it; an emoji with a variation selector
///   shows the selector escaped).
///
/// Other letters, marks, digits, punctuation, symbols and spaces are kept, so Chinese text and emoji
/// print unchanged. A backslash is not escaped, so a server's own literal `\u{…}` prints as
/// itself. Returns `text` borrowed, without allocating, when nothing needs escaping.
///
/// ```
/// use wechat_cloudbase::escape_for_terminal;
///
/// assert_eq!(escape_for_terminal("invalid appid\u{202e}\r\n"), r"invalid appid\u{202e}\u{d}\u{a}");
/// assert_eq!(escape_for_terminal("系统错误 👍"), "系统错误 👍");
/// ```
///
/// [Unicode general category]: https://www.unicode.org/reports/tr44/#General_Category_Values
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(is_invisible) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if is_invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether [`escape_for_terminal`] escapes `c`: general category `C*`, `Zl` or `Zp`, or a
/// default-ignorable code point (drawn as nothing, whatever its category: the combining
/// grapheme joiner U+034F, variation selectors, Hangul fillers…).
fn is_invisible(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.general_category_group() == GeneralCategoryGroup::Other
        || matches!(
            c.general_category(),
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
        )
        || is_default_ignorable(c)
}

/// Unicode's `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt, Unicode 16),
/// which the general category does not give: code points a renderer shows as nothing.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// The start of a body as text: at most 200 characters, lossy UTF-8, secrets redacted, invisible
/// characters escaped ([`escape_for_terminal`]).
pub(crate) fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    const MAX_CHARS: usize = 200;
    // Redact more than is kept: every secret that starts within the kept characters (at most
    // 4 bytes each) must be found whole, even spelled with 6-byte `\uXXXX` escapes.
    let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    let head = &body[..body.len().min(4 * MAX_CHARS + 6 * longest + 256)];
    let text = String::from_utf8_lossy(head);
    let redacted = redact(&text, secrets);
    let redacted = escape_for_terminal(&redacted);
    let mut out: String = redacted.chars().take(MAX_CHARS).collect();
    if redacted.chars().count() > MAX_CHARS || head.len() < body.len() {
        out.push('…');
    }
    out
}

/// `text` without `token`, in any of the forms [`redact`] finds; as it is without a token.
pub(crate) fn redact_token(text: String, token: Option<&wechat_cloudbase_openapi::AccessToken>) -> String {
    match token {
        Some(token) => redact_owned(text, &[token.expose_secret()]),
        None => text,
    }
}

/// Writes the `Debug` output of `shown` to `f` (`{:#?}` too), with `token` redacted from it: for
/// outcomes that keep the request's ids as given, which are shown without the token's text.
pub(crate) fn debug_redacted(
    f: &mut std::fmt::Formatter<'_>,
    token: Option<&wechat_cloudbase_openapi::AccessToken>,
    shown: impl Fn(&mut std::fmt::Formatter<'_>) -> std::fmt::Result,
) -> std::fmt::Result {
    struct Shown<F>(F);
    impl<F: Fn(&mut std::fmt::Formatter<'_>) -> std::fmt::Result> std::fmt::Debug for Shown<F> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            (self.0)(f)
        }
    }
    let Some(token) = token else { return shown(f) };
    let text = if f.alternate() { format!("{:#?}", Shown(shown)) } else { format!("{:?}", Shown(shown)) };
    f.write_str(&redact_token(text, Some(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_secrets_and_access_token_query_values() {
        let s = redact("x SECRET y https://h/p?access_token=abc&b=1 access_token=zz", &["SECRET"]);
        assert_eq!(s, "x <redacted> y https://h/p?access_token=<redacted>&b=1 access_token=<redacted>");
        assert_eq!(redact("", &[""]), "");
    }

    const TOKEN: &str = "Tok_en-42";

    /// `redact` with the test token, checked to agree with `needs_redaction` and `redact_owned`.
    fn redacted(text: &str) -> String {
        let out = redact(text, &[TOKEN]);
        assert_eq!(needs_redaction(text, &[TOKEN]), out != text, "needs_redaction on {text:?}");
        assert_eq!(redact_owned(text.to_owned(), &[TOKEN]), out);
        out
    }

    #[test]
    fn a_plain_secret_is_redacted_wherever_it_stands() {
        assert_eq!(redacted("a Tok_en-42 b"), "a <redacted> b");
        assert_eq!(redacted("Tok_en-42 at the start"), "<redacted> at the start");
        assert_eq!(redacted("at the end Tok_en-42"), "at the end <redacted>");
        assert_eq!(redacted("Tok_en-42"), "<redacted>");
        assert_eq!(redacted("Tok_en-42Tok_en-42"), "<redacted><redacted>");
        assert_eq!(redacted("Tok_en-4"), "Tok_en-4");
    }

    #[test]
    fn a_percent_encoded_secret_is_redacted_in_any_hex_case() {
        assert_eq!(redacted("x=%54%6F%6B%5F%65%6E%2D%34%32&y"), "x=<redacted>&y");
        assert_eq!(redacted("x=%54%6f%6b%5f%65%6e%2d%34%32&y"), "x=<redacted>&y");
        assert_eq!(redacted("x=%54%6F%6b%5f%65%6E%2d%34%32&y"), "x=<redacted>&y");
    }

    #[test]
    fn a_partly_encoded_secret_is_redacted() {
        assert_eq!(redacted("x=Tok%5Fen-42;"), "x=<redacted>;");
        assert_eq!(redacted("x=%54ok_en-4%32"), "x=<redacted>");
        assert_eq!(redacted("%54ok_en-42%54ok_en-42"), "<redacted><redacted>");
    }

    #[test]
    fn a_json_escaped_secret_is_redacted_in_any_hex_case() {
        assert_eq!(
            redacted(r#""\u0054\u006F\u006B\u005F\u0065\u006E\u002D\u0034\u0032""#),
            r#""<redacted>""#
        );
        assert_eq!(
            redacted(r#""\u0054\u006f\u006b\u005f\u0065\u006e\u002d\u0034\u0032""#),
            r#""<redacted>""#
        );
        assert_eq!(redacted(r#""T\u006fk_en\u002D42""#), r#""<redacted>""#);
    }

    #[test]
    fn json_escapes_and_percent_encoding_mixed_in_one_secret_are_redacted() {
        assert_eq!(redacted(r"Tok\u005f%65n-%34\u0032."), "<redacted>.");
    }

    #[test]
    fn an_escape_of_a_non_ascii_character_or_a_short_escape_is_not_decoded() {
        // `\u0154` is not `T`; `%5` and `\u005` are not escapes at all.
        assert_eq!(redacted(r"\u0154ok_en-42"), r"\u0154ok_en-42");
        assert_eq!(redacted("%5 \\u005 %"), "%5 \\u005 %");
        assert_eq!(redacted("%"), "%");
        assert_eq!(redacted("\\u"), "\\u");
    }

    #[test]
    fn a_secret_holding_escape_characters_is_found_plain_and_encoded() {
        let secret = "a%41\\u0042";
        assert_eq!(redact("x a%41\\u0042 y", &[secret]), "x <redacted> y");
        assert_eq!(redact("x %61%2541%5Cu0042 y", &[secret]), "x <redacted> y");
        assert!(needs_redaction("x %61%2541%5Cu0042 y", &[secret]));
    }

    #[test]
    fn an_access_token_value_is_redacted_when_the_key_is_encoded() {
        assert_eq!(redacted("?access%5Ftoken=abc&b=1"), "?access%5Ftoken=<redacted>&b=1");
        assert_eq!(redacted("?access%5ftoken%3Dabc def"), "?access%5ftoken%3D<redacted> def");
        assert_eq!(redacted(r#"{"u":"access\u005ftoken=abc"}"#), r#"{"u":"access\u005ftoken=<redacted>"}"#);
        assert_eq!(redacted("access_token=&x"), "access_token=<redacted>&x");
        assert_eq!(redacted("access_token=Tok_en-42"), "access_token=<redacted>");
        // An escaped separator does not end the value: too much is redacted rather than too little.
        assert_eq!(redacted("access_token=abc%26Tok_en-42 b"), "access_token=<redacted> b");
    }

    #[test]
    fn a_secret_with_json_escaped_slashes_quotes_or_backslashes_is_redacted() {
        let secret = r#"S3cr3t/App"+K\ey="#;
        for spelled in [r#"S3cr3t\/App\"+K\\ey="#, r#"S3cr3t\/App"+K\ey="#, r#"S3cr3t\u002fApp\"+K\\ey="#] {
            let text = format!(r#"<pre>{{"component_appsecret":"{spelled}"}}</pre>"#);
            assert_eq!(
                redact(&text, &[secret]),
                r#"<pre>{"component_appsecret":"<redacted>"}</pre>"#,
                "{spelled}"
            );
        }
    }

    #[test]
    fn multibyte_text_around_a_secret_is_kept() {
        assert_eq!(redacted("令牌Tok_en-42无效"), "令牌<redacted>无效");
        assert_eq!(redacted("令牌%54ok_en-42é😀"), "令牌<redacted>é😀");
        assert_eq!(redacted("无效 access_token=令牌值 下一个"), "无效 access_token=<redacted> 下一个");
    }

    #[test]
    fn without_secrets_only_access_token_values_are_redacted() {
        assert_eq!(redact("Tok_en-42 access_token=x", &[]), "Tok_en-42 access_token=<redacted>");
        assert_eq!(redact("Tok_en-42 %54", &[""]), "Tok_en-42 %54");
        assert!(!needs_redaction("Tok_en-42 %54", &[]));
    }

    #[test]
    fn a_non_ascii_secret_is_cut_at_character_boundaries() {
        assert_eq!(redact("a令牌b", &["令牌"]), "a<redacted>b");
        assert_eq!(redact("a%E4%BB%A4b", &["令"]), "a<redacted>b", "its UTF-8 bytes percent-encoded");
        assert_eq!(redact("a%E4令b", &["令"]), "a%E4<redacted>b");
        for text in ["令", "%E4令", "令%BB", "\\u00e4令"] {
            let _ = redact(text, &["令", "\u{bb}", "\u{e4}"]);
        }
    }

    /// One way to write a byte: plain, `%XX`, `%xx` or `\u00XX`.
    fn spell(byte: u8, form: u8) -> String {
        match form % 4 {
            0 => char::from(byte).to_string(),
            1 => format!("%{byte:02X}"),
            2 => format!("%{byte:02x}"),
            _ => format!("\\u{byte:04X}"),
        }
    }

    proptest::proptest! {
        /// Whichever way each byte of a token is written, in whatever text around it, `redact`
        /// leaves neither that spelling nor the plain token, and never panics.
        #[test]
        fn a_token_is_redacted_however_each_byte_is_spelled(
            token in "[ -~]{8,40}",
            forms in proptest::collection::vec(0u8..4, 40),
            before in ".{0,20}",
            after in ".{0,20}",
        ) {
            let spelled: String = token.bytes().zip(&forms).map(|(b, &f)| spell(b, f)).collect();
            let text = format!("{before}{spelled}{after}");
            let out = redact(&text, &[&token]);
            proptest::prop_assert!(!out.contains(&spelled), "{text:?} -> {out:?}");
            proptest::prop_assert!(!out.contains(&token), "{text:?} -> {out:?}");
            proptest::prop_assert!(needs_redaction(&text, &[&token]));
            let _ = redact(&before, &[&after]);
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_for_terminal("a\u{1b}[31mb\r\nc\td\u{7f}"),
            "a\\u{1b}[31mb\\u{d}\\u{a}c\\u{9}d\\u{7f}"
        );
    }

    #[test]
    fn bidirectional_overrides_and_isolates_are_escaped() {
        assert_eq!(escape_for_terminal("a\u{202e}txt.exe"), "a\\u{202e}txt.exe");
        assert_eq!(escape_for_terminal("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        for c in [
            '\u{200e}', '\u{200f}', '\u{61c}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{2067}',
            '\u{2068}',
        ] {
            assert_eq!(escape_for_terminal(&c.to_string()), c.escape_unicode().to_string());
        }
    }

    #[test]
    fn zero_width_and_other_format_characters_are_escaped() {
        assert_eq!(escape_for_terminal("wx\u{200b}1"), "wx\\u{200b}1");
        assert_eq!(escape_for_terminal("\u{feff}ok"), "\\u{feff}ok");
        assert_eq!(escape_for_terminal("a\u{200d}b\u{ad}c\u{e0041}"), "a\\u{200d}b\\u{ad}c\\u{e0041}");
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped() {
        assert_eq!(escape_for_terminal("a\u{2028}b\u{2029}c\u{85}"), "a\\u{2028}b\\u{2029}c\\u{85}");
    }

    #[test]
    fn private_use_and_unassigned_code_points_are_escaped() {
        assert_eq!(escape_for_terminal("\u{e000}\u{10ffff}\u{fffe}"), "\\u{e000}\\u{10ffff}\\u{fffe}");
    }

    #[test]
    fn visible_text_cjk_and_emoji_pass_unchanged_and_borrowed() {
        for text in
            ["无控制", "系统错误，请稍后再试", "ok 👍🏽 👨‍👩‍👧", "", "a b\u{3000}c", "e\u{301}", "\\u{202e}"]
        {
            let shown = escape_for_terminal(text);
            if text.contains('\u{200d}') {
                // The emoji family is joined by zero-width joiners, which are escaped.
                assert_eq!(shown, text.replace('\u{200d}', "\\u{200d}"));
            } else {
                assert!(matches!(shown, Cow::Borrowed(t) if t == text), "{text:?} -> {shown:?}");
            }
        }
    }

    #[test]
    fn excerpt_is_bounded_and_redacted() {
        let body = format!("{}TOKEN", "a".repeat(10_000));
        let e = excerpt(body.as_bytes(), &["TOKEN"]);
        assert!(e.chars().count() <= 201);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt(b"\xff\xfeTOKEN", &["TOKEN"]), "\u{fffd}\u{fffd}<redacted>");
    }
}
