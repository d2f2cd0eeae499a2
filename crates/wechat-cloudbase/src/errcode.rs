//! WeChat's `errcode` values, what class each belongs to, and the `rid` inside `errmsg`.

use std::borrow::Cow;

pub use wechat_cloudbase_openapi::{ErrorClass, ErrorCode};

/// Splits WeChat's `errmsg` into the message and the request id (`rid`) it holds, if any.
///
/// WeChat puts ` rid: <id>` into its errmsgs, mostly at the end but not always:
/// `invalid access_token rid: 0000aaaa-1111bbbb-2222cccc`, `invalid args, rid: <id>.`,
/// `system error rid: <id>, from ip: 1.2.3.4`, `… rid: <id> hints: [ … ]`, `rid:<id>`.
///
/// The rule:
/// - the key is `rid:` standing as a word (not preceded by an ASCII letter, digit or `_`, so
///   `grid:` is not a key); after it come optional spaces, then the id;
/// - the id is the run of ASCII letters, digits and `-` there, and counts only when it is at
///   least 8 characters long and holds a digit (WeChat's ids are groups of hex digits such as
///   `6543abcd-0a1b2c3d-4e5f6a7b`), so prose such as `rid: is what we call it` or `rid: 2nd`
///   is not taken for an id;
/// - of several such keys, the last one with an id counts;
/// - the message is the text before the key, its trailing spaces and `,` `;` `:` dropped, joined
///   to the text after the id: a lone `.` after the id belongs to the rid clause and is dropped;
///   text starting with `,` `;` or `.` is joined directly (`system error, from ip: 1.2.3.4`),
///   other text after one space (`… hints: [ … ]`); both ends are trimmed.
///
/// Without an id the message is the whole text, trimmed, and `None`. The message is borrowed
/// from `errmsg` unless text on both sides of the id had to be joined.
pub fn split_rid(errmsg: &str) -> (Cow<'_, str>, Option<&str>) {
    const KEY: &str = "rid:";
    for (at, _) in errmsg.rmatch_indices(KEY) {
        if errmsg[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = errmsg[at + KEY.len()..].trim_start();
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
        let (rid, tail) = rest.split_at(len);
        if !is_rid(rid) {
            continue;
        }
        let head = errmsg[..at].trim_end().trim_end_matches([',', ';', ':']).trim();
        let tail = tail.trim();
        let message = match tail {
            "" | "." => Cow::Borrowed(head),
            _ if head.is_empty() => Cow::Borrowed(tail.trim_start_matches([',', ';', '.']).trim_start()),
            _ if tail.starts_with([',', ';', '.']) => Cow::Owned(format!("{head}{tail}")),
            _ => Cow::Owned(format!("{head} {tail}")),
        };
        return (message, Some(rid));
    }
    (Cow::Borrowed(errmsg.trim()), None)
}

/// Whether a run of ASCII letters, digits and `-` after `rid:` is taken for a request id: at
/// least 8 characters, one of them a digit (see [`split_rid`]).
fn is_rid(id: &str) -> bool {
    id.len() >= 8 && id.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_specs_table_round_trips_through_its_raw_value_and_name() {
        use wechat_cloudbase_openapi::SPEC_ERRCODES;
        for row in SPEC_ERRCODES {
            let code = ErrorCode::from_code(row.code);
            assert!(code.is_documented(), "{} is in the spec but has no variant", row.code);
            assert_eq!(code.code(), row.code);
            assert_eq!(code.class().as_str(), row.class, "class of {}", row.code);
            assert_eq!(format!("{code:?}"), row.name);
        }
    }

    #[test]
    fn unknown_codes_keep_their_exact_value_and_class_unknown() {
        for raw in [45010, 61006, i64::MAX, i64::MIN, 1] {
            let code = ErrorCode::from_code(raw);
            assert_eq!(code, ErrorCode::Other(raw));
            assert_eq!(code.code(), raw);
            assert_eq!(code.class(), ErrorClass::Unknown);
        }
    }

    #[test]
    fn invalid_credential_40001_is_a_named_token_error() {
        assert_eq!(ErrorCode::from_code(40001), ErrorCode::InvalidCredential);
        assert_eq!(ErrorCode::InvalidCredential.class(), ErrorClass::Token);
    }

    /// `split_rid`'s answer with the message as a plain `&str`, to compare.
    fn split(errmsg: &str) -> (String, Option<&str>) {
        let (message, rid) = split_rid(errmsg);
        (message.into_owned(), rid)
    }

    fn pair(message: &str, rid: Option<&'static str>) -> (String, Option<&'static str>) {
        (message.to_owned(), rid)
    }

    #[test]
    fn a_trailing_rid_is_split_off() {
        let rid = Some("0000aaaa-1111bbbb-2222cccc");
        assert_eq!(
            split("invalid access_token rid: 0000aaaa-1111bbbb-2222cccc"),
            pair("invalid access_token", rid)
        );
        assert_eq!(split("system error, rid: 6543abcd-0001"), pair("system error", Some("6543abcd-0001")));
        assert_eq!(split("系统错误 rid: 00aa-bb11"), pair("系统错误", Some("00aa-bb11")));
    }

    #[test]
    fn a_full_stop_after_the_rid_is_dropped_with_it() {
        assert_eq!(
            split("invalid args, rid: 0000aaaa-1111bbbb-2222cccc."),
            pair("invalid args", Some("0000aaaa-1111bbbb-2222cccc"))
        );
        assert_eq!(
            split("invalid args rid: 0000aaaa-1111bbbb. "),
            pair("invalid args", Some("0000aaaa-1111bbbb"))
        );
    }

    #[test]
    fn text_after_the_rid_is_kept_in_the_message() {
        assert_eq!(
            split("system error rid: 0000aaaa-1111bbbb-2222cccc, from ip: 1.2.3.4"),
            pair("system error, from ip: 1.2.3.4", Some("0000aaaa-1111bbbb-2222cccc"))
        );
        assert_eq!(
            split("invalid appid rid: 0000aaaa-1111bbbb-2222cccc hints: [ xyz ]"),
            pair("invalid appid hints: [ xyz ]", Some("0000aaaa-1111bbbb-2222cccc"))
        );
        assert_eq!(
            split("rid: 0000aaaa-1111bbbb, from ip: 1.2.3.4"),
            pair("from ip: 1.2.3.4", Some("0000aaaa-1111bbbb"))
        );
    }

    #[test]
    fn a_rid_after_a_hint_is_found() {
        assert_eq!(
            split("invalid appid hint: [abc] rid: 0000aaaa-1111bbbb-2222cccc"),
            pair("invalid appid hint: [abc]", Some("0000aaaa-1111bbbb-2222cccc"))
        );
    }

    #[test]
    fn a_rid_without_a_space_after_the_key_is_found() {
        assert_eq!(split("rid:0000aaaa"), pair("", Some("0000aaaa")));
        assert_eq!(split("bad request rid:0000aaaa-1111"), pair("bad request", Some("0000aaaa-1111")));
    }

    #[test]
    fn the_last_rid_counts() {
        assert_eq!(
            split("a rid: 0000aaaa-1111 b rid: 2222cccc-3333"),
            pair("a rid: 0000aaaa-1111 b", Some("2222cccc-3333"))
        );
        assert_eq!(
            split("a rid: 0000aaaa-1111 and rid: is what we call it"),
            pair("a and rid: is what we call it", Some("0000aaaa-1111"))
        );
    }

    #[test]
    fn prose_after_rid_is_not_taken_for_an_id() {
        for text in [
            "rid: is what we call it here",
            "rid:abc",
            "rid: 2nd try",
            "rid: abcdefghij",
            "grid: 0000aaaa-1111",
            "my_rid: 0000aaaa-1111",
            "ok",
        ] {
            assert_eq!(split(text), pair(text, None));
        }
        assert_eq!(split("bad rid: "), pair("bad rid:", None));
        assert_eq!(split(""), pair("", None));
    }

    #[test]
    fn the_message_is_borrowed_unless_text_on_both_sides_is_joined() {
        assert!(matches!(split_rid("a rid: 0000aaaa-1111.").0, Cow::Borrowed("a")));
        assert!(matches!(split_rid("a rid: 0000aaaa-1111, b").0, Cow::Owned(_)));
    }

    #[test]
    fn split_rid_never_panics_on_multibyte_text() {
        for s in
            ["无效 rid: 好", "rid:é", "é rid:", "\u{feff}rid: a-b", "rid: rid: x", "é rid:0000aaaa é", "rid:"]
        {
            let _ = split_rid(s);
        }
        assert_eq!(split("无效 rid: 0000aaaa，好"), pair("无效 ，好", Some("0000aaaa")));
    }
}
