//! A local stand-in for WeChat's CloudBase environment-sharing API, served on 127.0.0.1.
//!
//! [`Sandbox::start`] serves the spec's operations in process, on an ephemeral port when asked
//! for port 0, with in-memory state: which (env, appid) pairs are shared (seeded with the pairs
//! of WeChat's sample request) and which tokens are valid. It answers the way WeChat's page
//! "unshareCloudbaseEnv" describes, always with HTTP 200 and an `errcode`, checked in this order:
//!
//! - another method than POST → 43002;
//! - no `access_token` → 41001; an unknown one → 40014; an expired one → 42001;
//! - an empty body → 44002; a body that is not JSON → 47001;
//! - a missing `data` or `source_type` → 40101; a present but invalid one (wrong type, empty
//!   array or id, `source_type` other than 1) → 40097;
//! - an env configured as not enabled for cloud development → 85088;
//! - otherwise errcode 0, each pair that is not shared listed in `err_list`.
//!
//! Every non-zero `errcode` comes with an `errmsg` ending in `rid: xxxxxxxx-xxxxxxxx-xxxxxxxx`.
//! `getComponentAccessToken` issues tokens for the configured component credentials.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::Value;
use wechat_cloudbase_openapi::types;

/// The token the sandbox always accepts, unless configured otherwise. Not a secret.
pub const SANDBOX_ACCESS_TOKEN: &str = "sandbox-component-access-token";

/// The component credentials the sandbox accepts by default for `getComponentAccessToken`.
pub const SANDBOX_COMPONENT_APPID: &str = "wx00000000sandbox";
/// The default sandbox component app secret. Not a secret.
pub const SANDBOX_COMPONENT_APPSECRET: &str = "sandbox-component-appsecret";
/// The default sandbox verify ticket. Not a secret.
pub const SANDBOX_VERIFY_TICKET: &str = "ticket@@@sandbox";

/// The pairs of WeChat's sample request, shared when the sandbox starts with `seed_example`.
pub const EXAMPLE_PAIRS: &[(&str, &str)] = &[
    ("test-env-6gni9ity244a6ea3", "wx5fe6bb43205e9e07"),
    ("test-env-6gni9ity244a6ea3", "wx075cf85bf347b6df"),
];

/// The platform credentials `getComponentAccessToken` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentCredentials {
    /// The platform's appid.
    pub component_appid: String,
    /// The platform's app secret.
    pub component_appsecret: String,
    /// The verify ticket currently valid.
    pub component_verify_ticket: String,
}

impl Default for ComponentCredentials {
    fn default() -> Self {
        Self {
            component_appid: SANDBOX_COMPONENT_APPID.into(),
            component_appsecret: SANDBOX_COMPONENT_APPSECRET.into(),
            component_verify_ticket: SANDBOX_VERIFY_TICKET.into(),
        }
    }
}

/// How a sandbox starts.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Share the pairs of WeChat's sample request ([`EXAMPLE_PAIRS`]) at start. Default true.
    pub seed_example: bool,
    /// More (env, appid) pairs shared at start.
    pub shared: Vec<(String, String)>,
    /// Tokens accepted forever. Default: [`SANDBOX_ACCESS_TOKEN`].
    pub access_tokens: Vec<String>,
    /// Envs whose mini programs have not enabled cloud development: answered with 85088.
    pub no_qbase_envs: Vec<String>,
    /// Credentials `getComponentAccessToken` accepts.
    pub component: ComponentCredentials,
    /// Lifetime of issued tokens (`expires_in`). Default 7200 seconds.
    pub token_ttl: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed_example: true,
            shared: Vec::new(),
            access_tokens: vec![SANDBOX_ACCESS_TOKEN.into()],
            no_qbase_envs: Vec::new(),
            component: ComponentCredentials::default(),
            token_ttl: Duration::from_secs(7200),
        }
    }
}

