//! The one object `unshare --json`, `share --json` and `shared --json` print, for every outcome.

use schemars::JsonSchema;
use serde::Serialize;
use wechat_cloudbase::{
    BatchOperation, BatchOutcome, Confirmation, Effect, EnvAppid, Error, ErrorKind, FailedPair,
    LookupFailure, SharedEnvs,
};

/// What kind of outcome a report describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Every pair was unshared, or accepted by `share` (exit 0).
    Ok,
    /// errcode 0, but the answer does not prove every pair done (exit 3).
    Partial,
    /// A non-zero errcode (exit 4).
    Api,
    /// Invalid input or usage; nothing was sent (exit 2).
    Validation,
    /// No answer: connection failure or timeout (exit 5).
    Transport,
    /// An HTTP status other than 200 (exit 5).
    Http,
    /// HTTP 200 with a body that is not the documented answer (exit 5).
    Decode,
}

/// Whether the request may have been carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportEffect {
    /// Every pair was unshared, or accepted by `share` (kind `ok`).
    Applied,
    /// Carried out pair by pair (kind `partial`): see `unshared`/`accepted`, `err_list` and
    /// `unverified`.
    Partial,
    /// Nothing was sent: invalid input, no token, or no connection could be made.
    NotSent,
    /// WeChat refused the whole request with an errcode; nothing was changed.
    Refused,
    /// A request was sent and its fate is unknown (timeout, lost connection, gateway error,
    /// undecodable answer, errcode -1000 or an undocumented code): look at the pairs' state again
    /// before repeating.
    Unknown,
}

/// One entry of WeChat's `err_list`, as the SDK keeps it, and whether it names a requested pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ErrListEntry {
    /// The entry: `env`, `appid`, `errmsg` as WeChat sent them, and `after_uncertain_attempt`
    /// (the answer came after an earlier attempt whose answer was lost; that attempt may have
    /// done what this entry says was not done, so the pair's state is unknown).
    #[serde(flatten)]
    pub entry: FailedPair,
    /// Whether the entry names a requested pair (its env and appid both equal). An entry that
    /// does not proves nothing, and makes the pairs no entry names `unverified`.
    pub matched: bool,
}

/// The outcome of `wechat-cloudbase unshare` or `share`, printed as one JSON object with `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Report {
    /// True only when every pair was unshared (`unshare`) or accepted (`share`).
    pub ok: bool,
    /// The kind of outcome.
    pub kind: Kind,
    /// The spec's operationId of the call (`unshareCloudbaseEnv`, `shareCloudbaseEnv`, or the
    /// one `call` was given), when known.
    pub operation: Option<String>,
    /// WeChat's errcode, when it answered with one.
    pub errcode: Option<i64>,
    /// WeChat's errmsg, when it answered with one.
    pub errmsg: Option<String>,
    /// The request id from errmsg, when there is one.
    pub rid: Option<String>,
    /// The HTTP status, for `http` and `decode` outcomes.
    pub http_status: Option<u16>,
    /// Every entry of WeChat's err_list (empty when the answer had none). After a
    /// getShareCloudbaseEnv lookup proved every pair, an `ok` report still carries the entries
    /// that named no requested pair (`matched: false`).
    pub err_list: Vec<ErrListEntry>,
    /// `unshare`: the requested pairs the answer proves unshared.
    pub unshared: Vec<EnvAppid>,
    /// `share`: the requested pairs WeChat accepted; each is shared once its mini program's admin
    /// confirms at the URL in `confirmations`.
    pub accepted: Vec<EnvAppid>,
    /// `share`: WeChat's `msg_info_list`, the URL each mini program's admin opens to confirm.
    pub confirmations: Vec<Confirmation>,
    /// `share`: the appids of `accepted` pairs the answer gives no confirmation URL for.
    pub missing_confirmations: Vec<String>,
    /// The requested pairs the answer neither proves done nor names as failed (an err_list
    /// entry named no requested pair): look at their state again.
    pub unverified: Vec<EnvAppid>,
    /// Pairs given more than once on the command line; each was sent once.
    pub duplicates: Vec<EnvAppid>,
    /// The pairs the answer left unproven that a getShareCloudbaseEnv lookup settled: each is now
    /// in `unshared`/`accepted` or `err_list` as that lookup showed it.
    pub verified: Vec<EnvAppid>,
    /// How many getShareCloudbaseEnv requests that lookup sent (not counted in `attempts`).
    pub verification_attempts: u32,
    /// Whether the request may have been carried out.
    pub effect: ReportEffect,
    /// How many requests of the operation itself left this machine (0 when nothing was sent).
    pub attempts: u32,
    /// A one-line human-readable summary.
    pub message: String,
}

