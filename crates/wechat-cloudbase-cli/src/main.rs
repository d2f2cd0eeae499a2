//! `wechat-cloudbase`: share CloudBase environments with mini programs, list which are shared,
//! and unshare them.
//!
//! ```text
//! wechat-cloudbase share   --env ENV --appid APPID [--appid APPID …] [--source-type N] [--base-url URL | --sandbox] [--json] [--no-verify]
//! wechat-cloudbase unshare --env ENV --appid APPID [--appid APPID …] [--source-type N] [--base-url URL | --sandbox] [--json] [--no-verify]
//! wechat-cloudbase unshare --from-file FILE|- [--batch-size N] [--concurrency N] [--rate PER_SECOND] [--journal FILE] […]
//! wechat-cloudbase share   --from-file FILE|- […the same options]
//! wechat-cloudbase shared  --appid APPID [--appid APPID …] [--source-type N] [--base-url URL | --sandbox] [--json]
//! wechat-cloudbase schema [unshare | share | shared]
//! wechat-cloudbase call OPERATION_ID --body JSON|@FILE|-
//! ```
//!
//! The token comes from `WECHAT_COMPONENT_ACCESS_TOKEN`, never from the command line. Exit codes:
//! 0 every pair done (unshared, or accepted by share); 2 invalid input or usage (nothing sent);
//! 3 partial failure; 4 API error; 5 transport, HTTP status or decode failure; with
//! `--from-file`, 4 or 5 when an error stopped the whole run, and 130 when Ctrl-C did.
//!
//! The embedded sandbox (`--sandbox` and the `sandbox` command) is the default feature `sandbox`;
//! a production build can leave it out (`--no-default-features --features rustls`).

mod bulk;
mod call;
mod report;
#[cfg(feature = "sandbox")]
mod sandbox;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wechat_cloudbase::{
    AccessToken, BatchOperation, BatchRequest, Client, DEFAULT_BASE_URL, ShareQuery, SourceType,
    escape_for_terminal,
};
#[cfg(feature = "sandbox")]
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

use report::{ErrListEntry, Report};

/// The environment variable that carries the `component_access_token`.
pub(crate) const TOKEN_ENV: &str = "WECHAT_COMPONENT_ACCESS_TOKEN";
/// The environment variable that sets the base URL when `--base-url` is not given.
const BASE_URL_ENV: &str = "WECHAT_API_BASE_URL";

