//! Records, enums and the `Filter` object crossing the boundary, and their conversion to the core's
//! types. Durations are milliseconds (`ULong`), instants `java.time.Instant` / `Date`, ids strings (UUIDs).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pgmq_core::{Attribute, AttributeValue as CoreValue, Attributes};

use crate::error::PgmqError;
use crate::on_error::{report_to, ReceiveErrorHandler};

/// How to connect. Printing it (Kotlin `toString()`, Swift `description` / `debugDescription`) masks the
/// password of `listenDsn`: `ClientOptions(listenDsn=postgres://app:***@db/orders, ...)`.
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Display, Debug)]
pub struct ClientOptions {
    /// A separate DSN for the one LISTEN connection (e.g. direct, while work goes through PgBouncer).
    #[uniffi(default = None)]
    pub listen_dsn: Option<String>,
    /// Most pooled connections for statements.
    #[uniffi(default = 10)]
    pub pool_size: u32,
    /// How long to wait for one host to accept a connection before trying the DSN's next host or failing
    /// with `Connection`, ms; unless the DSN or `PGCONNECT_TIMEOUT` sets `connect_timeout`.
    #[uniffi(default = 10000)]
    pub connect_timeout_ms: u64,
    /// The `application_name` operators see in `pg_stat_activity`, unless the DSN or `PGAPPNAME` sets
    /// one. `null`: `pgmq-kotlin`, except on Apple platforms, where the caller is Swift: `pgmq-swift`.
    #[uniffi(default = None)]
    pub application_name: Option<String>,
    /// The longest a statement, or a wait for a free pool connection, may take, ms (> 0, else
    /// `InvalidOption`): a statement past it fails with `Connection` (its connection is closed, not
    /// reused), a wait with `Timeout`. Migrations are not bounded by it.
    #[uniffi(default = 60000)]
    pub statement_timeout_ms: u64,
    /// `true`: statements are prepared once per connection and cached; `false`: sent unnamed with their
    /// parameter types, as a transaction-pooling PgBouncer before 1.21 needs. `null`: cached, unless
    /// `listenDsn` is set.
    #[uniffi(default = None)]
    pub statement_cache: Option<bool>,
    /// How long `connect` keeps trying a server that cannot be reached yet (one starting beside this
    /// service), with a capped, jittered backoff, ms; 0: fail at once. A refused login is never retried.
    #[uniffi(default = 0)]
    pub connect_retry_ms: u64,
    /// The schema pgmq's tables and functions live in; `null`: `pgmq`. Another name (a lower-case
    /// identifier) lets pgmq share a database with Tembo's pgmq extension, which uses `pgmq`. Every
    /// client of one installation must use the same.
    #[uniffi(default = None)]
    pub schema: Option<String>,
    /// How often this client offers to run housekeeping (retention expiry, lapsed last attempts,
    /// outcome pruning), ms (> 0, else `InvalidOption`); one client at a time does it, elected by an
    /// advisory lock.
    #[uniffi(default = 1000)]
    pub maintenance_interval_ms: u64,
}

/// The core's connect defaults (`DEFAULTS.client`) as `ClientOptions` (`applicationName` null: this
/// library's own name). `ClientOptions()` has the same values: uniffi takes only literals as field
/// defaults, so the tests hold those literals to this.
#[uniffi::export]
pub fn default_client_options() -> ClientOptions {
    let d = pgmq_core::DEFAULTS.client;
    ClientOptions {
        listen_dsn: None,
        pool_size: u32::try_from(d.pool_size).unwrap_or(u32::MAX),
        connect_timeout_ms: ms(d.connect_timeout),
        application_name: None,
        statement_timeout_ms: ms(d.statement_timeout),
        statement_cache: None,
        connect_retry_ms: ms(d.connect_retry),
        schema: None,
        maintenance_interval_ms: ms(d.maintenance_interval),
    }
}

/// The `application_name` of a client whose options, DSN and environment name none: the core's prefix
/// and the language this library serves on the platform (the library cannot ask; on Apple platforms only
/// Swift loads it, elsewhere it is Kotlin, or Swift on Linux, which names itself with `applicationName`).
pub(crate) fn default_application_name() -> String {
    let language = if cfg!(target_vendor = "apple") { "swift" } else { "kotlin" };
    format!("{}{language}", pgmq_core::DEFAULTS.client.application_name_prefix)
}