impl Report {
    fn empty(kind: Kind, message: String) -> Self {
        Self {
            ok: kind == Kind::Ok,
            kind,
            operation: None,
            errcode: None,
            errmsg: None,
            rid: None,
            http_status: None,
            err_list: Vec::new(),
            unshared: Vec::new(),
            accepted: Vec::new(),
            confirmations: Vec::new(),
            missing_confirmations: Vec::new(),
            unverified: Vec::new(),
            duplicates: Vec::new(),
            verified: Vec::new(),
            verification_attempts: 0,
            effect: if kind == Kind::Ok { ReportEffect::Applied } else { ReportEffect::NotSent },
            attempts: 0,
            message,
        }
    }

    /// A usage error: nothing was sent.
    pub fn usage(message: String) -> Self {
        Self::empty(Kind::Validation, message)
    }

    /// The same report, for `operation`.
    pub fn for_operation(self, operation: BatchOperation) -> Self {
        self.for_operation_id(operation.operation_id())
    }

    /// The same report, for the operation whose operationId is `operation_id`.
    pub fn for_operation_id(mut self, operation_id: &str) -> Self {
        self.operation = Some(operation_id.to_owned());
        self
    }

    /// An answer with errcode 0, after any lookup: `ok` when every pair is proven, else `partial`.
    pub fn from_outcome(outcome: &BatchOutcome) -> Self {
        let complete = outcome.is_complete();
        let kind = if complete { Kind::Ok } else { Kind::Partial };
        let entries = |list: &[FailedPair], matched| {
            list.iter().map(move |entry| ErrListEntry { entry: entry.clone(), matched }).collect::<Vec<_>>()
        };
        let mut report = Self {
            errcode: Some(0),
            errmsg: Some(outcome.errmsg.clone()),
            err_list: [entries(&outcome.failed, true), entries(&outcome.unmatched, false)].concat(),
            confirmations: outcome.confirmations.clone(),
            missing_confirmations: outcome
                .appids_without_confirmation()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            unverified: outcome.unverified.clone(),
            duplicates: outcome.duplicates.clone(),
            verified: outcome.verified.clone(),
            verification_attempts: outcome.verification_attempts,
            effect: if complete { ReportEffect::Applied } else { ReportEffect::Partial },
            attempts: outcome.attempts,
            ..Self::empty(kind, outcome.to_string()).for_operation(outcome.operation)
        };
        match outcome.operation {
            BatchOperation::Share => report.accepted = outcome.proven.clone(),
            _ => report.unshared = outcome.proven.clone(),
        }
        report
    }

    /// Any error of the client.
    pub fn from_error(error: &Error) -> Self {
        if let Error::Partial(outcome) = error {
            return Self::from_outcome(outcome);
        }
        let kind = match error.kind() {
            ErrorKind::Validation => Kind::Validation,
            ErrorKind::Partial => Kind::Partial,
            ErrorKind::Api => Kind::Api,
            ErrorKind::Http => Kind::Http,
            ErrorKind::Decode => Kind::Decode,
            // A token error has a cause of its own; the CLI only uses fixed tokens.
            ErrorKind::Transport | ErrorKind::Token => Kind::Transport,
            _ => Kind::Transport,
        };
        let mut report = Self::empty(kind, error.to_string());
        report.errcode = error.errcode();
        report.rid = error.rid().map(str::to_owned);
        report.http_status = error.http_status();
        report.attempts = error.attempts();
        report.effect = match error.effect() {
            Effect::NotSent => ReportEffect::NotSent,
            Effect::Refused => ReportEffect::Refused,
            Effect::Partial => ReportEffect::Partial,
            // Unknown, and any effect a later version adds: the cautious reading.
            _ => ReportEffect::Unknown,
        };
        if let Error::Api(api) = error {
            report.errmsg = Some(api.errmsg.clone());
        }
        report
    }

    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Ok => 0,
            Kind::Validation => 2,
            Kind::Partial => 3,
            Kind::Api => 4,
            Kind::Transport | Kind::Http | Kind::Decode => 5,
        }
    }
}

