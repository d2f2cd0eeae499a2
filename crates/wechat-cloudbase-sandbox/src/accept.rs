//! What the accept loop does when `accept()` fails: wait before trying again, longer after each
//! failure in a row, and warn at most once per [`WARN_EVERY`].
//!
//! A failure such as EMFILE (no file descriptor left) is not cleared by trying again at once: the
//! pending connection stays in the backlog, so the listener stays readable and a loop that retries
//! at once spins on one core and logs as fast as it can.

use std::io;
use std::time::{Duration, Instant};

/// The wait after the first failure of a run.
const FIRST_WAIT: Duration = Duration::from_millis(10);
/// The longest wait: the delay doubles after each failure in a row up to this.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// At most one warning per this interval; the others are counted and reported with the next one.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// The state of the accept loop's failures: the next wait, and when it last warned.
#[derive(Debug)]
pub(crate) struct AcceptErrors {
    next_wait: Duration,
    last_warning: Option<Instant>,
    suppressed: u64,
}

/// What to do after one failed `accept()`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AfterFailure {
    /// How long to wait before accepting again.
    pub(crate) wait: Duration,
    /// `Some(n)`: warn now, mentioning the `n` failures not reported since the last warning;
    /// `None`: stay silent (it is counted for the next warning).
    pub(crate) warn: Option<u64>,
}

impl Default for AcceptErrors {
    fn default() -> Self {
        Self { next_wait: FIRST_WAIT, last_warning: None, suppressed: 0 }
    }
}

impl AcceptErrors {
    /// A connection was accepted: the next failure waits [`FIRST_WAIT`] again.
    pub(crate) fn succeeded(&mut self) {
        self.next_wait = FIRST_WAIT;
    }

    /// Records a failed `accept()` at `now`.
    ///
    /// - An error of that one connection (aborted or reset before it was accepted) is retried at
    ///   once: the next accept takes another connection.
    /// - Any other (EMFILE, ENFILE, ENOBUFS, ENOMEM…) waits 10 ms, then twice as long after each
    ///   failure in a row, up to 1 s.
    pub(crate) fn failed(&mut self, error: &io::Error, now: Instant) -> AfterFailure {
        let wait = if is_connection_error(error) {
            Duration::ZERO
        } else {
            let wait = self.next_wait;
            self.next_wait = (wait * 2).min(MAX_WAIT);
            wait
        };
        let due = self.last_warning.is_none_or(|last| now.duration_since(last) >= WARN_EVERY);
        let warn = if due {
            self.last_warning = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        };
        AfterFailure { wait, warn }
    }
}

/// Whether `error` concerns one incoming connection only, not the listener or the process.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> io::Error {
        io::Error::other("Too many open files (os error 24)")
    }

    #[test]
    fn the_wait_doubles_from_10ms_up_to_1s_and_resets_after_a_success() {
        let mut errors = AcceptErrors::default();
        let now = Instant::now();
        let waits: Vec<u128> = (0..10).map(|_| errors.failed(&emfile(), now).wait.as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        errors.succeeded();
        assert_eq!(errors.failed(&emfile(), now).wait, FIRST_WAIT);
    }

    #[test]
    fn an_aborted_connection_is_retried_at_once_without_growing_the_wait() {
        let mut errors = AcceptErrors::default();
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(errors.failed(&aborted, Instant::now()).wait, Duration::ZERO);
        assert_eq!(errors.failed(&emfile(), Instant::now()).wait, FIRST_WAIT);
    }

    #[test]
    fn at_most_one_warning_per_second_counts_the_silent_failures() {
        let mut errors = AcceptErrors::default();
        let start = Instant::now();
        assert_eq!(errors.failed(&emfile(), start).warn, Some(0));
        for ms in [1, 200, 999] {
            assert_eq!(errors.failed(&emfile(), start + Duration::from_millis(ms)).warn, None);
        }
        assert_eq!(errors.failed(&emfile(), start + Duration::from_millis(1000)).warn, Some(3));
        assert_eq!(errors.failed(&emfile(), start + Duration::from_millis(1500)).warn, None);
        assert_eq!(errors.failed(&emfile(), start + Duration::from_millis(2100)).warn, Some(1));
    }
}
