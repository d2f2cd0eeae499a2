//! Where the `component_access_token` comes from.

use std::fmt;

use async_trait::async_trait;
use wechat_cloudbase_openapi::AccessToken;

use crate::error::Error;

/// A source of `component_access_token`s for a [`crate::Client`].
///
/// The client asks for a token before each call. After an answer with a token-class `errcode`
/// (40014, 42001, 40001) it calls [`TokenProvider::invalidate`] with the token that failed, asks
/// again, and repeats the call once if the new token differs. A second token error is returned.
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// The token to send now.
    ///
    /// # Errors
    /// [`Error::Token`] when no token can be had (for example, no verify ticket yet).
    async fn access_token(&self) -> Result<AccessToken, Error>;

    /// Forgets `failed`, if it is still the current token; a token that has already been
    /// replaced (by a concurrent refresh) is left alone.
    async fn invalidate(&self, failed: &AccessToken);
}

/// A fixed token, for callers that manage tokens themselves. It is never refreshed: a token
/// error is returned to the caller as it is.
#[derive(Debug, Clone)]
pub struct StaticToken(AccessToken);

impl StaticToken {
    /// Always provides `token`.
    pub fn new(token: AccessToken) -> Self {
        Self(token)
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn access_token(&self) -> Result<AccessToken, Error> {
        Ok(self.0.clone())
    }

    async fn invalidate(&self, _failed: &AccessToken) {}
}
