//! The spec's operations, answered the way WeChat's pages describe. What every call checks first
//! is [`Wechat`]'s; each handler here holds only its operation's own logic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wechat_cloudbase_openapi::types;

use crate::Shared;
use crate::extract::{Refusal, Wechat, json_answer, rid};
use crate::requests::{AppidsLookup, BatchEnv, TokenRequest};
use crate::state::Pair;
use crate::store::{Change, SaveError};

/// 85088 when an env of the request has not enabled cloud development
/// ([`crate::SandboxConfig::no_qbase_envs`]).
fn check_qbase(shared: &Shared, request: &BatchEnv) -> Result<(), Refusal> {
    match request.pairs.iter().find(|pair| shared.config.no_qbase_envs.contains(&pair.env)) {
        Some(pair) => Err(Refusal::new(85088, format!("no qbase privilege for env {}", pair.env))),
        None => Ok(()),
    }
}

/// The answer to a change that could not be saved (and so was not made): `errcode` -1000, as
/// WeChat's system error, with a rid.
fn not_saved(error: &SaveError) -> Refusal {
    tracing::error!(%error, "a change was refused: it could not be saved");
    Refusal::new(-1000, "system error (the sandbox could not save the change)")
}

/// The target of the pair log: at `debug`, one line per share or unshare request that the
/// sandbox carried out, after the request's own line, with the pairs it asked for and those it
/// changed (accepted by a share, removed by an unshare), as JSON:
/// `pairs {"operation":…,"requested":[{"env","appid","source_type"}…],"changed":[…]}`. Turn it on
/// with `RUST_LOG=info,wechat_cloudbase_sandbox::pairs=debug` to check a client's records pair
/// for pair.
pub const PAIR_LOG_TARGET: &str = "wechat_cloudbase_sandbox::pairs";

/// Logs a carried-out request's pairs at [`PAIR_LOG_TARGET`], if that is enabled.
fn log_pairs(operation: &str, requested: &[Pair], changed: &[&Pair]) {
    if tracing::enabled!(target: PAIR_LOG_TARGET, tracing::Level::DEBUG) {
        let line = serde_json::json!({"operation": operation, "requested": requested, "changed": changed});
        tracing::debug!(target: PAIR_LOG_TARGET, "pairs {line}");
    }
}

/// An `err_list` entry.
fn failure(pair: Pair, errmsg: &str) -> types::PairFailure {
    types::PairFailure { env: Some(pair.env), appid: Some(pair.appid), errmsg: Some(errmsg.into()) }
}

/// `shareCloudbaseEnv`: `POST /componenttcb/batchshareenv`. Each pair whose env does not exist
/// comes back in `err_list` (`env not found`); every other pair is accepted, one already shared
/// too. An accepted pair is pending until its mini program's admin confirms it: `msg_info_list`
/// has one entry per appid with an accepted pair (in request order), whose `url`
/// (`{base_url}/sandbox/confirm/{ticket}`, see [`confirm`]) confirms that appid's accepted pairs of
/// this request. With `auto_confirm` they are shared at once (saved before the answer; -1000 if
/// they cannot be), and the URLs are already used.
pub(crate) async fn share(
    State(shared): State<Arc<Shared>>,
    Wechat(request): Wechat<BatchEnv>,
) -> Result<Response, Refusal> {
    check_qbase(&shared, &request)?;
    let requested = &request.pairs;
    let mut err_list = Vec::new();
    // The accepted pairs of each appid, the appids in request order.
    let mut by_appid: Vec<Vec<Pair>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut confirmed = Vec::new();
    let mut msg_info_list = Vec::new();
    {
        let mut state = shared.lock();
        for pair in request.pairs.iter().cloned() {
            if !state.env_exists(&pair.env) {
                err_list.push(failure(pair, "env not found"));
                continue;
            }
            let i = *index.entry(pair.appid.clone()).or_insert_with(|| {
                by_appid.push(Vec::new());
                by_appid.len() - 1
            });
            by_appid[i].push(pair);
        }
        msg_info_list.reserve(by_appid.len());
        let accepted: Vec<&Pair> = by_appid.iter().flatten().collect();
        log_pairs("shareCloudbaseEnv", requested, &accepted);
        for pairs in by_appid {
            let ticket = format!("{:032x}", rand::random::<u128>());
            msg_info_list.push(types::ConfirmationMessage {
                appid: Some(pairs[0].appid.clone()),
                url: Some(shared.confirmation_url(&ticket)),
            });
            if shared.config.auto_confirm {
                confirmed.extend(pairs);
            } else {
                state.tickets.insert(ticket, pairs);
            }
        }
    }
    if !confirmed.is_empty() {
        shared.change(Change::Share(confirmed)).await.map_err(|e| not_saved(&e))?;
    }
    let answer = types::ShareCloudbaseEnvResponse {
        errcode: types::Errcode(0),
        errmsg: Some(types::Errmsg("ok".into())),
        err_list: (!err_list.is_empty()).then_some(err_list),
        msg_info_list: Some(msg_info_list),
    };
    Ok(json_answer(0, &answer))
}

