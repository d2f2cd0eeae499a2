//! Helpers for the end-to-end tests: a scripted HTTP server on 127.0.0.1, the recorded response
//! cases of `tests/data/cases/`, and a runner for the `wechat-cloudbase` binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_owned()
}

/// One answer the scripted server gives.
#[derive(Debug, Clone, Deserialize)]
pub struct ScriptedResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers to send.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body as UTF-8 text.
    #[serde(default)]
    pub body: Option<String>,
    /// The body as base64 bytes (wins over `body`).
    #[serde(default)]
    pub body_b64: Option<String>,
    /// Send the body in small chunks without a `Content-Length`.
    #[serde(default)]
    pub chunked: bool,
    /// Wait this many seconds before answering.
    #[serde(default)]
    pub delay_s: Option<f64>,
}

impl ScriptedResponse {
    /// A 200 answer with a JSON body.
    pub fn json(body: &str) -> Self {
        Self {
            status: 200,
            headers: [("Content-Type".to_owned(), "application/json".to_owned())].into(),
            body: Some(body.to_owned()),
            body_b64: None,
            chunked: false,
            delay_s: None,
        }
    }

    /// An answer with any status, content type and body.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        use base64::Engine;
        Self {
            status,
            headers: [("Content-Type".to_owned(), content_type.to_owned())].into(),
            body: None,
            body_b64: Some(base64::engine::general_purpose::STANDARD.encode(body.into())),
            chunked: false,
            delay_s: None,
        }
    }

    /// The same answer, sent in chunks without a `Content-Length`.
    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    /// The same answer with a UTF-8 byte order mark before its body.
    pub fn with_bom(mut self) -> Self {
        use base64::Engine;
        let body = [b"\xEF\xBB\xBF".as_slice(), &self.body_bytes()].concat();
        self.body = None;
        self.body_b64 = Some(base64::engine::general_purpose::STANDARD.encode(body));
        self
    }

    /// The same answer in the four ways a body can arrive here: as it is, after a byte order
    /// mark, in chunks, and both; each with a label.
    pub fn every_delivery(self) -> Vec<(&'static str, Self)> {
        vec![
            ("plain", self.clone()),
            ("bom", self.clone().with_bom()),
            ("chunked", self.clone().chunked()),
            ("bom+chunked", self.with_bom().chunked()),
        ]
    }

    /// The same answer with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The body bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        match (&self.body_b64, &self.body) {
            (Some(b64), _) => {
                base64::engine::general_purpose::STANDARD.decode(b64).expect("valid base64 in a case")
            }
            (None, Some(text)) => text.as_bytes().to_vec(),
            (None, None) => Vec::new(),
        }
    }
}

/// A request the scripted server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// The raw query string.
    pub query: Option<String>,
    /// The headers.
    pub headers: axum::http::HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The client's address: the same for requests sent on one kept-alive connection.
    pub peer: SocketAddr,
}

#[derive(Debug)]
struct Script {
    responses: Vec<ScriptedResponse>,
    received: Mutex<Vec<RecordedRequest>>,
}

