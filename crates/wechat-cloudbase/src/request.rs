//! The unshare request, and its validation before anything is sent.

use wechat_cloudbase_openapi::types;

use crate::error::ValidationError;
use crate::outcome::EnvAppid;

/// The kind of environment named in a request (`source_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SourceType {
    /// `1`: a CloudRun (云托管) environment, the only kind WeChat's page documents.
    #[default]
    CloudRun,
}

impl SourceType {
    /// The raw `source_type` value sent to WeChat.
    pub fn code(self) -> i32 {
        match self {
            SourceType::CloudRun => 1,
        }
    }
}

/// One environment and the mini programs it should no longer be shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvAppids {
    /// The environment id.
    pub env: String,
    /// The mini programs' `appid`s.
    pub appids: Vec<String>,
}

/// A request for `unshareCloudbaseEnv` (`POST /componenttcb/batchunshareenv`).
///
/// Build it with [`UnshareRequest::new`] and [`UnshareRequest::env`]; it is validated when it is
/// sent, and a bad value is refused with the path of the field (see [`UnshareRequest::validate`]).
///
/// ```
/// use wechat_cloudbase::UnshareRequest;
///
/// let request = UnshareRequest::new()
///     .env("test-env-6gni9ity244a6ea3", ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"]);
/// assert_eq!(request.pairs().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnshareRequest {
    /// One entry per environment (`data`).
    pub data: Vec<EnvAppids>,
    /// The kind of environment (`source_type`).
    pub source_type: SourceType,
}

impl UnshareRequest {
    /// An empty request for CloudRun environments; add environments with [`UnshareRequest::env`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an environment and the `appid`s to stop sharing it with.
    #[must_use]
    pub fn env<I, S>(mut self, env: impl Into<String>, appids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.data.push(EnvAppids { env: env.into(), appids: appids.into_iter().map(Into::into).collect() });
        self
    }

    /// Sets `source_type`.
    #[must_use]
    pub fn source_type(mut self, source_type: SourceType) -> Self {
        self.source_type = source_type;
        self
    }

    /// Every (env, appid) pair of the request, in order.
    pub fn pairs(&self) -> Vec<EnvAppid> {
        self.data
            .iter()
            .flat_map(|e| e.appids.iter().map(|a| EnvAppid { env: e.env.clone(), appid: a.clone() }))
            .collect()
    }

    /// Checks the request the way the API would, without sending it.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the first offending field: `data` when it is empty,
    /// `data[i].env` when an env id is empty or holds whitespace or control characters,
    /// `data[i].appids` when an appid list is empty, `data[i].appids[j]` for a bad appid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.to_wire().map(drop)
    }

    /// Validates and converts into the generated wire type.
    pub(crate) fn to_wire(&self) -> Result<types::UnshareCloudbaseEnvRequest, ValidationError> {
        if self.data.is_empty() {
            return Err(ValidationError::new("data", "must list at least one environment"));
        }
        let mut data = Vec::with_capacity(self.data.len());
        for (i, entry) in self.data.iter().enumerate() {
            let env = id(&entry.env, || format!("data[{i}].env"))?;
            if entry.appids.is_empty() {
                return Err(ValidationError::new(
                    format!("data[{i}].appids"),
                    "must list at least one appid",
                ));
            }
            let mut appids = Vec::with_capacity(entry.appids.len());
            for (j, appid) in entry.appids.iter().enumerate() {
                appids.push(id(appid, || format!("data[{i}].appids[{j}]"))?);
            }
            data.push(types::EnvAppids { env, appids });
        }
        let source_type = types::UnshareCloudbaseEnvRequestSourceType::try_from(self.source_type.code())
            .map_err(|e| ValidationError::new("source_type", e.to_string()))?;
        Ok(types::UnshareCloudbaseEnvRequest { data, source_type })
    }
}

/// Checks one id (env or appid) and converts it to its generated newtype.
fn id<T>(value: &str, field: impl Fn() -> String) -> Result<T, ValidationError>
where
    T: for<'a> TryFrom<&'a str>,
{
    if value.is_empty() {
        return Err(ValidationError::new(field(), "must not be empty"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(field(), "must not contain whitespace or control characters"));
    }
    T::try_from(value).map_err(|_| ValidationError::new(field(), "is not valid for the spec"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(request: UnshareRequest) -> String {
        request.validate().unwrap_err().field
    }

    #[test]
    fn empty_data_is_refused() {
        assert_eq!(field_of(UnshareRequest::new()), "data");
    }

    #[test]
    fn the_offending_field_path_is_named() {
        let ok = ["wx5fe6bb43205e9e07"];
        assert_eq!(field_of(UnshareRequest::new().env("", ok)), "data[0].env");
        assert_eq!(
            field_of(UnshareRequest::new().env("e", ok).env("e2", Vec::<String>::new())),
            "data[1].appids"
        );
        assert_eq!(field_of(UnshareRequest::new().env("e", ok).env("e2", ["wx1", ""])), "data[1].appids[1]");
        assert_eq!(field_of(UnshareRequest::new().env("e", [" wx1"])), "data[0].appids[0]");
        assert_eq!(field_of(UnshareRequest::new().env("e\n", ok)), "data[0].env");
    }

    #[test]
    fn the_documented_request_is_valid_and_encodes_as_on_the_page() {
        let request = UnshareRequest::new()
            .env("test-env-6gni9ity244a6ea3", ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"]);
        let wire = serde_json::to_value(request.to_wire().unwrap()).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"data":[{"env":"test-env-6gni9ity244a6ea3","appids":["wx5fe6bb43205e9e07","wx075cf85bf347b6df"]}],"source_type":1})
        );
    }
}
