//! WeChat's `errcode` values, what class each belongs to, and the `rid` inside `errmsg`.

use std::borrow::Cow;
use std::fmt;

/// A WeChat `errcode`, named where the "unshareCloudbaseEnv" page documents it.
///
/// Any code the page does not document is [`ErrorCode::Other`] and keeps its exact value:
/// [`ErrorCode::code`] always returns the raw integer WeChat sent. The documented codes are the
/// spec's `x-wechat-errcodes` table; a test holds the two together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `0`: success.
    Ok,
    /// `-1`: the system is busy; retry later ([`ErrorClass::Transient`]).
    SystemBusy,
    /// `-1000`: an internal error on WeChat's side ([`ErrorClass::Server`]).
    SystemError,
    /// `40014`: the `access_token` is not valid ([`ErrorClass::Token`]).
    InvalidAccessToken,
    /// `40097`: a parameter is present but not valid ([`ErrorClass::CallerBug`]).
    InvalidArgs,
    /// `40101`: a required parameter is missing ([`ErrorClass::CallerBug`]).
    MissingParameter,
    /// `41001`: no `access_token` was sent ([`ErrorClass::Configuration`]).
    AccessTokenMissing,
    /// `42001`: the `access_token` has expired ([`ErrorClass::Token`]).
    AccessTokenExpired,
    /// `43002`: the request did not use POST ([`ErrorClass::CallerBug`]).
    RequirePostMethod,
    /// `44002`: the request body was empty ([`ErrorClass::CallerBug`]).
    EmptyPostData,
    /// `47001`: the request body is not valid JSON ([`ErrorClass::CallerBug`]).
    DataFormatError,
    /// `85088`: the mini program has not enabled cloud development ([`ErrorClass::NotPermitted`]).
    NoQbasePrivilege,
    /// Any code the page does not document, kept exactly as WeChat sent it.
    Other(i64),
}

/// What a caller should do about an [`ErrorCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// `0`: nothing; the call succeeded (check `err_list`).
    Ok,
    /// Retry later, with backoff (`-1`). The client does this by default.
    Transient,
    /// WeChat failed internally (`-1000`). Not retried: report it with the `rid`.
    Server,
    /// The token is not valid or expired (`40014`, `42001`, and the common `40001`): get a new
    /// token. The client invalidates it and retries once when its provider can give a new one.
    Token,
    /// No token was sent (`41001`): the client is misconfigured. Never retried.
    Configuration,
    /// The request is wrong (`40097`, `40101`, `43002`, `44002`, `47001`). Never retried.
    CallerBug,
    /// The mini program may not do this (`85088`). Never retried.
    NotPermitted,
    /// A code this SDK does not know. Never retried.
    Unknown,
}

/// One row of the classification: a raw code, its named variant and its class.
struct Row {
    code: i64,
    named: Option<ErrorCode>,
    class: ErrorClass,
}

/// The classification table. Rows with `named: None` are codes the page does not document but
/// whose class is well known; they stay [`ErrorCode::Other`].
#[rustfmt::skip]
const TABLE: &[Row] = &[
    Row { code: 0, named: Some(ErrorCode::Ok), class: ErrorClass::Ok },
    Row { code: -1, named: Some(ErrorCode::SystemBusy), class: ErrorClass::Transient },
    Row { code: -1000, named: Some(ErrorCode::SystemError), class: ErrorClass::Server },
    Row { code: 40014, named: Some(ErrorCode::InvalidAccessToken), class: ErrorClass::Token },
    Row { code: 40097, named: Some(ErrorCode::InvalidArgs), class: ErrorClass::CallerBug },
    Row { code: 40101, named: Some(ErrorCode::MissingParameter), class: ErrorClass::CallerBug },
    Row { code: 41001, named: Some(ErrorCode::AccessTokenMissing), class: ErrorClass::Configuration },
    Row { code: 42001, named: Some(ErrorCode::AccessTokenExpired), class: ErrorClass::Token },
    Row { code: 43002, named: Some(ErrorCode::RequirePostMethod), class: ErrorClass::CallerBug },
    Row { code: 44002, named: Some(ErrorCode::EmptyPostData), class: ErrorClass::CallerBug },
    Row { code: 47001, named: Some(ErrorCode::DataFormatError), class: ErrorClass::CallerBug },
    Row { code: 85088, named: Some(ErrorCode::NoQbasePrivilege), class: ErrorClass::NotPermitted },
    // `invalid credential`: WeChat's common code for a bad access_token on every API.
    Row { code: 40001, named: None, class: ErrorClass::Token },
];