#[derive(Debug, Parser)]
#[command(
    name = "wechat-cloudbase",
    version,
    about = "WeChat third-party platform CloudBase environment sharing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stop sharing a CloudBase / CloudRun environment with mini programs (unshareCloudbaseEnv).
    ///
    /// The component_access_token is read from WECHAT_COMPONENT_ACCESS_TOKEN. Exit codes: 0 every
    /// pair proven unshared, 2 invalid input (nothing sent), 3 partial failure (some pair not
    /// unshared, or not proven so even after looking it up with getShareCloudbaseEnv), 4 API
    /// error (errcode), 5 transport, HTTP or decode failure.
    ///
    /// With --from-file, thousands of pairs are sent in batches (see --batch-size, --concurrency,
    /// --rate); progress goes to stderr, --json prints one JSON object per request and a summary
    /// (`schema bulk`), --journal makes the run resumable. errcode 45011 (per-minute quota)
    /// waits a minute and goes on; 45009 (daily quota), a refused token or a network that stays
    /// down stop the run (exit 4 or 5); Ctrl-C or SIGTERM stops taking batches, waits for those
    /// in flight and exits 130 (a second one aborts at once).
    Unshare(BatchArgs),
    /// Share a CloudBase / CloudRun environment with mini programs (shareCloudbaseEnv).
    ///
    /// Each accepted pair takes effect once the mini program's admin confirms at the URL printed
    /// for it (WeChat's msg_info_list). The component_access_token is read from
    /// WECHAT_COMPONENT_ACCESS_TOKEN. Exit codes: 0 every pair accepted, 2 invalid input (nothing
    /// sent), 3 partial failure (some pair not accepted, or not proven so), 4 API error
    /// (errcode), 5 transport, HTTP or decode failure. --from-file works as for `unshare`.
    Share(BatchArgs),
    /// List the environments shared with mini programs (getShareCloudbaseEnv).
    ///
    /// Exit codes: 0 the lookup succeeded (even when an appid has no environment), 2 invalid
    /// input (nothing sent), 3 the answer could not look up some appids (its err_list, an appid it
    /// does not mention, or one it lists twice with different environments), 4 API error
    /// (errcode), 5 transport, HTTP or decode failure.
    Shared(SharedArgs),
    /// Send any operation of the spec, by its operationId, with a JSON body, and print WeChat's
    /// answer as JSON (secrets redacted).
    ///
    /// With --json, WeChat's answer on success; on failure, the report `schema unshare` describes
    /// (`operation` names the call). An err_list in the answer is printed, not judged.
    ///
    /// Exit codes: 0 errcode 0 (or none), 2 invalid input (nothing sent), 4 API
    /// error, 5 transport, HTTP or decode failure.
    Call(call::CallArgs),
    /// Print the JSON Schema of the object `COMMAND --json` prints (`unshare`, `share` or `shared`).
    Schema {
        /// The command whose output to describe.
        #[arg(value_enum, default_value_t = SchemaOf::Unshare)]
        command: SchemaOf,
    },
    /// Run the local sandbox, a stand-in for WeChat's API, until Ctrl-C or SIGTERM.
    ///
    /// It prints its base URL and the credentials it accepts, then logs one line per request
    /// (tokens redacted) on stderr. With RUST_LOG=info,wechat_cloudbase_sandbox::pairs=debug it
    /// also logs, for each share or unshare it carries out, the pairs asked for and those changed
    /// (one JSON `pairs {…}` line), to check a client's records pair for pair.
    #[cfg(feature = "sandbox")]
    Sandbox(Box<sandbox::SandboxArgs>),
}

/// The commands whose `--json` output has a schema.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SchemaOf {
    /// The object `unshare --json` prints.
    Unshare,
    /// The object `share --json` prints (the same shape as `unshare`'s).
    Share,
    /// The object `shared --json` prints.
    Shared,
    /// The JSON lines `share --from-file --json` and `unshare --from-file --json` print: one
    /// `request` object per request, then one `summary`.
    Bulk,
}

/// Where calls go, and how the outcome is printed: the options every API command shares.
#[derive(Debug, clap::Args)]
pub(crate) struct Connection {
    /// API base URL [default: WECHAT_API_BASE_URL, else https://api.weixin.qq.com].
    #[cfg_attr(feature = "sandbox", arg(long, value_name = "URL", conflicts_with = "sandbox"))]
    #[cfg_attr(not(feature = "sandbox"), arg(long, value_name = "URL"))]
    base_url: Option<String>,
    /// Send the call to a sandbox started in this process, with a token it accepts; nothing is
    /// sent to WeChat.
    #[cfg(feature = "sandbox")]
    #[arg(long)]
    sandbox: bool,
    /// Print exactly one JSON object on stdout (see `wechat-cloudbase schema COMMAND`).
    #[arg(long)]
    pub(crate) json: bool,
}

/// The options of `share` and `unshare`.
#[derive(Debug, clap::Args)]
struct BatchArgs {
    /// The environment id.
    #[arg(long, value_name = "ENV", required_unless_present = "from_file")]
    env: Option<String>,
    /// A mini program appid; repeat for several.
    #[arg(long = "appid", value_name = "APPID", required_unless_present = "from_file")]
    appids: Vec<String>,
    #[command(flatten)]
    source_type: SourceTypeArg,
    #[command(flatten)]
    bulk: bulk::BulkArgs,
    #[command(flatten)]
    connection: Connection,
    /// Do not look up (getShareCloudbaseEnv) the pairs the answer leaves unproven; by default
    /// they are looked up once and reported as WeChat then sees them. With --journal, the pairs
    /// the journal leaves unknown are then sent again without a lookup.
    #[arg(long)]
    no_verify: bool,
}

