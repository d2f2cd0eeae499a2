#![doc = include_str!("../README.md")]

mod accept;
mod api;
mod extract;
mod faults;
mod redact;
mod requests;
mod state;
mod store;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

pub use api::PAIR_LOG_TARGET;
use extract::Refusal;
pub use faults::{Fault, FaultPlan};
use state::{CLOUDRUN, Pair};

/// The token the sandbox accepts unless configured otherwise. Not a secret: it only opens the
/// sandbox.
pub const SANDBOX_ACCESS_TOKEN: &str = "sandbox-component-access-token";

/// The component appid `getComponentAccessToken` accepts by default.
pub const SANDBOX_COMPONENT_APPID: &str = "wx00000000sandbox";
/// The component app secret `getComponentAccessToken` accepts by default. Not a secret.
pub const SANDBOX_COMPONENT_APPSECRET: &str = "sandbox-component-appsecret";
/// The verify ticket `getComponentAccessToken` accepts by default. Not a secret.
pub const SANDBOX_VERIFY_TICKET: &str = "ticket@@@sandbox";

/// The pairs of WeChat's sample request, shared when the sandbox starts with `seed_example`.
pub const EXAMPLE_PAIRS: &[(&str, &str)] = &[
    ("test-env-6gni9ity244a6ea3", "wx5fe6bb43205e9e07"),
    ("test-env-6gni9ity244a6ea3", "wx075cf85bf347b6df"),
];

/// The path of the confirmation page (see [`Sandbox::pending_shares`]).
const CONFIRM_ROUTE: &str = "/sandbox/confirm/{ticket}";

/// A pair `shareCloudbaseEnv` accepted that waits for its mini program's admin to open its
/// confirmation URL ([`Sandbox::pending_shares`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct PendingShare {
    /// The `source_type` it was requested under (1 CloudRun, 0 CloudBase).
    pub source_type: i32,
    /// The environment id.
    pub env: String,
    /// The mini program's appid.
    pub appid: String,
    /// The confirmation URL that shares it when opened with GET, as in `msg_info_list`:
    /// `{base_url}/sandbox/confirm/{ticket}`.
    pub url: String,
}

/// The longest token lifetime accepted: 10 years.
const MAX_TOKEN_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The platform credentials `getComponentAccessToken` accepts: the sandbox's own by default
/// ([`SANDBOX_COMPONENT_APPID`], …), others with [`ComponentCredentials::new`]. Its `Debug`
/// shows the appid only.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentCredentials {
    /// The platform's appid.
    pub component_appid: String,
    /// The platform's app secret.
    pub component_appsecret: String,
    /// The verify ticket currently valid.
    pub component_verify_ticket: String,
}

impl ComponentCredentials {
    /// The credentials with this `component_appid`, app secret and `component_verify_ticket`.
    pub fn new(
        component_appid: impl Into<String>,
        component_appsecret: impl Into<String>,
        component_verify_ticket: impl Into<String>,
    ) -> Self {
        Self {
            component_appid: component_appid.into(),
            component_appsecret: component_appsecret.into(),
            component_verify_ticket: component_verify_ticket.into(),
        }
    }
}

