//! `queue.peek()`'s options and results: reading a queue's (or a DLQ's) messages without leasing them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::PgmqError;
use crate::types::{from_core_attributes, AttributeValue, Filter};

/// Where a message stands, as read from its row at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum MessageState {
    /// Available for delivery now: the next claim may lease it.
    Ready,
    /// Waiting for its scheduled time or a nack delay (`availableAt` is when it becomes ready).
    Scheduled,
    /// Held by a worker under a live lease (`availableAt` is when the lease expires).
    Leased,
    /// Its lease ran out on the last delivery attempt, or while it was being cancelled: housekeeping
    /// moves it to the dead-letter queue (or drops it, when cancelled) within a maintenance interval. It
    /// is never delivered again.
    Lapsed,
    /// Waiting for messages it depends on to complete (`SendOptions.dependsOn`): not claimable until the
    /// last one has (`availableAt` reads 9999-12-31T23:59:59Z).
    Waiting,
}

impl From<MessageState> for pgmq_core::MessageState {
    fn from(s: MessageState) -> Self {
        match s {
            MessageState::Ready => pgmq_core::MessageState::Ready,
            MessageState::Scheduled => pgmq_core::MessageState::Scheduled,
            MessageState::Leased => pgmq_core::MessageState::Leased,
            MessageState::Lapsed => pgmq_core::MessageState::Lapsed,
            MessageState::Waiting => pgmq_core::MessageState::Waiting,
        }
    }
}

impl From<pgmq_core::MessageState> for MessageState {
    fn from(s: pgmq_core::MessageState) -> Self {
        match s {
            pgmq_core::MessageState::Ready => MessageState::Ready,
            pgmq_core::MessageState::Scheduled => MessageState::Scheduled,
            pgmq_core::MessageState::Leased => MessageState::Leased,
            pgmq_core::MessageState::Lapsed => MessageState::Lapsed,
            pgmq_core::MessageState::Waiting => MessageState::Waiting,
        }
    }
}

/// What `queue.peek()` reads.
#[derive(Clone, uniffi::Record)]
pub struct PeekOptions {
    /// Most messages returned: 1 to `DEFAULTS.peek.maxLimit` (10,000), else `InvalidOption`.
    #[uniffi(default = 100)]
    pub limit: u32,
    /// Only messages whose attributes match (the receivers' filters).
    #[uniffi(default = None)]
    pub filter: Option<Arc<Filter>>,
    /// Only messages in this state (`null`: every state).
    #[uniffi(default = None)]
    pub state: Option<MessageState>,
}

impl PeekOptions {
    pub(crate) fn to_core(&self) -> Result<pgmq_core::PeekOptions, PgmqError> {
        let mut o = pgmq_core::PeekOptions::default().limit(pgmq_core::PeekOptions::checked_limit(self.limit.into())?);
        if let Some(f) = &self.filter {
            o = o.filter(f.to_core());
        }
        if let Some(s) = self.state {
            o = o.state(s.into());
        }
        Ok(o)
    }
}

/// A message as `queue.peek()` read it: a copy of its row, holding no lease; nothing can be done to the
/// message through it, and it may have changed since.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PeekedMessage {
    /// The message id (a time-ordered UUID).
    pub id: String,
    /// The queue it was read from.
    pub queue: String,
    /// The payload.
    pub body: Vec<u8>,
    /// The attributes it was sent with (empty when none).
    pub attributes: HashMap<String, AttributeValue>,
    /// Where it stood when read.
    pub state: MessageState,
    /// Deliveries so far (leases taken, a current one included).
    pub delivery_attempts: u32,
    /// When it was sent.
    pub sent_at: SystemTime,
    /// When it became or becomes ready; for a leased message, when its lease expires; for a waiting one,
    /// 9999-12-31T23:59:59Z (it has no time yet).
    pub available_at: SystemTime,
    /// The error given to the last failed attempt (in a DLQ: the one that dead-lettered it).
    pub last_error: Option<String>,
    /// In a DLQ: the attempts it used in its original queue.
    pub dead_letter_attempts: Option<u32>,
}

impl From<pgmq_core::PeekedMessage> for PeekedMessage {
    fn from(m: pgmq_core::PeekedMessage) -> Self {
        PeekedMessage {
            id: m.id.to_string(),
            attributes: from_core_attributes(&m.attributes),
            queue: m.queue,
            body: m.body,
            state: m.state.into(),
            delivery_attempts: m.delivery_attempts,
            sent_at: m.sent_at,
            available_at: m.available_at,
            last_error: m.last_error,
            dead_letter_attempts: m.dead_letter_attempts,
        }
    }
}