fn row(code: i64) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.code == code)
}

impl ErrorCode {
    /// The code for a raw `errcode`; unknown values become [`ErrorCode::Other`].
    pub fn from_code(code: i64) -> Self {
        row(code).and_then(|r| r.named).unwrap_or(ErrorCode::Other(code))
    }

    /// The raw `errcode`, exactly as WeChat sent it.
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::Other(code) => code,
            named => TABLE
                .iter()
                .find(|r| r.named == Some(named))
                .map(|r| r.code)
                .expect("every named ErrorCode has a row in TABLE"),
        }
    }

    /// The class that says what to do about this code; [`ErrorClass::Unknown`] for codes the
    /// table does not list.
    pub fn class(self) -> ErrorClass {
        row(self.code()).map_or(ErrorClass::Unknown, |r| r.class)
    }

    /// Whether this code names a variant (is documented on the page).
    pub fn is_documented(self) -> bool {
        !matches!(self, ErrorCode::Other(_))
    }
}

impl From<i64> for ErrorCode {
    fn from(code: i64) -> Self {
        Self::from_code(code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl ErrorClass {
    /// The class's name as the spec's `x-wechat-errcodes` table spells it (`caller_bug`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Ok => "ok",
            ErrorClass::Transient => "transient",
            ErrorClass::Server => "server",
            ErrorClass::Token => "token",
            ErrorClass::Configuration => "configuration",
            ErrorClass::CallerBug => "caller_bug",
            ErrorClass::NotPermitted => "not_permitted",
            ErrorClass::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    fn every_named_code_round_trips_through_its_raw_value() {
        for row in TABLE {
            let code = ErrorCode::from_code(row.code);
            assert_eq!(code.code(), row.code);
            assert_eq!(code.class(), row.class);
            assert_eq!(code.is_documented(), row.named.is_some());
        }
    }

    /// The named codes and their classes are exactly the spec's `x-wechat-errcodes` table.
    #[test]
    fn the_table_matches_the_specs_errcode_table() {
        use wechat_cloudbase_openapi::SPEC_ERRCODES;
        for row in SPEC_ERRCODES {
            let code = ErrorCode::from_code(row.code);
            assert!(code.is_documented(), "{} is in the spec but has no variant", row.code);
            assert_eq!(code.class().as_str(), row.class, "class of {}", row.code);
        }
        for row in TABLE.iter().filter(|r| r.named.is_some()) {
            assert!(
                SPEC_ERRCODES.iter().any(|s| s.code == row.code),
                "{} has a variant but is not in the spec",
                row.code
            );
        }
    }

    #[test]
    fn unknown_codes_keep_their_exact_value_and_class_unknown() {
        for raw in [45009, 61006, i64::MAX, i64::MIN, 1] {
            let code = ErrorCode::from_code(raw);
            assert_eq!(code, ErrorCode::Other(raw));
            assert_eq!(code.code(), raw);
            assert_eq!(code.class(), ErrorClass::Unknown);
        }
    }

    #[test]
    fn invalid_credential_40001_is_a_token_error_without_a_variant() {
        let code = ErrorCode::from_code(40001);
        assert_eq!(code, ErrorCode::Other(40001));
        assert_eq!(code.class(), ErrorClass::Token);
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
