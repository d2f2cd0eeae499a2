//! The engine every operation runs through: token, retries, deadline, decoding, redaction and
//! tracing around the generated calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;
use wechat_cloudbase_openapi::{self as openapi, AccessToken, Answer, CallContext, Operation};

use crate::errcode::{ErrorClass, ErrorCode, split_rid};
use crate::error::{
    ApiError, DecodeError, Effect, Error, HttpError, TokenError, TransportError, TransportErrorKind,
    ValidationError,
};
use crate::retry::{RetryPolicy, is_retryable};
use crate::text::{escape_for_terminal, excerpt, redact};
use crate::token::TokenProvider;

/// WeChat's API origin, the default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";

/// The default limit on an answer's body, in bytes (after decompression): 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// The default time to establish a connection: 5 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The default time for one request, from sending to the end of the answer: 10 seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP settings shared by [`ClientBuilder`] and the token provider's builder.
#[derive(Debug, Clone)]
pub(crate) struct HttpConfig {
    pub(crate) base_url: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_body_bytes: u64,
    pub(crate) http: Option<reqwest::Client>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            retry: RetryPolicy::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            http: None,
        }
    }
}

impl HttpConfig {
    pub(crate) fn build(self) -> Result<Transport, Error> {
        let base_url = check_base_url(&self.base_url)?;
        if self.retry.max_attempts == 0 {
            return Err(ValidationError::new("retry.max_attempts", "must be at least 1").into());
        }
        let (http, client_timeout) = match self.http {
            Some(http) => (http, None),
            None if !TLS && base_url.starts_with("https:") => {
                return Err(ValidationError::new(
                    "base_url",
                    "is https, but this build of wechat-cloudbase has no TLS: enable its feature \
                     `rustls`, `rustls-aws-lc` or `native-tls`, or pass your own reqwest::Client \
                     (`http_client`)",
                )
                .into());
            }
            None => {
                let http = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    // Every request gets it without a per-request setting (which costs three
                    // allocations per call); a closer deadline still gets its own.
                    .timeout(self.request_timeout)
                    .pool_idle_timeout(Duration::from_secs(60))
                    // WeChat never redirects; following one could carry the call elsewhere.
                    .redirect(reqwest::redirect::Policy::none());
                let http = with_tls(http)?.build().map_err(|e| transport_error("client", e))?;
                (http, Some(self.request_timeout))
            }
        };
        Ok(Transport {
            base_url: base_url.into(),
            http,
            max_body_bytes: self.max_body_bytes,
            request_timeout: self.request_timeout,
            client_timeout,
            retry: self.retry,
        })
    }
}

/// Whether a TLS feature is enabled, so that the client this crate builds can speak `https://`.
const TLS: bool = cfg!(any(feature = "rustls", feature = "rustls-aws-lc", feature = "native-tls"));

/// A `reqwest::ClientBuilder` with the TLS this build's features choose (see the crate's
/// features): the start for a `reqwest::Client` of your own, to pass to
/// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client) or to the raw
/// [`openapi::Client`](crate::openapi::Client). With the default `rustls` feature (ring),
/// reqwest's own `reqwest::Client::new()` panics unless a rustls `CryptoProvider` is installed
/// process-wide (reqwest's rule when it has no provider of its own); this builder needs none.
///
/// # Errors
/// [`Error::Transport`] when TLS cannot be set up (the platform's certificate verifier failed).
pub fn http_client_builder() -> Result<reqwest::ClientBuilder, Error> {
    with_tls(reqwest::Client::builder())
}

