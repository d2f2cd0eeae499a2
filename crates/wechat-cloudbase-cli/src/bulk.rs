//! `share --from-file` and `unshare --from-file`: many pairs from a file, sent as batches under a
//! concurrency limit and an optional rate, with progress, a journal to resume from, and Ctrl-C.

use std::collections::HashSet;
use std::fs::File;
use std::io::{IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wechat_cloudbase::{
    AccessToken, BatchOperation, BulkBatch, BulkOptions, Client, DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY,
    EnvAppid, Error, FailedPair, RetryPolicy, ShareQuery, SourceType, stops_run,
};

use crate::report::{Kind, Report};
use crate::{Connection, Output, connect};

/// The options of a bulk run (`--from-file` and what goes with it).
#[derive(Debug, clap::Args)]
pub(crate) struct BulkArgs {
    /// Read the (env, appid) pairs from FILE (`-` for standard input) instead of --env/--appid:
    /// CSV with an `env,appid` header, or JSON lines `{"env":"…","appid":"…"}`. Every line is
    /// checked before anything is sent; a bad one is refused with its line number (exit 2).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["env", "appids"])]
    pub(crate) from_file: Option<PathBuf>,
    /// Most pairs per request (one env per request) [default: 100; no WeChat page states a
    /// limit, and 100 keeps each answer far below any body limit].
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Most requests in flight at once [default: 4].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Most requests started per second, from 0.001 to 1000000 (the lookups that verify unproven
    /// pairs included).
    #[arg(long, value_name = "PER_SECOND")]
    rate: Option<f64>,
    /// Record each request in FILE (JSON lines, synced to disk before its pairs count as done),
    /// and skip the pairs it already proves done: run again with the same FILE to resume. Pairs
    /// whose fate FILE leaves unknown (sent without a recorded outcome after a crash, or with an
    /// unknown one) are looked up before redoing (unless --no-verify); recorded failures are sent
    /// again. One journal per job: another operation, --source-type or base URL is refused, and so
    /// is a journal another run is using.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
}

impl BulkArgs {
    /// The first option given that only a run with --from-file takes.
    pub(crate) fn bulk_only_option(&self) -> Option<&'static str> {
        [
            (self.batch_size.is_some(), "--batch-size"),
            (self.concurrency.is_some(), "--concurrency"),
            (self.rate.is_some(), "--rate"),
            (self.journal.is_some(), "--journal"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }
}

/// The pairs of a bulk input, or why it is refused (naming the line).
pub(crate) fn read_pairs(source: &Path) -> Result<Vec<EnvAppid>, String> {
    let name =
        if source == Path::new("-") { "standard input".to_owned() } else { source.display().to_string() };
    let mut bytes = Vec::new();
    let read = if source == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        File::open(source).and_then(|mut file| file.read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("cannot read {name}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        format!("{name} line {line}: not UTF-8 text")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let pairs = if first.trim_start().starts_with('{') { json_lines(text) } else { csv_pairs(text) };
    let pairs = pairs.map_err(|(line, reason)| format!("{name} line {line}: {reason}"))?;
    if pairs.is_empty() {
        return Err(format!("{name} holds no (env, appid) pair"));
    }
    Ok(pairs)
}

/// One line of a JSON lines input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPair {
    env: String,
    appid: String,
}

/// The pairs of JSON lines (blank lines skipped); an error is (line, reason).
fn json_lines(text: &str) -> Result<Vec<EnvAppid>, (usize, String)> {
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let pair: JsonPair = serde_json::from_str(line)
            .map_err(|e| (i + 1, format!("not an {{\"env\",\"appid\"}} object: {}", json_reason(&e))))?;
        pairs.push(checked(EnvAppid::new(pair.env, pair.appid)).map_err(|reason| (i + 1, reason))?);
    }
    Ok(pairs)
}

/// The pairs of a CSV input with an `env,appid` header (in either order); an error is (line,
/// reason).
fn csv_pairs(text: &str) -> Result<Vec<EnvAppid>, (usize, String)> {
    // Spaces around a field are trimmed here, field by field (csv's own trimming copies each
    // record).
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let line_of = |e: &csv::Error| e.position().map_or(1, |p| p.line() as usize);
    let headers = reader.headers().map_err(|e| (line_of(&e), e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| spaces_trimmed(h) == name);
    let (Some(env), Some(appid), 2) = (column("env"), column("appid"), headers.len()) else {
        return Err((
            1,
            format!(
                "the CSV header must be `env,appid`, not `{}`",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    };
    let mut pairs = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| (line_of(&e), e.to_string()))? {
        let line = record.position().map_or(0, |p| p.line() as usize);
        let (env, appid) = (spaces_trimmed(&record[env]), spaces_trimmed(&record[appid]));
        if (env, appid) == ("env", "appid") {
            return Err((line, "a second header: is this two files in one?".into()));
        }
        let pair = EnvAppid::new(env, appid);
        pairs.push(checked(pair).map_err(|reason| (line, reason))?);
    }
    Ok(pairs)
}

/// A CSV field without the ASCII spaces and tabs around it (any other whitespace stays, and is
/// refused with the id).
fn spaces_trimmed(field: &str) -> &str {
    field.trim_matches([' ', '\t'])
}

/// The pair, if its ids are valid.
fn checked(pair: EnvAppid) -> Result<EnvAppid, String> {
    match pair.validate() {
        Ok(()) => Ok(pair),
        Err(error) => Err(format!("{} {}", error.field, error.reason)),
    }
}

/// What every journal record says of the run it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Scope {
    /// This run (its start time and process id): ties a `finished` record to its `sending` one.
    run: String,
    /// The spec's operationId.
    operation: String,
    source_type: i32,
    /// Where the requests went: a journal of the sandbox never skips pairs of the real API.
    base_url: String,
}

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Record {
    /// A request is about to be sent with these pairs.
    Sending {
        time: String,
        #[serde(flatten)]
        scope: Scope,
        batch: usize,
        pairs: Vec<EnvAppid>,
    },
    /// A request has finished: `done` are the pairs its answer (or the lookup after it) proves
    /// done; `outcome` is its report (`rid`, `errcode`, `effect` included).
    Finished {
        time: String,
        #[serde(flatten)]
        scope: Scope,
        batch: usize,
        pairs: Vec<EnvAppid>,
        done: Vec<EnvAppid>,
        outcome: serde_json::Value,
    },
    /// Before resuming, a getShareCloudbaseEnv lookup of pairs whose fate was unknown proved
    /// these done.
    Verified {
        time: String,
        #[serde(flatten)]
        scope: Scope,
        done: Vec<EnvAppid>,
        lookups: u32,
    },
}

impl Record {
    fn scope(&self) -> &Scope {
        match self {
            Record::Sending { scope, .. }
            | Record::Finished { scope, .. }
            | Record::Verified { scope, .. } => scope,
        }
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The journal: what earlier runs proved, and the file to append this run's records to.
struct Journal {
    file: File,
    secrets: Vec<String>,
}

/// What a journal says of earlier runs.
#[derive(Default)]
struct Earlier {
    /// Pairs proven done.
    done: HashSet<EnvAppid>,
    /// Pairs whose fate is unknown: sent without a recorded outcome (a crash), or in a request
    /// whose outcome left them unknown (a lost answer, -1000, an unverified pair). Pairs with a
    /// recorded failure are not among them: they are simply sent again.
    uncertain: HashSet<EnvAppid>,
}

/// serde_json's error without its "at line 1 column N" (the line is the caller's to name).
fn json_reason(error: &serde_json::Error) -> String {
    let reason = error.to_string();
    let reason = reason.split(" at line ").next().unwrap_or(&reason);
    format!("{reason} (column {})", error.column())
}

impl Journal {
    /// Opens (or creates) the journal at `path` for the run of `scope`, drops a last line cut
    /// short by a crash, and reads what it proves.
    fn open(path: &Path, scope: &Scope, token: &AccessToken) -> Result<(Self, Earlier), String> {
        let name = path.display();
        let created = !path.exists();
        let mut file = File::options()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("cannot open the journal {name}: {e}"))?;
        if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Err(format!("the journal {name} is not a regular file"));
        }
        // Two runs on one journal would send the same pairs: the second is refused. The lock goes
        // with the file when this process ends, however it ends.
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!("the journal {name} is in use by another run"));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock the journal {name}: {e}"));
            }
        }
        if created {
            // The new file's name must survive a crash too.
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            File::open(parent)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| format!("cannot sync {}: {e}", parent.display()))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| format!("cannot read the journal {name}: {e}"))?;
        // Each record is written as one line ending in `\n`: text after the last `\n` is a record
        // a crash cut short, never counted done. It is cut off so the next record starts a line.
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            file.set_len(complete as u64).map_err(|e| format!("cannot repair the journal {name}: {e}"))?;
            file.seek(std::io::SeekFrom::End(0)).map_err(|e| e.to_string())?;
            eprintln!("note: the journal's last record was cut short (a crash?); it is dropped");
        }
        let mut earlier = Earlier::default();
        let mut in_flight: std::collections::HashMap<(String, usize), Vec<EnvAppid>> = Default::default();
        for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record: Record = serde_json::from_slice(line).map_err(|e| {
                format!("the journal {name} line {}: not a journal record: {}", i + 1, json_reason(&e))
            })?;
            let theirs = record.scope();
            if (&theirs.operation, theirs.source_type, &theirs.base_url)
                != (&scope.operation, scope.source_type, &scope.base_url)
            {
                return Err(format!(
                    "the journal {name} line {} records {} with source_type {} at {}, not this run's {} with \
                     source_type {} at {}: use one journal per job",
                    i + 1,
                    theirs.operation,
                    theirs.source_type,
                    theirs.base_url,
                    scope.operation,
                    scope.source_type,
                    scope.base_url
                ));
            }
            match record {
                Record::Sending { scope, batch, pairs, .. } => {
                    in_flight.insert((scope.run, batch), pairs);
                }
                Record::Finished { scope, batch, pairs, done, outcome, .. } => {
                    in_flight.remove(&(scope.run, batch));
                    if outcome["effect"] == "unknown" {
                        earlier.uncertain.extend(pairs.into_iter().filter(|p| !done.contains(p)));
                    }
                    if let Ok(unverified) =
                        serde_json::from_value::<Vec<EnvAppid>>(outcome["unverified"].clone())
                    {
                        earlier.uncertain.extend(unverified);
                    }
                    earlier.done.extend(done);
                }
                Record::Verified { done, .. } => earlier.done.extend(done),
            }
        }
        earlier.uncertain.extend(in_flight.into_values().flatten());
        Ok((Self { file, secrets: vec![token.expose_secret().to_owned()] }, earlier))
    }

    /// Appends `record` as one line and syncs it to disk.
    fn append(&mut self, record: &Record) -> std::io::Result<()> {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        let mut line = Output::from_secrets(secrets).json_text(record).into_bytes();
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }
}