impl std::fmt::Debug for ComponentCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentCredentials")
            .field("component_appid", &self.component_appid)
            .field("component_appsecret", &"<redacted>")
            .field("component_verify_ticket", &"<redacted>")
            .finish()
    }
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
///
/// `#[non_exhaustive]`: start from [`SandboxConfig::default`] and change what you need with the
/// `with_*` methods, so that a new setting is not a breaking change:
/// `SandboxConfig::default().with_seed_example(false).with_auto_confirm(true)`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Share the pairs of WeChat's sample request ([`EXAMPLE_PAIRS`]) at start, under
    /// `source_type` 1. Default true.
    /// With a `state_file` that already holds a state database, the database wins and nothing
    /// is seeded.
    pub seed_example: bool,
    /// More (env, appid) pairs shared at start, under `source_type` 1 (also only when the state
    /// database is new).
    pub shared: Vec<(String, String)>,
    /// More pairs shared at start, from this JSON file (also only when the state database is
    /// new): `{"shared": [{"env": "…", "appid": "…", "source_type": 1}]}`, a pair without
    /// `source_type` read as 1; the shape [`export_state`] prints. A missing or invalid file
    /// refuses to start.
    pub seed_file: Option<PathBuf>,
    /// Keep the shared pairs in this embedded database (redb), created if missing: loaded at
    /// start, and every change is committed to it (synced to disk) before it is answered. A
    /// path that cannot be created, opened or written refuses to start, as does a database
    /// another process has open. A symlink is followed, never replaced; no other file is made
    /// beside it.
    pub state_file: Option<PathBuf>,
    /// Tokens accepted forever. Default: [`SANDBOX_ACCESS_TOKEN`].
    pub access_tokens: Vec<String>,
    /// Envs whose mini programs have not enabled cloud development: answered with 85088.
    pub no_qbase_envs: Vec<String>,
    /// Share the pairs `shareCloudbaseEnv` accepts at once, as if each mini program's admin had
    /// opened its confirmation URL at that moment (the URLs are still returned, already used).
    /// Default false: a share waits for its URL to be opened.
    pub auto_confirm: bool,
    /// The envs that exist. `None` (the default): every env id exists. With a list, a pair whose
    /// env is not in it, nor the env of a pair shared at start or with [`Sandbox::share`], comes
    /// back in `err_list` with `env not found`.
    pub envs: Option<Vec<String>>,
    /// Credentials `getComponentAccessToken` accepts.
    pub component: ComponentCredentials,
    /// Lifetime of issued tokens (their `expires_in`). Default 7200 seconds, at most 10 years.
    pub token_ttl: Duration,
    /// Faults to inject. Default: none.
    pub faults: FaultPlan,
    /// The most connections served at once; at least 1. Default [`DEFAULT_MAX_CONNECTIONS`].
    /// When that many are open, the sandbox accepts no more until one closes: the others wait in
    /// the kernel's listen backlog (their requests are answered late, not refused).
    pub max_connections: usize,
    /// How long a connection may take to send a request's complete head (request line and
    /// headers), counted from when it is accepted and from the end of each answer; a connection
    /// that takes longer (one that sends nothing, one that stops mid-head, one idle between
    /// requests) is closed. More than zero. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
}

impl SandboxConfig {
    /// The same configuration with [`SandboxConfig::listen`] set.
    #[must_use]
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// The same configuration with [`SandboxConfig::seed_example`] set.
    #[must_use]
    pub fn with_seed_example(mut self, seed_example: bool) -> Self {
        self.seed_example = seed_example;
        self
    }

    /// The same configuration with [`SandboxConfig::shared`] set.
    #[must_use]
    pub fn with_shared(mut self, shared: Vec<(String, String)>) -> Self {
        self.shared = shared;
        self
    }

    /// The same configuration with [`SandboxConfig::seed_file`] set.
    #[must_use]
    pub fn with_seed_file(mut self, seed_file: Option<PathBuf>) -> Self {
        self.seed_file = seed_file;
        self
    }

    /// The same configuration with [`SandboxConfig::state_file`] set.
    #[must_use]
    pub fn with_state_file(mut self, state_file: Option<PathBuf>) -> Self {
        self.state_file = state_file;
        self
    }

    /// The same configuration with [`SandboxConfig::access_tokens`] set.
    #[must_use]
    pub fn with_access_tokens(mut self, access_tokens: Vec<String>) -> Self {
        self.access_tokens = access_tokens;
        self
    }

    /// The same configuration with [`SandboxConfig::no_qbase_envs`] set.
    #[must_use]
    pub fn with_no_qbase_envs(mut self, no_qbase_envs: Vec<String>) -> Self {
        self.no_qbase_envs = no_qbase_envs;
        self
    }

    /// The same configuration with [`SandboxConfig::auto_confirm`] set.
    #[must_use]
    pub fn with_auto_confirm(mut self, auto_confirm: bool) -> Self {
        self.auto_confirm = auto_confirm;
        self
    }

    /// The same configuration with [`SandboxConfig::envs`] set.
    #[must_use]
    pub fn with_envs(mut self, envs: Option<Vec<String>>) -> Self {
        self.envs = envs;
        self
    }

    /// The same configuration with [`SandboxConfig::component`] set.
    #[must_use]
    pub fn with_component(mut self, component: ComponentCredentials) -> Self {
        self.component = component;
        self
    }

