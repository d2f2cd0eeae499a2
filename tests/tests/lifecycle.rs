//! The sharing lifecycle, share → query → unshare, through the SDK and the `wechat-cloudbase`
//! binary: against scripted servers (what WeChat may answer) and against the sandbox (a whole
//! round trip with confirmation).

use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer, run_cli};
use wechat_cloudbase::{
    AccessToken, BatchOperation, Client, EnvAppid, Error, RetryPolicy, ShareRequest, SourceType,
};

const TOKEN: &str = "tok-LIFECYCLE-7c1a";
const LIMIT: Duration = Duration::from_secs(20);
const ENV: &str = "test-env-6gni9ity244a6ea3";
const APPIDS: [&str; 2] = ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"];

fn client(base_url: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

fn pair(env: &str, appid: &str) -> EnvAppid {
    EnvAppid::new(env, appid)
}

const ACCEPTED: &str = r#"{"errcode":0,"errmsg":"ok","err_list":[],"msg_info_list":[
    {"appid":"wx5fe6bb43205e9e07","url":"https://example.invalid/confirm?t=1"},
    {"appid":"wx075cf85bf347b6df","url":"https://example.invalid/confirm?t=2"}]}"#;

#[tokio::test]
async fn share_sends_the_batch_body_to_its_path_and_returns_the_confirmation_urls() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(ACCEPTED)]).await;
    let request = ShareRequest::new().env(ENV, APPIDS).source_type(SourceType::CloudBase);
    let outcome = client(&server.base_url()).share_cloudbase_env(&request).await.unwrap();
    assert!(outcome.is_complete(), "{outcome}");
    assert_eq!(outcome.operation, BatchOperation::Share);
    assert_eq!(outcome.proven, [pair(ENV, APPIDS[0]), pair(ENV, APPIDS[1])]);
    let urls: Vec<_> = outcome.confirmations.iter().map(|c| c.url.as_deref().unwrap()).collect();
    assert_eq!(urls, ["https://example.invalid/confirm?t=1", "https://example.invalid/confirm?t=2"]);
    let sent = &server.received()[0];
    assert_eq!(sent.path, "/componenttcb/batchshareenv");
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body, serde_json::json!({"data": [{"env": ENV, "appids": APPIDS}], "source_type": 0}));
}

#[tokio::test]
async fn a_partial_share_is_an_outcome_and_into_result_makes_it_an_error() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(&format!(
        r#"{{"errcode":0,"errmsg":"ok","err_list":[{{"env":"{ENV}","appid":"{}","errmsg":"no permission"}}],
            "msg_info_list":[{{"appid":"{}","url":"https://example.invalid/c"}}]}}"#,
        APPIDS[1], APPIDS[0]
    ))])
    .await;
    let request = ShareRequest::new().env(ENV, APPIDS);
    let outcome = client(&server.base_url()).share_cloudbase_env(&request).await.unwrap();
    assert!(!outcome.is_complete());
    assert_eq!(outcome.proven, [pair(ENV, APPIDS[0])]);
    assert_eq!(outcome.failed[0].appid.as_deref(), Some(APPIDS[1]));
    assert!(outcome.to_string().contains("could not be shared"), "{outcome}");
    let error = outcome.clone().into_result().unwrap_err();
    assert!(matches!(&error, Error::Partial(p) if **p == outcome), "{error}");
}

