//! The crate's error type: what went wrong, told apart the way a caller must act on it.

use std::fmt;

use crate::errcode::{ErrorClass, ErrorCode};
use crate::outcome::BatchOutcome;

/// Everything a call can fail with.
///
/// The variants are told apart by what the caller should do:
/// - [`Error::InvalidRequest`]: the request was refused locally; nothing was sent.
/// - [`Error::Api`]: WeChat answered with a non-zero `errcode`.
/// - [`Error::Partial`]: `errcode` 0, but the answer does not prove every pair done; only
///   from [`BatchOutcome::into_result`], since share and unshare return partial outcomes as `Ok`.
/// - [`Error::Http`]: an HTTP status other than 200 (usually a gateway in front of WeChat).
/// - [`Error::Decode`]: HTTP 200 whose body is not the documented shape (empty, HTML, …).
/// - [`Error::Transport`]: no answer at all: connection failure, timeout, deadline.
/// - [`Error::Token`]: the token provider could not produce a token.
///
/// Every error also says whether the request may have been carried out ([`Error::effect`]): a
/// call that failed may still have changed something on WeChat's side, and must then be looked
/// at again before it is repeated.
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
    /// `errcode` 0, but the answer does not prove every requested pair unshared.
    /// Boxed: it holds the pairs, and keeps every other `Result<_, Error>` small.
    #[error(transparent)]
    Partial(Box<BatchOutcome>),
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

impl From<BatchOutcome> for Error {
    fn from(outcome: BatchOutcome) -> Self {
        Error::Partial(Box::new(outcome))
    }
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

/// Whether a failed call's request may have been carried out by WeChat: what a caller must know
/// before repeating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Effect {
    /// Nothing was sent: the request was refused locally (validation, no token), or no
    /// connection could be made, on every attempt. Safe to repeat.
    NotSent,
    /// Every request that left was answered with an `errcode` that refuses the whole request
    /// (busy, token, configuration, caller bug, not permitted): nothing was changed.
    Refused,
    /// A request left and its fate is unknown: a timeout after sending, a connection lost while
    /// reading, an HTTP error from a gateway, an answer that cannot be decoded or is over the body
    /// limit, `errcode` -1000 or an undocumented code, on this attempt or an earlier one. Look at
    /// the pairs' state again before repeating.
    Unknown,
    /// WeChat carried out the request pair by pair (`errcode` 0): [`BatchOutcome`] says which
    /// pairs changed, which did not and which are unverified.
    Partial,
}

impl Effect {
    /// The lowercase name: `not_sent`, `refused`, `unknown`, `partial` (the CLI's `effect`).
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::NotSent => "not_sent",
            Effect::Refused => "refused",
            Effect::Unknown => "unknown",
            Effect::Partial => "partial",
        }
    }

    /// Whether the request may have changed something: [`Effect::Unknown`] or
    /// [`Effect::Partial`].
    pub fn may_have_been_applied(self) -> bool {
        matches!(self, Effect::Unknown | Effect::Partial)
    }

    /// What the error message adds about it: nothing, or advice for [`Effect::Unknown`].
    fn advice(self) -> &'static str {
        match self {
            Effect::Unknown => {
                "; the request may have been carried out: look at the pairs' state again before repeating it"
            }
            Effect::NotSent => "; nothing was sent",
            Effect::Refused | Effect::Partial => "",
        }
    }

    /// The effect of a whole call whose last attempt had effect `self` and whose earlier ones
    /// together had `earlier`: the strongest of the two (`NotSent` < `Refused` < `Unknown`), since
    /// what an earlier request did is not undone by a later one. `Partial` is an answer to the
    /// last attempt, which says itself what happened, pair by pair.
    pub(crate) fn after(self, earlier: Effect) -> Self {
        let rank = |effect| match effect {
            Effect::NotSent => 0,
            Effect::Refused => 1,
            Effect::Unknown | Effect::Partial => 2,
        };
        match self {
            Effect::Partial => Effect::Partial,
            _ if rank(earlier) > rank(self) => {
                if earlier == Effect::Partial {
                    Effect::Unknown
                } else {
                    earlier
                }
            }
            own => own,
        }
    }
}

impl fmt::Display for Effect {
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

    /// Whether the request may have been carried out; see [`Effect`].
    pub fn effect(&self) -> Effect {
        match self {
            Error::InvalidRequest(_) => Effect::NotSent,
            Error::Api(e) => e.effect,
            Error::Partial(_) => Effect::Partial,
            Error::Http(_) | Error::Decode(_) => Effect::Unknown,
            Error::Transport(e) => e.effect,
            Error::Token(e) => e.effect,
        }
    }