#[derive(Debug, clap::Args)]
struct SharedArgs {
    #[command(flatten)]
    mini_programs: MiniPrograms,
    #[command(flatten)]
    connection: Connection,
}

/// The mini programs a command is about, and the kind of environment: the options of `shared`.
#[derive(Debug, clap::Args)]
struct MiniPrograms {
    /// A mini program appid; repeat for several.
    #[arg(long = "appid", value_name = "APPID", required = true)]
    appids: Vec<String>,
    #[command(flatten)]
    source_type: SourceTypeArg,
}

/// `--source-type`: the option of `share`, `unshare` and `shared`.
#[derive(Debug, clap::Args)]
struct SourceTypeArg {
    /// The request's source_type: 1 CloudRun (WeChat's pages), 0 CloudBase (as a widely used .NET
    /// SDK sends it; not WeChat's word); other values are sent as they are.
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true)]
    source_type: i32,
}

fn main() -> ExitCode {
    // The sandbox logs each request at `info`; everything else only warnings, unless RUST_LOG says.
    let sandbox = std::env::args_os().nth(1).is_some_and(|a| a == "sandbox");
    let default_filter = if sandbox { "warn,wechat_cloudbase_sandbox=info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // Arguments need not be UTF-8: look for `--json` without decoding them.
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if json && error.use_stderr() => {
            emit_usage_error(&error);
            return ExitCode::from(2);
        }
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Schema { command } => {
            let schema = match command {
                SchemaOf::Unshare | SchemaOf::Share => schemars::schema_for!(Report),
                SchemaOf::Shared => schemars::schema_for!(report::SharedReport),
                SchemaOf::Bulk => schemars::schema_for!(bulk::BulkLine),
            };
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::to_string_pretty(&schema).expect("a schema serialises")
            );
            ExitCode::SUCCESS
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => sandbox::run(*args),
        Command::Unshare(args) => run_batch(BatchOperation::Unshare, args),
        Command::Share(args) => run_batch(BatchOperation::Share, args),
        Command::Call(args) => {
            let Some(runtime) = runtime() else { return ExitCode::from(5) };
            ExitCode::from(call::run(args, &runtime))
        }
        Command::Shared(args) => {
            let Some(runtime) = runtime() else { return ExitCode::from(5) };
            let json = args.connection.json;
            let (report, token) = runtime.block_on(shared(args));
            emit_shared(&report, json, token.as_ref());
            ExitCode::from(report.exit_code())
        }
    }
}

/// Prints clap's error as the `--json` object of the command it is about: its whole message
/// (which names the argument) without the usage lines, as a report of kind `validation`.
fn emit_usage_error(error: &clap::Error) {
    let rendered = error.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    let message = lines.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let mut args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
    let command = args.next().unwrap_or_default();
    let help = match command.as_str() {
        "share" | "unshare" | "shared" | "call" | "schema" | "sandbox" => {
            format!("wechat-cloudbase {command} --help")
        }
        _ => "wechat-cloudbase --help".to_owned(),
    };
    let report = Report::usage(format!("invalid usage: {message}; see `{help}`"));
    match command.as_str() {
        "shared" => emit_shared(&report::SharedReport::from_report(report), true, None),
        "share" => emit(&report.for_operation(BatchOperation::Share), true, None),
        "unshare" => emit(&report.for_operation(BatchOperation::Unshare), true, None),
        // `call OPERATION_ID …`: the first argument that is not an option.
        "call" => match args.find(|a| !a.starts_with('-')) {
            Some(operation_id) => emit(&report.for_operation_id(&operation_id), true, None),
            None => emit(&report, true, None),
        },
        _ => emit(&report, true, None),
    }
}

/// A current-thread runtime for one command, or `None` (after saying why) if none can start.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            None
        }
    }
}

