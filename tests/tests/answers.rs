//! What the client accepts as an answer and what it refuses: one test per row of the table in
//! the `wechat-cloudbase` crate docs ("Answers: what is tolerated, what is refused"). Every answer
//! goes through the real client and hooks, against a scripted server on 127.0.0.1.

use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer};
use wechat_cloudbase::{AccessToken, BatchOutcome, Client, Error, ErrorKind, RetryPolicy, UnshareRequest};

const TOKEN: &str = "tok-ANSWERS-8c1f";

/// One call of `UnshareRequest::new().env("env-1", ["wx1", "wx2"])` answered with `response`.
async fn answer(response: ScriptedResponse) -> Result<BatchOutcome, Error> {
    let server = ScriptedServer::start(vec![response]).await;
    Client::builder()
        .base_url(server.base_url())
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .unshare_cloudbase_env(&UnshareRequest::new().env("env-1", ["wx1", "wx2"]))
        .await
        .and_then(BatchOutcome::into_result)
}

async fn answer_json(body: &[u8]) -> Result<BatchOutcome, Error> {
    answer(ScriptedResponse::raw(200, "application/json", body.to_vec())).await
}

/// The answer is refused as undecodable, its fate unknown, and the reason is `reason` (if
/// given).
async fn assert_refused(body: &[u8], reason: Option<&str>) {
    let result = answer_json(body).await;
    let text = String::from_utf8_lossy(body);
    let Err(Error::Decode(decode)) = &result else { panic!("{text:?} must be a decode error: {result:?}") };
    if let Some(reason) = reason {
        assert!(decode.reason.contains(reason), "{text:?}: {decode:?}");
    }
    let error = result.unwrap_err();
    assert!(error.may_have_been_applied(), "an undecodable answer proves nothing: {error}");
    assert!(error.to_string().contains("look at the pairs' state again"), "{error}");
}

async fn assert_unshared(body: &[u8]) {
    let result = answer_json(body).await;
    let unshared =
        result.unwrap_or_else(|e| panic!("{:?} must succeed: {e:?}", String::from_utf8_lossy(body)));
    assert_eq!(unshared.proven.len(), 2);
}

// Tolerances.

#[tokio::test]
async fn tolerates_a_utf8_byte_order_mark() {
    assert_unshared(b"\xEF\xBB\xBF{\"errcode\":0,\"errmsg\":\"ok\"}").await;
}

#[tokio::test]
async fn tolerates_json_whitespace_before_the_object() {
    assert_unshared(b" \r\n\t{\"errcode\":0}").await;
}

