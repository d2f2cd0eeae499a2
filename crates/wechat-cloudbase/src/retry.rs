//! The retry policy: which failures are retried, how often, and how long to wait.

use std::time::Duration;

use crate::errcode::ErrorClass;
use crate::error::{Effect, Error, TransportErrorKind};

/// How a call is retried.
///
/// A call is retried when, and only when:
/// - WeChat answered `errcode` -1 (system busy, [`ErrorClass::Transient`]);
/// - the operation is safe to repeat (the spec's `x-wechat-idempotent`: unshare and the lookup
///   are) and the answer was HTTP 502, 503 or 504, or no answer arrived (timeout, broken
///   connection);
/// - no connection could be made, so nothing was sent: for any operation.
///
/// Everything else (caller bugs, configuration, not permitted, server `-1000`, unknown codes,
/// decode failures, other HTTP statuses) is returned at once. Token errors are handled apart: the
/// token is invalidated and the call repeated once with a new one, if the provider has one.
///
/// Waits grow exponentially with full jitter: before retry `n` (from 0) the client sleeps a random
/// time in `[0, min(max_backoff, initial_backoff × 2ⁿ)]`. No retry starts once the overall
/// `deadline` would pass; the error returned is then the last real one, with the attempt count.
///
/// ```
/// use std::time::Duration;
/// use wechat_cloudbase::{AccessToken, Client, RetryPolicy};
///
/// // A batch job that may wait longer for a busy WeChat than an interactive request would.
/// let patient = RetryPolicy::default()
///     .with_max_attempts(8)
///     .with_max_backoff(Duration::from_secs(10))
///     .with_deadline(Duration::from_secs(120));
/// let client = Client::builder()
///     .access_token(AccessToken::new("COMPONENT_ACCESS_TOKEN"))
///     .retry_policy(patient)
///     .build()?;
/// # Ok::<(), wechat_cloudbase::Error>(())
/// ```
///
/// `#[non_exhaustive]`: build one from [`RetryPolicy::default`] or [`RetryPolicy::none`] with
/// the `with_*` methods, so that a new setting is not a breaking change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Most requests sent for one call, the first included (default 4; 1 disables retries).
    pub max_attempts: u32,
    /// The first backoff ceiling (default 100 ms).
    pub initial_backoff: Duration,
    /// The largest backoff ceiling (default 2 s).
    pub max_backoff: Duration,
    /// The whole call's time limit, waits and requests included (default 30 s).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The same policy with [`RetryPolicy::max_attempts`] set (1 disables retries; 0 is refused
    /// when the client is built).
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The same policy with [`RetryPolicy::initial_backoff`] set.
    #[must_use]
    pub fn with_initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// The same policy with [`RetryPolicy::max_backoff`] set.
    #[must_use]
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// The same policy with [`RetryPolicy::deadline`] set.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The backoff ceiling before retry `n` (0 for the first retry).
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.min(31));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// A random wait in `[0, ceiling(n)]` ("full jitter").
    pub fn backoff(&self, n: u32) -> Duration {
        let ceiling = self.ceiling(n);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Whether `error` may be retried under the policy, for an operation that is (or is not) safe to
/// repeat. Token errors are not retried here; see [`RetryPolicy`].
pub(crate) fn is_retryable(error: &Error, idempotent: bool) -> bool {
    match error {
        Error::Api(e) => e.code.class() == ErrorClass::Transient,
        Error::Http(e) => idempotent && matches!(e.status, 502..=504),
        // A connection that could not be made sent nothing: safe to try again for any operation.
        Error::Transport(e) => {
            (idempotent || e.effect == Effect::NotSent) && e.kind != TransportErrorKind::Deadline
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_never_made_is_retried_for_any_operation_a_lost_answer_only_when_idempotent() {
        let transport = |effect| {
            Error::from(crate::TransportError {
                operation: "x",
                kind: TransportErrorKind::Connect,
                message: String::new(),
                attempts: 0,
                effect,
                source: None,
            })
        };
        assert!(is_retryable(&transport(Effect::NotSent), false));
        assert!(!is_retryable(&transport(Effect::Unknown), false));
        assert!(is_retryable(&transport(Effect::Unknown), true));
    }

    #[test]
    fn ceilings_grow_exponentially_up_to_the_cap() {
        let p = RetryPolicy::default();
        let got: Vec<_> = (0..7).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let p = RetryPolicy::default();
        for n in 0..10 {
            for _ in 0..100 {
                assert!(p.backoff(n) <= p.ceiling(n));
            }
        }
    }
}
