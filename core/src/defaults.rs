//! The one table of every default and limit of the public API, which each language binding reads
//! instead of retyping (and its tests compare their own maps against, through [`truths_json`]).
//!
//! The option structs' `Default` impls read their values from [`DEFAULTS`]; the older public constants
//! ([`crate::MAX_SEND_BYTES`], [`crate::RECONNECT_BACKOFF_MIN`], ...) stay, and [`DEFAULTS`] refers to
//! them, so each value is written once.

use std::time::Duration;

use crate::error::{ERROR_CODES, SQLSTATES};
use crate::options::{Outcome, DEFAULT_SCHEMA, MAX_INTERVAL};
use crate::peek::MessageState;

/// Every default and limit of the public API. Read it through [`DEFAULTS`].
///
/// ```
/// use pgmq_core::{QueueOptions, DEFAULTS};
/// assert_eq!(QueueOptions::default().ack_deadline, DEFAULTS.queue.ack_deadline);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Defaults {
    /// A new queue ([`crate::QueueOptions`]).
    pub queue: QueueDefaults,
    /// The dead-letter queue created with it ([`crate::DeadLetterOptions`]).
    pub dead_letter_queue: DeadLetterDefaults,
    /// A nack backoff policy given without values ([`crate::Backoff`]).
    pub backoff: BackoffDefaults,
    /// A send ([`crate::SendOptions`]).
    pub send: SendDefaults,
    /// A receiver ([`crate::ReceiveOptions`]).
    pub receive: ReceiveDefaults,
    /// Waiting for outcomes ([`crate::Completion::wait`]).
    pub completion: CompletionDefaults,
    /// A request awaiting its reply ([`crate::Queue::request`]).
    pub request: RequestDefaults,
    /// Reading messages without leasing them ([`crate::PeekOptions`]).
    pub peek: PeekDefaults,
    /// A client and its connections ([`crate::ClientOptions`], DSN parameters).
    pub client: ClientDefaults,
    /// Bounds on names, sizes and durations, beyond which calls fail with `invalid_option` or
    /// `invalid_queue_name` before anything is written.
    pub limits: Limits,
    /// Names shared across languages.
    pub conventions: Conventions,
}

/// Defaults of [`crate::QueueOptions`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct QueueDefaults {
    /// How long a delivered message stays leased without a heartbeat: 10 s.
    pub ack_deadline: Duration,
    /// Deliveries before a message is dead-lettered: 10.
    pub max_delivery_attempts: u32,
    /// How long an unconsumed message (and an outcome record) is kept: 7 days.
    pub retention_period: Duration,
    /// Whether a dead-letter queue `dlq@<name>` is created with the queue: yes.
    pub dead_letter_queue: bool,
    /// Whether nacks without a delay follow a backoff policy: no, they retry at once.
    pub backoff: bool,
    /// The most messages a queue holds: none, queues are unbounded.
    pub max_messages: Option<u64>,
}

/// Defaults of [`crate::DeadLetterOptions`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct DeadLetterDefaults {
    /// Lease length in the DLQ: 10 s.
    pub ack_deadline: Duration,
    /// Deliveries before a DLQ message is dropped: 10.
    pub max_delivery_attempts: u32,
    /// How long an unconsumed DLQ message is kept: 7 days.
    pub retention_period: Duration,
}

/// Defaults of [`crate::Backoff`]: `min(base * factor^(attempt - 1), max)`, jittered.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BackoffDefaults {
    /// Delay after the first failed attempt: 1 s.
    pub base: Duration,
    /// Growth per attempt: 2.
    pub factor: f64,
    /// Longest delay: 10 min.
    pub max: Duration,
    /// Whether each delay is scaled by a random factor in `[0.5, 1]`: yes.
    pub jitter: bool,
}

/// Defaults of [`crate::SendOptions`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SendDefaults {
    /// Whether outcomes are recorded so senders can wait for them: yes.
    pub track: bool,
    /// How long a send to a full bounded queue waits for room before it fails with `queue_full`: 30 s.
    pub wait_for_room: Duration,
    /// While it waits, the safety-net re-try in case a notification of room was lost (the acks of
    /// workers whose receivers know the queue is bounded announce it; cancels, purges and expiry do not):
    /// 1 s.
    pub room_poll_interval: Duration,
}

