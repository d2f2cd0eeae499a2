//! `wechat-cloudbase call OPERATION_ID --body …`: any operation of the spec through the binary,
//! with the SDK's engine, and secrets kept off the command line and out of the output.

use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer, run_cli};

const LIMIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "tok-CALL-3e9a";

#[tokio::test]
async fn any_operation_of_the_spec_is_sent_by_its_operation_id() {
    let body = r#"{"appids":["wx5fe6bb43205e9e07"],"source_type":1}"#;
    let run = run_cli(&["call", "getShareCloudbaseEnv", "--sandbox", "--body", body], &[], LIMIT).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let answer = run.json();
    assert_eq!(answer["relation_data"][0]["env_list"], serde_json::json!(["test-env-6gni9ity244a6ea3"]));

    let body =
        r#"{"data":[{"env":"test-env-6gni9ity244a6ea3","appids":["wx5fe6bb43205e9e07"]}],"source_type":1}"#;
    let run = run_cli(&["call", "unshareCloudbaseEnv", "--sandbox", "--body", body], &[], LIMIT).await;
    assert_eq!((run.code, run.json()["errcode"].as_i64()), (Some(0), Some(0)), "{run:#?}");
}

#[tokio::test]
async fn a_body_with_secrets_comes_from_a_file_and_every_secret_is_redacted_from_the_output() {
    let secret = "appsecret-CALL-77d1";
    let issued = "tok-ISSUED-CALL-41aa";
    let server = ScriptedServer::start(vec![ScriptedResponse::json(&format!(
        r#"{{"component_access_token":"{issued}","expires_in":7200,"note":"echo {secret}"}}"#
    ))])
    .await;
    let base_url = server.base_url();
    let body = format!(
        r#"{{"component_appid":"wx0123456789abcdef","component_appsecret":"{secret}","component_verify_ticket":"ticket@@@call"}}"#
    );
    // On the command line: refused before anything is sent (it would be in `ps` and shell history).
    let run = run_cli(
        &["call", "getComponentAccessToken", "--base-url", &base_url, "--body", &body, "--json"],
        &[],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_eq!(server.count(), 0);

    let file = std::env::temp_dir().join(format!("wechat-cloudbase-call-{}.json", std::process::id()));
    std::fs::write(&file, &body).unwrap();
    let at_file = format!("@{}", file.display());
    // No WECHAT_COMPONENT_ACCESS_TOKEN: this operation does not carry one.
    let run = run_cli(
        &["call", "getComponentAccessToken", "--base-url", &base_url, "--body", &at_file],
        &[],
        LIMIT,
    )
    .await;
    std::fs::remove_file(&file).unwrap();
    assert_eq!(run.code, Some(0), "{run:#?}");
    for text in [secret, issued, "ticket@@@call"] {
        assert!(!run.stdout.contains(text) && !run.stderr.contains(text), "{text} printed: {run:#?}");
    }
    assert_eq!(run.json()["component_access_token"], "<redacted>");
    let sent = &server.received()[0];
    assert_eq!(sent.query, None, "no token is sent to an operation the spec does not secure");
}

#[tokio::test]
async fn bad_input_is_refused_before_sending_and_errors_keep_their_exit_codes() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(&format!(
        r#"{{"errcode":40097,"errmsg":"invalid args {TOKEN} rid: 0000aaaa-1111bbbb-2222cccc"}}"#
    ))])
    .await;
    let base_url = server.base_url();
    let env = [("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)];
    let good = r#"{"appids":["wx1"],"source_type":1}"#;
    for (args, code) in [
        (vec!["call", "noSuchOperation", "--base-url", &base_url, "--body", good, "--json"], 2),
        (vec!["call", "getShareCloudbaseEnv", "--base-url", &base_url, "--body", "{not json", "--json"], 2),
        (
            vec![
                "call",
                "getShareCloudbaseEnv",
                "--base-url",
                &base_url,
                "--body",
                r#"{"appids":["wx1"]}"#,
                "--json",
            ],
            2,
        ),
        (
            vec![
                "call",
                "getShareCloudbaseEnv",
                "--base-url",
                &base_url,
                "--body",
                "@/nonexistent/body.json",
                "--json",
            ],
            2,
        ),
    ] {
        let run = run_cli(&args, &env, LIMIT).await;
        assert_eq!(run.code, Some(code), "{args:?}: {run:#?}");
        assert_eq!(run.json()["kind"], "validation", "{args:?}");
    }
    assert_eq!(server.count(), 0, "nothing was sent");

    let run = run_cli(
        &["call", "getShareCloudbaseEnv", "--base-url", &base_url, "--body", good, "--json"],
        &env,
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(4), "{run:#?}");
    let report = run.json();
    assert_eq!(
        (report["errcode"].as_i64(), report["rid"].as_str()),
        (Some(40097), Some("0000aaaa-1111bbbb-2222cccc"))
    );
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "{run:#?}");
}

