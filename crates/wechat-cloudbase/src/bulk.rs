//! Bulk runs: many (env, appid) pairs shared or unshared as a stream of batch requests, under a
//! batch size, a concurrency limit, an optional rate, and WeChat's quotas.

use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use foldhash::fast::RandomState;
use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::client::Client;
use crate::errcode::{ErrorClass, ErrorCode};
use crate::error::{Error, ValidationError};
use crate::outcome::{BatchOperation, BatchOutcome, EnvAppid};
use crate::request::BatchRequest;
use crate::source_type::SourceType;

/// The default number of pairs per request.
///
/// No WeChat page states a limit. 100 pairs make a request of about 5 KiB and, at worst (every
/// pair in `err_list`, or a 300-byte confirmation URL each for a share), an answer of about
/// 40 KiB: far below [`crate::DEFAULT_MAX_BODY_BYTES`] and any gateway's body limit, while 1,000
/// requests carry 100,000 pairs. A request refused as a whole (an `errcode`) affects at most
/// this many pairs.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// The default number of requests in flight at once (4): enough to hide WeChat's 50–300 ms per
/// call without bursting through the per-minute quota.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// How long a bulk run waits after `errcode` 45011 (the per-minute quota) before sending again
/// (60 s).
pub const DEFAULT_QUOTA_WAIT: Duration = Duration::from_secs(60);

/// The lowest [`BulkOptions::rate`]: one request every 1,000 seconds.
pub const MIN_RATE: f64 = 0.001;

/// The highest [`BulkOptions::rate`]: a million requests per second (1 µs apart).
pub const MAX_RATE: f64 = 1_000_000.0;

/// How a bulk run ([`Client::unshare_all`], [`Client::share_all`]) sends its requests.
///
/// ```
/// use std::time::Duration;
/// use wechat_cloudbase::{BulkOptions, SourceType};
///
/// let options = BulkOptions::new().with_batch_size(50).with_concurrency(2).with_rate(5.0).with_source_type(SourceType::CloudRun);
/// assert_eq!(options.batch_size, 50);
/// assert!(BulkOptions::new().with_concurrency(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BulkOptions {
    /// Most pairs per request (default [`DEFAULT_BATCH_SIZE`]); pairs are grouped by env first,
    /// so a request holds one env.
    pub batch_size: usize,
    /// Most requests in flight at once (default [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// Most requests started per second, if set (none by default). The verification lookups
    /// count too; retries inside one call (see [`crate::RetryPolicy`]) do not.
    pub rate: Option<f64>,
    /// Look the pairs an answer leaves unproven up with `getShareCloudbaseEnv`, as
    /// [`Client::verify_outcome`] does (default true).
    pub verify: bool,
    /// The `source_type` of every request (default 1, CloudRun).
    pub source_type: SourceType,
    /// How long to pause every request after `errcode` 45011, the per-minute quota (default
    /// [`DEFAULT_QUOTA_WAIT`]).
    pub quota_wait: Duration,
    /// Most 45011 waits for one batch before its 45011 is returned as its result (default 10).
    pub max_quota_waits: u32,
}

impl Default for BulkOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            rate: None,
            verify: true,
            source_type: SourceType::CloudRun,
            quota_wait: DEFAULT_QUOTA_WAIT,
            max_quota_waits: 10,
        }
    }
}

impl BulkOptions {
    /// Every option at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`BulkOptions::batch_size`].
    #[must_use]
    pub fn with_batch_size(mut self, pairs: usize) -> Self {
        self.batch_size = pairs;
        self
    }