#[tokio::test]
async fn tolerates_unknown_fields_even_repeated() {
    assert_unshared(br#"{"errcode":0,"later":{"a":[1]},"later":2,"request_id":"x"}"#).await;
}

#[tokio::test]
async fn tolerates_any_content_type() {
    for content_type in ["text/plain", "text/html", "application/octet-stream"] {
        let body = br#"{"errcode":0,"errmsg":"ok","err_list":[]}"#.to_vec();
        let result = answer(ScriptedResponse::raw(200, content_type, body)).await;
        assert!(result.is_ok(), "{content_type}: {result:?}");
    }
}

#[tokio::test]
async fn tolerates_a_null_or_missing_err_list_and_errmsg() {
    for body in [
        &br#"{"errcode":0,"err_list":null}"#[..],
        br#"{"errcode":0}"#,
        br#"{"errcode":0,"errmsg":null}"#,
        br#"{"errcode":0,"err_list":[]}"#,
    ] {
        assert_unshared(body).await;
    }
}

#[tokio::test]
async fn tolerates_err_list_entries_missing_an_id_but_proves_nothing_with_them() {
    let result = answer_json(br#"{"errcode":0,"err_list":[{"appid":"wx1"}]}"#).await;
    let Err(Error::Partial(partial)) = result else { panic!("{result:?}") };
    assert_eq!(partial.unmatched.len(), 1);
    assert!(partial.proven.is_empty());
    assert_eq!(partial.unverified.len(), 2);
}

#[tokio::test]
async fn tolerates_an_undocumented_errcode_and_keeps_it_raw() {
    let result = answer_json(br#"{"errcode":-501001,"errmsg":"resource not found"}"#).await;
    let error = result.unwrap_err();
    assert_eq!((error.kind(), error.errcode()), (ErrorKind::Api, Some(-501001)));
    assert!(error.may_have_been_applied(), "an undocumented code proves nothing: {error}");
}

// Refusals.

#[tokio::test]
async fn refuses_a_json_array_even_in_field_order() {
    assert_refused(br#"[[],0,"ok"]"#, Some("not a JSON object")).await;
    assert_refused(br#"[null,0]"#, Some("not a JSON object")).await;
}

#[tokio::test]
async fn refuses_any_other_top_level_value() {
    for body in [&b"\"ok\""[..], b"0", b"null", b"true", b"", b"   ", b"<html>ok</html>", b"\xEF\xBB\xBF"] {
        assert_refused(body, Some("not a JSON object")).await;
    }
}

#[tokio::test]
async fn refuses_a_duplicate_errcode() {
    assert_refused(br#"{"errcode":0,"errcode":40014}"#, Some("duplicate field")).await;
    assert_refused(br#"{"errcode":0,"err_list":[],"err_list":[]}"#, Some("duplicate field")).await;
}

#[tokio::test]
async fn refuses_an_errcode_that_is_not_an_integer() {
    for body in [
        &br#"{"errcode":0.0}"#[..],
        br#"{"errcode":1e0}"#,
        br#"{"errcode":"0"}"#,
        br#"{"errcode":null}"#,
        br#"{"errcode":true}"#,
        br#"{"errcode":9223372036854775808}"#,
    ] {
        assert_refused(body, None).await;
    }
}

#[tokio::test]
async fn refuses_an_answer_without_errcode() {
    assert_refused(br#"{"errmsg":"ok","err_list":[]}"#, Some("errcode")).await;
}

#[tokio::test]
async fn refuses_a_wrongly_typed_known_field() {
    for body in [
        &br#"{"errcode":0,"err_list":{}}"#[..],
        br#"{"errcode":0,"err_list":[1]}"#,
        br#"{"errcode":0,"errmsg":7}"#,
        br#"{"errcode":0,"err_list":[{"env":["e"]}]}"#,
    ] {
        assert_refused(body, None).await;
    }
}

#[tokio::test]
async fn refuses_text_after_the_object_and_broken_json() {
    for body in
        [&br#"{"errcode":0} {"errcode":0}"#[..], br#"{"errcode":0"#, b"{\"errcode\":0,\"errmsg\":\"\xff\"}"]
    {
        assert_refused(body, None).await;
    }
}

#[tokio::test]
async fn refuses_a_body_over_the_limit_and_says_it_may_have_been_applied() {
    // A 5 MiB answer after a request that WeChat may well have carried out.
    let mut body = br#"{"errcode":0,"errmsg":"ok","pad":""#.to_vec();
    body.resize(5 * 1024 * 1024, b'x');
    body.extend(br#""}"#);
    let error = answer_json(&body).await.unwrap_err();
    assert!(matches!(error, Error::Decode(ref d) if d.reason.contains("exceeds the limit")), "{error:?}");
    assert_eq!(error.effect(), wechat_cloudbase::Effect::Unknown);
    assert!(error.to_string().contains("may have been carried out"), "{error}");
}

/// The same single check holds for every operation: the token call refuses an array too.
#[tokio::test]
async fn the_token_operation_refuses_an_array_too() {
    use std::sync::Arc;
    use wechat_cloudbase::{ComponentTokenProvider, VerifyTicket, VerifyTicketStore};
    let server =
        ScriptedServer::start(vec![ScriptedResponse::json(r#"["tok-FROM-AN-ARRAY-1", 7200, 0, "ok"]"#)])
            .await;
    let tickets = Arc::new(VerifyTicketStore::new());
    tickets.set(VerifyTicket::new("ticket@@@x"));
    let provider = Arc::new(
        ComponentTokenProvider::builder("wx-platform", "secret", tickets)
            .base_url(server.base_url())
            .build()
            .unwrap(),
    );
    let client = Client::builder().base_url(server.base_url()).token_provider(provider).build().unwrap();
    let error = client
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    let Error::Token(token) = &error else { panic!("{error:?}") };
    let source = token.source.as_deref().expect("the failed token call");
    assert!(matches!(source, Error::Decode(d) if d.reason.contains("not a JSON object")), "{source:?}");
    assert_eq!(server.count(), 1, "no unshare request was sent without a token");
}