/// The object `--json` prints for each finished request (one JSON line each).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RequestLine<'a> {
    /// Always `request`.
    pub record: &'static str,
    /// The batch's place in the run's order (from 0).
    pub batch: usize,
    /// The pairs the request carried.
    pub pairs: &'a [EnvAppid],
    /// The report of the request, the shape `schema unshare` describes.
    #[serde(flatten)]
    pub report: &'a Report,
}

/// A line `--from-file --json` prints (for `schema bulk`).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Only its schema is used.
pub(crate) enum BulkLine<'a> {
    /// One per request, as it finishes.
    Request(RequestLine<'a>),
    /// The last line.
    Summary(Box<Summary>),
}

/// The last object `--json` prints: the whole run.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub(crate) struct Summary {
    /// Always `summary`.
    pub record: &'static str,
    /// True only when every pair of the input is proven done (by this run or the journal).
    pub ok: bool,
    /// `ok`, `partial` (some pairs not proven done), `api`, `transport` or `http` (the run
    /// stopped on an error that stops everything), `validation` (nothing sent, or a token that
    /// cannot be sent) or `interrupted` (Ctrl-C or SIGTERM).
    pub kind: String,
    /// The spec's operationId.
    pub operation: String,
    /// The distinct pairs of the input.
    pub pairs: usize,
    /// Pairs the journal already proved done: not sent.
    pub skipped: usize,
    /// Pairs proven done by this run (answers, and lookups of unproven pairs).
    pub done: usize,
    /// Pairs an answer's err_list says were not done.
    pub failed: Vec<FailedPair>,
    /// Pairs neither proven done nor named as failed (see `unverified` in `schema unshare`).
    pub unverified: Vec<EnvAppid>,
    /// Pairs of requests that ended in an error (their fate: see each request's `effect`).
    pub errored: Vec<EnvAppid>,
    /// Pairs no request carried (the run stopped first).
    pub unsent: Vec<EnvAppid>,
    /// Pairs given more than once; each was sent once.
    pub duplicates: usize,
    /// `share`: the appids of accepted pairs whose answer gave no confirmation URL.
    pub missing_confirmations: Vec<String>,
    /// Requests of the operation that finished (not counting lookups).
    pub requests: usize,
    /// getShareCloudbaseEnv requests sent to verify pairs (resume and unproven answers).
    pub verification_attempts: u32,
    /// The errcode of the error that stopped the run, if one did.
    pub errcode: Option<i64>,
    /// The request id of that error, if it had one.
    pub rid: Option<String>,
    /// A one-line human-readable summary.
    pub message: String,
}

