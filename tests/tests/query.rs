//! getShareCloudbaseEnv through the SDK, against the sandbox and scripted servers, and the
//! verification of an unshare whose answer left pairs unproven.

use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer};
use wechat_cloudbase::openapi::{operations::GetShareCloudbaseEnv, types};
use wechat_cloudbase::{AccessToken, BatchOutcome, Client, Error, RetryPolicy, ShareQuery, UnshareRequest};
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

const ENV: &str = "test-env-6gni9ity244a6ea3";
const APPIDS: [&str; 2] = ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"];
const TOKEN: &str = "tok-QUERY-91be";

async fn sandbox() -> (Sandbox, Client) {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = Client::new(&sandbox.base_url(), AccessToken::new(SANDBOX_ACCESS_TOKEN)).unwrap();
    (sandbox, client)
}

fn scripted_client(server: &ScriptedServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(
            RetryPolicy::default().with_max_attempts(2).with_initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_sandbox_lists_what_is_shared_before_and_after_an_unshare() {
    let (sandbox, client) = sandbox().await;
    sandbox.share("other-env", APPIDS[0]);
    let query = ShareQuery::new(APPIDS.into_iter().chain(["wx-never-shared"]));
    let before = client.get_share_cloudbase_env(&query).await.unwrap();
    assert_eq!(before.envs_of(APPIDS[0]), Some(&["other-env".to_owned(), ENV.to_owned()][..]));
    assert_eq!(before.is_shared(ENV, APPIDS[1]), Some(true));
    assert_eq!(before.is_shared(ENV, "wx-never-shared"), Some(false), "listed with no env");
    assert!(before.unlisted.is_empty() && before.failed.is_empty());

    client
        .unshare_cloudbase_env(&UnshareRequest::new().env(ENV, APPIDS))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap();
    let after = client.get_share_cloudbase_env(&query).await.unwrap();
    assert_eq!(after.is_shared(ENV, APPIDS[0]), Some(false));
    assert_eq!(after.is_shared("other-env", APPIDS[0]), Some(true), "another env is untouched");
    assert_eq!(after.attempts, 1);
}

#[tokio::test]
async fn an_invalid_query_is_refused_and_nothing_is_sent() {
    let (sandbox, client) = sandbox().await;
    for (query, field) in [
        (ShareQuery::new(Vec::<String>::new()), "appids"),
        (ShareQuery::new(["wx1", "wx 2"]), "appids[1]"),
        (ShareQuery::new(["", "wx2"]), "appids[0]"),
    ] {
        let error = client.get_share_cloudbase_env(&query).await.unwrap_err();
        assert!(matches!(&error, Error::InvalidRequest(v) if v.field == field), "{error:?}");
    }
    assert_eq!(sandbox.requests_received(), 0);
}

#[tokio::test]
async fn the_generic_entry_sends_any_operation_of_the_spec() {
    let (_sandbox, client) = sandbox().await;
    let body: types::GetShareCloudbaseEnvRequest =
        serde_json::from_value(serde_json::json!({"appids": [APPIDS[0]], "source_type": 1})).unwrap();
    let answer = client.call::<GetShareCloudbaseEnv>(&body).await.unwrap();
    let relations = answer.relation_data.unwrap();
    assert_eq!(relations[0].env_list.as_deref(), Some(&[ENV.to_owned()][..]));
    // A refusal comes back as the same typed error as from the typed methods.
    let bad: types::GetShareCloudbaseEnvRequest =
        serde_json::from_value(serde_json::json!({"appids": [APPIDS[0]], "source_type": 7})).unwrap();
    let error = client.call::<GetShareCloudbaseEnv>(&bad).await.unwrap_err();
    assert_eq!(error.errcode(), Some(40097), "{error}");
    assert!(error.rid().is_some());
}

#[tokio::test]
async fn older_err_list_entries_with_env_are_accepted_and_unmentioned_appids_prove_nothing() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(
        r#"{"errcode":0,"errmsg":"ok","relation_data":[{"appid":"wx1","env_list":null}],
            "err_list":[{"appid":"wx2","env":"e","errmsg":"invalid appid"}],"later":1}"#,
    )])
    .await;
    let seen = scripted_client(&server)
        .get_share_cloudbase_env(&ShareQuery::new(["wx1", "wx2", "wx3"]))
        .await
        .unwrap();
    assert_eq!(seen.is_shared("e", "wx1"), Some(false), "a null env_list is no env");
    assert_eq!(seen.is_shared("e", "wx2"), None, "a failed lookup proves nothing");
    assert_eq!(seen.is_shared("e", "wx3"), None, "an unmentioned appid proves nothing");
    assert_eq!(seen.unlisted, ["wx3"]);
    assert_eq!(seen.failed[0].env.as_deref(), Some("e"));
}

#[tokio::test]
async fn a_query_answered_with_an_array_or_an_errcode_is_an_error() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(r#"[0,"ok",[]]"#)]).await;
    let error =
        scripted_client(&server).get_share_cloudbase_env(&ShareQuery::new(["wx1"])).await.unwrap_err();
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
    let server = ScriptedServer::start(vec![ScriptedResponse::json(
        r#"{"errcode":40014,"errmsg":"invalid access_token"}"#,
    )])
    .await;
    let error =
        scripted_client(&server).get_share_cloudbase_env(&ShareQuery::new(["wx1"])).await.unwrap_err();
    assert_eq!(error.errcode(), Some(40014));
}

