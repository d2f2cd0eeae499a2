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
    let (outcome, token) = runtime.block_on(call(args));
    let output = Output::new(token.as_ref());
    match outcome {
        Ok((answer, secrets)) => {
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            output.with(&secrets).json(&answer);
            0
        }
        Err(report) => {
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

/// The body text: inline, from a file (`@FILE`) or from standard input (`-`), as JSON.
fn read_body(arg: &str) -> Result<serde_json::Value, String> {
    let text = if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the body from `{path}`: {e}"))?
    } else if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the body from stdin: {e}"))?;
        text
    } else {
        arg.to_owned()
    };
    serde_json::from_str(&text)
        .map_err(|e| format!("invalid request: `body` is not JSON ({e}); nothing was sent"))
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
        let request: Op::Request = serde_json::from_value(self.body.clone()).map_err(|e| {
            Report::usage(format!(
                "invalid request: `body` is not a `{}` request ({e}); nothing was sent",
                Op::OPERATION_ID
            ))
        })?;
        if self.inline && !Op::secrets(&request).is_empty() {
            return Err(Report::usage(format!(
                "invalid request: `{}`'s body holds secrets, which never go on a command line: give it \
                 with `--body @FILE` or `--body -`; nothing was sent",
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
