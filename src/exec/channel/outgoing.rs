//! The sending side of the stream: sequence numbers, the in-order list of
//! unacknowledged `input_stream_data` frames, and when to resend the oldest
//! (protocol.md §4). Pure state; the I/O task does the sending.

use std::collections::VecDeque;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Bytes;

use super::rto::RttEstimator;

/// One unacknowledged stream message, kept as the exact bytes sent.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) seq: i64,
    pub(crate) frame: Bytes,
    /// `None` while queued behind `pause_publication`.
    pub(crate) last_sent: Option<Instant>,
    pub(crate) resends: u32,
}

/// What the resend check decided about the oldest message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Nothing is due.
    Nothing,
    /// Resend the oldest message (its bytes are returned by [`Outgoing::oldest_frame`]).
    Oldest,
    /// The oldest message has been resent the maximum number of times.
    GiveUp,
}

#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    next_seq: i64,
    unacked: VecDeque<Pending>,
    rtt: RttEstimator,
}

impl Outgoing {
    /// Takes the next sequence number.
    pub(crate) fn allocate_seq(&mut self) -> i64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Records a frame; `sent_at` is `None` when it is queued, not sent.
    pub(crate) fn push(&mut self, seq: i64, frame: Bytes, sent_at: Option<Instant>) {
        self.unacked.push_back(Pending {
            seq,
            frame,
            last_sent: sent_at,
            resends: 0,
        });
    }

    /// Number of unacknowledged (sent or queued) messages.
    pub(crate) fn in_flight(&self) -> usize {
        self.unacked.len()
    }

    /// Removes the message `seq` and folds its round trip into the
    /// estimator. Returns false when no such message is pending.
    pub(crate) fn ack(&mut self, seq: i64, now: Instant) -> bool {
        let Some(pos) = self.unacked.iter().position(|p| p.seq == seq) else {
            return false;
        };
        if let Some(p) = self.unacked.remove(pos) {
            if let Some(sent) = p.last_sent {
                self.rtt.on_sample(now.saturating_duration_since(sent));
            }
        }
        true
    }

    /// The current retransmission timeout.
    #[cfg(test)]
    pub(crate) fn rto(&self) -> std::time::Duration {
        self.rtt.rto()
    }

    /// Looks at the oldest message: due once it has waited longer than the
    /// timeout; gives up once it has been resent `max_resends` times. A due
    /// message is marked resent at `now`.
    pub(crate) fn check_resend(&mut self, now: Instant, max_resends: u32) -> Resend {
        let rto = self.rtt.rto();
        let Some(oldest) = self.unacked.front_mut() else {
            return Resend::Nothing;
        };
        let Some(sent) = oldest.last_sent else {
            return Resend::Nothing;
        };
        if now.saturating_duration_since(sent) <= rto {
            return Resend::Nothing;
        }
        if oldest.resends >= max_resends {
            return Resend::GiveUp;
        }
        oldest.resends += 1;
        oldest.last_sent = Some(now);
        Resend::Oldest
    }

    /// The bytes of the oldest message.
    pub(crate) fn oldest_frame(&self) -> Option<Bytes> {
        self.unacked.front().map(|p| p.frame.clone())
    }

    /// Every pending message, oldest first, for sending queued ones or
    /// resending all after a reconnect.
    pub(crate) fn pending_mut(&mut self) -> impl Iterator<Item = &mut Pending> {
        self.unacked.iter_mut()
    }
}
