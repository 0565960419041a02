//! Option structs, message values and name rules shared by every call.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::defaults::DEFAULTS;
use crate::error::{Error, Result};
use crate::filter::Filter;

/// How a [`crate::Client`] connects. Its `Debug` output masks the password of `listen_dsn`.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// A separate DSN for the one LISTEN connection (e.g. direct to PostgreSQL while work connections go
    /// through a transaction-pooling PgBouncer, which cannot deliver notifications). Default: the main DSN.
    pub listen_dsn: Option<String>,
    /// Maximum number of pooled work connections. Default 10; must be at least 1.
    pub pool_size: usize,
    /// How long to wait for one host to accept a connection before trying the next host of the DSN
    /// (or failing with [`Error::Connection`]), unless the DSN or `PGCONNECT_TIMEOUT` sets
    /// `connect_timeout`. Default 10 s.
    pub connect_timeout: Duration,
    /// Whether statements are prepared once per connection and cached (`Some(true)`), or sent unnamed
    /// with their parameter types in one round trip (`Some(false)`), as a transaction-pooling PgBouncer
    /// before 1.21 needs (named statements leak between its clients there). `None` (default): cached,
    /// unless `listen_dsn` is set — the one reason to give a separate LISTEN DSN is that `dsn` goes
    /// through such a pooler.
    pub statement_cache: Option<bool>,
    /// The longest a statement, or a wait for a free pool connection, may take before it fails: a
    /// statement with [`Error::Connection`] (its connection is closed, not reused: the network may have
    /// dropped it silently), a wait with [`Error::Timeout`]. Default 60 s. Migrations are not bounded
    /// by it (they wait for locks with their own `lock_timeout`).
    pub statement_timeout: Duration,
    /// The schema pgmq's tables and functions live in. Default `pgmq`; another name (lower-case letters,
    /// digits and `_`, starting with a letter or `_`, at most 63 bytes) lets pgmq share a database with
    /// something else called `pgmq` — Tembo's pgmq extension, which Supabase Queues enables — or run
    /// several independent pgmq installations in one database. Every client of one installation must
    /// use the same schema.
    pub schema: String,
    /// How long [`crate::Client::connect_with`] keeps trying a server that cannot be reached yet (a
    /// service starting beside its database), with a capped, jittered backoff. Default zero: fail at
    /// once. A refused login or an unknown database is never retried.
    pub connect_retry: Duration,
    /// The `application_name` operators see in `pg_stat_activity`, unless the DSN or `PGAPPNAME` sets
    /// one. Default `pgmq-rust`; each binding sets its language (`pgmq-python`, `pgmq-node`, ...).
    pub application_name: String,
    /// How often this client offers to run housekeeping (retention expiry, lapsed last attempts, outcome
    /// pruning). One client at a time does it, elected by an advisory lock. Default 1 s.
    pub maintenance_interval: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        let d = DEFAULTS.client;
        ClientOptions {
            listen_dsn: None,
            pool_size: d.pool_size,
            connect_timeout: d.connect_timeout,
            application_name: d.application_name.to_owned(),
            statement_cache: None,
            statement_timeout: d.statement_timeout,
            connect_retry: d.connect_retry,
            schema: d.schema.to_owned(),
            maintenance_interval: d.maintenance_interval,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("listen_dsn", &self.listen_dsn.as_deref().map(crate::dsn::redact_dsn))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("application_name", &self.application_name)
            .field("statement_cache", &self.statement_cache)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_retry", &self.connect_retry)
            .field("schema", &self.schema)
            .field("maintenance_interval", &self.maintenance_interval)
            .finish()
    }
}

