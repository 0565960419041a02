//! Records and enums crossing the boundary, and their conversion to the core's types. Durations are
//! milliseconds (`ULong`), instants `java.time.Instant` / `Date`, ids strings (UUIDs).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use pgmq_core::{AttributeValue as CoreValue, Attributes};

use crate::error::PgmqError;

/// How to connect.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ClientOptions {
    /// A separate DSN for the one LISTEN connection (e.g. direct, while work goes through PgBouncer).
    #[uniffi(default = None)]
    pub listen_dsn: Option<String>,
    /// Most pooled connections for statements.
    #[uniffi(default = 10)]
    pub pool_size: u32,
    /// How long to wait for a connection, ms.
    #[uniffi(default = 10000)]
    pub connect_timeout_ms: u64,
}

/// The settings of a dead-letter queue created with its queue.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DeadLetterQueueOptions {
    /// Lease length in the DLQ, ms (>= 1000).
    #[uniffi(default = 10000)]
    pub ack_deadline_ms: u64,
    /// Deliveries before a DLQ message is dropped (>= 1).
    #[uniffi(default = 10)]
    pub max_delivery_attempts: u32,
    /// How long an unconsumed DLQ message is kept, ms (default 7 days).
    #[uniffi(default = 604800000)]
    pub retention_period_ms: u64,
}

/// A new queue's settings.
#[derive(Debug, Clone, uniffi::Record)]
pub struct QueueOptions {
    /// How long a delivered message stays leased without a heartbeat, ms (>= 1000).
    #[uniffi(default = 10000)]
    pub ack_deadline_ms: u64,
    /// Deliveries before a message moves to the dead-letter queue (>= 1).
    #[uniffi(default = 10)]
    pub max_delivery_attempts: u32,
    /// How long an unconsumed message is kept, ms (default 7 days).
    #[uniffi(default = 604800000)]
    pub retention_period_ms: u64,
    /// The DLQ `dlq@<name>`: its settings (`null`: defaults), unless `createDeadLetterQueue` is false.
    #[uniffi(default = None)]
    pub dead_letter_queue: Option<DeadLetterQueueOptions>,
    /// Whether to create the DLQ; without one, exhausted messages are dropped.
    #[uniffi(default = true)]
    pub create_dead_letter_queue: bool,
}

/// A scalar attribute value.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum AttributeValue {
    /// JSON null.
    Null,
    /// A boolean.
    Bool {
        /// The value.
        value: bool,
    },
    /// An integer.
    Int {
        /// The value.
        value: i64,
    },
    /// A finite float.
    Float {
        /// The value.
        value: f64,
    },
    /// A string.
    Text {
        /// The value.
        value: String,
    },
}

impl From<AttributeValue> for CoreValue {
    fn from(v: AttributeValue) -> Self {
        match v {
            AttributeValue::Null => CoreValue::Null,
            AttributeValue::Bool { value } => CoreValue::Bool(value),
            AttributeValue::Int { value } => CoreValue::Int(value),
            AttributeValue::Float { value } => CoreValue::Float(value),
            AttributeValue::Text { value } => CoreValue::String(value),
        }
    }
}

impl From<&CoreValue> for AttributeValue {
    fn from(v: &CoreValue) -> Self {
        match v {
            CoreValue::Null => AttributeValue::Null,
            CoreValue::Bool(value) => AttributeValue::Bool { value: *value },
            CoreValue::Int(value) => AttributeValue::Int { value: *value },
            CoreValue::Float(value) => AttributeValue::Float { value: *value },
            CoreValue::String(value) => AttributeValue::Text { value: value.clone() },
        }
    }
}

pub(crate) fn to_core_attributes(attrs: HashMap<String, AttributeValue>) -> Attributes {
    attrs.into_iter().map(|(k, v)| (k, v.into())).collect()
}

