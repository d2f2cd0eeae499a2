//! `shareCloudbaseEnv`: share environments with mini programs.

use wechat_cloudbase_openapi::operations::ShareCloudbaseEnv;

use crate::client::Client;
use crate::error::Error;
use crate::outcome::{BatchAnswer, BatchOperation, BatchOutcome};
use crate::request::ShareRequest;

impl Client {
    /// Shares environments with mini programs: spec operation `shareCloudbaseEnv`,
    /// `POST /componenttcb/batchshareenv` (WeChat's page "shareCloudbaseEnv").
    ///
    /// A pair WeChat accepts is shared only once the mini program's admin confirms: the outcome's
    /// `confirmations` (the answer's `msg_info_list`) give the URL to send to each admin. The mini
    /// program must first have granted the platform permission set 18.
    ///
    /// Validated, retried and reported like [`Client::unshare_cloudbase_env`]: the spec marks the
    /// call safe to repeat (a repeat cannot share a pair twice). `proven` lists the pairs WeChat
    /// accepted.
    ///
    /// # Errors
    /// As [`Client::unshare_cloudbase_env`].
    pub async fn share_cloudbase_env(&self, request: &ShareRequest) -> Result<BatchOutcome, Error> {
        let answered = self.call_answered::<ShareCloudbaseEnv>(request.to_wire()?).await?;
        Ok(request.judge(BatchOperation::Share, answered.map(BatchAnswer::from)))
    }
}