/// An HTTP server on 127.0.0.1 that answers the i-th request with `responses[i]` (the last one
/// repeating), and records what it received. Stops when dropped.
#[derive(Debug)]
pub struct ScriptedServer {
    addr: SocketAddr,
    script: Arc<Script>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl ScriptedServer {
    /// Starts serving `responses` on an ephemeral port of 127.0.0.1.
    pub async fn start(responses: Vec<ScriptedResponse>) -> Self {
        assert!(!responses.is_empty(), "a script needs at least one response");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let script = Arc::new(Script { responses, received: Mutex::new(Vec::new()) });
        let router = axum::Router::new().fallback(answer).with_state(script.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { addr, script, _stop: stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<RecordedRequest> {
        self.script.received.lock().unwrap().clone()
    }

    /// How many requests were received so far.
    pub fn count(&self) -> usize {
        self.script.received.lock().unwrap().len()
    }
}

async fn answer(
    State(script): State<Arc<Script>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let index = {
        let mut received = script.received.lock().unwrap();
        received.push(RecordedRequest { method, path: uri.path().to_owned(), query, headers, body, peer });
        received.len() - 1
    };
    let scripted = &script.responses[index.min(script.responses.len() - 1)];
    if let Some(seconds) = scripted.delay_s {
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    }
    let bytes = scripted.body_bytes();
    let body = if scripted.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(1024).map(|c| Ok(c.to_vec())).collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    } else {
        Body::from(bytes)
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(scripted.status).expect("valid status in a script");
    let headers: &mut HeaderMap = response.headers_mut();
    for (name, value) in &scripted.headers {
        headers.insert(
            HeaderName::try_from(name.as_str()).expect("valid header name"),
            HeaderValue::try_from(value.as_str()).expect("valid header value"),
        );
    }
    response
}

/// What a case asks to unshare.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseRequest {
    /// The env id.
    pub env: String,
    /// The appids.
    pub appids: Vec<String>,
}

/// The outcome a case must have through the CLI.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseExpect {
    /// The process exit code.
    pub exit: i32,
    /// The report's `kind`.
    pub kind: String,
    /// The report's `errcode`, when given.
    pub errcode: Option<i64>,
    /// The report's `rid`, when given.
    pub rid: Option<String>,
    /// The report's `http_status`, when given.
    pub http_status: Option<u16>,
    /// The length of the report's `err_list`, when given.
    pub err_list_len: Option<usize>,
    /// The length of the report's `unshared` (the pairs the answer proves unshared), when given.
    pub unshared_len: Option<usize>,
    /// Exactly how many requests the server sees.
    pub attempts: Option<usize>,
    /// At least this many.
    pub attempts_min: Option<usize>,
    /// At most this many.
    pub attempts_max: Option<usize>,
    /// The call must end within this many seconds (default 20).
    pub max_seconds: Option<u64>,
}

/// A recorded situation from `tests/data/cases/`.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// What it stands for.
    pub about: String,
    /// The `component_access_token` to use, when the case needs a particular one.
    #[serde(default)]
    pub token: Option<String>,
    /// The request.
    pub request: CaseRequest,
    /// The server's answers.
    pub responses: Vec<ScriptedResponse>,
    /// The expected outcome.
    pub expect: CaseExpect,
}

/// The folder of the recorded cases kept in this repository.
pub fn cases_dir() -> PathBuf {
    workspace_root().join("tests/data/cases")
}

/// Every case in `dir`, sorted by file name.
pub fn load_cases(dir: &Path) -> Vec<(PathBuf, Case)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read case");
            let case: Case = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not a case: {e}", path.display()));
            (path, case)
        })
        .collect()
}

/// The path of the `wechat-cloudbase` binary, built once per test process with the same
/// profile as the tests.
pub fn cli_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        escargot::CargoBuild::new()
            .manifest_path(workspace_root().join("Cargo.toml"))
            .package("wechat-cloudbase-cli")
            .bin("wechat-cloudbase")
            .current_release()
            .run()
            .expect("build the wechat-cloudbase binary")
            .path()
            .to_owned()
    })
    .clone()
}

