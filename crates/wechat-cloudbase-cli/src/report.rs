//! The one object `unshare --json` prints, for every outcome.

use schemars::JsonSchema;
use serde::Serialize;
use wechat_cloudbase::{
    Effect, EnvAppid, Error, ErrorKind, FailedPair, PartialFailure, SharedEnvs, Unshared,
};

/// What kind of outcome a report describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Every pair was unshared (exit 0).
    Ok,
    /// errcode 0, but the answer does not prove every pair unshared (exit 3).
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
    /// Every pair was unshared (kind `ok`).
    Applied,
    /// Carried out pair by pair (kind `partial`): see `unshared`, `err_list` and `unverified`.
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

/// One entry of `err_list`, as WeChat sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ErrListEntry {
    /// The environment id, if WeChat named it.
    pub env: Option<String>,
    /// The mini program's appid, if WeChat named it.
    pub appid: Option<String>,
    /// Why the pair was not unshared.
    pub errmsg: Option<String>,
    /// Whether the entry names a requested pair (its env and appid both equal). An entry that
    /// does not proves nothing, and makes the pairs no entry names `unverified`.
    pub matched: bool,
    /// The answer came after an earlier attempt whose answer was lost; that attempt may have
    /// unshared the pair, so its state is unknown.
    pub after_uncertain_attempt: bool,
}

/// One (env, appid) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Pair {
    /// The environment id.
    pub env: String,
    /// The mini program's appid.
    pub appid: String,
}

/// The outcome of `wechat-cloudbase unshare`, printed as one JSON object with `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Report {
    /// True only when every pair was unshared.
    pub ok: bool,
    /// The kind of outcome.
    pub kind: Kind,
    /// WeChat's errcode, when it answered with one.
    pub errcode: Option<i64>,
    /// WeChat's errmsg, when it answered with one.
    pub errmsg: Option<String>,
    /// The request id from errmsg, when there is one.
    pub rid: Option<String>,
    /// The HTTP status, for `http` and `decode` outcomes.
    pub http_status: Option<u16>,
    /// Every entry of WeChat's err_list (empty unless `partial`).
    pub err_list: Vec<ErrListEntry>,
    /// The requested pairs the answer proves unshared.
    pub unshared: Vec<Pair>,
    /// The requested pairs the answer neither proves unshared nor names as failed (an err_list
    /// entry named no requested pair): look at their state again.
    pub unverified: Vec<Pair>,
    /// Pairs given more than once on the command line; each was sent once.
    pub duplicates: Vec<Pair>,
    /// The pairs the answer left unproven that a getShareCloudbaseEnv lookup settled: each is now
    /// in `unshared` or `err_list` as that lookup showed it.
    pub verified: Vec<Pair>,
    /// How many getShareCloudbaseEnv requests that lookup sent (not counted in `attempts`).
    pub verification_attempts: u32,
    /// Whether the request may have been carried out.
    pub effect: ReportEffect,
    /// How many unshare requests left this machine (0 when nothing was sent).
    pub attempts: u32,
    /// A one-line human-readable summary.
    pub message: String,
}

fn pairs(pairs: &[EnvAppid]) -> Vec<Pair> {
    pairs.iter().map(|p| Pair { env: p.env.clone(), appid: p.appid.clone() }).collect()
}

fn entry(f: &FailedPair, matched: bool) -> ErrListEntry {
    ErrListEntry {
        env: f.env.clone(),
        appid: f.appid.clone(),
        errmsg: f.errmsg.clone(),
        matched,
        after_uncertain_attempt: f.after_uncertain_attempt,
    }
}

/// How `n` duplicate pairs are mentioned after a summary: not at all when there are none.
fn duplicates_note(duplicates: &[EnvAppid]) -> String {
    match duplicates.len() {
        0 => String::new(),
        n => format!("; {n} pair(s) given more than once were sent once"),
    }
}