impl ClientOptions {
    /// Sets [`ClientOptions::listen_dsn`].
    pub fn listen_dsn(mut self, dsn: impl Into<String>) -> Self {
        self.listen_dsn = Some(dsn.into());
        self
    }
    /// Sets [`ClientOptions::pool_size`].
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }
    /// Sets [`ClientOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Sets [`ClientOptions::statement_cache`].
    pub fn statement_cache(mut self, cache: bool) -> Self {
        self.statement_cache = Some(cache);
        self
    }
    /// Sets [`ClientOptions::statement_timeout`].
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }
    /// Sets [`ClientOptions::schema`].
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }
    /// Sets [`ClientOptions::connect_retry`].
    pub fn connect_retry(mut self, retry_for: Duration) -> Self {
        self.connect_retry = retry_for;
        self
    }
    /// Sets [`ClientOptions::application_name`].
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }
    /// Sets [`ClientOptions::maintenance_interval`].
    pub fn maintenance_interval(mut self, interval: Duration) -> Self {
        self.maintenance_interval = interval;
        self
    }
}

/// The schema pgmq lives in unless [`ClientOptions::schema`] names another.
pub const DEFAULT_SCHEMA: &str = "pgmq";

/// Checks a schema name for [`ClientOptions::schema`]: a plain lower-case identifier, so it needs no
/// quoting rules of its own and reads the same in SQL, in logs and in every language.
pub fn validate_schema_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= DEFAULTS.limits.max_schema_name_len
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_option(format!(
            "schema {name:?} must be a lower-case identifier: letters a-z, digits and _, starting with a letter \
             or _, at most 63 bytes, not starting with pg_"
        )))
    }
}

/// Exponential backoff for nacks that give no explicit delay:
/// `min(base * factor^(attempt - 1), max)`, with jitter scaling it by a random factor in `[0.5, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Growth per attempt (>= 1).
    pub factor: f64,
    /// Upper bound of the delay.
    pub max: Duration,
    /// Spread retries so failures do not come back in lockstep.
    pub jitter: bool,
}

impl Default for Backoff {
    /// Base 1 s, factor 2, max 10 min, with jitter.
    fn default() -> Self {
        let d = DEFAULTS.backoff;
        Backoff { base: d.base, factor: d.factor, max: d.max, jitter: d.jitter }
    }
}

/// The options of a dead-letter queue created together with its queue (it never has a DLQ of its own).
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterOptions {
    /// Lease length in the DLQ. Default 10 s, minimum 1 s.
    pub ack_deadline: Duration,
    /// Deliveries before a DLQ message is dropped. Default 10, minimum 1.
    pub max_delivery_attempts: u32,
    /// How long an unconsumed DLQ message is kept. Default 7 days.
    pub retention_period: Duration,
}

impl Default for DeadLetterOptions {
    fn default() -> Self {
        let d = DEFAULTS.dead_letter_queue;
        DeadLetterOptions {
            ack_deadline: d.ack_deadline,
            max_delivery_attempts: d.max_delivery_attempts,
            retention_period: d.retention_period,
        }
    }
}

/// How a queue behaves. Fixed when the queue is created. Durations are stored to the microsecond
/// (a finer part is dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueOptions {
    /// How long a delivered message stays leased to its worker without a heartbeat. While a
    /// [`crate::Message`] is alive the core extends it in the background. Default 10 s, minimum 1 s.
    pub ack_deadline: Duration,
    /// Deliveries (leases) a message gets before it is dead-lettered. Default 10, minimum 1.
    pub max_delivery_attempts: u32,
    /// How long an unconsumed message is kept, counted from when it became available; then it moves to
    /// the DLQ with outcome `expired`. Also how long outcome records are kept. Default 7 days.
    pub retention_period: Duration,
    /// The DLQ `dlq@<name>` created with the queue (default), or `None` for no DLQ: exhausted messages
    /// are then dropped with outcome `dead_lettered`.
    pub dead_letter_queue: Option<DeadLetterOptions>,
    /// Delay policy for nacks without an explicit delay. Default `None`: retry at once.
    pub backoff: Option<Backoff>,
    /// The most messages the queue holds, ready, scheduled and leased together (a bounded queue). A send
    /// that would exceed it waits for room or fails with [`Error::QueueFull`]
    /// ([`SendOptions::wait_for_room`]); a batch fits whole or not at all. Default `None`: unbounded.
    /// Its dead-letter queue is never bounded. Change it later with [`crate::Queue::set_max_messages`].
    pub max_messages: Option<u64>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        let d = DEFAULTS.queue;
        QueueOptions {
            ack_deadline: d.ack_deadline,
            max_delivery_attempts: d.max_delivery_attempts,
            retention_period: d.retention_period,
            dead_letter_queue: d.dead_letter_queue.then(DeadLetterOptions::default),
            backoff: d.backoff.then(Backoff::default),
            max_messages: d.max_messages,
        }
    }
}

