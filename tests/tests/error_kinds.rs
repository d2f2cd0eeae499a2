//! Every way an answer can be malformed maps to one exact error kind, from a real answer sent by
//! a server on 127.0.0.1 through the public API:
//! - a broken *transfer* (chunked framing, a connection closed early, a garbage status line, no
//!   connection, no answer) is a transport error, retried once under a policy of two attempts;
//! - a broken *content* (a corrupt gzip stream in a body that arrived whole, HTML, a body over the
//!   limit) is a decode error, not retried; an HTTP 503 is an HTTP error, retried.
//!
//! No error carries the token in its `Display`, `Debug` or source chain.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integration_tests::{raw_server, raw_server_bytes, stalling_server};
use wechat_cloudbase::{
    AccessToken, BatchOutcome, Client, ClientBuilder, Effect, Error, ErrorKind, RetryPolicy,
    TransportErrorKind, UnshareRequest,
};

const TOKEN: &str = "tok-SECRET-KINDS-1234";

/// The reason of a [`wechat_cloudbase::DecodeError`] for a body whose content encoding is broken.
const CORRUPT_ENCODING: &str = "the compressed body cannot be decoded";

/// A valid answer, for the bodies that are broken only in how they are framed.
const OK_JSON: &[u8] = br#"{"errcode":0,"errmsg":"ok","err_list":[]}"#;

/// Two attempts at most: a retried error shows as 2, one that is not as 1.
fn builder(url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(url)
        .access_token(AccessToken::new(TOKEN))
        .retry_policy(RetryPolicy::default().with_max_attempts(2))
}

async fn unshare(client: &Client) -> Error {
    let request = UnshareRequest::new().env("env-1", ["wx1"]);
    match client.unshare_cloudbase_env(&request).await.and_then(BatchOutcome::into_result) {
        Ok(unshared) => panic!("a malformed answer was accepted: {unshared:?}"),
        Err(error) => error,
    }
}

/// The error of one call to a server that answers every request with `reply`, then closes the
/// connection; checks the server saw as many connections as the error counts attempts.
async fn call_raw(reply: Vec<u8>) -> Error {
    let (url, accepted) = raw_server_bytes(reply, false).await;
    let error = unshare(&builder(&url).build().unwrap()).await;
    assert_seen(&error, &accepted);
    error
}

fn assert_seen(error: &Error, accepted: &Arc<AtomicUsize>) {
    assert_eq!(accepted.load(Ordering::SeqCst), error.attempts() as usize, "requests seen: {error:?}");
}

/// The token appears nowhere in what a caller can print of `error`.
fn assert_no_token(error: &Error) {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    for text in texts {
        assert!(!text.contains(TOKEN), "the token leaks: {text}");
    }
}

/// A transport error of `kind`, retried once.
fn assert_transport(error: &Error, kind: TransportErrorKind) {
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    let Error::Transport(transport) = error else { unreachable!() };
    assert_eq!(transport.kind, kind, "{error:?}");
    assert_eq!(error.attempts(), 2, "a transport error is retried: {error:?}");
    assert_eq!(error.effect(), Effect::Unknown, "the request was sent, its fate unknown: {error:?}");
    assert_no_token(error);
}

/// A decode error of status 200 with this `reason`, not retried.
fn assert_decode(error: &Error, reason: &str) {
    assert_eq!(error.kind(), ErrorKind::Decode, "{error:?}");
    let Error::Decode(decode) = error else { unreachable!() };
    assert_eq!((decode.status, decode.reason.as_str()), (200, reason), "{error:?}");
    assert_eq!(error.attempts(), 1, "a decode error is not retried: {error:?}");
    assert_eq!(error.effect(), Effect::Unknown, "an undecodable answer proves nothing: {error:?}");
    assert_no_token(error);
}

/// A 200 head with these extra header lines (each ending in `\r\n`), then `body`.
fn reply_200(headers: &str, body: &[u8]) -> Vec<u8> {
    [format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}\r\n").as_bytes(), body].concat()
}