/// One appid and the environments shared with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Relation {
    /// The mini program's appid.
    pub appid: String,
    /// The environment ids shared with it (empty for none).
    pub envs: Vec<String>,
}

/// The outcome of `wechat-cloudbase shared`, printed as one JSON object with `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SharedReport {
    /// True when every requested appid was looked up.
    pub ok: bool,
    /// The kind of outcome: `partial` when some appid could not be looked up.
    pub kind: Kind,
    /// WeChat's errcode, when it answered with one.
    pub errcode: Option<i64>,
    /// WeChat's errmsg, when it answered with one.
    pub errmsg: Option<String>,
    /// The request id from errmsg, when there is one.
    pub rid: Option<String>,
    /// The HTTP status, for `http` and `decode` outcomes.
    pub http_status: Option<u16>,
    /// Each appid WeChat listed, with its environments.
    pub relations: Vec<Relation>,
    /// The appids that could not be looked up (WeChat's err_list).
    pub err_list: Vec<LookupFailure>,
    /// The requested appids the answer mentions nowhere: nothing is known of them.
    pub unlisted: Vec<String>,
    /// The appids the answer lists more than once with different environments: what is shared
    /// with them is unknown.
    pub contradictory: Vec<String>,
    /// How many requests were sent (0 when nothing was sent).
    pub attempts: u32,
    /// A one-line human-readable summary.
    pub message: String,
}

impl SharedReport {
    /// The parts an unshare-shaped report has in common with this one (usage and errors).
    pub fn from_report(report: Report) -> Self {
        Self {
            ok: report.ok,
            kind: report.kind,
            errcode: report.errcode,
            errmsg: report.errmsg,
            rid: report.rid,
            http_status: report.http_status,
            relations: Vec::new(),
            err_list: Vec::new(),
            unlisted: Vec::new(),
            contradictory: Vec::new(),
            attempts: report.attempts,
            message: report.message,
        }
    }

    /// Any error of the client.
    pub fn from_error(error: &Error) -> Self {
        Self::from_report(Report::from_error(error))
    }

    /// An answer with errcode 0.
    pub fn from_shared(seen: &SharedEnvs) -> Self {
        let relations: Vec<Relation> = seen
            .relations
            .iter()
            .map(|(appid, envs)| Relation { appid: appid.clone(), envs: envs.clone() })
            .collect();
        let mut appids: Vec<&str> = relations.iter().map(|r| r.appid.as_str()).collect();
        appids.sort_unstable();
        appids.dedup();
        let sorted = |envs: &[String]| {
            let mut envs = envs.to_vec();
            envs.sort_unstable();
            envs.dedup();
            envs
        };
        let contradictory: Vec<String> = appids
            .iter()
            .filter(|appid| {
                let mut lists = relations.iter().filter(|r| r.appid == **appid).map(|r| sorted(&r.envs));
                let first = lists.next();
                lists.any(|other| Some(&other) != first.as_ref())
            })
            .map(|appid| (*appid).to_owned())
            .collect();
        let complete = seen.failed.is_empty() && seen.unlisted.is_empty() && contradictory.is_empty();
        let message = if complete {
            format!("looked up {} appid(s)", appids.len())
        } else {
            format!(
                "looked up {} appid(s); {} could not be looked up, {} are not mentioned by the answer and {} \
                 are listed with contradictory environments",
                appids.len(),
                seen.failed.len(),
                seen.unlisted.len(),
                contradictory.len()
            )
        };
        Self {
            ok: complete,
            kind: if complete { Kind::Ok } else { Kind::Partial },
            errcode: Some(0),
            errmsg: Some(seen.errmsg.clone()),
            rid: None,
            http_status: None,
            relations,
            err_list: seen.failed.clone(),
            unlisted: seen.unlisted.clone(),
            contradictory,
            attempts: seen.attempts,
            message,
        }
    }

    /// The process exit code, as for `unshare`.
    pub fn exit_code(&self) -> u8 {
        Report { kind: self.kind, ..Report::usage(String::new()) }.exit_code()
    }
}