/// What one run of the CLI produced.
#[derive(Debug)]
pub struct CliRun {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliRun {
    /// Stdout parsed as exactly one JSON object.
    pub fn json(&self) -> serde_json::Value {
        let value: serde_json::Value = serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {:?}", self.stdout));
        assert!(value.is_object(), "stdout is not a JSON object: {value}");
        value
    }
}

/// Runs the CLI with `args` and extra environment, no inherited WeChat variables, and a hard
/// limit of `limit` (the process is killed past it and the test fails).
pub async fn run_cli(args: &[&str], env: &[(&str, &str)], limit: Duration) -> CliRun {
    let mut command = tokio::process::Command::new(cli_path());
    command
        .args(args)
        .env_remove("WECHAT_COMPONENT_ACCESS_TOKEN")
        .env_remove("WECHAT_API_BASE_URL")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("`wechat-cloudbase {}` ran longer than {limit:?}", args.join(" ")))
        .expect("run wechat-cloudbase");
    CliRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// How a [`MutatingProxy`] changes each request before passing it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Remove the `access_token` query parameter.
    DropToken,
    /// Replace the token with one the server does not know.
    UnknownToken,
    /// Send no body.
    EmptyBody,
    /// Send a body that is not JSON.
    NotJson,
    /// Remove a top-level field of the JSON body.
    DropField(&'static str),
    /// Set `source_type` to this value.
    SourceType(i64),
    /// Use this method instead of POST.
    Method(Method),
}

#[derive(Debug)]
struct ProxyState {
    upstream: String,
    mutation: Mutation,
    http: reqwest::Client,
}

/// An HTTP proxy on 127.0.0.1 that applies a [`Mutation`] to every request and relays the
/// upstream's answer unchanged: it lets answers to requests no correct client sends (no token,
/// empty body, wrong method…) reach a correct client, such as the CLI.
#[derive(Debug)]
pub struct MutatingProxy {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl MutatingProxy {
    /// Starts a proxy to `upstream` (a base URL on 127.0.0.1).
    pub async fn start(upstream: String, mutation: Mutation) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(ProxyState { upstream, mutation, http: reqwest_client() });
        let router = axum::Router::new().fallback(relay).with_state(state);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { addr, _stop: stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn relay(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut query = query.unwrap_or_default();
    let mut body = body.to_vec();
    let mut method = method;
    match &state.mutation {
        Mutation::DropToken => query = String::new(),
        Mutation::UnknownToken => query = "access_token=not-a-token-the-server-knows".into(),
        Mutation::EmptyBody => body.clear(),
        Mutation::NotJson => body = b"{\"data\": [".to_vec(),
        Mutation::DropField(field) => {
            body = edit_json(&body, |object| {
                object.remove(*field);
            })
        }
        Mutation::SourceType(n) => {
            body = edit_json(&body, |object| {
                object.insert("source_type".into(), (*n).into());
            })
        }
        Mutation::Method(m) => method = m.clone(),
    }
    let url = format!("{}{}?{}", state.upstream, uri.path(), query);
    let answer = state
        .http
        .request(method, url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the upstream answers");
    let status = answer.status();
    let bytes = answer.bytes().await.expect("the upstream's body");
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn edit_json(body: &[u8], edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(body).expect("the client sent JSON");
    edit(value.as_object_mut().expect("the client sent an object"));
    serde_json::to_vec(&value).expect("JSON serialises")
}

/// A server on 127.0.0.1 that accepts connections and never answers. Returns its base URL and
/// the task holding the connections (aborting it closes them).
pub async fn stalling_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

/// A raw HTTP/1.1 server on 127.0.0.1 that answers every request with the bytes `reply` (status
/// line, headers and all, so it can lie about `Content-Length`), then closes the connection, or
/// holds it open when `hold`. Returns its base URL and a count of connections it accepted.
pub async fn raw_server(reply: &'static [u8], hold: bool) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    raw_server_bytes(reply.to_vec(), hold).await
}

/// [`raw_server`] with a reply built at run time, such as one that holds a gzip stream.
pub async fn raw_server_bytes(reply: Vec<u8>, hold: bool) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 8192];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(&reply).await;
            if hold {
                held.push(socket);
            }
        }
    });
    (url, accepted)
}

/// A client for `base_url` with `token` and 3 attempts 1 ms apart, so retry tests run fast.
pub fn fast_retrying_client(base_url: &str, token: &str) -> wechat_cloudbase::Client {
    wechat_cloudbase::Client::builder()
        .base_url(base_url)
        .access_token(wechat_cloudbase::AccessToken::new(token))
        .retry_policy(
            wechat_cloudbase::RetryPolicy::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .expect("a valid client")
}

/// The `wechat-cloudbase sandbox` binary running on its own, as other teams run it: started with
/// `--listen 127.0.0.1:0` and `args`, its stderr collected as it comes.
#[derive(Debug)]
pub struct StandaloneSandbox {
    /// The process; killed when dropped.
    pub child: tokio::process::Child,
    /// Its base URL, as it announced it (`http://127.0.0.1:PORT`).
    pub base_url: String,
    stderr: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl StandaloneSandbox {
    /// Starts it with `args` (on `--listen 127.0.0.1:0` unless they name an address), and waits
    /// for the line that announces its address.
    pub async fn start(args: &[&str]) -> Self {
        Self::start_with_log(args, None).await
    }

    /// [`StandaloneSandbox::start`], logging as `RUST_LOG` says when `rust_log` is given.
    pub async fn start_with_log(args: &[&str], rust_log: Option<&str>) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        let listen: &[&str] = if args.contains(&"--listen") { &[] } else { &["--listen", "127.0.0.1:0"] };
        let mut command = tokio::process::Command::new(cli_path());
        match rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command
            .arg("sandbox")
            .args(listen)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the CLI starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the sandbox announces its address in time")
            .expect("stdout is readable")
            .expect("a first line");
        let base_url = first.rsplit(' ').next().unwrap_or_default().to_owned();
        assert!(base_url.starts_with("http://127.0.0.1:"), "{first}");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut pipe, sink) = (child.stderr.take().expect("piped"), stderr.clone());
        let reader = tokio::spawn(async move {
            let mut buffer = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = pipe.read(&mut buffer).await {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Self { child, base_url, stderr, reader }
    }

    /// Its `host:port`.
    pub fn addr(&self) -> &str {
        self.base_url.trim_start_matches("http://")
    }

    /// Everything it has logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Kills it with SIGKILL: it saves nothing on the way out.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("the sandbox can be killed");
    }

    /// Sends SIGTERM; its exit code and everything it logged, once it has exited.
    pub async fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().expect("still running").to_string();
        let status = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.unwrap().unwrap();
        // The pipe closes when it exits: the reader has every line once it ends.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        (exit.code(), self.stderr())
    }
}

/// A `reqwest::ClientBuilder` as a user of the SDK starts one: with the TLS of the SDK's features
/// (`wechat_cloudbase::http_client_builder`). With the default `rustls` feature (ring), reqwest has
/// no crypto provider of its own, so `reqwest::Client::new()` would panic.
pub fn reqwest_builder() -> reqwest::ClientBuilder {
    wechat_cloudbase::http_client_builder().expect("TLS can be set up")
}

/// [`reqwest_builder`], built.
pub fn reqwest_client() -> reqwest::Client {
    reqwest_builder().build().expect("a reqwest client")
}
