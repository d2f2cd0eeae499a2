//! Bulk runs through the SDK (`Client::unshare_all`, `Client::share_all`): batching, quotas,
//! stopping, and what each batch proves; against the sandbox and scripted servers.

use std::time::Duration;

use futures_util::StreamExt;
use integration_tests::{ScriptedResponse, ScriptedServer, fast_retrying_client};
use wechat_cloudbase::{BulkBatch, BulkOptions, BulkRun, EnvAppid, Error, ErrorCode};
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

const TOKEN: &str = "tok-BULK-51c0";
const OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

fn pairs(env: &str, n: usize) -> Vec<EnvAppid> {
    (0..n).map(|i| EnvAppid::new(env, format!("wx{i:016x}"))).collect()
}

async fn collect(run: &mut BulkRun) -> Vec<BulkBatch> {
    let mut batches = Vec::new();
    while let Some(batch) = run.next().await {
        batches.push(batch);
    }
    batches.sort_by_key(|b| b.index);
    batches
}

/// How many pairs the `index`th request received carried.
fn sent_pairs(server: &ScriptedServer, index: usize) -> usize {
    let body: serde_json::Value = serde_json::from_slice(&server.received()[index].body).unwrap();
    body["data"].as_array().unwrap().iter().map(|e| e["appids"].as_array().unwrap().len()).sum()
}

#[tokio::test]
async fn pairs_are_grouped_by_env_split_into_batches_and_each_is_proven_unshared_in_the_sandbox() {
    let mut all = pairs("env-a", 150);
    all.extend(pairs("env-b", 100));
    // Interleaved, with repeats: grouping and dedup happen before anything is sent.
    all.swap(3, 160);
    all.push(all[5].clone());
    let shared: Vec<(String, String)> = all.iter().map(|p| (p.env.clone(), p.appid.clone())).collect();
    let sandbox =
        Sandbox::start(SandboxConfig::default().with_shared(shared).with_seed_example(false)).await.unwrap();
    let client = fast_retrying_client(&sandbox.base_url(), SANDBOX_ACCESS_TOKEN);

    let mut run =
        client.unshare_all(all.clone(), BulkOptions::new().with_batch_size(100).with_concurrency(3)).unwrap();
    assert_eq!((run.pairs(), run.batches(), run.duplicates().len()), (250, 3, 1));
    assert_eq!(sandbox.requests_received(), 0, "nothing is sent before the stream is polled");
    let batches = collect(&mut run).await;

    assert_eq!(batches.len(), 3);
    let sizes: Vec<_> = batches.iter().map(|b| b.request.pairs().len()).collect();
    assert_eq!(sizes, [100, 50, 100]);
    for batch in &batches {
        let pairs = batch.request.pairs();
        let envs: std::collections::BTreeSet<_> = pairs.iter().map(|p| &p.env).collect();
        assert_eq!(envs.len(), 1, "a request holds one env");
        let outcome = batch.result.as_ref().unwrap();
        assert!(outcome.is_complete(), "{outcome}");
        assert_eq!(outcome.proven, pairs);
    }
    assert!(run.unsent().is_empty());
    assert!(sandbox.shared_pairs().is_empty(), "every pair is unshared");
    assert_eq!(sandbox.requests_received(), 3);
}

#[tokio::test]
async fn share_all_returns_each_admins_confirmation_url() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = fast_retrying_client(&sandbox.base_url(), SANDBOX_ACCESS_TOKEN);
    let mut run = client.share_all(pairs("env-a", 5), BulkOptions::new().with_batch_size(2)).unwrap();
    let batches = collect(&mut run).await;
    assert_eq!(batches.len(), 3);
    let urls: usize = batches.iter().map(|b| b.result.as_ref().unwrap().confirmations.len()).sum();
    assert_eq!(urls, 5);
    assert_eq!(sandbox.pending_shares().len(), 5, "shared once each admin confirms");
}

#[tokio::test]
async fn the_per_minute_quota_45011_pauses_and_the_batch_is_sent_again() {
    let quota = r#"{"errcode":45011,"errmsg":"api minute-quota reach limit  mustslower  retry next minute rid: 6523abcd-0a1b2c3d-1"}"#;
    let server = ScriptedServer::start(vec![ScriptedResponse::json(quota), ScriptedResponse::json(OK)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let options = BulkOptions::new().with_concurrency(1).with_quota_wait(Duration::from_millis(20));
    let mut run = client.unshare_all(pairs("env-a", 3), options).unwrap();
    let batches = collect(&mut run).await;
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].quota_waits, 1);
    assert!(batches[0].result.as_ref().unwrap().is_complete());
    assert_eq!(server.count(), 2, "the same batch, sent again after the wait");
    assert_eq!(server.received()[0].body, server.received()[1].body);
}

