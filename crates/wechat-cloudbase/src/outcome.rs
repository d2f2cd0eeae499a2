//! What a successful or partly successful unshare call reports.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use wechat_cloudbase_openapi::types;

use crate::error::{Error, PartialFailure};
use crate::request::{UnshareRequest, wire_pairs};
use crate::text::redact_owned;

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
        use crate::text::escape_for_terminal;
        write!(f, "`{}`/`{}`", escape_for_terminal(&self.env), escape_for_terminal(&self.appid))
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
        use crate::text::escape_for_terminal;
        let env = escape_for_terminal(self.env.as_deref().unwrap_or("?"));
        let appid = escape_for_terminal(self.appid.as_deref().unwrap_or("?"));
        write!(
            f,
            "`{env}`/`{appid}`: {}",
            escape_for_terminal(self.errmsg.as_deref().unwrap_or("(no errmsg)"))
        )
    }
}

/// The answer to an unshare call in which every requested pair was unshared.
///
/// It shares the request's ids rather than copying them: [`Unshared::pairs`] lists them. Two
/// values are equal when they list the same pairs in the same order, with the same `errmsg` and
/// `attempts`; `Debug` shows the same three.
#[derive(Clone)]
#[non_exhaustive]
pub struct Unshared {
    /// The request's valid entries: every pair was unshared.
    request: Arc<types::UnshareCloudbaseEnvRequest>,
    /// WeChat's `errmsg` (usually `ok`).
    pub errmsg: String,
    /// How many requests were sent (more than 1 when retries were needed).
    pub attempts: u32,
}

impl Unshared {
    /// The pairs that were unshared, as `(env, appid)`: every pair of the request, in request
    /// order, borrowed.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        wire_pairs(&self.request)
    }

    /// How many pairs were unshared.
    pub fn pair_count(&self) -> usize {
        self.request.data.iter().map(|e| e.appids.len()).sum()
    }

    /// The pairs that were unshared, copied: every pair of the request, in request order.
    pub fn to_pairs(&self) -> Vec<EnvAppid> {
        self.pairs().map(owned).collect()
    }
}

impl PartialEq for Unshared {
    fn eq(&self, other: &Self) -> bool {
        self.errmsg == other.errmsg && self.attempts == other.attempts && self.pairs().eq(other.pairs())
    }
}

impl Eq for Unshared {}

impl fmt::Debug for Unshared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Pairs<'a>(&'a Unshared);
        impl fmt::Debug for Pairs<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.pairs()).finish()
            }
        }
        f.debug_struct("Unshared")
            .field("pairs", &Pairs(self))
            .field("errmsg", &self.errmsg)
            .field("attempts", &self.attempts)
            .finish()
    }
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
        return Ok(Unshared { request: request.shared_wire(), errmsg, attempts });
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
///
/// WeChat (and the sandbox) list failures in request order, so the entries are first matched
/// against the request in one forward walk, which touches memory in order and stays linear
/// however long the lists; a hash set is used only for what that walk cannot settle.
pub(crate) fn unshared_pairs<'a, I>(requested: I, failed: &[FailedPair]) -> Vec<EnvAppid>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
    I::IntoIter: Clone,
{
    let requested = requested.into_iter();
    in_order(requested.clone(), failed).unwrap_or_else(|| by_hash(requested, failed))
}

/// `failed` matched against `requested` in one forward walk; `None` when an entry lacks an id,
/// is out of request order or names a pair never requested.
fn in_order<'a>(
    requested: impl Iterator<Item = (&'a str, &'a str)>,
    failed: &[FailedPair],
) -> Option<Vec<EnvAppid>> {
    let mut next = failed.iter().peekable();
    let mut candidates = Vec::new();
    for pair in requested {
        match next.peek() {
            Some(f) if ids(f)? == pair => {
                next.next();
            }
            _ => candidates.push(pair),
        }
    }
    if next.peek().is_some() {
        return None;
    }
    if candidates.is_empty() {
        return Some(Vec::new());
    }
    // A pair left over is still failed if it was requested twice and matched the first time.
    let failed: FoldHashSet<(&str, &str)> = failed.iter().filter_map(ids).collect();
    Some(candidates.into_iter().filter(|pair| !failed.contains(pair)).map(owned).collect())
}

/// The (env, appid) an entry names, if it names both.
fn ids(f: &FailedPair) -> Option<(&str, &str)> {
    Some((f.env.as_deref()?, f.appid.as_deref()?))
}

type FoldHashSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// The general case: every entry in hash sets.
fn by_hash<'a>(requested: impl Iterator<Item = (&'a str, &'a str)>, failed: &[FailedPair]) -> Vec<EnvAppid> {
    // foldhash: fast, and seeded per process, so a hostile err_list cannot force collisions.
    let mut exact = FoldHashSet::with_capacity_and_hasher(failed.len(), Default::default());
    let mut any_appid_of_env = FoldHashSet::default();
    let mut any_env_of_appid = FoldHashSet::default();
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
        .filter(|(env, appid)| {
            !exact.contains(&(*env, *appid))
                && !any_appid_of_env.contains(env)
                && !any_env_of_appid.contains(appid)
        })
        .map(owned)
        .collect()
}

/// A borrowed pair, copied.
pub(crate) fn owned((env, appid): (&str, &str)) -> EnvAppid {
    EnvAppid { env: env.to_owned(), appid: appid.to_owned() }
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
    fn unshared_compares_and_prints_its_pairs_errmsg_and_attempts() {
        let request = UnshareRequest::new().env("e1", ["a", "b"]);
        let answer = |errmsg: &str| types::UnshareCloudbaseEnvResponse {
            err_list: Vec::new(),
            errcode: types::Errcode(0),
            errmsg: Some(types::Errmsg(errmsg.to_owned())),
        };
        let ok = unshare_outcome(answer("ok"), &request, 1, &[]).unwrap();
        let rebuilt = UnshareRequest::new().env("e1", ["a"]).env("e1", ["b"]);
        assert_eq!(ok, unshare_outcome(answer("ok"), &rebuilt, 1, &[]).unwrap(), "the same pairs");
        assert_ne!(ok, unshare_outcome(answer("ok."), &request, 1, &[]).unwrap());
        assert_ne!(ok, unshare_outcome(answer("ok"), &request, 2, &[]).unwrap());
        assert_eq!(
            format!("{ok:?}"),
            r#"Unshared { pairs: [("e1", "a"), ("e1", "b")], errmsg: "ok", attempts: 1 }"#
        );
    }

    #[test]
    fn a_pair_requested_twice_and_listed_once_is_not_unshared() {
        let req = [pair("e1", "a"), pair("e1", "b"), pair("e1", "a")];
        assert_eq!(unshared_pairs(&req, &[failed(Some("e1"), Some("a"))]), [pair("e1", "b")]);
    }

    /// The in-order walk agrees with the hash sets on every request of up to three pairs and
    /// every err_list of up to three entries over a small alphabet: in order, out of order,
    /// repeated, never requested, and with ids missing.
    #[test]
    fn the_in_order_walk_agrees_with_the_hash_sets_everywhere() {
        let ids = [Some("e1"), Some("e2"), None];
        let appids = [Some("a"), Some("b"), None];
        let entries: Vec<FailedPair> =
            ids.iter().flat_map(|e| appids.iter().map(move |a| failed(*e, *a))).collect();
        let pairs: Vec<EnvAppid> =
            entries.iter().filter_map(|f| Some(pair(f.env.as_deref()?, f.appid.as_deref()?))).collect();
        let lists = |items: usize, of: usize| {
            (0..of.pow(items as u32)).map(move |mut n| {
                (0..items)
                    .map(|_| {
                        let digit = n % of;
                        n /= of;
                        digit
                    })
                    .collect::<Vec<_>>()
            })
        };
        let mut checked = 0;
        for r in 0..=3 {
            for req in lists(r, pairs.len()) {
                let req: Vec<EnvAppid> = req.iter().map(|&i| pairs[i].clone()).collect();
                for f in 0..=3 {
                    for list in lists(f, entries.len()) {
                        let list: Vec<FailedPair> = list.iter().map(|&i| entries[i].clone()).collect();
                        let walked = unshared_pairs(&req, &list);
                        let hashed =
                            super::by_hash(req.iter().map(|p| (p.env.as_str(), p.appid.as_str())), &list);
                        assert_eq!(walked, hashed, "request {req:?}, err_list {list:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 50_000, "{checked}");
    }

    #[test]
    fn entries_for_pairs_never_requested_change_nothing() {
        let req = [pair("e1", "a")];
        assert_eq!(unshared_pairs(&req, &[failed(Some("zz"), Some("a"))]), req);
    }
}