impl QueueOptions {
    /// Sets [`QueueOptions::ack_deadline`].
    pub fn ack_deadline(mut self, d: Duration) -> Self {
        self.ack_deadline = d;
        self
    }
    /// Sets [`QueueOptions::max_delivery_attempts`].
    pub fn max_delivery_attempts(mut self, n: u32) -> Self {
        self.max_delivery_attempts = n;
        self
    }
    /// Sets [`QueueOptions::retention_period`].
    pub fn retention_period(mut self, d: Duration) -> Self {
        self.retention_period = d;
        self
    }
    /// Sets [`QueueOptions::dead_letter_queue`].
    pub fn dead_letter_queue(mut self, dlq: Option<DeadLetterOptions>) -> Self {
        self.dead_letter_queue = dlq;
        self
    }
    /// Sets [`QueueOptions::backoff`].
    pub fn backoff(mut self, backoff: Option<Backoff>) -> Self {
        self.backoff = backoff;
        self
    }
    /// Sets [`QueueOptions::max_messages`].
    pub fn max_messages(mut self, max: Option<u64>) -> Self {
        self.max_messages = max;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_lease_options(self.ack_deadline, self.max_delivery_attempts, self.retention_period)?;
        validate_max_messages(self.max_messages)?;
        if let Some(dlq) = &self.dead_letter_queue {
            validate_lease_options(dlq.ack_deadline, dlq.max_delivery_attempts, dlq.retention_period)
                .map_err(|e| Error::invalid_option(format!("dead-letter queue: {e}")))?;
        }
        if let Some(b) = &self.backoff {
            if !(b.factor.is_finite() && b.factor >= 1.0) {
                return Err(Error::invalid_option("backoff factor must be a finite number >= 1"));
            }
            if b.max < b.base {
                return Err(Error::invalid_option("backoff max must be >= backoff base"));
            }
            if b.max > MAX_INTERVAL {
                return Err(Error::invalid_option("backoff max is too long (max 100 years)"));
            }
        }
        Ok(())
    }
}

/// The longest group id, in bytes.
pub const MAX_GROUP_LEN: usize = 255;

/// The most dependencies one message may have (`depends_on` and `after` together).
pub const MAX_DEPENDENCIES: usize = 10_000;

/// A group id: not empty, at most [`MAX_GROUP_LEN`] bytes, no NUL (PostgreSQL text).
pub(crate) fn validate_group(group: &str) -> Result<()> {
    if group.is_empty() || group.len() > DEFAULTS.limits.max_group_len || group.contains('\0') {
        return Err(Error::invalid_option(format!(
            "a group id is 1 to {MAX_GROUP_LEN} bytes of text without NUL characters, not {} bytes",
            group.len()
        )));
    }
    Ok(())
}

/// A bound of at least 1 and at most [`crate::Limits::max_messages`] (2^63 - 1).
pub(crate) fn validate_max_messages(max: Option<u64>) -> Result<()> {
    match max {
        Some(n) if n == 0 || n > DEFAULTS.limits.max_messages => Err(Error::invalid_option(format!(
            "max_messages must be between 1 and {}, not {n}",
            DEFAULTS.limits.max_messages
        ))),
        _ => Ok(()),
    }
}

fn validate_lease_options(ack_deadline: Duration, attempts: u32, retention: Duration) -> Result<()> {
    if ack_deadline < DEFAULTS.limits.min_ack_deadline {
        let min = DEFAULTS.limits.min_ack_deadline;
        return Err(Error::invalid_option(format!("minimum ack deadline is {min:?}")));
    }
    if ack_deadline > MAX_INTERVAL {
        return Err(Error::invalid_option("ack deadline is too long (max 100 years)"));
    }
    if !(1..=DEFAULTS.limits.max_delivery_attempts).contains(&attempts) {
        return Err(Error::invalid_option("max delivery attempts must be between 1 and 2^31-1"));
    }
    if retention.is_zero() {
        return Err(Error::invalid_option("retention period must be positive"));
    }
    if retention > MAX_INTERVAL {
        return Err(Error::invalid_option("retention period is too long (max 100 years)"));
    }
    Ok(())
}