/// Defaults and bounds of [`crate::ReceiveOptions`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ReceiveDefaults {
    /// Most messages a receiver holds leased at once: 1.
    pub batch_size: usize,
    /// The largest batch size accepted: 100,000.
    pub max_batch_size: usize,
    /// Safety-net re-read of an idle queue in case a notification was lost: 30 s.
    pub poll_interval: Duration,
}

/// Defaults of waiting for outcomes ([`crate::Completion`], `wait_for_completion`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CompletionDefaults {
    /// Safety-net re-read of the outcomes in case a notification was lost: 10 s (the original pgmq's).
    pub poll_interval: Duration,
}

/// Defaults of [`crate::Queue::request`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RequestDefaults {
    /// How long a request waits for its reply before it is cancelled and fails with
    /// [`crate::Error::Timeout`]: 30 s.
    pub timeout: Duration,
}

/// Defaults and bounds of [`crate::PeekOptions`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PeekDefaults {
    /// Messages returned by one peek: 100.
    pub limit: usize,
    /// The largest limit accepted: 10,000.
    pub max_limit: usize,
}

/// Defaults of [`crate::ClientOptions`] and of the DSN parameters pgmq sets when the DSN does not.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ClientDefaults {
    /// Pooled work connections: 10.
    pub pool_size: usize,
    /// Wait for one host to accept a connection: 10 s.
    pub connect_timeout: Duration,
    /// Longest a statement, or a wait for a pool connection, may take: 60 s.
    pub statement_timeout: Duration,
    /// How long connecting keeps retrying an unreachable server: zero (fail at once).
    pub connect_retry: Duration,
    /// How often a client offers to run housekeeping: 1 s.
    pub maintenance_interval: Duration,
    /// The schema pgmq lives in: `pgmq`.
    pub schema: &'static str,
    /// The `application_name` of the Rust client: `pgmq-rust`.
    pub application_name: &'static str,
    /// What every binding's `application_name` starts with, followed by its language (`pgmq-python`).
    pub application_name_prefix: &'static str,
    /// TCP keepalive: idle time before the first probe, 30 s.
    pub keepalives_idle: Duration,
    /// TCP keepalive: time between probes, 10 s.
    pub keepalives_interval: Duration,
    /// TCP keepalive: unanswered probes before the connection is dropped, 3.
    pub keepalives_count: u32,
    /// Longest sent data may stay unacknowledged before the kernel drops the connection: 30 s.
    pub tcp_user_timeout: Duration,
    /// First pause after a connection error (receivers, connect retries), doubling: 50 ms.
    pub reconnect_backoff_min: Duration,
    /// Longest such pause: 5 s.
    pub reconnect_backoff_max: Duration,
}

/// Bounds checked before anything is written.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes of bodies and attributes (as JSON) one send or send_batch carries: 10^9.
    pub max_send_bytes: usize,
    /// Characters of a queue name, not counting the `dlq@` prefix: 48.
    pub max_queue_name_len: usize,
    /// Bytes of a schema name: 63 (PostgreSQL's identifier limit).
    pub max_schema_name_len: usize,
    /// Levels an `and` / `or` filter may nest: 100.
    pub max_filter_depth: usize,
    /// The shortest ack deadline: 1 s.
    pub min_ack_deadline: Duration,
    /// The largest `max_delivery_attempts`: 2^31 - 1.
    pub max_delivery_attempts: u32,
    /// The longest duration of any option (ack deadline, retention, delays, backoff): 100 years.
    pub max_duration: Duration,
    /// Ids one notification payload lists before it says `*` instead: 200.
    pub notify_max_ids: usize,
    /// The largest `max_messages` of a bounded queue: 2^63 - 1.
    pub max_messages: u64,
    /// Bytes of a job group id: 255.
    pub max_group_len: usize,
    /// Dependencies of one message ([`crate::SendOptions::depends_on`] and
    /// [`crate::OutgoingMessage::after`] together): 10,000.
    pub max_dependencies: usize,
    /// The longest `migrate` waits for a lock on one of pgmq's tables before it fails with `timeout`,
    /// changing nothing: 5 s.
    pub migrate_lock_timeout: Duration,
}

/// Names every language uses alike.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Conventions {
    /// The prefix of dead-letter queue names: `dlq@`.
    pub dlq_prefix: &'static str,
    /// The attribute that says how a body is encoded: `content-type`.
    pub content_type_attribute: &'static str,
    /// Its value for a JSON body: `application/json`.
    pub json_content_type: &'static str,
}

