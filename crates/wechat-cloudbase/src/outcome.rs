//! What a share or unshare call proves about each requested pair: one outcome type for both.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use wechat_cloudbase_openapi::{AccessToken, types};

use crate::source_type::SourceType;
use crate::text::{debug_redacted, escape_for_terminal, redact_owned, redact_token};

/// One (env, appid) pair: an environment and a mini program. Build one with [`EnvAppid::new`].
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[non_exhaustive]
pub struct EnvAppid {
    /// The environment id.
    pub env: String,
    /// The mini program's `appid`.
    pub appid: String,
}

impl EnvAppid {
    /// A pair of `env` and `appid`.
    pub fn new(env: impl Into<String>, appid: impl Into<String>) -> Self {
        Self { env: env.into(), appid: appid.into() }
    }
}

impl fmt::Display for EnvAppid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`/`{}`", escape_for_terminal(&self.env), escape_for_terminal(&self.appid))
    }
}

/// The batch write an outcome is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum BatchOperation {
    /// `shareCloudbaseEnv`: a proven pair was accepted by WeChat and waits for its admin's
    /// confirmation.
    #[serde(rename = "shareCloudbaseEnv")]
    Share,
    /// `unshareCloudbaseEnv`: a proven pair is no longer shared.
    #[serde(rename = "unshareCloudbaseEnv")]
    Unshare,
}

impl BatchOperation {
    /// The spec's operationId.
    pub fn operation_id(self) -> &'static str {
        match self {
            BatchOperation::Share => "shareCloudbaseEnv",
            BatchOperation::Unshare => "unshareCloudbaseEnv",
        }
    }

    /// What the write does to a pair, in past tense: `shared` or `unshared` ("could not be
    /// shared").
    pub fn verb(self) -> &'static str {
        match self {
            BatchOperation::Share => "shared",
            BatchOperation::Unshare => "unshared",
        }
    }

    /// What a proven pair is, in past tense: `accepted` (a share waiting for its admin's
    /// confirmation) or `unshared`.
    pub fn done(self) -> &'static str {
        match self {
            BatchOperation::Share => "accepted",
            BatchOperation::Unshare => "unshared",
        }
    }

    /// What a getShareCloudbaseEnv lookup that shows a pair shared (`shared_now`) or not proves of
    /// this write to it: `Some(true)` done, `Some(false)` not done, `None` nothing. An unshare is
    /// proven by "not shared" and disproven by "shared"; a share is proven by "shared" (its admin
    /// confirmed), while "not shared" proves nothing, since a share waiting for confirmation is
    /// not listed.
    pub fn proven_by_lookup(self, shared_now: bool) -> Option<bool> {
        match self {
            BatchOperation::Unshare => Some(!shared_now),
            BatchOperation::Share => shared_now.then_some(true),
        }
    }
}

/// One entry of `err_list`: a pair WeChat reported as not shared or not unshared.
///
/// WeChat may leave out `env` or `appid`; what it sent is kept, nothing is invented. In
/// [`BatchOutcome::failed`] both ids are those of the requested pair the entry names; in
/// [`BatchOutcome::unmatched`] they are what WeChat sent (secrets redacted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FailedPair {
    /// The environment id, if WeChat named it.
    pub env: Option<String>,
    /// The mini program's `appid`, if WeChat named it.
    pub appid: Option<String>,
    /// WeChat's reason, if it gave one (secrets redacted); for a pair that only a lookup found
    /// still shared after an unshare ([`crate::Client::verify_outcome`]), the text
    /// `still shared according to getShareCloudbaseEnv`.
    pub errmsg: Option<String>,
    /// The answer came after an earlier attempt of the same call whose answer was lost (a
    /// timeout, a broken connection, a gateway error…). That attempt may have done what this
    /// entry says was not done: the pair's state is unknown until looked up again.
    pub after_uncertain_attempt: bool,
}

impl fmt::Display for FailedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = escape_for_terminal(self.env.as_deref().unwrap_or("?"));
        let appid = escape_for_terminal(self.appid.as_deref().unwrap_or("?"));
        let errmsg = escape_for_terminal(self.errmsg.as_deref().unwrap_or("(no errmsg)"));
        write!(f, "`{env}`/`{appid}`: {errmsg}")?;
        if self.after_uncertain_attempt {
            f.write_str(" (an earlier attempt whose answer was lost may have done it)")?;
        }
        Ok(())
    }
}

/// One entry of a share answer's `msg_info_list`: the URL a mini program's admin opens to
/// confirm the share. The share takes effect only after that confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Confirmation {
    /// The mini program's `appid`, if WeChat named it.
    pub appid: Option<String>,
    /// The confirmation URL to send to that mini program's admin, if WeChat gave one.
    pub url: Option<String>,
}

/// What a share or unshare answer with `errcode` 0 proves about each requested pair.
///
/// Every requested pair is in exactly one of `proven`, `failed` (by its ids) and `unverified`:
/// - `proven`: no `err_list` entry names it and every entry names a requested pair. For
///   [`BatchOperation::Unshare`] the pair is no longer shared; for [`BatchOperation::Share`]
///   WeChat accepted it, and it is shared once its admin confirms (see `confirmations`);
/// - `failed`: an entry names it exactly (its `env` and its `appid`);
/// - `unverified`: some entry names no requested pair (it is in `unmatched`), so the answer
///   cannot be trusted to list every failure.
///
/// A partial result is an outcome, not an error: [`BatchOutcome::is_complete`] says whether every
/// pair is proven, and [`BatchOutcome::into_result`] turns anything short of that into
/// [`crate::Error::Partial`]. [`crate::Client::verify_outcome`] settles unproven pairs with a
/// `getShareCloudbaseEnv` lookup.
///
/// `Serialize` writes the fields below (`operation` as its operationId), with the token the
/// call was made with redacted from every text; so do `Display` and `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// Which call this is the outcome of.
    pub operation: BatchOperation,
    /// The request's `source_type`; verification looks the pairs up under the same one.
    pub source_type: SourceType,
    /// The requested pairs the answer (or a later lookup) proves done, in request order.
    pub proven: Vec<EnvAppid>,
    /// The `err_list` entries that name a requested pair.
    pub failed: Vec<FailedPair>,
    /// The `err_list` entries that name no requested pair, or lack an id.
    pub unmatched: Vec<FailedPair>,
    /// The requested pairs the answer neither proves nor names as failed.
    pub unverified: Vec<EnvAppid>,
    /// Pairs the request gave more than once ([`crate::BatchRequest::duplicates`]); each was sent
    /// once.
    pub duplicates: Vec<EnvAppid>,
    /// The pairs a `getShareCloudbaseEnv` lookup settled ([`crate::Client::verify_outcome`]).
    pub verified: Vec<EnvAppid>,
    /// A share answer's `msg_info_list`: where each mini program's admin confirms. Empty for
    /// unshare.
    pub confirmations: Vec<Confirmation>,
    /// WeChat's `errmsg` (usually `ok`), secrets redacted.
    pub errmsg: String,
    /// How many requests of the operation itself were sent (more than 1 after retries).
    pub attempts: u32,
    /// How many `getShareCloudbaseEnv` requests verification sent (not in `attempts`).
    pub verification_attempts: u32,
    /// The token the call was made with, redacted from the pairs when they are shown.
    pub(crate) token: Option<AccessToken>,
}