/// Durations beyond this would overflow PostgreSQL timestamps; nobody means them.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(100 * 366 * 86_400);

/// Microseconds of a duration, checked against [`MAX_INTERVAL`].
pub(crate) fn micros(d: Duration, what: &str) -> Result<i64> {
    if d > MAX_INTERVAL {
        return Err(Error::invalid_option(format!("{what} is too long (max 100 years)")));
    }
    Ok(d.as_micros() as i64)
}

/// A scalar attribute value. Attributes are a flat string -> scalar map, stored as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// JSON `null`.
    Null,
    /// JSON `true`/`false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A finite float (NaN and infinities are rejected with [`Error::InvalidOption`]).
    Float(f64),
    /// A string (without NUL characters, which PostgreSQL cannot store in JSON).
    String(String),
}

impl AttributeValue {
    /// This value as JSON text, bound as a `jsonb` parameter.
    pub(crate) fn to_json(&self) -> Result<JsonText> {
        let mut out = String::new();
        self.write_json(&mut out)?;
        Ok(JsonText(out))
    }

    /// Appends this value as JSON. A float with an integral value is written as its exact decimal with
    /// a `.0` (`4611686018427387904.0`): PostgreSQL's `numeric` keeps what it is given, and the shortest
    /// form serde_json writes (`4.611686018427388e18`) would be stored as a different number, read
    /// back as an integer.
    fn write_json(&self, out: &mut String) -> Result<()> {
        use std::fmt::Write;
        match self {
            AttributeValue::Null => out.push_str("null"),
            AttributeValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            AttributeValue::Int(i) => write!(out, "{i}").expect("writing to a String"),
            AttributeValue::Float(f) if !f.is_finite() => {
                return Err(Error::invalid_option(format!("attribute value {f} is not a finite number")))
            }
            AttributeValue::Float(f) if f.fract() == 0.0 => write!(out, "{f:.1}").expect("writing to a String"),
            AttributeValue::Float(f) => out.push_str(&serde_json::Number::from_f64(*f).expect("finite").to_string()),
            AttributeValue::String(s) => {
                check_no_nul(s, "attribute value")?;
                out.push_str(&serde_json::Value::from(s.as_str()).to_string());
            }
        }
        Ok(())
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> AttributeValue {
        match v {
            serde_json::Value::Null => AttributeValue::Null,
            serde_json::Value::Bool(b) => AttributeValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => AttributeValue::Int(i),
                None => AttributeValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => AttributeValue::String(s.clone()),
            // Only scalars are ever written; anything else came from outside pgmq.
            other => AttributeValue::String(other.to_string()),
        }
    }
}

/// Consistent with `==`: `0.0` and `-0.0`, which are equal, hash alike.
impl std::hash::Hash for AttributeValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            AttributeValue::Null => {}
            AttributeValue::Bool(b) => b.hash(state),
            AttributeValue::Int(i) => i.hash(state),
            AttributeValue::Float(f) => (if *f == 0.0 { 0.0f64 } else { *f }).to_bits().hash(state),
            AttributeValue::String(s) => s.hash(state),
        }
    }
}

impl From<&str> for AttributeValue {
    fn from(v: &str) -> Self {
        AttributeValue::String(v.to_owned())
    }
}
impl From<String> for AttributeValue {
    fn from(v: String) -> Self {
        AttributeValue::String(v)
    }
}
impl From<i64> for AttributeValue {
    fn from(v: i64) -> Self {
        AttributeValue::Int(v)
    }
}
impl From<i32> for AttributeValue {
    fn from(v: i32) -> Self {
        AttributeValue::Int(v.into())
    }
}
impl From<f64> for AttributeValue {
    fn from(v: f64) -> Self {
        AttributeValue::Float(v)
    }
}
impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        AttributeValue::Bool(v)
    }
}

