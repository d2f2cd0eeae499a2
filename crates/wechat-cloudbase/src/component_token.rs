//! A [`TokenProvider`] that obtains the `component_access_token` from WeChat and caches it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use wechat_cloudbase_openapi::operations::GetComponentAccessToken;
use wechat_cloudbase_openapi::{AccessToken, types};

use crate::error::{DecodeError, Error, TokenError};
use crate::token::TokenProvider;
use crate::transport::{HttpConfig, Transport};

/// A `component_verify_ticket`: a secret that never appears in `Debug` output.
#[derive(Clone)]
pub struct VerifyTicket(SecretString);

impl VerifyTicket {
    /// Wraps a ticket string.
    pub fn new(ticket: impl Into<String>) -> Self {
        Self(SecretString::from(ticket.into()))
    }

    /// The ticket itself. Never log or display what this returns.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for VerifyTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifyTicket(<redacted>)")
    }
}

/// Where the latest `component_verify_ticket` comes from.
///
/// WeChat pushes the ticket to the platform's own server every 10 minutes; the application
/// receives it and makes it available here (for example through a [`VerifyTicketStore`]).
#[async_trait]
pub trait VerifyTicketSource: Send + Sync + fmt::Debug {
    /// The latest ticket, or `None` if none has arrived yet.
    async fn component_verify_ticket(&self) -> Option<VerifyTicket>;
}

/// An in-memory [`VerifyTicketSource`]: the push handler calls [`VerifyTicketStore::set`].
#[derive(Debug, Default)]
pub struct VerifyTicketStore(RwLock<Option<VerifyTicket>>);

impl VerifyTicketStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the ticket with the one WeChat just pushed.
    pub fn set(&self, ticket: VerifyTicket) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(ticket);
    }
}

#[async_trait]
impl VerifyTicketSource for VerifyTicketStore {
    async fn component_verify_ticket(&self) -> Option<VerifyTicket> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The default margin before `expires_in` at which a cached token is refreshed: 5 minutes.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// A [`TokenProvider`] that obtains `component_access_token` from WeChat (spec operation
/// `getComponentAccessToken`, `POST /cgi-bin/component/api_component_token`) and caches it.
///
/// - The token is kept until [`DEFAULT_REFRESH_MARGIN`] (configurable) before `expires_in`
///   seconds have passed, and at least half of `expires_in`.
/// - Refreshes are single-flight: however many calls find the token stale at once, one request
///   is sent and all of them get its token, or its failure.
/// - Without a verify ticket it fails with [`Error::Token`] and sends nothing.
pub struct ComponentTokenProvider {
    component_appid: String,
    component_appsecret: SecretString,
    tickets: Arc<dyn VerifyTicketSource>,
    transport: Transport,
    refresh_margin: Duration,
    cached: RwLock<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
    refreshes: AtomicU64,
    /// Refreshes that have ended, however they ended: a caller that waited for the lock across
    /// one of them takes its outcome instead of refreshing again.
    finished: AtomicU64,
    last_failure: std::sync::Mutex<Option<String>>,
}

impl fmt::Debug for ComponentTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentTokenProvider")
            .field("component_appid", &self.component_appid)
            .field("component_appsecret", &"<redacted>")
            .field("tickets", &self.tickets)
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

impl ComponentTokenProvider {
    /// A builder for the platform `component_appid` with its app secret and ticket source.
    pub fn builder(
        component_appid: impl Into<String>,
        component_appsecret: impl Into<String>,
        tickets: Arc<dyn VerifyTicketSource>,
    ) -> ComponentTokenProviderBuilder {
        ComponentTokenProviderBuilder {
            component_appid: component_appid.into(),
            component_appsecret: SecretString::from(component_appsecret.into()),
            tickets,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            config: HttpConfig::default(),
        }
    }

    /// How many token requests this provider has made so far (successful or not).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    fn current(&self) -> Option<AccessToken> {
        let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
        cached.as_ref().filter(|c| Instant::now() < c.refresh_at).map(|c| c.token.clone())
    }