/// An answer of share or unshare with `errcode` 0, as the outcome needs it.
pub(crate) struct BatchAnswer {
    pub(crate) errmsg: Option<String>,
    pub(crate) err_list: Vec<types::PairFailure>,
    pub(crate) msg_info_list: Vec<types::ConfirmationMessage>,
}

impl From<types::UnshareCloudbaseEnvResponse> for BatchAnswer {
    fn from(answer: types::UnshareCloudbaseEnvResponse) -> Self {
        Self {
            errmsg: answer.errmsg.map(|m| m.0),
            err_list: answer.err_list.unwrap_or_default(),
            msg_info_list: Vec::new(),
        }
    }
}

impl From<types::ShareCloudbaseEnvResponse> for BatchAnswer {
    fn from(answer: types::ShareCloudbaseEnvResponse) -> Self {
        Self {
            errmsg: answer.errmsg.map(|m| m.0),
            err_list: answer.err_list.unwrap_or_default(),
            msg_info_list: answer.msg_info_list.unwrap_or_default(),
        }
    }
}

/// How the call that got a [`BatchAnswer`] went.
pub(crate) struct BatchCall<'a, P> {
    pub(crate) operation: BatchOperation,
    pub(crate) source_type: SourceType,
    /// The requested pairs, each once, in request order.
    pub(crate) pairs: P,
    pub(crate) duplicates: &'a [EnvAppid],
    pub(crate) attempts: u32,
    pub(crate) after_uncertain_attempt: bool,
    pub(crate) token: Option<&'a AccessToken>,
}

