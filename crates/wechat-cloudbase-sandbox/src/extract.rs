//! What every WeChat call checks, in WeChat's order, in one place: the extractor [`Wechat`], the
//! trait [`WechatRequest`] each kind of body implements, and [`Refusal`], the one answer of every
//! refused request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{FromRequest, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::Shared;

/// The largest request body the sandbox reads: 8 MiB.
pub(crate) const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// One kind of request body: which fields WeChat requires, and how present ones are judged.
pub(crate) trait WechatRequest: Sized {
    /// Whether the operation is authorised with the `access_token` query parameter (every
    /// operation but `getComponentAccessToken`).
    const NEEDS_TOKEN: bool = true;
    /// The fields that must be present and not `null` (else 40101), in the order they are
    /// checked: `a` names a top-level field, `a[].b` the field `b` of each object in the array `a`
    /// (an element that is not an object is left to [`WechatRequest::validate`]).
    const REQUIRED: &'static [&'static str];
    /// Judges a body whose required fields are all present.
    ///
    /// # Errors
    /// 40097 (see [`Refusal::invalid`]) for a present but invalid value.
    fn validate(body: &Map<String, Value>) -> Result<Self, Refusal>;
}

/// A request that passed every check WeChat makes before an operation's own logic, with its
/// typed body. In order:
///
/// 1. another method than POST → 43002;
/// 2. if `R::NEEDS_TOKEN`: no `access_token` → 41001, an unknown one → 40014, an expired one
///    → 42001;
/// 3. a body larger than [`MAX_REQUEST_BYTES`] → 40097; a body that cannot be read (a malformed
///    chunked encoding, a connection closed mid-body) or has not all arrived within the idle
///    timeout → 47001; an empty (or blank) body → 44002;
///    a body that is not a JSON object → 47001, whatever its `Content-Type`;
/// 4. a field of `R::REQUIRED` missing or `null` → 40101;
/// 5. a present but invalid field → 40097 (`R::validate`).
#[derive(Debug)]
pub(crate) struct Wechat<R>(pub(crate) R);

impl<R: WechatRequest> FromRequest<Arc<Shared>> for Wechat<R> {
    type Rejection = Refusal;

    async fn from_request(request: Request, shared: &Arc<Shared>) -> Result<Self, Refusal> {
        if request.method() != Method::POST {
            return Err(Refusal::new(43002, "require POST method"));
        }
        if R::NEEDS_TOKEN {
            check_token(shared, request.uri().query())?;
        }
        // A body that stops arriving holds its connection: it gets `idle_timeout` as a whole.
        let timeout = shared.config.idle_timeout;
        let body =
            tokio::time::timeout(timeout, axum::body::to_bytes(request.into_body(), MAX_REQUEST_BYTES))
                .await
                .map_err(|_| {
                    Refusal::new(
                        47001,
                        format!(
                            "data format error: the body did not arrive within {} s",
                            timeout.as_secs_f64()
                        ),
                    )
                })?
                .map_err(body_refusal)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Refusal::new(44002, "empty post data"));
        }
        let Value::Object(body) =
            serde_json::from_slice(&body).map_err(|_| Refusal::new(47001, "data format error"))?
        else {
            return Err(Refusal::new(47001, "data format error: the body is not a JSON object"));
        };
        if let Some(field) = R::REQUIRED.iter().find_map(|path| missing(&body, path)) {
            return Err(Refusal::new(40101, format!("missing parameter {field}")));
        }
        R::validate(&body).map(Wechat)
    }
}

/// The refusal of a body that could not be read: 40097 when it is larger than
/// [`MAX_REQUEST_BYTES`] (the error `to_bytes`'s limit gives), else 47001, WeChat's "data format
/// error" (a malformed chunked encoding, a body shorter than its `Content-Length`…).
fn body_refusal(error: axum::Error) -> Refusal {
    let too_large =
        std::error::Error::source(&error).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
    if too_large {
        Refusal::new(40097, format!("invalid args: the body is larger than {MAX_REQUEST_BYTES} bytes"))
    } else {
        // The whole chain: hyper's own message ("error reading a body from connection") does not
        // say what was wrong; its source does ("invalid chunk size line").
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !reason.ends_with(&cause_text) {
                reason = format!("{reason}: {cause_text}");
            }
            source = cause.source();
        }
        Refusal::new(47001, format!("data format error: the body cannot be read ({reason})"))
    }
}