/// The `application_name` of the Rust client; see [`ClientDefaults::application_name`].
const APPLICATION_NAME: &str = "pgmq-rust";
/// See [`ClientDefaults::application_name_prefix`].
const APPLICATION_NAME_PREFIX: &str = "pgmq-";

/// Every default and limit of the public API.
pub const DEFAULTS: Defaults = Defaults {
    queue: QueueDefaults {
        ack_deadline: Duration::from_secs(10),
        max_delivery_attempts: 10,
        retention_period: Duration::from_secs(7 * 86_400),
        dead_letter_queue: true,
        backoff: false,
        max_messages: None,
    },
    dead_letter_queue: DeadLetterDefaults {
        ack_deadline: Duration::from_secs(10),
        max_delivery_attempts: 10,
        retention_period: Duration::from_secs(7 * 86_400),
    },
    backoff: BackoffDefaults { base: Duration::from_secs(1), factor: 2.0, max: Duration::from_secs(600), jitter: true },
    send: SendDefaults {
        track: true,
        wait_for_room: Duration::from_secs(30),
        room_poll_interval: Duration::from_secs(1),
    },
    receive: ReceiveDefaults { batch_size: 1, max_batch_size: 100_000, poll_interval: Duration::from_secs(30) },
    completion: CompletionDefaults { poll_interval: Duration::from_secs(10) },
    request: RequestDefaults { timeout: Duration::from_secs(30) },
    peek: PeekDefaults { limit: 100, max_limit: 10_000 },
    client: ClientDefaults {
        pool_size: 10,
        connect_timeout: Duration::from_secs(10),
        statement_timeout: Duration::from_secs(60),
        connect_retry: Duration::ZERO,
        maintenance_interval: Duration::from_secs(1),
        schema: DEFAULT_SCHEMA,
        application_name: APPLICATION_NAME,
        application_name_prefix: APPLICATION_NAME_PREFIX,
        keepalives_idle: crate::connect::DEFAULT_KEEPALIVES_IDLE,
        keepalives_interval: crate::connect::DEFAULT_KEEPALIVES_INTERVAL,
        keepalives_count: crate::connect::DEFAULT_KEEPALIVES_COUNT,
        tcp_user_timeout: crate::connect::DEFAULT_TCP_USER_TIMEOUT,
        reconnect_backoff_min: crate::options::RECONNECT_BACKOFF_MIN,
        reconnect_backoff_max: crate::options::RECONNECT_BACKOFF_MAX,
    },
    limits: Limits {
        max_send_bytes: crate::options::MAX_SEND_BYTES,
        max_queue_name_len: crate::options::MAX_QUEUE_NAME_LEN,
        max_schema_name_len: 63,
        max_filter_depth: crate::filter::MAX_FILTER_DEPTH,
        min_ack_deadline: Duration::from_secs(1),
        max_delivery_attempts: i32::MAX as u32,
        max_duration: MAX_INTERVAL,
        notify_max_ids: crate::protocol::NOTIFY_MAX_IDS,
        max_messages: i64::MAX as u64,
        max_group_len: crate::options::MAX_GROUP_LEN,
        max_dependencies: crate::options::MAX_DEPENDENCIES,
        migrate_lock_timeout: crate::migrate::MIGRATION_LOCK_TIMEOUT,
    },
    conventions: Conventions {
        dlq_prefix: crate::options::DLQ_PREFIX,
        content_type_attribute: crate::options::CONTENT_TYPE_ATTRIBUTE,
        json_content_type: crate::options::JSON_CONTENT_TYPE,
    },
};