/// Message attributes: a flat map from string keys to scalar values.
pub type Attributes = BTreeMap<String, AttributeValue>;

pub(crate) fn check_no_nul(s: &str, what: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::invalid_option(format!("{what} must not contain NUL characters")));
    }
    Ok(())
}

/// Attributes as a JSON object, bound as a `jsonb` parameter. [`Error::InvalidOption`] for NUL characters
/// and non-finite numbers, which PostgreSQL's `jsonb` cannot hold.
pub(crate) fn attributes_to_json(attrs: &Attributes) -> Result<JsonText> {
    let mut out = String::from("{");
    for (i, (k, v)) in attrs.iter().enumerate() {
        check_no_nul(k, "attribute key")?;
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(k.as_str()).to_string());
        out.push(':');
        v.write_json(&mut out)?;
    }
    out.push('}');
    Ok(JsonText(out))
}

/// JSON text that pgmq wrote, bound as a `json` or `jsonb` parameter as it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonText(pub(crate) String);

impl tokio_postgres::types::ToSql for JsonText {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == tokio_postgres::types::Type::JSONB {
            out.extend_from_slice(&[1]); // jsonb's binary format: a version byte, then the text
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }

    tokio_postgres::types::accepts!(JSON, JSONB);
    tokio_postgres::types::to_sql_checked!();
}

pub(crate) fn attributes_from_json(v: &serde_json::Value) -> Attributes {
    match v {
        serde_json::Value::Object(map) => {
            map.iter().map(|(k, v)| (k.clone(), AttributeValue::from_json(v))).collect()
        }
        _ => Attributes::new(),
    }
}

/// A message to send: a body of bytes and optional attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutgoingMessage {
    /// The payload. Any bytes, including none.
    pub body: Vec<u8>,
    /// Attributes that receivers can filter on.
    pub attributes: Attributes,
    /// Earlier entries of the same batch (by position, from 0) that this message depends on: it becomes
    /// available once they have all completed, and is cancelled if one of them does not (see
    /// [`SendOptions::depends_on`]). Only earlier entries: no cycle can be made.
    pub after: Vec<usize>,
}

impl OutgoingMessage {
    /// A message with this body and no attributes.
    pub fn new(body: impl Into<Vec<u8>>) -> Self {
        OutgoingMessage { body: body.into(), attributes: Attributes::new(), after: Vec::new() }
    }
    /// Adds an attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<AttributeValue>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }
    /// Sets [`OutgoingMessage::after`]: the earlier entries of the same batch this message depends on.
    pub fn after(mut self, entries: impl IntoIterator<Item = usize>) -> Self {
        self.after = entries.into_iter().collect();
        self
    }

    /// A message whose body is `value` as UTF-8 JSON, labelled [`CONTENT_TYPE_ATTRIBUTE`] =
    /// [`JSON_CONTENT_TYPE`] so that `message.json()` reads it in every language. Bytes stay the
    /// fastest path: this serialises with `serde_json`.
    ///
    /// Errors: [`Error::InvalidOption`] when `value` cannot be written as JSON (e.g. a map with
    /// non-string keys). Adding a different content type afterwards is the caller's choice; the JSON
    /// sends of the other languages refuse it.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::invalid_option(format!("the value cannot be written as JSON: {e}")))?;
        Ok(OutgoingMessage::new(body).attribute(CONTENT_TYPE_ATTRIBUTE, JSON_CONTENT_TYPE))
    }
}