/// 41001 without a token, 40014 for one the sandbox does not know, 42001 for an expired one.
fn check_token(shared: &Shared, query: Option<&str>) -> Result<(), Refusal> {
    let token = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Refusal::new(41001, "access_token missing"))?;
    let state = shared.lock();
    if state.static_tokens.contains(&token) {
        return Ok(());
    }
    match state.issued.get(&token) {
        None => Err(Refusal::new(40014, "invalid access_token")),
        Some(expiry) if Instant::now() >= *expiry => Err(Refusal::new(42001, "access_token expired")),
        Some(_) => Ok(()),
    }
}

/// Where `path` (see [`WechatRequest::REQUIRED`]) is missing or `null` in `body`, as a concrete
/// path such as `data[2].env`; `None` when it is present everywhere it applies.
fn missing(body: &Map<String, Value>, path: &str) -> Option<String> {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let (name, each) = head.strip_suffix("[]").map_or((head, false), |name| (name, true));
    let value = match body.get(name) {
        None | Some(Value::Null) => return Some(name.to_owned()),
        Some(value) => value,
    };
    let rest = rest?;
    let below = |value: &Value| value.as_object().and_then(|object| missing(object, rest));
    if each {
        let items = value.as_array()?;
        items.iter().enumerate().find_map(|(i, item)| below(item).map(|m| format!("{name}[{i}].{m}")))
    } else {
        below(value).map(|m| format!("{name}.{m}"))
    }
}

/// A refused request: HTTP 200 with `{"errcode": N, "errmsg": "… rid: …"}`, one body for every
/// refusal of every operation (and for the fault plan's -1 and -1000).
#[derive(Debug)]
pub(crate) struct Refusal {
    errcode: i64,
    errmsg: String,
}

impl Refusal {
    /// `errcode` with `errmsg`, to which the answer appends ` rid: …`.
    pub(crate) fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self { errcode, errmsg: errmsg.into() }
    }

    /// 40097 `invalid args {what}`: `what` names the invalid field, such as `data[0].env`.
    pub(crate) fn invalid(what: impl std::fmt::Display) -> Self {
        Self::new(40097, format!("invalid args {what}"))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let errmsg = format!("{} rid: {}", self.errmsg, rid());
        json_answer(self.errcode, &serde_json::json!({ "errcode": self.errcode, "errmsg": errmsg }))
    }
}

/// The `errcode` an answer carried, for the request log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnsweredErrcode(pub(crate) i64);

/// A JSON answer with HTTP 200, tagged with its `errcode` for the log.
pub(crate) fn json_answer<T: serde::Serialize>(errcode: i64, body: &T) -> Response {
    let mut response = axum::Json(body).into_response();
    response.extensions_mut().insert(AnsweredErrcode(errcode));
    response
}

/// A request id in WeChat's shape: three groups of 8 hex digits, unique within the process.
pub(crate) fn rid() -> String {
    static SEED: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let seed = *SEED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{seed:08x}-{:08x}-{:08x}", (n >> 32) as u32, n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing_in(body: Value, path: &str) -> Option<String> {
        missing(body.as_object().unwrap(), path)
    }

    #[test]
    fn a_required_path_is_missing_where_it_is_absent_or_null() {
        use serde_json::json;
        assert_eq!(missing_in(json!({}), "data"), Some("data".into()));
        assert_eq!(missing_in(json!({"data": null}), "data"), Some("data".into()));
        assert_eq!(missing_in(json!({"data": []}), "data"), None);
        assert_eq!(missing_in(json!({"data": [{"env": "e"}, {}]}), "data[].env"), Some("data[1].env".into()));
        assert_eq!(
            missing_in(json!({"data": [{"env": "e", "appids": null}]}), "data[].appids"),
            Some("data[0].appids".into())
        );
    }

    #[test]
    fn what_is_not_an_object_or_array_is_invalid_not_missing() {
        use serde_json::json;
        assert_eq!(missing_in(json!({"data": "x"}), "data[].env"), None);
        assert_eq!(missing_in(json!({"data": [5, "x"]}), "data[].env"), None);
        assert_eq!(missing_in(json!({"a": 5}), "a.b"), None);
        assert_eq!(missing_in(json!({"a": {}}), "a.b"), Some("a.b".into()));
    }

    #[test]
    fn rids_have_wechats_shape_and_differ() {
        let (a, b) = (rid(), rid());
        assert_ne!(a, b);
        assert!(a.split('-').all(|g| g.len() == 8 && g.chars().all(|c| c.is_ascii_hexdigit())), "{a}");
    }
}