impl Summary {
    fn exit_code(&self) -> u8 {
        match self.kind.as_str() {
            "ok" => 0,
            "validation" => 2,
            "partial" => 3,
            "api" => 4,
            "interrupted" => 130,
            _ => 5,
        }
    }
}

/// Runs `share` or `unshare --from-file` and prints its progress, lines and summary.
pub(crate) fn run(
    operation: BatchOperation,
    bulk: BulkArgs,
    connection: Connection,
    source_type: i32,
    verify: bool,
) -> ExitCode {
    let Some(runtime) = crate::runtime() else { return ExitCode::from(5) };
    let json = connection.json;
    let (summary, token) = runtime.block_on(bulk_run(operation, bulk, connection, source_type, verify));
    let output = Output::new(token.as_ref());
    if json {
        output.json(&summary);
    } else {
        print_summary(operation, &summary, &output);
    }
    ExitCode::from(summary.exit_code())
}

fn refused(operation: BatchOperation, message: String) -> Summary {
    let message =
        if message.contains("nothing was sent") { message } else { format!("{message}; nothing was sent") };
    Summary {
        record: "summary",
        kind: "validation".into(),
        operation: operation.operation_id().into(),
        message,
        ..Summary::default()
    }
}

/// Waits for Ctrl-C (or SIGTERM where there is one).
async fn interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn bulk_run(
    operation: BatchOperation,
    bulk: BulkArgs,
    connection: Connection,
    source_type: i32,
    verify: bool,
) -> (Summary, Option<AccessToken>) {
    // The token, when set, is redacted from everything printed, refusals of the input included.
    let env_token = std::env::var(crate::TOKEN_ENV).ok().filter(|t| !t.is_empty()).map(AccessToken::new);
    let refuse = |message: String| (refused(operation, message), env_token.clone());
    let source = bulk.from_file.clone().expect("bulk runs have --from-file");
    let input = match read_pairs(&source) {
        Ok(pairs) => pairs,
        Err(message) => return refuse(message),
    };
    let batch_size = bulk.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    let options = BulkOptions::new()
        .with_batch_size(batch_size)
        .with_concurrency(bulk.concurrency.unwrap_or(DEFAULT_CONCURRENCY))
        .with_source_type(SourceType::from(source_type))
        .with_verify(verify);
    let options = match bulk.rate {
        Some(rate) => options.with_rate(rate),
        None => options,
    };
    if let Err(error) = options.validate() {
        return refuse(format!("--{}: {}", error.field.replace('_', "-"), error.reason));
    }
    let json = connection.json;
    let connected = match connect(connection, true).await {
        Ok(connected) => connected,
        Err(report) => return refuse(report.message),
    };
    let token = connected.token.clone();
    // A bulk run is a batch job: more patience with a busy WeChat than one interactive call.
    let client = match Client::builder()
        .base_url(connected.client.base_url())
        .access_token(token.clone())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(8)
                .with_max_backoff(Duration::from_secs(10))
                .with_deadline(Duration::from_secs(120)),
        )
        .build()
    {
        Ok(client) => client,
        Err(error) => return (refused(operation, error.to_string()), Some(token)),
    };
    let scope = Scope {
        run: format!("{}-{}", now(), std::process::id()),
        operation: operation.operation_id().into(),
        source_type,
        base_url: client.base_url().to_owned(),
    };
    let (journal, earlier) = match &bulk.journal {
        Some(path) => match Journal::open(path, &scope, &token) {
            Ok((journal, earlier)) => (Some(Arc::new(Mutex::new(journal))), earlier),
            Err(message) => return (refused(operation, message), Some(token)),
        },
        None => (None, Earlier::default()),
    };

    let mut summary =
        Summary { record: "summary", operation: operation.operation_id().into(), ..Summary::default() };
    let mut skipped: HashSet<EnvAppid> = HashSet::new();
    let mut todo = input;
    todo.retain(|pair| {
        let done = earlier.done.contains(pair);
        if done && !skipped.contains(pair) {
            skipped.insert(pair.clone());
        }
        !done
    });
    summary.skipped = skipped.len();
    let output = Output::new(Some(&token));

    // Ctrl-C (or SIGTERM): stop taking batches, let those in flight finish; a second one aborts.
    let (interrupt_tx, mut interrupted) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        interrupt().await;
        interrupt_tx.send_replace(true);
        eprintln!("\ninterrupted: waiting for the requests in flight (Ctrl-C again aborts at once)");
        interrupt().await;
        eprintln!("aborted");
        std::process::exit(130);
    });

    // Pairs whose fate an earlier run could not record or learn: looked up before redoing.
    let uncertain: Vec<EnvAppid> = {
        let mut seen = HashSet::new();
        todo.iter().filter(|p| earlier.uncertain.contains(*p) && seen.insert(*p)).cloned().collect()
    };
    if !uncertain.is_empty() && verify {
        eprintln!(
            "note: the journal leaves the fate of {} pair(s) unknown (sent without a recorded outcome, or \
             with an unknown one): looking them up with getShareCloudbaseEnv first",
            uncertain.len()
        );
        let lookup =
            look_up(&client, operation, source_type, &uncertain, batch_size, bulk.rate, &interrupted).await;
        summary.verification_attempts += lookup.requests;
        if let Some(error) = &lookup.error {
            eprintln!(
                "warning: the lookup failed, so its pairs are sent again: {}",
                output.line(&error.to_string())
            );
        }
        if !lookup.proven.is_empty() {
            if let Some(journal) = &journal {
                let record = Record::Verified {
                    time: now(),
                    scope: scope.clone(),
                    done: lookup.proven.iter().cloned().collect(),
                    lookups: lookup.requests,
                };
                if let Err(e) = journal.lock().unwrap_or_else(|e| e.into_inner()).append(&record) {
                    return (refused(operation, format!("cannot write the journal: {e}")), Some(token));
                }
            }
            summary.done += lookup.proven.len();
            todo.retain(|pair| !lookup.proven.contains(pair));
        }
    }

    let mut run = match operation {
        BatchOperation::Share => client.share_all(todo, options),
        _ => client.unshare_all(todo, options),
    }
    .expect("the pairs and options were checked");
    summary.duplicates = run.duplicates().len();
    // Distinct and disjoint: proven by the journal, by the lookup above, and left to send.
    summary.pairs = summary.skipped + summary.done + run.pairs();
    let journal_error: Arc<Mutex<Option<String>>> = Arc::default();
    if let Some(journal) = &journal {
        let (journal, failed, scope) = (Arc::clone(journal), Arc::clone(&journal_error), scope.clone());
        run.before_send(move |batch, request| {
            let record = Record::Sending { time: now(), scope: scope.clone(), batch, pairs: request.pairs() };
            match journal.lock().unwrap_or_else(|e| e.into_inner()).append(&record) {
                Ok(()) => true,
                Err(e) => {
                    failed.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e.to_string());
                    false
                }
            }
        });
    }
    if *interrupted.borrow() {
        run.stopper().stop();
    }

    let mut progress = Progress::new(run.pairs() as u64);
    let mut stopped_by: Option<Report> = None;
    let mut failed_pairs: HashSet<(Option<String>, Option<String>)> = HashSet::new();
    let mut listening = true;
    loop {
        let batch = tokio::select! {
            changed = interrupted.changed(), if listening => {
                listening = false;
                if changed.is_ok() {
                    run.stopper().stop();
                }
                continue;
            }
            batch = run.next() => match batch {
                Some(batch) => batch,
                None => break,
            },
        };
        // The report lists and describes every pair: made only when something shows it.
        let report =
            (json || journal.is_some() || batch.stops_run()).then(|| batch_report(operation, &batch));
        let done: &[EnvAppid] = batch.result.as_ref().map_or(&[], |o| &o.proven);
        // The request's pairs are listed only where they are shown or recorded.
        let carried = (json || journal.is_some() || batch.result.is_err()).then(|| batch.request.pairs());
        if let (Some(journal), Some(report), Some(pairs)) = (&journal, &report, &carried) {
            let record = Record::Finished {
                time: now(),
                scope: scope.clone(),
                batch: batch.index,
                pairs: pairs.clone(),
                done: done.to_vec(),
                outcome: serde_json::to_value(report).expect("a report serialises"),
            };
            if let Err(e) = journal.lock().unwrap_or_else(|e| e.into_inner()).append(&record) {
                journal_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e.to_string());
                run.stopper().stop();
                // Not recorded, so not counted: the pairs count as errored.
                summary.errored.extend(pairs.iter().cloned());
                continue;
            }
        }
        summary.requests += 1;
        summary.done += done.len();
        match (&batch.result, &carried) {
            (Ok(outcome), _) => {
                // An err_list may name a pair twice: each pair counts once.
                let first_time = |f: &&FailedPair| failed_pairs.insert((f.env.clone(), f.appid.clone()));
                summary.failed.extend(outcome.failed.iter().filter(first_time).cloned());
                summary.unverified.extend(outcome.unverified.iter().cloned());
                summary.verification_attempts += outcome.verification_attempts;
                summary
                    .missing_confirmations
                    .extend(outcome.appids_without_confirmation().into_iter().map(str::to_owned));
            }
            (Err(_), Some(pairs)) => summary.errored.extend(pairs.iter().cloned()),
            (Err(_), None) => {}
        }
        let sent = batch.request.len();
        progress.advance(sent as u64, (sent - done.len()) as u64);
        if let (true, Some(report), Some(pairs)) = (json, &report, &carried) {
            output.json(&RequestLine { record: "request", batch: batch.index, pairs, report });
        } else {
            match &batch.result {
                // A share's confirmation URLs are what the operator must pass on: shown as they come.
                Ok(outcome) => progress.suspend(|| {
                    let mut out = std::io::stdout().lock();
                    for confirmation in &outcome.confirmations {
                        let id = |v: &Option<String>| output.line(v.as_deref().unwrap_or("?"));
                        let _ = writeln!(
                            out,
                            "  confirm: appid `{}`: {}",
                            id(&confirmation.appid),
                            id(&confirmation.url)
                        );
                    }
                }),
                // Why a request failed is shown as it fails, once per request.
                Err(error) => progress.println(&format!(
                    "error: a request of {sent} pair(s) (batch {}) failed: {}",
                    batch.index,
                    output.line(&error.to_string())
                )),
            }
        }
        if batch.stops_run() && stopped_by.is_none() {
            stopped_by = report;
        }
    }
    progress.finish();
    summary.unsent = run.unsent();

    let journal_error = journal_error.lock().unwrap_or_else(|e| e.into_inner()).take();
    let not_done =
        summary.failed.len() + summary.unverified.len() + summary.errored.len() + summary.unsent.len();
    let mut message = format!(
        "{} {} of {} pair(s){}",
        operation.done(),
        summary.done + summary.skipped,
        summary.pairs,
        if summary.skipped > 0 {
            format!(" ({} proven by the journal, not sent again)", summary.skipped)
        } else {
            String::new()
        }
    );
    if operation == BatchOperation::Share && summary.done > 0 {
        message.push_str("; each share takes effect once the mini program's admin confirms it at its URL");
        if !summary.missing_confirmations.is_empty() {
            message.push_str(&format!(
                "; the answers give no confirmation URL for {} appid(s) (`missing_confirmations`): ask WeChat \
                 how their admins confirm",
                summary.missing_confirmations.len()
            ));
        }
    }
    if not_done > 0 {
        message.push_str(&format!(
            "; not proven: {} failed, {} unverified, {} in requests that ended in an error, {} not sent",
            summary.failed.len(),
            summary.unverified.len(),
            summary.errored.len(),
            summary.unsent.len()
        ));
    }
    summary.kind = if let Some(report) = &stopped_by {
        summary.errcode = report.errcode;
        summary.rid = report.rid.clone();
        message.push_str(&format!("; the run stopped: {}", report.message));
        match report.kind {
            Kind::Api => "api",
            Kind::Http => "http",
            Kind::Validation => "validation",
            _ => "transport",
        }
        .into()
    } else if let Some(error) = journal_error {
        message.push_str(&format!("; the run stopped: cannot write the journal: {error}"));
        "transport".into()
    } else if *interrupted.borrow() && !summary.unsent.is_empty() {
        message.push_str("; interrupted (Ctrl-C or SIGTERM): run again to go on");
        "interrupted".into()
    } else if not_done > 0 {
        "partial".into()
    } else {
        "ok".into()
    };
    summary.ok = summary.kind == "ok";
    if summary.kind != "ok" && bulk.journal.is_some() {
        message.push_str("; run again with the same --journal to redo only what is not proven done");
    }
    summary.message = message;
    (summary, Some(token))
}

