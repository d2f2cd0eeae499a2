//! Hostile and unlucky situations found by review: each test failed before its fix. Secrets cut at
//! the edge of an excerpt, the effect of a call across attempts and token renewals, an err_list
//! that names one pair twice, and characters that draw as nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer, run_cli};
use wechat_cloudbase::{
    AccessToken, BatchOutcome, Client, Effect, Error, ErrorKind, RetryPolicy, TokenProvider, UnshareRequest,
    async_trait,
};

const LIMIT: Duration = Duration::from_secs(20);

fn retrying(base_url: &str, token: &str) -> Client {
    integration_tests::fast_retrying_client(base_url, token)
}

/// A token of `len` visible ASCII bytes in which no 12-byte window repeats.
fn long_token(len: usize) -> String {
    let mut token = String::new();
    let mut i = 0u64;
    while token.len() < len {
        token.push_str(&format!("T{i:06}x"));
        i += 1;
    }
    token.truncate(len);
    token
}

// Redaction: a valid token (≤ MAX_ACCESS_TOKEN_BYTES) echoed by a hostile gateway must not
// appear, even in part, in the error's message.
#[tokio::test]
async fn a_long_valid_token_echoed_in_a_body_is_not_shown() {
    let token = long_token(1500);
    assert!(token.len() <= wechat_cloudbase::MAX_ACCESS_TOKEN_BYTES);
    let server = ScriptedServer::start(vec![ScriptedResponse::raw(400, "text/plain", token.clone())]).await;
    let client = Client::builder()
        .base_url(server.base_url())
        .access_token(AccessToken::new(token.clone()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert_eq!(server.count(), 1, "the token was valid, so it was sent");
    let shown = error.to_string();
    assert!(!shown.contains(&token[..40]), "the token's first 40 bytes are shown: {shown}");
}

#[tokio::test]
async fn a_long_valid_token_echoed_in_a_body_is_not_printed_by_the_cli() {
    let token = long_token(1500);
    let server = ScriptedServer::start(vec![ScriptedResponse::raw(400, "text/plain", token.clone())]).await;
    let base = server.base_url();
    for json in [true, false] {
        let mut args = vec!["unshare", "--env", "e", "--appid", "wx1", "--base-url", &base];
        if json {
            args.push("--json");
        }
        let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", &token)], LIMIT).await;
        let out = format!("{}{}", run.stdout, run.stderr);
        assert!(!out.contains(&token[..40]), "json={json}: the token is printed: {out}");
    }
}

// Effect: "nothing was sent" when a request was sent (and refused).
/// Answers the first connection with `reply` and `Connection: close`, then stops listening,
/// so every later attempt finds the connection refused.
async fn one_answer_then_closed(reply: &'static str) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        drop(listener);
        counter.fetch_add(1, Ordering::SeqCst);
        let mut buf = [0u8; 8192];
        let _ = socket.read(&mut buf).await;
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
    });
    (url, seen)
}

