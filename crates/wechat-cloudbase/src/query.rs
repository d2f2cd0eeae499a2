//! `getShareCloudbaseEnv`: which environments are shared with which mini programs, and the
//! verification of a share or unshare whose answer did not prove every pair.

use std::collections::HashMap;
use std::fmt;

use wechat_cloudbase_openapi::{AccessToken, operations, types};

use crate::client::Client;
use crate::error::{Error, ValidationError};
use crate::outcome::BatchOutcome;
use crate::request::{SourceType, checked_id};
use crate::text::{debug_redacted, redact_owned};

/// A request for `getShareCloudbaseEnv` (`POST /componenttcb/batchgetenvid`): the mini programs
/// whose shared environments to list.
///
/// Each appid is checked as it is added (non-empty, no whitespace or control characters); an
/// appid given twice is sent once. A bad one is remembered with its field path (`appids[i]`) and
/// the request is refused, before anything is sent, with the first one.
///
/// ```
/// use wechat_cloudbase::ShareQuery;
///
/// let query = ShareQuery::new(["wx075cf85bf347b6df", "wx5fe6bb43205e9e70", "wx075cf85bf347b6df"]);
/// assert_eq!(query.appids().count(), 2);
/// assert_eq!(ShareQuery::new(["wx1", " wx2"]).validate().unwrap_err().field, "appids[1]");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ShareQuery {
    wire: types::GetShareCloudbaseEnvRequest,
    first_error: Option<ValidationError>,
}

impl ShareQuery {
    /// A query for these appids, for CloudRun environments (`source_type` 1).
    pub fn new<I, S>(appids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut first_error = None;
        let mut kept: Vec<types::Appid> = Vec::new();
        for (i, appid) in appids.into_iter().enumerate() {
            match checked_id::<types::Appid>(appid.into(), || format!("appids[{i}]")) {
                // Appid lists are short (a query per batch): a scan finds a repeat.
                Ok(appid) if !kept.contains(&appid) => kept.push(appid),
                Ok(_) => {}
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        let wire = types::GetShareCloudbaseEnvRequest {
            appids: kept,
            source_type: crate::request::source_type_wire(SourceType::default()),
        };
        Self { wire, first_error }
    }

    /// Sets `source_type`.
    #[must_use]
    pub fn source_type(mut self, source_type: SourceType) -> Self {
        self.wire.source_type = crate::request::source_type_wire(source_type);
        self
    }

    /// The appids to look up, each once, in the order given.
    pub fn appids(&self) -> impl Iterator<Item = &str> {
        self.wire.appids.iter().map(|a| a.as_str())
    }

    /// Checks the query without sending it.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `appids` when there is none, or `appids[i]` for the first
    /// bad appid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(error) = &self.first_error {
            return Err(error.clone());
        }
        if self.wire.appids.is_empty() {
            return Err(ValidationError::new("appids", "must list at least one appid"));
        }
        Ok(())
    }
}

/// One `err_list` entry of `getShareCloudbaseEnv`: an appid that could not be looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct LookupFailure {
    /// The appid, if WeChat named it (secrets redacted).
    pub appid: Option<String>,
    /// An environment id, which older pages show in these entries (secrets redacted).
    pub env: Option<String>,
    /// Why, if WeChat said (secrets redacted).
    pub errmsg: Option<String>,
}

/// What `getShareCloudbaseEnv` answered: the environments shared with each appid it listed.
///
/// The ids are kept as received; `Debug` shows them without the token's text.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedEnvs {
    /// Each appid WeChat listed, with the environments shared with it, in the answer's order.
    pub relations: Vec<(String, Vec<String>)>,
    /// The appids that could not be looked up (`err_list`).
    pub failed: Vec<LookupFailure>,
    /// The requested appids the answer mentions nowhere: nothing is known of them.
    pub unlisted: Vec<String>,
    /// WeChat's `errmsg` (usually `ok`).
    pub errmsg: String,
    /// How many requests were sent.
    pub attempts: u32,
    /// The token the lookup was made with, redacted from the ids when they are shown.
    token: Option<AccessToken>,
    /// Every appid the answer mentions, as received, with what it says of it: built once, so
    /// that looking up many pairs is not a scan of the answer each.
    index: HashMap<String, Mentions>,
}

/// What an answer says of one appid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Mentions {
    /// The indices in `relations` of the entries that list it.
    relations: Vec<usize>,
    /// Whether `err_list` names it.
    failed: bool,
}

impl fmt::Debug for SharedEnvs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_redacted(f, self.token.as_ref(), |f| {
            f.debug_struct("SharedEnvs")
                .field("relations", &self.relations)
                .field("failed", &self.failed)
                .field("unlisted", &self.unlisted)
                .field("errmsg", &self.errmsg)
                .field("attempts", &self.attempts)
                .finish()
        })
    }
}

impl SharedEnvs {
    /// The environments shared with `appid`, if the answer lists it exactly once (an appid
    /// listed twice is ambiguous: `None`).
    pub fn envs_of(&self, appid: &str) -> Option<&[String]> {
        match self.index.get(appid)?.relations[..] {
            [only] => Some(&self.relations[only].1),
            _ => None,
        }
    }

