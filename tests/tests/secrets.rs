//! The token, app secret and verify ticket never appear in `Display`, `Debug`, error sources or
//! `tracing` output, on any error path, even when a hostile server echoes them back.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer};
use wechat_cloudbase::{
    AccessToken, BatchOutcome, Client, ComponentTokenProvider, Error, RetryPolicy, UnshareRequest,
    VerifyTicket, VerifyTicketStore,
};

const TOKEN: &str = "TOKEN-e3b0c44298fc1c14";
const SECRET: &str = "APPSECRET-9afbf4c8996fb924";
const TICKET: &str = "TICKET-27ae41e4649b934c";

/// Everything a caller can print of an error: Display, Debug, and each source's Display and Debug.
fn everything_printable(error: &Error) -> String {
    let mut text = format!("{error}\n{error:?}\n");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!("{cause}\n{cause:?}\n"));
        source = cause.source();
    }
    text
}

/// The spellings of a secret a hostile server can echo: as it is, each byte percent-encoded
/// (upper and lower case hex), and each byte as a JSON `\u` escape (upper and lower case hex).
fn spellings(secret: &str) -> [String; 5] {
    let each = |f: fn(u8) -> String| secret.bytes().map(f).collect::<String>();
    [
        secret.to_owned(),
        each(|b| format!("%{b:02X}")),
        each(|b| format!("%{b:02x}")),
        each(|b| format!("\\u{:04X}", b)),
        each(|b| format!("\\u{:04x}", b)),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in [TOKEN, SECRET, TICKET] {
        for spelled in spellings(secret) {
            assert!(!text.contains(&spelled), "{what} leaks a secret as {spelled:?}:\n{text}");
        }
    }
}

fn client(base_url: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(
            RetryPolicy::default().with_max_attempts(2).with_initial_backoff(Duration::from_millis(1)),
        )
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

/// Answers that echo the token in every place a server can put text.
fn hostile_answers() -> Vec<(&'static str, ScriptedResponse)> {
    let mut answers = vec![
        (
            "errmsg",
            ScriptedResponse::json(&format!(r#"{{"errcode":40014,"errmsg":"bad {TOKEN} rid: 00aa-bb"}}"#)),
        ),
        (
            "access_token= in errmsg",
            ScriptedResponse::json(&format!(
                r#"{{"errcode":-1000,"errmsg":"GET /x?access_token={TOKEN}&a=b"}}"#
            )),
        ),
        (
            "err_list",
            ScriptedResponse::json(&format!(
                r#"{{"errcode":0,"errmsg":"{TOKEN}","err_list":[{{"env":"{TOKEN}","appid":"{TOKEN}","errmsg":"{TOKEN}"}}]}}"#
            )),
        ),
        ("html 200", ScriptedResponse::raw(200, "text/html", format!("<html>{TOKEN}</html>"))),
        ("html 504", ScriptedResponse::raw(504, "text/html", format!("<html>{TOKEN}</html>"))),
        ("html 500", ScriptedResponse::raw(500, "text/html", format!("<p>access_token={TOKEN}</p>"))),
        ("errcode as the token", ScriptedResponse::json(&format!(r#"{{"errcode":"{TOKEN}"}}"#))),
        (
            "unknown variant",
            ScriptedResponse::json(&format!(r#"{{"errcode":0,"err_list":[{{"env":["{TOKEN}"]}}]}}"#)),
        ),
        ("empty", ScriptedResponse::raw(200, "text/plain", "")),
    ];
    // The same token, spelled as a server may echo it: percent-encoded as a whole (either case)
    // in errmsg and in an HTML page, and as JSON `\u` escapes inside a JSON string (which the
    // decoder turns back into the token) and inside an HTML page (which it does not).
    for (what, spelled) in [("percent-encoded", 1), ("percent-encoded lower case", 2), ("\\u-escaped", 3)] {
        let spelled = &spellings(TOKEN)[spelled];
        answers.push((
            what,
            ScriptedResponse::json(&format!(r#"{{"errcode":40097,"errmsg":"bad {spelled}"}}"#)),
        ));
        answers.push((what, ScriptedResponse::raw(502, "text/html", format!("<p>token={spelled}</p>"))));
        answers.push((what, ScriptedResponse::raw(200, "text/html", format!("<p>{spelled}</p>"))));
    }
    answers.push((
        "\\u-escaped lower case in an err_list",
        ScriptedResponse::json(&format!(
            r#"{{"errcode":0,"err_list":[{{"env":"e","appid":"wx1","errmsg":"{}"}}]}}"#,
            spellings(TOKEN)[4]
        )),
    ));
    answers
}

#[tokio::test]
async fn no_error_path_prints_the_token_even_when_the_server_echoes_it() {
    for (what, answer) in hostile_answers() {
        for (delivery, answer) in answer.every_delivery() {
            let what = format!("{what} ({delivery})");
            let server = ScriptedServer::start(vec![answer]).await;
            let result = client(&server.base_url())
                .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
                .await
                .and_then(BatchOutcome::into_result);
            let error = result.expect_err(&what);
            assert_clean(&what, &everything_printable(&error));
        }
    }
}

/// The generated client's own errors (for callers who use it directly) never carry the token
/// for an answer of an undocumented status, whichever way its body arrives.
#[tokio::test]
async fn the_generated_clients_errors_for_an_unexpected_status_carry_no_token() {
    use wechat_cloudbase::openapi;
    let wire: openapi::types::BatchEnvRequest =
        serde_json::from_value(serde_json::json!({"data":[{"env":"e","appids":["wx1"]}],"source_type":1}))
            .unwrap();
    for (delivery, answer) in ScriptedResponse::raw(500, "text/plain", "oops").every_delivery() {
        let server = ScriptedServer::start(vec![answer]).await;
        let context = wechat_cloudbase_openapi::CallContext::new(
            Some(wechat_cloudbase_openapi::AccessToken::new(TOKEN)),
            1 << 20,
        );
        let client = openapi::Client::new_with_client(
            &server.base_url(),
            integration_tests::reqwest_client(),
            context,
        );
        let error = client.unshare_cloudbase_env(&wire).await.unwrap_err();
        assert_clean(delivery, &format!("{error} {error:?}"));
    }
}

#[tokio::test]
async fn transport_errors_carry_no_url_and_no_token() {
    // Refused connection.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let error = client(&format!("http://127.0.0.1:{port}"))
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    let text = everything_printable(&error);
    assert_clean("connection refused", &text);
    assert!(!text.contains("access_token"), "no URL in transport errors: {text}");

    // Timeout.
    let (url, _hold) = integration_tests::stalling_server().await;
    let error = client(&url)
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    let text = everything_printable(&error);
    assert_clean("timeout", &text);
    assert!(!text.contains("access_token"), "no URL in transport errors: {text}");
}

#[tokio::test]
async fn debug_output_of_credentials_and_clients_is_redacted() {
    let tickets = Arc::new(VerifyTicketStore::new());
    tickets.set(VerifyTicket::new(TICKET));
    let provider = ComponentTokenProvider::builder("wx-platform", SECRET, tickets.clone())
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let client = client("http://127.0.0.1:9");
    let text = format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:#?}",
        AccessToken::new(TOKEN),
        VerifyTicket::new(TICKET),
        tickets,
        provider,
        client,
        ComponentTokenProvider::builder("wx-platform", SECRET, tickets.clone()),
    );
    assert_clean("Debug output", &text);
    assert!(text.contains("redacted"), "{text}");
}

#[tokio::test]
async fn token_provider_failures_print_neither_secret_nor_ticket() {
    // The token endpoint echoes everything it was sent.
    for answer in [
        format!(r#"{{"errcode":61006,"errmsg":"ticket {TICKET} secret {SECRET} rid: 1-2"}}"#),
        format!(r#"{{"component_access_token":"","expires_in":"{SECRET}"}}"#),
        format!(r#"{{"errcode":0,"errmsg":"{TICKET}"}}"#),
    ] {
        for (delivery, response) in ScriptedResponse::json(&answer).every_delivery() {
            let server = ScriptedServer::start(vec![response]).await;
            let tickets = Arc::new(VerifyTicketStore::new());
            tickets.set(VerifyTicket::new(TICKET));
            let provider = Arc::new(
                ComponentTokenProvider::builder("wx-platform", SECRET, tickets)
                    .base_url(server.base_url())
                    .build()
                    .unwrap(),
            );
            let client =
                Client::builder().base_url(server.base_url()).token_provider(provider).build().unwrap();
            let error = client
                .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
                .await
                .and_then(BatchOutcome::into_result)
                .unwrap_err();
            assert!(matches!(error, Error::Token(_)), "{error:?}");
            assert_clean(&format!("{answer} ({delivery})"), &everything_printable(&error));
        }
    }
}

/// A `tracing` writer that keeps everything written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn traces_at_every_level_carry_the_call_fields_and_no_token() {
    // A global subscriber: a thread-local one can miss callsites whose interest other tests'
    // threads cached first. Other tests of this file then log into it too, which is as well.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("only this test installs a subscriber");

    for (_, answer) in hostile_answers() {
        let server = ScriptedServer::start(vec![answer]).await;
        let _ = client(&server.base_url())
            .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
            .await
            .and_then(BatchOutcome::into_result);
    }
    let server = ScriptedServer::start(vec![ScriptedResponse::json(
        r#"{"errcode":85088,"errmsg":"no qbase privilege rid: 0000aaaa-1111bbbb-2222cccc"}"#,
    )])
    .await;
    let _ = client(&server.base_url())
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_clean("tracing output", &logs);
    assert!(logs.contains("wechat_cloudbase.call"), "one span per call: {logs}");
    assert!(logs.contains("operation=\"unshareCloudbaseEnv\""), "{logs}");
    assert!(logs.contains("errcode=85088"), "{logs}");
    assert!(logs.contains("rid=\"0000aaaa-1111bbbb-2222cccc\""), "{logs}");
    assert!(logs.contains("call failed kind=api"), "{logs}");
}

/// A token answer that does not decode (a mistyped `expires_in`), or that carries an errcode,
/// still holds the new token: it never reaches the error either.
#[tokio::test]
async fn a_new_token_in_an_answer_that_fails_is_never_printed() {
    const ISSUED: &str = "ISSUED-b7d0/41+x=";
    for answer in [
        format!(r#"{{"component_access_token":"{ISSUED}","expires_in":"7200"}}"#),
        format!(r#"{{"component_access_token":"{ISSUED}","expires_in":7200.5}}"#),
        format!(r#"{{"errcode":40013,"errmsg":"echo {ISSUED}","component_access_token":"{ISSUED}"}}"#),
    ] {
        for (delivery, response) in ScriptedResponse::json(&answer).every_delivery() {
            let server = ScriptedServer::start(vec![response]).await;
            let tickets = Arc::new(VerifyTicketStore::new());
            tickets.set(VerifyTicket::new(TICKET));
            let provider = ComponentTokenProvider::builder("wx-platform", SECRET, tickets)
                .base_url(server.base_url())
                .build()
                .unwrap();
            let error = wechat_cloudbase::TokenProvider::access_token(&provider).await.unwrap_err();
            let text = everything_printable(&error);
            assert!(
                !text.contains(ISSUED) && !text.contains(&ISSUED.replace('/', "\\/")),
                "{answer} ({delivery}):\n{text}"
            );
            assert_clean(&format!("{answer} ({delivery})"), &text);
        }
    }
}