    /// Sets [`BulkOptions::concurrency`].
    #[must_use]
    pub fn with_concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }

    /// Sets [`BulkOptions::rate`], in requests per second.
    #[must_use]
    pub fn with_rate(mut self, per_second: f64) -> Self {
        self.rate = Some(per_second);
        self
    }

    /// Sets [`BulkOptions::verify`].
    #[must_use]
    pub fn with_verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// Sets [`BulkOptions::source_type`].
    #[must_use]
    pub fn with_source_type(mut self, source_type: SourceType) -> Self {
        self.source_type = source_type;
        self
    }

    /// Sets [`BulkOptions::quota_wait`].
    #[must_use]
    pub fn with_quota_wait(mut self, wait: Duration) -> Self {
        self.quota_wait = wait;
        self
    }

    /// Sets [`BulkOptions::max_quota_waits`].
    #[must_use]
    pub fn with_max_quota_waits(mut self, waits: u32) -> Self {
        self.max_quota_waits = waits;
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `batch_size` or `concurrency` when 0, or `rate` when it is
    /// not a positive, finite number of requests per second.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.batch_size == 0 {
            return Err(ValidationError::new("batch_size", "must be at least 1"));
        }
        if self.concurrency == 0 {
            return Err(ValidationError::new("concurrency", "must be at least 1"));
        }
        if let Some(rate) = self.rate
            && !(MIN_RATE..=MAX_RATE).contains(&rate)
        {
            return Err(ValidationError::new(
                "rate",
                "must be a positive, finite number of requests per second",
            ));
        }
        Ok(())
    }
}

/// One request of a bulk run, once it has finished: the item of a [`BulkRun`].
#[derive(Debug)]
#[non_exhaustive]
pub struct BulkBatch {
    /// Which batch this is: its place in the run's order of batches (from 0).
    pub index: usize,
    /// The request (one env, at most `batch_size` pairs; [`BatchRequest::pairs`] lists them).
    pub request: BatchRequest,
    /// The call's outcome (after the verification lookup, if any), or its error.
    pub result: Result<BatchOutcome, Error>,
    /// The error of the verification lookup, when it failed (the outcome then settles nothing).
    pub verification_error: Option<Error>,
    /// How many times the batch waited for the per-minute quota (45011) and was sent again.
    pub quota_waits: u32,
}

impl BulkBatch {
    /// Whether this batch's error stops the run: see [`stops_run`].
    pub fn stops_run(&self) -> bool {
        self.result.as_ref().err().is_some_and(stops_run)
    }
}

/// Whether `error` stops a whole bulk run rather than one batch: the daily quota (45009), a token
/// WeChat refuses (after the client's one renewal), that is missing (41001), that cannot be had
/// or that cannot be sent (an invalid request: the pairs were checked before, so it is the
/// token), and no answer past the retry policy (transport failures, gateway errors 502–504).
/// Every request after it would fail the same way. Anything else (a caller bug or a permission
/// in one batch, `-1000`, another HTTP status, an undecodable answer) fails only its batch.
pub fn stops_run(error: &Error) -> bool {
    match error {
        Error::Api(api) => {
            api.code == ErrorCode::DailyQuotaReached
                || matches!(api.code.class(), ErrorClass::Token | ErrorClass::Configuration)
        }
        Error::Http(http) => matches!(http.status, 502..=504),
        Error::Token(_) | Error::Transport(_) | Error::InvalidRequest(_) => true,
        _ => false,
    }
}

/// Stops a [`BulkRun`] from another task: no batch starts after [`BulkStop::stop`]; those in
/// flight finish and are yielded. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BulkStop(Arc<Shared>);

impl BulkStop {
    /// Stops taking new batches.
    pub fn stop(&self) {
        self.0.stop();
    }

    /// Whether the run was stopped (by this, or by an error that stops it).
    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }
}

/// A bulk run: a [`Stream`] of [`BulkBatch`]es, each yielded when its request has finished (in
/// the order they finish, not the order sent). Nothing is sent until it is polled.
///
/// The run stops taking new batches after a batch whose error [`stops_run`], or after
/// [`BulkStop::stop`]; the batches in flight then finish and are yielded, and the stream ends.
/// [`BulkRun::unsent`] then lists the pairs no request carried.
#[must_use = "a bulk run sends nothing until it is polled"]
pub struct BulkRun {
    inner: Pin<Box<dyn Stream<Item = BulkBatch> + Send>>,
    shared: Arc<Shared>,
    pairs: usize,
    batches: usize,
    duplicates: Vec<EnvAppid>,
}

