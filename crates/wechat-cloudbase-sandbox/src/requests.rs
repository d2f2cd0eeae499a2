//! The request body of each operation of the spec, validated into a typed request (40097 for a
//! present but invalid field, named by its path). Which fields are required (40101) is each
//! kind's `REQUIRED`, checked before by [`crate::extract::Wechat`].

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::extract::{Refusal, WechatRequest};
use crate::state::Pair;

/// The `source_type`s the sandbox accepts: 1 (CloudRun, WeChat's pages) and 0 (CloudBase, from
/// a .NET SDK; the spec's `SourceType`). Any other is 40097.
pub(crate) const SOURCE_TYPES: [i32; 2] = [0, 1];

/// A `BatchEnvRequest` (`shareCloudbaseEnv`, `unshareCloudbaseEnv`): a set of pairs.
#[derive(Debug)]
pub(crate) struct BatchEnv {
    /// The distinct pairs, in request order (a pair given twice counts once), each with the
    /// request's `source_type`.
    pub(crate) pairs: Vec<Pair>,
}

impl WechatRequest for BatchEnv {
    const REQUIRED: &'static [&'static str] = &["data", "source_type", "data[].env", "data[].appids"];

    fn validate(body: &Map<String, Value>) -> Result<Self, Refusal> {
        let entries = non_empty_array(field(body, "data")).ok_or_else(|| Refusal::invalid("data"))?;
        let mut seen = HashSet::new();
        let mut pairs = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let entry = entry.as_object().ok_or_else(|| Refusal::invalid(format_args!("data[{i}]")))?;
            let env = non_empty_str(field(entry, "env"))
                .ok_or_else(|| Refusal::invalid(format_args!("data[{i}].env")))?;
            let appids = non_empty_array(field(entry, "appids"))
                .ok_or_else(|| Refusal::invalid(format_args!("data[{i}].appids")))?;
            for (j, appid) in appids.iter().enumerate() {
                let appid = non_empty_str(appid)
                    .ok_or_else(|| Refusal::invalid(format_args!("data[{i}].appids[{j}]")))?;
                if seen.insert((env, appid)) {
                    pairs.push((env.to_owned(), appid.to_owned()));
                }
            }
        }
        let source_type = source_type(body)?;
        Ok(Self { pairs: pairs.into_iter().map(|(env, appid)| Pair::new(source_type, env, appid)).collect() })
    }
}

/// A `GetShareCloudbaseEnvRequest`: the mini programs to look up.
#[derive(Debug)]
pub(crate) struct AppidsLookup {
    pub(crate) source_type: i32,
    /// The distinct appids, in request order.
    pub(crate) appids: Vec<String>,
}

impl WechatRequest for AppidsLookup {
    const REQUIRED: &'static [&'static str] = &["appids", "source_type"];

    fn validate(body: &Map<String, Value>) -> Result<Self, Refusal> {
        let given = non_empty_array(field(body, "appids")).ok_or_else(|| Refusal::invalid("appids"))?;
        let mut appids: Vec<String> = Vec::with_capacity(given.len());
        let mut seen = std::collections::HashSet::with_capacity(given.len());
        for (i, appid) in given.iter().enumerate() {
            let appid = non_empty_str(appid).ok_or_else(|| Refusal::invalid(format_args!("appids[{i}]")))?;
            if seen.insert(appid) {
                appids.push(appid.to_owned());
            }
        }
        Ok(Self { source_type: source_type(body)?, appids })
    }
}

/// A `ComponentAccessTokenRequest`: the platform's credentials. The only operation without a
/// token.
#[derive(Debug)]
pub(crate) struct TokenRequest {
    pub(crate) component_appid: String,
    pub(crate) component_appsecret: String,
    pub(crate) component_verify_ticket: String,
}

impl WechatRequest for TokenRequest {
    const NEEDS_TOKEN: bool = false;
    const REQUIRED: &'static [&'static str] =
        &["component_appid", "component_appsecret", "component_verify_ticket"];

    fn validate(body: &Map<String, Value>) -> Result<Self, Refusal> {
        let text = |name: &str| {
            non_empty_str(field(body, name)).map(str::to_owned).ok_or_else(|| Refusal::invalid(name))
        };
        Ok(Self {
            component_appid: text("component_appid")?,
            component_appsecret: text("component_appsecret")?,
            component_verify_ticket: text("component_verify_ticket")?,
        })
    }
}

/// The field `name`, or `null` when absent.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> &'a Value {
    object.get(name).unwrap_or(&Value::Null)
}

fn non_empty_str(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

fn non_empty_array(value: &Value) -> Option<&Vec<Value>> {
    value.as_array().filter(|a| !a.is_empty())
}

/// `source_type`, one of [`SOURCE_TYPES`].
fn source_type(body: &Map<String, Value>) -> Result<i32, Refusal> {
    field(body, "source_type")
        .as_i64()
        .and_then(|t| i32::try_from(t).ok())
        .filter(|t| SOURCE_TYPES.contains(t))
        .ok_or_else(|| Refusal::invalid("source_type"))
}
