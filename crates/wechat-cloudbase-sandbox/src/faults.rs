//! Faults on demand: a plan that makes some answers fail the way WeChat and its gateways do,
//! deterministically from a seed.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng};

/// What the sandbox does to one request instead of (or besides) answering it normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer `errcode` -1 ("system busy") without touching state.
    Busy,
    /// Answer `errcode` -1000 ("system error") without touching state.
    SystemError,
    /// Answer this HTTP status (502, 503 or 504) with a gateway's HTML page.
    Gateway(u16),
    /// Send the headers of a normal answer, then stall before the body.
    Stall,
    /// Reset the connection (TCP RST) without answering.
    Reset,
    /// Answer normally, but label the JSON `Content-Type: text/plain`.
    TextPlain,
}

/// A fault plan: for each request, independently, the chance of each fault, plus a fixed added
/// latency. Which requests get which fault depends only on `seed` and the request's number
/// (0, 1, 2… in order of arrival), so a plan replays identically.
///
/// The text form, for the command line, is a comma-separated list of `key=value`:
/// `busy=0.3,system-error=0.05,gateway=0.1,stall=0.05,reset=0.05,text-plain=0.2,latency-ms=20,stall-ms=30000,seed=7`.
/// Fractions are between 0 and 1 and are checked in that order; their sum must not exceed 1.
///
/// `#[non_exhaustive]`: build one from its text form (`"busy=0.3,seed=7".parse()`) or from
/// [`FaultPlan::default`] with the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FaultPlan {
    /// The seed of the per-request draws.
    pub seed: u64,
    /// Fraction of requests answered `errcode` -1.
    pub busy: f64,
    /// Fraction of requests answered `errcode` -1000.
    pub system_error: f64,
    /// Fraction of requests answered HTTP 502, 503 or 504 (equally likely) with an HTML page.
    pub gateway: f64,
    /// Fraction of requests whose answer stalls after the headers.
    pub stall: f64,
    /// Fraction of requests whose connection is reset.
    pub reset: f64,
    /// Fraction of requests whose JSON answer is labelled `text/plain`.
    pub text_plain: f64,
    /// Added before every answer.
    pub latency: Duration,
    /// How long a stalled answer waits before sending its body (default 30 seconds).
    pub stall_for: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            seed: 0,
            busy: 0.0,
            system_error: 0.0,
            gateway: 0.0,
            stall: 0.0,
            reset: 0.0,
            text_plain: 0.0,
            latency: Duration::ZERO,
            stall_for: Duration::from_secs(30),
        }
    }
}

impl FaultPlan {
    /// The same plan with [`FaultPlan::seed`] set.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same plan with [`FaultPlan::busy`] set.
    #[must_use]
    pub fn with_busy(mut self, busy: f64) -> Self {
        self.busy = busy;
        self
    }

    /// The same plan with [`FaultPlan::system_error`] set.
    #[must_use]
    pub fn with_system_error(mut self, system_error: f64) -> Self {
        self.system_error = system_error;
        self
    }

    /// The same plan with [`FaultPlan::gateway`] set.
    #[must_use]
    pub fn with_gateway(mut self, gateway: f64) -> Self {
        self.gateway = gateway;
        self
    }

    /// The same plan with [`FaultPlan::stall`] set.
    #[must_use]
    pub fn with_stall(mut self, stall: f64) -> Self {
        self.stall = stall;
        self
    }

    /// The same plan with [`FaultPlan::reset`] set.
    #[must_use]
    pub fn with_reset(mut self, reset: f64) -> Self {
        self.reset = reset;
        self
    }

    /// The same plan with [`FaultPlan::text_plain`] set.
    #[must_use]
    pub fn with_text_plain(mut self, text_plain: f64) -> Self {
        self.text_plain = text_plain;
        self
    }

    /// The same plan with [`FaultPlan::latency`] set.
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The same plan with [`FaultPlan::stall_for`] set.
    #[must_use]
    pub fn with_stall_for(mut self, stall_for: Duration) -> Self {
        self.stall_for = stall_for;
        self
    }

    /// A plan that answers `errcode` -1 to `fraction` of the requests.
    pub fn busy(fraction: f64, seed: u64) -> Self {
        Self { busy: fraction, seed, ..Self::default() }
    }

    /// Whether the plan does nothing.
    pub fn is_empty(&self) -> bool {
        self.fractions().iter().all(|(_, f)| *f == 0.0) && self.latency.is_zero()
    }