// Printed by the generated Kotlin `toString()` and Swift `description`, which would otherwise show the
// DSN as given, password included, in every log line that prints the options.
impl fmt::Display for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listen = self.listen_dsn.as_deref().map(pgmq_core::redact_dsn);
        write!(
            f,
            "ClientOptions(listenDsn={}, poolSize={}, connectTimeoutMs={}, applicationName={}, \
             statementTimeoutMs={}, statementCache={}, connectRetryMs={}, schema={}, maintenanceIntervalMs={})",
            listen.as_deref().unwrap_or("null"),
            self.pool_size,
            self.connect_timeout_ms,
            self.application_name.as_deref().unwrap_or("null"),
            self.statement_timeout_ms,
            self.statement_cache.map_or("null", |cache| if cache { "true" } else { "false" }),
            self.connect_retry_ms,
            self.schema.as_deref().unwrap_or("null"),
            self.maintenance_interval_ms,
        )
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
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
    /// The delay of a nack that gives none (`null`: redelivered at once). `Backoff()` has the core's
    /// policy: 1 s doubling up to 10 min, jittered.
    #[uniffi(default = None)]
    pub backoff: Option<Backoff>,
    /// The most messages the queue holds, ready, scheduled and leased together (1 to
    /// `DEFAULTS.limits.maxMessages`, else `InvalidOption`; `null`: unbounded). A send that would exceed
    /// it waits for room or fails with `QueueFull` (`SendOptions.waitForRoomMs`); a batch fits whole or
    /// not at all. Its dead-letter queue is never bounded. Change it later with `queue.setMaxMessages`.
    #[uniffi(default = None)]
    pub max_messages: Option<u64>,
}

/// Exponential backoff for the nacks of a queue that give no delay: `min(baseMs * factor^(attempt - 1),
/// maxMs)`, scaled by a random factor in `[0.5, 1]` with `jitter`. Out of range (`factor` < 1 or not
/// finite, `maxMs` < `baseMs`, `maxMs` over 100 years) is `InvalidOption` from `createQueue`.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Backoff {
    /// The delay after the first failed attempt, ms.
    #[uniffi(default = 1000)]
    pub base_ms: u64,
    /// Growth per attempt (>= 1).
    #[uniffi(default = 2.0)]
    pub factor: f64,
    /// The longest delay, ms.
    #[uniffi(default = 600000)]
    pub max_ms: u64,
    /// Whether each delay is scaled by a random factor in `[0.5, 1]`, so that failures do not come back
    /// in lockstep.
    #[uniffi(default = true)]
    pub jitter: bool,
}

impl From<Backoff> for pgmq_core::Backoff {
    fn from(b: Backoff) -> Self {
        pgmq_core::Backoff {
            base: Duration::from_millis(b.base_ms),
            factor: b.factor,
            max: Duration::from_millis(b.max_ms),
            jitter: b.jitter,
        }
    }
}

impl From<pgmq_core::Backoff> for Backoff {
    fn from(b: pgmq_core::Backoff) -> Self {
        Backoff { base_ms: ms(b.base), factor: b.factor, max_ms: ms(b.max), jitter: b.jitter }
    }
}

/// A queue and its settings, as `client.listQueues()` lists them.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct QueueInfo {
    /// The queue's name (a dead-letter queue's is `dlq@<name>`).
    pub name: String,
    /// Its lease length, ms.
    pub ack_deadline_ms: u64,
    /// Its deliveries before a message is dead-lettered.
    pub max_delivery_attempts: u32,
    /// How long it keeps an unconsumed message, ms.
    pub retention_period_ms: u64,
    /// The name of its dead-letter queue (`null`: none).
    pub dead_letter_queue: Option<String>,
    /// Its delay policy for nacks that give none (`null`: redelivered at once).
    pub backoff: Option<Backoff>,
    /// The most messages it holds (`QueueOptions.maxMessages`, `queue.setMaxMessages`); `null`: unbounded.
    #[uniffi(default = None)]
    pub max_messages: Option<u64>,
}

impl From<pgmq_core::QueueInfo> for QueueInfo {
    fn from(q: pgmq_core::QueueInfo) -> Self {
        QueueInfo {
            name: q.name,
            ack_deadline_ms: ms(q.ack_deadline),
            max_delivery_attempts: q.max_delivery_attempts,
            retention_period_ms: ms(q.retention_period),
            dead_letter_queue: q.dead_letter_queue,
            backoff: q.backoff.map(Into::into),
            max_messages: q.max_messages,
        }
    }
}

