//! `wechat-cloudbase unshare --from-file` / `share --from-file`, as an operator runs them: bad
//! input refused before anything is sent, faults, the journal against the sandbox's own log, a
//! crash (SIGKILL) and Ctrl-C half way, and runs that must stop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer, StandaloneSandbox, cli_path, run_cli};
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

const LIMIT: Duration = Duration::from_secs(120);
const PAIR_LOG: &str = "info,wechat_cloudbase_sandbox::pairs=debug";

type Pair = (String, String);

fn pairs(n: usize) -> Vec<Pair> {
    (0..n).map(|i| (format!("env-{}", i % 3), format!("wx{i:016x}"))).collect()
}

fn write_csv(path: &Path, pairs: &[Pair]) {
    let mut text = String::from("env,appid\n");
    for (env, appid) in pairs {
        text.push_str(&format!("{env},{appid}\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// A seed file sharing `pairs` (the shape `sandbox --seed-file` reads).
fn write_seed(path: &Path, pairs: &[Pair]) {
    let shared: Vec<_> =
        pairs.iter().map(|(env, appid)| serde_json::json!({"env": env, "appid": appid})).collect();
    std::fs::write(path, serde_json::json!({ "shared": shared }).to_string()).unwrap();
}

fn token_env() -> [(&'static str, &'static str); 1] {
    [("WECHAT_COMPONENT_ACCESS_TOKEN", SANDBOX_ACCESS_TOKEN)]
}

/// Every `pairs {…}` line of the sandbox's pair log, parsed.
fn pair_log(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|line| line.split_once(" pairs {").map(|(_, rest)| format!("{{{rest}")))
        .map(|json| serde_json::from_str(&json).expect("a pair log line is JSON"))
        .collect()
}

fn pair_set(list: &serde_json::Value) -> BTreeSet<Pair> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| (p["env"].as_str().unwrap().to_owned(), p["appid"].as_str().unwrap().to_owned()))
        .collect()
}

/// The journal's records, each line parsed (every line must be a whole JSON object).
fn journal(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a journal line is JSON ({e}): {line}"))
        })
        .collect()
}

fn records<'a>(journal: &'a [serde_json::Value], kind: &str) -> impl Iterator<Item = &'a serde_json::Value> {
    journal.iter().filter(move |r| r["record"] == kind)
}

/// Each pair and how many times it appears over `sets`.
fn counts<'a>(sets: impl Iterator<Item = &'a BTreeSet<Pair>>) -> BTreeMap<&'a Pair, usize> {
    let mut counts = BTreeMap::new();
    for pair in sets.flatten() {
        *counts.entry(pair).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn a_bad_line_37_of_a_50_line_file_is_refused_naming_it_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let base_url = sandbox.base_url();
    let mut good = pairs(49);
    // CSV: the header is line 1, so the 36th pair is line 37.
    good[35].1 = "wx bad".into();
    let csv = dir.path().join("pairs.csv");
    write_csv(&csv, &good);
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 50);
    // JSON lines: line 37 is the 37th pair, and is not an object.
    let jsonl = dir.path().join("pairs.jsonl");
    let mut lines: Vec<String> = pairs(50)
        .iter()
        .map(|(env, appid)| serde_json::json!({"env": env, "appid": appid}).to_string())
        .collect();
    lines[36] = r#"{"env":"env-0","appid":"wx1""#.into();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();

    for (file, command) in [(&csv, "unshare"), (&jsonl, "share")] {
        let file = file.to_str().unwrap();
        let run =
            run_cli(&[command, "--from-file", file, "--base-url", &base_url], &token_env(), LIMIT).await;
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(run.stderr.contains("line 37:"), "{}", run.stderr);
        assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
        let run =
            run_cli(&[command, "--from-file", file, "--base-url", &base_url, "--json"], &token_env(), LIMIT)
                .await;
        let summary = run.json();
        assert_eq!(
            (summary["record"].as_str(), summary["kind"].as_str()),
            (Some("summary"), Some("validation"))
        );
        assert!(summary["message"].as_str().unwrap().contains("line 37:"), "{summary}");
    }
    assert_eq!(sandbox.requests_received(), 0, "nothing is sent for a file with a bad line");
}

