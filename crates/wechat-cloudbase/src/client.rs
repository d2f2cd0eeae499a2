//! The client users hold, and the generic entry every operation goes through.

use std::sync::Arc;

use wechat_cloudbase_openapi::{AccessToken, Operation};

use crate::error::{Error, ValidationError};
use crate::token::{StaticToken, TokenProvider};
use crate::transport::{Answered, HttpConfig, Transport, http_settings};

/// A client for the CloudBase environment-sharing API.
///
/// Cheap to clone (an `Arc` inside); clones share the connection pool and the token provider.
/// Build one with [`Client::new`] for a fixed token, or [`Client::builder`] for everything else.
#[derive(Debug, Clone)]
pub struct Client {
    transport: Transport,
    tokens: Arc<dyn TokenProvider>,
}

impl Client {
    /// A client for `base_url` (normally [`DEFAULT_BASE_URL`](crate::DEFAULT_BASE_URL)) that
    /// always sends `access_token`, with the default retry policy, timeouts and body limit.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] with field `base_url` when it is not an absolute `http(s)` URL
    /// without query, fragment or credentials.
    pub fn new(base_url: &str, access_token: AccessToken) -> Result<Self, Error> {
        Self::builder().base_url(base_url).access_token(access_token).build()
    }

    /// A builder with every setting at its default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL calls go to, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.transport.base_url
    }

    /// Sends any operation of the spec (a type of [`crate::openapi::operations`]) with
    /// everything the typed methods get: the token (for the operations the spec secures), retries
    /// under the client's [`RetryPolicy`](crate::RetryPolicy) (transport failures and gateway
    /// errors only for operations the spec marks `x-wechat-idempotent`), the deadline, the body
    /// limit, decoding, redaction (of the token and of the body's `format: password` fields, such
    /// as `component_appsecret`) and tracing. The typed methods are thin layers over it; this is
    /// the way to an operation that has no typed method, or to its raw answer.
    ///
    /// Returns the decoded answer when its `errcode` is 0 or absent. Nothing checks `body` before
    /// it is sent but its types: build it with care, or prefer the typed methods.
    ///
    /// ```
    /// use wechat_cloudbase::openapi::{operations::UnshareCloudbaseEnv, types};
    /// # async fn run(client: wechat_cloudbase::Client) -> Result<(), wechat_cloudbase::Error> {
    /// let body: types::BatchEnvRequest = serde_json::from_value(serde_json::json!({
    ///     "data": [{"env": "test-env-6gni9ity244a6ea3", "appids": ["wx5fe6bb43205e9e07"]}],
    ///     "source_type": 1,
    /// })).expect("a valid body");
    /// let answer = client.call::<UnshareCloudbaseEnv>(&body).await?;
    /// println!("{} err_list entries", answer.err_list.map_or(0, |list| list.len()));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Api`] for a non-zero `errcode`; [`Error::Http`], [`Error::Decode`],
    /// [`Error::Transport`] for no valid answer; [`Error::Token`] when no token could be had;
    /// [`Error::InvalidRequest`] when the token cannot be sent. Each says its [`Error::effect`].
    pub async fn call<Op: Operation>(&self, body: &Op::Request) -> Result<Op::Response, Error> {
        Ok(self.call_answered::<Op>(body).await?.answer)
    }

    /// [`Client::call`], with what the call took.
    pub(crate) async fn call_answered<Op: Operation>(
        &self,
        body: &Op::Request,
    ) -> Result<Answered<Op::Response>, Error> {
        let tokens = Op::SECURED.then_some(&*self.tokens);
        self.transport.call::<Op>(body, tokens).await
    }
}

/// Builds a [`Client`]. Every setting has a default except the token.
#[derive(Debug, Default)]
pub struct ClientBuilder {
    config: HttpConfig,
    tokens: Option<Arc<dyn TokenProvider>>,
}

impl ClientBuilder {
    http_settings!();

    /// Sends this fixed `component_access_token` (a [`StaticToken`]).
    #[must_use]
    pub fn access_token(self, token: AccessToken) -> Self {
        self.token_provider(Arc::new(StaticToken::new(token)))
    }

    /// Takes tokens from `provider`, e.g. a [`crate::ComponentTokenProvider`].
    #[must_use]
    pub fn token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.tokens = Some(provider);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a bad `base_url`, no token (`token_provider`) or
    /// `retry.max_attempts` of 0; [`Error::Transport`] when the HTTP client cannot be created.
    pub fn build(self) -> Result<Client, Error> {
        let tokens = self
            .tokens
            .ok_or_else(|| ValidationError::new("token_provider", "must be set (a token or a provider)"))?;
        Ok(Client { transport: self.config.build()?, tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_without_a_token_is_refused() {
        let err = Client::builder().build().unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(ref v) if v.field == "token_provider"), "{err}");
    }
}