#[tokio::test]
async fn an_unshare_left_unverified_is_settled_by_a_lookup_under_the_same_source_type() {
    let server = ScriptedServer::start(vec![
        // An entry that names no requested pair: the others are unverified.
        ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok","err_list":[{"env":"other","appid":"wx0"}]}"#),
        ScriptedResponse::json(&format!(
            r#"{{"errcode":0,"errmsg":"ok","relation_data":[{{"appid":"{}","env_list":[]}},{{"appid":"{}","env_list":["{ENV}"]}}]}}"#,
            APPIDS[0], APPIDS[1]
        )),
    ])
    .await;
    let client = client(&server.base_url());
    let request = ShareRequest::new().env(ENV, APPIDS).source_type(SourceType::CloudBase);
    let mut outcome = client.unshare_cloudbase_env(&request).await.unwrap();
    assert_eq!(outcome.unverified.len(), 2);
    assert_eq!(client.verify_outcome(&mut outcome).await.unwrap(), 1);
    assert_eq!(outcome.proven, [pair(ENV, APPIDS[0])], "listed without the env: unshared");
    assert_eq!(outcome.failed.iter().filter(|f| f.appid.as_deref() == Some(APPIDS[1])).count(), 1);
    assert_eq!((outcome.verified.len(), outcome.verification_attempts), (2, 1));
    let lookup = &server.received()[1];
    assert_eq!(lookup.path, "/componenttcb/batchgetenvid");
    let body: serde_json::Value = serde_json::from_slice(&lookup.body).unwrap();
    assert_eq!(body["source_type"], 0, "looked up under the request's source_type");
}

#[tokio::test]
async fn the_cli_shares_prints_each_confirmation_url_and_keeps_the_json_fields() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(ACCEPTED)]).await;
    let url = server.base_url();
    let base = ["share", "--base-url", &url, "--env", ENV, "--appid", APPIDS[0], "--appid", APPIDS[1]];
    let env = [("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)];
    let run = run_cli(&base, &env, LIMIT).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("shared 2 (env, appid) pair(s)"), "{}", run.stdout);
    assert!(run.stdout.contains("https://example.invalid/confirm?t=2"), "{}", run.stdout);
    assert!(run.stdout.contains("admin confirms"), "{}", run.stdout);

    let run = run_cli(&[&base[..], &["--json", "--source-type", "0"]].concat(), &env, LIMIT).await;
    let json = run.json();
    assert_eq!((json["ok"].as_bool(), json["kind"].as_str()), (Some(true), Some("ok")));
    assert_eq!(json["operation"], "shareCloudbaseEnv");
    assert_eq!(json["accepted"].as_array().unwrap().len(), 2);
    assert_eq!(json["unshared"], serde_json::json!([]));
    assert_eq!(json["confirmations"][1]["appid"], APPIDS[1]);
    assert_eq!((json["effect"].as_str(), json["attempts"].as_u64()), (Some("applied"), Some(1)));
    let body: serde_json::Value = serde_json::from_slice(&server.received()[1].body).unwrap();
    assert_eq!(body["source_type"], 0);
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
}

#[tokio::test]
async fn the_cli_reports_a_partial_share_with_exit_3_and_the_schema_describes_it() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(&format!(
        r#"{{"errcode":0,"errmsg":"ok","err_list":[{{"env":"{ENV}","appid":"{}","errmsg":"no permission"}}]}}"#,
        APPIDS[1]
    ))])
    .await;
    let url = server.base_url();
    let args =
        ["share", "--base-url", &url, "--env", ENV, "--appid", APPIDS[0], "--appid", APPIDS[1], "--json"];
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
    assert_eq!(run.code, Some(3), "{run:?}");
    let json = run.json();
    assert_eq!(json["kind"], "partial");
    assert_eq!(json["err_list"][0]["matched"], true);
    assert_eq!(json["err_list"][0]["errmsg"], "no permission");
    assert_eq!(json["accepted"], serde_json::json!([{"env": ENV, "appid": APPIDS[0]}]));

    let schema = run_cli(&["schema", "share"], &[], LIMIT).await;
    assert_eq!(schema.code, Some(0));
    let schema: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
    for field in ["accepted", "confirmations", "unshared", "err_list", "operation", "effect"] {
        assert!(schema["properties"].get(field).is_some(), "{field} in {schema}");
    }
}

#[tokio::test]
async fn a_bad_source_type_or_pair_is_refused_before_anything_is_sent() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(ACCEPTED)]).await;
    let url = server.base_url();
    let env = [("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)];
    let run =
        run_cli(&["share", "--base-url", &url, "--env", "", "--appid", "wx1", "--json"], &env, LIMIT).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.json()["message"].as_str().unwrap().contains("data[0].env"));
    let run = run_cli(
        &["share", "--base-url", &url, "--env", "e", "--appid", "wx1", "--source-type", "x"],
        &env,
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(server.count(), 0);
}