#[tokio::test]
async fn ten_thousand_pairs_with_busy_faults_all_end_unshared_and_the_journal_agrees_with_the_sandbox_log() {
    let dir = tempfile::tempdir().unwrap();
    let all = pairs(10_000);
    let (seed, input, journal_path) =
        (dir.path().join("seed.json"), dir.path().join("pairs.csv"), dir.path().join("journal.jsonl"));
    write_seed(&seed, &all);
    write_csv(&input, &all);
    let sandbox = StandaloneSandbox::start_with_log(
        &["--seed-file", seed.to_str().unwrap(), "--faults", "busy=0.1,seed=11"],
        Some(PAIR_LOG),
    )
    .await;

    let run = run_cli(
        &[
            "unshare",
            "--from-file",
            input.to_str().unwrap(),
            "--journal",
            journal_path.to_str().unwrap(),
            "--base-url",
            &sandbox.base_url,
            "--json",
        ],
        &token_env(),
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<serde_json::Value> =
        run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (summary, requests) = lines.split_last().unwrap();
    assert_eq!(summary["record"], "summary");
    assert_eq!((summary["done"].as_u64(), summary["pairs"].as_u64()), (Some(10_000), Some(10_000)));
    // 3 envs of 3,334, 3,333 and 3,333 pairs: 34 requests of at most 100 pairs each.
    assert_eq!(requests.len(), 102, "one JSON line per request");
    assert!(requests.iter().all(|r| r["record"] == "request" && r["kind"] == "ok"));
    // Every field printed is documented by `schema bulk`.
    let schema = run_cli(&["schema", "bulk"], &[], LIMIT).await;
    let schema: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
    let documented = |definition: &str, field: &str| {
        let definitions = &schema["definitions"];
        definitions[definition]["properties"].get(field).is_some()
            || definitions["Report"]["properties"].get(field).is_some()
    };
    for (line, definition) in [(&requests[0], "RequestLine"), (summary, "Summary")] {
        for field in line.as_object().unwrap().keys() {
            assert!(documented(definition, field), "`{field}` of a {definition} is in `schema bulk`");
        }
    }
    let retried: u64 = requests.iter().map(|r| r["attempts"].as_u64().unwrap() - 1).sum();
    assert!(retried > 0, "the busy faults made some requests retry");

    let (_, stderr) = sandbox.terminate().await;
    assert!(stderr.contains("errcode=-1"), "the sandbox answered some requests busy");
    let log = pair_log(&stderr);
    let changed: Vec<BTreeSet<Pair>> = log.iter().map(|l| pair_set(&l["changed"])).collect();
    let journal = journal(&journal_path);
    let done: Vec<BTreeSet<Pair>> = records(&journal, "finished").map(|r| pair_set(&r["done"])).collect();
    // Each pair unshared exactly once by the sandbox, and recorded done exactly once.
    let everything: BTreeSet<Pair> = all.iter().cloned().collect();
    let changed_counts = counts(changed.iter());
    assert_eq!(changed_counts.len(), 10_000);
    assert!(changed_counts.values().all(|&n| n == 1));
    assert!(changed_counts.keys().all(|p| everything.contains(*p)));
    // Request for request: the pairs each journal record proves are those one request changed.
    let (mut changed, mut done) = (changed, done);
    changed.sort();
    done.sort();
    assert_eq!(changed, done);
    assert_eq!(records(&journal, "sending").count(), 102);
}

/// Spawns the CLI with `args`, the sandbox token, stdout and stderr piped.
fn spawn_cli(args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(cli_path())
        .args(args)
        .env("WECHAT_COMPONENT_ACCESS_TOKEN", SANDBOX_ACCESS_TOKEN)
        .env_remove("WECHAT_API_BASE_URL")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the CLI starts")
}

/// Waits until the journal holds at least `finished` finished records.
async fn wait_for_finished(path: &Path, finished: usize) {
    let waited = tokio::time::timeout(LIMIT, async {
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.matches("\"record\":\"finished\"").count() >= finished {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    waited.expect("the run makes progress");
}

/// A slow bulk job to interrupt: `n` pairs shared in a standalone sandbox whose answers each take
/// 40 ms, the input file (JSON lines or CSV), and the arguments of `unshare` with a journal, 50
/// pairs a request, 3 in flight.
struct SlowJob {
    dir: tempfile::TempDir,
    sandbox: StandaloneSandbox,
    args: Vec<String>,
}

impl SlowJob {
    async fn start(n: usize, json_lines: bool, rust_log: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let all = pairs(n);
        let seed = dir.path().join("seed.json");
        write_seed(&seed, &all);
        let input = dir.path().join(if json_lines { "pairs.jsonl" } else { "pairs.csv" });
        if json_lines {
            let lines: Vec<String> = all
                .iter()
                .map(|(env, appid)| serde_json::json!({"env": env, "appid": appid}).to_string())
                .collect();
            std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        } else {
            write_csv(&input, &all);
        }
        let sandbox = StandaloneSandbox::start_with_log(
            &["--seed-file", seed.to_str().unwrap(), "--faults", "latency-ms=40"],
            rust_log,
        )
        .await;
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        let args = vec![
            "unshare".into(),
            "--from-file".into(),
            path(&input),
            "--journal".into(),
            path(&dir.path().join("journal.jsonl")),
            "--base-url".into(),
            sandbox.base_url.clone(),
            "--batch-size".into(),
            "50".into(),
            "--concurrency".into(),
            "3".into(),
        ];
        Self { dir, sandbox, args }
    }

    fn journal(&self) -> std::path::PathBuf {
        self.dir.path().join("journal.jsonl")
    }

    fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }
}

#[tokio::test]
async fn killed_half_way_a_second_run_with_the_journal_unshares_each_pair_exactly_once() {
    // Each answer takes 40 ms, so the run lasts long enough to be killed in the middle.
    let job = SlowJob::start(4_000, true, Some(PAIR_LOG)).await;
    let (journal_path, args) = (job.journal(), job.args());
    let sandbox = &job.sandbox;
    let mut first = spawn_cli(&args);
    wait_for_finished(&journal_path, 40).await;
    first.kill().await.unwrap(); // SIGKILL: nothing is written on the way out
    // Let the sandbox finish what the dead run had in flight, then mark where the second begins.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first_run_log = pair_log(&sandbox.stderr()).len();
    let first_journal = journal(&journal_path);
    let proven_first: BTreeSet<Pair> =
        records(&first_journal, "finished").flat_map(|r| pair_set(&r["done"])).collect();
    // The requests in flight when it died: recorded as sent, with no outcome.
    let finished_batches: BTreeSet<u64> =
        records(&first_journal, "finished").map(|r| r["batch"].as_u64().unwrap()).collect();
    let in_doubt: BTreeSet<Pair> = records(&first_journal, "sending")
        .filter(|r| !finished_batches.contains(&r["batch"].as_u64().unwrap()))
        .flat_map(|r| pair_set(&r["pairs"]))
        .collect();
    assert!(!in_doubt.is_empty(), "the run was killed with requests in flight");
    assert!(proven_first.len() >= 40 * 33 && proven_first.len() < 4_000, "{}", proven_first.len());

    let second = spawn_cli(&args).wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{stderr}");
    let log = pair_log(&sandbox.stderr());

    let changed: Vec<BTreeSet<Pair>> = log.iter().map(|l| pair_set(&l["changed"])).collect();
    let changed_counts = counts(changed.iter());
    assert_eq!(changed_counts.len(), 4_000, "every pair unshared");
    assert!(changed_counts.values().all(|&n| n == 1), "no pair unshared twice");
    let sent_second: BTreeSet<Pair> =
        log[first_run_log..].iter().flat_map(|l| pair_set(&l["requested"])).collect();
    assert!(sent_second.is_disjoint(&proven_first), "the second run sent none of the pairs the first proved");
    let whole = journal(&journal_path);
    let proven: BTreeSet<Pair> = whole
        .iter()
        .filter(|r| r["record"] == "finished" || r["record"] == "verified")
        .flat_map(|r| pair_set(&r["done"]))
        .collect();
    assert_eq!(proven.len(), 4_000, "the journal proves every pair done");
    // The pairs in doubt that the sandbox had unshared were looked up, not sent again.
    let changed_first: BTreeSet<Pair> = changed[..first_run_log].iter().flatten().cloned().collect();
    let verified: BTreeSet<Pair> = records(&whole, "verified").flat_map(|r| pair_set(&r["done"])).collect();
    let expected: BTreeSet<Pair> = in_doubt.intersection(&changed_first).cloned().collect();
    // (Whether the sandbox carried out a request whose client had died varies: either way, each
    // pair in doubt is looked up, and proven done only if it was.)
    assert_eq!(verified, expected);
    assert!(stderr.contains("looking them up with getShareCloudbaseEnv first"), "{stderr}");
}

#[tokio::test]
async fn ctrl_c_waits_for_the_requests_in_flight_records_them_and_a_second_run_finishes() {
    let job = SlowJob::start(3_000, false, None).await;
    let journal_path = job.journal();
    let args: Vec<&str> = job.args().into_iter().chain(["--json"]).collect();
    let first = spawn_cli(&args);
    let pid = first.id().unwrap().to_string();
    // Read its output as it comes, so that a full pipe never holds it up.
    let output = tokio::spawn(first.wait_with_output());
    wait_for_finished(&journal_path, 10).await;
    // A second run on the same journal meanwhile would send the same pairs: it is refused.
    let second = run_cli(&args, &token_env(), LIMIT).await;
    assert_eq!(second.code, Some(2), "{}", second.stderr);
    assert!(second.stdout.contains("in use by another run"), "{}", second.stdout);
    assert!(tokio::process::Command::new("kill").args(["-INT", &pid]).status().await.unwrap().success());
    let output = output.await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["kind"], "interrupted");
    assert!(!summary["unsent"].as_array().unwrap().is_empty());
    // Every request that left was waited for and recorded.
    let journal = journal(&journal_path);
    assert_eq!(records(&journal, "sending").count(), records(&journal, "finished").count());

    let second = run_cli(&args, &token_env(), LIMIT).await;
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let summary: serde_json::Value = serde_json::from_str(second.stdout.lines().last().unwrap()).unwrap();
    assert!(summary["skipped"].as_u64().unwrap() > 0);
    assert_eq!(summary["skipped"].as_u64().unwrap() + summary["done"].as_u64().unwrap(), 3_000);
    assert_eq!(summary["verification_attempts"], 0, "nothing was in doubt after Ctrl-C");
}

#[tokio::test]
async fn the_daily_quota_stops_the_run_with_exit_4_and_the_token_never_reaches_the_output_or_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (input, journal_path) = (dir.path().join("pairs.csv"), dir.path().join("journal.jsonl"));
    write_csv(&input, &pairs(10));
    let token = "tok-BULK-SECRET-9f3e";
    let quota = format!(
        r#"{{"errcode":45009,"errmsg":"reach max api daily quota limit for {token} rid: 6523abcd-0a1b2c3d-9"}}"#
    );
    let server = ScriptedServer::start(vec![
        ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#),
        ScriptedResponse::json(&quota),
    ])
    .await;
    let run = run_cli(
        &[
            "unshare",
            "--from-file",
            input.to_str().unwrap(),
            "--journal",
            journal_path.to_str().unwrap(),
            "--base-url",
            &server.base_url(),
            "--batch-size",
            "2",
            "--concurrency",
            "1",
            "--json",
        ],
        &[("WECHAT_COMPONENT_ACCESS_TOKEN", token)],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert_eq!(server.count(), 2, "nothing is sent after 45009");
    let lines: Vec<serde_json::Value> =
        run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "two requests and the summary");
    let summary = &lines[2];
    assert_eq!((summary["kind"].as_str(), summary["errcode"].as_i64()), (Some("api"), Some(45009)));
    assert_eq!(summary["rid"], "6523abcd-0a1b2c3d-9");
    assert_eq!(summary["unsent"].as_array().unwrap().len(), 6);
    assert_eq!(summary["errored"].as_array().unwrap().len(), 2);
    let journal_text = std::fs::read_to_string(&journal_path).unwrap();
    for text in [&run.stdout, &run.stderr, &journal_text] {
        assert!(!text.contains(token), "the token leaked: {text}");
    }
    assert!(journal_text.contains("<redacted>"));
}

#[tokio::test]
async fn share_from_standard_input_prints_a_summary_and_bulk_options_need_from_file() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_auto_confirm(true)).await.unwrap();
    let mut child = tokio::process::Command::new(cli_path())
        .args(["share", "--from-file", "-", "--base-url", &sandbox.base_url()])
        .env("WECHAT_COMPONENT_ACCESS_TOKEN", SANDBOX_ACCESS_TOKEN)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"env,appid\nenv-s,wx1\nenv-s,wx2\nenv-s,wx1\n")
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("accepted 2 of 2 pair(s)"), "{stdout}");
    assert!(sandbox.is_shared("env-s", "wx1") && sandbox.is_shared("env-s", "wx2"));

    let run =
        run_cli(&["unshare", "--env", "e", "--appid", "wx1", "--journal", "j"], &token_env(), LIMIT).await;
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--journal goes with --from-file"), "{}", run.stderr);
}

