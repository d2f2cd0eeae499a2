//! Tokens: the component token provider against the sandbox's `api_component_token`, caching,
//! single-flight refresh, and one repeat after a token error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bad::BadTokens;
use wechat_cloudbase::{
    AccessToken, BatchOutcome, Client, ComponentTokenProvider, Error, ErrorCode, TokenProvider,
    UnshareRequest, VerifyTicket, VerifyTicketStore,
};
use wechat_cloudbase_sandbox::{
    SANDBOX_COMPONENT_APPID, SANDBOX_COMPONENT_APPSECRET, SANDBOX_VERIFY_TICKET, Sandbox, SandboxConfig,
};

const ENV: &str = "env-tokens";

fn provider(sandbox: &Sandbox, ticket: Option<&str>) -> Arc<ComponentTokenProvider> {
    let tickets = Arc::new(VerifyTicketStore::new());
    if let Some(ticket) = ticket {
        tickets.set(VerifyTicket::new(ticket));
    }
    Arc::new(
        ComponentTokenProvider::builder(SANDBOX_COMPONENT_APPID, SANDBOX_COMPONENT_APPSECRET, tickets)
            .base_url(sandbox.base_url())
            .build()
            .unwrap(),
    )
}

fn client(sandbox: &Sandbox, tokens: Arc<dyn TokenProvider>) -> Client {
    Client::builder().base_url(sandbox.base_url()).token_provider(tokens).build().unwrap()
}

/// A sandbox where `n` appids share ENV.
async fn sandbox_with(n: usize) -> Sandbox {
    let shared = (0..n).map(|i| (ENV.to_owned(), format!("wx{i:016}"))).collect();
    Sandbox::start(SandboxConfig::default().with_shared(shared)).await.unwrap()
}

fn unshare(i: usize) -> UnshareRequest {
    UnshareRequest::new().env(ENV, [format!("wx{i:016}")])
}

#[tokio::test]
async fn the_provider_obtains_a_token_and_caches_it() {
    let sandbox = sandbox_with(2).await;
    let tokens = provider(&sandbox, Some(SANDBOX_VERIFY_TICKET));
    let client = client(&sandbox, tokens.clone());
    client.unshare_cloudbase_env(&unshare(0)).await.and_then(BatchOutcome::into_result).unwrap();
    client.unshare_cloudbase_env(&unshare(1)).await.and_then(BatchOutcome::into_result).unwrap();
    assert_eq!(tokens.refresh_count(), 1, "one token for both calls");
    assert_eq!(sandbox.requests_received(), 3, "one token request, two unshares");
}

#[tokio::test]
async fn a_hundred_concurrent_calls_cause_exactly_one_refresh() {
    let sandbox = sandbox_with(100).await;
    let tokens = provider(&sandbox, Some(SANDBOX_VERIFY_TICKET));
    let client = client(&sandbox, tokens.clone());
    let calls = (0..100).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            client.unshare_cloudbase_env(&unshare(i)).await.and_then(BatchOutcome::into_result)
        })
    });
    for call in futures_util::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(tokens.refresh_count(), 1);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_for_a_hundred_concurrent_calls_and_each_call_repeated_once() {
    let sandbox = sandbox_with(101).await;
    let tokens = provider(&sandbox, Some(SANDBOX_VERIFY_TICKET));
    let client = client(&sandbox, tokens.clone());
    client.unshare_cloudbase_env(&unshare(100)).await.and_then(BatchOutcome::into_result).unwrap();
    sandbox.expire_issued_tokens();

    let calls = (0..100).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            client.unshare_cloudbase_env(&unshare(i)).await.and_then(BatchOutcome::into_result)
        })
    });
    for call in futures_util::future::join_all(calls).await {
        let unshared = call.unwrap().unwrap();
        assert_eq!(unshared.attempts, 2, "42001, then success with the new token");
    }
    assert_eq!(tokens.refresh_count(), 2, "the first token, and exactly one refresh");
}