/// A queue, its settings and its counts, as `client.listQueuesWithStats()` lists them.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct QueueOverview {
    /// Its name and settings.
    pub info: QueueInfo,
    /// Its counts by state and its DLQ's depth, as `queue.stats()` gives them.
    pub stats: QueueStats,
    /// How long its oldest ready message has waited since it became available, ms (`null`: none is
    /// ready).
    pub oldest_ready_age_ms: Option<u64>,
}

impl From<pgmq_core::QueueOverview> for QueueOverview {
    fn from(o: pgmq_core::QueueOverview) -> Self {
        QueueOverview { info: o.info.into(), stats: o.stats.into(), oldest_ready_age_ms: o.oldest_ready_age.map(ms) }
    }
}

/// Whole milliseconds of a duration (saturating: no duration pgmq accepts comes near `u64::MAX` ms).
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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

/// One message of a batch: a body, its attributes, and the earlier entries of the same batch it depends
/// on.
#[derive(Debug, Clone, uniffi::Record)]
pub struct OutgoingMessage {
    /// The payload.
    pub body: Vec<u8>,
    /// Attributes receivers can filter on.
    #[uniffi(default)]
    pub attributes: HashMap<String, AttributeValue>,
    /// Earlier entries of the same `sendBatch` (positions from 0) this message depends on: it waits,
    /// unclaimable, until they have all completed, and is cancelled if one of them does not (see
    /// `SendOptions.dependsOn`). Only earlier entries, so no cycle can be made: naming itself, a later
    /// entry or a negative position is `InvalidOption`, and nothing is sent.
    #[uniffi(default)]
    pub after: Vec<i32>,
}