impl std::fmt::Debug for BulkRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkRun")
            .field("pairs", &self.pairs)
            .field("batches", &self.batches)
            .field("duplicates", &self.duplicates.len())
            .field("stopped", &self.shared.is_stopped())
            .finish_non_exhaustive()
    }
}

impl BulkRun {
    /// How many distinct pairs the run carries.
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// How many requests (batches) the run sends if nothing stops it.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// The pairs given more than once, once per repeat (each is sent once).
    pub fn duplicates(&self) -> &[EnvAppid] {
        &self.duplicates
    }

    /// Calls `hook` with each batch's index and request right before its request is first sent
    /// (after any wait for the rate or a quota), e.g. to record them in a journal that survives a
    /// crash. When `hook` returns false, that batch is not sent (it stays in
    /// [`BulkRun::unsent`]) and the run stops. Set it before polling the stream; a later call
    /// replaces nothing and returns false.
    pub fn before_send(&self, hook: impl Fn(usize, &BatchRequest) -> bool + Send + Sync + 'static) -> bool {
        self.shared.before_send.set(Box::new(hook)).is_ok()
    }

    /// A handle that stops the run from elsewhere (a Ctrl-C handler).
    pub fn stopper(&self) -> BulkStop {
        BulkStop(Arc::clone(&self.shared))
    }

    /// The pairs of the batches not carried out, in the run's order: once the stream has ended,
    /// those a stop left unsent, or sent only to be refused with 45011 and not sent again (empty
    /// when the run went through).
    pub fn unsent(&self) -> Vec<EnvAppid> {
        let queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut unsent: Vec<_> = queue.iter().collect();
        unsent.sort_by_key(|(index, _)| *index);
        unsent.into_iter().flat_map(|(_, request)| request.pairs()).collect()
    }
}

impl Stream for BulkRun {
    type Item = BulkBatch;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BulkBatch>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// What the tasks of a run share: the batches not yet taken, the stop flag, and the pacing.
struct Shared {
    queue: Mutex<VecDeque<(usize, BatchRequest)>>,
    /// Set once the run stops taking batches; waiters wake at once.
    stopped: tokio::sync::watch::Sender<bool>,
    /// No request starts before this instant (set by 45011).
    paused_until: Mutex<Option<Instant>>,
    /// When a rate is set: its period, and the interval that ticks once per request started,
    /// made on first use (inside the runtime).
    rate: Option<(Duration, tokio::sync::Mutex<Option<Interval>>)>,
    /// See [`BulkRun::before_send`].
    before_send: std::sync::OnceLock<BeforeSend>,
}

/// The hook of [`BulkRun::before_send`].
type BeforeSend = Box<dyn Fn(usize, &BatchRequest) -> bool + Send + Sync>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("stopped", &self.is_stopped()).finish_non_exhaustive()
    }
}

impl Shared {
    fn stop(&self) {
        self.stopped.send_replace(true);
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }

    /// Waits until a request may start: after any quota pause, at the rate. False when the run
    /// was stopped, before or meanwhile (a stop ends the wait at once).
    async fn turn(&self) -> bool {
        let mut stopped = self.stopped.subscribe();
        let stop = std::pin::pin!(stopped.wait_for(|stopped| *stopped));
        let pace = std::pin::pin!(self.pace());
        match futures_util::future::select(stop, pace).await {
            futures_util::future::Either::Left(_) => false,
            futures_util::future::Either::Right(_) => !self.is_stopped(),
        }
    }