#[tokio::test]
async fn concurrent_calls_share_one_failed_refresh_instead_of_each_sending_one() {
    let server = integration_tests::ScriptedServer::start(vec![integration_tests::ScriptedResponse::json(
        r#"{"errcode":61006,"errmsg":"component ticket is invalid rid: 1-2-3"}"#,
    )])
    .await;
    let tickets = Arc::new(VerifyTicketStore::new());
    tickets.set(VerifyTicket::new("ticket@@@x"));
    let tokens = Arc::new(
        ComponentTokenProvider::builder("wx-platform", "secret", tickets)
            .base_url(server.base_url())
            .build()
            .unwrap(),
    );
    let calls = (0..8).map(|_| {
        let tokens = tokens.clone();
        tokio::spawn(async move { tokens.access_token().await })
    });
    for call in futures_util::future::join_all(calls).await {
        let error = call.unwrap().unwrap_err();
        assert!(matches!(error, Error::Token(_)), "{error:?}");
    }
    assert_eq!((tokens.refresh_count(), server.count()), (1, 1));
    // A later call tries again.
    let _ = tokens.access_token().await;
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn the_call_deadline_covers_obtaining_the_token() {
    // A token endpoint that never answers.
    let (url, _hold) = integration_tests::stalling_server().await;
    let tickets = Arc::new(VerifyTicketStore::new());
    tickets.set(VerifyTicket::new("ticket@@@x"));
    let tokens = Arc::new(
        ComponentTokenProvider::builder("wx-platform", "secret", tickets).base_url(&url).build().unwrap(),
    );
    let client = Client::builder()
        .base_url(&url)
        .token_provider(tokens)
        .retry_policy(
            wechat_cloudbase::RetryPolicy::default().with_deadline(std::time::Duration::from_millis(200)),
        )
        .build()
        .unwrap();
    let error =
        client.unshare_cloudbase_env(&unshare(0)).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert!(
        matches!(error, Error::Transport(ref t) if t.kind == wechat_cloudbase::TransportErrorKind::Deadline),
        "{error:?}"
    );
    assert_eq!(error.attempts(), 0, "no unshare request was sent");
}

#[tokio::test]
async fn without_a_verify_ticket_nothing_is_sent() {
    let sandbox = sandbox_with(1).await;
    let client = client(&sandbox, provider(&sandbox, None));
    let error =
        client.unshare_cloudbase_env(&unshare(0)).await.and_then(BatchOutcome::into_result).unwrap_err();
    let Error::Token(token) = &error else { panic!("{error:?}") };
    assert!(token.reason.contains("component_verify_ticket"), "{error}");
    assert_eq!(error.attempts(), 0);
    assert_eq!(sandbox.requests_received(), 0);
}

#[tokio::test]
async fn a_rejected_ticket_is_a_token_error_carrying_wechats_errcode() {
    let sandbox = sandbox_with(1).await;
    let client = client(&sandbox, provider(&sandbox, Some("ticket@@@stale")));
    let error =
        client.unshare_cloudbase_env(&unshare(0)).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert!(matches!(error, Error::Token(_)), "{error:?}");
    assert_eq!(error.errcode(), Some(61006));
    assert!(error.rid().is_some());
    assert_eq!(sandbox.requests_received(), 1, "only the token request; no unshare was sent");
}

#[tokio::test]
async fn a_fixed_token_that_fails_is_returned_without_a_repeat() {
    let sandbox = sandbox_with(1).await;
    let client = Client::new(&sandbox.base_url(), AccessToken::new("tok-unknown-0d4e")).unwrap();
    let error =
        client.unshare_cloudbase_env(&unshare(0)).await.and_then(BatchOutcome::into_result).unwrap_err();
    let Error::Api(api) = &error else { panic!("{error:?}") };
    assert_eq!(api.code, ErrorCode::InvalidAccessToken);
    assert_eq!(sandbox.requests_received(), 1);
}

#[tokio::test]
async fn a_second_token_error_is_returned_never_a_loop() {
    let sandbox = sandbox_with(1).await;
    let tokens = Arc::new(BadTokens::default());
    let client = client(&sandbox, tokens.clone());
    let error =
        client.unshare_cloudbase_env(&unshare(0)).await.and_then(BatchOutcome::into_result).unwrap_err();
    assert_eq!(error.errcode(), Some(40014));
    assert_eq!(error.attempts(), 2, "the first token, and exactly one repeat with a new one");
    assert_eq!(sandbox.requests_received(), 2);
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalidating_a_token_that_was_already_replaced_keeps_the_new_one() {
    let sandbox = sandbox_with(0).await;
    let tokens = provider(&sandbox, Some(SANDBOX_VERIFY_TICKET));
    let first = tokens.access_token().await.unwrap();
    tokens.invalidate(&first).await;
    let second = tokens.access_token().await.unwrap();
    assert_ne!(first, second);
    tokens.invalidate(&first).await; // stale: must not drop `second`
    assert_eq!(tokens.access_token().await.unwrap(), second);
    assert_eq!(tokens.refresh_count(), 2);
}

/// A provider whose every token is new and unknown to the server.
mod bad {
    use super::*;

    #[derive(Debug, Default)]
    pub struct BadTokens {
        issued: AtomicU32,
        pub invalidated: AtomicU32,
    }

    #[wechat_cloudbase::async_trait]
    impl TokenProvider for BadTokens {
        async fn access_token(&self) -> Result<AccessToken, Error> {
            let n = self.issued.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new(format!("tok-bad-{n}")))
        }

        async fn invalidate(&self, _failed: &AccessToken) {
            self.invalidated.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `getComponentAccessToken` issues a new token on every call (`x-wechat-idempotent: false`):
/// after a gateway error, whose request may have been carried out, it is not sent again blindly,
/// while unshare, which is safe to repeat, is.
#[tokio::test]
async fn the_token_call_is_not_repeated_after_a_gateway_error() {
    use integration_tests::{ScriptedResponse, ScriptedServer};
    let server =
        ScriptedServer::start(vec![ScriptedResponse::raw(504, "text/html", "<html>504</html>")]).await;
    let tickets = Arc::new(VerifyTicketStore::new());
    tickets.set(VerifyTicket::new("ticket@@@x"));
    let provider = Arc::new(
        ComponentTokenProvider::builder("wx-platform", "secret", tickets)
            .base_url(server.base_url())
            .build()
            .unwrap(),
    );
    let error = provider.access_token().await.unwrap_err();
    assert_eq!(server.count(), 1, "sent once: {error}");
    let Error::Token(token) = &error else { panic!("{error:?}") };
    let call = token.source.as_deref().expect("the failed token call");
    assert!(call.may_have_been_applied(), "the token call's own fate is unknown: {call}");

    let client = Client::new(&server.base_url(), AccessToken::new("tok-1")).unwrap();
    let error = client
        .unshare_cloudbase_env(&UnshareRequest::new().env("e", ["wx1"]))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert!(server.count() > 2, "unshare is retried: {error}");
}
