//! The receiving side of the stream: the expected sequence number and a
//! bounded buffer of messages that arrived ahead of it (protocol.md §4).
//! Pure state; the I/O task acks and delivers.

use std::collections::BTreeMap;

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

#[derive(Debug)]
pub(crate) struct Reorder {
    expected: i64,
    buffer: BTreeMap<i64, Message>,
    bound: usize,
}

impl Reorder {
    /// An empty buffer expecting sequence 0 and holding at most `bound`
    /// messages ahead of the expected one (plus the expected one itself).
    pub(crate) fn new(bound: usize) -> Self {
        Self {
            expected: 0,
            buffer: BTreeMap::new(),
            bound,
        }
    }

    /// Offers an arriving stream message. The expected message is always
    /// accepted, so a full buffer can never block progress.
    pub(crate) fn offer(&mut self, message: Message) -> Arrival {
        let seq = message.sequence_number;
        if seq < self.expected || self.buffer.contains_key(&seq) {
            return Arrival::Duplicate;
        }
        if seq != self.expected && !self.has_room() {
            return Arrival::Dropped;
        }
        self.buffer.insert(seq, message);
        Arrival::Accepted
    }

    /// Whether any message could be taken now (the expected one always can).
    pub(crate) fn has_room(&self) -> bool {
        self.ahead() < self.bound
    }

    /// Messages held other than the expected one.
    fn ahead(&self) -> usize {
        self.buffer.len() - usize::from(self.buffer.contains_key(&self.expected))
    }

    /// The expected message, when it has arrived.
    pub(crate) fn peek_expected(&self) -> Option<&Message> {
        self.buffer.get(&self.expected)
    }

    /// Takes the expected message and advances past it.
    pub(crate) fn pop_expected(&mut self) -> Option<Message> {
        let message = self.buffer.remove(&self.expected)?;
        self.expected += 1;
        Some(message)
    }

    /// Messages held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buffer.len()
    }
}