pub(crate) fn from_core_attributes(attrs: &Attributes) -> HashMap<String, AttributeValue> {
    attrs.iter().map(|(k, v)| (k.clone(), v.into())).collect()
}

/// One message of a batch: a body and its attributes.
#[derive(Debug, Clone, uniffi::Record)]
pub struct OutgoingMessage {
    /// The payload.
    pub body: Vec<u8>,
    /// Attributes receivers can filter on.
    #[uniffi(default)]
    pub attributes: HashMap<String, AttributeValue>,
}

/// When sent messages become available, their attributes (single sends), and whether their outcome is
/// tracked.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SendOptions {
    /// Deliver no earlier than this many ms after the send.
    #[uniffi(default = None)]
    pub delay_ms: Option<u64>,
    /// Deliver no earlier than this instant. Not together with `delayMs`.
    #[uniffi(default = None)]
    pub schedule_at: Option<SystemTime>,
    /// Attributes of a single `send` (ignored by `sendBatch`, whose messages carry their own).
    #[uniffi(default)]
    pub attributes: HashMap<String, AttributeValue>,
    /// Record the outcome so it can be awaited.
    #[uniffi(default = true)]
    pub track: bool,
}

impl SendOptions {
    pub(crate) fn to_core(&self) -> pgmq_core::SendOptions {
        let mut o = pgmq_core::SendOptions::default().track(self.track);
        if let Some(ms) = self.delay_ms {
            o = o.delay(Duration::from_millis(ms));
        }
        if let Some(at) = self.schedule_at {
            o = o.schedule_at(at);
        }
        o
    }
}

/// A condition on message attributes, built with the constructors of this enum.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum Filter {
    /// `key == value` (same type).
    Eq {
        /// Attribute key.
        key: String,
        /// Compared value.
        value: AttributeValue,
    },
    /// Present and `key != value`.
    Ne {
        /// Attribute key.
        key: String,
        /// Compared value.
        value: AttributeValue,
    },
    /// `key < value` (numbers numerically, strings textually).
    Lt {
        /// Attribute key.
        key: String,
        /// Compared value.
        value: AttributeValue,
    },
    /// `key > value`.
    Gt {
        /// Attribute key.
        key: String,
        /// Compared value.
        value: AttributeValue,
    },
    /// `key <= value`.
    Le {
        /// Attribute key.
        key: String,
        /// Compared value.
        value: AttributeValue,
    },
    /// `key >= value`.
    Ge {
        /// Attribute key.
        key: String,
        /// Compared value.
        value: AttributeValue,
    },
    /// Present and null.
    IsNull {
        /// Attribute key.
        key: String,
    },
    /// Present and not null.
    IsNotNull {
        /// Attribute key.
        key: String,
    },
    /// A string matching a SQL LIKE pattern.
    IsLike {
        /// Attribute key.
        key: String,
        /// The pattern (`%`, `_`).
        pattern: String,
    },
    /// A string not matching a SQL LIKE pattern.
    IsNotLike {
        /// Attribute key.
        key: String,
        /// The pattern.
        pattern: String,
    },
    /// Present.
    Exists {
        /// Attribute key.
        key: String,
    },
    /// Absent.
    DoesNotExist {
        /// Attribute key.
        key: String,
    },
    /// Both hold.
    And {
        /// One condition.
        left: Box<Filter>,
        /// The other.
        right: Box<Filter>,
    },
    /// Either holds.
    Or {
        /// One condition.
        left: Box<Filter>,
        /// The other.
        right: Box<Filter>,
    },
}

