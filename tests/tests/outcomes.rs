//! Outcomes that say only what WeChat's answer proves: whether a failed request may have been
//! carried out, what is refused before sending, a request as a set of pairs, matching on the ids
//! as sent, and a terminal that shows only what it is given. Through the SDK and through the
//! `wechat-cloudbase` binary, against scripted servers and the sandbox on 127.0.0.1.

use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer, run_cli};
use wechat_cloudbase::{AccessToken, BatchOutcome, Client, Effect, Error, ErrorKind, UnshareRequest};
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

const TOKEN: &str = "tok-OUTCOMES-4d2e";
const LIMIT: Duration = Duration::from_secs(20);

fn client(base_url: &str, token: &str) -> Client {
    integration_tests::fast_retrying_client(base_url, token)
}

fn request() -> UnshareRequest {
    UnshareRequest::new().env("env-1", ["wx1"])
}

async fn call(responses: Vec<ScriptedResponse>) -> (Result<BatchOutcome, Error>, ScriptedServer) {
    let server = ScriptedServer::start(responses).await;
    let result = client(&server.base_url(), TOKEN)
        .unshare_cloudbase_env(&request())
        .await
        .and_then(BatchOutcome::into_result);
    (result, server)
}

// Item 5: every error says whether the request may have been carried out.