impl BatchOutcome {
    /// Judges `answer` against the requested pairs. Every decision is taken on the ids as sent and
    /// as received; the token is redacted from the server's texts kept for showing (`errmsg`, the
    /// ids of unmatched entries, the confirmation URLs), and from the pairs only when shown.
    pub(crate) fn judge<'p, P>(answer: BatchAnswer, call: BatchCall<'_, P>) -> Self
    where
        P: Iterator<Item = (&'p str, &'p str)> + Clone,
    {
        let secrets: Vec<&str> = call.token.iter().map(|t| t.expose_secret()).collect();
        let shown = |text: Option<String>| text.map(|t| redact_owned(t, &secrets));
        // No entry (the usual answer) needs no matching.
        let requested: HashMap<(&str, &str), usize, foldhash::fast::RandomState> =
            if answer.err_list.is_empty() {
                HashMap::default()
            } else {
                call.pairs.clone().enumerate().map(|(i, p)| (p, i)).collect()
            };
        let mut named = vec![false; call.pairs.clone().count()];
        let (mut failed, mut unmatched) = (Vec::new(), Vec::new());
        for entry in answer.err_list {
            let index = match (&entry.env, &entry.appid) {
                (Some(env), Some(appid)) => requested.get(&(env.as_str(), appid.as_str())).copied(),
                _ => None,
            };
            let after_uncertain_attempt = call.after_uncertain_attempt;
            match index {
                // The ids are those of the requested pair, kept as received: equal to those sent.
                Some(i) => {
                    named[i] = true;
                    let errmsg = shown(entry.errmsg);
                    failed.push(FailedPair {
                        env: entry.env,
                        appid: entry.appid,
                        errmsg,
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
        let rest = call.pairs.zip(named).filter(|&(_, named)| !named).map(|((e, a), _)| EnvAppid::new(e, a));
        let (proven, unverified) =
            if unmatched.is_empty() { (rest.collect(), Vec::new()) } else { (Vec::new(), rest.collect()) };
        let confirmations = answer
            .msg_info_list
            .into_iter()
            .map(|m| Confirmation { appid: shown(m.appid), url: shown(m.url) })
            .collect();
        BatchOutcome {
            operation: call.operation,
            source_type: call.source_type,
            proven,
            failed,
            unmatched,
            unverified,
            duplicates: call.duplicates.to_vec(),
            verified: Vec::new(),
            confirmations,
            errmsg: shown(answer.errmsg).unwrap_or_default(),
            attempts: call.attempts,
            verification_attempts: 0,
            token: call.token.cloned(),
        }
    }

    /// For a share, the appids of `proven` pairs that no `confirmations` entry gives a URL for,
    /// each once, in request order: WeChat accepted their pairs but the answer says nowhere how
    /// their admins confirm. Empty for unshare.
    pub fn appids_without_confirmation(&self) -> Vec<&str> {
        if self.operation != BatchOperation::Share {
            return Vec::new();
        }
        let with_url = |appid: &str| {
            self.confirmations.iter().any(|c| c.appid.as_deref() == Some(appid) && c.url.is_some())
        };
        let mut seen = HashSet::new();
        self.proven
            .iter()
            .map(|p| p.appid.as_str())
            .filter(|appid| !with_url(appid) && seen.insert(*appid))
            .collect()
    }

    /// Whether every requested pair is proven: nothing `failed` and nothing `unverified`.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.unverified.is_empty()
    }

    /// The pairs this outcome leaves unproven, each once: `unverified`, and `failed` entries marked
    /// [`FailedPair::after_uncertain_attempt`]. [`crate::Client::verify_outcome`] looks them up.
    pub fn unproven(&self) -> Vec<EnvAppid> {
        let uncertain = self
            .failed
            .iter()
            .filter(|f| f.after_uncertain_attempt)
            .filter_map(|f| Some(EnvAppid::new(f.env.clone()?, f.appid.clone()?)));
        let mut seen = HashSet::new();
        self.unverified.iter().cloned().chain(uncertain).filter(|p| seen.insert(p.clone())).collect()
    }

    /// Records what a lookup showed of `pair`: whether it is shared now (read as
    /// [`BatchOperation::proven_by_lookup`] says).
    pub(crate) fn settle(&mut self, pair: &EnvAppid, shared_now: bool) {
        let names =
            |f: &FailedPair| f.env.as_deref() == Some(&pair.env) && f.appid.as_deref() == Some(&pair.appid);
        let Some(proven) = self.operation.proven_by_lookup(shared_now) else { return };
        let was_unverified = self.unverified.contains(pair);
        self.unverified.retain(|p| p != pair);
        if proven {
            self.failed.retain(|f| !names(f));
            self.proven.push(pair.clone());
        } else {
            for failed in self.failed.iter_mut().filter(|f| names(f)) {
                failed.after_uncertain_attempt = false;
            }
            if was_unverified && !self.failed.iter().any(names) {
                self.failed.push(FailedPair {
                    env: Some(pair.env.clone()),
                    appid: Some(pair.appid.clone()),
                    errmsg: Some("still shared according to getShareCloudbaseEnv".into()),
                    after_uncertain_attempt: false,
                });
            }
        }
        self.verified.push(pair.clone());
    }

    /// The one-line summary `Display` shows, before redaction.
    fn summary(&self) -> String {
        let done = self.operation.done();
        let list = |pairs: &[EnvAppid]| pairs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let mut summary = if self.is_complete() {
            let mut text =
                format!("{done} {} (env, appid) pair(s): {}", self.proven.len(), list(&self.proven));
            if !self.verified.is_empty() {
                text.push_str(&format!(
                    "; {} of them proven by a getShareCloudbaseEnv lookup",
                    self.verified.len()
                ));
            }
            text
        } else {
            self.shortfall()
        };
        if self.operation == BatchOperation::Share && !self.proven.is_empty() {
            summary.push_str("; each share takes effect once the mini program's admin confirms it");
            let missing = self.appids_without_confirmation();
            if !missing.is_empty() {
                let missing: Vec<String> =
                    missing.iter().map(|a| format!("`{}`", escape_for_terminal(a))).collect();
                summary.push_str(&format!(
                    "; the answer gives no confirmation URL for {}: ask WeChat how its admin confirms",
                    missing.join(", ")
                ));
            }
        }
        if !self.duplicates.is_empty() {
            summary.push_str(&format!(
                "; {} pair(s) given more than once were sent once",
                self.duplicates.len()
            ));
        }
        summary
    }

    /// What is missing from a complete outcome.
    fn shortfall(&self) -> String {
        let done = self.operation.done();
        let verb = self.operation.verb();
        let mut parts = Vec::new();
        let (uncertain, certain): (Vec<&FailedPair>, Vec<&FailedPair>) =
            self.failed.iter().partition(|p| p.after_uncertain_attempt);
        // WeChat may name a pair twice: count pairs, not entries.
        let pairs = |entries: &[&FailedPair]| {
            entries.iter().map(|f| (&f.env, &f.appid)).collect::<HashSet<_>>().len()
        };
        if let Some(first) = certain.first() {
            parts.push(format!("{} (env, appid) pair(s) could not be {verb}: {first}", pairs(&certain)));
        }
        if let Some(first) = uncertain.first() {
            parts.push(format!(
                "{} (env, appid) pair(s) reported not {verb} after an earlier attempt whose answer was \
                 lost; their state is unknown: {first}",
                pairs(&uncertain)
            ));
        }
        if let Some(first) = self.unmatched.first() {
            parts
                .push(format!("{} err_list entr(ies) name no requested pair: {first}", self.unmatched.len()));
        }
        if !self.unverified.is_empty() {
            parts.push(format!(
                "{} requested pair(s) are unverified: the answer does not prove them {done}",
                self.unverified.len()
            ));
        }
        let mut summary = format!("{}; {} pair(s) {done}", parts.join("; "), self.proven.len());
        if uncertain.len() + self.unverified.len() > 0 {
            summary.push_str("; look at the pairs' state again before repeating");
        }
        summary
    }

    /// A copy with the token redacted from every pair, for showing.
    fn redacted(&self) -> BatchOutcome {
        let Some(token) = &self.token else { return self.clone() };
        let secrets = [token.expose_secret()];
        let text = |t: &String| redact_owned(t.clone(), &secrets);
        let opt = |t: &Option<String>| t.as_ref().map(text);
        let pairs = |ps: &[EnvAppid]| {
            ps.iter().map(|p| EnvAppid { env: text(&p.env), appid: text(&p.appid) }).collect()
        };
        let entries = |fs: &[FailedPair]| {
            fs.iter()
                .map(|f| FailedPair {
                    env: opt(&f.env),
                    appid: opt(&f.appid),
                    errmsg: opt(&f.errmsg),
                    ..f.clone()
                })
                .collect()
        };
        BatchOutcome {
            proven: pairs(&self.proven),
            failed: entries(&self.failed),
            unmatched: entries(&self.unmatched),
            unverified: pairs(&self.unverified),
            duplicates: pairs(&self.duplicates),
            verified: pairs(&self.verified),
            token: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for BatchOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_token(self.summary(), self.token.as_ref()))
    }
}

impl fmt::Debug for BatchOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_redacted(f, self.token.as_ref(), |f| {
            f.debug_struct("BatchOutcome")
                .field("operation", &self.operation)
                .field("source_type", &self.source_type)
                .field("proven", &self.proven)
                .field("failed", &self.failed)
                .field("unmatched", &self.unmatched)
                .field("unverified", &self.unverified)
                .field("duplicates", &self.duplicates)
                .field("verified", &self.verified)
                .field("confirmations", &self.confirmations)
                .field("errmsg", &self.errmsg)
                .field("attempts", &self.attempts)
                .field("verification_attempts", &self.verification_attempts)
                .finish()
        })
    }
}

impl Serialize for BatchOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The fields `Serialize` writes, borrowed from a redacted copy.
        #[derive(Serialize)]
        struct Shown<'a> {
            operation: BatchOperation,
            source_type: SourceType,
            proven: &'a [EnvAppid],
            failed: &'a [FailedPair],
            unmatched: &'a [FailedPair],
            unverified: &'a [EnvAppid],
            duplicates: &'a [EnvAppid],
            verified: &'a [EnvAppid],
            confirmations: &'a [Confirmation],
            errmsg: &'a str,
            attempts: u32,
            verification_attempts: u32,
        }
        let o = self.redacted();
        Shown {
            operation: o.operation,
            source_type: o.source_type,
            proven: &o.proven,
            failed: &o.failed,
            unmatched: &o.unmatched,
            unverified: &o.unverified,
            duplicates: &o.duplicates,
            verified: &o.verified,
            confirmations: &o.confirmations,
            errmsg: &o.errmsg,
            attempts: o.attempts,
            verification_attempts: o.verification_attempts,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTED: &[(&str, &str)] = &[("e1", "a"), ("e1", "b"), ("e2", "a")];

    fn judge_with(
        operation: BatchOperation,
        err_list: serde_json::Value,
        token: Option<&str>,
        after_uncertain_attempt: bool,
    ) -> BatchOutcome {
        let token = token.map(AccessToken::new);
        let answer = BatchAnswer {
            errmsg: Some("ok".into()),
            err_list: serde_json::from_value(err_list).unwrap(),
            msg_info_list: Vec::new(),
        };
        let call = BatchCall {
            operation,
            source_type: SourceType::CloudRun,
            pairs: REQUESTED.iter().copied(),
            duplicates: &[],
            attempts: 1,
            after_uncertain_attempt,
            token: token.as_ref(),
        };
        BatchOutcome::judge(answer, call)
    }

    fn judge(err_list: serde_json::Value) -> BatchOutcome {
        judge_with(BatchOperation::Unshare, err_list, None, false)
    }

    fn pair(env: &str, appid: &str) -> EnvAppid {
        EnvAppid::new(env, appid)
    }

    #[test]
    fn no_entry_proves_every_pair_and_the_outcome_is_complete() {
        let outcome = judge(serde_json::json!([]));
        assert!(outcome.is_complete() && outcome.unproven().is_empty());
        assert_eq!(outcome.proven, [pair("e1", "a"), pair("e1", "b"), pair("e2", "a")]);
        assert!(outcome.clone().into_result().is_ok());
        assert_eq!(outcome.to_string(), "unshared 3 (env, appid) pair(s): `e1`/`a`, `e1`/`b`, `e2`/`a`");
    }

    #[test]
    fn entries_naming_requested_pairs_fail_those_and_prove_the_rest() {
        let outcome = judge(serde_json::json!([{"env": "e1", "appid": "b", "errmsg": "x"}]));
        assert_eq!(outcome.proven, [pair("e1", "a"), pair("e2", "a")]);
        assert_eq!((outcome.failed.len(), outcome.unmatched.len(), outcome.unverified.len()), (1, 0, 0));
        assert!(!outcome.is_complete());
        let Err(crate::Error::Partial(partial)) = outcome.clone().into_result() else { panic!("partial") };
        assert_eq!(*partial, outcome, "the error carries the whole outcome");
        assert!(outcome.to_string().starts_with("1 (env, appid) pair(s) could not be unshared"), "{outcome}");
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
            let outcome = judge(serde_json::json!([{"env": "e2", "appid": "a"}, entry]));
            assert!(outcome.proven.is_empty(), "{outcome:?}");
            assert_eq!(outcome.unverified, [pair("e1", "a"), pair("e1", "b")], "{outcome:?}");
            assert_eq!((outcome.failed.len(), outcome.unmatched.len()), (1, 1), "{outcome:?}");
        }
    }

    /// Matching uses the ids as received: a token that occurs inside an env id is redacted only
    /// from what is shown (Display, Debug, Serialize), and the pair is still found failed.
    #[test]
    fn pairs_are_matched_on_raw_values_even_when_they_contain_a_secret() {
        let list = serde_json::json!([{"env": "e1", "appid": "a", "errmsg": "echo e1"}]);
        let outcome = judge_with(BatchOperation::Unshare, list, Some("e1"), false);
        assert_eq!(outcome.proven, [pair("e1", "b"), pair("e2", "a")]);
        assert_eq!(outcome.failed[0].env.as_deref(), Some("e1"), "kept as sent");
        assert_eq!(outcome.failed[0].errmsg.as_deref(), Some("echo <redacted>"));
        let json = serde_json::to_string(&outcome).unwrap();
        for shown in [outcome.to_string(), format!("{outcome:?}"), format!("{outcome:#?}"), json] {
            assert!(!shown.contains("e1") && shown.contains("<redacted>"), "{shown}");
        }
    }

    #[test]
    fn entries_after_an_uncertain_attempt_are_marked_and_unproven() {
        let list = serde_json::json!([{"env": "e1", "appid": "a", "errmsg": "env is not shared with appid"}]);
        let outcome = judge_with(BatchOperation::Unshare, list, None, true);
        assert!(outcome.failed.iter().all(|f| f.after_uncertain_attempt));
        assert_eq!(outcome.unproven(), [pair("e1", "a")]);
        assert!(outcome.to_string().contains("their state is unknown"), "{outcome}");
        assert!(!outcome.to_string().contains("could not be unshared"), "{outcome}");
    }

    #[test]
    fn a_lookup_settles_an_unshare_both_ways_but_a_share_only_when_shared() {
        let list = serde_json::json!([{"env": "zz", "appid": "zz"}]);
        let mut unshare = judge_with(BatchOperation::Unshare, list.clone(), None, false);
        unshare.settle(&pair("e1", "a"), false);
        unshare.settle(&pair("e1", "b"), true);
        assert_eq!(unshare.proven, [pair("e1", "a")]);
        assert_eq!(
            unshare.failed[0].errmsg.as_deref(),
            Some("still shared according to getShareCloudbaseEnv")
        );
        assert_eq!(unshare.unverified, [pair("e2", "a")]);
        assert_eq!(unshare.verified.len(), 2);

        let mut share = judge_with(BatchOperation::Share, list, None, false);
        share.settle(&pair("e1", "a"), true);
        share.settle(&pair("e1", "b"), false);
        assert_eq!(share.proven, [pair("e1", "a")], "shared now: accepted and confirmed");
        assert_eq!(share.unverified, [pair("e1", "b"), pair("e2", "a")], "not listed proves nothing");
        assert!(share.failed.is_empty());
    }

    #[test]
    fn a_share_names_the_accepted_appids_the_answer_gives_no_confirmation_url_for() {
        let mut share = judge_with(BatchOperation::Share, serde_json::json!([]), None, false);
        share.confirmations = vec![
            Confirmation { appid: Some("a".into()), url: Some("u".into()) },
            Confirmation { appid: Some("b".into()), url: None },
        ];
        assert_eq!(share.appids_without_confirmation(), ["b"]);
        assert!(share.to_string().contains("no confirmation URL for `b`"), "{share}");
        let unshare = judge(serde_json::json!([]));
        assert!(unshare.appids_without_confirmation().is_empty());
    }

    #[test]
    fn serialize_names_the_operation_and_the_source_type_as_on_the_wire() {
        let outcome = judge_with(BatchOperation::Share, serde_json::json!([]), None, false);
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["operation"], "shareCloudbaseEnv");
        assert_eq!(json["source_type"], 1);
        assert_eq!(json["proven"][0], serde_json::json!({"env": "e1", "appid": "a"}));
        assert!(outcome.to_string().contains("once the mini program's admin confirms"), "{outcome}");
    }
}