/// [`DEFAULTS`], [`ERROR_CODES`], the SQLSTATEs of pgmq's SQL functions (`"sqlstates"`: state → error
/// code), the outcome and message-state names and the NOTIFY protocol's names as one JSON object, for the bindings' tests to compare their own tables with in one call.
/// Durations are whole milliseconds under a name ending in `_ms`; every other name is the Rust field's.
///
/// ```
/// let truths: serde_json::Value = serde_json::from_str(&pgmq_core::truths_json()).unwrap();
/// assert_eq!(truths["defaults"]["completion"]["poll_interval_ms"], 10_000);
/// assert_eq!(truths["error_codes"][0]["code"], "invalid_queue_name");
/// ```
pub fn truths_json() -> String {
    use serde_json::json;
    let ms = |d: Duration| d.as_millis() as u64;
    // Every struct taken apart field by field (no `..`): a field added to the table and not here does
    // not compile.
    let Defaults {
        queue,
        dead_letter_queue,
        backoff,
        send,
        receive,
        completion,
        request,
        peek,
        client,
        limits,
        conventions,
    } = DEFAULTS;
    let QueueDefaults {
        ack_deadline,
        max_delivery_attempts,
        retention_period,
        dead_letter_queue: dlq,
        backoff: uses_backoff,
        max_messages: default_max_messages,
    } =
        queue;
    let queue = json!({
        "ack_deadline_ms": ms(ack_deadline),
        "max_delivery_attempts": max_delivery_attempts,
        "retention_period_ms": ms(retention_period),
        "dead_letter_queue": dlq,
        "backoff": uses_backoff,
        "max_messages": default_max_messages,
    });
    let DeadLetterDefaults { ack_deadline, max_delivery_attempts, retention_period } = dead_letter_queue;
    let dead_letter_queue = json!({
        "ack_deadline_ms": ms(ack_deadline),
        "max_delivery_attempts": max_delivery_attempts,
        "retention_period_ms": ms(retention_period),
    });
    let BackoffDefaults { base, factor, max, jitter } = backoff;
    let backoff = json!({ "base_ms": ms(base), "factor": factor, "max_ms": ms(max), "jitter": jitter });
    let SendDefaults { track, wait_for_room, room_poll_interval } = send;
    let ReceiveDefaults { batch_size, max_batch_size, poll_interval } = receive;
    let receive = json!({
        "batch_size": batch_size,
        "max_batch_size": max_batch_size,
        "poll_interval_ms": ms(poll_interval),
    });
    let CompletionDefaults { poll_interval } = completion;
    let RequestDefaults { timeout: request_timeout } = request;
    let PeekDefaults { limit, max_limit } = peek;
    let ClientDefaults {
        pool_size,
        connect_timeout,
        statement_timeout,
        connect_retry,
        maintenance_interval,
        schema,
        application_name,
        application_name_prefix,
        keepalives_idle,
        keepalives_interval,
        keepalives_count,
        tcp_user_timeout,
        reconnect_backoff_min,
        reconnect_backoff_max,
    } = client;
    let client = json!({
        "pool_size": pool_size,
        "connect_timeout_ms": ms(connect_timeout),
        "statement_timeout_ms": ms(statement_timeout),
        "connect_retry_ms": ms(connect_retry),
        "maintenance_interval_ms": ms(maintenance_interval),
        "schema": schema,
        "application_name": application_name,
        "application_name_prefix": application_name_prefix,
        "keepalives_idle_ms": ms(keepalives_idle),
        "keepalives_interval_ms": ms(keepalives_interval),
        "keepalives_count": keepalives_count,
        "tcp_user_timeout_ms": ms(tcp_user_timeout),
        "reconnect_backoff_min_ms": ms(reconnect_backoff_min),
        "reconnect_backoff_max_ms": ms(reconnect_backoff_max),
    });
    let Limits {
        max_send_bytes,
        max_queue_name_len,
        max_schema_name_len,
        max_filter_depth,
        min_ack_deadline,
        max_delivery_attempts,
        max_duration,
        notify_max_ids,
        max_messages,
        max_group_len,
        max_dependencies,
        migrate_lock_timeout,
    } = limits;
    let limits = json!({
        "max_send_bytes": max_send_bytes,
        "max_queue_name_len": max_queue_name_len,
        "max_schema_name_len": max_schema_name_len,
        "max_filter_depth": max_filter_depth,
        "min_ack_deadline_ms": ms(min_ack_deadline),
        "max_delivery_attempts": max_delivery_attempts,
        "max_duration_ms": ms(max_duration),
        "notify_max_ids": notify_max_ids,
        "max_messages": max_messages,
        "max_group_len": max_group_len,
        "max_dependencies": max_dependencies,
        "migrate_lock_timeout_ms": ms(migrate_lock_timeout),
    });
    let Conventions { dlq_prefix, content_type_attribute, json_content_type } = conventions;
    let conventions = json!({
        "dlq_prefix": dlq_prefix,
        "content_type_attribute": content_type_attribute,
        "json_content_type": json_content_type,
    });
    let truths = json!({
        "defaults": {
            "queue": queue,
            "dead_letter_queue": dead_letter_queue,
            "backoff": backoff,
            "send": {
                "track": track,
                "wait_for_room_ms": ms(wait_for_room),
                "room_poll_interval_ms": ms(room_poll_interval),
            },
            "receive": receive,
            "completion": { "poll_interval_ms": ms(poll_interval) },
            "request": { "timeout_ms": ms(request_timeout) },
            "peek": { "limit": limit, "max_limit": max_limit },
            "client": client,
        },
        "limits": limits,
        "conventions": conventions,
        "error_codes": ERROR_CODES
            .iter()
            .map(|e| json!({ "code": e.code, "transient": e.transient, "description": e.description }))
            .collect::<Vec<_>>(),
        "sqlstates": SQLSTATES.iter().map(|(state, code)| (state.to_string(), json!(code))).collect::<serde_json::Map<_, _>>(),
        "outcomes": Outcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "message_states": MessageState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "protocol": {
            "ready_channel_prefix": crate::protocol::READY_CHANNEL_PREFIX,
            "completed_channel_prefix": crate::protocol::COMPLETED_CHANNEL_PREFIX,
            "cancelled_channel_prefix": crate::protocol::CANCELLED_CHANNEL_PREFIX,
            "room_channel_prefix": crate::protocol::ROOM_CHANNEL_PREFIX,
            "queues_channel": crate::protocol::QUEUES_CHANNEL,
            "notify_max_ids": crate::protocol::NOTIFY_MAX_IDS,
            "everything": crate::protocol::EVERYTHING,
        },
    });
    truths.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Backoff, ClientOptions, DeadLetterOptions, QueueOptions, ReceiveOptions, SendOptions};

    #[test]
    fn the_option_structs_default_to_the_table() {
        let q = QueueOptions::default();
        assert_eq!(
            (q.ack_deadline, q.max_delivery_attempts, q.retention_period, q.dead_letter_queue.is_some(), q.backoff.is_some()),
            (
                DEFAULTS.queue.ack_deadline,
                DEFAULTS.queue.max_delivery_attempts,
                DEFAULTS.queue.retention_period,
                DEFAULTS.queue.dead_letter_queue,
                DEFAULTS.queue.backoff
            )
        );
        let dlq = DeadLetterOptions::default();
        let t = DEFAULTS.dead_letter_queue;
        assert_eq!((dlq.ack_deadline, dlq.max_delivery_attempts, dlq.retention_period), (t.ack_deadline, t.max_delivery_attempts, t.retention_period));
        let b = Backoff::default();
        let t = DEFAULTS.backoff;
        assert_eq!((b.base, b.factor, b.max, b.jitter), (t.base, t.factor, t.max, t.jitter));
        assert_eq!(SendOptions::default().track, DEFAULTS.send.track);
        let r = ReceiveOptions::default();
        assert_eq!((r.batch_size, r.poll_interval), (DEFAULTS.receive.batch_size, DEFAULTS.receive.poll_interval));
        assert!(ReceiveOptions::checked_batch_size(DEFAULTS.receive.max_batch_size as i64).is_ok());
        assert!(ReceiveOptions::checked_batch_size(DEFAULTS.receive.max_batch_size as i64 + 1).is_err());
        let p = crate::peek::PeekOptions::default();
        assert_eq!((p.limit, p.filter.is_none(), p.state), (DEFAULTS.peek.limit, true, None));
        let c = ClientOptions::default();
        let t = DEFAULTS.client;
        assert_eq!(
            (c.pool_size, c.connect_timeout, c.statement_timeout, c.connect_retry, c.maintenance_interval),
            (t.pool_size, t.connect_timeout, t.statement_timeout, t.connect_retry, t.maintenance_interval)
        );
        assert_eq!((c.schema.as_str(), c.application_name.as_str()), (t.schema, t.application_name));
        assert!(t.application_name.starts_with(t.application_name_prefix));
    }

    #[test]
    fn the_limits_are_the_ones_enforced() {
        let l = DEFAULTS.limits;
        let name = "a".repeat(l.max_queue_name_len);
        assert!(crate::options::validate_queue_name(&name).is_ok());
        assert!(crate::options::validate_queue_name(&format!("{name}a")).is_err());
        assert!(crate::options::validate_schema_name(&"s".repeat(l.max_schema_name_len)).is_ok());
        assert!(crate::options::validate_schema_name(&"s".repeat(l.max_schema_name_len + 1)).is_err());
        let q = QueueOptions::default();
        assert!(q.clone().ack_deadline(l.min_ack_deadline).validate().is_ok());
        assert!(q.clone().ack_deadline(l.min_ack_deadline - Duration::from_millis(1)).validate().is_err());
        assert!(q.clone().max_delivery_attempts(l.max_delivery_attempts).validate().is_ok());
        assert!(q.clone().max_delivery_attempts(l.max_delivery_attempts + 1).validate().is_err());
        assert!(q.clone().retention_period(l.max_duration).validate().is_ok());
        assert!(q.retention_period(l.max_duration + Duration::from_secs(1)).validate().is_err());
    }

    #[test]
    fn outcome_all_lists_every_outcome_once() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            // No wildcard: a new outcome does not compile until it is placed in ALL.
            let index = match o {
                Outcome::Completed => 0,
                Outcome::DeadLettered => 1,
                Outcome::Cancelled => 2,
                Outcome::Expired => 3,
            };
            assert_eq!(index, i);
            assert_eq!(Outcome::parse(o.as_str()).unwrap(), o);
        }
    }

    #[test]
    fn truths_json_parses_and_holds_every_field() {
        let truths: serde_json::Value = serde_json::from_str(&truths_json()).expect("valid JSON");
        let ms = |d: Duration| serde_json::json!(d.as_millis() as u64);
        let d = &truths["defaults"];
        assert_eq!(d["queue"]["ack_deadline_ms"], ms(DEFAULTS.queue.ack_deadline));
        assert_eq!(d["queue"].as_object().unwrap().len(), 6);
        assert_eq!(d["queue"]["max_messages"], serde_json::Value::Null);
        assert_eq!(d["dead_letter_queue"].as_object().unwrap().len(), 3);
        assert_eq!(d["backoff"]["factor"], 2.0);
        assert_eq!(d["backoff"].as_object().unwrap().len(), 4);
        assert_eq!(d["send"]["track"], true);
        assert_eq!(d["send"]["wait_for_room_ms"], 30_000);
        assert_eq!(d["send"].as_object().unwrap().len(), 3);
        assert_eq!(d["request"]["timeout_ms"], 30_000);
        assert_eq!(d["receive"]["poll_interval_ms"], 30_000);
        assert_eq!(d["receive"].as_object().unwrap().len(), 3);
        assert_eq!(d["completion"]["poll_interval_ms"], 10_000);
        assert_eq!(d["peek"]["max_limit"], DEFAULTS.peek.max_limit);
        assert_eq!(d["client"]["schema"], "pgmq");
        assert_eq!(d["client"]["tcp_user_timeout_ms"], ms(DEFAULTS.client.tcp_user_timeout));
        assert_eq!(d["client"].as_object().unwrap().len(), 14);
        assert_eq!(truths["limits"]["max_send_bytes"], 1_000_000_000);
        assert_eq!(truths["limits"]["max_duration_ms"], ms(MAX_INTERVAL));
        assert_eq!(truths["limits"]["migrate_lock_timeout_ms"], 5_000);
        assert_eq!(truths["limits"]["max_messages"], i64::MAX);
        assert_eq!(truths["limits"]["max_group_len"], 255);
        assert_eq!(truths["limits"]["max_dependencies"], 10_000);
        assert_eq!(truths["limits"].as_object().unwrap().len(), 12);
        assert_eq!(truths["conventions"]["json_content_type"], "application/json");
        assert_eq!(truths["conventions"].as_object().unwrap().len(), 3);
        let codes: Vec<&str> = truths["error_codes"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ERROR_CODES.iter().map(|e| e.code).collect::<Vec<_>>());
        assert_eq!(truths["error_codes"][0].as_object().unwrap().len(), 3);
        assert_eq!(truths["outcomes"], serde_json::json!(["completed", "dead_lettered", "cancelled", "expired"]));
        assert_eq!(truths["message_states"], serde_json::json!(["ready", "scheduled", "leased", "lapsed", "waiting"]));
        assert_eq!(truths["protocol"]["everything"], "*");
        assert_eq!(
            truths["sqlstates"],
            serde_json::json!({"PQ001": "queue_not_found", "PQ002": "invalid_option", "PQ003": "queue_full"})
        );
        assert_eq!(truths.as_object().unwrap().len(), 8);
    }
}