/// The TLS the crate's features choose, on the `reqwest::Client` this crate builds. When several
/// are enabled, the one asked for beyond the default wins: `native-tls`, then `rustls-aws-lc`,
/// then `rustls` (ring). With none, the client speaks plain `http://` only.
fn with_tls(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, Error> {
    #[cfg(feature = "native-tls")]
    return Ok(builder.tls_backend_native());
    #[cfg(all(feature = "rustls-aws-lc", not(feature = "native-tls")))]
    return Ok(builder.tls_backend_rustls());
    #[cfg(all(feature = "rustls", not(any(feature = "rustls-aws-lc", feature = "native-tls"))))]
    return ring_tls().map(|config| builder.tls_backend_preconfigured(config));
    #[cfg(not(any(feature = "rustls", feature = "rustls-aws-lc", feature = "native-tls")))]
    Ok(builder)
}

/// rustls on the *ring* crypto provider, verifying certificates as the platform does (the same
/// verifier reqwest's own `rustls` feature uses), over HTTP/1.1. Built per client, so nothing is
/// installed process-wide: an application's own `CryptoProvider::install_default` still works.
#[cfg(all(feature = "rustls", not(any(feature = "rustls-aws-lc", feature = "native-tls"))))]
fn ring_tls() -> Result<rustls::ClientConfig, Error> {
    use rustls_platform_verifier::BuilderVerifierExt;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(BuilderVerifierExt::with_platform_verifier)
        .map_err(|e| TransportError {
            operation: "client",
            kind: TransportErrorKind::Other,
            message: format!("cannot set up TLS (rustls with ring): {e}"),
            attempts: 0,
            effect: Effect::NotSent,
            source: None,
        })?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Checks that a base URL is an absolute `http(s)` URL without query, fragment or credentials,
/// and returns it without a trailing `/`.
fn check_base_url(raw: &str) -> Result<String, ValidationError> {
    let bad = |reason: &str| ValidationError::new("base_url", reason.to_owned());
    // The URL parser silently drops tabs and line breaks (WHATWG), which would send the call to
    // another path than the one written: refuse them, and every other space or control.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain whitespace or control characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must use http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Sends generated calls with the retry policy and maps what comes back to [`Error`].
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub(crate) base_url: Arc<str>,
    http: reqwest::Client,
    max_body_bytes: u64,
    /// The limit for one request; each attempt gets the smaller of this and the time left before
    /// the call's deadline, enforced by reqwest itself (one timer per request).
    request_timeout: Duration,
    /// The timeout the `reqwest::Client` applies to every request by itself, if it is ours.
    client_timeout: Option<Duration>,
    retry: RetryPolicy,
}

/// An accepted answer (its `errcode` 0 or absent) and what the call took to get it.
pub(crate) struct Answered<T> {
    pub(crate) answer: T,
    /// The requests that left this machine.
    pub(crate) attempts: u32,
    /// An earlier attempt was sent and its fate is unknown: it may have been carried out before
    /// the attempt that was answered.
    pub(crate) after_uncertain_attempt: bool,
    /// The token the answer was got with (to redact from what the caller reads out of it).
    pub(crate) token: Option<AccessToken>,
}

impl<T> Answered<T> {
    /// The same call, with its answer turned into another shape.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Answered<U> {
        Answered {
            answer: f(self.answer),
            attempts: self.attempts,
            after_uncertain_attempt: self.after_uncertain_attempt,
            token: self.token,
        }
    }
}

/// The longest `component_access_token` sent, in bytes. WeChat's pages ask callers to keep at
/// least 512 characters of storage for access tokens, and real ones are about 150: four times
/// that reserve leaves room for longer tokens while keeping the request line (the token travels
/// in the query) far below the 8 KiB that common HTTP servers and gateways accept.
pub const MAX_ACCESS_TOKEN_BYTES: usize = 2048;

/// Checks a token before it is sent: not empty, at most [`MAX_ACCESS_TOKEN_BYTES`], and only
/// visible ASCII (no spaces, line breaks or other controls, which a pasted token often carries
/// and which would be percent-encoded into a token WeChat does not know).
fn check_access_token(token: &AccessToken) -> Result<(), ValidationError> {
    let token = token.expose_secret();
    let bad = |reason: String| ValidationError::new("component_access_token", reason);
    if token.is_empty() {
        return Err(bad("must not be empty".into()));
    }
    if token.len() > MAX_ACCESS_TOKEN_BYTES {
        return Err(bad(format!("is {} bytes long, more than {MAX_ACCESS_TOKEN_BYTES}", token.len())));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "must hold only visible ASCII characters (no whitespace or control characters)".into()
        ));
    }
    Ok(())
}