#[tokio::test]
async fn an_errcode_that_refuses_the_request_proves_nothing_was_done() {
    for errcode in [40097, 40101, 41001, 43002, 44002, 47001, 85088] {
        let (result, _) =
            call(vec![ScriptedResponse::json(&format!(r#"{{"errcode":{errcode},"errmsg":"x"}}"#))]).await;
        let error = result.unwrap_err();
        assert_eq!(error.effect(), Effect::Refused, "{errcode}: {error}");
        assert!(!error.may_have_been_applied());
        assert!(!error.to_string().contains("may have been carried out"), "{error}");
    }
}

#[tokio::test]
async fn a_system_error_or_an_undocumented_code_may_have_been_applied() {
    for errcode in [-1000, 61006] {
        let (result, _) =
            call(vec![ScriptedResponse::json(&format!(r#"{{"errcode":{errcode},"errmsg":"x"}}"#))]).await;
        let error = result.unwrap_err();
        assert_eq!(error.effect(), Effect::Unknown, "{errcode}: {error}");
        assert!(error.to_string().contains("may have been carried out"), "{error}");
    }
}

#[tokio::test]
async fn a_refusal_after_a_lost_answer_is_still_uncertain() {
    // A gateway error (the request may have reached WeChat), then busy until retries run out.
    let (result, server) = call(vec![
        ScriptedResponse::raw(504, "text/html", "<html>504</html>"),
        ScriptedResponse::json(r#"{"errcode":-1,"errmsg":"system busy"}"#),
    ])
    .await;
    let error = result.unwrap_err();
    assert_eq!((error.kind(), error.errcode()), (ErrorKind::Api, Some(-1)));
    assert_eq!(error.effect(), Effect::Unknown, "the 504'd attempt may have been carried out: {error}");
    assert_eq!(error.attempts() as usize, server.count());
}

#[tokio::test]
async fn a_gateway_error_and_a_lost_connection_may_have_been_applied() {
    let (result, _) = call(vec![ScriptedResponse::raw(502, "text/html", "bad gateway")]).await;
    assert_eq!(result.unwrap_err().effect(), Effect::Unknown);
    let (url, _accepted) =
        integration_tests::raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"errc", false).await;
    let error = client(&url, TOKEN)
        .unshare_cloudbase_env(&request())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert_eq!((error.kind(), error.effect()), (ErrorKind::Transport, Effect::Unknown), "{error:?}");
}

#[tokio::test]
async fn the_cli_reports_the_effect_and_the_advice() {
    let server =
        ScriptedServer::start(vec![ScriptedResponse::raw(200, "text/html", "<html>maintenance</html>")])
            .await;
    let base_url = server.base_url();
    let args = ["unshare", "--base-url", &base_url, "--env", "env-1", "--appid", "wx1", "--json"];
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
    let report = run.json();
    assert_eq!(
        (report["kind"].as_str(), report["effect"].as_str()),
        (Some("decode"), Some("unknown")),
        "{run:#?}"
    );
    assert!(report["message"].as_str().unwrap().contains("look at the pairs' state again"), "{run:#?}");

    let refused =
        ScriptedServer::start(vec![ScriptedResponse::json(r#"{"errcode":40097,"errmsg":"invalid args"}"#)])
            .await;
    let base_url = refused.base_url();
    let args = ["unshare", "--base-url", &base_url, "--env", "env-1", "--appid", "wx1", "--json"];
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
    assert_eq!(run.json()["effect"], "refused", "{run:#?}");

    let schema = run_cli(&["schema"], &[], LIMIT).await;
    let schema: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
    for field in ["effect", "unverified", "duplicates"] {
        assert!(schema["properties"].get(field).is_some(), "{field} is documented in the schema");
    }
}

// Item 7: everything that goes on the wire is validated first.

#[tokio::test]
async fn a_token_that_would_not_reach_wechat_intact_is_refused_and_nothing_is_sent() {
    let long = "t".repeat(100 * 1024);
    for token in [" tok-1", "tok-1\n", "tok 1", "tok\t1", "tok\u{7f}1", "tok-é", "", long.as_str()] {
        let server = ScriptedServer::start(vec![ScriptedResponse::json(r#"{"errcode":0}"#)]).await;
        let error = client(&server.base_url(), token)
            .unshare_cloudbase_env(&request())
            .await
            .and_then(BatchOutcome::into_result)
            .unwrap_err();
        let Error::InvalidRequest(invalid) = &error else { panic!("{token:?}: {error:?}") };
        assert_eq!(invalid.field, "component_access_token");
        assert_eq!((error.attempts(), error.effect(), server.count()), (0, Effect::NotSent, 0), "{token:?}");
        if !token.trim().is_empty() {
            assert!(!format!("{error} {error:?}").contains(token.trim()), "{token:?}: {error}");
        }
    }
}

#[test]
fn a_base_url_the_parser_would_silently_change_is_refused() {
    for url in
        ["http://127.0.0.1:9/a\nb", "http://127.0.0.1:9/\tx", "http://127.0.0.1:9/ x", "http://127.0.0.1:9\r"]
    {
        let error = Client::new(url, AccessToken::new(TOKEN)).unwrap_err();
        assert!(matches!(&error, Error::InvalidRequest(v) if v.field == "base_url"), "{url:?}: {error:?}");
    }
}

// Item 3: a request is a set of pairs.

#[tokio::test]
async fn a_pair_given_twice_is_sent_once_and_the_outcome_says_so() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    let base_url = server.base_url();
    let args = [
        "unshare",
        "--base-url",
        &base_url,
        "--env",
        "env-1",
        "--appid",
        "wx1",
        "--appid",
        "wx2",
        "--appid",
        "wx1",
        "--json",
    ];
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
    let report = run.json();
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(report["unshared"].as_array().unwrap().len(), 2, "{run:#?}");
    assert_eq!(report["duplicates"], serde_json::json!([{"env": "env-1", "appid": "wx1"}]), "{run:#?}");
    assert!(report["message"].as_str().unwrap().contains("given more than once"), "{run:#?}");
    let sent: serde_json::Value = serde_json::from_slice(&server.received()[0].body).unwrap();
    assert_eq!(sent["data"], serde_json::json!([{"env": "env-1", "appids": ["wx1", "wx2"]}]));
}

#[tokio::test]
async fn the_sandbox_unshares_a_pair_given_twice_once_and_reports_no_failure() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (env, appid) = ("test-env-6gni9ity244a6ea3", "wx5fe6bb43205e9e07");
    let body = serde_json::json!({
        "data": [{"env": env, "appids": [appid, appid]}, {"env": env, "appids": [appid]}],
        "source_type": 1,
    });
    let url =
        format!("{}/componenttcb/batchunshareenv?access_token={SANDBOX_ACCESS_TOKEN}", sandbox.base_url());
    let answer: serde_json::Value =
        integration_tests::reqwest_client().post(url).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert!(answer.get("err_list").is_none(), "no duplicate is reported not shared: {answer}");
    assert!(!sandbox.is_shared(env, appid));
}

#[tokio::test]
async fn one_env_in_two_entries_is_one_data_entry() {
    let request =
        UnshareRequest::new().env("env-1", ["wx1"]).env("env-2", ["wx1"]).env("env-1", ["wx2", "wx1"]);
    let server = ScriptedServer::start(vec![ScriptedResponse::json(r#"{"errcode":0}"#)]).await;
    let unshared = client(&server.base_url(), TOKEN)
        .unshare_cloudbase_env(&request)
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap();
    assert_eq!(unshared.proven.len(), 3);
    assert_eq!(unshared.duplicates.len(), 1);
    let sent: serde_json::Value = serde_json::from_slice(&server.received()[0].body).unwrap();
    assert_eq!(
        sent["data"],
        serde_json::json!([{"env": "env-1", "appids": ["wx1", "wx2"]}, {"env": "env-2", "appids": ["wx1"]}])
    );
}

// Item 2: pairs are matched on the ids as sent and received.

#[tokio::test]
async fn a_token_inside_an_env_id_does_not_turn_a_failed_pair_into_an_unshared_one() {
    let token = "tok-INSIDE-77aa";
    let env = format!("env-{token}-prod");
    let answer = format!(
        r#"{{"errcode":0,"errmsg":"ok","err_list":[{{"env":"{env}","appid":"wx1","errmsg":"env is not shared with appid"}}]}}"#
    );
    let server = ScriptedServer::start(vec![ScriptedResponse::json(&answer)]).await;
    let request = UnshareRequest::new().env(env.clone(), ["wx1", "wx2"]);
    let error = client(&server.base_url(), token)
        .unshare_cloudbase_env(&request)
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    let Error::Partial(partial) = &error else { panic!("{error:?}") };
    assert_eq!(partial.failed.len(), 1, "the failed pair is found: {error:?}");
    assert_eq!(partial.failed[0].env.as_deref(), Some(env.as_str()), "kept as received");
    assert_eq!(partial.proven.len(), 1);
    assert_eq!(partial.proven[0].appid, "wx2");
    assert!(!format!("{error} {error:?} {error:#?}").contains(token), "shown without the token");

    // The same through the binary: exit 3, the pair failed, and the token printed nowhere.
    let base_url = server.base_url();
    let args =
        ["unshare", "--base-url", &base_url, "--env", &env, "--appid", "wx1", "--appid", "wx2", "--json"];
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", token), ("RUST_LOG", "trace")], LIMIT).await;
    assert!(!run.stdout.contains(token) && !run.stderr.contains(token), "{run:#?}");
    let report = run.json();
    assert_eq!(run.code, Some(3), "{run:#?}");
    assert_eq!(report["err_list"][0]["matched"], true, "{run:#?}");
    assert_eq!(report["unshared"], serde_json::json!([{"env": "env-<redacted>-prod", "appid": "wx2"}]));
}

// Item 9: the terminal shows what it is given, nothing more.

#[tokio::test]
async fn server_text_reaches_the_terminal_with_every_invisible_character_escaped() {
    let hostile = r#"evil\u202egnp.exe \u001b[31mred\u200b \u2066x\u2069 line\u2028two"#;
    for answer in [
        format!(r#"{{"errcode":40097,"errmsg":"{hostile} rid: 0000aaaa-1111bbbb-2222cccc"}}"#),
        format!(r#"{{"errcode":0,"err_list":[{{"env":"env-1","appid":"wx1","errmsg":"{hostile}"}}]}}"#),
        format!(r#"{{"errcode":0,"err_list":[{{"env":"{hostile}","appid":"wx1"}}]}}"#),
    ] {
        let server = ScriptedServer::start(vec![ScriptedResponse::json(&answer)]).await;
        let base_url = server.base_url();
        let args = ["unshare", "--base-url", &base_url, "--env", "env-1", "--appid", "wx1"];
        let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
        for raw in ['\u{202e}', '\u{1b}', '\u{200b}', '\u{2066}', '\u{2069}', '\u{2028}'] {
            assert!(
                !run.stderr.contains(raw) && !run.stdout.contains(raw),
                "{raw:?} reached the terminal: {run:#?}"
            );
        }
        assert!(run.stderr.contains(r"\u{202e}"), "shown escaped: {run:#?}");
    }
}

// Item 5 and 7 together: connection refused sends nothing, however often it is tried.

#[tokio::test]
async fn a_refused_connection_counts_no_attempt_and_is_safe_to_repeat() {
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let base_url = format!("http://127.0.0.1:{port}");
    let args = ["unshare", "--base-url", &base_url, "--env", "env-1", "--appid", "wx1", "--json"];
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
    let report = run.json();
    assert_eq!(
        (report["attempts"].as_u64(), report["effect"].as_str()),
        (Some(0), Some("not_sent")),
        "{run:#?}"
    );
    assert!(report["message"].as_str().unwrap().contains("nothing was sent"), "{run:#?}");
}
