//! The load run: 10,000 unshare calls, 64 in flight, through the SDK against the standalone
//! sandbox with a 10% busy fault plan. Every call must end as a success (after retries) or a
//! typed error, with no panic; open file descriptors and memory are sampled after the first
//! 1,000 calls and at the end, for the client and the sandbox process.
//!
//! Usage: `load PATH-TO-wechat-cloudbase [CALLS]`. Prints a JSON report on stdout. Run by
//! `cargo xtask load`. Not a timed test: it reports numbers.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use wechat_cloudbase::{AccessToken, Client, RetryPolicy, UnshareRequest};
use wechat_cloudbase_bench::{TOKEN, open_fds, status_kb};

const IN_FLIGHT: usize = 64;
const FIRST: usize = 1_000;

fn sample(pid: &str) -> serde_json::Value {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    serde_json::json!({"fds": fds, "rss_kb": status_kb(pid, "VmRSS")})
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cli = args.next().expect("usage: load PATH-TO-wechat-cloudbase [CALLS]");
    let calls: usize = args.next().map_or(10_000, |n| n.parse().expect("CALLS is a number"));

    // A state file sharing one pair per call, so each call has real work to do.
    let dir = std::env::temp_dir().join(format!("wechat-cloudbase-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let state = dir.join("state.json");
    let shared: Vec<_> =
        (0..calls).map(|i| serde_json::json!({"env": "env-load", "appid": format!("wx{i:016}")})).collect();
    std::fs::write(&state, serde_json::to_vec(&serde_json::json!({"shared": shared})).unwrap())
        .expect("write state");

    let mut sandbox = std::process::Command::new(&cli)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--faults", "busy=0.1,seed=7", "--state"])
        .arg(&state)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let mut lines = std::io::BufReader::new(sandbox.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").expect("readable");
    let base_url = first.rsplit(' ').next().unwrap().to_owned();
    std::thread::spawn(move || for _ in lines {});
    let server_pid = sandbox.id().to_string();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = rt.block_on(async {
        let retry = RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(2),
            ..RetryPolicy::default()
        };
        let client = Client::builder()
            .base_url(&base_url)
            .access_token(AccessToken::new(TOKEN))
            .retry_policy(retry)
            .build()
            .expect("a client");
        let started = Instant::now();
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        let mut attempts = 0u64;
        let mut panics = 0usize;
        let mut done = 0usize;
        let mut at_first = None;
        let mut calls_stream = futures_util::stream::iter(0..calls)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let request = UnshareRequest::new().env("env-load", [format!("wx{i:016}")]);
                    client.unshare_cloudbase_env(&request).await
                })
            })
            .buffer_unordered(IN_FLIGHT);
        while let Some(joined) = calls_stream.next().await {
            done += 1;
            match joined {
                Err(_) => panics += 1,
                Ok(Ok(unshared)) => {
                    attempts += u64::from(unshared.attempts);
                    *outcomes.entry("ok".into()).or_default() += 1;
                }
                Ok(Err(error)) => {
                    attempts += u64::from(error.attempts());
                    *outcomes.entry(error.kind().to_string()).or_default() += 1;
                }
            }
            if done == FIRST {
                at_first = Some(serde_json::json!({
                    "client": {"fds": open_fds(), "rss_kb": status_kb("self", "VmRSS")},
                    "sandbox": sample(&server_pid),
                }));
            }
        }
        let elapsed = started.elapsed();
        serde_json::json!({
            "calls": calls,
            "in_flight": IN_FLIGHT,
            "fault_plan": "busy=0.1,seed=7",
            "outcomes": outcomes,
            "requests_sent": attempts,
            "panics": panics,
            "seconds": elapsed.as_secs_f64(),
            "calls_per_second": calls as f64 / elapsed.as_secs_f64(),
            "after_first_1000": at_first,
            "at_end": {
                "client": {"fds": open_fds(), "rss_kb": status_kb("self", "VmRSS")},
                "sandbox": sample(&server_pid),
            },
        })
    });
    let _ = std::process::Command::new("kill").args(["-TERM", &server_pid]).status();
    let _ = sandbox.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if report["panics"] != 0 {
        std::process::exit(1);
    }
}