/// `message.json()` of a received or peeked message: the body parsed as JSON when its
/// [`CONTENT_TYPE_ATTRIBUTE`] allows it ([`is_json_content_type`]).
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8], attributes: &Attributes) -> Result<T> {
    let label = match attributes.get(CONTENT_TYPE_ATTRIBUTE) {
        Some(AttributeValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    if !is_json_content_type(label) {
        return Err(Error::invalid_option(format!(
            "json(): the message's {CONTENT_TYPE_ATTRIBUTE} is {:?}, not {JSON_CONTENT_TYPE:?}",
            label.unwrap_or_default()
        )));
    }
    serde_json::from_slice(body).map_err(|e| Error::invalid_option(format!("json(): the body is not this JSON: {e}")))
}

impl<T: Into<Vec<u8>>> From<T> for OutgoingMessage {
    fn from(body: T) -> Self {
        OutgoingMessage::new(body)
    }
}

/// When a sent message becomes available, and whether its outcome is tracked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Deliver no earlier than this instant. Exclusive with `delay`.
    pub schedule_at: Option<SystemTime>,
    /// Deliver no earlier than this long after the send commits (server clock). Exclusive with
    /// `schedule_at`.
    pub delay: Option<Duration>,
    /// Record the outcome durably so senders can wait for it (default `true`). `false` is
    /// fire-and-forget: cheaper, and [`crate::Completion::wait`] then fails with [`Error::NotTracked`].
    pub track: bool,
    /// For a bounded queue ([`QueueOptions::max_messages`]) without room for the whole send: how long to
    /// wait for room (woken when workers finish messages), after which the send fails with
    /// [`Error::QueueFull`]; `None` fails at once. Default 30 s (`DEFAULTS.send.wait_for_room`). Unbounded
    /// queues ignore it.
    pub wait_for_room: Option<Duration>,
    /// The job group the messages join ([`crate::Queue::cancel_group`], `wait_for_group`,
    /// `group_stats`, and the same on [`crate::Client`] across queues). Any text but empty, up to 255
    /// bytes, without NUL. A grouped message is tracked: `track = false` with a group is refused.
    pub group: Option<String>,
    /// Messages already sent (in any queue) that every message of this send depends on: it waits,
    /// unclaimable, until they have all completed, then becomes available (at its `delay` or
    /// `schedule_at` if later). If one of them is dead-lettered, cancelled or expires instead, the
    /// message is cancelled with [`crate::Reply::reason`] `dependency <id> was <outcome>`, and so are
    /// the messages depending on it, down the graph. Dependencies and dependents are tracked: an id
    /// that is unknown, untracked or already finished other than completed is refused
    /// ([`Error::InvalidOption`], nothing written), and so is `track = false`. For dependencies
    /// within one batch, see [`OutgoingMessage::after`].
    pub depends_on: Vec<uuid::Uuid>,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            schedule_at: None,
            delay: None,
            track: DEFAULTS.send.track,
            wait_for_room: Some(DEFAULTS.send.wait_for_room),
            group: None,
            depends_on: Vec::new(),
        }
    }
}

impl SendOptions {
    /// Sets [`SendOptions::delay`].
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
    /// Sets [`SendOptions::schedule_at`].
    pub fn schedule_at(mut self, at: SystemTime) -> Self {
        self.schedule_at = Some(at);
        self
    }
    /// Sets [`SendOptions::track`].
    pub fn track(mut self, track: bool) -> Self {
        self.track = track;
        self
    }
    /// Sets [`SendOptions::group`].
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }
    /// Sets [`SendOptions::depends_on`].
    pub fn depends_on(mut self, ids: impl IntoIterator<Item = uuid::Uuid>) -> Self {
        self.depends_on = ids.into_iter().collect();
        self
    }
    /// Sets [`SendOptions::wait_for_room`]: `None` fails at once when a bounded queue is full.
    pub fn wait_for_room(mut self, wait: Option<Duration>) -> Self {
        self.wait_for_room = wait;
        self
    }
}

/// Called with an error a receiver recovered from (see [`ReceiveOptions::on_error`]).
#[derive(Clone)]
pub struct ErrorHandler(pub std::sync::Arc<dyn Fn(&Error) + Send + Sync>);

impl std::fmt::Debug for ErrorHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErrorHandler(..)")
    }
}

