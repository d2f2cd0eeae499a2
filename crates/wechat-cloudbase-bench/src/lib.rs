//! Shared pieces of the benchmarks: a minimal HTTP server that answers every request with fixed
//! bytes, the hand-written baseline a user would write without this SDK, and a raw hyper client.
//!
//! Everything runs on 127.0.0.1 only.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};

/// The answer the minimal server sends: WeChat's plain success.
pub const OK_BODY: &[u8] = br#"{"errcode":0,"errmsg":"ok","err_list":[]}"#;

/// The token the benchmarks send (to the minimal server, which ignores it, or to the sandbox).
pub const TOKEN: &str = wechat_cloudbase_sandbox::SANDBOX_ACCESS_TOKEN;

/// The unshare path.
pub const PATH: &str = "/componenttcb/batchunshareenv";

/// Starts a minimal hyper HTTP/1.1 server on 127.0.0.1 that answers every request with `body`
/// (as `application/json`) after reading the request body, with keep-alive. Returns its address.
pub async fn fixed_server(body: &'static [u8]) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        let mut response = hyper::Response::new(Full::new(Bytes::from_static(body)));
                        response.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// The request body as a user would model it by hand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlainRequest {
    /// Environments and appids.
    pub data: Vec<PlainEnvAppids>,
    /// Always 1.
    pub source_type: i32,
}

/// One entry of [`PlainRequest::data`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlainEnvAppids {
    /// The environment id.
    pub env: String,
    /// The appids.
    pub appids: Vec<String>,
}

/// The answer as a user would model it by hand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlainResponse {
    /// WeChat's errcode.
    pub errcode: i64,
    /// WeChat's errmsg.
    #[serde(default)]
    pub errmsg: String,
    /// Pairs that could not be unshared.
    #[serde(default)]
    pub err_list: Vec<PlainFailure>,
}

/// One entry of [`PlainResponse::err_list`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlainFailure {
    /// The environment id.
    pub env: Option<String>,
    /// The appid.
    pub appid: Option<String>,
    /// Why.
    pub errmsg: Option<String>,
}

/// The README's main job: one environment, two appids, as the SDK's request and as the
/// hand-written one.
pub fn sample_request() -> (wechat_cloudbase::UnshareRequest, PlainRequest) {
    const ENV: &str = "test-env-6gni9ity244a6ea3";
    const APPIDS: [&str; 2] = ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"];
    let plain = PlainRequest {
        data: vec![PlainEnvAppids {
            env: ENV.into(),
            appids: APPIDS.iter().map(|a| a.to_string()).collect(),
        }],
        source_type: 1,
    };
    (wechat_cloudbase::UnshareRequest::new().env(ENV, APPIDS), plain)
}

/// A request of `envs` environments with `appids_per_env` appids each, as the SDK's type and as
/// the hand-written one.
pub fn batch(envs: usize, appids_per_env: usize) -> (wechat_cloudbase::UnshareRequest, PlainRequest) {
    let mut ours = wechat_cloudbase::UnshareRequest::new();
    let mut plain = PlainRequest { data: Vec::with_capacity(envs), source_type: 1 };
    for e in 0..envs {
        let env = format!("env-{e:06}");
        let appids: Vec<String> = (0..appids_per_env).map(|a| format!("wx{a:016x}")).collect();
        ours = ours.env(env.clone(), appids.clone());
        plain.data.push(PlainEnvAppids { env, appids });
    }
    (ours, plain)
}

/// The ids of a batch as an application holds them before building a request.
pub type RawBatch = Vec<(String, Vec<String>)>;

/// The raw ids of [`batch`].
pub fn raw_batch(envs: usize, appids_per_env: usize) -> RawBatch {
    (0..envs)
        .map(|e| (format!("env-{e:06}"), (0..appids_per_env).map(|a| format!("wx{a:016x}")).collect()))
        .collect()
}

/// Builds the SDK's request from raw ids (each id checked and copied once) and encodes it.
pub fn build_and_encode_ours(raw: &RawBatch) -> Vec<u8> {
    let mut request = wechat_cloudbase::UnshareRequest::new();
    for (env, appids) in raw {
        request = request.env(env.as_str(), appids.iter().map(String::as_str));
    }
    wechat_cloudbase::__private::encode_unshare_request(&request).expect("valid")
}

/// Builds the hand-written request from raw ids (each id copied once) and encodes it.
pub fn build_and_encode_plain(raw: &RawBatch) -> Vec<u8> {
    let request = PlainRequest {
        data: raw
            .iter()
            .map(|(env, appids)| PlainEnvAppids { env: env.clone(), appids: appids.clone() })
            .collect(),
        source_type: 1,
    };
    serde_json::to_vec(&request).expect("serialises")
}

/// An answer with every pair of `request` in `err_list`: the largest answer for that request.
pub fn all_failed_answer(request: &PlainRequest) -> Vec<u8> {
    let err_list: Vec<PlainFailure> = request
        .data
        .iter()
        .flat_map(|e| {
            e.appids.iter().map(|a| PlainFailure {
                env: Some(e.env.clone()),
                appid: Some(a.clone()),
                errmsg: Some("env is not shared with appid".into()),
            })
        })
        .collect();
    serde_json::to_vec(&PlainResponse { errcode: 0, errmsg: "ok".into(), err_list }).expect("serialises")
}

/// What a user writes without the SDK: POST the JSON with reqwest, decode the answer with serde.
pub async fn plain_reqwest_call(http: &reqwest::Client, url: &str, body: &PlainRequest) -> PlainResponse {
    let bytes = serde_json::to_vec(body).expect("serialises");
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .expect("the server answers")
        .bytes()
        .await
        .expect("the body arrives");
    serde_json::from_slice(&answer).expect("the answer decodes")
}

/// A raw hyper HTTP/1.1 client with a connection pool: the floor for any Rust HTTP client.
pub type RawClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// A [`RawClient`].
pub fn raw_client() -> RawClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// The same exchange as [`plain_reqwest_call`], on a raw hyper client.
pub async fn raw_hyper_call(client: &RawClient, uri: &hyper::Uri, body: &PlainRequest) -> PlainResponse {
    let bytes = Bytes::from(serde_json::to_vec(body).expect("serialises"));
    let request = hyper::Request::post(uri.clone())
        .header("content-type", "application/json")
        .body(Full::new(bytes))
        .expect("a valid request");
    let response = client.request(request).await.expect("the server answers");
    let answer = response.into_body().collect().await.expect("the body arrives").to_bytes();
    serde_json::from_slice(&answer).expect("the answer decodes")
}

/// The number of open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// A field of `/proc/<pid>/status` in kB, e.g. `VmRSS` or `VmHWM`.
pub fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
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