impl Transport {
    /// Runs one operation to its end: the first attempt, retries under the policy, and one
    /// repeat with a new token after a token error.
    ///
    /// Returns the accepted answer (whose `errcode` is 0 or absent) and what it took. The
    /// secrets `body` carries ([`Operation::secrets`]) and the token are redacted from every
    /// text taken from the answer.
    pub(crate) async fn call<Op: Operation>(
        &self,
        body: &Op::Request,
        tokens: Option<&dyn TokenProvider>,
    ) -> Result<Answered<Op::Response>, Error> {
        let operation = Op::OPERATION_ID;
        let secrets = &Op::secrets(body)[..];
        let span = tracing::info_span!(
            "wechat_cloudbase.call",
            operation,
            attempts = tracing::field::Empty,
            errcode = tracing::field::Empty,
            rid = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self.call_inner::<Op>(started, body, tokens, secrets).instrument(span.clone()).await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok(answered) => {
                span.record("attempts", answered.attempts);
                span.record("errcode", answered.answer.errcode().unwrap_or(0));
                tracing::debug!(parent: &span, "call succeeded");
            }
            Err(error) => {
                span.record("attempts", error.attempts());
                if let Some(code) = error.errcode() {
                    span.record("errcode", code);
                }
                if let Some(rid) = error.rid() {
                    span.record("rid", rid);
                }
                tracing::info!(parent: &span, kind = %error.kind(), effect = %error.effect(), "call failed");
            }
        }
        result
    }