    /// Whether the request may have changed something on WeChat's side ([`Effect::Unknown`] or
    /// [`Effect::Partial`]): look at the state again before repeating the call.
    pub fn may_have_been_applied(&self) -> bool {
        self.effect().may_have_been_applied()
    }

    /// How many requests left this machine for the call: 0 when it was refused locally or no
    /// connection could be made.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::InvalidRequest(_) => 0,
            Error::Api(e) => e.attempts,
            Error::Partial(e) => e.attempts,
            Error::Http(e) => e.attempts,
            Error::Decode(e) => e.attempts,
            Error::Transport(e) => e.attempts,
            Error::Token(e) => e.attempts,
        }
    }

    /// Records what the whole call did: `n` requests sent, and `earlier`, the effect of the
    /// attempts before this error's (see [`Effect::after`]).
    pub(crate) fn set_call(&mut self, n: u32, earlier: Effect) {
        match self {
            Error::Api(e) => {
                e.attempts = n;
                e.effect = e.effect.after(earlier);
            }
            Error::Partial(e) => e.attempts = n,
            Error::Http(e) => e.attempts = n,
            Error::Decode(e) => e.attempts = n,
            Error::Transport(e) => {
                e.attempts = n;
                e.effect = e.effect.after(earlier);
            }
            Error::Token(e) => {
                e.attempts = n;
                e.effect = e.effect.after(earlier);
            }
            // Only ever raised before the first request (see `Transport::call_inner`).
            Error::InvalidRequest(_) => {}
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
    "`{operation}` failed with errcode `{code}` ({class}): {message}{rid} after {attempts} attempt(s){advice}",
    class = .code.class(),
    rid = .rid.as_deref().map(|r| format!(" (rid `{r}`)")).unwrap_or_default(),
    advice = .effect.advice()
)]
#[non_exhaustive]
pub struct ApiError {
    /// The spec's `operationId`, e.g. `unshareCloudbaseEnv`.
    pub operation: &'static str,
    /// The `errcode`; [`ErrorCode::code`] gives the raw value.
    pub code: ErrorCode,
    /// The `errmsg` as WeChat sent it (secrets redacted).
    pub errmsg: String,
    /// The `errmsg` without its `rid: …` part (see [`crate::split_rid`]), invisible characters
    /// escaped ([`crate::escape_for_terminal`]).
    pub message: String,
    /// The request id from `errmsg`, to quote to WeChat support.
    pub rid: Option<String>,
    /// How many requests were sent for the call.
    pub attempts: u32,
    /// Whether the request may have been carried out: [`Effect::Refused`] for a code that
    /// refuses the request, [`Effect::Unknown`] for `-1000`, an undocumented code, or after an
    /// earlier attempt whose fate is unknown.
    pub effect: Effect,
}

impl std::error::Error for BatchOutcome {}

impl BatchOutcome {
    /// `Ok(self)` when every requested pair is proven ([`BatchOutcome::is_complete`]), else
    /// [`Error::Partial`], for callers who treat anything short of complete as an error.
    ///
    /// # Errors
    /// [`Error::Partial`] with this outcome when a pair is `failed` or `unverified`.
    pub fn into_result(self) -> Result<Self, Error> {
        if self.is_complete() { Ok(self) } else { Err(Error::Partial(Box::new(self))) }
    }
}

/// An HTTP status other than 200, usually from a gateway in front of WeChat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{operation}` got HTTP status {status} after {attempts} attempt(s): {excerpt:?}{advice}",
    advice = Effect::Unknown.advice()
)]
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
#[error(
    "`{operation}` answer could not be decoded ({reason}) after {attempts} attempt(s): {excerpt:?}{advice}",
    advice = Effect::Unknown.advice()
)]
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
#[error("`{operation}` got no answer ({kind}) after {attempts} attempt(s): {message}{advice}", advice = .effect.advice())]
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
    /// [`Effect::NotSent`] when no connection could be made (or the deadline passed before
    /// sending) on every attempt, else [`Effect::Unknown`].
    pub effect: Effect,
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
    /// What the call that needed the token did before the token failed: [`Effect::NotSent`]
    /// unless an earlier attempt of it was sent ([`Effect::Refused`] or [`Effect::Unknown`]).
    pub effect: Effect,
    /// How many requests of the call that needed the token were sent before it failed (the
    /// token call's own are counted in `source`).
    pub attempts: u32,
}

impl TokenError {
    /// A token error with a reason and, optionally, the call that failed.
    pub fn new(reason: impl Into<String>, source: Option<Error>) -> Self {
        Self { reason: reason.into(), source: source.map(Box::new), effect: Effect::NotSent, attempts: 0 }
    }
}
