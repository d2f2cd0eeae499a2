//! The sharing lifecycle, share → query → unshare, through the SDK and the `wechat-cloudbase`
//! binary: against scripted servers (what WeChat may answer) and against the sandbox (a whole
//! round trip with confirmation).

use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer, run_cli};
use wechat_cloudbase::{AccessToken, BatchOperation, Client, EnvAppid, Error, ShareRequest, SourceType};

const TOKEN: &str = "tok-LIFECYCLE-7c1a";
const LIMIT: Duration = Duration::from_secs(20);
const ENV: &str = "test-env-6gni9ity244a6ea3";
const APPIDS: [&str; 2] = ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"];

fn client(base_url: &str) -> Client {
    integration_tests::fast_retrying_client(base_url, TOKEN)
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
    assert!(run.stdout.contains("accepted 2 (env, appid) pair(s)"), "{}", run.stdout);
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

// The whole lifecycle against the sandbox: share, confirm at the URL WeChat's answer gives, look
// up, unshare, look up again.

use wechat_cloudbase::{BatchRequest, ShareQuery};
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

/// Not among the pairs the sandbox seeds by default.
const NEW_ENV: &str = "env-lifecycle-2f9c";
const NEW_APPIDS: [&str; 2] = ["wx1111111111111111", "wx2222222222222222"];

#[tokio::test]
async fn share_confirm_list_and_unshare_through_the_sdk() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = Client::new(&sandbox.base_url(), AccessToken::new(SANDBOX_ACCESS_TOKEN)).unwrap();
    let pairs = BatchRequest::new().env(NEW_ENV, NEW_APPIDS);
    let query = ShareQuery::new(NEW_APPIDS);

    let shared = client.share_cloudbase_env(&pairs).await.unwrap();
    assert!(shared.is_complete(), "{shared}");
    assert_eq!(shared.confirmations.len(), 2);
    let seen = client.get_share_cloudbase_env(&query).await.unwrap();
    assert_eq!(seen.is_shared(NEW_ENV, NEW_APPIDS[0]), Some(false), "pending until its admin confirms");

    for confirmation in &shared.confirmations {
        let url = confirmation.url.as_deref().unwrap();
        assert_eq!(integration_tests::reqwest_client().get(url).send().await.unwrap().status(), 200, "{url}");
    }
    let seen = client.get_share_cloudbase_env(&query).await.unwrap();
    assert_eq!(
        (seen.is_shared(NEW_ENV, NEW_APPIDS[0]), seen.is_shared(NEW_ENV, NEW_APPIDS[1])),
        (Some(true), Some(true))
    );

    let unshared = client.unshare_cloudbase_env(&pairs).await.unwrap();
    assert!(unshared.is_complete(), "{unshared}");
    assert_eq!(unshared.proven.len(), 2);
    let seen = client.get_share_cloudbase_env(&query).await.unwrap();
    assert_eq!(
        (seen.is_shared(NEW_ENV, NEW_APPIDS[0]), seen.is_shared(NEW_ENV, NEW_APPIDS[1])),
        (Some(false), Some(false))
    );

    // Unsharing again proves nothing done: each pair is an err_list entry, an outcome, not an error.
    let again = client.unshare_cloudbase_env(&pairs).await.unwrap();
    assert_eq!((again.proven.len(), again.failed.len()), (0, 2), "{again}");
    assert!(again.into_result().is_err());
}

#[tokio::test]
async fn cloudbase_and_cloudrun_environments_are_shared_apart() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_auto_confirm(true)).await.unwrap();
    let client = Client::new(&sandbox.base_url(), AccessToken::new(SANDBOX_ACCESS_TOKEN)).unwrap();
    let cloudbase = BatchRequest::new().env(NEW_ENV, [NEW_APPIDS[0]]).source_type(SourceType::CloudBase);
    assert!(client.share_cloudbase_env(&cloudbase).await.unwrap().is_complete());
    let under = |source_type| ShareQuery::new([NEW_APPIDS[0]]).source_type(source_type);
    let seen = client.get_share_cloudbase_env(&under(SourceType::CloudBase)).await.unwrap();
    assert_eq!(seen.is_shared(NEW_ENV, NEW_APPIDS[0]), Some(true));
    let seen = client.get_share_cloudbase_env(&under(SourceType::CloudRun)).await.unwrap();
    assert_eq!(seen.is_shared(NEW_ENV, NEW_APPIDS[0]), Some(false));
    let error =
        client.share_cloudbase_env(&cloudbase.clone().source_type(SourceType::Other(2))).await.unwrap_err();
    assert_eq!(error.errcode(), Some(40097), "{error}");
}

