//! The sandbox as a product: standalone and in process, every documented errcode reachable
//! through the SDK, state that survives restarts, and deterministic faults. The tests at the end
//! call it with raw HTTP (reqwest and JSON), as a client in any language would.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use integration_tests::{MutatingProxy, Mutation, StandaloneSandbox, cli_path, run_cli};
use wechat_cloudbase::{
    AccessToken, BatchOutcome, Client, ComponentTokenProvider, Error, ErrorCode, RetryPolicy, TokenProvider,
    TransportErrorKind, UnshareRequest, VerifyTicket, VerifyTicketStore,
};
use wechat_cloudbase_sandbox::{
    FaultPlan, SANDBOX_ACCESS_TOKEN, SANDBOX_COMPONENT_APPID, SANDBOX_COMPONENT_APPSECRET,
    SANDBOX_VERIFY_TICKET, Sandbox, SandboxConfig,
};

const ENV: &str = "test-env-6gni9ity244a6ea3";
const APPID: &str = "wx5fe6bb43205e9e07";

fn no_retries() -> RetryPolicy {
    RetryPolicy::none()
}

fn client_for(base_url: &str, token: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(base_url)
        .access_token(AccessToken::new(token))
        .retry_policy(retry)
        .build()
        .unwrap()
}

fn sample() -> UnshareRequest {
    UnshareRequest::new().env(ENV, [APPID])
}

async fn sandbox(faults: FaultPlan) -> Sandbox {
    Sandbox::start(SandboxConfig::default().with_faults(faults)).await.unwrap()
}

#[tokio::test]
async fn every_documented_errcode_is_reachable_and_reaches_the_sdk_typed() {
    let mut seen = std::collections::BTreeSet::new();

    // 0
    let plain = sandbox(FaultPlan::default()).await;
    client_for(&plain.base_url(), SANDBOX_ACCESS_TOKEN, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap();
    seen.insert(0);

    // -1 and -1000, from fault plans.
    for (plan, code) in [
        (FaultPlan::default().with_busy(1.0), ErrorCode::SystemBusy),
        (FaultPlan::default().with_system_error(1.0), ErrorCode::SystemError),
    ] {
        let faulty = sandbox(plan).await;
        let error = client_for(&faulty.base_url(), SANDBOX_ACCESS_TOKEN, no_retries())
            .unshare_cloudbase_env(&sample())
            .await
            .and_then(BatchOutcome::into_result)
            .unwrap_err();
        assert!(matches!(error, Error::Api(ref api) if api.code == code), "{error:?}");
        assert!(error.rid().is_some());
        seen.insert(code.code());
    }

    // Requests no correct client sends, altered on their way by a proxy.
    let target = sandbox(FaultPlan::default()).await;
    for (mutation, code) in [
        (Mutation::DropToken, ErrorCode::AccessTokenMissing),
        (Mutation::UnknownToken, ErrorCode::InvalidAccessToken),
        (Mutation::EmptyBody, ErrorCode::EmptyPostData),
        (Mutation::NotJson, ErrorCode::DataFormatError),
        (Mutation::DropField("data"), ErrorCode::MissingParameter),
        (Mutation::SourceType(3), ErrorCode::InvalidArgs),
        (Mutation::Method(Method::GET), ErrorCode::RequirePostMethod),
    ] {
        let proxy = MutatingProxy::start(target.base_url(), mutation.clone()).await;
        let error = client_for(&proxy.base_url(), SANDBOX_ACCESS_TOKEN, RetryPolicy::default())
            .unshare_cloudbase_env(&sample())
            .await
            .and_then(BatchOutcome::into_result)
            .unwrap_err();
        assert!(matches!(error, Error::Api(ref api) if api.code == code), "{mutation:?}: {error:?}");
        assert_eq!(error.attempts(), 1, "{mutation:?} is not retried");
        seen.insert(code.code());
    }
    assert!(target.is_shared(ENV, APPID), "no refused request changed anything");

    // 42001: an issued token that has expired, sent by a client that cannot renew it.
    let tickets = Arc::new(VerifyTicketStore::new());
    tickets.set(VerifyTicket::new(SANDBOX_VERIFY_TICKET));
    let provider =
        ComponentTokenProvider::builder(SANDBOX_COMPONENT_APPID, SANDBOX_COMPONENT_APPSECRET, tickets)
            .base_url(target.base_url())
            .build()
            .unwrap();
    let issued = provider.access_token().await.unwrap();
    target.expire_issued_tokens();
    let error = Client::new(&target.base_url(), issued)
        .unwrap()
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(matches!(error, Error::Api(ref api) if api.code == ErrorCode::AccessTokenExpired), "{error:?}");
    seen.insert(42001);

    // 85088
    let no_qbase =
        Sandbox::start(SandboxConfig::default().with_no_qbase_envs(vec![ENV.into()])).await.unwrap();
    let error = client_for(&no_qbase.base_url(), SANDBOX_ACCESS_TOKEN, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(matches!(error, Error::Api(ref api) if api.code == ErrorCode::NoQbasePrivilege), "{error:?}");
    seen.insert(85088);

    use wechat_cloudbase::openapi::Operation;
    let documented: std::collections::BTreeSet<i64> =
        wechat_cloudbase::openapi::operations::UnshareCloudbaseEnv::ERRCODES.iter().copied().collect();
    assert_eq!(seen, documented, "every documented errcode was produced");
}

/// The outcome of one raw request, as a comparable value.
async fn outcome(http: &reqwest::Client, base_url: &str) -> String {
    let url = format!("{base_url}/componenttcb/batchunshareenv?access_token={SANDBOX_ACCESS_TOKEN}");
    let body = r#"{"data":[{"env":"e","appids":["wx1"]}],"source_type":1}"#;
    match http.post(url).body(body).send().await {
        Err(_) => "reset".into(),
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
            let Ok(text) = response.text().await else {
                return format!("{status} {content_type:?} stalled after the headers");
            };
            let errcode = serde_json::from_str::<serde_json::Value>(&text).ok().map(|v| v["errcode"].clone());
            format!("{status} {content_type:?} {errcode:?}")
        }
    }
}

#[tokio::test]
async fn fault_plans_replay_identically_for_a_seed() {
    let plan: FaultPlan =
        "busy=0.2,system-error=0.1,gateway=0.2,reset=0.1,stall=0.1,text-plain=0.2,stall-ms=2000,seed=11"
            .parse()
            .unwrap();
    let http = integration_tests::reqwest_builder().timeout(Duration::from_millis(500)).build().unwrap();
    let mut runs = Vec::new();
    for seed in [11, 11, 12] {
        let sandbox = sandbox(plan.clone().with_seed(seed)).await;
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            outcomes.push(outcome(&http, &sandbox.base_url()).await);
        }
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1], "the same seed replays the same faults");
    assert_ne!(runs[0], runs[2], "another seed gives other faults");
    for kind in ["reset", "stalled", "502", "503", "504", "text/plain", "Number(-1)", "Number(-1000)"] {
        assert!(runs[0].iter().any(|o| o.contains(kind)), "{kind} appears in {:#?}", runs[0]);
    }
}