#[tokio::test]
async fn a_45011_that_never_ends_is_returned_after_the_allowed_waits() {
    let quota = r#"{"errcode":45011,"errmsg":"api minute-quota reach limit"}"#;
    let server = ScriptedServer::start(vec![ScriptedResponse::json(quota)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let options = BulkOptions::new().with_quota_wait(Duration::from_millis(1)).with_max_quota_waits(2);
    let mut run = client.unshare_all(pairs("env-a", 3), options).unwrap();
    let batches = collect(&mut run).await;
    assert_eq!(batches[0].quota_waits, 2);
    let Err(Error::Api(api)) = &batches[0].result else { panic!("{:?}", batches[0].result) };
    assert_eq!(api.code, ErrorCode::MinuteQuotaReached);
    assert!(!batches[0].stops_run(), "the per-minute quota fails its batch only");
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn the_daily_quota_45009_stops_the_run_and_the_rest_is_reported_unsent() {
    let quota = r#"{"errcode":45009,"errmsg":"reach max api daily quota limit rid: 6523abcd-0a1b2c3d-2"}"#;
    let server = ScriptedServer::start(vec![ScriptedResponse::json(OK), ScriptedResponse::json(quota)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let mut run = client
        .unshare_all(pairs("env-a", 10), BulkOptions::new().with_batch_size(2).with_concurrency(1))
        .unwrap();
    let batches = collect(&mut run).await;

    assert_eq!(batches.len(), 2, "the run stops after the batch answered 45009");
    assert!(batches[0].result.as_ref().unwrap().is_complete());
    assert!(batches[1].stops_run());
    let Err(Error::Api(api)) = &batches[1].result else { panic!("{:?}", batches[1].result) };
    assert_eq!(api.code, ErrorCode::DailyQuotaReached);
    assert_eq!(api.rid.as_deref(), Some("6523abcd-0a1b2c3d-2"));
    assert_eq!(server.count(), 2, "nothing is sent after 45009");
    assert_eq!(run.unsent(), pairs("env-a", 10)[4..]);
}

#[tokio::test]
async fn stop_lets_the_batches_in_flight_finish_and_sends_no_other() {
    let server =
        ScriptedServer::start(vec![ScriptedResponse { delay_s: Some(0.2), ..ScriptedResponse::json(OK) }])
            .await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let mut run = client
        .unshare_all(pairs("env-a", 10), BulkOptions::new().with_batch_size(1).with_concurrency(2))
        .unwrap();
    let stop = run.stopper();
    let first = run.next().await.unwrap();
    stop.stop();
    let rest = collect(&mut run).await;
    assert!(first.result.is_ok());
    // The one in flight beside the first, and the one taken when the first finished, complete.
    let sent = server.count();
    assert_eq!(1 + rest.len(), sent, "every request sent is yielded");
    assert!(rest.iter().all(|b| b.result.as_ref().is_ok_and(|o| o.is_complete())));
    assert!(sent <= 3, "{sent} requests");
    assert_eq!(run.unsent().len(), 10 - sent);
    assert!(stop.is_stopped());
}

#[tokio::test]
async fn bad_pairs_and_options_are_refused_before_anything_is_sent_naming_the_field() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(OK)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let mut bad = pairs("env-a", 5);
    bad[3].appid = "wx 1".into();
    let field = |result: Result<BulkRun, Error>| match result {
        Err(Error::InvalidRequest(v)) => v.field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(client.unshare_all(bad, BulkOptions::new())), "pairs[3].appid");
    assert_eq!(field(client.share_all([EnvAppid::new("", "wx1")], BulkOptions::new())), "pairs[0].env");
    for (options, name) in [
        (BulkOptions::new().with_batch_size(0), "batch_size"),
        (BulkOptions::new().with_concurrency(0), "concurrency"),
        (BulkOptions::new().with_rate(0.0), "rate"),
        (BulkOptions::new().with_rate(f64::NAN), "rate"),
        (BulkOptions::new().with_rate(-3.0), "rate"),
    ] {
        assert_eq!(field(client.unshare_all(pairs("env-a", 1), options)), name);
    }
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn a_token_wechat_refuses_stops_the_run() {
    let refused = r#"{"errcode":40001,"errmsg":"invalid credential rid: 6523abcd-0a1b2c3d-3"}"#;
    let server = ScriptedServer::start(vec![ScriptedResponse::json(refused)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let mut run = client
        .unshare_all(pairs("env-a", 6), BulkOptions::new().with_batch_size(1).with_concurrency(1))
        .unwrap();
    let batches = collect(&mut run).await;
    assert_eq!(batches.len(), 1);
    assert!(batches[0].stops_run());
    assert_eq!(run.unsent().len(), 5);
}

#[tokio::test]
async fn a_caller_bug_in_one_batch_fails_that_batch_only() {
    let bad = r#"{"errcode":40097,"errmsg":"invalid args rid: 6523abcd-0a1b2c3d-4"}"#;
    let server = ScriptedServer::start(vec![ScriptedResponse::json(bad), ScriptedResponse::json(OK)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let mut run = client
        .unshare_all(pairs("env-a", 3), BulkOptions::new().with_batch_size(1).with_concurrency(1))
        .unwrap();
    let batches = collect(&mut run).await;
    assert_eq!(batches.len(), 3);
    assert!(batches[0].result.is_err() && !batches[0].stops_run());
    assert!(batches[1..].iter().all(|b| b.result.is_ok()));
}

#[tokio::test]
async fn unproven_pairs_are_looked_up_and_settled() {
    // The unshare answer names a pair nobody asked for, so it proves nothing; the lookup that
    // follows shows both requested appids without the env.
    let odd = r#"{"errcode":0,"errmsg":"ok","err_list":[{"env":"env-x","appid":"wx-other","errmsg":"?"}]}"#;
    let lookup = r#"{"errcode":0,"errmsg":"ok","relation_data":[
        {"appid":"wx0000000000000000","env_list":[]},{"appid":"wx0000000000000001","env_list":[]}]}"#;
    let server =
        ScriptedServer::start(vec![ScriptedResponse::json(odd), ScriptedResponse::json(lookup)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let mut run = client.unshare_all(pairs("env-a", 2), BulkOptions::new()).unwrap();
    let batches = collect(&mut run).await;
    let outcome = batches[0].result.as_ref().unwrap();
    assert!(outcome.is_complete(), "{outcome}");
    assert_eq!(outcome.verified.len(), 2);
    assert_eq!(server.received()[1].path, "/componenttcb/batchgetenvid");
    assert_eq!(sent_pairs(&server, 0), 2);

    let server = ScriptedServer::start(vec![ScriptedResponse::json(odd)]).await;
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    let mut run = client.unshare_all(pairs("env-a", 2), BulkOptions::new().with_verify(false)).unwrap();
    let batches = collect(&mut run).await;
    assert_eq!(batches[0].result.as_ref().unwrap().unverified.len(), 2);
    assert_eq!(server.count(), 1, "no lookup without verify");
}

#[test]
fn a_run_with_a_rate_is_built_outside_any_runtime_and_driven_inside_one() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let server = runtime.block_on(ScriptedServer::start(vec![ScriptedResponse::json(OK)]));
    let client = fast_retrying_client(&server.base_url(), TOKEN);
    // Built with no runtime around: nothing that needs one is made yet.
    let mut run = client
        .unshare_all(pairs("env-a", 4), BulkOptions::new().with_batch_size(1).with_rate(500.0))
        .unwrap();
    let batches = runtime.block_on(collect(&mut run));
    assert_eq!(batches.len(), 4);
    assert!(batches.iter().all(|b| b.result.as_ref().is_ok_and(|o| o.is_complete())));
    assert_eq!(server.count(), 4);
}

#[test]
fn rates_outside_the_supported_range_are_refused_before_anything_runs() {
    for rate in [1e10, 1e300, 1e-9, f64::INFINITY, f64::MIN_POSITIVE] {
        assert_eq!(BulkOptions::new().with_rate(rate).validate().unwrap_err().field, "rate", "{rate}");
    }
    for rate in [wechat_cloudbase::MIN_RATE, 0.5, 20.0, wechat_cloudbase::MAX_RATE] {
        assert!(BulkOptions::new().with_rate(rate).validate().is_ok(), "{rate}");
    }
}