/// A connected client: to the embedded sandbox (kept running while the client is used), or to
/// the base URL with the token of `WECHAT_COMPONENT_ACCESS_TOKEN`.
pub(crate) struct Connected {
    pub(crate) client: Client,
    pub(crate) token: AccessToken,
    /// The embedded sandbox, if the client talks to it: kept running while the client is used.
    _sandbox: Option<Box<dyn std::any::Any>>,
}

/// A token for a client whose calls never carry one (operations the spec does not secure): it
/// is never sent.
const UNUSED_TOKEN: &str = "no-token-needed";

/// Connects as `connection` says; the error is a usage report (nothing was sent). Without
/// `needs_token`, a missing `WECHAT_COMPONENT_ACCESS_TOKEN` is no error.
pub(crate) async fn connect(connection: Connection, needs_token: bool) -> Result<Connected, Report> {
    #[cfg(feature = "sandbox")]
    if connection.sandbox {
        return embedded_sandbox().await;
    }
    let token = match std::env::var(TOKEN_ENV) {
        Ok(token) if !token.is_empty() => token,
        // The variable is not read at all for operations that do not carry a token.
        _ if !needs_token => UNUSED_TOKEN.to_owned(),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Report::usage(format!("{TOKEN_ENV} is not valid UTF-8; nothing was sent")));
        }
        _ => {
            return Err(Report::usage(format!(
                "no token: set {TOKEN_ENV} to the component_access_token{}; nothing was sent",
                if cfg!(feature = "sandbox") { ", or pass --sandbox" } else { "" }
            )));
        }
    };
    let base_url = connection
        .base_url
        .or_else(|| std::env::var(BASE_URL_ENV).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    connected(&base_url, AccessToken::new(token), None).map_err(|error| Report::from_error(&error))
}

/// A client for `base_url` with `token`, holding `sandbox` (if any) while it is used.
fn connected(
    base_url: &str,
    token: AccessToken,
    sandbox: Option<Box<dyn std::any::Any>>,
) -> Result<Connected, wechat_cloudbase::Error> {
    let client = Client::new(base_url, token.clone())?;
    Ok(Connected { client, token, _sandbox: sandbox })
}

/// A client of a sandbox started in this process, with a token it accepts.
#[cfg(feature = "sandbox")]
async fn embedded_sandbox() -> Result<Connected, Report> {
    // It stops with the command, so nobody could open a confirmation URL: shares are
    // confirmed at once.
    let config = SandboxConfig::default().with_auto_confirm(true);
    let sandbox = match Sandbox::start(config).await {
        Ok(sandbox) => sandbox,
        Err(error) => return Err(Report::usage(format!("cannot start the sandbox: {error}"))),
    };
    eprintln!(
        "note: using the embedded sandbox at {} (it holds the documented sample pairs and \
         confirms each share at once, and stops with this command); nothing was sent to WeChat",
        sandbox.base_url()
    );
    let base_url = sandbox.base_url();
    connected(&base_url, AccessToken::new(SANDBOX_ACCESS_TOKEN), Some(Box::new(sandbox)))
        .map_err(|error| Report::from_error(&error))
}

/// Runs `share` or `unshare` and prints its report; the exit code.
fn run_batch(operation: BatchOperation, args: BatchArgs) -> ExitCode {
    if args.bulk.from_file.is_some() {
        return bulk::run(
            operation,
            args.bulk,
            args.connection,
            args.source_type.source_type,
            !args.no_verify,
        );
    }
    if let Some(option) = args.bulk.bulk_only_option() {
        let report =
            Report::usage(format!("invalid usage: {option} goes with --from-file; nothing was sent"));
        emit(&report.for_operation(operation), args.connection.json, None);
        return ExitCode::from(2);
    }
    let Some(runtime) = runtime() else { return ExitCode::from(5) };
    let json = args.connection.json;
    let (report, token) = runtime.block_on(batch(operation, args));
    emit(&report, json, token.as_ref());
    ExitCode::from(report.exit_code())
}