/// The sandbox's state, behind one lock.
#[derive(Debug, Default)]
struct Inner {
    shared: BTreeSet<(String, String)>,
    static_tokens: BTreeSet<String>,
    issued: HashMap<String, Instant>,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    config: SandboxConfig,
    requests: AtomicU64,
    rid_counter: AtomicU64,
    rid_seed: u32,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rid(&self) -> String {
        let n = self.rid_counter.fetch_add(1, Ordering::SeqCst);
        format!("{:08x}-{:08x}-{:08x}", self.rid_seed, (n >> 32) as u32, n as u32)
    }

    /// The answer for a refused request: HTTP 200, `errcode`, and `errmsg` ending with a rid.
    fn answer(&self, reject: Reject) -> Response {
        let body = types::UnshareCloudbaseEnvResponse {
            errcode: types::Errcode(reject.errcode),
            errmsg: Some(types::Errmsg(format!("{} rid: {}", reject.errmsg, self.rid()))),
            err_list: Vec::new(),
        };
        axum::Json(body).into_response()
    }
}

/// A request refused with a non-zero `errcode`.
#[derive(Debug)]
struct Reject {
    errcode: i64,
    errmsg: String,
}

fn reject(errcode: i64, errmsg: impl Into<String>) -> Reject {
    Reject { errcode, errmsg: errmsg.into() }
}