/// The confirmation page of a share, `GET /sandbox/confirm/{ticket}`: the sandbox's stand-in for
/// the page WeChat's URL opens for a mini program's admin (not an operation of the spec, and
/// without a token). Opening it shares the pairs of its ticket, saves them (with a state file),
/// then answers 200 with a line of text saying what was shared. A ticket is used once: an unknown
/// or used one is 404. Another method than GET is 405. When the pairs cannot be saved, 500: they
/// stay pending and the URL valid.
pub(crate) async fn confirm(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(ticket): Path<String>,
) -> Response {
    if method != Method::GET {
        let allow = [(header::ALLOW, "GET")];
        return (StatusCode::METHOD_NOT_ALLOWED, allow, "open the confirmation URL with GET\n")
            .into_response();
    }
    let Some(pairs) = shared.lock().tickets.remove(&ticket) else {
        return (StatusCode::NOT_FOUND, "unknown or already used confirmation ticket\n").into_response();
    };
    let envs: Vec<&str> = pairs.iter().map(|pair| pair.env.as_str()).collect();
    let page = format!(
        "confirmed: {} now shares {} (source_type {})\n",
        pairs[0].appid,
        envs.join(", "),
        pairs[0].source_type
    );
    // In a task of its own, so that a client that goes away cannot stop it half-way: the ticket
    // is put back whenever the save fails, answered or not.
    let saved = tokio::spawn(async move {
        let result = shared.change(Change::Share(pairs.clone())).await;
        if result.is_err() {
            shared.lock().tickets.insert(ticket, pairs);
        }
        result
    });
    match saved.await {
        Ok(Ok(_)) => (StatusCode::OK, page).into_response(),
        Ok(Err(error)) => {
            tracing::error!(%error, "a confirmation was refused: it could not be saved");
            let page = format!(
                "cannot save the confirmation, nothing was shared; open the URL again later: {error}\n"
            );
            (StatusCode::INTERNAL_SERVER_ERROR, page).into_response()
        }
        Err(error) => {
            let page = format!("the confirmation failed, nothing was shared: {error}\n");
            (StatusCode::INTERNAL_SERVER_ERROR, page).into_response()
        }
    }
}

/// `unshareCloudbaseEnv`: `POST /componenttcb/batchunshareenv`. Each pair whose env does not
/// exist (`env not found`) or that is not shared comes back in `err_list`. A pending share (see
/// [`share`]) is not shared: it comes back too, and its confirmation URL stays valid. The pairs
/// removed are saved before the answer; -1000 if they cannot be (nothing is then removed).
pub(crate) async fn unshare(
    State(shared): State<Arc<Shared>>,
    Wechat(request): Wechat<BatchEnv>,
) -> Result<Response, Refusal> {
    check_qbase(&shared, &request)?;
    // Each pair in request order: whether its env exists.
    let exists: Vec<bool> = {
        let state = shared.lock();
        request.pairs.iter().map(|pair| state.env_exists(&pair.env)).collect()
    };
    let candidates: Vec<Pair> =
        request.pairs.iter().zip(&exists).filter(|(_, e)| **e).map(|(pair, _)| pair.clone()).collect();
    let mut removed = if candidates.is_empty() {
        Vec::new()
    } else {
        shared.change(Change::Unshare(candidates)).await.map_err(|e| not_saved(&e))?
    }
    .into_iter();
    let mut err_list = Vec::new();
    let mut unshared = Vec::new();
    for (pair, exists) in request.pairs.iter().zip(exists) {
        if !exists {
            err_list.push(failure(pair.clone(), "env not found"));
        } else if !removed.next().unwrap_or(false) {
            err_list.push(failure(pair.clone(), "env is not shared with appid"));
        } else {
            unshared.push(pair);
        }
    }
    log_pairs("unshareCloudbaseEnv", &request.pairs, &unshared);
    let answer = types::UnshareCloudbaseEnvResponse {
        errcode: types::Errcode(0),
        errmsg: Some(types::Errmsg("ok".into())),
        err_list: (!err_list.is_empty()).then_some(err_list),
    };
    Ok(json_answer(0, &answer))
}

/// `getShareCloudbaseEnv`: `POST /componenttcb/batchgetenvid`. Every appid is looked up (one
/// `relation_data` entry each, in request order, a repeated appid once); its `env_list` holds
/// the envs the sandbox shares with it under the request's `source_type`. Nothing is changed.
pub(crate) async fn get_share(
    State(shared): State<Arc<Shared>>,
    Wechat(request): Wechat<AppidsLookup>,
) -> Response {
    // One pass over the shared pairs under the lock, whatever the number of appids asked.
    let mut envs: std::collections::HashMap<&str, Vec<String>> =
        request.appids.iter().map(|appid| (appid.as_str(), Vec::new())).collect();
    let state = shared.lock();
    for pair in state.shared.iter().filter(|pair| pair.source_type == request.source_type) {
        if let Some(list) = envs.get_mut(pair.appid.as_str()) {
            list.push(pair.env.clone());
        }
    }
    drop(state);
    let relation_data = request
        .appids
        .iter()
        .map(|appid| types::AppidEnvs {
            env_list: Some(envs.remove(appid.as_str()).unwrap_or_default()),
            appid: Some(appid.clone()),
        })
        .collect();
    let answer = types::GetShareCloudbaseEnvResponse {
        errcode: types::Errcode(0),
        errmsg: Some(types::Errmsg("ok".into())),
        relation_data: Some(relation_data),
        err_list: None,
    };
    json_answer(0, &answer)
}

/// `getComponentAccessToken`: `POST /cgi-bin/component/api_component_token`. 40013 for another
/// appid or secret, 61006 for another verify ticket.
pub(crate) async fn component_token(
    State(shared): State<Arc<Shared>>,
    Wechat(request): Wechat<TokenRequest>,
) -> Result<Response, Refusal> {
    let expected = &shared.config.component;
    if request.component_appid != expected.component_appid
        || request.component_appsecret != expected.component_appsecret
    {
        return Err(Refusal::new(40013, "invalid appid or appsecret"));
    }
    if request.component_verify_ticket != expected.component_verify_ticket {
        return Err(Refusal::new(61006, "component ticket is invalid"));
    }
    let token = format!("{}{}", crate::redact::ISSUED_TOKEN_PREFIX, rid().replace('-', ""));
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
