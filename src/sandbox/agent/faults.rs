//! The fault knobs of one data channel (`exec:` in the world file) and the
//! seeded generator that decides which messages they hit, so that a run with
//! the same seed and the same traffic meets the same faults.

use std::time::Duration;

use crate::sandbox::world::{fnv64, splitmix64, ExecKnobs};

/// Seed used when the world sets none.
pub(crate) const DEFAULT_SEED: u64 = 0x5eed_ec5c;

/// A splitmix64 stream.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// The stream of one session: the world's seed and the session's ordinal.
    pub(crate) fn for_session(seed: u64, ordinal: u64) -> Rng {
        Rng(seed ^ fnv64(&format!("session/{ordinal}")))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }

    /// True for a `rate` fraction of draws; draws nothing at rate 0.
    pub(crate) fn chance(&mut self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let fraction = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        fraction < rate
    }
}

/// The faults one session suffers, and what has happened of them.
#[derive(Clone, Debug)]
pub(crate) struct Faults {
    pub knobs: ExecKnobs,
    pub rng: Rng,
    /// The pause has been sent (it happens once).
    pub paused_once: bool,
    /// The socket has been dropped (it happens once).
    pub dropped_once: bool,
}

impl Faults {
    pub(crate) fn new(knobs: ExecKnobs, rng: Rng) -> Faults {
        Faults {
            knobs,
            rng,
            paused_once: false,
            dropped_once: false,
        }
    }

    /// Withhold this input acknowledgement?
    pub(crate) fn drop_ack(&mut self) -> bool {
        self.rng.chance(self.knobs.ack_drop_rate)
    }

    /// How long to hold an input acknowledgement back.
    pub(crate) fn ack_delay(&self) -> Duration {
        self.knobs.ack_delay
    }

    /// Send this output message twice?
    pub(crate) fn duplicate(&mut self) -> bool {
        self.rng.chance(self.knobs.output_duplicate_rate)
    }

    /// Send this output message after its successor?
    pub(crate) fn reorder(&mut self) -> bool {
        self.rng.chance(self.knobs.output_reorder_rate)
    }

    /// Time to pause, now that `messages` output messages went out?
    pub(crate) fn pause_due(&mut self, messages: u64) -> Option<Duration> {
        match self.knobs.pause_after_messages {
            Some(n) if !self.paused_once && messages >= n => {
                self.paused_once = true;
                Some(self.knobs.pause_for)
            }
            _ => None,
        }
    }

    /// Time to drop the socket, now that `bytes` output bytes went out?
    pub(crate) fn drop_due(&mut self, bytes: u64) -> bool {
        match self.knobs.drop_socket_after_bytes {
            Some(n) if !self.dropped_once && bytes >= n => {
                self.dropped_once = true;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let mut a = Rng::for_session(7, 1);
        let mut b = Rng::for_session(7, 1);
        let draws_a: Vec<bool> = (0..64).map(|_| a.chance(0.3)).collect();
        let draws_b: Vec<bool> = (0..64).map(|_| b.chance(0.3)).collect();
        assert_eq!(draws_a, draws_b);
        let hits = draws_a.iter().filter(|&&x| x).count();
        assert!((5..40).contains(&hits), "{hits} hits of 64 at 0.3");
        let mut c = Rng::for_session(8, 1);
        let draws_c: Vec<bool> = (0..64).map(|_| c.chance(0.3)).collect();
        assert_ne!(draws_a, draws_c);
    }

    #[test]
    fn pause_and_drop_happen_once() {
        let knobs = ExecKnobs {
            pause_after_messages: Some(3),
            drop_socket_after_bytes: Some(100),
            ..ExecKnobs::default()
        };
        let mut f = Faults::new(knobs, Rng::for_session(1, 1));
        assert_eq!(f.pause_due(2), None);
        assert_eq!(f.pause_due(3), Some(Duration::from_millis(500)));
        assert_eq!(f.pause_due(4), None);
        assert!(!f.drop_due(99));
        assert!(f.drop_due(150));
        assert!(!f.drop_due(200));
    }
}