    /// Waits out any quota pause, then for the rate's next tick.
    async fn pace(&self) {
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => break,
            }
        }
        if let Some((period, interval)) = &self.rate {
            let mut interval = interval.lock().await;
            let interval = interval.get_or_insert_with(|| {
                let mut interval = tokio::time::interval(*period);
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                interval
            });
            interval.tick().await;
        }
    }

    /// Pauses every request for `wait` from now.
    fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        *paused = Some(paused.map_or(until, |p| p.max(until)));
    }
}

impl Client {
    /// Unshares many pairs: spec operation `unshareCloudbaseEnv`, one request per batch (see
    /// [`BulkRun`]), each judged as [`Client::unshare_cloudbase_env`] judges it and, when it
    /// leaves pairs unproven, looked up as [`Client::verify_outcome`] does.
    ///
    /// The pairs are grouped by env (in the order each env first appears), a pair given twice is
    /// sent once ([`BulkRun::duplicates`]), and each env's appids are split into requests of at
    /// most `batch_size`; at most `concurrency` are in flight, started at most `rate` per
    /// second. `errcode` 45011 (the per-minute quota) pauses every request for `quota_wait` and
    /// sends the batch again; 45009 (the daily quota) and the other errors of [`stops_run`] stop
    /// the run.
    ///
    /// Needs a tokio runtime with the time driver. An example (a [`futures_util::StreamExt`]
    /// drives the stream):
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use wechat_cloudbase::{BulkOptions, Client, EnvAppid};
    ///
    /// # async fn run(client: Client, pairs: Vec<EnvAppid>) -> Result<(), wechat_cloudbase::Error> {
    /// let mut run = client.unshare_all(pairs, BulkOptions::new().with_concurrency(8))?;
    /// while let Some(batch) = run.next().await {
    ///     match &batch.result {
    ///         Ok(outcome) => println!("batch {}: {outcome}", batch.index),
    ///         Err(error) => eprintln!("batch {}: {error}", batch.index),
    ///     }
    /// }
    /// assert!(run.unsent().is_empty(), "the run stopped early");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] before anything is sent: bad options (the field is the option's
    /// name) or a bad pair (`pairs[i].env` or `pairs[i].appid`, `i` counting from 0).
    pub fn unshare_all(
        &self,
        pairs: impl IntoIterator<Item = EnvAppid>,
        options: BulkOptions,
    ) -> Result<BulkRun, Error> {
        self.bulk(BatchOperation::Unshare, pairs, options)
    }

    /// Shares many pairs: spec operation `shareCloudbaseEnv`, as [`Client::unshare_all`] does
    /// for unshare. Each outcome's `confirmations` give the URL each admin must open.
    ///
    /// # Errors
    /// As [`Client::unshare_all`].
    pub fn share_all(
        &self,
        pairs: impl IntoIterator<Item = EnvAppid>,
        options: BulkOptions,
    ) -> Result<BulkRun, Error> {
        self.bulk(BatchOperation::Share, pairs, options)
    }

    fn bulk(
        &self,
        operation: BatchOperation,
        pairs: impl IntoIterator<Item = EnvAppid>,
        options: BulkOptions,
    ) -> Result<BulkRun, Error> {
        options.validate()?;
        let (queue, duplicates, total) = batches(pairs.into_iter().collect(), &options)?;
        let batches = queue.len();
        // Made here, outside any runtime: the interval itself is made on first use.
        let rate = options
            .rate
            .map(|per_second| (Duration::from_secs_f64(1.0 / per_second), tokio::sync::Mutex::new(None)));
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue.into_iter().enumerate().collect()),
            stopped: tokio::sync::watch::Sender::new(false),
            paused_until: Mutex::new(None),
            rate,
            before_send: std::sync::OnceLock::new(),
        });
        let source = {
            let shared = Arc::clone(&shared);
            futures_util::stream::poll_fn(move |_| {
                if shared.is_stopped() {
                    return Poll::Ready(None);
                }
                Poll::Ready(shared.queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front())
            })
        };
        let client = self.clone();
        let task_shared = Arc::clone(&shared);
        let concurrency = options.concurrency;
        let inner = source
            .map(move |(index, request)| {
                let (client, shared, options) = (client.clone(), Arc::clone(&task_shared), options.clone());
                async move { run_batch(&client, operation, index, request, &shared, &options).await }
            })
            .buffer_unordered(concurrency)
            .filter_map(std::future::ready)
            .boxed();
        Ok(BulkRun { inner, shared, pairs: total, batches, duplicates })
    }
}