#[tokio::test]
async fn the_sdk_rides_through_a_thirty_percent_busy_rate() {
    let n = 200;
    let shared = (0..n).map(|i| ("env-busy".to_owned(), format!("wx{i:016}"))).collect();
    let sandbox = Sandbox::start(
        SandboxConfig::default()
            .with_shared(shared)
            .with_seed_example(false)
            .with_faults(FaultPlan::busy(0.3, 2024)),
    )
    .await
    .unwrap();
    let retry = RetryPolicy::default()
        .with_max_attempts(8)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(4));
    let client = client_for(&sandbox.base_url(), SANDBOX_ACCESS_TOKEN, retry);
    let mut retried = 0;
    for i in 0..n {
        let unshared = client
            .unshare_cloudbase_env(&UnshareRequest::new().env("env-busy", [format!("wx{i:016}")]))
            .await
            .and_then(BatchOutcome::into_result)
            .unwrap();
        retried += u32::from(unshared.attempts > 1);
    }
    assert!(sandbox.shared_pairs().is_empty(), "every pair was unshared");
    assert!(retried > 20, "about 30% of calls needed a retry, {retried} did");
    assert!(sandbox.requests_received() > n, "busy answers were retried");
}

#[tokio::test]
async fn each_fault_reaches_the_sdk_as_its_own_kind_of_error() {
    // Gateway pages: HTTP errors, retried.
    let gateway = sandbox(FaultPlan::default().with_gateway(1.0)).await;
    let retry = RetryPolicy::default().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1));
    let error = client_for(&gateway.base_url(), SANDBOX_ACCESS_TOKEN, retry.clone())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(
        matches!(error, Error::Http(ref h) if (502..=504).contains(&h.status) && h.excerpt.contains("<html>")),
        "{error:?}"
    );
    assert_eq!(error.attempts(), 3);

    // Connection resets: transport errors, retried.
    let reset = sandbox(FaultPlan::default().with_reset(1.0)).await;
    let error = client_for(&reset.base_url(), SANDBOX_ACCESS_TOKEN, retry.clone())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert_eq!((error.attempts(), reset.requests_received()), (3, 3));

    // A stall after the headers: the request timeout ends it.
    let stall = sandbox("stall=1,stall-ms=10000".parse().unwrap()).await;
    let client = Client::builder()
        .base_url(stall.base_url())
        .access_token(AccessToken::new(SANDBOX_ACCESS_TOKEN))
        .request_timeout(Duration::from_millis(300))
        .retry_policy(no_retries())
        .build()
        .unwrap();
    let error =
        client.unshare_cloudbase_env(&sample()).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert!(matches!(error, Error::Transport(ref t) if t.kind == TransportErrorKind::Timeout), "{error:?}");

    // JSON labelled text/plain, and added latency: still a success.
    let odd = sandbox("text-plain=1,latency-ms=20".parse().unwrap()).await;
    client_for(&odd.base_url(), SANDBOX_ACCESS_TOKEN, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap();
}