/// Runs `share` or `unshare` to a report, and the token it used (to redact from what is
/// printed); never panics on bad input or answers.
async fn batch(operation: BatchOperation, args: BatchArgs) -> (Report, Option<AccessToken>) {
    let source_type = SourceType::from(args.source_type.source_type);
    let env = args.env.unwrap_or_default();
    let request = BatchRequest::new().env(env, args.appids).source_type(source_type);
    if let Err(error) = request.validate() {
        return (Report::from_error(&error.into()).for_operation(operation), None);
    }
    let connected = match connect(args.connection, true).await {
        Ok(connected) => connected,
        Err(report) => return (report.for_operation(operation), None),
    };
    let (client, token) = (&connected.client, connected.token.clone());
    let outcome = match operation {
        BatchOperation::Share => client.share_cloudbase_env(&request).await,
        _ => client.unshare_cloudbase_env(&request).await,
    };
    let mut outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return (Report::from_error(&error).for_operation(operation), Some(token)),
    };
    let pending = outcome.unproven().len();
    if args.no_verify || pending == 0 {
        return (Report::from_outcome(&outcome), Some(token));
    }
    let lookup = client.verify_outcome(&mut outcome).await;
    let mut report = Report::from_outcome(&outcome);
    match lookup {
        Ok(_) => eprintln!(
            "note: looked up {pending} unproven pair(s) with getShareCloudbaseEnv; {} settled",
            outcome.verified.len()
        ),
        Err(error) => report.message.push_str(&format!(
            "; the getShareCloudbaseEnv lookup of the {pending} unproven pair(s) failed: {error}"
        )),
    }
    (report, Some(token))
}

/// Runs the shared command to a report, and the token it used (to redact from what is printed).
async fn shared(args: SharedArgs) -> (report::SharedReport, Option<AccessToken>) {
    let query = ShareQuery::new(args.mini_programs.appids)
        .source_type(SourceType::from(args.mini_programs.source_type.source_type));
    if let Err(error) = query.validate() {
        return (report::SharedReport::from_error(&error.into()), None);
    }
    let connected = match connect(args.connection, true).await {
        Ok(connected) => connected,
        Err(report) => return (report::SharedReport::from_report(report), None),
    };
    let report = match connected.client.get_share_cloudbase_env(&query).await {
        Ok(seen) => report::SharedReport::from_shared(&seen),
        Err(error) => report::SharedReport::from_error(&error),
    };
    (report, Some(connected.token))
}

/// Prints a `shared` report: one JSON object on stdout, or a line per appid.
fn emit_shared(report: &report::SharedReport, json: bool, token: Option<&AccessToken>) {
    let output = Output::new(token);
    if json {
        return output.json(report);
    }
    let mut out = std::io::stdout().lock();
    for relation in &report.relations {
        let envs =
            if relation.envs.is_empty() { "(no environment)".to_owned() } else { relation.envs.join(", ") };
        let _ = writeln!(out, "{}: {}", output.line(&relation.appid), output.line(&envs));
    }
    if report.ok {
        return;
    }
    eprintln!("error: {}", output.line(&report.message));
    for failed in &report.err_list {
        let appid = failed.appid.as_deref().unwrap_or("?");
        let errmsg = failed.errmsg.as_deref().unwrap_or("");
        eprintln!("  not looked up: appid `{}`: {}", output.line(appid), output.line(errmsg));
    }
    for appid in &report.unlisted {
        eprintln!("  not mentioned by the answer: appid `{}`", output.line(appid));
    }
    for appid in &report.contradictory {
        eprintln!("  listed twice with different environments: appid `{}`", output.line(appid));
    }
}

/// What the commands print, for a person or a program.
///
/// Whatever is printed is first redacted of the token, in every spelling the library finds (a
/// request id could, however unlikely, hold its text); human output has every invisible
/// character of server text (controls, bidirectional overrides, zero-width characters…)
/// escaped, so that the terminal shows exactly what was received.
pub(crate) struct Output<'a> {
    secrets: Vec<&'a str>,
}