/// A request's report, as `share`/`unshare` report one request, with any lookup failure.
fn batch_report(operation: BatchOperation, batch: &BulkBatch) -> Report {
    let mut report = match &batch.result {
        Ok(outcome) => Report::from_outcome(outcome),
        Err(error) => Report::from_error(error).for_operation(operation),
    };
    if let Some(error) = &batch.verification_error {
        report
            .message
            .push_str(&format!("; the getShareCloudbaseEnv lookup of the unproven pair(s) failed: {error}"));
    }
    report
}

/// What [`look_up`] learnt.
struct Lookup {
    /// The pairs proven done.
    proven: HashSet<EnvAppid>,
    /// The getShareCloudbaseEnv requests sent.
    requests: u32,
    /// The first error (the pairs of its request stay unproven).
    error: Option<Error>,
}

/// Looks `pairs` up with getShareCloudbaseEnv, `chunk` appids per request, at most `rate` per
/// second: which are proven done for `operation` (unshare: not listed with the env; share:
/// listed). Stops at an error that stops runs, or when `interrupted`.
async fn look_up(
    client: &Client,
    operation: BatchOperation,
    source_type: i32,
    pairs: &[EnvAppid],
    chunk: usize,
    rate: Option<f64>,
    interrupted: &tokio::sync::watch::Receiver<bool>,
) -> Lookup {
    let mut lookup = Lookup { proven: HashSet::new(), requests: 0, error: None };
    let appids: Vec<&str> = {
        let mut seen = HashSet::new();
        pairs.iter().map(|p| p.appid.as_str()).filter(|a| seen.insert(*a)).collect()
    };
    let mut pace = rate.map(|per_second| tokio::time::interval(Duration::from_secs_f64(1.0 / per_second)));
    for appids in appids.chunks(chunk) {
        if *interrupted.borrow() {
            break;
        }
        if let Some(pace) = &mut pace {
            pace.tick().await;
        }
        let query = ShareQuery::new(appids.iter().copied()).source_type(SourceType::from(source_type));
        let seen = match client.get_share_cloudbase_env(&query).await {
            Ok(seen) => seen,
            Err(error) => {
                lookup.requests += error.attempts();
                let stop = stops_run(&error);
                lookup.error.get_or_insert(error);
                if stop {
                    break;
                }
                continue;
            }
        };
        lookup.requests += seen.attempts;
        let wanted: HashSet<&str> = appids.iter().copied().collect();
        for pair in pairs.iter().filter(|p| wanted.contains(p.appid.as_str())) {
            let shared = seen.is_shared(&pair.env, &pair.appid);
            if shared.and_then(|shared| operation.proven_by_lookup(shared)) == Some(true) {
                lookup.proven.insert(pair.clone());
            }
        }
    }
    lookup
}