    /// The same configuration with [`SandboxConfig::token_ttl`] set.
    #[must_use]
    pub fn with_token_ttl(mut self, token_ttl: Duration) -> Self {
        self.token_ttl = token_ttl;
        self
    }

    /// The same configuration with [`SandboxConfig::faults`] set.
    #[must_use]
    pub fn with_faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// The same configuration with [`SandboxConfig::max_connections`] set.
    #[must_use]
    pub fn with_max_connections(mut self, max_connections: usize) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// The same configuration with [`SandboxConfig::idle_timeout`] set.
    #[must_use]
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }
}

/// The default of [`SandboxConfig::max_connections`]: 1024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The default of [`SandboxConfig::idle_timeout`]: 30 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed_example: true,
            shared: Vec::new(),
            seed_file: None,
            state_file: None,
            access_tokens: vec![SANDBOX_ACCESS_TOKEN.into()],
            no_qbase_envs: Vec::new(),
            envs: None,
            auto_confirm: false,
            component: ComponentCredentials::default(),
            token_ttl: Duration::from_secs(7200),
            faults: FaultPlan::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// The sandbox's mutable state, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// What is shared, each pair under its `source_type`.
    pub(crate) shared: BTreeSet<Pair>,
    /// Confirmation tickets not used yet, each with the pairs it shares when its URL is opened
    /// (those of one appid, from one `shareCloudbaseEnv` request).
    pub(crate) tickets: HashMap<String, Vec<Pair>>,
    /// The envs that exist; `None`: every env exists.
    pub(crate) envs: Option<BTreeSet<String>>,
    pub(crate) static_tokens: BTreeSet<String>,
    pub(crate) issued: HashMap<String, Instant>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub(crate) config: SandboxConfig,
    /// `http://127.0.0.1:PORT`.
    base_url: String,
    requests: AtomicU64,
    /// The state database and its writer, with [`SandboxConfig::state_file`].
    store: Option<store::Store>,
}