#[tokio::test]
async fn a_resume_sends_a_recorded_failure_again_and_never_looks_it_up_into_a_success() {
    let dir = tempfile::tempdir().unwrap();
    let (input, journal_path) = (dir.path().join("pairs.csv"), dir.path().join("journal.jsonl"));
    // A mistyped env, and a pair that is not shared: both definite failures.
    write_csv(&input, &[("envTYPO".into(), "wx0000".into()), ("env0".into(), "wx00000".into())]);
    let sandbox = StandaloneSandbox::start(&["--env", "env0"]).await;
    let args = [
        "unshare",
        "--from-file",
        input.to_str().unwrap(),
        "--journal",
        journal_path.to_str().unwrap(),
        "--base-url",
        &sandbox.base_url,
    ];
    for _ in 0..2 {
        let run = run_cli(&args, &token_env(), LIMIT).await;
        assert_eq!(run.code, Some(3), "{}", run.stderr);
        assert!(run.stderr.contains("env not found"), "{}", run.stderr);
        assert!(!run.stderr.contains("looking them up"), "{}", run.stderr);
    }
    assert_eq!(records(&journal(&journal_path), "verified").count(), 0);
}

#[tokio::test]
async fn the_token_is_redacted_from_input_refusals_and_a_token_that_cannot_be_sent_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.csv");
    // The token pasted where the pairs belong: the refusal quotes the header it found.
    std::fs::write(&input, format!("{SANDBOX_ACCESS_TOKEN}\n")).unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let base_url = sandbox.base_url();
    for json in [false, true] {
        let mut args = vec!["unshare", "--from-file", input.to_str().unwrap(), "--base-url", &base_url];
        if json {
            args.push("--json");
        }
        let run = run_cli(&args, &token_env(), LIMIT).await;
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(!format!("{}{}", run.stdout, run.stderr).contains(SANDBOX_ACCESS_TOKEN), "{run:?}");
        assert!(format!("{}{}", run.stdout, run.stderr).contains("<redacted>"), "{run:?}");
    }

    write_csv(&input, &pairs(30));
    let bad_token = [("WECHAT_COMPONENT_ACCESS_TOKEN", "tok with spaces")];
    let args =
        ["unshare", "--from-file", input.to_str().unwrap(), "--base-url", &base_url, "--batch-size", "10"];
    let run = run_cli(&args, &bad_token, LIMIT).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("component_access_token"), "{}", run.stderr);
    assert_eq!(sandbox.requests_received(), 0);
}

