//! What a successful or partly successful unshare call reports.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use wechat_cloudbase_openapi::{AccessToken, types};

use crate::error::{Error, PartialFailure};
use crate::request::{UnshareRequest, wire_pairs};
use crate::text::{debug_redacted, redact_owned};

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

/// One entry of `err_list`: a pair that was not unshared, as WeChat reported it.
///
/// WeChat may leave out `env` or `appid`; what it sent is kept, nothing is invented. In
/// [`PartialFailure::failed`] both ids are those of the requested pair the entry names; in
/// [`PartialFailure::unmatched`] they are what WeChat sent (secrets redacted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FailedPair {
    /// The environment id, if WeChat named it.
    pub env: Option<String>,
    /// The mini program's `appid`, if WeChat named it.
    pub appid: Option<String>,
    /// Why the pair was not unshared, if WeChat said (secrets redacted); for a pair that only a
    /// lookup found still shared ([`crate::Client::verify_unshare`]), the text
    /// `still shared according to getShareCloudbaseEnv`.
    pub errmsg: Option<String>,
    /// The answer came after an earlier attempt of the same call whose answer was lost (a
    /// timeout, a broken connection, a gateway error…). That attempt may have unshared the pair,
    /// and this entry may only say that it is no longer shared: its state is unknown until looked
    /// up again.
    pub after_uncertain_attempt: bool,
}

impl fmt::Display for FailedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::text::escape_for_terminal;
        let env = escape_for_terminal(self.env.as_deref().unwrap_or("?"));
        let appid = escape_for_terminal(self.appid.as_deref().unwrap_or("?"));
        let errmsg = escape_for_terminal(self.errmsg.as_deref().unwrap_or("(no errmsg)"));
        write!(f, "`{env}`/`{appid}`: {errmsg}")?;
        if self.after_uncertain_attempt {
            f.write_str(" (an earlier attempt whose answer was lost may have unshared it)")?;
        }
        Ok(())
    }
}

/// The answer to an unshare call that proves every requested pair unshared.
///
/// It shares the request's ids rather than copying them: [`Unshared::pairs`] lists them. Two
/// values are equal when they list the same pairs in the same order, with the same
/// `duplicates`, `errmsg` and `attempts`; `Debug` shows the same four.
#[derive(Clone)]
#[non_exhaustive]
pub struct Unshared {
    /// The request's valid entries: every pair was unshared.
    request: Arc<types::BatchEnvRequest>,
    /// Pairs the request gave more than once ([`crate::UnshareRequest::duplicates`]); each was
    /// sent, and unshared, once.
    pub duplicates: Vec<EnvAppid>,
    /// WeChat's `errmsg` (usually `ok`).
    pub errmsg: String,
    /// How many requests were sent (more than 1 when retries were needed).
    pub attempts: u32,
    /// The token the call was made with, redacted from the pairs when they are shown (`Debug`).
    token: Option<AccessToken>,
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
        self.errmsg == other.errmsg
            && self.attempts == other.attempts
            && self.duplicates == other.duplicates
            && self.pairs().eq(other.pairs())
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
        // The pairs are the request's own ids; the token's text is removed when they are shown.
        debug_redacted(f, self.token.as_ref(), |f| {
            f.debug_struct("Unshared")
                .field("pairs", &Pairs(self))
                .field("duplicates", &self.duplicates)
                .field("errmsg", &self.errmsg)
                .field("attempts", &self.attempts)
                .finish()
        })
    }
}

