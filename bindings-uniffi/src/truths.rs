//! The core's one table of defaults and limits (`pgmq_core::DEFAULTS`) and of error codes
//! (`pgmq_core::ERROR_CODES`), as records Kotlin and Swift read instead of writing a number or a code out
//! again (Kotlin: `DEFAULTS`, `defaultClientOptions()`, the `Duration` option builders); and the core's own
//! JSON rendering of both, which the tests compare these records with.
//!
//! Durations are whole milliseconds under a name ending in `Ms`, counts `ULong`; every other name is the
//! core's field, in lowerCamelCase. The core's structs are `#[non_exhaustive]`, so a field it adds is not
//! a compile error here: the Kotlin test that compares [`defaults`] with [`truths_json`] field by field
//! fails instead.

use pgmq_core::{DEFAULTS, ERROR_CODES};

use crate::types::ms;

/// Every default and limit of the public API: the core's `DEFAULTS`, the same in every language.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Defaults {
    /// A new queue (`QueueOptions`).
    pub queue: QueueDefaults,
    /// The dead-letter queue created with it (`DeadLetterQueueOptions`).
    pub dead_letter_queue: DeadLetterDefaults,
    /// A nack backoff policy given without values (`Backoff()`).
    pub backoff: BackoffDefaults,
    /// A send (`SendOptions`).
    pub send: SendDefaults,
    /// A receiver (`ReceiveOptions`).
    pub receive: ReceiveDefaults,
    /// Waiting for outcomes (`completed()`, `waitForCompletion()`).
    pub completion: CompletionDefaults,
    /// A request awaiting its reply (`request()`).
    pub request: RequestDefaults,
    /// Reading messages without leasing them (`PeekOptions`).
    pub peek: PeekDefaults,
    /// A client and its connections (`ClientOptions`, DSN parameters).
    pub client: ClientDefaults,
    /// Bounds beyond which calls fail with `InvalidOption` or `InvalidQueueName` before anything is
    /// written.
    pub limits: Limits,
    /// Names shared across languages.
    pub conventions: Conventions,
}

/// Defaults of `QueueOptions`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct QueueDefaults {
    /// How long a delivered message stays leased without a heartbeat, ms (10 s).
    pub ack_deadline_ms: u64,
    /// Deliveries before a message is dead-lettered (10).
    pub max_delivery_attempts: u32,
    /// How long an unconsumed message (and an outcome record) is kept, ms (7 days).
    pub retention_period_ms: u64,
    /// Whether a dead-letter queue `dlq@<name>` is created with the queue (yes).
    pub dead_letter_queue: bool,
    /// Whether nacks without a delay follow a backoff policy (no: they retry at once).
    pub backoff: bool,
    /// The most messages a queue holds (`null`: unbounded).
    pub max_messages: Option<u64>,
}

/// Defaults of `DeadLetterQueueOptions`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DeadLetterDefaults {
    /// Lease length in the DLQ, ms (10 s).
    pub ack_deadline_ms: u64,
    /// Deliveries before a DLQ message is dropped (10).
    pub max_delivery_attempts: u32,
    /// How long an unconsumed DLQ message is kept, ms (7 days).
    pub retention_period_ms: u64,
}

/// Defaults of `Backoff`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct BackoffDefaults {
    /// Delay after the first failed attempt, ms (1 s).
    pub base_ms: u64,
    /// Growth per attempt (2).
    pub factor: f64,
    /// Longest delay, ms (10 min).
    pub max_ms: u64,
    /// Whether each delay is scaled by a random factor in `[0.5, 1]` (yes).
    pub jitter: bool,
}

/// Defaults of `SendOptions`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SendDefaults {
    /// Whether outcomes are recorded so senders can wait for them (yes).
    pub track: bool,
    /// How long a send to a full bounded queue waits for room before it fails with `QueueFull`, ms (30 s).
    pub wait_for_room_ms: u64,
    /// While a send waits for room, the safety-net re-try in case a notification was lost, ms (1 s).
    pub room_poll_interval_ms: u64,
}

/// Defaults and bounds of `ReceiveOptions`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReceiveDefaults {
    /// Most messages a receiver holds leased at once (1).
    pub batch_size: u64,
    /// The largest batch size accepted (100,000).
    pub max_batch_size: u64,
    /// Safety-net re-read of an idle queue in case a notification was lost, ms (30 s).
    pub poll_interval_ms: u64,
}