/// Found by review: what a careless body or a drifting answer must not get through.
#[tokio::test]
async fn bodies_are_checked_whole_and_answers_keep_their_secrets_on_every_path() {
    let issued = "NewTok/X+Y=call";
    let secret = "S3cr3t/App+Key=";
    let server = ScriptedServer::start(vec![
        // A new token beside a mistyped field: the answer does not decode.
        ScriptedResponse::json(&format!(r#"{{"component_access_token":"{issued}","expires_in":"7200"}}"#)),
        // An error answer that still carries a token.
        ScriptedResponse::json(&format!(
            r#"{{"errcode":40001,"errmsg":"bad {issued}","component_access_token":"{issued}"}}"#
        )),
        // A gateway page echoing the body with JSON's `\/` escapes.
        ScriptedResponse::raw(
            502,
            "text/html",
            format!(r#"<pre>{{"component_appsecret":"{}"}}</pre>"#, secret.replace('/', "\\/")),
        ),
        ScriptedResponse::json(r#"{"errcode":0,"errmsg":"evil\u202egnp \u200bx"}"#),
    ])
    .await;
    let base_url = server.base_url();
    let dir = std::env::temp_dir().join(format!("wechat-cloudbase-call-review-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = dir.join("body.json");
    // A byte order mark, as Windows editors write, is fine.
    std::fs::write(
        &body,
        format!("\u{feff}{{\"component_appid\":\"wx0123456789abcdef\",\"component_appsecret\":\"{secret}\",\"component_verify_ticket\":\"t@@@1\"}}"),
    )
    .unwrap();
    let at_body = format!("@{}", body.display());
    // An empty token variable does not matter to an operation that carries no token.
    let env = [("WECHAT_COMPONENT_ACCESS_TOKEN", "")];
    for expected in [5, 4, 5] {
        let run = run_cli(
            &["call", "getComponentAccessToken", "--base-url", &base_url, "--body", &at_body],
            &env,
            LIMIT,
        )
        .await;
        assert_eq!(run.code, Some(expected), "{run:#?}");
        for text in [issued, secret] {
            assert!(!run.stdout.contains(text) && !run.stderr.contains(text), "{text} printed: {run:#?}");
        }
    }
    // Human output escapes what a terminal would not show as itself; the JSON value is the same.
    let lookup = r#"{"appids":["wx1"],"source_type":1}"#;
    let run = run_cli(
        &["call", "getShareCloudbaseEnv", "--base-url", &base_url, "--body", lookup],
        &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(!run.stdout.contains('\u{202e}') && run.stdout.contains(r"\u202e"), "{run:#?}");
    assert_eq!(run.json()["errmsg"], "evil\u{202e}gnp \u{200b}x");
    let sent = server.count();

    for (body, needle) in [
        // A field the request type does not know would be dropped silently.
        (r#"{"appids":["wx1"],"source_type":1,"sourcetype":0}"#.to_owned(), "`sourcetype` is not a field"),
        // A secret field, even mistyped, never goes on a command line.
        (r#"{"component_appid":"wx1","component_appsecret":31415926535897932,"component_verify_ticket":"t"}"#.to_owned(), "never go on a command line"),
    ] {
        let operation = if body.contains("appsecret") { "getComponentAccessToken" } else { "getShareCloudbaseEnv" };
        let run = run_cli(&["call", operation, "--base-url", &base_url, "--body", &body, "--json"], &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)], LIMIT).await;
        assert_eq!(run.code, Some(2), "{run:#?}");
        assert!(run.json()["message"].as_str().unwrap().contains(needle), "{run:#?}");
    }
    // A mistyped secret in a file is named, not quoted.
    std::fs::write(
        &body,
        r#"{"component_appid":"wx1","component_appsecret":31415926535897932,"component_verify_ticket":"t"}"#,
    )
    .unwrap();
    let run = run_cli(
        &["call", "getComponentAccessToken", "--base-url", &base_url, "--body", &at_body, "--json"],
        &[],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(
        !run.stdout.contains("31415926535897932") && !run.stderr.contains("31415926535897932"),
        "{run:#?}"
    );
    // A body larger than 8 MiB is refused unread past the limit.
    std::fs::write(&body, vec![b' '; 8 * 1024 * 1024 + 1]).unwrap();
    let run = run_cli(
        &["call", "getShareCloudbaseEnv", "--base-url", &base_url, "--body", &at_body, "--json"],
        &[("WECHAT_COMPONENT_ACCESS_TOKEN", TOKEN)],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.json()["message"].as_str().unwrap().contains("larger than"), "{run:#?}");
    assert_eq!(server.count(), sent, "nothing more was sent");
    std::fs::remove_dir_all(&dir).unwrap();
}
