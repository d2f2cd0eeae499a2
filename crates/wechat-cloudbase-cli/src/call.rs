//! `wechat-cloudbase call OPERATION_ID --body JSON|@FILE|-`: any operation of the spec, with the
//! SDK's tokens, retries, deadline, decoding and redaction, chosen by its operationId at run time.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;

use wechat_cloudbase::openapi::{Answer, OPERATION_IDS, Operation, OperationVisitor, visit_operation};
use wechat_cloudbase::{AccessToken, Client, Error};

use crate::report::Report;
use crate::{Connection, Output, connect};

#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// The spec's operationId, e.g. getShareCloudbaseEnv.
    #[arg(value_name = "OPERATION_ID")]
    operation_id: String,
    /// The request body as JSON, `@FILE` to read it from a file, or `-` from standard input. A
    /// body that holds secrets (getComponentAccessToken's app secret and ticket) is refused on
    /// the command line: give it as a file or on standard input.
    #[arg(long, value_name = "JSON|@FILE|-")]
    body: String,
    #[command(flatten)]
    connection: Connection,
}

/// What a call printed, and with which exit code.
pub(crate) fn run(args: CallArgs, runtime: &tokio::runtime::Runtime) -> u8 {
    let json = args.connection.json;
    let operation_id = args.operation_id.clone();
    let (outcome, token) = runtime.block_on(call(args));
    let output = Output::new(token.as_ref());
    match outcome {
        Ok((answer, secrets)) => {
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let output = output.with(&secrets);
            if json {
                output.json(&answer)
            } else {
                output.json_for_a_person(&answer)
            }
            0
        }
        Err(report) => {
            let report = report.for_operation_id(&operation_id);
            crate::emit(&report, json, token.as_ref());
            report.exit_code()
        }
    }
}

/// A successful call's answer, and the secrets it and its body carry (redacted when printed).
type Answered = (serde_json::Value, Vec<String>);

async fn call(args: CallArgs) -> (Result<Answered, Report>, Option<AccessToken>) {
    let inline = !(args.body.starts_with('@') || args.body == "-");
    let body = match read_body(&args.body) {
        Ok(body) => body,
        Err(message) => return (Err(Report::usage(message)), None),
    };
    let unknown = || {
        Report::usage(format!(
            "`{}` is not an operationId of the spec; one of: {}",
            args.operation_id,
            OPERATION_IDS.join(", ")
        ))
    };
    // First the body is checked against the operation's request type, before anything is sent.
    let secured = match visit_operation(&args.operation_id, Check { body: &body, inline }) {
        None => return (Err(unknown()), None),
        Some(Err(report)) => return (Err(report), None),
        Some(Ok(secured)) => secured,
    };
    let connected = match connect(args.connection, secured).await {
        Ok(connected) => connected,
        Err(report) => return (Err(report), None),
    };
    let send = Send { client: &connected.client, body };
    let outcome = match visit_operation(&args.operation_id, send) {
        Some(sending) => sending.await,
        None => Err(unknown()),
    };
    (outcome, Some(connected.token.clone()))
}

/// The largest body read from a file or standard input: 8 MiB, far above any request WeChat
/// takes, and what the sandbox accepts.
const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// The body: inline, from a file (`@FILE`) or from standard input (`-`), at most
/// [`MAX_BODY_BYTES`], a UTF-8 byte order mark dropped, as JSON.
fn read_body(arg: &str) -> Result<serde_json::Value, String> {
    let mut bytes = Vec::new();
    let source = if let Some(path) = arg.strip_prefix('@') {
        let file =
            std::fs::File::open(path).map_err(|e| format!("cannot read the body from `{path}`: {e}"))?;
        file.take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the body from `{path}`: {e}"))?;
        format!("`{path}`")
    } else if arg == "-" {
        std::io::stdin()
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the body from stdin: {e}"))?;
        "stdin".to_owned()
    } else {
        bytes = arg.as_bytes().to_vec();
        "the command line".to_owned()
    };
    if bytes.len() as u64 > MAX_BODY_BYTES {
        return Err(format!(
            "invalid request: the body from {source} is larger than {MAX_BODY_BYTES} bytes; nothing was sent"
        ));
    }
    let json = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    serde_json::from_slice(json)
        .map_err(|e| format!("invalid request: `body` is not JSON ({e}); nothing was sent"))
}