    async fn call_inner<Op: Operation>(
        &self,
        started: Instant,
        body: &Op::Request,
        tokens: Option<&dyn TokenProvider>,
        secrets: &[&str],
    ) -> Result<Answered<Op::Response>, Error> {
        let operation = Op::OPERATION_ID;
        // A deadline too far to represent is no deadline.
        let deadline = started.checked_add(self.retry.deadline);
        let remaining = move || remaining_until(deadline);
        // `tries` bounds the loop; `attempts` counts only the requests that left this machine.
        let (mut tries, mut attempts) = (0u32, 0u32);
        // What the requests sent so far did, taken together (see `Effect::after`).
        let mut so_far = Effect::NotSent;
        let fail = |mut error: Error, attempts: u32, so_far: Effect| {
            error.set_call(attempts, so_far);
            error
        };
        let mut token = match tokens {
            Some(provider) => Some(token_within(operation, provider, deadline).await?),
            None => None,
        };
        let mut retries = 0u32;
        let mut token_renewed = false;
        loop {
            tries += 1;
            if let Some(token) = &token
                && let Err(invalid) = check_access_token(token)
            {
                // Before the first request, the call's own input is invalid; after one, the
                // provider's new token is, and the call has already done something.
                return Err(match attempts {
                    0 => invalid.into(),
                    _ => fail(
                        TokenError::new("the renewed token cannot be sent", Some(invalid.into())).into(),
                        attempts,
                        so_far,
                    ),
                });
            }
            let attempt = self.attempt::<Op>(body, token.as_ref(), secrets, remaining());
            let result = attempt.await;
            let sent = match &result {
                Ok(_) => true,
                Err(error) => error.effect() != Effect::NotSent,
            };
            attempts += u32::from(sent);
            let error = match result {
                Ok(answer) => {
                    tracing::debug!(attempt = attempts, "answer accepted");
                    let after_uncertain_attempt = so_far == Effect::Unknown;
                    return Ok(Answered { answer, attempts, after_uncertain_attempt, token });
                }
                Err(error) => fail(error, attempts, so_far),
            };
            so_far = error.effect();
            tracing::debug!(
                attempt = tries,
                sent,
                kind = %error.kind(),
                effect = %error.effect(),
                errcode = error.errcode(),
                rid = error.rid(),
                "attempt failed"
            );
            if let (Some(provider), Some(used), Error::Api(api)) = (tokens, &token, &error)
                && api.code.class() == ErrorClass::Token
                && !token_renewed
                && !remaining().is_zero()
            {
                provider.invalidate(used).await;
                let fresh = token_within(operation, provider, deadline)
                    .await
                    .map_err(|e| fail(e, attempts, so_far))?;
                if &fresh != used {
                    tracing::info!(attempt = tries, "repeating once with a new token");
                    token_renewed = true;
                    token = Some(fresh);
                    continue;
                }
            }
            if tries < self.retry.max_attempts && is_retryable(&error, Op::IDEMPOTENT) {
                let wait = self.retry.backoff(retries);
                if wait < remaining() {
                    tracing::info!(attempt = tries, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                    continue;
                }
            }
            return Err(error);
        }
    }

    /// One request: sends it through the generated client and maps the result. Every text
    /// taken from the answer is redacted of `secrets` and the token.
    async fn attempt<Op: Operation>(
        &self,
        body: &Op::Request,
        token: Option<&AccessToken>,
        secrets: &[&str],
        remaining: Duration,
    ) -> Result<Op::Response, Error> {
        let operation = Op::OPERATION_ID;
        if remaining.is_zero() {
            return Err(deadline_error(operation, "before the request was sent", Effect::NotSent));
        }
        let deadline_bound = remaining < self.request_timeout;
        let timeout = remaining.min(self.request_timeout);
        let mut context = CallContext::new(token.cloned(), self.max_body_bytes);
        if self.client_timeout != Some(timeout) {
            context = context.with_timeout(timeout);
        }
        let client = openapi::Client::new_with_client(&self.base_url, self.http.clone(), context.clone());
        // The token joins the secrets only on the paths that read text out of an answer.
        let with_token = || {
            let mut all = secrets.to_vec();
            all.extend(token.map(AccessToken::expose_secret));
            all
        };
        match Op::send(&client, body).await {
            // The timeout was the call's deadline, not the request timeout.
            Err(
                progenitor_client::Error::CommunicationError(e)
                | progenitor_client::Error::ResponseBodyError(e),
            ) if deadline_bound && e.is_timeout() => Err(deadline_error(
                operation,
                "before an answer arrived",
                if e.is_connect() { Effect::NotSent } else { Effect::Unknown },
            )),
            Ok(value) => accept_answer(value.into_inner(), operation, with_token),
            Err(progenitor_client::Error::InvalidResponsePayload(body, e)) => {
                let echoed = echoed_secrets(&body, Op::ANSWER_SECRET_FIELDS);
                let mut all = with_token();
                all.extend(echoed.iter().map(String::as_str));
                Err(payload_error(operation, &body, &e, &all))
            }
            Err(error) => Err(map_generated_error(operation, error, &context, &with_token()).await),
        }
    }
}

/// The error of a call whose deadline passed.
fn deadline_error(operation: &'static str, when: &str, effect: Effect) -> Error {
    TransportError {
        operation,
        kind: TransportErrorKind::Deadline,
        message: format!("the call's deadline passed {when}"),
        attempts: 0,
        effect,
        source: None,
    }
    .into()
}

/// The time left before `deadline`; `Duration::MAX` for none.
fn remaining_until(deadline: Option<Instant>) -> Duration {
    deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()))
}

