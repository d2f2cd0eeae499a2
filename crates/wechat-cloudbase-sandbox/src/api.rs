//! The spec's operations, answered the way WeChat's pages describe.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use wechat_cloudbase_openapi::types;

use crate::Shared;

/// The largest request body the sandbox reads: 8 MiB.
pub(crate) const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// The `errcode` an answer carried, for the request log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnsweredErrcode(pub(crate) i64);

/// A request refused with a non-zero `errcode`.
#[derive(Debug)]
pub(crate) struct Reject {
    pub(crate) errcode: i64,
    pub(crate) errmsg: String,
}

pub(crate) fn reject(errcode: i64, errmsg: impl Into<String>) -> Reject {
    Reject { errcode, errmsg: errmsg.into() }
}

/// A JSON answer, tagged with its `errcode` for the log.
fn json_answer<T: serde::Serialize>(errcode: i64, body: &T) -> Response {
    let mut response = axum::Json(body).into_response();
    response.extensions_mut().insert(AnsweredErrcode(errcode));
    response
}

impl Shared {
    /// The answer for a refused request: HTTP 200, `errcode`, and `errmsg` ending with a rid.
    pub(crate) fn answer(&self, reject: Reject) -> Response {
        let body = types::UnshareCloudbaseEnvResponse {
            errcode: types::Errcode(reject.errcode),
            errmsg: Some(types::Errmsg(format!("{} rid: {}", reject.errmsg, self.rid()))),
            err_list: None,
        };
        json_answer(reject.errcode, &body)
    }
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Reads the body, at most [`MAX_REQUEST_BYTES`].
async fn read_body(body: Body) -> Result<Bytes, Reject> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| {
        reject(40097, format!("invalid args: the body is larger than {MAX_REQUEST_BYTES} bytes"))
    })
}

/// Checks, in WeChat's order: method (43002), token (41001, 40014, 42001), empty body (44002),
/// JSON (47001). Returns the JSON body.
async fn common_checks(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: Body,
    needs_token: bool,
) -> Result<Value, Reject> {
    if method != Method::POST {
        return Err(reject(43002, "require POST method"));
    }
    if needs_token {
        let Some(token) = query_token(query) else {
            return Err(reject(41001, "access_token missing"));
        };
        let state = shared.lock();
        if !state.static_tokens.contains(&token) {
            match state.issued.get(&token) {
                None => return Err(reject(40014, "invalid access_token")),
                Some(expiry) if Instant::now() >= *expiry => {
                    return Err(reject(42001, "access_token expired"));
                }
                Some(_) => {}
            }
        }
    }
    let body = read_body(body).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(reject(44002, "empty post data"));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| reject(47001, "data format error"))?;
    if !value.is_object() {
        return Err(reject(47001, "data format error: the body is not a JSON object"));
    }
    Ok(value)
}

/// A required field: missing (or null) → 40101.
fn required<'a>(body: &'a Value, field: &str) -> Result<&'a Value, Reject> {
    match body.get(field) {
        None | Some(Value::Null) => Err(reject(40101, format!("missing parameter {field}"))),
        Some(value) => Ok(value),
    }
}

fn non_empty_str(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// Parses and checks `data`: 40097 for anything present but not valid.
fn parse_data(data: &Value) -> Result<Vec<(String, Vec<String>)>, Reject> {
    let invalid = |what: String| reject(40097, format!("invalid args {what}"));
    let entries = data.as_array().filter(|a| !a.is_empty()).ok_or_else(|| invalid("data".into()))?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if !entry.is_object() {
            return Err(invalid(format!("data[{i}]")));
        }
        let env = required(entry, "env")?;
        let env = non_empty_str(env).ok_or_else(|| invalid(format!("data[{i}].env")))?;
        let appids = required(entry, "appids")?;
        let appids = appids
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| invalid(format!("data[{i}].appids")))?;
        let mut ids = Vec::with_capacity(appids.len());
        for (j, appid) in appids.iter().enumerate() {
            ids.push(
                non_empty_str(appid).ok_or_else(|| invalid(format!("data[{i}].appids[{j}]")))?.to_owned(),
            );
        }
        out.push((env.to_owned(), ids));
    }
    Ok(out)
}

/// `unshareCloudbaseEnv`: `POST /componenttcb/batchunshareenv`.
pub(crate) async fn unshare(
    State(shared): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    match unshare_inner(&shared, &method, query.as_deref(), body).await {
        Ok(response) => response,
        Err(reject) => shared.answer(reject),
    }
}