#[tokio::test]
async fn ctrl_c_ends_a_wait_for_the_rate_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.csv");
    write_csv(&input, &pairs(40));
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let base_url = sandbox.base_url();
    // One request every 100 s: the first leaves at once, the second would wait.
    let child = spawn_cli(&[
        "unshare",
        "--from-file",
        input.to_str().unwrap(),
        "--base-url",
        &base_url,
        "--batch-size",
        "10",
        "--rate",
        "0.01",
        "--json",
    ]);
    let pid = child.id().unwrap().to_string();
    let output = tokio::spawn(child.wait_with_output());
    while sandbox.requests_received() < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(tokio::process::Command::new("kill").args(["-INT", &pid]).status().await.unwrap().success());
    // Not a timing assertion: a run that kept waiting for its rate would take 300 s.
    let output =
        tokio::time::timeout(Duration::from_secs(60), output).await.expect("it stops").unwrap().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["unsent"].as_array().unwrap().len(), 30, "{summary}");
    assert_eq!(sandbox.requests_received(), 1);
}

#[tokio::test]
async fn a_pair_named_twice_in_err_list_counts_once_and_the_reason_of_a_failed_request_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.csv");
    write_csv(&input, &[("env-0".into(), "wx1".into()), ("env-0".into(), "wx2".into())]);
    let twice = r#"{"errcode":0,"errmsg":"ok","err_list":[
        {"env":"env-0","appid":"wx1","errmsg":"not shared"},{"env":"env-0","appid":"wx1","errmsg":"not shared"}]}"#;
    let server = ScriptedServer::start(vec![ScriptedResponse::json(twice)]).await;
    let args =
        ["unshare", "--from-file", input.to_str().unwrap(), "--base-url", &server.base_url(), "--json"];
    let run = run_cli(&args, &token_env(), LIMIT).await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        (summary["failed"].as_array().unwrap().len(), summary["done"].as_u64()),
        (1, Some(1)),
        "{summary}"
    );

    let refused = r#"{"errcode":85088,"errmsg":"no qbase privilege rid: 6523abcd-0a1b2c3d-5"}"#;
    let server = ScriptedServer::start(vec![ScriptedResponse::json(refused)]).await;
    let args = ["unshare", "--from-file", input.to_str().unwrap(), "--base-url", &server.base_url()];
    let run = run_cli(&args, &token_env(), LIMIT).await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("no qbase privilege"), "{}", run.stderr);
}
