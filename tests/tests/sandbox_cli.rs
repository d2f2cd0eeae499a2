//! Each behaviour of the sandbox reaches the `wechat-cloudbase` binary with its errcode and exit
//! code; the binary itself only ever sends correct requests, so a proxy alters them on the way.

use std::time::Duration;

use axum::http::Method;
use integration_tests::{MutatingProxy, Mutation, run_cli};
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

const ENV: &str = "test-env-6gni9ity244a6ea3";
const APPID: &str = "wx5fe6bb43205e9e07";
const LIMIT: Duration = Duration::from_secs(20);

async fn unshare_via(
    base_url: &str,
    token: &str,
    appids: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let mut args = vec!["unshare", "--base-url", base_url, "--env", ENV, "--json"];
    for appid in appids {
        args.extend(["--appid", appid]);
    }
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", token)], LIMIT).await;
    assert!(!run.stdout.contains(token) && !run.stderr.contains(token), "token leaked: {run:#?}");
    (run.code, run.json(), run.stderr)
}

#[tokio::test]
async fn every_documented_sandbox_refusal_reaches_the_cli_as_exit_4_with_its_errcode() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let cases = [
        (Mutation::DropToken, 41001),
        (Mutation::UnknownToken, 40014),
        (Mutation::EmptyBody, 44002),
        (Mutation::NotJson, 47001),
        (Mutation::DropField("data"), 40101),
        (Mutation::DropField("source_type"), 40101),
        (Mutation::SourceType(2), 40097),
        (Mutation::Method(Method::GET), 43002),
        (Mutation::Method(Method::PUT), 43002),
    ];
    for (mutation, errcode) in cases {
        let proxy = MutatingProxy::start(sandbox.base_url(), mutation.clone()).await;
        let (code, report, _) = unshare_via(&proxy.base_url(), SANDBOX_ACCESS_TOKEN, &[APPID]).await;
        assert_eq!(code, Some(4), "{mutation:?}: {report}");
        assert_eq!(report["kind"], "api", "{mutation:?}");
        assert_eq!(report["errcode"], errcode, "{mutation:?}");
        assert!(report["rid"].as_str().is_some_and(|r| !r.is_empty()), "{mutation:?} has a rid: {report}");
        assert_eq!(report["attempts"], 1, "{mutation:?} is not retried");
    }
    // None of these changed anything.
    assert!(sandbox.is_shared(ENV, APPID));
}

#[tokio::test]
async fn an_unknown_token_is_an_api_error_without_a_proxy() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (code, report, _) = unshare_via(&sandbox.base_url(), "tok-unknown-3b7e", &[APPID]).await;
    assert_eq!(code, Some(4));
    assert_eq!(report["errcode"], 40014);
    assert!(sandbox.is_shared(ENV, APPID));
}

#[tokio::test]
async fn a_pair_that_is_not_shared_is_exit_3_with_the_pair_in_err_list() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (code, report, stderr) =
        unshare_via(&sandbox.base_url(), SANDBOX_ACCESS_TOKEN, &[APPID, "wx00000000000000ff"]).await;
    assert_eq!(code, Some(3), "{report} {stderr}");
    assert_eq!(report["kind"], "partial");
    assert_eq!(report["errcode"], 0);
    assert_eq!(
        report["err_list"],
        serde_json::json!([{
            "env": ENV,
            "appid": "wx00000000000000ff",
            "errmsg": "env is not shared with appid",
            "matched": true,
            "after_uncertain_attempt": false,
        }])
    );
    assert_eq!(report["unshared"], serde_json::json!([{"env": ENV, "appid": APPID}]));
    assert!(!sandbox.is_shared(ENV, APPID), "the shared pair was unshared");
}

#[tokio::test]
async fn an_env_without_cloud_development_is_85088() {
    let config = SandboxConfig::default().with_no_qbase_envs(vec![ENV.into()]);
    let sandbox = Sandbox::start(config).await.unwrap();
    let (code, report, _) = unshare_via(&sandbox.base_url(), SANDBOX_ACCESS_TOKEN, &[APPID]).await;
    assert_eq!(code, Some(4));
    assert_eq!(report["errcode"], 85088);
    assert!(sandbox.is_shared(ENV, APPID));
}

#[tokio::test]
async fn the_main_job_unshares_the_documented_pairs_in_the_embedded_sandbox() {
    let args =
        ["unshare", "--sandbox", "--env", ENV, "--appid", APPID, "--appid", "wx075cf85bf347b6df", "--json"];
    let run = run_cli(&args, &[], LIMIT).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let report = run.json();
    assert_eq!(report["kind"], "ok");
    assert_eq!(report["ok"], true);
    assert_eq!(report["unshared"].as_array().map(Vec::len), Some(2));
    assert!(run.stderr.contains("nothing was sent to WeChat"), "{}", run.stderr);

    let human = run_cli(&args[..args.len() - 1], &[], LIMIT).await;
    assert_eq!(human.code, Some(0));
    assert!(human.stdout.contains("unshared 2"), "{}", human.stdout);
}

