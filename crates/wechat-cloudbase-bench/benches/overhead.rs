//! What the SDK costs over the network, measured side by side with baselines in the same run.
//! `cargo xtask bench` runs this and turns criterion's estimates into `target/bench/report.md`.
//!
//! Groups (each compares functions measured in the same process, against the same server):
//! - `per_call`: one unshare call through the SDK vs plain reqwest + serde_json vs raw hyper, with
//!   client and server on one current-thread runtime (the CPU a call costs, without cross-thread
//!   wake-ups, which cost more than the call and vary from run to run);
//! - `concurrent_64`: 640 calls with 64 in flight through one client, SDK vs plain reqwest (and,
//!   for attribution, plain reqwest with the SDK's request timeout);
//! - `batch_10k`: validate + encode a 10,000-pair request, decode a 10,000-entry answer into the
//!   outcome, vs plain serde_json;
//! - `batch_scaling`: the same at 1,000 and 100,000 pairs, for the cost per pair;
//! - `server_64`: 640 requests, 64 in flight, against the sandbox vs a minimal hyper handler;
//! - `server_64_changes`: 640 requests that each change a pair (auto-confirmed shares of 640
//!   pairs, then their unshares, in turn), 64 in flight, against the sandbox with a state
//!   database (`--state`, in a temporary directory) vs the in-memory sandbox.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use wechat_cloudbase::__private::{decode_unshare_body, encode_unshare_request};
use wechat_cloudbase::{AccessToken, BatchOutcome, Client};
use wechat_cloudbase_bench::{
    OK_BODY, PATH, PlainResponse, TOKEN, all_failed_answer, batch, build_and_encode_ours,
    build_and_encode_plain, fixed_server, plain_reqwest_call, raw_batch, raw_client, raw_hyper_call,
    sample_request,
};
use wechat_cloudbase_sandbox::{Sandbox, SandboxConfig};

const IN_FLIGHT: usize = 64;
const CALLS: usize = 640;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

fn per_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let base = format!("http://{}", rt.block_on(fixed_server(OK_BODY)));
    let url = format!("{base}{PATH}?access_token={TOKEN}");
    let ours = Client::new(&base, AccessToken::new(TOKEN)).expect("a client");
    let http = wechat_cloudbase_bench::reqwest_client();
    let raw = raw_client();
    let uri: hyper::Uri = url.parse().expect("a URI");
    let (request, plain) = sample_request();

    let mut group = c.benchmark_group("per_call");
    group.bench_function("ours", |b| {
        b.to_async(&rt).iter(|| async {
            ours.unshare_cloudbase_env(&request).await.and_then(BatchOutcome::into_result).expect("unshared")
        })
    });
    group.bench_function("reqwest", |b| b.to_async(&rt).iter(|| plain_reqwest_call(&http, &url, &plain)));
    group.bench_function("hyper", |b| b.to_async(&rt).iter(|| raw_hyper_call(&raw, &uri, &plain)));
    group.finish();
}

fn concurrent(c: &mut Criterion) {
    let rt = runtime();
    let base = format!("http://{}", rt.block_on(fixed_server(OK_BODY)));
    let url = format!("{base}{PATH}?access_token={TOKEN}");
    let ours = Client::new(&base, AccessToken::new(TOKEN)).expect("a client");
    let http = wechat_cloudbase_bench::reqwest_client();
    let (request, plain) = sample_request();

    let mut group = c.benchmark_group("concurrent_64");
    group.throughput(Throughput::Elements(CALLS as u64));
    group.bench_function("ours", |b| {
        b.to_async(&rt).iter(|| async {
            futures_util::stream::iter(0..CALLS)
                .map(|_| ours.unshare_cloudbase_env(&request))
                .buffer_unordered(IN_FLIGHT)
                .for_each(|r| async move {
                    r.expect("unshared");
                })
                .await
        })
    });
    // `reqwest_timeout` (attribution): plain reqwest with the request timeout the SDK always sets.
    let timed = wechat_cloudbase_bench::reqwest_builder()
        .timeout(wechat_cloudbase::DEFAULT_REQUEST_TIMEOUT)
        .build()
        .expect("a client");
    for (name, http) in [("reqwest", &http), ("reqwest_timeout", &timed)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                futures_util::stream::iter(0..CALLS)
                    .map(|_| plain_reqwest_call(http, &url, &plain))
                    .buffer_unordered(IN_FLIGHT)
                    .for_each(|_| async {})
                    .await
            })
        });
    }
    group.finish();
}