/// Defaults of waiting for outcomes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CompletionDefaults {
    /// Safety-net re-read of the outcomes in case a notification was lost, ms (10 s).
    pub poll_interval_ms: u64,
}

/// Defaults of `request()`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RequestDefaults {
    /// How long a request waits for its reply before it is cancelled and fails with `Timeout`, ms (30 s).
    pub timeout_ms: u64,
}

/// Defaults and bounds of `PeekOptions`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PeekDefaults {
    /// Messages returned by one peek (100).
    pub limit: u64,
    /// The largest limit accepted (10,000).
    pub max_limit: u64,
}

/// Defaults of `ClientOptions` and of the DSN parameters pgmq sets when the DSN does not.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ClientDefaults {
    /// Pooled work connections (10).
    pub pool_size: u64,
    /// Wait for one host to accept a connection, ms (10 s).
    pub connect_timeout_ms: u64,
    /// Longest a statement, or a wait for a pool connection, may take, ms (60 s).
    pub statement_timeout_ms: u64,
    /// How long connecting keeps retrying an unreachable server, ms (0: fail at once).
    pub connect_retry_ms: u64,
    /// How often a client offers to run housekeeping, ms (1 s).
    pub maintenance_interval_ms: u64,
    /// The schema pgmq lives in (`pgmq`).
    pub schema: String,
    /// The `application_name` of the Rust client (`pgmq-rust`).
    pub application_name: String,
    /// What every binding's `application_name` starts with, followed by its language (`pgmq-kotlin`).
    pub application_name_prefix: String,
    /// TCP keepalive: idle time before the first probe, ms (30 s).
    pub keepalives_idle_ms: u64,
    /// TCP keepalive: time between probes, ms (10 s).
    pub keepalives_interval_ms: u64,
    /// TCP keepalive: unanswered probes before the connection is dropped (3).
    pub keepalives_count: u32,
    /// Longest sent data may stay unacknowledged before the kernel drops the connection, ms (30 s).
    pub tcp_user_timeout_ms: u64,
    /// First pause after a connection error (receivers, connect retries), doubling, ms (50 ms).
    pub reconnect_backoff_min_ms: u64,
    /// Longest such pause, ms (5 s).
    pub reconnect_backoff_max_ms: u64,
}

/// Bounds checked before anything is written.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Limits {
    /// Bytes of bodies and attributes (as JSON) one send or sendBatch carries (10^9).
    pub max_send_bytes: u64,
    /// Characters of a queue name, not counting the `dlq@` prefix (48).
    pub max_queue_name_len: u64,
    /// Bytes of a schema name (63).
    pub max_schema_name_len: u64,
    /// Levels an `and` / `or` filter may nest (100).
    pub max_filter_depth: u64,
    /// The shortest ack deadline, ms (1 s).
    pub min_ack_deadline_ms: u64,
    /// The largest `maxDeliveryAttempts` (2^31 - 1).
    pub max_delivery_attempts: u32,
    /// The longest duration of any option, ms (100 years).
    pub max_duration_ms: u64,
    /// Ids one notification payload lists before it says `*` instead (200).
    pub notify_max_ids: u64,
    /// The longest `migrate` waits for a lock on one of pgmq's tables before it fails with `Timeout`, ms
    /// (5 s).
    pub migrate_lock_timeout_ms: u64,
    /// The largest `maxMessages` of a bounded queue (2^63 - 1).
    pub max_messages: u64,
    /// Bytes of UTF-8 of a job group id (255).
    pub max_group_len: u64,
    /// Dependencies of one message, `SendOptions.dependsOn` and `OutgoingMessage.after` together (10,000).
    pub max_dependencies: u64,
}

/// Names every language uses alike.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Conventions {
    /// The prefix of dead-letter queue names (`dlq@`).
    pub dlq_prefix: String,
    /// The attribute that says how a body is encoded (`content-type`).
    pub content_type_attribute: String,
    /// Its value for a JSON body: UTF-8 JSON text (`application/json`).
    pub json_content_type: String,
}

/// A count of the table as a `u64` (every count of it fits).
fn count(n: usize) -> u64 {
    n as u64
}

