//! The crate's error type: what went wrong, told apart the way a caller must act on it.

use std::fmt;

use crate::errcode::{ErrorClass, ErrorCode};
use crate::outcome::{EnvAppid, FailedPair};

/// Everything a call can fail with.
///
/// The variants are told apart by what the caller should do:
/// - [`Error::InvalidRequest`]: the request was refused locally; nothing was sent.
/// - [`Error::Api`]: WeChat answered with a non-zero `errcode`.
/// - [`Error::Partial`]: `errcode` 0, but some (env, appid) pairs could not be unshared.
/// - [`Error::Http`]: an HTTP status other than 200 (usually a gateway in front of WeChat).
/// - [`Error::Decode`]: HTTP 200 whose body is not the documented shape (empty, HTML, …).
/// - [`Error::Transport`]: no answer at all: connection failure, timeout, deadline.
/// - [`Error::Token`]: the token provider could not produce a token.
///
/// No variant's `Display`, `Debug` or source chain contains the access token, app secret or
/// verify ticket: server text is redacted and URLs are stripped from transport errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused before anything was sent.
    #[error(transparent)]
    InvalidRequest(#[from] ValidationError),
    /// WeChat answered with a non-zero `errcode`.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// `errcode` 0 with a non-empty `err_list`.
    #[error(transparent)]
    Partial(#[from] PartialFailure),
    /// An HTTP status other than 200.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// HTTP 200, but the body is not the documented answer.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The request could not be sent or no answer arrived.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No token could be obtained; see [`TokenError`].
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// The kind of an [`Error`], as a plain value (also the CLI's `kind` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::InvalidRequest`].
    Validation,
    /// [`Error::Api`].
    Api,
    /// [`Error::Partial`].
    Partial,
    /// [`Error::Http`].
    Http,
    /// [`Error::Decode`].
    Decode,
    /// [`Error::Transport`].
    Transport,
    /// [`Error::Token`].
    Token,
}

impl ErrorKind {
    /// The lowercase name: `validation`, `api`, `partial`, `http`, `decode`, `transport`, `token`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::Api => "api",
            ErrorKind::Partial => "partial",
            ErrorKind::Http => "http",
            ErrorKind::Decode => "decode",
            ErrorKind::Transport => "transport",
            ErrorKind::Token => "token",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidRequest(_) => ErrorKind::Validation,
            Error::Api(_) => ErrorKind::Api,
            Error::Partial(_) => ErrorKind::Partial,
            Error::Http(_) => ErrorKind::Http,
            Error::Decode(_) => ErrorKind::Decode,
            Error::Transport(_) => ErrorKind::Transport,
            Error::Token(_) => ErrorKind::Token,
        }
    }

    /// The raw `errcode` WeChat answered with, if it answered with one (0 for a partial failure).
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Error::Api(e) => Some(e.code.code()),
            Error::Partial(_) => Some(0),
            Error::Token(e) => e.source.as_deref().and_then(Error::errcode),
            _ => None,
        }
    }

    /// The class of the `errcode`, if WeChat answered with one.
    pub fn class(&self) -> Option<ErrorClass> {
        self.errcode().map(|c| ErrorCode::from_code(c).class())
    }

    /// The request id (`rid`) WeChat put in `errmsg`, if any.
    pub fn rid(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.rid.as_deref(),
            Error::Token(e) => e.source.as_deref().and_then(Error::rid),
            _ => None,
        }
    }

    /// The HTTP status of the answer, for [`Error::Http`] and [`Error::Decode`].
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Http(e) => Some(e.status),
            Error::Decode(e) => Some(e.status),
            Error::Token(e) => e.source.as_deref().and_then(Error::http_status),
            _ => None,
        }
    }

    /// How many requests were sent for the call (0 when it was refused locally).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::InvalidRequest(_) => 0,
            Error::Api(e) => e.attempts,
            Error::Partial(e) => e.attempts,
            Error::Http(e) => e.attempts,
            Error::Decode(e) => e.attempts,
            Error::Transport(e) => e.attempts,
            Error::Token(e) => e.source.as_deref().map_or(0, Error::attempts),
        }
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            Error::Api(e) => e.attempts = n,
            Error::Partial(e) => e.attempts = n,
            Error::Http(e) => e.attempts = n,
            Error::Decode(e) => e.attempts = n,
            Error::Transport(e) => e.attempts = n,
            Error::InvalidRequest(_) | Error::Token(_) => {}
        }
    }
}