/// A token from `provider`, before the call's `deadline`.
async fn token_within(
    operation: &'static str,
    provider: &dyn TokenProvider,
    deadline: Option<Instant>,
) -> Result<AccessToken, Error> {
    match tokio::time::timeout(remaining_until(deadline), provider.access_token()).await {
        Ok(token) => token,
        Err(_) => Err(deadline_error(operation, "while obtaining a token", Effect::NotSent)),
    }
}

/// A decoded answer if its `errcode` is 0 or absent, else the [`ApiError`] it carries.
///
/// `secrets` gives what to redact from the `errmsg`; it is only called for an error.
pub(crate) fn accept_answer<'s, T: Answer, S: AsRef<[&'s str]>>(
    answer: T,
    operation: &'static str,
    secrets: impl FnOnce() -> S,
) -> Result<T, Error> {
    match answer.errcode() {
        None | Some(0) => Ok(answer),
        Some(code) => {
            // An error answer may still carry a secret of its own (a new token).
            let mut all = secrets().as_ref().to_vec();
            all.extend(answer.secrets());
            Err(api_error(operation, code, answer.errmsg().unwrap_or(""), &all).into())
        }
    }
}

/// The values of `fields` (the answer's `format: password` fields) in a body that did not
/// decode into its type: JSON of the wrong shape still carries them (a new token beside a
/// mistyped `expires_in`), and they must not reach the error's excerpt.
fn echoed_secrets(body: &[u8], fields: &[&str]) -> Vec<String> {
    if fields.is_empty() {
        return Vec::new();
    }
    let Ok(serde_json::Value::Object(answer)) = serde_json::from_slice(body) else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|field| match answer.get(*field)? {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
        .collect()
}

/// The [`DecodeError`] for an HTTP 200 body that is not the documented answer.
pub(crate) fn payload_error(
    operation: &'static str,
    body: &[u8],
    error: &serde_json::Error,
    secrets: &[&str],
) -> Error {
    DecodeError {
        operation,
        status: 200,
        reason: redact(&error.to_string(), secrets),
        excerpt: excerpt(body, secrets),
        attempts: 0,
    }
    .into()
}

/// An [`ApiError`] from a raw `errcode` and `errmsg`.
pub(crate) fn api_error(operation: &'static str, code: i64, errmsg: &str, secrets: &[&str]) -> ApiError {
    let errmsg = redact(errmsg, secrets);
    let (message, rid) = split_rid(&errmsg);
    let code = ErrorCode::from_code(code);
    // -1000 is a failure inside WeChat and an undocumented code may be one of CloudBase's own:
    // neither proves that nothing was done.
    let effect = match code.class() {
        ErrorClass::Server | ErrorClass::Unknown => Effect::Unknown,
        _ => Effect::Refused,
    };
    ApiError {
        operation,
        code,
        message: escape_for_terminal(&message).into_owned(),
        rid: rid.map(str::to_owned),
        errmsg: errmsg.clone(),
        attempts: 0,
        effect,
    }
}

/// Maps progenitor's error (only ever an input) to the crate's.
async fn map_generated_error(
    operation: &'static str,
    error: progenitor_client::Error<()>,
    context: &CallContext,
    secrets: &[&str],
) -> Error {
    use progenitor_client::Error as P;
    match error {
        // A body that arrived whole but cannot be decompressed is a broken answer, not a lost
        // one; a body whose transfer broke (even a compressed one) is lost, and falls through.
        P::CommunicationError(e) | P::ResponseBodyError(e) if is_corrupt_encoding(&e) => DecodeError {
            operation,
            status: e.status().map_or(200, |s| s.as_u16()),
            reason: "the compressed body cannot be decoded".into(),
            excerpt: String::new(),
            attempts: 0,
        }
        .into(),
        P::CommunicationError(e) | P::ResponseBodyError(e) | P::InvalidUpgrade(e) => {
            transport_error(operation, e)
        }
        P::InvalidResponsePayload(body, e) => payload_error(operation, &body, &e, secrets),
        P::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            // The hooks already read the body into memory, within the limit, without a BOM.
            let body = response.bytes().await.unwrap_or_default();
            HttpError { operation, status, excerpt: excerpt(&body, secrets), attempts: 0 }.into()
        }
        P::ErrorResponse(value) => {
            HttpError { operation, status: value.status().as_u16(), excerpt: String::new(), attempts: 0 }
                .into()
        }
        P::Custom(message) => match context.body_overflowed() {
            Some(200) => {
                DecodeError { operation, status: 200, reason: message, excerpt: String::new(), attempts: 0 }
                    .into()
            }
            Some(status) => HttpError { operation, status, excerpt: message, attempts: 0 }.into(),
            None => other_transport(operation, redact(&message, secrets)),
        },
        P::InvalidRequest(message) => other_transport(operation, redact(&message, secrets)),
    }
}

