#![doc = include_str!("../README.md")]

mod client;
mod errcode;
mod error;
mod outcome;
mod request;
mod retry;
mod token;

pub use client::{
    Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use errcode::{ErrorClass, ErrorCode, split_rid};
pub use error::{
    ApiError, DecodeError, Error, ErrorKind, HttpError, PartialFailure, TokenError, TransportError,
    TransportErrorKind, ValidationError,
};
pub use outcome::{EnvAppid, FailedPair, Unshared};
pub use request::{EnvAppids, SourceType, UnshareRequest};
pub use retry::RetryPolicy;
pub use token::{
    ComponentTokenProvider, ComponentTokenProviderBuilder, DEFAULT_REFRESH_MARGIN, StaticToken,
    TokenProvider, VerifyTicket, VerifyTicketSource, VerifyTicketStore,
};
pub use wechat_cloudbase_openapi::AccessToken;

/// The attribute to implement [`TokenProvider`] and [`VerifyTicketSource`] with `async fn`s
/// (re-exported from the `async-trait` crate).
pub use async_trait::async_trait;

/// The generated client and wire types (progenitor, from `openapi/wechat-cloudbase.yaml`), for
/// callers who need the raw shapes. Most callers never need this.
pub mod openapi {
    pub use wechat_cloudbase_openapi::{Client, SPEC_ERRCODES, SpecErrcode, types};
}