#[tokio::test]
async fn a_busy_answer_then_connection_refused_does_not_claim_nothing_was_sent() {
    let (url, seen) = one_answer_then_closed(r#"{"errcode":-1,"errmsg":"system busy"}"#).await;
    let error = retrying(&url, "tok-REVIEW")
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(error.attempts(), 1, "{error}");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");
    // One request left and was refused by WeChat: the effect is `Refused`, not `NotSent`.
    assert_ne!(error.effect(), Effect::NotSent, "{error}");
    assert!(!error.to_string().contains("nothing was sent"), "{error}");
}

#[tokio::test]
async fn the_cli_does_not_report_not_sent_after_a_request_left() {
    let (url, seen) = one_answer_then_closed(r#"{"errcode":-1,"errmsg":"system busy"}"#).await;
    let run = run_cli(
        &["unshare", "--env", "e", "--appid", "wx1", "--base-url", &url, "--json"],
        &[("WECHAT_COMPONENT_ACCESS_TOKEN", "tok-REVIEW")],
        LIMIT,
    )
    .await;
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let report = run.json();
    assert_eq!(report["attempts"], 1, "{report}");
    assert_ne!(report["effect"], "not_sent", "{report}");
}

/// A provider whose first token is refused and whose renewal gives `renewed`.
#[derive(Debug)]
struct Renewing {
    renewed: Result<&'static str, ()>,
    invalidated: AtomicUsize,
}

#[async_trait]
impl TokenProvider for Renewing {
    async fn access_token(&self) -> Result<AccessToken, Error> {
        if self.invalidated.load(Ordering::SeqCst) == 0 {
            return Ok(AccessToken::new("tok-first"));
        }
        match self.renewed {
            Ok(token) => Ok(AccessToken::new(token)),
            Err(()) => {
                Err(wechat_cloudbase::TokenError::new("no verify ticket; nothing was sent", None).into())
            }
        }
    }
    async fn invalidate(&self, _failed: &AccessToken) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_failed_token_renewal_after_a_sent_request_counts_that_request() {
    renewal_fails(Err(())).await;
}

#[tokio::test]
async fn an_invalid_renewed_token_after_a_sent_request_keeps_the_calls_effect() {
    renewal_fails(Ok("bad token\n")).await;
}

async fn renewal_fails(renewed: Result<&'static str, ()>) {
    // First: a gateway error (fate unknown), then a token error, then the renewal fails.
    {
        let server = ScriptedServer::start(vec![
            ScriptedResponse::raw(504, "text/html", "<html>504</html>"),
            ScriptedResponse::json(r#"{"errcode":40001,"errmsg":"invalid credential"}"#),
        ])
        .await;
        let client = Client::builder()
            .base_url(server.base_url())
            .token_provider(Arc::new(Renewing { renewed, invalidated: AtomicUsize::new(0) }))
            .retry_policy(
                RetryPolicy::default().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)),
            )
            .build()
            .unwrap();
        let error = client
            .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
            .await
            .and_then(BatchOutcome::into_result)
            .unwrap_err();
        assert_eq!(server.count(), 2);
        // The 504'd request may have been carried out: the call's effect is unknown.
        assert_eq!(error.effect(), Effect::Unknown, "renewed {renewed:?}: {:?} {error}", error.kind());
        assert_eq!(error.attempts(), 2, "renewed {renewed:?}: {error}");
    }
}

// Partial failure: an err_list that names the one requested pair twice.
#[tokio::test]
async fn an_err_list_naming_one_pair_twice_does_not_claim_two_pairs() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(
        r#"{"errcode":0,"errmsg":"ok","err_list":[{"env":"e","appid":"wx1","errmsg":"env is not shared with appid"},{"env":"e","appid":"wx1","errmsg":"env is not shared with appid"}]}"#,
    )])
    .await;
    let error = retrying(&server.base_url(), "tok-REVIEW")
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    let Error::Partial(partial) = &error else { panic!("{error}") };
    assert_eq!(partial.failed.len(), 2);
    // One pair was requested; the message must not say two could not be unshared.
    assert!(error.to_string().starts_with("1 (env, appid) pair(s) could not be unshared"), "{error}");
}

// Terminal escaping: a default-ignorable character (U+034F COMBINING GRAPHEME JOINER, a
// variation selector) is drawn as nothing, so an err_list entry that names no requested pair is
// shown exactly as the requested pair.
#[tokio::test]
async fn an_invisible_combining_character_in_an_id_is_escaped_in_human_output() {
    for invisible in ['\u{34f}', '\u{fe0f}', '\u{e0100}', '\u{3164}', '\u{115f}', '\u{ffa0}'] {
        let text = format!("wx1{invisible}");
        assert_ne!(
            wechat_cloudbase::escape_for_terminal(&text),
            text,
            "U+{:04X} kept as it is",
            invisible as u32
        );
    }
    let server = ScriptedServer::start(vec![ScriptedResponse::json(
        r#"{"errcode":0,"errmsg":"ok","err_list":[{"env":"e","appid":"wx1\u034f","errmsg":"invalid appid"}]}"#,
    )])
    .await;
    let run = run_cli(
        &["unshare", "--env", "e", "--appid", "wx1", "--base-url", &server.base_url()],
        &[("WECHAT_COMPONENT_ACCESS_TOKEN", "tok-REVIEW")],
        LIMIT,
    )
    .await;
    assert_eq!(run.code, Some(3), "{run:#?}");
    // The terminal would show: "names no requested pair: env `e`, appid `wx1`: invalid appid".
    assert!(
        run.stderr.contains(r"\u{34f}"),
        "the unmatched appid looks like the requested one: {}",
        run.stderr
    );
}