fn chunked(body: &[u8]) -> Vec<u8> {
    reply_200("Transfer-Encoding: chunked\r\n", body)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A gzip answer sent in chunks: one good chunk of the first 10 bytes of the stream, then `rest`.
fn gzip_chunked(rest: &[u8]) -> Vec<u8> {
    let head = &gzip(OK_JSON)[..10];
    let body = [format!("{:x}\r\n", head.len()).as_bytes(), head, b"\r\n", rest].concat();
    reply_200("Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", &body)
}

#[tokio::test]
async fn a_chunk_size_that_overflows_is_a_broken_transfer() {
    let error = call_raw(chunked(b"ffffffffffffffffff\r\n")).await;
    assert_transport(&error, TransportErrorKind::Other);
}

#[tokio::test]
async fn a_chunk_size_that_is_not_hex_is_a_broken_transfer() {
    let error = call_raw(chunked(b"zz\r\n{}\r\n0\r\n\r\n")).await;
    assert_transport(&error, TransportErrorKind::Other);
}

/// hyper reports this one, like the overflow, as invalid data.
#[tokio::test]
async fn a_chunk_extension_with_a_bare_newline_is_a_broken_transfer() {
    let error = call_raw(chunked(b"2;ext\n{}\r\n0\r\n\r\n")).await;
    assert_transport(&error, TransportErrorKind::Other);
}

#[tokio::test]
async fn a_connection_closed_in_the_middle_of_a_chunk_is_a_broken_transfer() {
    let error = call_raw(chunked(b"40\r\n{\"errcode\":0")).await;
    assert_transport(&error, TransportErrorKind::Other);
}

/// A 200 of known length within the limit is read by progenitor, not by the hooks.
#[tokio::test]
async fn a_content_length_longer_than_the_body_is_a_broken_transfer() {
    let error = call_raw(reply_200("Content-Length: 100\r\n", b"{\"errcode\":0")).await;
    assert_transport(&error, TransportErrorKind::Other);
}

/// The same, for a compressed answer (read by the hooks).
#[tokio::test]
async fn a_gzip_body_shorter_than_its_content_length_is_a_broken_transfer() {
    let gz = gzip(OK_JSON);
    let headers = format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", gz.len());
    let error = call_raw(reply_200(&headers, &gz[..10])).await;
    assert_transport(&error, TransportErrorKind::Other);
}

#[tokio::test]
async fn a_gzip_body_with_a_chunk_size_that_overflows_is_a_broken_transfer() {
    let error = call_raw(gzip_chunked(b"ffffffffffffffffff\r\n")).await;
    assert_transport(&error, TransportErrorKind::Other);
}

#[tokio::test]
async fn a_gzip_body_with_a_chunk_size_that_is_not_hex_is_a_broken_transfer() {
    let error = call_raw(gzip_chunked(b"zz\r\n")).await;
    assert_transport(&error, TransportErrorKind::Other);
}

#[tokio::test]
async fn a_gzip_body_whose_bytes_are_not_gzip_is_a_decode_error() {
    let garbage = b"this is not a gzip stream at all";
    let headers = format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", garbage.len());
    let error = call_raw(reply_200(&headers, garbage)).await;
    assert_decode(&error, CORRUPT_ENCODING);
}

/// Every byte announced arrived; the gzip stream inside them ends too early.
#[tokio::test]
async fn a_gzip_stream_cut_short_inside_a_complete_body_is_a_decode_error() {
    let gz = gzip(OK_JSON);
    let cut = &gz[..gz.len() - 8];
    let headers = format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", cut.len());
    let error = call_raw(reply_200(&headers, cut)).await;
    assert_decode(&error, CORRUPT_ENCODING);
}

#[tokio::test]
async fn a_garbage_status_line_is_a_broken_transfer() {
    let error = call_raw(b"HTTP/1.1 abc\r\nContent-Length: 2\r\n\r\n{}".to_vec()).await;
    assert_transport(&error, TransportErrorKind::Other);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_decode_error() {
    let (url, accepted) = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n{\"errcode\":0,\"errmsg\":\"ok\",\"err_list\":[]}",
        false,
    )
    .await;
    let error = unshare(&builder(&url).max_body_bytes(16).build().unwrap()).await;
    assert_seen(&error, &accepted);
    assert_decode(&error, "response body exceeds the limit of 16 bytes");
}

#[tokio::test]
async fn a_503_with_html_is_an_http_error_and_retried() {
    let html = b"<html><body>503 Service Unavailable</body></html>";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
        html.len()
    );
    let error = call_raw([head.as_bytes(), html].concat()).await;
    assert_eq!(error.kind(), ErrorKind::Http, "{error:?}");
    let Error::Http(http) = &error else { unreachable!() };
    assert_eq!((http.status, http.excerpt.as_bytes()), (503, html.as_slice()));
    assert_eq!(error.attempts(), 2, "a 503 is retried: {error:?}");
    assert_no_token(&error);
}

#[tokio::test]
async fn a_200_with_html_is_a_decode_error() {
    let html = b"<html><body>hello</body></html>";
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n", html.len());
    let error = call_raw([head.as_bytes(), html].concat()).await;
    assert_decode(&error, "the answer is not a JSON object");
    let Error::Decode(decode) = &error else { unreachable!() };
    assert_eq!(decode.excerpt.as_bytes(), html);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = unshare(&builder(&url).build().unwrap()).await;
    let Error::Transport(transport) = &error else { panic!("{error:?}") };
    assert_eq!(transport.kind, TransportErrorKind::Connect, "{error:?}");
    // Retried, but no request ever left: attempts counts what was sent.
    assert_eq!((error.attempts(), error.effect()), (0, Effect::NotSent), "{error:?}");
    assert!(error.to_string().contains("nothing was sent"), "{error}");
    assert_no_token(&error);
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let (url, _stall) = stalling_server().await;
    let error = unshare(&builder(&url).request_timeout(Duration::from_millis(300)).build().unwrap()).await;
    assert_transport(&error, TransportErrorKind::Timeout);
}