/// Progress on stderr: a bar on a terminal, else a plain line every few seconds.
enum Progress {
    Bar(indicatif::ProgressBar),
    Lines { total: u64, done: u64, failed: u64, started: Instant, last: Instant },
}

/// How often a plain progress line is printed when stderr is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    fn new(total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} pairs {per_sec} ETA {eta} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_message("0 not proven");
            Progress::Bar(bar)
        } else {
            let now = Instant::now();
            Progress::Lines { total, done: 0, failed: 0, started: now, last: now }
        }
    }

    /// `pairs` more finished, `failed` of them not proven done.
    fn advance(&mut self, pairs: u64, not_done: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.inc(pairs);
                if not_done > 0 {
                    let so_far =
                        bar.message().split(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
                    bar.set_message(format!("{} not proven", so_far + not_done));
                }
            }
            Progress::Lines { total, done, failed, started, last } => {
                *done += pairs;
                *failed += not_done;
                if last.elapsed() >= PROGRESS_EVERY {
                    *last = Instant::now();
                    let rate = *done as f64 / started.elapsed().as_secs_f64().max(1e-3);
                    let eta = total.saturating_sub(*done) as f64 / rate.max(1e-3);
                    eprintln!(
                        "progress: {done}/{total} pairs, {failed} not proven, {rate:.0} pairs/s, ETA {}",
                        humantime::format_duration(Duration::from_secs(eta.round() as u64))
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }

    /// Prints a line on stderr without breaking the bar.
    fn println(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines { .. } => eprintln!("{line}"),
        }
    }

    /// Runs `write` (to stdout) with the bar hidden meanwhile.
    fn suspend(&self, write: impl FnOnce()) {
        match self {
            Progress::Bar(bar) => bar.suspend(write),
            Progress::Lines { .. } => write(),
        }
    }
}

/// The summary for a person: one line on stdout when all went well, else the line and the first
/// pairs not proven on stderr.
fn print_summary(operation: BatchOperation, summary: &Summary, output: &Output<'_>) {
    if summary.ok {
        let _ = writeln!(std::io::stdout(), "{}", output.line(&summary.message));
        return;
    }
    eprintln!("error: {}", output.line(&summary.message));
    const SHOWN: usize = 20;
    let mut lines: Vec<String> = Vec::new();
    for failed in &summary.failed {
        let id = |v: &Option<String>| output.line(v.as_deref().unwrap_or("?"));
        lines.push(format!(
            "  not {}: env `{}`, appid `{}`: {}",
            operation.verb(),
            id(&failed.env),
            id(&failed.appid),
            id(&failed.errmsg)
        ));
    }
    for (what, pairs) in [
        ("unverified", &summary.unverified),
        ("request failed", &summary.errored),
        ("not sent", &summary.unsent),
    ] {
        for pair in pairs {
            lines.push(format!(
                "  {what}: env `{}`, appid `{}`",
                output.line(&pair.env),
                output.line(&pair.appid)
            ));
        }
    }
    for line in lines.iter().take(SHOWN) {
        eprintln!("{line}");
    }
    if lines.len() > SHOWN {
        eprintln!("  … and {} more (--json lists them all)", lines.len() - SHOWN);
    }
}