impl Report {
    fn empty(kind: Kind, message: String) -> Self {
        Self {
            ok: kind == Kind::Ok,
            kind,
            errcode: None,
            errmsg: None,
            rid: None,
            http_status: None,
            err_list: Vec::new(),
            unshared: Vec::new(),
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

    /// Every pair was unshared.
    pub fn from_unshared(unshared: &Unshared) -> Self {
        Self {
            errcode: Some(0),
            errmsg: Some(unshared.errmsg.clone()),
            unshared: unshared
                .pairs()
                .map(|(env, appid)| Pair { env: env.into(), appid: appid.into() })
                .collect(),
            duplicates: pairs(&unshared.duplicates),
            attempts: unshared.attempts,
            ..Self::empty(Kind::Ok, {
                let list: Vec<String> = unshared.to_pairs().iter().map(ToString::to_string).collect();
                format!(
                    "unshared {} (env, appid) pair(s): {}{}",
                    list.len(),
                    list.join(", "),
                    duplicates_note(&unshared.duplicates)
                )
            })
        }
    }

    /// Any error of the client.
    pub fn from_error(error: &Error) -> Self {
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
        match error {
            Error::Api(api) => report.errmsg = Some(api.errmsg.clone()),
            Error::Partial(partial) => {
                report.errmsg = Some(partial.errmsg.clone());
                report.err_list = partial.failed.iter().map(|f| entry(f, true)).collect();
                report.err_list.extend(partial.unmatched.iter().map(|f| entry(f, false)));
                report.unshared = pairs(&partial.unshared);
                report.unverified = pairs(&partial.unverified);
                report.duplicates = pairs(&partial.duplicates);
                report.message.push_str(&duplicates_note(&partial.duplicates));
            }
            _ => {}
        }
        report
    }

    /// An unshare outcome after its unproven pairs were looked up: `ok` when every pair is now
    /// proven unshared, else `partial`.
    pub fn from_partial(partial: &PartialFailure) -> Self {
        let mut report = Self::from_error(&Error::from(partial.clone()));
        report.verified = pairs(&partial.verified);
        report.verification_attempts = partial.verification_attempts;
        if partial.is_complete() {
            report.ok = true;
            report.kind = Kind::Ok;
            report.effect = ReportEffect::Applied;
            report.err_list.clear();
            let list: Vec<String> = partial.unshared.iter().map(ToString::to_string).collect();
            report.message = format!(
                "unshared {} (env, appid) pair(s): {}; {} of them proven by a getShareCloudbaseEnv lookup{}",
                list.len(),
                list.join(", "),
                partial.verified.len(),
                duplicates_note(&partial.duplicates)
            );
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

/// One entry of getShareCloudbaseEnv's err_list: an appid that could not be looked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LookupEntry {
    /// The appid, if WeChat named it.
    pub appid: Option<String>,
    /// An environment id, which older pages show in these entries.
    pub env: Option<String>,
    /// Why it could not be looked up.
    pub errmsg: Option<String>,
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
    pub err_list: Vec<LookupEntry>,
    /// The requested appids the answer mentions nowhere: nothing is known of them.
    pub unlisted: Vec<String>,
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
        let complete = seen.failed.is_empty() && seen.unlisted.is_empty();
        let relations: Vec<Relation> = seen
            .relations
            .iter()
            .map(|(appid, envs)| Relation { appid: appid.clone(), envs: envs.clone() })
            .collect();
        let message = if complete {
            format!("looked up {} appid(s)", relations.len())
        } else {
            format!(
                "looked up {} appid(s); {} could not be looked up and {} are not mentioned by the answer",
                relations.len(),
                seen.failed.len(),
                seen.unlisted.len()
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
            err_list: seen
                .failed
                .iter()
                .map(|f| LookupEntry { appid: f.appid.clone(), env: f.env.clone(), errmsg: f.errmsg.clone() })
                .collect(),
            unlisted: seen.unlisted.clone(),
            attempts: seen.attempts,
            message,
        }
    }

    /// The process exit code, as for `unshare`.
    pub fn exit_code(&self) -> u8 {
        Report { kind: self.kind, ..Report::usage(String::new()) }.exit_code()
    }
}