#[tokio::test]
async fn the_cli_runs_the_whole_lifecycle_against_the_sandbox() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let url = sandbox.base_url();
    let env = [("WECHAT_COMPONENT_ACCESS_TOKEN", SANDBOX_ACCESS_TOKEN)];
    let with = |command: &'static str, json: bool| {
        let mut args = vec![command, "--base-url", &url];
        if command != "shared" {
            args.extend(["--env", NEW_ENV]);
        }
        args.extend(["--appid", NEW_APPIDS[0], "--appid", NEW_APPIDS[1]]);
        if json {
            args.push("--json");
        }
        args
    };

    let share = run_cli(&with("share", true), &env, LIMIT).await;
    assert_eq!(share.code, Some(0), "{share:?}");
    let share = share.json();
    assert_eq!(share["accepted"].as_array().unwrap().len(), 2);
    let shared = run_cli(&with("shared", true), &env, LIMIT).await.json();
    assert_eq!(shared["relations"][0]["envs"], serde_json::json!([]), "pending: not listed yet");

    for confirmation in share["confirmations"].as_array().unwrap() {
        let link = confirmation["url"].as_str().unwrap();
        assert_eq!(integration_tests::reqwest_client().get(link).send().await.unwrap().status(), 200);
    }
    let shared = run_cli(&with("shared", false), &env, LIMIT).await;
    assert_eq!(shared.code, Some(0), "{shared:?}");
    assert_eq!(shared.stdout.matches(NEW_ENV).count(), 2, "both appids list the env: {}", shared.stdout);

    let unshare = run_cli(&with("unshare", false), &env, LIMIT).await;
    assert_eq!(unshare.code, Some(0), "{unshare:?}");
    assert!(unshare.stdout.contains("unshared 2 (env, appid) pair(s)"), "{}", unshare.stdout);
    let again = run_cli(&with("unshare", true), &env, LIMIT).await;
    assert_eq!(again.code, Some(3), "not shared any more: {again:?}");
    assert!(!sandbox.is_shared(NEW_ENV, NEW_APPIDS[0]) && !sandbox.is_shared(NEW_ENV, NEW_APPIDS[1]));
}

// Review findings: what the CLI says when an answer leaves something out.

#[tokio::test]
async fn share_names_the_accepted_appids_without_a_confirmation_url() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(&format!(
        r#"{{"errcode":0,"errmsg":"ok","msg_info_list":[{{"appid":"{}","url":"https://example.invalid/c/2?t={TOKEN}"}}]}}"#,
        APPIDS[1]
    ))])
    .await;
    let url = server.base_url();
    let args =
        ["share", "--base-url", &url, "--env", ENV, "--appid", APPIDS[0], "--appid", APPIDS[1], "--json"];
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
    let json = run.json();
    assert_eq!(json["missing_confirmations"], serde_json::json!([APPIDS[0]]), "{run:#?}");
    assert!(json["message"].as_str().unwrap().contains("no confirmation URL"), "{run:#?}");
    // A hostile server echoing the token in a URL: it is shown nowhere.
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "{run:#?}");
    assert!(json["confirmations"][0]["url"].as_str().unwrap().contains("<redacted>"), "{run:#?}");
}

#[tokio::test]
async fn shared_does_not_call_an_appid_listed_twice_with_different_envs_a_success() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(
        r#"{"errcode":0,"errmsg":"ok","relation_data":[{"appid":"wx1","env_list":["e1"]},{"appid":"wx1","env_list":[]}]}"#,
    )])
    .await;
    let url = server.base_url();
    let run = run_cli(
        &["shared", "--base-url", &url, "--appid", "wx1", "--json"],
        &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(3), "{run:#?}");
    assert_eq!(run.json()["contradictory"], serde_json::json!(["wx1"]));
}

#[tokio::test]
async fn a_usage_error_with_json_is_the_object_of_its_command_and_names_its_operation() {
    let run =
        run_cli(&["share", "--env", "e", "--appid", "wx1", "--source-type", "abc", "--json"], &[], LIMIT)
            .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    let json = run.json();
    assert_eq!(json["operation"], "shareCloudbaseEnv");
    assert!(json["message"].as_str().unwrap().contains("--source-type"), "{json}");
    assert!(json["message"].as_str().unwrap().contains("wechat-cloudbase share --help"), "{json}");

    let run = run_cli(&["share", "--env", "e", "--json"], &[], LIMIT).await;
    assert!(
        run.json()["message"].as_str().unwrap().contains("--appid"),
        "the missing argument is named: {run:#?}"
    );

    let run = run_cli(&["shared", "--appid", "wx1", "--source-type", "x", "--json"], &[], LIMIT).await;
    let json = run.json();
    assert!(json.get("relations").is_some() && json.get("unlisted").is_some(), "the shared object: {json}");

    let run = run_cli(
        &[
            "call",
            "shareCloudbaseEnv",
            "--sandbox",
            "--json",
            "--body",
            r#"{"data":[{"env":"e","appids":["wx1"]}],"source_type":2}"#,
        ],
        &[],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(4), "{run:#?}");
    assert_eq!(run.json()["operation"], "shareCloudbaseEnv");
}
