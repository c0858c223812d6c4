//! The receiving side of the stream: the expected sequence number and a
//! bounded buffer of messages that arrived ahead of it (protocol.md §4).
//! Pure state; the I/O task acks and delivers.

use std::collections::VecDeque;

use crate::protocol::Message;

/// What became of an arriving stream message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Already delivered or already buffered: ack again, deliver nothing.
    Duplicate,
    /// Kept for in-order delivery: ack it.
    Accepted,
    /// The buffer is full: do not ack, so the peer resends it later.
    Dropped,
}

/// Slot `i` holds sequence number `expected + i` once it has arrived, so
/// in-order arrival (the usual case) is a push and a pop at the ends.
#[derive(Debug)]
pub(crate) struct Reorder {
    expected: i64,
    slots: VecDeque<Option<Message>>,
    /// Messages held (slots that are `Some`).
    held: usize,
    bound: usize,
}

impl Reorder {
    /// An empty buffer expecting sequence 0 and holding at most `bound`
    /// messages ahead of the expected one (plus the expected one itself),
    /// none more than `bound` ahead of it.
    pub(crate) fn new(bound: usize) -> Self {
        Self {
            expected: 0,
            slots: VecDeque::new(),
            held: 0,
            bound,
        }
    }

    /// Offers an arriving stream message. The expected message is always
    /// accepted, so a full buffer can never block progress. One further ahead
    /// than the bound is dropped like one that finds the buffer full: a
    /// sender's window keeps its messages closer than that.
    pub(crate) fn offer(&mut self, message: Message) -> Arrival {
        let seq = message.sequence_number;
        if seq < self.expected {
            return Arrival::Duplicate;
        }
        let index = usize::try_from(seq.abs_diff(self.expected)).unwrap_or(usize::MAX);
        if self.slots.get(index).is_some_and(Option::is_some) {
            return Arrival::Duplicate;
        }
        if index != 0 && (!self.has_room() || index > self.bound) {
            return Arrival::Dropped;
        }
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, || None);
        }
        self.slots[index] = Some(message);
        self.held += 1;
        Arrival::Accepted
    }

    /// Whether any message could be taken now (the expected one always can).
    pub(crate) fn has_room(&self) -> bool {
        self.ahead() < self.bound
    }

    /// How many more messages ahead of the expected one fit.
    pub(crate) fn room(&self) -> usize {
        self.bound.saturating_sub(self.ahead())
    }

    /// Messages held other than the expected one.
    fn ahead(&self) -> usize {
        self.held - usize::from(self.peek_expected().is_some())
    }

    /// The expected message, when it has arrived.
    pub(crate) fn peek_expected(&self) -> Option<&Message> {
        self.slots.front().and_then(Option::as_ref)
    }

    /// Takes the expected message and advances past it.
    pub(crate) fn pop_expected(&mut self) -> Option<Message> {
        self.peek_expected()?;
        let message = self.slots.pop_front().flatten()?;
        self.held -= 1;
        self.expected += 1;
        Some(message)
    }

    /// Messages held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.held
    }
}