/// An unshare answer that names an appid one digit short (WeChat's own sample) leaves both pairs
/// unverified; a lookup then proves one unshared and finds the other still shared.
#[tokio::test]
async fn a_lookup_settles_each_unverified_pair_as_wechat_now_sees_it() {
    let server = ScriptedServer::start(vec![
        ScriptedResponse::json(
            r#"{"errcode":0,"errmsg":"ok","err_list":[{"env":"e","appid":"wx00000000000001","errmsg":"invalid appid"}]}"#,
        ),
        ScriptedResponse::json(
            r#"{"errcode":0,"errmsg":"ok","relation_data":[{"appid":"wx1","env_list":[]},{"appid":"wx2","env_list":["e"]}]}"#,
        ),
    ])
    .await;
    let client = scripted_client(&server);
    let error = client
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1", "wx2", "wx3"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    let Error::Partial(mut partial) = error else { panic!("partial expected") };
    assert_eq!(partial.unverified.len(), 3);
    let sent = client.verify_outcome(&mut partial).await.unwrap();
    assert_eq!((sent, partial.verification_attempts), (1, 1));
    assert_eq!(partial.proven.iter().map(|p| p.appid.as_str()).collect::<Vec<_>>(), ["wx1"]);
    assert_eq!(partial.failed.iter().filter_map(|f| f.appid.as_deref()).collect::<Vec<_>>(), ["wx2"]);
    assert_eq!(
        partial.unverified.iter().map(|p| p.appid.as_str()).collect::<Vec<_>>(),
        ["wx3"],
        "not listed"
    );
    assert_eq!(partial.verified.len(), 2);
    assert!(!partial.is_complete());
    let lookup: serde_json::Value = serde_json::from_slice(&server.received()[1].body).unwrap();
    assert_eq!(lookup, serde_json::json!({"appids": ["wx1", "wx2", "wx3"], "source_type": 1}));
}

#[tokio::test]
async fn a_failed_lookup_settles_nothing_and_counts_its_request() {
    let server = ScriptedServer::start(vec![
        ScriptedResponse::json(r#"{"errcode":0,"err_list":[{"appid":"wx9"}]}"#),
        ScriptedResponse::raw(400, "text/html", "no"),
    ])
    .await;
    let client = scripted_client(&server);
    let Err(Error::Partial(mut partial)) = client
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
    else {
        panic!("partial expected")
    };
    let before = partial.clone();
    assert!(client.verify_outcome(&mut partial).await.is_err());
    assert_eq!(partial.verification_attempts, 1, "the lookup request that left is counted");
    partial.verification_attempts = 0;
    assert_eq!(partial, before, "and nothing is settled");
}

#[tokio::test]
async fn nothing_is_looked_up_when_the_answer_proves_everything() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(
        r#"{"errcode":0,"err_list":[{"env":"e","appid":"wx1","errmsg":"env is not shared with appid"}]}"#,
    )])
    .await;
    let client = scripted_client(&server);
    let Err(Error::Partial(mut partial)) = client
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
    else {
        panic!("partial expected")
    };
    assert_eq!(client.verify_outcome(&mut partial).await.unwrap(), 0);
    assert_eq!(server.count(), 1);
}

/// `wechat-cloudbase shared` against the embedded sandbox and a scripted server: exit 0 when
/// every appid was looked up (even without environments), 3 when some could not be, and the
/// token printed nowhere.
#[tokio::test]
async fn the_shared_command_lists_environments_and_exits_by_what_was_looked_up() {
    use integration_tests::run_cli;
    const LIMIT: Duration = Duration::from_secs(20);
    let run =
        run_cli(&["shared", "--sandbox", "--appid", APPIDS[0], "--appid", "wx-none", "--json"], &[], LIMIT)
            .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let report = run.json();
    assert_eq!(
        report["relations"],
        serde_json::json!([{"appid": APPIDS[0], "envs": [ENV]}, {"appid": "wx-none", "envs": []}])
    );

    let server = ScriptedServer::start(vec![ScriptedResponse::json(&format!(
        r#"{{"errcode":0,"errmsg":"ok","relation_data":[{{"appid":"wx1","env_list":["e"]}}],"err_list":[{{"appid":"wx2","errmsg":"bad {TOKEN}"}}]}}"#
    ))])
    .await;
    let base_url = server.base_url();
    for json in [true, false] {
        let mut args =
            vec!["shared", "--base-url", &base_url, "--appid", "wx1", "--appid", "wx2", "--appid", "wx3"];
        if json {
            args.push("--json");
        }
        let run =
            run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN), ("RUST_LOG", "trace")], LIMIT).await;
        assert_eq!(run.code, Some(3), "{run:#?}");
        assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "{run:#?}");
        if json {
            let report = run.json();
            assert_eq!(report["kind"], "partial");
            assert_eq!(report["unlisted"], serde_json::json!(["wx3"]));
            assert_eq!(report["err_list"][0]["appid"], "wx2");
        } else {
            assert!(run.stdout.contains("wx1: e"), "{run:#?}");
        }
    }
    let schema = run_cli(&["schema", "shared"], &[], LIMIT).await;
    let schema: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
    for field in ["relations", "err_list", "unlisted", "attempts", "kind"] {
        assert!(schema["properties"].get(field).is_some(), "{field}");
    }
}