impl Inner {
    /// Whether `env` exists (see [`SandboxConfig::envs`]).
    pub(crate) fn env_exists(&self, env: &str) -> bool {
        self.envs.as_ref().is_none_or(|envs| envs.contains(env))
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The URL that confirms the pairs of `ticket`.
    pub(crate) fn confirmation_url(&self, ticket: &str) -> String {
        format!("{}/sandbox/confirm/{ticket}", self.base_url)
    }

    /// Makes `change`: with a state database, once its transaction has committed (and not at
    /// all if it fails); without one, in memory at once.
    pub(crate) async fn change(&self, change: store::Change) -> Result<store::Applied, store::SaveError> {
        match &self.store {
            Some(store) => store.change(change).await,
            None => Ok(store::apply(&mut self.lock().shared, change)),
        }
    }

    /// [`Shared::change`], blocking the calling thread until it is saved.
    fn change_blocking(&self, change: store::Change) -> Result<store::Applied, store::SaveError> {
        match &self.store {
            Some(store) => store.change_blocking(change),
            None => Ok(store::apply(&mut self.lock().shared, change)),
        }
    }
}

/// The shared pairs a state database holds (see [`SandboxConfig::state_file`]), as the JSON a
/// seed file takes ([`SandboxConfig::seed_file`]):
/// `{"shared": [{"env": "…", "appid": "…", "source_type": 1}]}`, sorted, with a final newline.
/// No pair is changed; opening a database that a killed sandbox left behind lets redb finish its
/// repair, which writes to the file.
///
/// # Errors
/// An I/O error naming `path` when it does not exist, is not a sandbox state database, or is open
/// in a running sandbox (`WouldBlock`: a state database has one process at a time).
pub fn export_state(path: &Path) -> std::io::Result<String> {
    Ok(state::to_json(&store::read(path)?))
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
    /// The I/O error when the address cannot be bound, the seed file cannot be read, or the
    /// state file cannot be created, opened, locked (another sandbox has it: `WouldBlock`) or
    /// written, its message naming the path and the reason; `InvalidInput` for an invalid fault
    /// plan, token TTL, `max_connections` (0 or more than tokio's `Semaphore::MAX_PERMITS`) or
    /// `idle_timeout` (zero).
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
        config.faults.validate().map_err(invalid)?;
        if config.token_ttl > MAX_TOKEN_TTL {
            return Err(invalid(format!(
                "the token TTL must be at most {} seconds",
                MAX_TOKEN_TTL.as_secs()
            )));
        }
        if !(1..=tokio::sync::Semaphore::MAX_PERMITS).contains(&config.max_connections) {
            return Err(invalid(format!(
                "max_connections must be between 1 and {}, not {}",
                tokio::sync::Semaphore::MAX_PERMITS,
                config.max_connections
            )));
        }
        if config.idle_timeout.is_zero() {
            return Err(invalid("the idle timeout must be more than zero".to_owned()));
        }
        let mut seeds: std::collections::BTreeSet<Pair> = match &config.seed_file {
            Some(path) => state::load_seed_file(path)?,
            None => Default::default(),
        };
        let example = if config.seed_example { EXAMPLE_PAIRS } else { &[] };
        let example = example.iter().map(|(env, appid)| (*env, *appid));
        let more = config.shared.iter().map(|(env, appid)| (env.as_str(), appid.as_str()));
        seeds.extend(example.chain(more).map(|(env, appid)| Pair::new(CLOUDRUN, env, appid)));
        let mut inner = Inner::default();
        let db = match &config.state_file {
            Some(path) => {
                let (db, pairs) = store::open(path, || seeds)?;
                inner.shared = pairs;
                Some((db, path.clone()))
            }
            None => {
                inner.shared = seeds;
                None
            }
        };
        inner.envs = config.envs.as_ref().map(|envs| {
            envs.iter().cloned().chain(inner.shared.iter().map(|pair| pair.env.clone())).collect()
        });
        inner.static_tokens.extend(config.access_tokens.iter().cloned());
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let mut spawn_error = None;
        let shared = Arc::new_cyclic(|weak| Shared {
            inner: Mutex::new(inner),
            config,
            base_url: format!("http://{addr}"),
            requests: AtomicU64::new(0),
            store: db.and_then(|(db, path)| {
                store::Store::spawn(db, path, weak.clone()).map_err(|e| spawn_error = Some(e)).ok()
            }),
        });
        if let Some(error) = spawn_error {
            return Err(error);
        }
        let router = Router::new()
            .route("/componenttcb/batchshareenv", any(api::share))
            .route("/componenttcb/batchunshareenv", any(api::unshare))
            .route("/componenttcb/batchgetenvid", any(api::get_share))
            .route("/cgi-bin/component/api_component_token", any(api::component_token))
            .route(CONFIRM_ROUTE, any(api::confirm))
            .fallback(api::not_found)
            .layer(axum::middleware::from_fn_with_state(shared.clone(), faults_and_log))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router, stopped, shared.clone()));
        Ok(Self { addr, shared, stop: Some(stop), task: Some(task) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, to use as a client's base URL.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// How many requests it has received, on any path.
    pub fn requests_received(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Whether `env` is shared with `appid` now under `source_type` 1 (CloudRun, the
    /// `source_type` of WeChat's pages); see [`Sandbox::is_shared_under`] for another.
    pub fn is_shared(&self, env: &str, appid: &str) -> bool {
        self.is_shared_under(CLOUDRUN, env, appid)
    }

    /// Whether `env` is shared with `appid` now under `source_type` (each `source_type` has its
    /// own pairs: a pair shared under 1 is not shared under 0).
    pub fn is_shared_under(&self, source_type: i32, env: &str, appid: &str) -> bool {
        self.shared.lock().shared.contains(&Pair::new(source_type, env, appid))
    }

    /// Every (env, appid) pair shared under `source_type` 1, sorted.
    pub fn shared_pairs(&self) -> Vec<(String, String)> {
        self.shared_pairs_under(CLOUDRUN)
    }

    /// Every (env, appid) pair shared under `source_type`, sorted.
    pub fn shared_pairs_under(&self, source_type: i32) -> Vec<(String, String)> {
        let state = self.shared.lock();
        let pairs = state.shared.iter().filter(|pair| pair.source_type == source_type);
        pairs.map(|pair| (pair.env.clone(), pair.appid.clone())).collect()
    }

    /// Shares `env` with `appid` under `source_type` 1; with a state file, returns once it is
    /// saved.
    ///
    /// # Panics
    /// When the state file cannot be saved (the pair is then not shared).
    pub fn share(&self, env: &str, appid: &str) {
        self.share_under(CLOUDRUN, env, appid);
    }

    /// Shares `env` with `appid` under `source_type`; with a state file, returns once it is saved.
    ///
    /// # Panics
    /// When the state file cannot be saved (the pair is then not shared).
    pub fn share_under(&self, source_type: i32, env: &str, appid: &str) {
        if let Some(envs) = &mut self.shared.lock().envs {
            envs.insert(env.to_owned());
        }
        let change = store::Change::Share(vec![Pair::new(source_type, env, appid)]);
        if let Err(error) = self.shared.change_blocking(change) {
            panic!("cannot share `{env}` with `{appid}`: {error}");
        }
    }

    /// Every share waiting for its confirmation: each pair of each confirmation URL not opened
    /// yet that is not shared now, sorted. A pair requested again before its confirmation is
    /// listed once per URL.
    pub fn pending_shares(&self) -> Vec<PendingShare> {
        let state = self.shared.lock();
        let mut pending: Vec<PendingShare> = state
            .tickets
            .iter()
            .flat_map(|(ticket, pairs)| pairs.iter().map(move |pair| (ticket, pair)))
            .filter(|(_, pair)| !state.shared.contains(pair))
            .map(|(ticket, pair)| PendingShare {
                source_type: pair.source_type,
                env: pair.env.clone(),
                appid: pair.appid.clone(),
                url: self.shared.confirmation_url(ticket),
            })
            .collect();
        pending.sort();
        pending
    }

    /// Confirms every share waiting for its confirmation, as if each confirmation URL not opened
    /// yet were opened now (with a state file, returns once they are saved); those URLs are then
    /// used (404). Returns how many pairs became shared.
    ///
    /// # Panics
    /// When the state file cannot be saved (the shares then stay pending, their URLs valid).
    pub fn confirm_pending(&self) -> usize {
        let tickets: Vec<(String, Vec<Pair>)> = self.shared.lock().tickets.drain().collect();
        let pairs: std::collections::BTreeSet<Pair> =
            tickets.iter().flat_map(|(_, pairs)| pairs.iter().cloned()).collect();
        match self.shared.change_blocking(store::Change::Share(pairs.into_iter().collect())) {
            Ok(applied) => applied.into_iter().filter(|added| *added).count(),
            Err(error) => {
                self.shared.lock().tickets.extend(tickets);
                panic!("cannot confirm the pending shares: {error}");
            }
        }
    }

    /// A test hook: while `fail` is true, every change of the state database fails as if its
    /// disk failed (the transaction is aborted, nothing changes, the request is answered
    /// `errcode` -1000, a confirmation page 500). No effect without a state file.
    #[doc(hidden)]
    pub fn fail_saves(&self, fail: bool) {
        if let Some(store) = &self.shared.store {
            store.fail_commits.store(fail, Ordering::SeqCst);
        }
    }

    /// Makes every token issued by `getComponentAccessToken` so far expired (answered 42001),
    /// as if its `expires_in` had passed.
    pub fn expire_issued_tokens(&self) {
        let now = Instant::now();
        for expiry in self.shared.lock().issued.values_mut() {
            *expiry = now;
        }
    }

    /// Stops serving, waits for the server task to end, then closes the state database (if
    /// any; every change answered is already saved), so another sandbox can open it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(store) = &self.shared.store {
            store.close_and_wait().await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(store) = &self.shared.store {
            store.close();
        }
    }
}

/// Asks the connection task to reset its connection (see [`Fault::Reset`]).
#[derive(Debug, Clone)]
struct ResetHandle(Arc<tokio::sync::Notify>);

/// Accepts connections until `stopped`, serving each with HTTP/1.1 and keep-alive, at most
/// [`SandboxConfig::max_connections`] at once. Waits when `accept()` fails (see [`accept`]).
async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
    shared: Arc<Shared>,
) {
    let mut connections = tokio::task::JoinSet::new();
    // Waiting for a slot before accepting, rather than accepting and closing at once: a
    // connection over the cap waits in the kernel's backlog and is served when a slot frees (a
    // CI job's burst is answered late, not refused), and no descriptor is spent on it meanwhile.
    let slots = Arc::new(tokio::sync::Semaphore::new(shared.config.max_connections));
    let mut errors = accept::AcceptErrors::default();
    let idle_timeout = shared.config.idle_timeout;
    loop {
        let slot = tokio::select! {
            _ = &mut stopped => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    errors.succeeded();
                    stream
                }
                Err(error) => {
                    let after = errors.failed(&error, Instant::now());
                    if let Some(suppressed) = after.warn {
                        tracing::warn!(
                            %error,
                            "accept failed; retrying in {} ms ({suppressed} more failures since the last warning)",
                            after.wait.as_millis()
                        );
                    }
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = tokio::time::sleep(after.wait) => continue,
                    }
                }
            },
        };
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(stream, router.clone(), idle_timeout, slot));
    }
    connections.shutdown().await;
    // Nothing to save: every change answered is committed already (see `Sandbox::shutdown`).
    drop(shared);
}