async fn unshare_inner(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: Body,
) -> Result<Response, Reject> {
    let body = common_checks(shared, method, query, body, true).await?;
    let data = required(&body, "data")?;
    let source_type = required(&body, "source_type")?;
    let data = parse_data(data)?;
    if source_type.as_i64() != Some(1) {
        return Err(reject(40097, "invalid args source_type"));
    }
    if let Some((env, _)) = data.iter().find(|(env, _)| shared.config.no_qbase_envs.contains(env)) {
        return Err(reject(85088, format!("no qbase privilege for env {env}")));
    }
    let mut err_list = Vec::new();
    let mut state = shared.lock();
    let mut changed = false;
    // A request is a set of pairs: a pair given twice is unshared once and reported once.
    let mut seen = std::collections::HashSet::new();
    for (env, appids) in data {
        let known = state.known_envs.contains(&env);
        for appid in appids {
            if !seen.insert((env.clone(), appid.clone())) {
                continue;
            }
            if state.shared.remove(&(env.clone(), appid.clone())) {
                changed = true;
            } else {
                let errmsg = if known { "env is not shared with appid" } else { "env not found" };
                err_list.push(types::PairFailure {
                    env: Some(env.clone()),
                    appid: Some(appid),
                    errmsg: Some(errmsg.into()),
                });
            }
        }
    }
    if changed {
        shared.persist(&state);
    }
    drop(state);
    let answer = types::UnshareCloudbaseEnvResponse {
        errcode: types::Errcode(0),
        errmsg: Some(types::Errmsg("ok".into())),
        err_list: (!err_list.is_empty()).then_some(err_list),
    };
    Ok(json_answer(0, &answer))
}

/// `getShareCloudbaseEnv`: `POST /componenttcb/batchgetenvid`. Every appid is looked up (one
/// `relation_data` entry each, in request order, a repeated appid once); its `env_list` holds
/// the envs the sandbox shares with it. Nothing is changed.
pub(crate) async fn get_share(
    State(shared): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    match get_share_inner(&shared, &method, query.as_deref(), body).await {
        Ok(response) => response,
        Err(reject) => shared.answer(reject),
    }
}

async fn get_share_inner(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: Body,
) -> Result<Response, Reject> {
    let body = common_checks(shared, method, query, body, true).await?;
    let appids = required(&body, "appids")?;
    let source_type = required(&body, "source_type")?;
    let invalid = |what: String| reject(40097, format!("invalid args {what}"));
    let appids = appids.as_array().filter(|a| !a.is_empty()).ok_or_else(|| invalid("appids".into()))?;
    let mut wanted: Vec<&str> = Vec::with_capacity(appids.len());
    for (i, appid) in appids.iter().enumerate() {
        let appid = non_empty_str(appid).ok_or_else(|| invalid(format!("appids[{i}]")))?;
        if !wanted.contains(&appid) {
            wanted.push(appid);
        }
    }
    if source_type.as_i64() != Some(1) {
        return Err(reject(40097, "invalid args source_type"));
    }
    let state = shared.lock();
    let relation_data = wanted
        .into_iter()
        .map(|appid| types::AppidEnvs {
            appid: Some(appid.to_owned()),
            env_list: Some(
                state.shared.iter().filter(|(_, a)| a == appid).map(|(env, _)| env.clone()).collect(),
            ),
        })
        .collect();
    drop(state);
    let answer = types::GetShareCloudbaseEnvResponse {
        errcode: types::Errcode(0),
        errmsg: Some(types::Errmsg("ok".into())),
        relation_data: Some(relation_data),
        err_list: None,
    };
    Ok(json_answer(0, &answer))
}

/// `getComponentAccessToken`: `POST /cgi-bin/component/api_component_token`.
pub(crate) async fn component_token(
    State(shared): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    match component_token_inner(&shared, &method, query.as_deref(), body).await {
        Ok(response) => response,
        Err(reject) => shared.answer(reject),
    }
}

async fn component_token_inner(
    shared: &Shared,
    method: &Method,
    query: Option<&str>,
    body: Body,
) -> Result<Response, Reject> {
    let body = common_checks(shared, method, query, body, false).await?;
    let mut fields = Vec::new();
    for name in ["component_appid", "component_appsecret", "component_verify_ticket"] {
        let value = required(&body, name)?;
        fields.push(non_empty_str(value).ok_or_else(|| reject(40097, format!("invalid args {name}")))?);
    }
    let expected = &shared.config.component;
    if fields[0] != expected.component_appid || fields[1] != expected.component_appsecret {
        return Err(reject(40013, "invalid appid or appsecret"));
    }
    if fields[2] != expected.component_verify_ticket {
        return Err(reject(61006, "component ticket is invalid"));
    }
    let token = format!("sandbox-issued-{}", shared.rid().replace('-', ""));
    let ttl = shared.config.token_ttl;
    shared.lock().issued.insert(token.clone(), Instant::now() + ttl);
    let answer = types::ComponentAccessTokenResponse {
        component_access_token: Some(token),
        expires_in: Some(ttl.as_secs().try_into().unwrap_or(i64::MAX)),
        errcode: None,
        errmsg: None,
    };
    Ok(json_answer(0, &answer))
}

/// Any other path: HTTP 404, as WeChat's gateway answers.
pub(crate) async fn not_found() -> Response {
    (axum::http::StatusCode::NOT_FOUND, "404 page not found").into_response()
}