    async fn fetch(&self) -> Result<Cached, Error> {
        let Some(ticket) = self.tickets.component_verify_ticket().await else {
            return Err(TokenError::new(
                "no component_verify_ticket is available yet; nothing was sent",
                None,
            )
            .into());
        };
        let body = types::ComponentAccessTokenRequest {
            component_appid: self.component_appid.as_str().try_into().map_err(|_| {
                TokenError::new("`component_appid` must not be empty; nothing was sent", None)
            })?,
            component_appsecret: self.component_appsecret.expose_secret().try_into().map_err(|_| {
                TokenError::new("`component_appsecret` must not be empty; nothing was sent", None)
            })?,
            component_verify_ticket: ticket.expose_secret().try_into().map_err(|_| {
                TokenError::new("`component_verify_ticket` must not be empty; nothing was sent", None)
            })?,
        };
        let body = &body;
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        // The app secret and the ticket are redacted from the answer as the spec's
        // `format: password` fields of the body.
        let sent = self.transport.call::<GetComponentAccessToken>(body, None).await;
        let answered =
            sent.map_err(|e| Error::from(TokenError::new("getComponentAccessToken failed", Some(e))))?;
        let (answer, attempts) = (answered.answer, answered.attempts);
        let missing = |what: &str| {
            let error = Error::from(DecodeError {
                operation: "getComponentAccessToken",
                status: 200,
                reason: format!("the answer has no `{what}`"),
                excerpt: String::new(),
                attempts,
            });
            Error::from(TokenError::new("getComponentAccessToken gave no token", Some(error)))
        };
        let token = answer
            .component_access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| missing("component_access_token"))?;
        let expires_in = answer.expires_in.filter(|s| *s > 0).ok_or_else(|| missing("expires_in"))?;
        Ok(Cached { token: AccessToken::new(token), refresh_at: refresh_at(expires_in, self.refresh_margin) })
    }
}

/// When a token valid for `expires_in` seconds from now should be refreshed: `margin` before it
/// expires, but never sooner than half its lifetime, so a short-lived token is still cached.
fn refresh_at(expires_in: i64, margin: Duration) -> Instant {
    // Lifetimes beyond ten years are taken as ten years; `Instant` cannot hold every `i64`.
    let lifetime = Duration::from_secs(expires_in.unsigned_abs().min(10 * 365 * 24 * 3600));
    let keep = lifetime.saturating_sub(margin).max(lifetime / 2);
    let now = Instant::now();
    now.checked_add(keep).unwrap_or(now)
}

#[async_trait]
impl TokenProvider for ComponentTokenProvider {
    async fn access_token(&self) -> Result<AccessToken, Error> {
        if let Some(token) = self.current() {
            return Ok(token);
        }
        let generation = self.finished.load(Ordering::SeqCst);
        let _single_flight = self.refresh.lock().await;
        // Someone else may have refreshed while this call waited for the lock.
        if let Some(token) = self.current() {
            return Ok(token);
        }
        if self.finished.load(Ordering::SeqCst) != generation {
            // A refresh ran while this call waited. If it failed, do not send another at once.
            let failure = self.last_failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(reason) = failure {
                let reason = format!("the token refresh this call waited for failed: {reason}");
                return Err(TokenError::new(reason, None).into());
            }
        }
        let fetched = self.fetch().await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        match fetched {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
                *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Ok(token)
            }
            Err(error) => {
                *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
                Err(error)
            }
        }
    }

    async fn invalidate(&self, failed: &AccessToken) {
        let mut cached = self.cached.write().unwrap_or_else(|e| e.into_inner());
        if cached.as_ref().is_some_and(|c| &c.token == failed) {
            *cached = None;
        }
    }
}

/// Builds a [`ComponentTokenProvider`].
#[derive(Debug)]
pub struct ComponentTokenProviderBuilder {
    component_appid: String,
    component_appsecret: SecretString,
    tickets: Arc<dyn VerifyTicketSource>,
    refresh_margin: Duration,
    config: HttpConfig,
}

impl ComponentTokenProviderBuilder {
    crate::transport::http_settings!();

    /// How long before `expires_in` runs out the token is refreshed (default
    /// [`DEFAULT_REFRESH_MARGIN`]).
    #[must_use]
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a bad `base_url`; [`Error::Transport`] when the HTTP client
    /// cannot be created.
    pub fn build(self) -> Result<ComponentTokenProvider, Error> {
        Ok(ComponentTokenProvider {
            component_appid: self.component_appid,
            component_appsecret: self.component_appsecret,
            tickets: self.tickets,
            transport: self.config.build()?,
            refresh_margin: self.refresh_margin,
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            refreshes: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            last_failure: std::sync::Mutex::new(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_until_the_margin_but_at_least_half_their_lifetime() {
        let margin = Duration::from_secs(300);
        let now = Instant::now();
        let at = refresh_at(7200, margin);
        assert!(at >= now + Duration::from_secs(6899) && at <= now + Duration::from_secs(6901));
        let short = refresh_at(200, margin);
        assert!(short >= now + Duration::from_secs(99) && short <= now + Duration::from_secs(101));
        // Hostile lifetimes never panic.
        for expires_in in [i64::MAX, i64::MIN, 0, 1] {
            let _ = refresh_at(expires_in, margin);
        }
    }
}