/// Serves one connection until it closes, holding `_slot` (one of
/// [`SandboxConfig::max_connections`]) until then; closes it when it takes longer than
/// `idle_timeout` to send a request head.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    idle_timeout: Duration,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    use std::os::fd::AsFd;
    let reset = ResetHandle(Arc::new(tokio::sync::Notify::new()));
    // A second handle on the socket, to set SO_LINGER 0 before closing it for a reset.
    let socket = stream.as_fd().try_clone_to_owned().ok();
    let service = {
        let reset = reset.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(reset.clone());
            router.clone().oneshot(request.map(Body::new))
        })
    };
    // hyper starts the header timer when it waits for a request head: at the start and after
    // each answer, so it is also the keep-alive idle timeout.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = reset.0.notified() => {
            if let Some(socket) = &socket {
                let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
            }
        }
    }
}

/// Counts and logs each request (token redacted), and applies the fault plan.
async fn faults_and_log(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    let started = Instant::now();
    let method = request.method().clone();
    let path = redact::redact_path(request.uri().path(), &shared.config.access_tokens);
    let query = redact::redact_query(request.uri().query(), &shared.config.access_tokens);
    let plan = &shared.config.faults;
    // The confirmation page is the admin's, not the API: no faults there.
    let api = !path.starts_with("/sandbox/");
    let fault = plan.fault_for(n).filter(|_| api);
    if api && !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let response = match fault {
        Some(Fault::Busy) => Refusal::new(-1, "system error").into_response(),
        Some(Fault::SystemError) => Refusal::new(-1000, "system error").into_response(),
        Some(Fault::Gateway(status)) => gateway_page(status),
        Some(Fault::Reset) => {
            tracing::info!(target: "wechat_cloudbase_sandbox", "{method} {path}{query} -> connection reset (fault)");
            if let Some(reset) = request.extensions().get::<ResetHandle>() {
                reset.0.notify_one();
            }
            // The connection is dropped; this answer is never sent.
            return std::future::pending().await;
        }
        Some(Fault::Stall) => stall(next.run(request).await, plan.stall_for).await,
        Some(Fault::TextPlain) => {
            let mut response = next.run(request).await;
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        None => next.run(request).await,
    };
    let errcode = response.extensions().get::<extract::AnsweredErrcode>().map(|e| e.0);
    tracing::info!(
        target: "wechat_cloudbase_sandbox",
        "{method} {path}{query} -> {} errcode={} fault={} {}ms",
        response.status().as_u16(),
        errcode.map_or("-".to_owned(), |c| c.to_string()),
        fault.map_or("none".to_owned(), |f| format!("{f:?}")),
        started.elapsed().as_millis()
    );
    response
}

/// What a gateway in front of WeChat answers when the backend is unavailable.
fn gateway_page(status: u16) -> Response {
    let reason = match status {
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        _ => "Gateway Time-out",
    };
    let page = format!(
        "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center></body></html>"
    );
    let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
    (status, [(axum::http::header::CONTENT_TYPE, "text/html")], page).into_response()
}

/// The same answer, whose body arrives only after `wait`.
async fn stall(response: Response, wait: Duration) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let delayed = futures_util::stream::once(async move {
        tokio::time::sleep(wait).await;
        Ok::<_, std::io::Error>(bytes)
    });
    let mut response = Response::from_parts(parts, Body::from_stream(delayed));
    response.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    response
}
