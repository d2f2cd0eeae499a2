//! Text taken from a server answer, made safe to keep and to show: secrets redacted, control
//! characters escaped, bodies cut to a short excerpt.

/// Whether `text` holds anything [`redact`] would replace.
///
/// This runs on every text of every answer (three per `err_list` entry), so the search for the
/// `access_token=` key is built once and runs with memchr's SIMD search.
fn needs_redaction(text: &str, secrets: &[&str]) -> bool {
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("access_token="));
    KEY.find(text.as_bytes()).is_some() || secrets.iter().any(|s| !s.is_empty() && text.contains(s))
}

/// [`redact`] for an owned string: returns it as it is, without copying, when it is clean.
pub(crate) fn redact_owned(text: String, secrets: &[&str]) -> String {
    if needs_redaction(&text, secrets) { redact(&text, secrets) } else { text }
}

/// Replaces every occurrence of each secret, and any `access_token=` query value, in `text`.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret) {
            out = out.replace(secret, "<redacted>");
        }
    }
    const KEY: &str = "access_token=";
    let mut from = 0;
    while let Some(at) = out[from..].find(KEY).map(|i| from + i + KEY.len()) {
        let end = out[at..]
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
            .map_or(out.len(), |i| at + i);
        out.replace_range(at..end, "<redacted>");
        from = at + "<redacted>".len();
    }
    out
}

/// `text` with control characters (line breaks, terminal escapes…) written as `\u{…}` escapes, so
/// that server text printed in a message stays on one line and cannot drive a terminal.
pub(crate) fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() })
        .collect()
}

/// The start of a body as text: at most 200 characters, lossy UTF-8, secrets redacted, control
/// characters escaped.
pub(crate) fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    const MAX_CHARS: usize = 200;
    // Look at a little more than we keep, so a secret cut at the edge is still found.
    let head = &body[..body.len().min(4 * MAX_CHARS + 256)];
    let text = String::from_utf8_lossy(head);
    let redacted = escape_controls(&redact(&text, secrets));
    let mut out: String = redacted.chars().take(MAX_CHARS).collect();
    if redacted.chars().count() > MAX_CHARS || head.len() < body.len() {
        out.push('…');
    }
    out
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

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\u{1b}[31mb\r\nc"), "a\\u{1b}[31mb\\u{d}\\u{a}c");
        assert_eq!(escape_controls("无控制"), "无控制");
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