/// The outcome of an answer whose `errcode` is 0: [`Unshared`] when the answer proves every
/// requested pair unshared, else [`Error::Partial`].
///
/// Every decision is taken on the ids as sent and as received; the `token` is redacted from the
/// server's texts kept for showing (`errmsg`, and the ids of entries that name no requested
/// pair), and from the pairs only when they are shown.
/// An entry names a requested pair only when both its `env` and its `appid` equal that pair's:
/// - no entry: every requested pair is unshared;
/// - every entry names a requested pair: those are `failed`, the others `unshared`;
/// - some entry names no requested pair (or lacks an id): it is `unmatched`, the answer cannot
///   be trusted to list every failure, and the pairs no entry names are `unverified`.
///
/// `after_uncertain_attempt` says that an earlier attempt of this call may have been carried out;
/// every entry is then marked so (see [`FailedPair::after_uncertain_attempt`]).
pub(crate) fn unshare_outcome(
    answer: types::UnshareCloudbaseEnvResponse,
    request: &UnshareRequest,
    attempts: u32,
    after_uncertain_attempt: bool,
    token: Option<&AccessToken>,
) -> Result<Unshared, Error> {
    let secrets: &[&str] = &token.map(AccessToken::expose_secret).into_iter().collect::<Vec<_>>();
    let errmsg = redact_owned(answer.errmsg.map(|m| m.0).unwrap_or_default(), secrets);
    let duplicates = request.duplicates().to_vec();
    let entries = answer.err_list.unwrap_or_default();
    if entries.is_empty() {
        let token = token.cloned();
        return Ok(Unshared { request: request.shared_wire(), duplicates, errmsg, attempts, token });
    }
    // foldhash: fast, and seeded per process, so a hostile err_list cannot force collisions.
    let mut requested: FoldHashMap<(&str, &str), usize> =
        FoldHashMap::with_capacity_and_hasher(request.pair_count(), Default::default());
    requested.extend(request.pair_refs().enumerate().map(|(i, pair)| (pair, i)));
    let mut named = vec![false; requested.len()];
    let (mut failed, mut unmatched) = (Vec::new(), Vec::new());
    // WeChat's err_list never carries the token, but a hostile server could echo it.
    let shown = |text: Option<String>| text.map(|t| redact_owned(t, secrets));
    for entry in entries {
        let index = match (&entry.env, &entry.appid) {
            (Some(env), Some(appid)) => requested.get(&(env.as_str(), appid.as_str())).copied(),
            _ => None,
        };
        match index {
            // The ids are those of the requested pair, as received: equal to those sent.
            Some(i) => {
                named[i] = true;
                failed.push(FailedPair {
                    env: entry.env,
                    appid: entry.appid,
                    errmsg: shown(entry.errmsg),
                    after_uncertain_attempt,
                });
            }
            None => unmatched.push(FailedPair {
                env: shown(entry.env),
                appid: shown(entry.appid),
                errmsg: shown(entry.errmsg),
                after_uncertain_attempt,
            }),
        }
    }
    let rest: Vec<EnvAppid> =
        request.pair_refs().zip(named).filter(|&(_, named)| !named).map(|(pair, _)| owned(pair)).collect();
    let (unshared, unverified) = if unmatched.is_empty() { (rest, Vec::new()) } else { (Vec::new(), rest) };
    let token = token.cloned();
    Err(PartialFailure {
        failed,
        unmatched,
        unshared,
        unverified,
        duplicates,
        verified: Vec::new(),
        errmsg,
        attempts,
        verification_attempts: 0,
        token,
    }
    .into())
}

type FoldHashMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A borrowed pair, copied.
pub(crate) fn owned((env, appid): (&str, &str)) -> EnvAppid {
    EnvAppid { env: env.to_owned(), appid: appid.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(err_list: Option<serde_json::Value>) -> types::UnshareCloudbaseEnvResponse {
        let mut body = serde_json::json!({"errcode": 0, "errmsg": "ok"});
        if let Some(list) = err_list {
            body["err_list"] = list;
        }
        serde_json::from_value(body).unwrap()
    }

    fn partial(request: &UnshareRequest, err_list: serde_json::Value, token: Option<&str>) -> PartialFailure {
        let token = token.map(AccessToken::new);
        match unshare_outcome(answer(Some(err_list)), request, 1, false, token.as_ref()) {
            Err(Error::Partial(partial)) => *partial,
            other => panic!("not a partial failure: {other:?}"),
        }
    }

    fn pair(env: &str, appid: &str) -> EnvAppid {
        EnvAppid { env: env.into(), appid: appid.into() }
    }

    fn request() -> UnshareRequest {
        UnshareRequest::new().env("e1", ["a", "b"]).env("e2", ["a"])
    }

    #[test]
    fn no_entry_proves_every_pair_unshared_and_null_is_no_entry() {
        for list in [None, Some(serde_json::json!([])), Some(serde_json::Value::Null)] {
            let ok = unshare_outcome(answer(list), &request(), 1, false, None).unwrap();
            assert_eq!(ok.to_pairs(), request().pairs());
        }
    }

    #[test]
    fn entries_naming_requested_pairs_fail_those_and_prove_the_rest() {
        let p = partial(&request(), serde_json::json!([{"env": "e1", "appid": "b", "errmsg": "x"}]), None);
        assert_eq!(p.unshared, [pair("e1", "a"), pair("e2", "a")]);
        assert_eq!((p.failed.len(), p.unmatched.len(), p.unverified.len()), (1, 0, 0));
        assert_eq!((p.failed[0].env.as_deref(), p.failed[0].appid.as_deref()), (Some("e1"), Some("b")));
    }

    #[test]
    fn an_entry_naming_no_requested_pair_leaves_every_other_pair_unverified() {
        // The official page's sample: an appid one digit shorter than the one requested.
        for entry in [
            serde_json::json!({"env": "e1", "appid": "bb", "errmsg": "invalid appid"}),
            serde_json::json!({"appid": "b"}),
            serde_json::json!({"env": "e1"}),
            serde_json::json!({}),
        ] {
            let list = serde_json::json!([{"env": "e2", "appid": "a"}, entry]);
            let p = partial(&request(), list, None);
            assert!(p.unshared.is_empty(), "{p:?}");
            assert_eq!(p.unverified, [pair("e1", "a"), pair("e1", "b")], "{p:?}");
            assert_eq!((p.failed.len(), p.unmatched.len()), (1, 1), "{p:?}");
        }
    }

    /// Matching uses the ids as received: a token that occurs inside an env id is redacted
    /// only from what is shown, and the pair is still found failed.
    #[test]
    fn pairs_are_matched_on_raw_values_even_when_they_contain_a_secret() {
        let request = UnshareRequest::new().env("env-tok123-x", ["wx1", "wx2"]);
        let list = serde_json::json!([{"env": "env-tok123-x", "appid": "wx1", "errmsg": "echo tok123"}]);
        let p = partial(&request, list, Some("tok123"));
        assert_eq!(p.unshared, [pair("env-tok123-x", "wx2")]);
        assert_eq!(p.failed[0].env.as_deref(), Some("env-tok123-x"), "kept as sent");
        assert_eq!(p.failed[0].appid.as_deref(), Some("wx1"));
        assert_eq!(p.failed[0].errmsg.as_deref(), Some("echo <redacted>"));
        for shown in [p.to_string(), format!("{p:?}"), format!("{p:#?}")] {
            assert!(!shown.contains("tok123") && shown.contains("env-<redacted>-x"), "{shown}");
        }
    }

    #[test]
    fn entries_after_an_uncertain_attempt_are_marked() {
        let list = serde_json::json!([{"env": "e1", "appid": "a", "errmsg": "env is not shared with appid"}]);
        let Err(Error::Partial(p)) = unshare_outcome(answer(Some(list)), &request(), 2, true, None) else {
            panic!("partial expected")
        };
        assert!(p.failed.iter().all(|f| f.after_uncertain_attempt));
        assert!(p.to_string().contains("may have unshared"), "{p}");
        assert!(!p.to_string().contains("could not be unshared"), "{p}");
    }

    #[test]
    fn unshared_compares_and_prints_its_pairs_duplicates_errmsg_and_attempts() {
        let request = UnshareRequest::new().env("e1", ["a", "b"]);
        let answer = |errmsg: &str| types::UnshareCloudbaseEnvResponse {
            err_list: None,
            errcode: types::Errcode(0),
            errmsg: Some(types::Errmsg(errmsg.to_owned())),
        };
        let ok = unshare_outcome(answer("ok"), &request, 1, false, None).unwrap();
        let rebuilt = UnshareRequest::new().env("e1", ["a"]).env("e1", ["b"]);
        assert_eq!(ok, unshare_outcome(answer("ok"), &rebuilt, 1, false, None).unwrap(), "the same pairs");
        assert_ne!(ok, unshare_outcome(answer("ok."), &request, 1, false, None).unwrap());
        assert_ne!(ok, unshare_outcome(answer("ok"), &request, 2, false, None).unwrap());
        let repeated = UnshareRequest::new().env("e1", ["a", "b", "a"]);
        assert_ne!(ok, unshare_outcome(answer("ok"), &repeated, 1, false, None).unwrap(), "a duplicate");
        assert_eq!(
            format!("{ok:?}"),
            r#"Unshared { pairs: [("e1", "a"), ("e1", "b")], duplicates: [], errmsg: "ok", attempts: 1 }"#
        );
    }

    #[test]
    fn a_pair_given_twice_is_one_pair_and_a_duplicate() {
        let request = UnshareRequest::new().env("e1", ["a", "a"]).env("e2", ["a"]).env("e1", ["b", "a"]);
        assert_eq!(request.pairs(), [pair("e1", "a"), pair("e1", "b"), pair("e2", "a")]);
        assert_eq!(request.duplicates(), [pair("e1", "a"), pair("e1", "a")]);
        let p = partial(&request, serde_json::json!([{"env": "e1", "appid": "a"}]), None);
        assert_eq!(p.unshared, [pair("e1", "b"), pair("e2", "a")]);
        assert_eq!(p.duplicates.len(), 2);
    }
}