    /// Whether `env` is shared with `appid` as the answer shows it. `None` when the answer
    /// proves nothing either way: it does not list the appid, lists it in `err_list` too, or
    /// lists it more than once and the entries disagree about `env`.
    pub fn is_shared(&self, env: &str, appid: &str) -> Option<bool> {
        let mentions = self.index.get(appid)?;
        if mentions.failed {
            return None;
        }
        let mut answers = mentions.relations.iter().map(|&i| self.relations[i].1.iter().any(|e| e == env));
        let first = answers.next()?;
        answers.all(|other| other == first).then_some(first)
    }
}

impl Client {
    /// Lists the environments shared with mini programs: spec operation `getShareCloudbaseEnv`,
    /// `POST /componenttcb/batchgetenvid` (WeChat's page "getShareCloudbaseEnv").
    ///
    /// The query is validated first; nothing is sent unless it is valid. The call only reads, so
    /// it is retried like unshare.
    ///
    /// # Errors
    /// - [`Error::InvalidRequest`]: the query or the token is invalid (nothing sent);
    /// - [`Error::Api`]: a non-zero `errcode`, with its class and `rid`;
    /// - [`Error::Http`], [`Error::Decode`], [`Error::Transport`]: no valid answer;
    /// - [`Error::Token`]: the token provider could not produce a token.
    pub async fn get_share_cloudbase_env(&self, query: &ShareQuery) -> Result<SharedEnvs, Error> {
        query.validate()?;
        let answered = self.call_answered::<operations::GetShareCloudbaseEnv>(&query.wire).await?;
        let secrets: Vec<&str> = answered.token.iter().map(|t| t.expose_secret()).collect();
        let shown = |text: Option<String>| text.map(|t| redact_owned(t, &secrets));
        let answer = answered.answer;
        let relations: Vec<(String, Vec<String>)> = answer
            .relation_data
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| Some((r.appid?, r.env_list.unwrap_or_default())))
            .collect();
        let err_list = answer.err_list.unwrap_or_default();
        // Keyed by the appids as received; `failed` keeps them redacted, for showing.
        let mut index: HashMap<String, Mentions> = HashMap::new();
        for (i, (appid, _)) in relations.iter().enumerate() {
            index.entry(appid.clone()).or_default().relations.push(i);
        }
        for appid in err_list.iter().filter_map(|f| f.appid.clone()) {
            index.entry(appid).or_default().failed = true;
        }
        let unlisted = query.appids().filter(|a| !index.contains_key(*a)).map(str::to_owned).collect();
        let failed: Vec<LookupFailure> = err_list
            .into_iter()
            .map(|f| LookupFailure { appid: shown(f.appid), env: shown(f.env), errmsg: shown(f.errmsg) })
            .collect();
        Ok(SharedEnvs {
            relations,
            failed,
            unlisted,
            errmsg: redact_owned(answer.errmsg.map(|m| m.0).unwrap_or_default(), &secrets),
            attempts: answered.attempts,
            token: answered.token.clone(),
            index,
        })
    }

    /// Settles, with one `getShareCloudbaseEnv` query under the outcome's `source_type`, the
    /// pairs a share or unshare outcome left unproven ([`BatchOutcome::unproven`]: its
    /// `unverified` pairs and its `failed` entries marked
    /// [`crate::FailedPair::after_uncertain_attempt`]).
    ///
    /// Each such pair is looked up as WeChat now sees it. After an unshare, its appid listed
    /// without the env proves the pair unshared (it moves to `proven`), and listed with the env
    /// proves it still shared (`failed`, no longer uncertain). After a share, listed with the env
    /// proves it shared (and confirmed); listed without it proves nothing, since a share waiting
    /// for its admin's confirmation is not listed. An appid the answer does not mention, or names
    /// in its `err_list`, leaves the pair as it was. Every settled pair is added to `verified`.
    ///
    /// Returns how many query requests were sent (0 when nothing was left to settle); each one
    /// that left is also counted in `outcome.verification_attempts`, whatever its answer.
    ///
    /// # Errors
    /// Any error of [`Client::get_share_cloudbase_env`]; `outcome` then settles nothing.
    pub async fn verify_outcome(&self, outcome: &mut BatchOutcome) -> Result<u32, Error> {
        let pending = outcome.unproven();
        if pending.is_empty() {
            return Ok(0);
        }
        let query = ShareQuery::new(pending.iter().map(|p| p.appid.clone())).source_type(outcome.source_type);
        let seen = match self.get_share_cloudbase_env(&query).await {
            Ok(seen) => seen,
            Err(error) => {
                outcome.verification_attempts += error.attempts();
                return Err(error);
            }
        };
        for pair in pending {
            if let Some(shared_now) = seen.is_shared(&pair.env, &pair.appid) {
                outcome.settle(&pair, shared_now);
            }
        }
        outcome.verification_attempts += seen.attempts;
        Ok(seen.attempts)
    }
}