/// The first pause of a receiver after a connection error; it doubles up to
/// [`RECONNECT_BACKOFF_MAX`], each pause scaled by a random factor in `[0.5, 1]`.
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// The longest pause of a receiver between attempts while the server is unreachable.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How a [`crate::Receiver`] leases messages.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceiveOptions {
    /// Most messages this receiver holds leased at once (claimed in one statement). Default 1.
    pub batch_size: usize,
    /// Only messages whose attributes match.
    pub filter: Option<Filter>,
    /// Safety-net re-read of the table while idle, in case a notification was lost. NOTIFY does the real
    /// waking. Default 30 s.
    pub poll_interval: Duration,
    /// Told of each connection error the receiver recovered from. A receiver never ends on a
    /// connection error (a dropped connection, `pg_terminate_backend`, a server restart): it logs it
    /// (`tracing` warning), tells this handler, and tries again after a capped, jittered pause
    /// ([`RECONNECT_BACKOFF_MIN`] doubling to [`RECONNECT_BACKOFF_MAX`]) until the server answers or the
    /// receiver is closed. Other errors end the call as before.
    pub on_error: Option<ErrorHandler>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        let d = DEFAULTS.receive;
        ReceiveOptions { batch_size: d.batch_size, filter: None, poll_interval: d.poll_interval, on_error: None }
    }
}

impl ReceiveOptions {
    /// Sets [`ReceiveOptions::batch_size`].
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Sets [`ReceiveOptions::filter`].
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }
    /// Sets [`ReceiveOptions::on_error`].
    pub fn on_error(mut self, handler: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_error = Some(ErrorHandler(std::sync::Arc::new(handler)));
        self
    }
    /// Sets [`ReceiveOptions::poll_interval`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// A batch size given as a signed integer, as bindings receive it: `n < 1` is
    /// [`Error::InvalidOption`].
    pub fn checked_batch_size(n: i64) -> Result<usize> {
        let max = DEFAULTS.receive.max_batch_size;
        if n < 1 || n > max as i64 {
            return Err(Error::invalid_option(format!("batch_size must be between 1 and {max}, got {n}")));
        }
        Ok(n as usize)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        Self::checked_batch_size(self.batch_size.min(i64::MAX as usize) as i64)?;
        if self.poll_interval.is_zero() {
            return Err(Error::invalid_option("poll_interval must be positive"));
        }
        Ok(())
    }
}

/// How a nack returns a message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NackOptions {
    /// Make it available again after this delay. `None`: the queue's backoff policy, or at once.
    pub delay: Option<Duration>,
    /// Why it failed; kept with the message and carried into the DLQ. NUL characters, which
    /// PostgreSQL text cannot hold, are stored as U+FFFD.
    pub error: Option<String>,
}

/// How a message finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A worker acked it.
    Completed,
    /// Its attempts ran out; it moved to the DLQ (or was dropped, without one).
    DeadLettered,
    /// It was cancelled.
    Cancelled,
    /// Its retention period ran out before anyone consumed it; it moved to the DLQ.
    Expired,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 4] = [Outcome::Completed, Outcome::DeadLettered, Outcome::Cancelled, Outcome::Expired];

    /// `"completed"`, `"dead_lettered"`, `"cancelled"` or `"expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::DeadLettered => "dead_lettered",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Outcome> {
        Ok(match s {
            "completed" => Outcome::Completed,
            "dead_lettered" => Outcome::DeadLettered,
            "cancelled" => Outcome::Cancelled,
            "expired" => Outcome::Expired,
            other => return Err(Error::Database(format!("unknown outcome {other:?}"))),
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of one queue's messages at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Every message in the queue: ready, scheduled and leased.
    pub messages: u64,
    /// Available for delivery now.
    pub ready: u64,
    /// Waiting for their scheduled time (or a nack delay).
    pub scheduled: u64,
    /// Held by a worker under a live lease.
    pub leased: u64,
    /// Messages in this queue's dead-letter queue (0 without one).
    pub dead_lettered: u64,
}

/// A queue and its settings, as listed by [`crate::Client::list_queues`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// Its lease length.
    pub ack_deadline: Duration,
    /// Its maximum deliveries.
    pub max_delivery_attempts: u32,
    /// Its retention period.
    pub retention_period: Duration,
    /// The name of its DLQ, if it has one.
    pub dead_letter_queue: Option<String>,
    /// Its delay policy for nacks without an explicit delay, if it has one.
    pub backoff: Option<Backoff>,
    /// The most messages it holds (ready, scheduled and leased together), if it is bounded.
    pub max_messages: Option<u64>,
}