/// A request refused before anything was sent.
///
/// `field` is the path of the offending value in the request body, such as `data[1].appids[0]`,
/// or a client setting such as `base_url`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: `{field}` {reason}")]
#[non_exhaustive]
pub struct ValidationError {
    /// The path of the offending field, e.g. `data[1].appids[0]`.
    pub field: String,
    /// What is wrong with it, e.g. `must not be empty`.
    pub reason: String,
}

impl ValidationError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

/// WeChat answered with a non-zero `errcode`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{operation}` failed with errcode `{code}` ({class}): {message}{rid} after {attempts} attempt(s)",
    class = .code.class(),
    rid = .rid.as_deref().map(|r| format!(" (rid `{r}`)")).unwrap_or_default()
)]
#[non_exhaustive]
pub struct ApiError {
    /// The spec's `operationId`, e.g. `unshareCloudbaseEnv`.
    pub operation: &'static str,
    /// The `errcode`; [`ErrorCode::code`] gives the raw value.
    pub code: ErrorCode,
    /// The `errmsg` as WeChat sent it (secrets redacted).
    pub errmsg: String,
    /// The `errmsg` without its trailing `rid: …`, control characters escaped.
    pub message: String,
    /// The request id from `errmsg`, to quote to WeChat support.
    pub rid: Option<String>,
    /// How many requests were sent for the call.
    pub attempts: u32,
}

/// `errcode` 0, but some (env, appid) pairs could not be unshared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{n} (env, appid) pair(s) could not be unshared: {first}",
    n = .failed.len(),
    first = .failed.first().map(ToString::to_string).unwrap_or_default()
)]
#[non_exhaustive]
pub struct PartialFailure {
    /// The entries of `err_list`, as WeChat sent them.
    pub failed: Vec<FailedPair>,
    /// The requested pairs that no `err_list` entry names: these were unshared.
    pub unshared: Vec<EnvAppid>,
    /// The `errmsg` of the answer (usually `ok`).
    pub errmsg: String,
    /// How many requests were sent for the call.
    pub attempts: u32,
}

/// An HTTP status other than 200, usually from a gateway in front of WeChat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{operation}` got HTTP status {status} after {attempts} attempt(s): {excerpt:?}")]
#[non_exhaustive]
pub struct HttpError {
    /// The spec's `operationId`.
    pub operation: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// The start of the body (at most 200 characters, secrets redacted).
    pub excerpt: String,
    /// How many requests were sent for the call.
    pub attempts: u32,
}

/// HTTP 200 with a body that is not the documented answer: empty, HTML, not JSON, missing
/// `errcode`, larger than the body limit…
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{operation}` answer could not be decoded ({reason}) after {attempts} attempt(s): {excerpt:?}")]
#[non_exhaustive]
pub struct DecodeError {
    /// The spec's `operationId`.
    pub operation: &'static str,
    /// The HTTP status code (200 unless the body was over the limit on another status).
    pub status: u16,
    /// Why the body was rejected (secrets redacted).
    pub reason: String,
    /// The start of the body (at most 200 characters, secrets redacted).
    pub excerpt: String,
    /// How many requests were sent for the call.
    pub attempts: u32,
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made.
    Connect,
    /// The request or the answer took longer than the request timeout.
    Timeout,
    /// The call's overall deadline passed.
    Deadline,
    /// Anything else: the connection broke, the body could not be read…
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Deadline => "deadline passed",
            TransportErrorKind::Other => "transport failure",
        })
    }
}

/// The request could not be sent, or no complete answer arrived.
#[derive(Debug, thiserror::Error)]
#[error("`{operation}` got no answer ({kind}) after {attempts} attempt(s): {message}")]
#[non_exhaustive]
pub struct TransportError {
    /// The spec's `operationId`.
    pub operation: &'static str,
    /// What failed.
    pub kind: TransportErrorKind,
    /// A description, without URLs or secrets.
    pub message: String,
    /// How many requests were sent for the call.
    pub attempts: u32,
    /// The underlying error, with its URL stripped.
    #[source]
    pub source: Option<reqwest::Error>,
}

/// The token provider could not produce a token.
#[derive(Debug, thiserror::Error)]
#[error("no component_access_token: {reason}")]
#[non_exhaustive]
pub struct TokenError {
    /// Why, e.g. `no component_verify_ticket is available yet; nothing was sent`.
    pub reason: String,
    /// The failed `getComponentAccessToken` call, if one was made.
    #[source]
    pub source: Option<Box<Error>>,
}

impl TokenError {
    /// A token error with a reason and, optionally, the call that failed.
    pub fn new(reason: impl Into<String>, source: Option<Error>) -> Self {
        Self { reason: reason.into(), source: source.map(Box::new) }
    }
}