impl OutgoingMessage {
    /// The core's message, as entry `entry` of its send. A negative position gets the core's refusal of
    /// a position that is not an earlier entry, in its words.
    pub(crate) fn into_core(self, entry: usize) -> Result<pgmq_core::OutgoingMessage, PgmqError> {
        let after = self
            .after
            .iter()
            .map(|&j| {
                usize::try_from(j).map_err(|_| {
                    pgmq_core::Error::InvalidOption(format!(
                        "entry {entry} cannot depend on entry {j}: only on an earlier entry of the same send"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(pgmq_core::OutgoingMessage { body: self.body, attributes: to_core_attributes(self.attributes), after })
    }
}

/// When sent messages become available, their attributes (single sends), whether their outcome is
/// tracked, how long a send to a full bounded queue waits for room, the job group they join, and the
/// messages they depend on.
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
    /// For a bounded queue (`QueueOptions.maxMessages`) without room for the whole send: how long to
    /// wait for room, ms, woken as soon as workers finish messages, before failing with `QueueFull`
    /// (nothing written). `0`: fail at once; `null`: `DEFAULTS.send.waitForRoomMs` (30 s). Unbounded
    /// queues ignore it.
    #[uniffi(default = None)]
    pub wait_for_room_ms: Option<u64>,
    /// The job group the messages join (every message of a batch): any text of 1 to
    /// `DEFAULTS.limits.maxGroupLen` (255) bytes of UTF-8 without NUL, else `InvalidOption`. A group's
    /// messages, in this queue or any other, are cancelled, awaited and counted together
    /// (`cancelGroup`, `waitForGroup`, `groupStats` on a queue or the client). A grouped message is
    /// tracked: `track = false` with a group is `InvalidOption`, and nothing is sent.
    #[uniffi(default = None)]
    pub group: Option<String>,
    /// Ids of messages already sent, in any queue, that every message of this send depends on: each
    /// waits, unclaimable (`MessageState.WAITING` in `peek`, counted as scheduled by `stats`), until they
    /// have all completed, then becomes available (at its `delayMs` or `scheduleAt` if later). If one of
    /// them is dead-lettered, cancelled or expires instead, the message is cancelled, its `Reply.reason`
    /// `dependency <id> was <outcome>`, and so is whatever depends on it. `InvalidOption`, nothing sent:
    /// an id that is not a UUID, unknown (never sent, or finished longer ago than its queue keeps
    /// outcomes), untracked, or already finished other than completed; `track = false`; more than
    /// `DEFAULTS.limits.maxDependencies` (10,000) per message, `OutgoingMessage.after` included.
    #[uniffi(default)]
    pub depends_on: Vec<String>,
}

impl SendOptions {
    pub(crate) fn to_core(&self) -> Result<pgmq_core::SendOptions, PgmqError> {
        let mut o = pgmq_core::SendOptions::default().track(self.track).depends_on(uuids(&self.depends_on)?);
        if let Some(ms) = self.delay_ms {
            o = o.delay(Duration::from_millis(ms));
        }
        if let Some(at) = self.schedule_at {
            o = o.schedule_at(at);
        }
        if let Some(ms) = self.wait_for_room_ms {
            o = o.wait_for_room((ms > 0).then_some(Duration::from_millis(ms)));
        }
        if let Some(group) = &self.group {
            o = o.group(group.clone());
        }
        Ok(o)
    }
}

/// A condition on message attributes, made by this object's constructors (`eq`, `ne`, `lt`, `gt`, `le`,
/// `ge`, `isNull`, `isNotNull`, `isLike`, `isNotLike`, `exists`, `doesNotExist`) and combined by `and` /
/// `or`, which refuse (`InvalidOption`) to nest deeper than `MAX_FILTER_DEPTH` (100) levels. Opaque: a
/// filter crosses to Rust as a handle, never as a tree, so building or passing one never recurses, and
/// none is deeper than the core accepts. Two filters are equal when their conditions are; the text of
/// one is its Rust `Debug` form.
#[derive(PartialEq, Hash, uniffi::Object)]
#[uniffi::export(Debug, Eq, Hash)]
pub struct Filter(pgmq_core::Filter);

/// The core filter's form, e.g. `And(Exists("a"), Compare { key: "n", op: Gt, value: Int(3) })`.
impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Filter {
    fn leaf(f: pgmq_core::Filter) -> Arc<Self> {
        Arc::new(Filter(f))
    }

    /// The core's filter (a copy: the handle may be shared and used again).
    pub(crate) fn to_core(&self) -> pgmq_core::Filter {
        self.0.clone()
    }
}

#[uniffi::export]
impl Filter {
    /// `key == value` (same type).
    #[uniffi::constructor]
    pub fn eq(key: String, value: AttributeValue) -> Arc<Self> {
        Self::leaf(Attribute::new(key).eq(CoreValue::from(value)))
    }

    /// Present and `key != value`.
    #[uniffi::constructor]
    pub fn ne(key: String, value: AttributeValue) -> Arc<Self> {
        Self::leaf(Attribute::new(key).ne(CoreValue::from(value)))
    }

    /// `key < value` (numbers numerically, strings textually).
    #[uniffi::constructor]
    pub fn lt(key: String, value: AttributeValue) -> Arc<Self> {
        Self::leaf(Attribute::new(key).lt(CoreValue::from(value)))
    }

    /// `key > value`.
    #[uniffi::constructor]
    pub fn gt(key: String, value: AttributeValue) -> Arc<Self> {
        Self::leaf(Attribute::new(key).gt(CoreValue::from(value)))
    }

    /// `key <= value`.
    #[uniffi::constructor]
    pub fn le(key: String, value: AttributeValue) -> Arc<Self> {
        Self::leaf(Attribute::new(key).le(CoreValue::from(value)))
    }

    /// `key >= value`.
    #[uniffi::constructor]
    pub fn ge(key: String, value: AttributeValue) -> Arc<Self> {
        Self::leaf(Attribute::new(key).ge(CoreValue::from(value)))
    }

    /// Present and null.
    #[uniffi::constructor]
    pub fn is_null(key: String) -> Arc<Self> {
        Self::leaf(Attribute::new(key).is_null())
    }

    /// Present and not null.
    #[uniffi::constructor]
    pub fn is_not_null(key: String) -> Arc<Self> {
        Self::leaf(Attribute::new(key).is_not_null())
    }

    /// A string matching the SQL `LIKE` pattern (`%`, `_`).
    #[uniffi::constructor]
    pub fn is_like(key: String, pattern: String) -> Arc<Self> {
        Self::leaf(Attribute::new(key).is_like(pattern))
    }

    /// A string not matching the SQL `LIKE` pattern.
    #[uniffi::constructor]
    pub fn is_not_like(key: String, pattern: String) -> Arc<Self> {
        Self::leaf(Attribute::new(key).is_not_like(pattern))
    }

    /// Present, whatever its value.
    #[uniffi::constructor]
    pub fn exists(key: String) -> Arc<Self> {
        Self::leaf(Attribute::new(key).exists())
    }

    /// Absent.
    #[uniffi::constructor]
    pub fn does_not_exist(key: String) -> Arc<Self> {
        Self::leaf(Attribute::new(key).does_not_exist())
    }

    /// Both hold. `InvalidOption` if the result would nest deeper than `MAX_FILTER_DEPTH` (100) levels
    /// (a chain `a and b and c ...` nests one level per `and`: combine long lists pairwise).
    #[uniffi::constructor]
    pub fn and(left: Arc<Filter>, right: Arc<Filter>) -> Result<Arc<Self>, PgmqError> {
        crate::guard(|| Ok(Arc::new(Filter(left.to_core().checked_and(right.to_core())?))))
    }

    /// Either holds. `InvalidOption` if the result would nest deeper than `MAX_FILTER_DEPTH` (100)
    /// levels.
    #[uniffi::constructor]
    pub fn or(left: Arc<Filter>, right: Arc<Filter>) -> Result<Arc<Self>, PgmqError> {
        crate::guard(|| Ok(Arc::new(Filter(left.to_core().checked_or(right.to_core())?))))
    }
}

/// How deeply `and` / `or` may nest in one filter: the core's `MAX_FILTER_DEPTH` (100).
#[uniffi::export]
pub fn max_filter_depth() -> u32 {
    pgmq_core::MAX_FILTER_DEPTH as u32
}

/// How a receiver leases messages. Two are equal when their settings and their filters' conditions are
/// (`onError` is not compared: a handler has no equality across the FFI).
// Eq and Hash are exported because uniffi derives Swift's `Equatable` / `Hashable` only for records
// without objects (and this one holds a `Filter`).
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Eq, Hash)]
pub struct ReceiveOptions {
    /// Most messages held at once, leased in one statement (>= 1).
    #[uniffi(default = 1)]
    pub batch_size: u32,
    /// Only messages whose attributes match.
    #[uniffi(default = None)]
    pub filter: Option<Arc<Filter>>,
    /// Safety-net re-read while idle, ms (NOTIFY does the real waking).
    #[uniffi(default = 30000)]
    pub poll_interval_ms: u64,
    /// Told of each connection error the receiver recovered from (it retries and never ends on one);
    /// `null`: only a `tracing` warning.
    #[uniffi(default = None)]
    pub on_error: Option<Arc<dyn ReceiveErrorHandler>>,
}

impl PartialEq for ReceiveOptions {
    fn eq(&self, other: &Self) -> bool {
        (self.batch_size, &self.filter, self.poll_interval_ms) == (other.batch_size, &other.filter, other.poll_interval_ms)
    }
}

impl std::hash::Hash for ReceiveOptions {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.batch_size, &self.filter, self.poll_interval_ms).hash(state);
    }
}

impl ReceiveOptions {
    pub(crate) fn to_core(&self) -> Result<pgmq_core::ReceiveOptions, PgmqError> {
        let mut o = pgmq_core::ReceiveOptions::default()
            .batch_size(pgmq_core::ReceiveOptions::checked_batch_size(self.batch_size.into())?)
            .poll_interval(Duration::from_millis(self.poll_interval_ms));
        if let Some(f) = &self.filter {
            o = o.filter(f.to_core());
        }
        if let Some(handler) = &self.on_error {
            o = o.on_error(report_to(handler.clone()));
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
    /// Waiting for their time, or for the messages they depend on (`SendOptions.dependsOn`).
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

/// A job group's messages (`SendOptions.group`) at one instant: those still in a queue by state, and
/// the finished ones by outcome, for as long as their outcome is kept (the queue's retention period).
/// `client.groupStats()` counts every queue, `queue.groupStats()` one; an unknown group counts zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct GroupStats {
    /// Still in a queue: ready, scheduled and leased.
    pub messages: u64,
    /// Available for delivery now.
    pub ready: u64,
    /// Waiting for their scheduled time (or a nack's delay), or for the messages they depend on.
    pub scheduled: u64,
    /// Held by a worker under a live lease.
    pub leased: u64,
    /// Finished: acked.
    pub completed: u64,
    /// Finished: their attempts ran out.
    pub dead_lettered: u64,
    /// Finished: cancelled.
    pub cancelled: u64,
    /// Finished: their retention period ran out unconsumed.
    pub expired: u64,
}

impl From<pgmq_core::GroupStats> for GroupStats {
    fn from(s: pgmq_core::GroupStats) -> Self {
        GroupStats {
            messages: s.messages,
            ready: s.ready,
            scheduled: s.scheduled,
            leased: s.leased,
            completed: s.completed,
            dead_lettered: s.dead_lettered,
            cancelled: s.cancelled,
            expired: s.expired,
        }
    }
}

pub(crate) fn uuids(ids: &[String]) -> Result<Vec<pgmq_core::Uuid>, PgmqError> {
    ids.iter()
        .map(|id| pgmq_core::Uuid::parse_str(id).map_err(|_| PgmqError::invalid(format!("{id:?} is not a message id (a UUID)"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> Arc<Filter> {
        Filter::exists("a".into())
    }

    #[test]
    fn and_or_build_up_to_max_filter_depth_and_refuse_one_more() {
        let mut chain = leaf();
        for level in 2..=pgmq_core::MAX_FILTER_DEPTH {
            chain = if level % 2 == 0 { Filter::and(chain, leaf()) } else { Filter::or(leaf(), chain) }.unwrap();
            assert_eq!(chain.0.depth(), level);
        }
        for refused in [Filter::and(chain.clone(), leaf()), Filter::or(leaf(), chain.clone())] {
            match refused {
                Err(PgmqError::InvalidOption { reason }) => {
                    assert!(reason.contains("at most 100 levels"), "{reason}")
                }
                other => panic!("expected InvalidOption, got {other:?}"),
            }
        }
        let options = ReceiveOptions { batch_size: 1, filter: Some(chain.clone()), poll_interval_ms: 1000, on_error: None };
        options.to_core().expect("a filter of MAX_FILTER_DEPTH levels is accepted");

        // The deepest filter one can hold is dropped on a small stack (the JVM's cleaner thread, a
        // Swift thread): its drop recurses once per level.
        let handle = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || drop((chain, options)));
        handle.unwrap().join().expect("dropping a MAX_FILTER_DEPTH filter on a 64 KiB stack");
    }

    #[test]
    fn after_positions_reach_the_core_and_a_negative_one_is_refused_in_its_words() {
        let message = |after: Vec<i32>| OutgoingMessage { body: b"x".to_vec(), attributes: HashMap::new(), after };
        assert_eq!(message(vec![0, 2]).into_core(3).unwrap().after, vec![0, 2]);
        match message(vec![0, -1]).into_core(1) {
            Err(PgmqError::InvalidOption { reason }) => assert_eq!(
                reason,
                "invalid option: entry 1 cannot depend on entry -1: only on an earlier entry of the same send"
            ),
            other => panic!("expected InvalidOption, got {other:?}"),
        }
    }

    #[test]
    fn constructors_make_the_core_conditions() {
        use pgmq_core::Attribute as A;
        let v = || AttributeValue::Int { value: 3 };
        let cases = [
            (Filter::eq("k".into(), v()), A::new("k").eq(3)),
            (Filter::ne("k".into(), v()), A::new("k").ne(3)),
            (Filter::lt("k".into(), v()), A::new("k").lt(3)),
            (Filter::gt("k".into(), v()), A::new("k").gt(3)),
            (Filter::le("k".into(), v()), A::new("k").le(3)),
            (Filter::ge("k".into(), v()), A::new("k").ge(3)),
            (Filter::is_null("k".into()), A::new("k").is_null()),
            (Filter::is_not_null("k".into()), A::new("k").is_not_null()),
            (Filter::is_like("k".into(), "p%".into()), A::new("k").is_like("p%")),
            (Filter::is_not_like("k".into(), "p%".into()), A::new("k").is_not_like("p%")),
            (Filter::exists("k".into()), A::new("k").exists()),
            (Filter::does_not_exist("k".into()), A::new("k").does_not_exist()),
        ];
        for (made, core) in cases {
            assert_eq!(made.to_core(), core);
        }
        let either = Filter::or(leaf(), Filter::is_null("b".into())).unwrap();
        let both = Filter::and(Filter::exists("a".into()), either).unwrap();
        assert_eq!(both.to_core(), A::new("a").exists() & (A::new("a").exists() | A::new("b").is_null()));
    }
}
