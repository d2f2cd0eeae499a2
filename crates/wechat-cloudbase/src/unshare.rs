//! `unshareCloudbaseEnv`: stop sharing environments with mini programs.

use wechat_cloudbase_openapi::operations::UnshareCloudbaseEnv;

use crate::client::Client;
use crate::error::Error;
use crate::outcome::{BatchAnswer, BatchOperation, BatchOutcome};
use crate::request::UnshareRequest;

impl Client {
    /// Stops sharing environments with mini programs: spec operation `unshareCloudbaseEnv`,
    /// `POST /componenttcb/batchunshareenv` (WeChat's page "unshareCloudbaseEnv").
    ///
    /// The request, the token and the base URL are validated first; nothing is sent unless all
    /// are valid. The call is idempotent, so it is retried under the client's
    /// [`crate::RetryPolicy`] on `errcode` -1, HTTP 502/503/504 and transport failures; a token
    /// error makes it invalidate the token and repeat once.
    ///
    /// Returns the [`BatchOutcome`] of any answer with `errcode` 0: `proven` lists the pairs the
    /// answer proves unshared; anything short of complete (`failed`, `unverified`) is still `Ok`
    /// ([`BatchOutcome::into_result`] makes it an error, [`Client::verify_outcome`] looks the
    /// unproven pairs up).
    ///
    /// # Errors
    /// Every error says whether the request may have been carried out ([`Error::effect`]).
    /// - [`Error::InvalidRequest`]: the request or the token is invalid (nothing sent);
    /// - [`Error::Api`]: a non-zero `errcode`, with its class and `rid`;
    /// - [`Error::Http`], [`Error::Decode`], [`Error::Transport`]: no valid answer;
    /// - [`Error::Token`]: the token provider could not produce a token.
    pub async fn unshare_cloudbase_env(&self, request: &UnshareRequest) -> Result<BatchOutcome, Error> {
        let answered = self.call_answered::<UnshareCloudbaseEnv>(request.to_wire()?).await?;
        Ok(request.judge(BatchOperation::Unshare, answered.map(BatchAnswer::from)))
    }
}