/// The requests of a run: the pairs grouped by env (in the order each env first appears), each
/// pair once, at most `batch_size` per request; the repeats; and how many distinct pairs.
fn batches(
    pairs: Vec<EnvAppid>,
    options: &BulkOptions,
) -> Result<(Vec<BatchRequest>, Vec<EnvAppid>, usize), ValidationError> {
    // Borrowed from `pairs`: nothing is copied until the requests are built.
    let mut envs: HashMap<&str, usize, RandomState> = HashMap::default();
    let mut seen: HashSet<(&str, &str), RandomState> = HashSet::default();
    let mut groups: Vec<Vec<&str>> = Vec::new();
    let mut env_names: Vec<&str> = Vec::new();
    let mut repeats = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        pair.validate().map_err(|e| ValidationError::new(format!("pairs[{i}].{}", e.field), e.reason))?;
        if !seen.insert((&pair.env, &pair.appid)) {
            repeats.push(i);
            continue;
        }
        let group = *envs.entry(&pair.env).or_insert_with(|| {
            env_names.push(&pair.env);
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(&pair.appid);
    }
    let mut requests = Vec::new();
    for (env, appids) in env_names.iter().zip(&groups) {
        for chunk in appids.chunks(options.batch_size) {
            requests.push(BatchRequest::distinct(env, chunk, options.source_type)?);
        }
    }
    let total = seen.len();
    let duplicates = repeats.into_iter().map(|i| pairs[i].clone()).collect();
    Ok((requests, duplicates, total))
}

/// Sends one batch (again after each 45011, up to the limit), verifies what it leaves
/// unproven; `None` when the run was stopped before it was sent (it goes back to the queue).
async fn run_batch(
    client: &Client,
    operation: BatchOperation,
    index: usize,
    request: BatchRequest,
    shared: &Shared,
    options: &BulkOptions,
) -> Option<BulkBatch> {
    let mut quota_waits = 0;
    let result = loop {
        let go = shared.turn().await
            && (quota_waits > 0 || shared.before_send.get().is_none_or(|hook| hook(index, &request)));
        if !go {
            shared.stop();
            shared.queue.lock().unwrap_or_else(|e| e.into_inner()).push_back((index, request));
            return None;
        }
        let result = match operation {
            BatchOperation::Share => client.share_cloudbase_env(&request).await,
            _ => client.unshare_cloudbase_env(&request).await,
        };
        match result {
            Err(Error::Api(api))
                if api.code == ErrorCode::MinuteQuotaReached && quota_waits < options.max_quota_waits =>
            {
                tracing::warn!(
                    batch = index,
                    "errcode 45011 (per-minute quota): pausing every request for {:?}",
                    options.quota_wait
                );
                quota_waits += 1;
                shared.pause(options.quota_wait);
            }
            result => break result,
        }
    };
    if let Err(error) = &result
        && stops_run(error)
    {
        shared.stop();
    }
    let mut verification_error = None;
    let result = match result {
        Ok(mut outcome) if options.verify && !outcome.unproven().is_empty() => {
            // The lookup is a request too: it keeps the pace. It belongs to a batch in flight, so
            // it is made even when the run was stopped meanwhile.
            shared.pace().await;
            if let Err(error) = client.verify_outcome(&mut outcome).await {
                verification_error = Some(error);
            }
            Ok(outcome)
        }
        other => other,
    };
    Some(BulkBatch { index, request, result, verification_error, quota_waits })
}
