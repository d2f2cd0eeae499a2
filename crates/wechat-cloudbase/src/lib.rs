#![doc = include_str!("../README.md")]

// Layers, each using only those above it: text, errcode and source_type; outcome; error; request and retry;
// token; transport (the engine); component_token; client; one file per operation; bulk runs.
mod bulk;
mod client;
mod component_token;
mod errcode;
mod error;
mod outcome;
mod query;
mod request;
mod retry;
mod share;
mod source_type;
mod text;
mod token;
mod transport;
mod unshare;

pub use bulk::{
    BulkBatch, BulkOptions, BulkRun, BulkStop, DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, DEFAULT_QUOTA_WAIT,
    MAX_RATE, MIN_RATE, stops_run,
};
pub use client::{Client, ClientBuilder};
pub use component_token::{
    ComponentTokenProvider, ComponentTokenProviderBuilder, DEFAULT_REFRESH_MARGIN, VerifyTicket,
    VerifyTicketSource, VerifyTicketStore,
};
pub use errcode::{ErrorClass, ErrorCode, split_rid};
pub use error::{
    ApiError, DecodeError, Effect, Error, ErrorKind, HttpError, TokenError, TransportError,
    TransportErrorKind, ValidationError,
};
pub use outcome::{BatchOperation, BatchOutcome, Confirmation, EnvAppid, FailedPair};
pub use query::{LookupFailure, ShareQuery, SharedEnvs};
pub use request::{BatchRequest, ShareRequest, SourceType, UnshareRequest};
pub use retry::RetryPolicy;
pub use text::{escape_for_terminal, redact};
pub use token::{StaticToken, TokenProvider};
pub use transport::{
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT,
    MAX_ACCESS_TOKEN_BYTES, http_client_builder,
};
pub use wechat_cloudbase_openapi::AccessToken;

/// The HTTP client this crate sends with (re-exported: it is part of the API, in
/// [`ClientBuilder::http_client`] and the errors' sources), so callers name the same version.
pub use reqwest;

/// The attribute to implement [`TokenProvider`] and [`VerifyTicketSource`] with `async fn`s
/// (re-exported from the `async-trait` crate).
pub use async_trait::async_trait;

/// The generated client and wire types (progenitor, from `openapi/wechat-cloudbase.yaml`), for
/// callers who need the raw shapes. Most callers never need this: [`Client::call`] sends any
/// operation with the engine's tokens, retries and redaction.
///
/// Everything needed to use the raw [`openapi::Client`] is here: its inner [`CallContext`]
/// (the token and the body limit its hooks use), and progenitor-client's [`ResponseValue`],
/// [`Error`] and [`ClientInfo`]. The raw client has none of the engine's retries, token
/// handling or redaction; its errors can print the URL, which holds the token.
///
/// ```no_run
/// use wechat_cloudbase::openapi::{CallContext, Client, types};
/// use wechat_cloudbase::{AccessToken, DEFAULT_BASE_URL, DEFAULT_MAX_BODY_BYTES, http_client_builder};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let context = CallContext::new(Some(AccessToken::new("COMPONENT_ACCESS_TOKEN")), DEFAULT_MAX_BODY_BYTES);
/// let raw = Client::new_with_client(DEFAULT_BASE_URL, http_client_builder()?.build()?, context);
/// let body: types::GetShareCloudbaseEnvRequest =
///     serde_json::from_value(serde_json::json!({"appids": ["wx5fe6bb43205e9e07"], "source_type": 1}))?;
/// let answer = raw.get_share_cloudbase_env(&body).await?.into_inner();
/// println!("errcode {}", *answer.errcode);
/// # Ok(())
/// # }
/// ```
///
/// [`CallContext`]: openapi::CallContext
/// [`ResponseValue`]: openapi::ResponseValue
/// [`Error`]: openapi::Error
/// [`ClientInfo`]: openapi::ClientInfo
pub mod openapi {
    pub use wechat_cloudbase_openapi::{
        AccessToken, Answer, CallContext, Client, ClientInfo, Error, GeneratedResult, OPERATION_IDS,
        Operation, OperationVisitor, ResponseValue, SPEC_ERRCODES, SpecErrcode, operations, types,
        visit_operation,
    };
}

/// Entry points for this workspace's fuzz targets and benchmarks; not part of the API, and may
/// change in any release.
#[doc(hidden)]
pub mod __private {
    use wechat_cloudbase_openapi::operations::UnshareCloudbaseEnv;
    use wechat_cloudbase_openapi::{Operation, types};

    use crate::outcome::{BatchAnswer, BatchOperation};
    use crate::transport::Answered;
    use crate::{BatchOutcome, DecodeError, Error, UnshareRequest};

    /// Validates `request` and lends the generated wire type the client sends.
    pub fn wire_request(request: &UnshareRequest) -> Result<&types::BatchEnvRequest, Error> {
        Ok(request.to_wire()?)
    }

    /// Validates and encodes `request` as the JSON body the client sends.
    pub fn encode_unshare_request(request: &UnshareRequest) -> Result<Vec<u8>, Error> {
        let wire = request.to_wire()?;
        serde_json::to_vec(wire).map_err(|e| {
            Error::from(DecodeError {
                operation: UnshareCloudbaseEnv::OPERATION_ID,
                status: 0,
                reason: e.to_string(),
                excerpt: String::new(),
                attempts: 0,
            })
        })
    }

    /// Decodes an HTTP 200 answer body for `request` exactly as the client does: BOM dropped and
    /// anything but a JSON object refused (the hooks' [`wechat_cloudbase_openapi::answer_json`]),
    /// progenitor's decoding (`serde_json::from_slice` into the generated type), the errcode,
    /// then the outcome.
    pub fn decode_unshare_body(body: &[u8], request: &UnshareRequest) -> Result<BatchOutcome, Error> {
        let operation = UnshareCloudbaseEnv::OPERATION_ID;
        let decoded = wechat_cloudbase_openapi::answer_json(body)
            .and_then(serde_json::from_slice::<types::UnshareCloudbaseEnvResponse>)
            .map_err(|e| crate::transport::payload_error(operation, body, &e, &[]))
            .and_then(|answer| crate::transport::accept_answer(answer, operation, || []));
        let answer = decoded.map_err(|mut error| {
            error.set_call(1, crate::Effect::NotSent);
            error
        })?;
        let answer = BatchAnswer::from(answer);
        let answered = Answered { answer, attempts: 1, after_uncertain_attempt: false, token: None };
        Ok(request.judge(BatchOperation::Unshare, answered))
    }
}