/// A running sandbox. Dropping it (or calling [`Sandbox::shutdown`]) stops the server.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `config.listen` and serves the API on it in a background task.
    ///
    /// # Errors
    /// The I/O error when the address cannot be bound.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let mut inner = Inner::default();
        if config.seed_example {
            inner.shared.extend(EXAMPLE_PAIRS.iter().map(|(e, a)| (e.to_string(), a.to_string())));
        }
        inner.shared.extend(config.shared.iter().cloned());
        inner.static_tokens.extend(config.access_tokens.iter().cloned());
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32);
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            config,
            requests: AtomicU64::new(0),
            rid_counter: AtomicU64::new(1),
            rid_seed: seed,
        });
        let router = Router::new()
            .route("/componenttcb/batchunshareenv", any(unshare))
            .route("/cgi-bin/component/api_component_token", any(component_token))
            .fallback(not_found)
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "sandbox server failed");
            }
        });
        Ok(Self { addr, shared, stop: Some(stop), task: Some(task) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, to use as a client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests it has received, on any path.
    pub fn requests_received(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Whether `env` is shared with `appid` now.
    pub fn is_shared(&self, env: &str, appid: &str) -> bool {
        self.shared.lock().shared.contains(&(env.to_owned(), appid.to_owned()))
    }

    /// Every shared (env, appid) pair, sorted.
    pub fn shared_pairs(&self) -> Vec<(String, String)> {
        self.shared.lock().shared.iter().cloned().collect()
    }

    /// Shares `env` with `appid`.
    pub fn share(&self, env: &str, appid: &str) {
        self.shared.lock().shared.insert((env.to_owned(), appid.to_owned()));
    }

    /// Makes every token issued by `getComponentAccessToken` so far expired (answered 42001),
    /// as if its `expires_in` had passed.
    pub fn expire_issued_tokens(&self) {
        let now = Instant::now();
        for expiry in self.shared.lock().issued.values_mut() {
            *expiry = now;
        }
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    (axum::http::StatusCode::NOT_FOUND, "not found").into_response()
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Checks method, token, and body framing; returns the JSON body or the error answer.
fn common_checks(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
    needs_token: bool,
) -> Result<Value, Reject> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    if method != Method::POST {
        return Err(reject(43002, "require POST method"));
    }
    if needs_token {
        let Some(token) = query_token(query) else {
            return Err(reject(41001, "access_token missing"));
        };
        let inner = shared.lock();
        if !inner.static_tokens.contains(&token) {
            match inner.issued.get(&token) {
                None => return Err(reject(40014, "invalid access_token")),
                Some(expiry) if Instant::now() >= *expiry => {
                    return Err(reject(42001, "access_token expired"));
                }
                Some(_) => {}
            }
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(reject(44002, "empty post data"));
    }
    serde_json::from_slice::<Value>(body).map_err(|_| reject(47001, "data format error"))
}

/// A required field: missing → 40101.
fn required<'a>(body: &'a Value, field: &str) -> Result<&'a Value, Reject> {
    match body.get(field) {
        None | Some(Value::Null) => Err(reject(40101, format!("missing parameter {field}"))),
        Some(value) => Ok(value),
    }
}

fn non_empty_str(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// Parses and checks `data`: 40097 for anything present but not valid.
fn parse_data(data: &Value) -> Result<Vec<(String, Vec<String>)>, Reject> {
    let invalid = |what: &str| reject(40097, format!("invalid args {what}"));
    let entries = data.as_array().filter(|a| !a.is_empty()).ok_or_else(|| invalid("data"))?;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let env = entry.get("env").and_then(non_empty_str).ok_or_else(|| invalid("env"))?;
        let appids = entry
            .get("appids")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| invalid("appids"))?;
        let appids = appids
            .iter()
            .map(|a| non_empty_str(a).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("appids"))?;
        out.push((env.to_owned(), appids));
    }
    Ok(out)
}

async fn unshare(
    State(shared): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    unshare_inner(&shared, &method, query.as_deref(), &body).unwrap_or_else(|r| shared.answer(r))
}

fn unshare_inner(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, Reject> {
    let body = common_checks(shared, method, query, body, true)?;
    if !body.is_object() {
        return Err(reject(47001, "data format error"));
    }
    let data = required(&body, "data")?;
    let source_type = required(&body, "source_type")?;
    let data = parse_data(data)?;
    if source_type.as_i64() != Some(1) {
        return Err(reject(40097, "invalid args source_type"));
    }
    if let Some((env, _)) = data.iter().find(|(env, _)| shared.config.no_qbase_envs.contains(env)) {
        return Err(reject(85088, format!("no qbase privilege for env {env}")));
    }
    let mut err_list = Vec::new();
    let mut inner = shared.lock();
    for (env, appids) in data {
        for appid in appids {
            if !inner.shared.remove(&(env.clone(), appid.clone())) {
                err_list.push(types::UnshareFailure {
                    env: Some(env.clone()),
                    appid: Some(appid),
                    errmsg: Some("env is not shared with appid".into()),
                });
            }
        }
    }
    drop(inner);
    let answer = types::UnshareCloudbaseEnvResponse {
        errcode: types::Errcode(0),
        errmsg: Some(types::Errmsg("ok".into())),
        err_list,
    };
    Ok(axum::Json(answer).into_response())
}

async fn component_token(
    State(shared): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    component_token_inner(&shared, &method, query.as_deref(), &body).unwrap_or_else(|r| shared.answer(r))
}

fn component_token_inner(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, Reject> {
    let body = common_checks(shared, method, query, body, false)?;
    let mut fields = Vec::new();
    for name in ["component_appid", "component_appsecret", "component_verify_ticket"] {
        let value = required(&body, name)?;
        let value = non_empty_str(value).ok_or_else(|| reject(40097, format!("invalid args {name}")))?;
        fields.push(value);
    }
    let expected = &shared.config.component;
    if fields[0] != expected.component_appid || fields[1] != expected.component_appsecret {
        return Err(reject(40013, "invalid appid or appsecret"));
    }
    if fields[2] != expected.component_verify_ticket {
        return Err(reject(61006, "component ticket is invalid"));
    }
    let token = format!("sandbox-issued-{}", shared.rid().replace('-', ""));
    let ttl = shared.config.token_ttl;
    shared.lock().issued.insert(token.clone(), Instant::now() + ttl);
    let answer = types::ComponentAccessTokenResponse {
        component_access_token: Some(token),
        expires_in: Some(ttl.as_secs() as i64),
        errcode: None,
        errmsg: None,
    };
    Ok(axum::Json(answer).into_response())
}