fn batches(c: &mut Criterion) {
    let (ours, plain) = batch(100, 100);
    let answer = all_failed_answer(&plain);
    let mut group = c.benchmark_group("batch_10k");
    group.throughput(Throughput::Elements(10_000));
    // Validate + encode, from the ids as an application holds them: both sides copy each id once.
    let raw = raw_batch(100, 100);
    group.bench_function("encode_ours", |b| b.iter(|| build_and_encode_ours(&raw)));
    group.bench_function("encode_serde", |b| b.iter(|| build_and_encode_plain(&raw)));
    group.bench_function("decode_ours", |b| {
        b.iter(|| {
            let outcome = decode_unshare_body(&answer, &ours);
            assert!(matches!(&outcome, Ok(o) if o.failed.len() == 10_000 && o.proven.is_empty()));
            outcome
        })
    });
    group.bench_function("decode_serde", |b| {
        b.iter(|| serde_json::from_slice::<PlainResponse>(&answer).expect("decodes"))
    });
    // Attribution: serde_json on the generated types alone, without validation and conversion
    // (encode) or the outcome (decode).
    let wire: wechat_cloudbase::openapi::types::BatchEnvRequest =
        serde_json::from_slice(&encode_unshare_request(&ours).expect("valid")).expect("the wire type");
    group.bench_function("encode_generated", |b| b.iter(|| serde_json::to_vec(&wire).expect("serialises")));
    group.bench_function("decode_generated", |b| {
        b.iter(|| {
            serde_json::from_slice::<wechat_cloudbase::openapi::types::UnshareCloudbaseEnvResponse>(&answer)
                .expect("decodes")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("batch_scaling");
    // More samples than criterion's minimum: the 100,000-pair figures move most on a shared VM.
    group.sample_size(20);
    for (envs, per_env) in [(10, 100), (1_000, 100)] {
        let pairs = envs * per_env;
        let (ours, plain) = batch(envs, per_env);
        let answer = all_failed_answer(&plain);
        group.throughput(Throughput::Elements(pairs as u64));
        let raw = raw_batch(envs, per_env);
        group.bench_with_input(BenchmarkId::new("encode", pairs), &raw, |b, raw| {
            b.iter(|| build_and_encode_ours(raw))
        });
        group.bench_with_input(BenchmarkId::new("decode", pairs), &answer, |b, answer| {
            b.iter(|| decode_unshare_body(answer, &ours))
        });
        // The same sizes through plain serde_json: how much of any non-linearity is serde's and
        // the allocator's rather than ours.
        group.bench_with_input(BenchmarkId::new("encode_serde", pairs), &raw, |b, raw| {
            b.iter(|| build_and_encode_plain(raw))
        });
        group.bench_with_input(BenchmarkId::new("decode_serde", pairs), &answer, |b, answer| {
            b.iter(|| serde_json::from_slice::<PlainResponse>(answer).expect("decodes"))
        });
        group.bench_with_input(BenchmarkId::new("decode_generated", pairs), &answer, |b, answer| {
            b.iter(|| {
                serde_json::from_slice::<wechat_cloudbase::openapi::types::UnshareCloudbaseEnvResponse>(
                    answer,
                )
                .expect("decodes")
            })
        });
    }
    group.finish();
}

fn servers(c: &mut Criterion) {
    let rt = runtime();
    let minimal = format!("http://{}{PATH}?access_token={TOKEN}", rt.block_on(fixed_server(OK_BODY)));
    let config = SandboxConfig::default().with_seed_example(false);
    let sandbox = rt.block_on(Sandbox::start(config)).expect("the sandbox starts");
    let sandboxed = format!("{}{PATH}?access_token={TOKEN}", sandbox.base_url());
    let http = wechat_cloudbase_bench::reqwest_builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .expect("a client");
    let (_, plain) = sample_request();

    let mut group = c.benchmark_group("server_64");
    group.throughput(Throughput::Elements(CALLS as u64));
    for (name, url) in [("sandbox", &sandboxed), ("minimal", &minimal)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                futures_util::stream::iter(0..CALLS)
                    .map(|_| plain_reqwest_call(&http, url, &plain))
                    .buffer_unordered(IN_FLIGHT)
                    .for_each(|_| async {})
                    .await
            })
        });
    }
    group.finish();
    drop(sandbox);
}

fn server_changes(c: &mut Criterion) {
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("wechat-cloudbase-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let start = |state_file: Option<std::path::PathBuf>| {
        let config = SandboxConfig::default()
            .with_seed_example(false)
            .with_auto_confirm(true)
            .with_state_file(state_file);
        rt.block_on(Sandbox::start(config)).expect("the sandbox starts")
    };
    let (memory, state) = (start(None), start(Some(dir.join("state.redb"))));
    let http = wechat_cloudbase_bench::reqwest_builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .expect("a client");
    // The body of request `i`, each for its own pair.
    let body = |i: usize| {
        serde_json::json!({"data": [{"env": "env-bench", "appids": [format!("wx{i:016}")]}], "source_type": 1})
            .to_string()
    };
    let bodies: Vec<String> = (0..CALLS).map(body).collect();

    let mut group = c.benchmark_group("server_64_changes");
    group.throughput(Throughput::Elements(CALLS as u64));
    for (name, sandbox) in [("memory", &memory), ("state", &state)] {
        // Even iterations share the 640 pairs, odd ones unshare them: every request commits a change.
        let iteration = std::sync::atomic::AtomicU64::new(0);
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let path = if iteration.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(2) {
                    "/componenttcb/batchshareenv"
                } else {
                    "/componenttcb/batchunshareenv"
                };
                let url = format!("{}{path}?access_token={TOKEN}", sandbox.base_url());
                futures_util::stream::iter(&bodies)
                    .map(|body| {
                        let request =
                            http.post(&url).header("content-type", "application/json").body(body.clone());
                        async move {
                            let answer =
                                request.send().await.expect("answered").bytes().await.expect("a body");
                            assert!(
                                answer.starts_with(br#"{"errcode":0"#),
                                "{}",
                                String::from_utf8_lossy(&answer)
                            );
                            assert!(!answer.windows(8).any(|w| w == b"err_list"), "a change every time");
                        }
                    })
                    .buffer_unordered(IN_FLIGHT)
                    .for_each(|()| async {})
                    .await
            })
        });
    }
    group.finish();
    rt.block_on(async {
        memory.shutdown().await;
        state.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30)
        .configure_from_args();
    targets = per_call, concurrent, batches, servers, server_changes
}
criterion_main!(benches);
