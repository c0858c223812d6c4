//! The retransmission-timeout estimator of the official client
//! (protocol.md §4): a TCP-style smoothed round-trip time and variation,
//! updated on every acknowledgement.

use std::time::Duration;

/// Round trip assumed before the first acknowledgement.
const INITIAL_SRTT: Duration = Duration::from_millis(100);
/// Timeout before the first acknowledgement.
const INITIAL_RTO: Duration = Duration::from_millis(200);
/// Floor of the variation term.
const CLOCK_GRANULARITY: Duration = Duration::from_millis(10);
/// Ceiling of the timeout.
const MAX_RTO: Duration = Duration::from_secs(1);

/// SRTT / RTTVAR / RTO, all in seconds as `f64` like the Go client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RttEstimator {
    srtt: f64,
    rttvar: f64,
    rto: Duration,
}

impl Default for RttEstimator {
    fn default() -> Self {
        Self {
            srtt: INITIAL_SRTT.as_secs_f64(),
            rttvar: 0.0,
            rto: INITIAL_RTO,
        }
    }
}

impl RttEstimator {
    /// The current retransmission timeout.
    pub(crate) fn rto(&self) -> Duration {
        self.rto
    }

    /// The smoothed round-trip time.
    #[cfg(test)]
    pub(crate) fn srtt(&self) -> Duration {
        Duration::from_secs_f64(self.srtt)
    }

    /// The round-trip time variation.
    #[cfg(test)]
    pub(crate) fn rttvar(&self) -> Duration {
        Duration::from_secs_f64(self.rttvar)
    }

    /// Folds in one measured round trip `r`:
    /// RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT = 7/8 SRTT + 1/8 R;
    /// RTO = min(SRTT + max(10 ms, 4 RTTVAR), 1 s).
    pub(crate) fn on_sample(&mut self, r: Duration) {
        let r = r.as_secs_f64();
        self.rttvar = 0.75 * self.rttvar + 0.25 * (self.srtt - r).abs();
        self.srtt = 0.875 * self.srtt + 0.125 * r;
        let rto = self.srtt + (4.0 * self.rttvar).max(CLOCK_GRANULARITY.as_secs_f64());
        self.rto = Duration::from_secs_f64(rto.clamp(0.0, MAX_RTO.as_secs_f64()));
    }
}