impl From<Filter> for pgmq_core::Filter {
    fn from(f: Filter) -> Self {
        use pgmq_core::Attribute as A;
        match f {
            Filter::Eq { key, value } => A::new(key).eq(CoreValue::from(value)),
            Filter::Ne { key, value } => A::new(key).ne(CoreValue::from(value)),
            Filter::Lt { key, value } => A::new(key).lt(CoreValue::from(value)),
            Filter::Gt { key, value } => A::new(key).gt(CoreValue::from(value)),
            Filter::Le { key, value } => A::new(key).le(CoreValue::from(value)),
            Filter::Ge { key, value } => A::new(key).ge(CoreValue::from(value)),
            Filter::IsNull { key } => A::new(key).is_null(),
            Filter::IsNotNull { key } => A::new(key).is_not_null(),
            Filter::IsLike { key, pattern } => A::new(key).is_like(pattern),
            Filter::IsNotLike { key, pattern } => A::new(key).is_not_like(pattern),
            Filter::Exists { key } => A::new(key).exists(),
            Filter::DoesNotExist { key } => A::new(key).does_not_exist(),
            Filter::And { left, right } => pgmq_core::Filter::from(*left).and((*right).into()),
            Filter::Or { left, right } => pgmq_core::Filter::from(*left).or((*right).into()),
        }
    }
}

/// How a receiver leases messages.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ReceiveOptions {
    /// Most messages held at once, leased in one statement (>= 1).
    #[uniffi(default = 1)]
    pub batch_size: u32,
    /// Only messages whose attributes match.
    #[uniffi(default = None)]
    pub filter: Option<Filter>,
    /// Safety-net re-read while idle, ms (NOTIFY does the real waking).
    #[uniffi(default = 30000)]
    pub poll_interval_ms: u64,
}

impl ReceiveOptions {
    pub(crate) fn to_core(&self) -> Result<pgmq_core::ReceiveOptions, PgmqError> {
        let mut o = pgmq_core::ReceiveOptions::default()
            .batch_size(pgmq_core::ReceiveOptions::checked_batch_size(self.batch_size.into())?)
            .poll_interval(Duration::from_millis(self.poll_interval_ms));
        if let Some(f) = &self.filter {
            o = o.filter(f.clone().into());
        }
        Ok(o)
    }
}

/// How a nack returns a message.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NackOptions {
    /// Redeliver after this many ms (`null`: the queue's backoff, or at once).
    #[uniffi(default = None)]
    pub delay_ms: Option<u64>,
    /// Why it failed: kept as the message's last error and carried into the DLQ.
    #[uniffi(default = None)]
    pub error: Option<String>,
}

/// How a message finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Outcome {
    /// A worker acked it.
    Completed,
    /// Its attempts ran out.
    DeadLettered,
    /// It was cancelled.
    Cancelled,
    /// Its retention period ran out unconsumed.
    Expired,
}

impl From<pgmq_core::Outcome> for Outcome {
    fn from(o: pgmq_core::Outcome) -> Self {
        match o {
            pgmq_core::Outcome::Completed => Outcome::Completed,
            pgmq_core::Outcome::DeadLettered => Outcome::DeadLettered,
            pgmq_core::Outcome::Cancelled => Outcome::Cancelled,
            pgmq_core::Outcome::Expired => Outcome::Expired,
        }
    }
}

/// Counts of one queue's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct QueueStats {
    /// Every message: ready, scheduled and leased.
    pub messages: u64,
    /// Available now.
    pub ready: u64,
    /// Waiting for their time.
    pub scheduled: u64,
    /// Held under a live lease.
    pub leased: u64,
    /// In the queue's DLQ.
    pub dead_lettered: u64,
}

impl From<pgmq_core::QueueStats> for QueueStats {
    fn from(s: pgmq_core::QueueStats) -> Self {
        QueueStats {
            messages: s.messages,
            ready: s.ready,
            scheduled: s.scheduled,
            leased: s.leased,
            dead_lettered: s.dead_lettered,
        }
    }
}

pub(crate) fn uuids(ids: &[String]) -> Result<Vec<pgmq_core::Uuid>, PgmqError> {
    ids.iter()
        .map(|id| pgmq_core::Uuid::parse_str(id).map_err(|_| PgmqError::invalid(format!("{id:?} is not a message id (a UUID)"))))
        .collect()
}