#[tokio::test]
async fn usage_errors_send_nothing_and_exit_2() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let base = sandbox.base_url();
    // No token and no --sandbox.
    let run =
        run_cli(&["unshare", "--base-url", &base, "--env", ENV, "--appid", APPID, "--json"], &[], LIMIT)
            .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_eq!(run.json()["kind"], "validation");
    assert!(run.json()["message"].as_str().unwrap().contains("WECHAT_COMPONENT_ACCESS_TOKEN"));
    // Invalid input, named by field.
    let token = [("WECHAT_COMPONENT_ACCESS_TOKEN", "tok-x-9a1")];
    let run =
        run_cli(&["unshare", "--base-url", &base, "--env", ENV, "--appid", "", "--json"], &token, LIMIT)
            .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.json()["message"].as_str().unwrap().contains("data[0].appids[0]"), "{}", run.stdout);
    // A bad base URL.
    let run = run_cli(
        &["unshare", "--base-url", "not a url", "--env", ENV, "--appid", APPID, "--json"],
        &token,
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.json()["message"].as_str().unwrap().contains("base_url"));
    // Missing arguments, with --json: still one JSON object.
    let run = run_cli(&["unshare", "--env", ENV, "--json"], &token, LIMIT).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_eq!(run.json()["kind"], "validation");
    // Both --sandbox and --base-url.
    let run = run_cli(
        &["unshare", "--sandbox", "--base-url", &base, "--env", ENV, "--appid", APPID],
        &token,
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");

    assert_eq!(sandbox.requests_received(), 0, "nothing was sent");
}

#[tokio::test]
async fn the_token_comes_from_the_environment_and_the_base_url_from_its_variable() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let env = [
        ("WECHAT_COMPONENT_ACCESS_TOKEN", SANDBOX_ACCESS_TOKEN),
        ("WECHAT_API_BASE_URL", &*sandbox.base_url()),
    ];
    let run = run_cli(&["unshare", "--env", ENV, "--appid", APPID, "--json"], &env, LIMIT).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(sandbox.requests_received(), 1);
}

#[tokio::test]
async fn schema_describes_the_json_report() {
    let run = run_cli(&["schema"], &[], LIMIT).await;
    assert_eq!(run.code, Some(0));
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for field in ["ok", "kind", "errcode", "errmsg", "rid", "http_status", "err_list", "attempts", "message"]
    {
        assert!(properties.contains_key(field), "{field} is in the schema");
    }
}

#[tokio::test]
async fn non_utf8_arguments_are_a_usage_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"\xff");
    for json in [true, false] {
        let mut command = tokio::process::Command::new(integration_tests::cli_path());
        command.args(["unshare", "--appid", "wx1", "--env"]).arg(bad);
        if json {
            command.arg("--json");
        }
        let output = command.output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        if json {
            let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(report["kind"], "validation");
        }
    }
}

#[tokio::test]
async fn a_closed_stdout_does_not_turn_success_into_a_crash() {
    let mut child = tokio::process::Command::new(integration_tests::cli_path())
        .args(["unshare", "--sandbox", "--env", ENV, "--appid", APPID])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = tokio::time::timeout(LIMIT, child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn server_text_cannot_drive_the_terminal_or_break_the_one_line_message() {
    let hostile = r#"{"errcode":0,"errmsg":"ok","err_list":[{"env":"e\u001b[2J","appid":"wx1","errmsg":"\u001b[31mRED\r\nfake: line"}]}"#;
    let server =
        integration_tests::ScriptedServer::start(vec![integration_tests::ScriptedResponse::json(hostile)])
            .await;
    let base = server.base_url();
    let token = [("WECHAT_COMPONENT_ACCESS_TOKEN", "tok-9f")];
    let human =
        run_cli(&["unshare", "--base-url", &base, "--env", "e", "--appid", "wx1"], &token, LIMIT).await;
    assert_eq!(human.code, Some(3));
    assert!(!human.stderr.contains('\u{1b}'), "{:?}", human.stderr);
    let json =
        run_cli(&["unshare", "--base-url", &base, "--env", "e", "--appid", "wx1", "--json"], &token, LIMIT)
            .await;
    let report = json.json();
    assert!(!report["message"].as_str().unwrap().chars().any(char::is_control), "{report}");
    assert_eq!(
        report["err_list"][0]["errmsg"], "\u{1b}[31mRED\r\nfake: line",
        "the data itself is kept as sent"
    );
}