/// A queue, its settings and its counts, as listed by [`crate::Client::list_queues_with_stats`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueueOverview {
    /// Its name and settings.
    pub info: QueueInfo,
    /// Its counts by state, and its DLQ's depth, as [`crate::Queue::stats`] gives them.
    pub stats: QueueStats,
    /// How long the oldest ready message has been waiting since it became available (its send, its
    /// scheduled time, or the nack or lapsed lease that made it ready again). `None` when none is ready.
    pub oldest_ready_age: Option<Duration>,
}

/// The most bytes of bodies and attributes (as JSON) that one send or send_batch carries: PostgreSQL
/// holds no value larger than 1 GiB, and a batch travels as one array per column.
pub const MAX_SEND_BYTES: usize = 1_000_000_000;

/// The attribute that says how a body is encoded, set by every language's JSON send so that a reader in
/// any other language knows to parse it (`message.json()`); bytes sent as bytes carry none.
pub const CONTENT_TYPE_ATTRIBUTE: &str = "content-type";

/// The [`CONTENT_TYPE_ATTRIBUTE`] value of a JSON body (UTF-8 JSON text).
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Whether a message with this [`CONTENT_TYPE_ATTRIBUTE`] value (`None`: the attribute is absent or not a
/// string) may be read as JSON by `message.json()` in every language: no label (bytes that the sender
/// knows to be JSON text), [`JSON_CONTENT_TYPE`] with or without parameters (`; charset=utf-8`), or a
/// structured-syntax `application/…+json` type. Case-insensitive, as media types are.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else { return true };
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media == JSON_CONTENT_TYPE || (media.starts_with("application/") && media.ends_with("+json"))
}

/// The longest queue name (not counting the `dlq@` prefix of dead-letter queues).
pub const MAX_QUEUE_NAME_LEN: usize = 48;
/// The prefix of dead-letter queue names.
pub const DLQ_PREFIX: &str = "dlq@";

/// The name of the dead-letter queue created with queue `name`: `dlq@<name>`.
pub fn dlq_name(name: &str) -> String {
    format!("{DLQ_PREFIX}{name}")
}

/// Checks a name for any call but `create_queue`: a plain name, or `dlq@` + a plain name.
pub fn validate_queue_name(name: &str) -> Result<()> {
    let plain = name.strip_prefix(DLQ_PREFIX).unwrap_or(name);
    validate_plain_name(name, plain)
}

/// Checks a name for `create_queue`: plain names only; `dlq@` is reserved for dead-letter queues.
pub fn validate_new_queue_name(name: &str) -> Result<()> {
    if name.starts_with(DLQ_PREFIX) {
        return Err(Error::InvalidQueueName {
            name: name.to_owned(),
            reason: "names starting with \"dlq@\" are reserved for dead-letter queues".into(),
        });
    }
    validate_plain_name(name, name)
}

fn validate_plain_name(full: &str, plain: &str) -> Result<()> {
    let reason = if plain.is_empty() {
        "it is empty".to_owned()
    } else if plain.len() > MAX_QUEUE_NAME_LEN {
        format!("it is longer than {MAX_QUEUE_NAME_LEN} characters")
    } else if !plain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        "queue names must match ^[a-zA-Z0-9_-]+$".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::InvalidQueueName { name: full.to_owned(), reason })
}

#[cfg(test)]
mod content_type_tests {
    use super::is_json_content_type;

    #[test]
    fn json_is_unlabelled_application_json_with_parameters_or_a_json_suffix_type() {
        for yes in [None, Some("application/json"), Some("Application/JSON; charset=utf-8"), Some("application/cloudevents+json")] {
            assert!(is_json_content_type(yes), "{yes:?}");
        }
        for no in [Some("text/plain"), Some("application/octet-stream"), Some("text/json+xml"), Some(""), Some("json")] {
            assert!(!is_json_content_type(no), "{no:?}");
        }
    }
}
