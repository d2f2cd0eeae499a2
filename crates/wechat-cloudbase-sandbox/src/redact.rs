//! The query as the request log shows it: decoded the way the token check decodes it, so that no
//! token the sandbox would accept is written, whatever its encoding.

/// How every token `getComponentAccessToken` issues begins; what follows is hex digits.
pub(crate) const ISSUED_TOKEN_PREFIX: &str = "sandbox-issued-";

/// What the log shows in place of a token.
const REDACTED: &str = "<redacted>";

/// `?query` as the log shows it, or `""` for none: each parameter decoded with
/// `form_urlencoded` (as the token check reads it, so `access%5Ftoken`, `%61ccess_token`, a
/// %-encoded value and `+` for a space all count), then, in keys and values alike:
///
/// - the whole value of every `access_token` (a repeated one included) is `<redacted>`;
/// - each occurrence of a `token` (the static tokens; empty ones are ignored) and each
///   issued-looking token ([`ISSUED_TOKEN_PREFIX`] and what follows it up to a character that is
///   not alphanumeric) is `<redacted>`, wherever it is (`x=1;access_token=S` is one parameter);
/// - the rest is written back with `form_urlencoded`'s encoding (`;` as `%3B`, a space as `+`),
///   so that a control character or a line break cannot forge a log line.
pub(crate) fn redact_query(query: Option<&str>, tokens: &[String]) -> String {
    let Some(query) = query.filter(|q| !q.is_empty()) else { return String::new() };
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| !t.is_empty()).collect();
    let mut shown = String::from("?");
    for (i, (key, value)) in form_urlencoded::parse(query.as_bytes()).enumerate() {
        if i > 0 {
            shown.push('&');
        }
        hide(&key, &tokens, &mut shown);
        shown.push('=');
        if key == "access_token" {
            shown.push_str(REDACTED);
        } else {
            hide(&value, &tokens, &mut shown);
        }
    }
    shown
}

/// The path as the log shows it: percent-decoded, with every token in it (as in
/// [`redact_query`]) `<redacted>`, and the rest written back encoded.
pub(crate) fn redact_path(path: &str, tokens: &[String]) -> String {
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| !t.is_empty()).collect();
    // form_urlencoded's decoding, with `+` and `&` kept as they are in a path.
    let escaped = path.replace('+', "%2B").replace('&', "%26");
    let decoded: String = form_urlencoded::parse(format!("p={escaped}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let mut shown = String::new();
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            shown.push('/');
        }
        hide(segment, &tokens, &mut shown);
    }
    shown
}

/// Appends `text` to `out`, encoded, with every token in it replaced by [`REDACTED`].
fn hide(text: &str, tokens: &[&str], out: &mut String) {
    let mut plain = 0;
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let found = tokens.iter().filter(|t| rest.starts_with(**t)).map(|t| t.len()).max().or_else(|| {
            rest.starts_with(ISSUED_TOKEN_PREFIX).then(|| {
                let tail = &rest[ISSUED_TOKEN_PREFIX.len()..];
                ISSUED_TOKEN_PREFIX.len()
                    + tail.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(tail.len())
            })
        });
        match found {
            Some(len) => {
                out.extend(form_urlencoded::byte_serialize(&text.as_bytes()[plain..at]));
                out.push_str(REDACTED);
                at += len;
                plain = at;
            }
            None => at += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    out.extend(form_urlencoded::byte_serialize(&text.as_bytes()[plain..]));
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_in_the_path_is_redacted_in_any_spelling() {
        let tokens = vec!["S3cret".to_owned()];
        assert_eq!(redact_path("/componenttcb/batchgetenvid", &tokens), "/componenttcb/batchgetenvid");
        for path in ["/x/access_token=S3cret", "/x/S%33cret", "/x/S3cret&y", "/x/sandbox-issued-00ff"] {
            let shown = redact_path(path, &tokens);
            assert!(
                shown.contains("<redacted>") && !shown.contains("S3cret") && !shown.contains("00ff"),
                "{path}: {shown}"
            );
        }
    }

    use super::*;

    fn shown(query: &str) -> String {
        redact_query(Some(query), &["S3cret".to_owned(), "two words".to_owned(), String::new()])
    }

    #[test]
    fn the_token_is_redacted_under_every_spelling_of_its_key() {
        assert_eq!(shown("access_token=anything&x=1"), "?access_token=<redacted>&x=1");
        assert_eq!(shown("access%5Ftoken=anything"), "?access_token=<redacted>");
        assert_eq!(shown("%61ccess_token=anything"), "?access_token=<redacted>");
        assert_eq!(
            shown("access_token=a&access_token=b"),
            "?access_token=<redacted>&access_token=<redacted>"
        );
    }

    #[test]
    fn a_known_token_is_redacted_wherever_and_however_it_is_written() {
        assert_eq!(shown("x=%53%33cret"), "?x=<redacted>");
        assert_eq!(shown("x=1;access_token=S3cret"), "?x=1%3Baccess_token%3D<redacted>");
        assert_eq!(shown("acces_token=two+words"), "?acces_token=<redacted>");
        assert_eq!(shown("S3cret=1"), "?<redacted>=1");
        assert_eq!(shown("x=sandbox-issued-00ab12cd&y=sandbox-issued-ff.z"), "?x=<redacted>&y=<redacted>.z");
    }

    #[test]
    fn the_rest_is_shown_encoded_so_it_cannot_forge_a_line() {
        assert_eq!(redact_query(None, &[]), "");
        assert_eq!(redact_query(Some(""), &[]), "");
        assert_eq!(shown("a=b"), "?a=b");
        assert_eq!(shown("a=%0A2025-01-01+INFO+forged"), "?a=%0A2025-01-01+INFO+forged");
        assert_eq!(shown("flag"), "?flag=");
        assert_eq!(shown("é=%FF"), "?%C3%A9=%EF%BF%BD");
    }
}
