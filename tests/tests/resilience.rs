//! What WeChat and the gateways in front of it really send, and how the client rides through it:
//! retries, deadlines, decoding by the body, size limits, compression, connection reuse.

use std::io::Write;
use std::time::Duration;

use integration_tests::{ScriptedResponse, ScriptedServer, raw_server, stalling_server};
use wechat_cloudbase::{
    AccessToken, BatchOutcome, Client, Error, ErrorClass, ErrorCode, RetryPolicy, TransportErrorKind,
    UnshareRequest,
};

const TOKEN: &str = "tok-resilience-2c8f61";

fn request() -> UnshareRequest {
    UnshareRequest::new().env("env-1", ["wx0000000000000001"])
}

/// A policy that retries quickly, so the tests spend little time waiting.
fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
        .with_deadline(Duration::from_secs(20))
}

fn client(base_url: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(fast())
        .build()
        .unwrap()
}

fn errcode_body(code: i64, n: usize) -> String {
    format!(r#"{{"errcode":{code},"errmsg":"some message rid: 0000aaaa-1111bbbb-{n:08x}"}}"#)
}

async fn call(responses: Vec<ScriptedResponse>) -> (Result<BatchOutcome, Error>, usize) {
    let server = ScriptedServer::start(responses).await;
    let result = client(&server.base_url())
        .unshare_cloudbase_env(&request())
        .await
        .and_then(BatchOutcome::into_result);
    (result, server.count())
}

#[tokio::test]
async fn system_busy_is_retried_until_success() {
    let (result, seen) = call(vec![
        ScriptedResponse::json(&errcode_body(-1, 1)),
        ScriptedResponse::json(&errcode_body(-1, 2)),
        ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok","err_list":[]}"#),
    ])
    .await;
    let unshared = result.unwrap();
    assert_eq!((unshared.attempts, seen), (3, 3));
}

#[tokio::test]
async fn when_retries_run_out_the_error_is_the_last_real_one_with_the_attempt_count() {
    let responses = (1..=10).map(|n| ScriptedResponse::json(&errcode_body(-1, n))).collect();
    let (result, seen) = call(responses).await;
    let error = result.unwrap_err();
    assert_eq!(seen, 4);
    assert_eq!(error.attempts(), 4);
    assert_eq!(error.errcode(), Some(-1));
    assert_eq!(error.class(), Some(ErrorClass::Transient));
    assert_eq!(error.rid(), Some("0000aaaa-1111bbbb-00000004"), "the rid of the last answer");
}

#[tokio::test]
async fn codes_that_are_not_transient_are_never_retried() {
    let cases = [
        (-1000, ErrorCode::SystemError, ErrorClass::Server),
        (40097, ErrorCode::InvalidArgs, ErrorClass::CallerBug),
        (40101, ErrorCode::MissingParameter, ErrorClass::CallerBug),
        (41001, ErrorCode::AccessTokenMissing, ErrorClass::Configuration),
        (43002, ErrorCode::RequirePostMethod, ErrorClass::CallerBug),
        (44002, ErrorCode::EmptyPostData, ErrorClass::CallerBug),
        (47001, ErrorCode::DataFormatError, ErrorClass::CallerBug),
        (85088, ErrorCode::NoQbasePrivilege, ErrorClass::NotPermitted),
        (45009, ErrorCode::DailyQuotaReached, ErrorClass::Quota),
        (45011, ErrorCode::MinuteQuotaReached, ErrorClass::Quota),
        (61006, ErrorCode::Other(61006), ErrorClass::Unknown),
        // A fixed token cannot be renewed, so token errors are returned at once too.
        (40014, ErrorCode::InvalidAccessToken, ErrorClass::Token),
        (42001, ErrorCode::AccessTokenExpired, ErrorClass::Token),
        (40001, ErrorCode::InvalidCredential, ErrorClass::Token),
    ];
    for (raw, code, class) in cases {
        let (result, seen) = call(vec![ScriptedResponse::json(&errcode_body(raw, 7))]).await;
        let Err(Error::Api(api)) = result else { panic!("{raw}: expected an API error, got {result:?}") };
        assert_eq!(seen, 1, "{raw} is not retried");
        assert_eq!(api.code, code);
        assert_eq!(api.code.code(), raw, "the raw code is kept");
        assert_eq!(api.code.class(), class);
        assert_eq!(api.message, "some message");
        assert_eq!(api.rid.as_deref(), Some("0000aaaa-1111bbbb-00000007"));
        assert_eq!(api.errmsg, "some message rid: 0000aaaa-1111bbbb-00000007");
    }
}

#[tokio::test]
async fn gateway_statuses_are_retried_and_other_statuses_are_not() {
    for status in [502, 503, 504] {
        let html = format!("<html><body>{status}</body></html>");
        let (result, seen) = call(vec![ScriptedResponse::raw(status, "text/html", html)]).await;
        let Err(Error::Http(http)) = result else { panic!("{status}: {result:?}") };
        assert_eq!((seen, http.attempts, http.status), (4, 4, status));
        assert!(http.excerpt.contains(&status.to_string()), "{http:?}");
    }
    for status in [400, 404, 429, 500] {
        let (result, seen) = call(vec![ScriptedResponse::raw(status, "text/plain", "no")]).await;
        assert!(matches!(result, Err(Error::Http(ref h)) if h.status == status), "{status}: {result:?}");
        assert_eq!(seen, 1, "{status} is not retried");
    }
    let (result, seen) = call(vec![
        ScriptedResponse::raw(503, "text/html", "busy"),
        ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#),
    ])
    .await;
    assert_eq!((result.unwrap().attempts, seen), (2, 2));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = ScriptedServer::start(vec![ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    let location = format!("{}/componenttcb/batchunshareenv", target.base_url());
    let (result, seen) =
        call(vec![ScriptedResponse::raw(302, "text/plain", "").header("Location", &location)]).await;
    assert!(matches!(result, Err(Error::Http(ref h)) if h.status == 302), "{result:?}");
    assert_eq!((seen, target.count()), (1, 0), "the redirect target got nothing");
}

#[tokio::test]
async fn bodies_that_are_not_the_documented_answer_are_decode_errors_never_successes() {
    let bodies: &[&[u8]] = &[
        b"",
        b"   ",
        b"<html><body>hello</body></html>",
        b"{}",
        b"[]",
        b"null",
        b"42",
        b"{\"errmsg\":\"ok\"}",
        b"{\"errcode\":\"0\",\"errmsg\":\"ok\"}",
        b"{\"errcode\":0.5}",
        b"{\"errcode\":1e400}",
        b"{\"errcode\":0,\"err_list\":{}}",
        b"{\"errcode\":0,\"err_list\":[1]}",
        b"{\"errcode\":0,",
        b"\xff\xfe{\"errcode\":0}",
        b"\xef\xbb\xbf\xef\xbb\xbf{\"errcode\":0}",
    ];
    for body in bodies {
        let (result, seen) = call(vec![ScriptedResponse::raw(200, "application/json", body.to_vec())]).await;
        let shown = String::from_utf8_lossy(body);
        assert!(matches!(result, Err(Error::Decode(ref d)) if d.status == 200), "{shown:?}: {result:?}");
        assert_eq!(seen, 1, "{shown:?}: decode failures are not retried");
    }
}

#[tokio::test]
async fn deeply_nested_json_never_overflows_the_stack() {
    let (open, close) = ("[".repeat(100_000), "]".repeat(100_000));
    // Inside a known field: past serde_json's recursion limit, a decode error.
    let body = format!(r#"{{"errcode":0,"err_list":{open}{close}}}"#);
    let (result, _) = call(vec![ScriptedResponse::json(&body)]).await;
    assert!(matches!(result, Err(Error::Decode(_))), "{result:?}");
    // Inside an unknown field: skipped like any field added later.
    let body = format!(r#"{{"errcode":0,"x":{open}{close}}}"#);
    let (result, _) = call(vec![ScriptedResponse::json(&body)]).await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_bom_and_a_misleading_content_type_are_tolerated() {
    let mut body = b"\xef\xbb\xbf".to_vec();
    body.extend_from_slice(br#"{"errcode":0,"errmsg":"ok","err_list":[]}"#);
    for content_type in ["application/json", "text/plain", "text/html", "application/octet-stream"] {
        let (result, _) = call(vec![ScriptedResponse::raw(200, content_type, body.clone())]).await;
        assert!(result.is_ok(), "{content_type}: {result:?}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_end_in_an_error_without_being_read_whole() {
    let big = format!(r#"{{"errcode":0,"errmsg":"{}"}}"#, "x".repeat(10_000));
    for response in [ScriptedResponse::json(&big), ScriptedResponse::json(&big).chunked()] {
        let server = ScriptedServer::start(vec![response.clone()]).await;
        let client = Client::builder()
            .base_url(server.base_url())
            .access_token(AccessToken::new(TOKEN))
            .max_body_bytes(1_000)
            .build()
            .unwrap();
        let error =
            client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err();
        let Error::Decode(decode) = &error else { panic!("chunked={}: {error:?}", response.chunked) };
        assert!(decode.reason.contains("1000 bytes"), "{decode:?}");
        assert_eq!(server.count(), 1);
    }
    // The same body passes under the default limit.
    let (result, _) = call(vec![ScriptedResponse::json(&big)]).await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn an_endless_body_ends_at_the_limit() {
    // At most 1 GiB is ever produced; the client must stop long before.
    let chunk = vec![b' '; 1024];
    let stream = futures_util::stream::iter(std::iter::repeat_n(chunk, 1 << 20).map(Ok::<_, std::io::Error>));
    let app = axum::Router::new().fallback(move || {
        let body = axum::body::Body::from_stream(stream.clone());
        async move { body }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = Client::builder()
        .base_url(url)
        .access_token(AccessToken::new(TOKEN))
        .max_body_bytes(64 * 1024)
        .build()
        .unwrap();
    let error =
        client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert!(matches!(error, Error::Decode(ref d) if d.reason.contains("65536 bytes")), "{error:?}");
}

#[tokio::test]
async fn err_list_entries_missing_an_id_are_kept_as_sent() {
    let (result, _) = call(vec![ScriptedResponse::json(
        r#"{"errcode":0,"errmsg":"ok","err_list":[{"appid":"wx0000000000000001","errmsg":"no env"},{}]}"#,
    )])
    .await;
    let Err(Error::Partial(partial)) = result else { panic!("{result:?}") };
    assert!(partial.failed.is_empty(), "an entry missing an id names no requested pair");
    assert_eq!(partial.unmatched.len(), 2);
    assert_eq!(partial.unmatched[0].env, None);
    assert_eq!(partial.unmatched[0].appid.as_deref(), Some("wx0000000000000001"));
    let empty = &partial.unmatched[1];
    assert_eq!((&empty.env, &empty.appid, &empty.errmsg), (&None, &None, &None));
    assert!(partial.proven.is_empty(), "no pair is known to be unshared");
    assert_eq!(partial.unverified.len(), request().pairs().len(), "every pair is unverified");
}

#[tokio::test]
async fn gzip_compressed_answers_are_accepted() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(br#"{"errcode":0,"errmsg":"ok","err_list":[]}"#).unwrap();
    let gz = encoder.finish().unwrap();
    let response = ScriptedResponse::raw(200, "application/json", gz).header("Content-Encoding", "gzip");
    let (result, _) = call(vec![response]).await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_corrupt_compressed_body_is_a_decode_error_and_not_retried() {
    let response = ScriptedResponse::raw(200, "application/json", b"not gzip at all".to_vec())
        .header("Content-Encoding", "gzip");
    let (result, seen) = call(vec![response]).await;
    assert!(matches!(result, Err(Error::Decode(_))), "{result:?}");
    assert_eq!(seen, 1);
}

#[tokio::test]
async fn a_body_cut_short_by_the_connection_is_a_transport_error_and_retried() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"errcode\"").await;
            drop(socket);
        }
    });
    let error =
        client(&url).unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert_eq!((error.attempts(), served.load(std::sync::atomic::Ordering::SeqCst)), (4, 4));
}

#[tokio::test]
async fn extreme_policy_values_never_panic() {
    let server = ScriptedServer::start(vec![
        ScriptedResponse::json(&errcode_body(-1, 1)),
        ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#),
    ])
    .await;
    let policy = RetryPolicy::default()
        .with_max_attempts(u32::MAX)
        .with_initial_backoff(Duration::ZERO)
        .with_max_backoff(Duration::MAX)
        .with_deadline(Duration::MAX);
    let client = Client::builder()
        .base_url(server.base_url())
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(policy)
        .build()
        .unwrap();
    assert_eq!(
        client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap().attempts,
        2
    );
}

#[tokio::test]
async fn calls_reuse_one_kept_alive_connection() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    let client = client(&server.base_url());
    for _ in 0..3 {
        client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap();
    }
    let peers: std::collections::BTreeSet<_> = server.received().iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 1, "three calls, one connection: {peers:?}");
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported_as_transport_errors() {
    // Bind and drop a listener to get a port that refuses connections.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let error = client(&format!("http://127.0.0.1:{port}"))
        .unshare_cloudbase_env(&request())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    let Error::Transport(transport) = &error else { panic!("{error:?}") };
    assert_eq!(transport.kind, TransportErrorKind::Connect);
    assert_eq!(transport.attempts, 0, "four tries, but no request left");
    assert_eq!(error.effect(), wechat_cloudbase::Effect::NotSent);
}

#[tokio::test]
async fn a_request_timeout_is_a_transport_timeout_and_is_retried() {
    let (url, _task) = stalling_server().await;
    let client = timed(&url, Duration::from_millis(100), fast().with_max_attempts(2)).build().unwrap();
    let error =
        client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err();
    let Error::Transport(transport) = &error else { panic!("{error:?}") };
    assert_eq!(transport.kind, TransportErrorKind::Timeout);
    assert_eq!(transport.attempts, 2);
}

#[tokio::test]
async fn the_overall_deadline_ends_the_call_even_when_requests_would_wait_longer() {
    let (url, _task) = stalling_server().await;
    let client = timed(&url, Duration::from_secs(60), deadline_ms(200)).build().unwrap();
    let error =
        client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err();
    let Error::Transport(transport) = &error else { panic!("{error:?}") };
    assert_eq!(transport.kind, TransportErrorKind::Deadline);
    assert_eq!(transport.attempts, 1, "a deadline is not retried");
}

#[tokio::test]
async fn retries_can_be_turned_off() {
    let server = ScriptedServer::start(vec![ScriptedResponse::json(&errcode_body(-1, 1))]).await;
    let client = Client::builder()
        .base_url(server.base_url())
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error =
        client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert_eq!((error.attempts(), server.count()), (1, 1));
}

/// A UTF-8 byte order mark before the JSON, as WeChat's gateways sometimes send, whether the
/// body has a `Content-Length` (passed through unread by the hooks) or comes in chunks (read
/// under the limit), and whatever the answer says.
#[tokio::test]
async fn a_byte_order_mark_is_dropped_however_the_body_arrives() {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let with_bom = |json: &str| [BOM, json.as_bytes()].concat();
    for chunked in [false, true] {
        let answer = |json: &str| {
            let response = ScriptedResponse::raw(200, "application/json", with_bom(json));
            if chunked { response.chunked() } else { response }
        };
        let (result, _) = call(vec![answer(r#"{"errcode":0,"errmsg":"ok","err_list":[]}"#)]).await;
        assert_eq!(result.unwrap().proven.len(), 1, "chunked={chunked}");

        let (result, seen) = call(vec![answer(&errcode_body(85088, 1))]).await;
        let error = result.unwrap_err();
        assert_eq!(
            (error.errcode(), error.rid(), seen),
            (Some(85088), Some("0000aaaa-1111bbbb-00000001"), 1)
        );

        let (result, seen) = call(vec![answer(r#"{"errcode":"#)]).await;
        let Err(Error::Decode(decode)) = result else { panic!("chunked={chunked}: {result:?}") };
        assert_eq!((decode.status, seen), (200, 1));
        assert!(decode.excerpt.starts_with("{\"errcode\""), "the mark is not shown: {:?}", decode.excerpt);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn limited(base_url: &str, max_body_bytes: u64) -> Client {
    Client::builder()
        .base_url(base_url)
        .access_token(AccessToken::new(TOKEN))
        .max_body_bytes(max_body_bytes)
        .build()
        .unwrap()
}

/// The limit is exact for an answer of known length (passed through unread by the hooks), and
/// still holds for a small compressed body that decompresses past it.
#[tokio::test]
async fn the_body_limit_is_exact_and_holds_for_compressed_answers() {
    let body = br#"{"errcode":0,"errmsg":"ok","err_list":[]}"#;
    for (limit, ok) in [(body.len() as u64, true), (body.len() as u64 - 1, false)] {
        let server =
            ScriptedServer::start(vec![ScriptedResponse::raw(200, "application/json", body.to_vec())]).await;
        let result = limited(&server.base_url(), limit)
            .unshare_cloudbase_env(&request())
            .await
            .and_then(BatchOutcome::into_result);
        assert_eq!(result.is_ok(), ok, "limit {limit}: {result:?}");
    }
    let bomb = gzip(format!(r#"{{"errcode":0,"errmsg":"{}"}}"#, "x".repeat(100_000)).as_bytes());
    assert!(bomb.len() < 1_000);
    let server = ScriptedServer::start(vec![
        ScriptedResponse::raw(200, "application/json", bomb).header("Content-Encoding", "gzip"),
    ])
    .await;
    let error = limited(&server.base_url(), 1_000)
        .unshare_cloudbase_env(&request())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(matches!(error, Error::Decode(ref d) if d.reason.contains("1000 bytes")), "{error:?}");

    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let body = gzip(&[BOM, br#"{"errcode":0,"errmsg":"ok","err_list":[]}"#].concat());
    let server = ScriptedServer::start(vec![
        ScriptedResponse::raw(200, "application/json", body).header("Content-Encoding", "gzip"),
    ])
    .await;
    client(&server.base_url())
        .unshare_cloudbase_env(&request())
        .await
        .and_then(BatchOutcome::into_result)
        .expect("a BOM inside gzip is dropped");
    let server =
        ScriptedServer::start(vec![ScriptedResponse::raw(400, "text/plain", [BOM, b"bad request"].concat())])
            .await;
    let error = client(&server.base_url())
        .unshare_cloudbase_env(&request())
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(matches!(error, Error::Http(ref h) if h.excerpt == "bad request"), "{error:?}");
}

/// The body of an undocumented status is read like any other: a connection that drops in it is
/// a transport error (retried), and one that stalls in it runs into the deadline.
#[tokio::test]
async fn a_broken_body_of_an_error_status_is_a_transport_error() {
    let (url, accepted) =
        raw_server(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\nshort", false).await;
    let error =
        client(&url).unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert_eq!((error.attempts(), accepted.load(std::sync::atomic::Ordering::SeqCst)), (4, 4), "retried");

    let (url, _) =
        raw_server(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nbusy", true).await;
    let client = timed(&url, Duration::from_secs(60), deadline_ms(300)).build().unwrap();
    assert_transport(
        &client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err(),
        TransportErrorKind::Deadline,
    );
}

/// A client of `url` with this request timeout and retry policy.
fn timed(url: &str, request_timeout: Duration, retry: RetryPolicy) -> wechat_cloudbase::ClientBuilder {
    Client::builder()
        .base_url(url)
        .access_token(AccessToken::new(TOKEN))
        .request_timeout(request_timeout)
        .retry_policy(retry)
}

/// The fast policy with a call deadline of `ms` milliseconds.
fn deadline_ms(ms: u64) -> RetryPolicy {
    fast().with_deadline(Duration::from_millis(ms))
}

fn assert_transport(error: &Error, kind: TransportErrorKind) {
    assert!(matches!(error, Error::Transport(t) if t.kind == kind), "{error:?}");
}

/// A 200 answer of known length that stalls: bounded by the request timeout of the client's
/// own reqwest client (retried), or by the deadline when that is closer.
#[tokio::test]
async fn a_stalled_answer_of_known_length_is_bounded() {
    let (url, accepted) =
        raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"errcode\"", true).await;
    let twice = fast().with_max_attempts(2);
    let client = timed(&url, Duration::from_millis(100), twice).build().unwrap();
    assert_transport(
        &client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err(),
        TransportErrorKind::Timeout,
    );
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);

    let client = timed(&url, Duration::from_secs(60), deadline_ms(300)).build().unwrap();
    assert_transport(
        &client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err(),
        TransportErrorKind::Deadline,
    );
}

/// A caller's own reqwest client gets the request timeout and the deadline on every request,
/// whatever timeout it has of its own.
#[tokio::test]
async fn a_callers_reqwest_client_still_gets_the_timeout_and_the_deadline() {
    let (url, _stall) = stalling_server().await;
    let no_redirects = || integration_tests::reqwest_builder().redirect(reqwest::redirect::Policy::none());
    for http in
        [no_redirects().build().unwrap(), no_redirects().timeout(Duration::from_secs(60)).build().unwrap()]
    {
        let twice = fast().with_max_attempts(2);
        let client = timed(&url, Duration::from_millis(100), twice).http_client(http).build().unwrap();
        assert_transport(
            &client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err(),
            TransportErrorKind::Timeout,
        );
    }
    let client = timed(&url, Duration::from_secs(60), deadline_ms(200))
        .http_client(no_redirects().build().unwrap())
        .build()
        .unwrap();
    assert_transport(
        &client.unshare_cloudbase_env(&request()).await.and_then(BatchOutcome::into_result).unwrap_err(),
        TransportErrorKind::Deadline,
    );
}