/// Whether reqwest failed because the body's content encoding (gzip) is corrupt, rather than
/// because its transfer broke or timed out: reqwest reports all of them as decode errors, and
/// only where the error comes from tells them apart.
///
/// - Every failure of the transfer (a chunked framing error such as an overflowing or non-hex
///   chunk size, a connection closed before the end of a chunk or of the `Content-Length`) is
///   a `hyper::Error` in the chain, also under the gzip decoder, which passes it on as it is.
/// - The decompressor's own errors (a bad gzip header, a corrupt or cut-short stream in a body
///   that arrived whole) are `io::Error`s with no `hyper::Error` anywhere in the chain.
///
/// The I/O error's kind is no signal: hyper reports an overflowing chunk size as `InvalidData`,
/// as the decompressor does a bad header. `hyper` must be the version reqwest uses (one copy in
/// `Cargo.lock`), or nothing would match and every broken transfer would count as corrupt.
fn is_corrupt_encoding(error: &reqwest::Error) -> bool {
    if !error.is_decode() || error.is_timeout() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<hyper::Error>() {
            return false;
        }
        // An `io::Error`'s `source` skips the error it wraps; look inside it instead.
        source = match cause.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    true
}

/// A [`TransportError`] of kind `Other` after a request was sent.
fn other_transport(operation: &'static str, message: String) -> Error {
    TransportError {
        operation,
        kind: TransportErrorKind::Other,
        message,
        attempts: 0,
        effect: Effect::Unknown,
        source: None,
    }
    .into()
}

/// A [`TransportError`] from reqwest's, with the URL (and so the token) stripped.
pub(crate) fn transport_error(operation: &'static str, error: reqwest::Error) -> Error {
    let error = error.without_url();
    let kind = if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    // Nothing leaves before the connection is made; anything else may have sent the request.
    let effect = if error.is_connect() { Effect::NotSent } else { Effect::Unknown };
    TransportError {
        operation,
        kind,
        message: redact(&message, &[]),
        attempts: 0,
        effect,
        source: Some(error),
    }
    .into()
}