#[tokio::test]
async fn state_survives_a_restart_in_process() {
    let dir = tempfile_dir();
    let path = dir.join("state.json");
    let config = SandboxConfig::default().with_state_file(Some(path.clone()));
    let first = Sandbox::start(config.clone()).await.unwrap();
    client_for(&first.base_url(), SANDBOX_ACCESS_TOKEN, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap();
    let remaining = first.shared_pairs();
    assert_eq!(remaining.len(), 1);
    first.shutdown().await;

    let second = Sandbox::start(config).await.unwrap();
    assert_eq!(second.shared_pairs(), remaining, "loaded from the file, not seeded again");
    let error = client_for(&second.base_url(), SANDBOX_ACCESS_TOKEN, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(matches!(error, Error::Partial(_)), "already unshared before the restart: {error:?}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wechat-cloudbase-test-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The standalone sandbox with `args` (which may name their own `--listen`).
async fn standalone(args: &[&str]) -> StandaloneSandbox {
    StandaloneSandbox::start(args).await
}

#[tokio::test]
async fn the_standalone_sandbox_persists_state_logs_requests_and_stops_cleanly_on_sigterm() {
    let dir = tempfile_dir();
    let state = dir.join("state.json");
    let state_arg = state.to_str().unwrap();
    let token = "operator-token-7c1d";
    let args = ["--listen", "127.0.0.1:0", "--state", state_arg, "--seed-example", "--access-token", token];

    let first = standalone(&args).await;
    client_for(&first.base_url, token, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap();
    let (code, log) = first.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("POST /componenttcb/batchunshareenv?access_token=<redacted> -> 200 errcode=0"),
        "{log}"
    );
    assert!(!log.contains(token), "the log redacts tokens: {log}");
    let saved = export(&state).await;
    assert_eq!(saved["shared"].as_array().unwrap().len(), 1, "{saved}");

    // --seed-example again: the existing database wins.
    let second = standalone(&args).await;
    let error = client_for(&second.base_url, token, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(matches!(error, Error::Partial(_)), "{error:?}");
    let (code, _) = second.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn the_standalone_sandbox_takes_a_fault_plan_and_refuses_bad_options() {
    let faulty = standalone(&["--listen", "127.0.0.1:0", "--faults", "busy=1,seed=3"]).await;
    let error = client_for(&faulty.base_url, SANDBOX_ACCESS_TOKEN, no_retries())
        .unshare_cloudbase_env(&sample())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert_eq!(error.errcode(), Some(-1));
    let (code, log) = faulty.terminate().await;
    assert_eq!(code, Some(0));
    assert!(log.contains("fault=Busy"), "{log}");

    for bad in [
        vec!["--listen", "0.0.0.0:0"],
        vec!["--listen", "127.0.0.1:0", "--faults", "busy=2"],
        vec!["--listen", "127.0.0.1:0", "--share", "no-colon"],
    ] {
        let output =
            tokio::process::Command::new(cli_path()).arg("sandbox").args(&bad).output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

// Raw HTTP: the sandbox as any language calls it.

const SHARE: &str = "/componenttcb/batchshareenv";
const UNSHARE: &str = "/componenttcb/batchunshareenv";
const GET_SHARE: &str = "/componenttcb/batchgetenvid";
const TOKEN: &str = "/cgi-bin/component/api_component_token";

/// A plain HTTP client of one sandbox.
struct Raw {
    http: reqwest::Client,
    base_url: String,
}

impl Raw {
    fn new(base_url: impl Into<String>) -> Self {
        Self { http: integration_tests::reqwest_client(), base_url: base_url.into() }
    }

    /// POSTs `body` to `path` with the sandbox's token; the JSON answer.
    async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let query = format!("access_token={SANDBOX_ACCESS_TOKEN}");
        self.send(Method::POST, path, &query, body.to_string()).await
    }

    /// GETs `url`: its status and text.
    async fn get(&self, url: &str) -> (u16, String) {
        let response = self.http.get(url).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The `env_list` of each appid under `source_type`, from getShareCloudbaseEnv.
    async fn envs_of(&self, appids: &[&str], source_type: i32) -> Vec<Vec<String>> {
        let answer =
            self.post(GET_SHARE, serde_json::json!({"appids": appids, "source_type": source_type})).await;
        assert_eq!(answer["errcode"], 0, "{answer}");
        let relation_data = answer["relation_data"].as_array().unwrap();
        relation_data.iter().map(|r| serde_json::from_value(r["env_list"].clone()).unwrap()).collect()
    }

    /// Sends `body` with `method` to `path?query`; the answer, which must be HTTP 200 JSON.
    async fn send(&self, method: Method, path: &str, query: &str, body: String) -> serde_json::Value {
        let url = format!("{}{path}?{query}", self.base_url);
        let response = self.http.request(method, url).body(body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// Asserts that `answer` is the one generic refusal body with `errcode`.
#[track_caller]
fn assert_refused(answer: &serde_json::Value, errcode: i64, context: &str) {
    assert_eq!(answer["errcode"], errcode, "{context}: {answer}");
    let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["errcode", "errmsg"], "{context}: one generic body: {answer}");
    assert!(answer["errmsg"].as_str().unwrap().contains(" rid: "), "{context}: {answer}");
}

#[tokio::test]
async fn every_operation_checks_in_wechats_order() {
    use serde_json::json;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let raw = Raw::new(sandbox.base_url());
    let token = format!("access_token={SANDBOX_ACCESS_TOKEN}");
    let operations = [
        (SHARE, json!({"data": [], "source_type": 1})),
        (UNSHARE, json!({"data": [], "source_type": 1})),
        (GET_SHARE, json!({"appids": [], "source_type": 1})),
    ];
    for (path, invalid) in operations {
        let cases = [
            (Method::GET, "", "", 43002),
            (Method::PUT, token.as_str(), "{}", 43002),
            (Method::POST, "", "{not json", 41001),
            (Method::POST, "access_token=", "{}", 41001),
            (Method::POST, "access_token=tok-unknown-5e1", "", 40014),
            (Method::POST, &token, "", 44002),
            (Method::POST, &token, " \r\n", 44002),
            (Method::POST, &token, "{not json", 47001),
            (Method::POST, &token, "[1]", 47001),
            (Method::POST, &token, "{}", 40101),
            (Method::POST, &token, r#"{"source_type": 1}"#, 40101),
            (Method::POST, &token, &invalid.to_string(), 40097),
        ];
        for (method, query, body, errcode) in cases {
            let context = format!("{method} {path}?{query} {body:?}");
            let answer = raw.send(method, path, query, body.to_owned()).await;
            assert_refused(&answer, errcode, &context);
        }
    }

    // A field missing anywhere is 40101, even after a field that is invalid.
    for path in [SHARE, UNSHARE] {
        let answer = raw.post(path, json!({"data": [5, {"appids": ["wx1"]}], "source_type": 2})).await;
        assert_refused(&answer, 40101, "nested missing field");
        assert!(answer["errmsg"].as_str().unwrap().starts_with("missing parameter data[1].env"), "{answer}");
    }
    let answer =
        raw.post(UNSHARE, json!({"data": [{"env": ENV, "appids": [APPID]}], "source_type": null})).await;
    assert_refused(&answer, 40101, "null source_type");
    let answer =
        raw.post(UNSHARE, json!({"data": [{"env": ENV, "appids": [APPID, ""]}], "source_type": 1})).await;
    assert_refused(&answer, 40097, "empty appid");
    assert!(answer["errmsg"].as_str().unwrap().starts_with("invalid args data[0].appids[1]"), "{answer}");

    // The token operation needs no token, and checks the rest in the same order.
    assert_refused(&raw.send(Method::GET, TOKEN, "", String::new()).await, 43002, "token GET");
    assert_refused(&raw.send(Method::POST, TOKEN, "", String::new()).await, 44002, "token empty");
    assert_refused(&raw.send(Method::POST, TOKEN, "", "{}".into()).await, 40101, "token {}");
    let answer = raw
        .send(
            Method::POST,
            TOKEN,
            "",
            json!({"component_appid": "", "component_appsecret": "s", "component_verify_ticket": "t"})
                .to_string(),
        )
        .await;
    assert_refused(&answer, 40097, "token empty appid");

    // The body is judged by its bytes, whatever its Content-Type.
    let url = format!("{}{GET_SHARE}?{token}", sandbox.base_url());
    let body = json!({"appids": [APPID], "source_type": 1}).to_string();
    let answer: serde_json::Value = raw
        .http
        .post(url)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert!(sandbox.is_shared(ENV, APPID), "no refused request changed anything");
    assert!(sandbox.pending_shares().is_empty(), "nor shared anything");
}

#[tokio::test]
async fn each_source_type_has_its_own_pairs_and_another_is_refused() {
    use serde_json::json;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let raw = Raw::new(sandbox.base_url());
    sandbox.share_under(0, "env-cloudbase", APPID);
    let lookup = |source_type: i64| json!({"appids": [APPID], "source_type": source_type});
    let answer = raw.post(GET_SHARE, lookup(1)).await;
    assert_eq!(answer["relation_data"][0]["env_list"], json!([ENV]), "{answer}");
    let answer = raw.post(GET_SHARE, lookup(0)).await;
    assert_eq!(answer["relation_data"][0]["env_list"], json!(["env-cloudbase"]), "{answer}");

    // Unsharing under 0 leaves the pair shared under 1, and the other way round.
    let pair = |source_type: serde_json::Value| json!({"data": [{"env": ENV, "appids": [APPID]}], "source_type": source_type});
    let answer = raw.post(UNSHARE, pair(json!(0))).await;
    assert_eq!(answer["err_list"][0]["errmsg"], "env is not shared with appid", "{answer}");
    assert!(sandbox.is_shared(ENV, APPID));
    let answer = raw.post(UNSHARE, pair(json!(1))).await;
    assert_eq!(answer, json!({"errcode": 0, "errmsg": "ok"}));
    assert!(!sandbox.is_shared(ENV, APPID));
    assert_eq!(sandbox.shared_pairs_under(0), [("env-cloudbase".to_owned(), APPID.to_owned())]);

    // A share under 0, once confirmed, is shared under 0 only.
    let answer =
        raw.post(SHARE, json!({"data": [{"env": "env-0", "appids": [APPID]}], "source_type": 0})).await;
    let (status, _) = raw.get(answer["msg_info_list"][0]["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(sandbox.is_shared_under(0, "env-0", APPID) && !sandbox.is_shared("env-0", APPID));
    assert_eq!(raw.envs_of(&[APPID], 1).await, [Vec::<String>::new()]);
    assert_eq!(raw.envs_of(&[APPID], 0).await, [["env-0", "env-cloudbase"]]);

    for source_type in [json!(2), json!(-1), json!("1"), json!(1.5), json!(4_294_967_297_i64)] {
        for (path, body) in [
            (SHARE, pair(source_type.clone())),
            (UNSHARE, pair(source_type.clone())),
            (GET_SHARE, json!({"appids": [APPID], "source_type": source_type})),
        ] {
            let answer = raw.post(path, body).await;
            assert_refused(&answer, 40097, &format!("{path} {source_type}"));
            assert!(answer["errmsg"].as_str().unwrap().starts_with("invalid args source_type"), "{answer}");
        }
    }
}

#[tokio::test]
async fn a_seed_file_and_the_export_round_trip_and_keep_each_pairs_source_type() {
    let dir = tempfile_dir();
    let (seed, state) = (dir.join("seed.json"), dir.join("state.redb"));
    std::fs::write(&seed, r#"{"shared": [{"env": "env-old", "appid": "wx1"}, {"env": "e0", "appid": "wx0", "source_type": 0}]}"#)
        .unwrap();
    let config =
        SandboxConfig::default().with_seed_file(Some(seed.clone())).with_state_file(Some(state.clone()));
    let first = Sandbox::start(config.clone()).await.unwrap();
    assert!(first.is_shared("env-old", "wx1"), "a pair without source_type is read as 1");
    assert_eq!(first.shared_pairs_under(0), [("e0".to_owned(), "wx0".to_owned())]);
    assert!(first.is_shared(ENV, APPID), "the seed file adds to the other seeds");
    first.share_under(0, "env-new", "wx2");
    first.shutdown().await;

    let exported = export(&state).await;
    let expected = serde_json::json!({"shared": [
        {"env": "e0", "appid": "wx0", "source_type": 0},
        {"env": "env-new", "appid": "wx2", "source_type": 0},
        {"env": "env-old", "appid": "wx1", "source_type": 1},
        {"env": ENV, "appid": "wx075cf85bf347b6df", "source_type": 1},
        {"env": ENV, "appid": APPID, "source_type": 1},
    ]});
    assert_eq!(exported, expected);

    // The seed file is read only into a new database: the existing one wins.
    std::fs::write(&seed, r#"{"shared": [{"env": "env-later", "appid": "wx9"}]}"#).unwrap();
    let second = Sandbox::start(config).await.unwrap();
    assert!(!second.is_shared("env-later", "wx9"));
    second.shutdown().await;
    assert_eq!(export(&state).await, expected);

    // The export is a seed file: a new database seeded from it holds the same pairs.
    let round = dir.join("round.json");
    std::fs::write(&round, serde_json::to_vec(&expected).unwrap()).unwrap();
    let config = SandboxConfig::default()
        .with_seed_example(false)
        .with_seed_file(Some(round))
        .with_state_file(Some(dir.join("copy.redb")));
    Sandbox::start(config).await.unwrap().shutdown().await;
    assert_eq!(export(&dir.join("copy.redb")).await, expected);

    // The export of a missing file, or of a file that is not a state database, is exit 2 naming it.
    for bad in [dir.join("missing.redb"), seed] {
        let run =
            run_cli(&["sandbox", "export", "--state", bad.to_str().unwrap()], &[], Duration::from_secs(20))
                .await;
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains(bad.to_str().unwrap()), "{run:?}");
    }
}

/// `wechat-cloudbase sandbox export --state STATE`: the pairs, as JSON.
async fn export(state: &std::path::Path) -> serde_json::Value {
    let run =
        run_cli(&["sandbox", "export", "--state", state.to_str().unwrap()], &[], Duration::from_secs(20))
            .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    run.json()
}

#[tokio::test]
async fn with_an_env_list_another_env_is_not_found_and_without_one_every_env_exists() {
    use serde_json::json;
    let config = SandboxConfig::default().with_envs(Some(vec!["env-listed".into()]));
    let listed = Sandbox::start(config).await.unwrap();
    let body = json!({"data": [
        {"env": "env-unknown", "appids": ["wx1"]},
        {"env": "env-listed", "appids": ["wx1"]},
        {"env": ENV, "appids": [APPID]},
    ], "source_type": 1});
    let answer = Raw::new(listed.base_url()).post(UNSHARE, body.clone()).await;
    assert_eq!(
        answer["err_list"],
        json!([
            {"env": "env-unknown", "appid": "wx1", "errmsg": "env not found"},
            {"env": "env-listed", "appid": "wx1", "errmsg": "env is not shared with appid"},
        ]),
        "the seeded pair's env exists too: {answer}"
    );
    assert!(!listed.is_shared(ENV, APPID));

    let any = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let answer = Raw::new(any.base_url()).post(UNSHARE, body).await;
    let errmsgs: Vec<&str> =
        answer["err_list"].as_array().unwrap().iter().map(|e| e["errmsg"].as_str().unwrap()).collect();
    assert_eq!(errmsgs, ["env is not shared with appid"; 2], "{answer}");

    // shareCloudbaseEnv: the same rule; an appid none of whose pairs was accepted gets no URL.
    let body = json!({"data": [
        {"env": "env-unknown", "appids": ["wx1", "wx2"]},
        {"env": "env-listed", "appids": ["wx2"]},
    ], "source_type": 1});
    let answer = Raw::new(listed.base_url()).post(SHARE, body.clone()).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(
        answer["err_list"],
        json!([
            {"env": "env-unknown", "appid": "wx1", "errmsg": "env not found"},
            {"env": "env-unknown", "appid": "wx2", "errmsg": "env not found"},
        ]),
        "{answer}"
    );
    let appids: Vec<String> = confirmation_urls(&answer).into_iter().map(|(appid, _)| appid).collect();
    assert_eq!(appids, ["wx2"], "{answer}");
    let pending: Vec<(String, String)> =
        listed.pending_shares().into_iter().map(|p| (p.env, p.appid)).collect();
    assert_eq!(pending, [("env-listed".to_owned(), "wx2".to_owned())]);

    let answer = Raw::new(any.base_url()).post(SHARE, body).await;
    assert!(answer.get("err_list").is_none(), "every env exists: {answer}");
    assert_eq!(confirmation_urls(&answer).len(), 2, "{answer}");
    assert_eq!(any.pending_shares().len(), 3);
}

/// The (appid, url) entries of a shareCloudbaseEnv answer's `msg_info_list`.
fn confirmation_urls(answer: &serde_json::Value) -> Vec<(String, String)> {
    let list = answer["msg_info_list"].as_array().unwrap_or_else(|| panic!("no msg_info_list: {answer}"));
    list.iter()
        .map(|m| (m["appid"].as_str().unwrap().to_owned(), m["url"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_share_waits_for_its_confirmation_url_then_is_listed_until_unshared() {
    use serde_json::json;
    let sandbox = Sandbox::start(SandboxConfig::default().with_seed_example(false)).await.unwrap();
    let raw = Raw::new(sandbox.base_url());
    let body = json!({"data": [
        {"env": "env-a", "appids": ["wx1", "wx2"]},
        {"env": "env-b", "appids": ["wx1"]},
    ], "source_type": 1});
    let answer = raw.post(SHARE, body).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(answer["errmsg"], "ok", "{answer}");
    assert!(answer.get("err_list").is_none(), "{answer}");
    let urls = confirmation_urls(&answer);
    assert_eq!(urls.iter().map(|(appid, _)| appid.as_str()).collect::<Vec<_>>(), ["wx1", "wx2"]);
    let prefix = format!("{}/sandbox/confirm/", sandbox.base_url());
    assert!(urls.iter().all(|(_, url)| url.starts_with(&prefix) && url.len() > prefix.len()), "{urls:?}");
    assert_ne!(urls[0].1, urls[1].1);

    // Pending: not shared, not listed.
    let pending: Vec<(String, String, String)> =
        sandbox.pending_shares().into_iter().map(|p| (p.env, p.appid, p.url)).collect();
    let (url1, url2) = (urls[0].1.clone(), urls[1].1.clone());
    assert_eq!(
        pending,
        [
            ("env-a".into(), "wx1".into(), url1.clone()),
            ("env-a".into(), "wx2".into(), url2.clone()),
            ("env-b".into(), "wx1".into(), url1.clone()),
        ]
    );
    assert!(sandbox.shared_pairs().is_empty());
    assert_eq!(raw.envs_of(&["wx1", "wx2"], 1).await, [Vec::<String>::new(), vec![]]);

    // wx1's admin confirms: both its pairs are shared, wx2's still waits.
    let (status, page) = raw.get(&url1).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("wx1") && page.contains("env-a, env-b"), "{page}");
    assert_eq!(raw.envs_of(&["wx1", "wx2"], 1).await, [vec!["env-a", "env-b"], vec![]]);
    assert_eq!(sandbox.pending_shares().len(), 1);

    // A ticket is used once; an unknown one, or another method, confirms nothing.
    assert_eq!(raw.get(&url1).await.0, 404);
    assert_eq!(raw.get(&format!("{prefix}0123456789abcdef")).await.0, 404);
    assert_eq!(raw.http.post(&url2).send().await.unwrap().status(), 405);
    assert_eq!(raw.http.head(&url2).send().await.unwrap().status(), 405);
    assert!(!sandbox.is_shared("env-a", "wx2"));

    // unshareCloudbaseEnv removes a confirmed share.
    let answer =
        raw.post(UNSHARE, json!({"data": [{"env": "env-a", "appids": ["wx1"]}], "source_type": 1})).await;
    assert_eq!(answer, json!({"errcode": 0, "errmsg": "ok"}));
    assert_eq!(raw.envs_of(&["wx1"], 1).await, [["env-b"]]);

    // confirm_pending opens every URL not opened yet.
    assert_eq!(sandbox.confirm_pending(), 1);
    assert!(sandbox.is_shared("env-a", "wx2"));
    assert_eq!(raw.get(&url2).await.0, 404, "used by confirm_pending");
}

#[tokio::test]
async fn auto_confirm_shares_at_once_and_still_gives_urls_already_used() {
    use serde_json::json;
    let config = SandboxConfig::default().with_seed_example(false).with_auto_confirm(true);
    let sandbox = Sandbox::start(config).await.unwrap();
    let raw = Raw::new(sandbox.base_url());
    let answer = raw
        .post(SHARE, json!({"data": [{"env": "env-a", "appids": ["wx1", "wx2"]}], "source_type": 1}))
        .await;
    let urls = confirmation_urls(&answer);
    assert_eq!(urls.len(), 2, "{answer}");
    assert!(sandbox.pending_shares().is_empty());
    assert_eq!(raw.envs_of(&["wx1", "wx2"], 1).await, [["env-a"], ["env-a"]]);
    assert_eq!(raw.get(&urls[0].1).await.0, 404);
}

#[tokio::test]
async fn a_share_is_a_set_of_pairs_and_a_shared_pair_is_accepted_again() {
    use serde_json::json;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let raw = Raw::new(sandbox.base_url());
    let twice = json!({"data": [
        {"env": "env-a", "appids": ["wx1", "wx1"]},
        {"env": "env-a", "appids": ["wx1"]},
    ], "source_type": 1});
    let answer = raw.post(SHARE, twice).await;
    assert!(answer.get("err_list").is_none(), "{answer}");
    assert_eq!(confirmation_urls(&answer).len(), 1, "{answer}");
    let pending = sandbox.pending_shares();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        (pending[0].env.as_str(), pending[0].appid.as_str(), pending[0].source_type),
        ("env-a", "wx1", 1)
    );

    // The seeded pair is shared already: accepted, with a URL, and still shared.
    let again = json!({"data": [{"env": ENV, "appids": [APPID]}], "source_type": 1});
    let answer = raw.post(SHARE, again).await;
    assert!(answer.get("err_list").is_none(), "{answer}");
    assert_eq!(confirmation_urls(&answer).len(), 1, "{answer}");
    assert_eq!(sandbox.pending_shares().len(), 1, "a shared pair is not pending");
    assert!(sandbox.is_shared(ENV, APPID));
    assert_eq!(sandbox.confirm_pending(), 1, "only the new pair became shared");
}

#[tokio::test]
async fn an_env_without_cloud_development_refuses_a_share_with_85088() {
    let config = SandboxConfig::default().with_no_qbase_envs(vec!["env-nq".into()]);
    let sandbox = Sandbox::start(config).await.unwrap();
    let body = serde_json::json!({"data": [
        {"env": "env-ok", "appids": ["wx1"]},
        {"env": "env-nq", "appids": ["wx1"]},
    ], "source_type": 1});
    let answer = Raw::new(sandbox.base_url()).post(SHARE, body).await;
    assert_refused(&answer, 85088, "share");
    assert!(sandbox.pending_shares().is_empty());
}

#[tokio::test]
async fn a_confirmation_is_saved_before_its_page_answers_and_survives_a_killed_sandbox() {
    use serde_json::json;
    let dir = tempfile_dir();
    let state = dir.join("state.json");
    let args = ["--listen", "127.0.0.1:0", "--state", state.to_str().unwrap()];

    let first = standalone(&args).await;
    let raw = Raw::new(first.base_url.clone());
    let answer =
        raw.post(SHARE, json!({"data": [{"env": "env-a", "appids": ["wx1"]}], "source_type": 0})).await;
    let (status, page) = raw.get(&confirmation_urls(&answer)[0].1).await;
    assert_eq!(status, 200, "{page}");
    // Left pending: a pending share is not saved.
    raw.post(SHARE, json!({"data": [{"env": "env-b", "appids": ["wx1"]}], "source_type": 0})).await;
    first.kill().await;

    let second = standalone(&args).await;
    let raw = Raw::new(second.base_url.clone());
    assert_eq!(raw.envs_of(&["wx1"], 0).await, [["env-a"]]);
    assert_eq!(raw.envs_of(&["wx1"], 1).await, [Vec::<String>::new()]);
    let (code, log) = second.terminate().await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test]
async fn the_standalone_sandbox_takes_auto_confirm_and_a_list_of_envs_and_logs_shares_redacted() {
    use serde_json::json;
    let args = ["--listen", "127.0.0.1:0", "--auto-confirm", "--env", "env-a", "--env", "env-b"];
    let sandbox = standalone(&args).await;
    let raw = Raw::new(sandbox.base_url.clone());
    let body = json!({"data": [
        {"env": "env-a", "appids": ["wx1"]},
        {"env": "env-b", "appids": ["wx1"]},
        {"env": "env-c", "appids": ["wx1"]},
    ], "source_type": 1});
    let answer = raw.post(SHARE, body).await;
    assert_eq!(answer["err_list"], json!([{"env": "env-c", "appid": "wx1", "errmsg": "env not found"}]));
    let urls = confirmation_urls(&answer);
    assert_eq!(urls.len(), 1, "{answer}");
    assert_eq!(raw.envs_of(&["wx1"], 1).await, [["env-a", "env-b"]], "confirmed at once");
    assert_eq!(raw.get(&urls[0].1).await.0, 404, "already used");

    let (code, log) = sandbox.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("POST /componenttcb/batchshareenv?access_token=<redacted> -> 200 errcode=0"),
        "{log}"
    );
    assert!(log.contains("GET /sandbox/confirm/"), "{log}");
    assert!(!log.contains(SANDBOX_ACCESS_TOKEN), "the log redacts tokens: {log}");
}

// The state database (`--state`): nothing is confirmed that is not saved.

#[tokio::test]
async fn a_state_file_that_cannot_be_written_refuses_to_start_naming_the_path() {
    let dir = tempfile_dir();
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "not a directory").unwrap();
    for state in [dir.join("missing-dir").join("state.redb"), a_file.join("state.redb")] {
        let state = state.to_str().unwrap();
        let run =
            run_cli(&["sandbox", "--listen", "127.0.0.1:0", "--state", state], &[], Duration::from_secs(20))
                .await;
        assert_eq!(run.code, Some(2), "{state}: {run:?}");
        assert!(run.stderr.contains(state), "names the path: {run:?}");
        assert!(run.stdout.is_empty(), "never listened: {run:?}");
    }
    let error = Sandbox::start(
        SandboxConfig::default().with_state_file(Some(dir.join("missing-dir").join("state.redb"))),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("missing-dir"), "{error}");
}

#[tokio::test]
async fn a_change_that_cannot_be_saved_is_refused_with_1000_and_not_made() {
    use serde_json::json;
    let dir = tempfile_dir();
    let state = dir.join("state.redb");
    let config = SandboxConfig::default().with_state_file(Some(state.clone()));
    let sandbox = Sandbox::start(config).await.unwrap();
    let raw = Raw::new(sandbox.base_url());
    let answer =
        raw.post(SHARE, json!({"data": [{"env": "env-a", "appids": ["wx1"]}], "source_type": 1})).await;
    let url = confirmation_urls(&answer)[0].1.clone();

    sandbox.fail_saves(true);
    let answer =
        raw.post(UNSHARE, json!({"data": [{"env": ENV, "appids": [APPID]}], "source_type": 1})).await;
    assert_refused(&answer, -1000, "unshare");
    assert!(answer["errmsg"].as_str().unwrap().contains(" rid: "), "{answer}");
    assert!(sandbox.is_shared(ENV, APPID), "rolled back: still shared");
    let (status, page) = raw.get(&url).await;
    assert_eq!(status, 500, "{page}");
    assert!(!sandbox.is_shared("env-a", "wx1"));
    assert_eq!(sandbox.pending_shares().len(), 1, "still pending, its URL valid");

    sandbox.fail_saves(false);
    assert_eq!(raw.get(&url).await.0, 200, "the same URL, once the state can be saved");
    sandbox.shutdown().await;
    let saved = export(&state).await;
    let pairs: Vec<(&str, &str)> = saved["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["env"].as_str().unwrap(), p["appid"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pairs,
        [("env-a", "wx1"), (ENV, "wx075cf85bf347b6df"), (ENV, APPID)],
        "the database equals memory"
    );

    // With --auto-confirm, a share that cannot be saved is refused too.
    let config = SandboxConfig::default().with_state_file(Some(state.clone())).with_auto_confirm(true);
    let sandbox = Sandbox::start(config).await.unwrap();
    sandbox.fail_saves(true);
    let answer = Raw::new(sandbox.base_url())
        .post(SHARE, json!({"data": [{"env": "env-b", "appids": ["wx2"]}], "source_type": 1}))
        .await;
    assert_refused(&answer, -1000, "share");
    assert!(!sandbox.is_shared("env-b", "wx2"));
}

#[tokio::test]
async fn a_second_sandbox_on_the_same_state_file_refuses_to_start_and_changes_nothing() {
    use serde_json::json;
    let dir = tempfile_dir();
    let state = dir.join("state.redb");
    let state_arg = state.to_str().unwrap();
    let first = standalone(&["--listen", "127.0.0.1:0", "--state", state_arg, "--auto-confirm"]).await;
    let raw = Raw::new(first.base_url.clone());
    raw.post(SHARE, json!({"data": [{"env": "env-a", "appids": ["wx1"]}], "source_type": 1})).await;

    let run = run_cli(
        &["sandbox", "--listen", "127.0.0.1:0", "--state", state_arg, "--seed-example"],
        &[],
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains(state_arg) && run.stderr.contains("already open"), "{run:?}");

    let answer =
        raw.post(UNSHARE, json!({"data": [{"env": "env-a", "appids": ["wx1"]}], "source_type": 1})).await;
    assert_eq!(answer["errcode"], 0, "the first one still serves: {answer}");
    let (code, log) = first.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(export(&state).await, json!({"shared": []}), "the refused one changed nothing");
}

#[tokio::test]
async fn a_symlinked_state_file_stays_a_symlink_and_nothing_is_made_beside_it() {
    let dir = tempfile_dir();
    let (target, link) = (dir.join("target.redb"), dir.join("link.redb"));
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let config = SandboxConfig::default().with_state_file(Some(link.clone()));
    let sandbox = Sandbox::start(config.clone()).await.unwrap();
    sandbox.share("env-a", "wx1");
    sandbox.shutdown().await;
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "still a symlink");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["link.redb", "target.redb"]);
    let sandbox = Sandbox::start(config).await.unwrap();
    assert!(sandbox.is_shared("env-a", "wx1"), "read through the link");
}

/// What one client of the SIGKILL test knows about its pair when the sandbox dies: the state its
/// last acknowledged change left, and the state its change in flight (unanswered) would leave.
struct PairKnowledge {
    appid: String,
    acknowledged: bool,
    in_flight: Option<bool>,
    changes_acknowledged: usize,
}

/// Shares (auto-confirm) and unshares one pair in turn until the sandbox stops answering.
async fn flip_until_killed(http: reqwest::Client, base_url: String, appid: String) -> PairKnowledge {
    let mut knowledge =
        PairKnowledge { appid, acknowledged: false, in_flight: None, changes_acknowledged: 0 };
    loop {
        let share = !knowledge.acknowledged;
        let path = if share { SHARE } else { UNSHARE };
        let body = serde_json::json!({"data": [{"env": "env-load", "appids": [&knowledge.appid]}], "source_type": 1});
        knowledge.in_flight = Some(share);
        let url = format!("{base_url}{path}?access_token={SANDBOX_ACCESS_TOKEN}");
        let Ok(response) = http.post(url).body(body.to_string()).send().await else { return knowledge };
        let Ok(answer) = response.json::<serde_json::Value>().await else { return knowledge };
        assert_eq!(answer["errcode"], 0, "{answer}");
        assert!(answer.get("err_list").is_none(), "each change really changes its pair: {answer}");
        knowledge.acknowledged = share;
        knowledge.in_flight = None;
        knowledge.changes_acknowledged += 1;
    }
}

#[tokio::test]
async fn every_change_acknowledged_before_a_sigkill_under_load_is_there_after_a_restart() {
    let dir = tempfile_dir();
    let state = dir.join("state.redb");
    let args = ["--listen", "127.0.0.1:0", "--state", state.to_str().unwrap(), "--auto-confirm"];
    let first = standalone(&args).await;
    let http = integration_tests::reqwest_builder().timeout(Duration::from_secs(10)).build().unwrap();
    let clients: Vec<_> = (0..64)
        .map(|i| tokio::spawn(flip_until_killed(http.clone(), first.base_url.clone(), format!("wx{i:016}"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    first.kill().await;
    let mut known = Vec::new();
    for client in clients {
        known.push(client.await.unwrap());
    }
    let acknowledged: usize = known.iter().map(|k| k.changes_acknowledged).sum();
    assert!(acknowledged >= 64, "under load before the kill: {acknowledged} changes acknowledged");
    eprintln!("{acknowledged} changes acknowledged before the SIGKILL");

    let second = standalone(&args).await;
    let raw = Raw::new(second.base_url.clone());
    let appids: Vec<&str> = known.iter().map(|k| k.appid.as_str()).collect();
    let envs = raw.envs_of(&appids, 1).await;
    for (knowledge, envs) in known.iter().zip(envs) {
        let shared = envs == ["env-load"];
        assert!(
            shared == knowledge.acknowledged || Some(shared) == knowledge.in_flight,
            "{}: shared {shared} after the restart, but its last acknowledged change left {} (in flight: {:?})",
            knowledge.appid,
            knowledge.acknowledged,
            knowledge.in_flight
        );
    }
    let (code, log) = second.terminate().await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test]
async fn a_seed_file_with_a_pair_the_api_would_refuse_or_an_unknown_field_refuses_to_start() {
    let dir = tempfile_dir();
    for (name, text) in [
        ("misspelt.json", r#"{"shared": [{"env": "e", "appid": "a", "sourcetype": 0}]}"#),
        ("empty.json", r#"{"shared": [{"env": "", "appid": "a"}]}"#),
        ("type7.json", r#"{"shared": [{"env": "e", "appid": "a", "source_type": 7}]}"#),
    ] {
        let seed = dir.join(name);
        std::fs::write(&seed, text).unwrap();
        let seed = seed.to_str().unwrap();
        let run = run_cli(
            &["sandbox", "--listen", "127.0.0.1:0", "--seed-file", seed],
            &[],
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        assert!(run.stderr.contains(name), "names the file: {run:?}");
    }
}