/// The paths of the fields of `given` that `kept` (the same body after a round trip through the
/// request type) does not have: fields the request type does not know, which would be dropped.
fn unknown_fields(given: &serde_json::Value, kept: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (given, kept) {
        (Value::Object(given), Value::Object(kept)) => {
            for (name, value) in given {
                let path = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
                match kept.get(name) {
                    Some(kept) => unknown_fields(value, kept, &path, out),
                    None if !value.is_null() => out.push(path),
                    None => {}
                }
            }
        }
        (Value::Array(given), Value::Array(kept)) => {
            for (i, (value, kept)) in given.iter().zip(kept).enumerate() {
                unknown_fields(value, kept, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Checks the body against the operation's request type; gives whether the operation carries
/// the token.
struct Check<'a> {
    body: &'a serde_json::Value,
    inline: bool,
}

impl OperationVisitor for Check<'_> {
    type Output = Result<bool, Report>;
    fn visit<Op: Operation>(self) -> Self::Output {
        let secret_fields: Vec<&str> = Op::REQUEST_SECRET_FIELDS
            .iter()
            .copied()
            .filter(|field| self.body.get(field).is_some_and(|v| !v.is_null()))
            .collect();
        if self.inline && !secret_fields.is_empty() {
            return Err(Report::usage(format!(
                "invalid request: {} never go on a command line (secrets): give the body \
                 with `--body @FILE` or `--body -`; nothing was sent",
                secret_fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(" and ")
            )));
        }
        let request: Op::Request = serde_json::from_value(self.body.clone()).map_err(|e| {
            // serde quotes a value of the wrong type, which could be a secret's.
            let values: Vec<String> = secret_fields
                .iter()
                .filter_map(|field| match self.body.get(field)? {
                    serde_json::Value::String(text) => Some(text.clone()),
                    other => Some(other.to_string()),
                })
                .collect();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            Report::usage(format!(
                "invalid request: `body` is not a `{}` request ({}); nothing was sent",
                Op::OPERATION_ID,
                wechat_cloudbase::redact(&e.to_string(), &values)
            ))
        })?;
        let mut unknown = Vec::new();
        let kept = serde_json::to_value(&request).unwrap_or_default();
        unknown_fields(self.body, &kept, "", &mut unknown);
        if !unknown.is_empty() {
            return Err(Report::usage(format!(
                "invalid request: `{}` is not a field of a `{}` request; nothing was sent",
                unknown.join("`, `"),
                Op::OPERATION_ID
            )));
        }
        Ok(Op::SECURED)
    }
}

/// Sends the body with the SDK's engine.
struct Send<'a> {
    client: &'a Client,
    body: serde_json::Value,
}

impl<'a> OperationVisitor for Send<'a> {
    type Output = Pin<Box<dyn Future<Output = Result<Answered, Report>> + 'a>>;
    fn visit<Op: Operation>(self) -> Self::Output {
        Box::pin(async move {
            let request: Op::Request =
                serde_json::from_value(self.body).map_err(|e| Report::usage(format!("invalid body: {e}")))?;
            let answer = self.client.call::<Op>(&request).await.map_err(|e: Error| Report::from_error(&e))?;
            let mut secrets: Vec<String> = Op::secrets(&request).into_iter().map(str::to_owned).collect();
            secrets.extend(answer.secrets().into_iter().map(str::to_owned));
            let value = serde_json::to_value(&answer)
                .map_err(|e| Report::usage(format!("cannot print the answer: {e}")))?;
            Ok((value, secrets))
        })
    }
}
