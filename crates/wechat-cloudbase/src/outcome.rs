//! What a successful or partly successful unshare call reports.

use std::collections::HashSet;
use std::fmt;

use wechat_cloudbase_openapi::types;

use crate::error::{Error, PartialFailure, redact_owned};
use crate::request::UnshareRequest;

/// One (env, appid) pair: an environment and a mini program it is shared with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvAppid {
    /// The environment id.
    pub env: String,
    /// The mini program's `appid`.
    pub appid: String,
}

impl fmt::Display for EnvAppid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::error::escape_controls;
        write!(f, "`{}`/`{}`", escape_controls(&self.env), escape_controls(&self.appid))
    }
}

/// One entry of `err_list`: a pair that could not be unshared, as WeChat reported it.
///
/// WeChat may leave out `env` or `appid`; what it sent is kept, nothing is invented.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FailedPair {
    /// The environment id, if WeChat named it.
    pub env: Option<String>,
    /// The mini program's `appid`, if WeChat named it.
    pub appid: Option<String>,
    /// Why the pair could not be unshared, if WeChat said.
    pub errmsg: Option<String>,
}

impl fmt::Display for FailedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::error::escape_controls;
        let env = escape_controls(self.env.as_deref().unwrap_or("?"));
        let appid = escape_controls(self.appid.as_deref().unwrap_or("?"));
        write!(f, "`{env}`/`{appid}`: {}", escape_controls(self.errmsg.as_deref().unwrap_or("(no errmsg)")))
    }
}

/// The answer to an unshare call in which every requested pair was unshared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unshared {
    /// The pairs that were unshared: every pair of the request, in request order.
    pub pairs: Vec<EnvAppid>,
    /// WeChat's `errmsg` (usually `ok`).
    pub errmsg: String,
    /// How many requests were sent (more than 1 when retries were needed).
    pub attempts: u32,
}

/// The outcome of an answer whose `errcode` is 0: [`Unshared`] when `err_list` is empty, else
/// [`Error::Partial`]. Every text from the answer is redacted of `secrets`.
pub(crate) fn unshare_outcome(
    answer: types::UnshareCloudbaseEnvResponse,
    request: &UnshareRequest,
    attempts: u32,
    secrets: &[&str],
) -> Result<Unshared, Error> {
    let errmsg = redact_owned(answer.errmsg.map(|m| m.0).unwrap_or_default(), secrets);
    if answer.err_list.is_empty() {
        return Ok(Unshared { pairs: request.pairs(), errmsg, attempts });
    }
    // WeChat's err_list never carries the token, but a hostile server could echo it.
    let failed: Vec<FailedPair> = answer
        .err_list
        .into_iter()
        .map(|f| FailedPair {
            env: f.env.map(|v| redact_owned(v, secrets)),
            appid: f.appid.map(|v| redact_owned(v, secrets)),
            errmsg: f.errmsg.map(|v| redact_owned(v, secrets)),
        })
        .collect();
    let requested = request.pair_refs();
    Err(PartialFailure { unshared: unshared_pairs(requested, &failed), failed, errmsg, attempts }.into())
}

/// The requested pairs that no `failed` entry can refer to, in request order.
///
/// An entry without `env` (or `appid`) may refer to any env (or appid), so its pairs are not
/// counted as unshared: the list only holds pairs known to be unshared. Linear in the number of
/// pairs and entries; only the pairs returned are copied.
pub(crate) fn unshared_pairs<'a>(
    requested: impl IntoIterator<Item = (&'a str, &'a str)>,
    failed: &[FailedPair],
) -> Vec<EnvAppid> {
    // foldhash: fast, and seeded per process, so a hostile err_list cannot force collisions.
    let hasher = foldhash::fast::RandomState::default;
    let mut exact: HashSet<(&str, &str), _> = HashSet::with_capacity_and_hasher(failed.len(), hasher());
    let mut any_appid_of_env: HashSet<&str, _> = HashSet::with_hasher(hasher());
    let mut any_env_of_appid: HashSet<&str, _> = HashSet::with_hasher(hasher());
    for f in failed {
        match (f.env.as_deref(), f.appid.as_deref()) {
            (Some(env), Some(appid)) => {
                exact.insert((env, appid));
            }
            (Some(env), None) => {
                any_appid_of_env.insert(env);
            }
            (None, Some(appid)) => {
                any_env_of_appid.insert(appid);
            }
            (None, None) => return Vec::new(),
        }
    }
    requested
        .into_iter()
        .filter(|(env, appid)| {
            !exact.contains(&(*env, *appid))
                && !any_appid_of_env.contains(env)
                && !any_env_of_appid.contains(appid)
        })
        .map(|(env, appid)| EnvAppid { env: env.to_owned(), appid: appid.to_owned() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unshared_pairs(requested: &[EnvAppid], failed: &[FailedPair]) -> Vec<EnvAppid> {
        super::unshared_pairs(requested.iter().map(|p| (p.env.as_str(), p.appid.as_str())), failed)
    }

    fn pair(env: &str, appid: &str) -> EnvAppid {
        EnvAppid { env: env.into(), appid: appid.into() }
    }

    fn failed(env: Option<&str>, appid: Option<&str>) -> FailedPair {
        FailedPair { env: env.map(Into::into), appid: appid.map(Into::into), errmsg: None }
    }

    #[test]
    fn unshared_is_requested_minus_failed() {
        let req = [pair("e1", "a"), pair("e1", "b"), pair("e2", "a")];
        assert_eq!(
            unshared_pairs(&req, &[failed(Some("e1"), Some("b"))]),
            [pair("e1", "a"), pair("e2", "a")]
        );
        assert_eq!(unshared_pairs(&req, &[]), req);
    }

    #[test]
    fn entries_missing_an_id_withhold_every_pair_they_may_name() {
        let req = [pair("e1", "a"), pair("e1", "b"), pair("e2", "a")];
        assert_eq!(unshared_pairs(&req, &[failed(None, Some("a"))]), [pair("e1", "b")]);
        assert_eq!(unshared_pairs(&req, &[failed(Some("e1"), None)]), [pair("e2", "a")]);
        assert!(unshared_pairs(&req, &[failed(None, None)]).is_empty());
    }

    #[test]
    fn entries_for_pairs_never_requested_change_nothing() {
        let req = [pair("e1", "a")];
        assert_eq!(unshared_pairs(&req, &[failed(Some("zz"), Some("a"))]), req);
    }
}