/// The HTTP settings both builders share ([`ClientBuilder`] and the token provider's), as
/// methods on a builder with a `config: HttpConfig` field.
macro_rules! http_settings {
    () => {
        /// The API origin (default [`crate::DEFAULT_BASE_URL`]); for tests, a sandbox on
        /// `127.0.0.1`.
        #[must_use]
        pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
            self.config.base_url = base_url.into();
            self
        }

        /// The retry policy (default [`crate::RetryPolicy::default`]).
        #[must_use]
        pub fn retry_policy(mut self, retry: crate::RetryPolicy) -> Self {
            self.config.retry = retry;
            self
        }

        /// Time allowed to connect (default [`crate::DEFAULT_CONNECT_TIMEOUT`]).
        #[must_use]
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.connect_timeout = timeout;
            self
        }

        /// Time allowed for one request and its whole answer (default
        /// [`crate::DEFAULT_REQUEST_TIMEOUT`]); never more than what is left of the call's
        /// deadline.
        #[must_use]
        pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.request_timeout = timeout;
            self
        }

        /// Largest answer body accepted, in bytes after decompression (default
        /// [`crate::DEFAULT_MAX_BODY_BYTES`]); a larger one is an error, read no further.
        #[must_use]
        pub fn max_body_bytes(mut self, bytes: u64) -> Self {
            self.config.max_body_bytes = bytes;
            self
        }

        /// Uses this `reqwest::Client`. Its own connection settings then apply instead of
        /// `connect_timeout` (the request timeout and deadline still apply to each request);
        /// build it with `redirect(reqwest::redirect::Policy::none())`, as the default client
        /// is, or a redirect could carry the call (and the token's `Referer`) elsewhere.
        #[must_use]
        pub fn http_client(mut self, http: reqwest::Client) -> Self {
            self.config.http = Some(http);
            self
        }
    };
}
pub(crate) use http_settings;

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts one connection on 127.0.0.1 and returns the first bytes the client sent on it
    /// (then drops it), with the `https://` base URL that points at it.
    fn first_bytes_of_one_connection() -> (String, std::sync::mpsc::Receiver<Vec<u8>>) {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (sender, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0u8; 3];
            let _ = stream.read_exact(&mut head);
            let _ = sender.send(head.to_vec());
        });
        (url, received)
    }

    fn one_attempt() -> RetryPolicy {
        RetryPolicy::none()
    }

    /// With any TLS feature, the client the crate builds opens `https://` connections with a TLS
    /// handshake: its first bytes are a TLS handshake record (type 22, version 3.x). The local
    /// listener then hangs up, so the call fails; nothing leaves this machine.
    #[cfg(any(feature = "rustls", feature = "rustls-aws-lc", feature = "native-tls"))]
    #[tokio::test]
    async fn with_a_tls_feature_the_default_client_speaks_tls_to_an_https_base_url() {
        let (url, received) = first_bytes_of_one_connection();
        let client = crate::Client::builder()
            .base_url(url)
            .access_token(AccessToken::new("token"))
            .retry_policy(one_attempt())
            .build()
            .unwrap();
        let error = client.get_share_cloudbase_env(&crate::ShareQuery::new(["wx1"])).await.unwrap_err();
        assert!(matches!(error, Error::Transport(_)), "{error}");
        let head = received.recv().unwrap();
        assert_eq!(&head[..2], &[22, 3], "a TLS handshake record, not {head:?}");
    }

    /// Without any TLS feature, an `https://` base URL is refused when the client is built
    /// (nothing sent), unless the caller brings their own `reqwest::Client`.
    #[cfg(not(any(feature = "rustls", feature = "rustls-aws-lc", feature = "native-tls")))]
    #[test]
    fn without_tls_an_https_base_url_needs_the_callers_own_reqwest_client() {
        let error = crate::Client::new(DEFAULT_BASE_URL, AccessToken::new("token")).unwrap_err();
        assert!(
            matches!(error, Error::InvalidRequest(ref v) if v.field == "base_url" && v.reason.contains("rustls")),
            "{error}"
        );
        crate::Client::builder()
            .base_url(DEFAULT_BASE_URL)
            .access_token(AccessToken::new("token"))
            .http_client(reqwest::Client::new())
            .build()
            .unwrap();
        crate::Client::new("http://127.0.0.1:1", AccessToken::new("token")).unwrap();
    }

    #[test]
    fn base_urls_are_checked_and_normalised() {
        assert_eq!(check_base_url("https://api.weixin.qq.com/").unwrap(), "https://api.weixin.qq.com");
        assert_eq!(check_base_url("http://127.0.0.1:8080/x/").unwrap(), "http://127.0.0.1:8080/x");
        for bad in
            ["", "api.weixin.qq.com", "ftp://h", "https://h/?access_token=x", "https://u:p@h", "https://h/#f"]
        {
            assert_eq!(check_base_url(bad).unwrap_err().field, "base_url", "{bad}");
        }
    }
}