/// The core's `DEFAULTS`: every default and limit, as the core applies them.
#[uniffi::export]
pub fn defaults() -> Defaults {
    let d = DEFAULTS;
    Defaults {
        queue: QueueDefaults {
            ack_deadline_ms: ms(d.queue.ack_deadline),
            max_delivery_attempts: d.queue.max_delivery_attempts,
            retention_period_ms: ms(d.queue.retention_period),
            dead_letter_queue: d.queue.dead_letter_queue,
            backoff: d.queue.backoff,
            max_messages: d.queue.max_messages,
        },
        dead_letter_queue: DeadLetterDefaults {
            ack_deadline_ms: ms(d.dead_letter_queue.ack_deadline),
            max_delivery_attempts: d.dead_letter_queue.max_delivery_attempts,
            retention_period_ms: ms(d.dead_letter_queue.retention_period),
        },
        backoff: BackoffDefaults {
            base_ms: ms(d.backoff.base),
            factor: d.backoff.factor,
            max_ms: ms(d.backoff.max),
            jitter: d.backoff.jitter,
        },
        send: SendDefaults {
            track: d.send.track,
            wait_for_room_ms: ms(d.send.wait_for_room),
            room_poll_interval_ms: ms(d.send.room_poll_interval),
        },
        receive: ReceiveDefaults {
            batch_size: count(d.receive.batch_size),
            max_batch_size: count(d.receive.max_batch_size),
            poll_interval_ms: ms(d.receive.poll_interval),
        },
        completion: CompletionDefaults { poll_interval_ms: ms(d.completion.poll_interval) },
        request: RequestDefaults { timeout_ms: ms(d.request.timeout) },
        peek: PeekDefaults { limit: count(d.peek.limit), max_limit: count(d.peek.max_limit) },
        client: ClientDefaults {
            pool_size: count(d.client.pool_size),
            connect_timeout_ms: ms(d.client.connect_timeout),
            statement_timeout_ms: ms(d.client.statement_timeout),
            connect_retry_ms: ms(d.client.connect_retry),
            maintenance_interval_ms: ms(d.client.maintenance_interval),
            schema: d.client.schema.to_owned(),
            application_name: d.client.application_name.to_owned(),
            application_name_prefix: d.client.application_name_prefix.to_owned(),
            keepalives_idle_ms: ms(d.client.keepalives_idle),
            keepalives_interval_ms: ms(d.client.keepalives_interval),
            keepalives_count: d.client.keepalives_count,
            tcp_user_timeout_ms: ms(d.client.tcp_user_timeout),
            reconnect_backoff_min_ms: ms(d.client.reconnect_backoff_min),
            reconnect_backoff_max_ms: ms(d.client.reconnect_backoff_max),
        },
        limits: Limits {
            max_send_bytes: count(d.limits.max_send_bytes),
            max_queue_name_len: count(d.limits.max_queue_name_len),
            max_schema_name_len: count(d.limits.max_schema_name_len),
            max_filter_depth: count(d.limits.max_filter_depth),
            min_ack_deadline_ms: ms(d.limits.min_ack_deadline),
            max_delivery_attempts: d.limits.max_delivery_attempts,
            max_duration_ms: ms(d.limits.max_duration),
            notify_max_ids: count(d.limits.notify_max_ids),
            migrate_lock_timeout_ms: ms(d.limits.migrate_lock_timeout),
            max_messages: d.limits.max_messages,
            max_group_len: count(d.limits.max_group_len),
            max_dependencies: count(d.limits.max_dependencies),
        },
        conventions: Conventions {
            dlq_prefix: d.conventions.dlq_prefix.to_owned(),
            content_type_attribute: d.conventions.content_type_attribute.to_owned(),
            json_content_type: d.conventions.json_content_type.to_owned(),
        },
    }
}

/// One of the core's stable error codes (`ERROR_CODES`), which `PgmqException.code` (Kotlin) and
/// `PgmqError.errorCode()` (Swift) return.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ErrorCode {
    /// The snake_case code, e.g. `queue_not_found`.
    pub code: String,
    /// Whether trying again later may succeed (`connection`, `timeout`).
    pub transient: bool,
    /// What it means, in one line.
    pub description: String,
}

/// Every error code of the core, in the order of its error enum.
#[uniffi::export]
pub fn error_codes() -> Vec<ErrorCode> {
    ERROR_CODES
        .iter()
        .map(|e| ErrorCode { code: e.code.to_owned(), transient: e.transient, description: e.description.to_owned() })
        .collect()
}

/// Test hook, not API (it may change in any release): `pgmq_core::truths_json()`, the core's defaults,
/// limits, error codes, outcome and message-state names as one JSON text, which the tests compare this
/// library's records, defaults and error classes with.
#[uniffi::export]
pub fn truths_json() -> String {
    pgmq_core::truths_json()
}