impl<'a> Output<'a> {
    pub(crate) fn new(token: Option<&'a AccessToken>) -> Self {
        Self { secrets: token.map(AccessToken::expose_secret).into_iter().collect() }
    }

    /// An output that redacts `secrets`.
    pub(crate) fn from_secrets(secrets: Vec<&'a str>) -> Self {
        Self { secrets }
    }

    /// The same output, redacting `more` secrets too.
    fn with(mut self, more: &[&'a str]) -> Self {
        self.secrets.extend(more.iter().filter(|s| !s.is_empty()));
        self
    }

    /// One line of text for a person: redacted, then escaped for the terminal.
    pub(crate) fn line(&self, text: &str) -> String {
        escape_for_terminal(&wechat_cloudbase::redact(text, &self.secrets)).into_owned()
    }

    /// `report` as one JSON object on stdout, each string redacted on its own so that the JSON
    /// stays valid whatever a value holds.
    pub(crate) fn json(&self, report: &impl serde::Serialize) {
        // A closed stdout (`| head -0`) must not turn an outcome into a panic.
        let _ = writeln!(std::io::stdout(), "{}", self.json_text(report));
    }

    /// The same JSON for a terminal: every invisible character (see [`escape_for_terminal`])
    /// written as a JSON `\uXXXX` escape, so the text stays the same JSON value and shows only
    /// what it holds.
    fn json_for_a_person(&self, report: &impl serde::Serialize) {
        let mut shown = String::new();
        for c in self.json_text(report).chars() {
            let mut utf8 = [0; 4];
            if escape_for_terminal(c.encode_utf8(&mut utf8)).len() == c.len_utf8() {
                shown.push(c);
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    shown.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        let _ = writeln!(std::io::stdout(), "{shown}");
    }

    pub(crate) fn json_text(&self, report: &impl serde::Serialize) -> String {
        let mut value = serde_json::to_value(report).expect("a report serialises");
        redact_strings(&mut value, &|text: &str| wechat_cloudbase::redact(text, &self.secrets));
        value.to_string()
    }
}

/// Prints a `share` or `unshare` report: one JSON object on stdout, or a short summary (and
/// each confirmation URL of a share).
fn emit(report: &Report, json: bool, token: Option<&AccessToken>) {
    let output = Output::new(token);
    if json {
        return output.json(report);
    }
    let line = |text: &str| output.line(text);
    let id = |v: &Option<String>| line(v.as_deref().unwrap_or("?"));
    if report.ok {
        let _ = writeln!(std::io::stdout(), "{}", line(&report.message));
    }
    for confirmation in &report.confirmations {
        let _ = writeln!(
            std::io::stdout(),
            "  confirm: appid `{}`: {}",
            id(&confirmation.appid),
            id(&confirmation.url)
        );
    }
    if report.ok {
        return;
    }
    eprintln!("error: {}", line(&report.message));
    let share = report.operation.as_deref() == Some(BatchOperation::Share.operation_id());
    let done = if share { BatchOperation::Share } else { BatchOperation::Unshare }.verb();
    for ErrListEntry { entry, matched } in &report.err_list {
        let what = match (matched, entry.after_uncertain_attempt) {
            (false, _) => "names no requested pair".to_owned(),
            (true, true) => format!("state unknown (an earlier attempt may have {done} it)"),
            (true, false) => format!("not {done}"),
        };
        eprintln!("  {what}: env `{}`, appid `{}`: {}", id(&entry.env), id(&entry.appid), id(&entry.errmsg));
    }
    for pair in &report.unverified {
        eprintln!("  unverified: env `{}`, appid `{}`", line(&pair.env), line(&pair.appid));
    }
}

/// Replaces every string inside `value` by `shown(string)`.
fn redact_strings(value: &mut serde_json::Value, shown: &impl Fn(&str) -> String) {
    match value {
        serde_json::Value::String(text) => *text = shown(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(v, shown)),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(|v| redact_strings(v, shown)),
        _ => {}
    }
}