    fn fractions(&self) -> [(&'static str, f64); 6] {
        [
            ("busy", self.busy),
            ("system-error", self.system_error),
            ("gateway", self.gateway),
            ("stall", self.stall),
            ("reset", self.reset),
            ("text-plain", self.text_plain),
        ]
    }

    /// Checks that every fraction is within `0..=1` and that they add up to at most 1.
    ///
    /// # Errors
    /// A message naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, f) in self.fractions() {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!("`{key}` must be between 0 and 1, not {f}"));
            }
        }
        let sum: f64 = self.fractions().iter().map(|(_, f)| f).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!("the fault fractions add up to {sum}, more than 1"));
        }
        Ok(())
    }

    /// The fault for request number `n` (0 for the first request), if any.
    pub fn fault_for(&self, n: u64) -> Option<Fault> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let draw: f64 = rng.random();
        let status = [502, 503, 504][rng.random_range(0..3)];
        let mut edge = 0.0;
        let faults = [
            (self.busy, Fault::Busy),
            (self.system_error, Fault::SystemError),
            (self.gateway, Fault::Gateway(status)),
            (self.stall, Fault::Stall),
            (self.reset, Fault::Reset),
            (self.text_plain, Fault::TextPlain),
        ];
        for (fraction, fault) in faults {
            edge += fraction;
            if draw < edge {
                return Some(fault);
            }
        }
        None
    }
}

impl FromStr for FaultPlan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut plan = FaultPlan::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item.split_once('=').ok_or_else(|| format!("`{item}` is not `key=value`"))?;
            let fraction =
                || value.parse::<f64>().map_err(|_| format!("`{key}` needs a number, not `{value}`"));
            let millis = || {
                value
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| format!("`{key}` needs whole milliseconds, not `{value}`"))
            };
            match key {
                "busy" => plan.busy = fraction()?,
                "system-error" => plan.system_error = fraction()?,
                "gateway" => plan.gateway = fraction()?,
                "stall" => plan.stall = fraction()?,
                "reset" => plan.reset = fraction()?,
                "text-plain" => plan.text_plain = fraction()?,
                "latency-ms" => plan.latency = millis()?,
                "stall-ms" => plan.stall_for = millis()?,
                "seed" => {
                    plan.seed =
                        value.parse().map_err(|_| format!("`seed` needs an integer, not `{value}`"))?
                }
                _ => {
                    return Err(format!(
                        "unknown fault `{key}`; use busy, system-error, gateway, stall, reset, text-plain, latency-ms, stall-ms or seed"
                    ));
                }
            }
        }
        plan.validate()?;
        Ok(plan)
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> =
            self.fractions().iter().filter(|(_, v)| *v > 0.0).map(|(k, v)| format!("{k}={v}")).collect();
        if !self.latency.is_zero() {
            parts.push(format!("latency-ms={}", self.latency.as_millis()));
        }
        if self.stall > 0.0 {
            parts.push(format!("stall-ms={}", self.stall_for.as_millis()));
        }
        parts.push(format!("seed={}", self.seed));
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_replays_the_same_faults() {
        let plan: FaultPlan = "busy=0.3,gateway=0.2,reset=0.1,seed=42".parse().unwrap();
        let first: Vec<_> = (0..1000).map(|n| plan.fault_for(n)).collect();
        let again: Vec<_> = (0..1000).map(|n| plan.fault_for(n)).collect();
        assert_eq!(first, again);
        let other = FaultPlan { seed: 43, ..plan.clone() };
        assert_ne!(first, (0..1000).map(|n| other.fault_for(n)).collect::<Vec<_>>());
    }

    #[test]
    fn fractions_are_honoured_roughly() {
        let plan = FaultPlan::busy(0.3, 7);
        let busy = (0..10_000).filter(|n| plan.fault_for(*n) == Some(Fault::Busy)).count();
        assert!((2_700..3_300).contains(&busy), "{busy}");
        assert!((0..1000).all(|n| FaultPlan::default().fault_for(n).is_none()));
        let all = FaultPlan { reset: 1.0, ..FaultPlan::default() };
        assert!((0..100).all(|n| all.fault_for(n) == Some(Fault::Reset)));
    }

    #[test]
    fn the_text_form_round_trips_and_rejects_nonsense() {
        let plan: FaultPlan =
            "busy=0.25, text-plain=0.5, latency-ms=20, stall=0.1, stall-ms=100, seed=9".parse().unwrap();
        assert_eq!(plan.to_string().parse::<FaultPlan>().unwrap(), plan);
        for bad in ["busy", "busy=2", "busy=0.6,reset=0.6", "nope=1", "latency-ms=-1", "seed=x", "busy=abc"] {
            assert!(bad.parse::<FaultPlan>().is_err(), "{bad}");
        }
    }
}
