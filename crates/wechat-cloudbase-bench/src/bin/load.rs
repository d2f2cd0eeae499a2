//! The load run: 10,000 unshare calls, 64 in flight, through the SDK against the standalone
//! sandbox with a 10% busy fault plan. Every call must end as a success (after retries) or a
//! typed error, with no panic; open file descriptors and memory are sampled after the first
//! 1,000 calls and at the end, for the client and the sandbox process. The sandbox keeps its
//! state in a state database (`--state`), seeded from a JSON file (`--seed-file`).
//!
//! Then the crash phase: in rounds, 64 clients share (auto-confirm) and unshare a pair each, in
//! turn, against a sandbox with `--state`, which is killed with SIGKILL mid-load and restarted on
//! the same file; every change acknowledged with errcode 0 must be there (a change in flight may
//! or may not be). It fails the run (exit 1) otherwise.
//!
//! Usage: `load PATH-TO-wechat-cloudbase [CALLS [CRASH-ROUNDS]]`. Prints a JSON report on stdout.
//! Run by `cargo xtask load`. Not a timed test: it reports numbers.

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
    let rounds: usize = args.next().map_or(5, |n| n.parse().expect("CRASH-ROUNDS is a number"));

    // A state database seeded with one pair per call, so each call has real work to do.
    let dir = std::env::temp_dir().join(format!("wechat-cloudbase-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let seed = dir.join("seed.json");
    let shared: Vec<_> =
        (0..calls).map(|i| serde_json::json!({"env": "env-load", "appid": format!("wx{i:016}")})).collect();
    std::fs::write(&seed, serde_json::to_vec(&serde_json::json!({"shared": shared})).unwrap())
        .expect("write the seed file");

    let mut sandbox = std::process::Command::new(&cli)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--faults", "busy=0.1,seed=7", "--seed-file"])
        .arg(&seed)
        .arg("--state")
        .arg(dir.join("state.redb"))
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
        let retry =
            RetryPolicy::default().with_max_attempts(6).with_initial_backoff(Duration::from_millis(2));
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

    let crash = rt.block_on(crash_rounds(&cli, &dir.join("crash.redb"), rounds));
    let _ = std::fs::remove_dir_all(&dir);
    let lost = crash["lost"].as_u64().unwrap_or(0);
    let report = serde_json::json!({"load": report, "crash": crash});
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if report["load"]["panics"] != 0 || lost > 0 {
        std::process::exit(1);
    }
}

/// The standalone sandbox with `args`, and its base URL (from its first line of output).
fn start_sandbox(cli: &str, args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    let mut child = std::process::Command::new(cli)
        .arg("sandbox")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").expect("readable");
    std::thread::spawn(move || for _ in lines {});
    (child, first.rsplit(' ').next().unwrap().to_owned())
}

/// What one client knows of its pair: whether its last acknowledged change left it shared, and
/// what its change in flight (unanswered) would leave.
#[derive(Clone)]
struct Knowledge {
    appid: String,
    shared: bool,
    in_flight: Option<bool>,
    acknowledged: usize,
}

/// Shares (auto-confirm) and unshares the pair of `k` in turn until the sandbox stops answering.
async fn flip(http: reqwest::Client, base_url: String, mut k: Knowledge) -> Knowledge {
    loop {
        let share = !k.shared;
        let path = if share { "/componenttcb/batchshareenv" } else { "/componenttcb/batchunshareenv" };
        let body =
            serde_json::json!({"data": [{"env": "env-crash", "appids": [&k.appid]}], "source_type": 1});
        k.in_flight = Some(share);
        let url = format!("{base_url}{path}?access_token={TOKEN}");
        let Ok(response) = http.post(url).body(body.to_string()).send().await else { return k };
        let Ok(answer) = response.json::<serde_json::Value>().await else { return k };
        assert_eq!(answer["errcode"], 0, "{answer}");
        assert!(answer.get("err_list").is_none(), "each change changes its pair: {answer}");
        k.shared = share;
        k.in_flight = None;
        k.acknowledged += 1;
    }
}

/// The crash phase (see the module's doc): `rounds` rounds of about 2 s each on `state`.
async fn crash_rounds(cli: &str, state: &std::path::Path, rounds: usize) -> serde_json::Value {
    let args: Vec<&std::ffi::OsStr> =
        ["--listen", "127.0.0.1:0", "--auto-confirm", "--state"].iter().map(|a| a.as_ref()).collect();
    let args: Vec<&std::ffi::OsStr> = args.into_iter().chain([state.as_os_str()]).collect();
    let http =
        wechat_cloudbase_bench::reqwest_builder().timeout(Duration::from_secs(10)).build().expect("a client");
    let mut known: Vec<Knowledge> = (0..IN_FLIGHT)
        .map(|i| Knowledge { appid: format!("wx{i:016}"), shared: false, in_flight: None, acknowledged: 0 })
        .collect();
    let (mut acknowledged, mut lost, mut in_flight_saved, mut in_flight_unsaved) = (0, 0, 0, 0);
    for round in 0..rounds {
        let (mut child, base_url) = start_sandbox(cli, &args);
        let clients: Vec<_> = known
            .iter()
            .map(|k| {
                tokio::spawn(flip(http.clone(), base_url.clone(), Knowledge { acknowledged: 0, ..k.clone() }))
            })
            .collect();
        // A different moment in each round.
        tokio::time::sleep(Duration::from_millis(1_500 + 137 * round as u64)).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        known =
            futures_util::future::join_all(clients).await.into_iter().map(|k| k.expect("no panic")).collect();
        acknowledged += known.iter().map(|k| k.acknowledged).sum::<usize>();

        // Restart on the same file: what is shared now is the next round's starting point.
        let (mut child, base_url) = start_sandbox(cli, &args);
        let appids: Vec<&str> = known.iter().map(|k| k.appid.as_str()).collect();
        let answer: serde_json::Value = http
            .post(format!("{base_url}/componenttcb/batchgetenvid?access_token={TOKEN}"))
            .body(serde_json::json!({"appids": appids, "source_type": 1}).to_string())
            .send()
            .await
            .expect("the restarted sandbox answers")
            .json()
            .await
            .expect("JSON");
        let relation = answer["relation_data"].as_array().expect("relation_data").clone();
        for (k, r) in known.iter_mut().zip(relation) {
            let shared = r["env_list"] == serde_json::json!(["env-crash"]);
            if shared == k.shared {
                if k.in_flight.is_some() {
                    in_flight_unsaved += 1;
                }
            } else if Some(shared) == k.in_flight {
                in_flight_saved += 1;
            } else {
                lost += 1;
                eprintln!(
                    "round {round}: {} lost its acknowledged change (shared {} expected)",
                    k.appid, k.shared
                );
            }
            (k.shared, k.in_flight) = (shared, None);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    serde_json::json!({
        "rounds": rounds,
        "clients": IN_FLIGHT,
        "changes_acknowledged": acknowledged,
        "lost": lost,
        "in_flight_at_kill_saved": in_flight_saved,
        "in_flight_at_kill_not_saved": in_flight_unsaved,
    })
}
