//! The core's one table of defaults and limits (`pgmq_core::DEFAULTS`), its error codes
//! (`pgmq_core::ERROR_CODES`) and the names of its outcomes and message states, as JS values that the
//! JS layer reads instead of writing a number, a code or a name out again; `truthsJson()` is the core's
//! own rendering of all of them, which the tests compare these with.
//!
//! JS names: the core's field in lowerCamelCase, durations in milliseconds under a name ending in `Ms`
//! (`DEFAULTS.queue.ackDeadlineMs`), as in Kotlin and Swift. The core's structs are `#[non_exhaustive]`,
//! so a field it adds is not a compile error here: the test comparing `defaults()` with `truthsJson()`
//! fails instead.

use std::time::Duration;

use napi_derive::napi;
use pgmq_core::{MessageState, Outcome, DEFAULTS, ERROR_CODES};
use serde_json::{Map, Value};

use crate::convert::millis;

/// A value of the table under its JS name.
trait Entry {
    fn entry(self, field: &str) -> (String, Value);
}

impl Entry for Duration {
    fn entry(self, field: &str) -> (String, Value) {
        (format!("{}Ms", camel(field)), Value::from(millis(self)))
    }
}

macro_rules! plain_entry {
    ($($t:ty),+) => {$(
        impl Entry for $t {
            fn entry(self, field: &str) -> (String, Value) {
                (camel(field), Value::from(self))
            }
        }
    )+};
}
plain_entry!(bool, u32, usize, f64, &'static str);

/// A JS number is a double: a count past 2^53 (`limits.max_messages`, 2^63 - 1) is the nearest double,
/// as `JSON.parse` reads the core's rendering, rather than a `BigInt` no option takes.
impl Entry for u64 {
    fn entry(self, field: &str) -> (String, Value) {
        (camel(field), Value::from(self as f64))
    }
}

/// An optional count (`queue.max_messages`): `null` for none.
impl Entry for Option<u64> {
    fn entry(self, field: &str) -> (String, Value) {
        match self {
            Some(n) => n.entry(field),
            None => (camel(field), Value::Null),
        }
    }
}

/// `snake_case` as `lowerCamelCase`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// One section of the table as an object named by the core's fields.
macro_rules! section {
    ($section:expr; $($field:ident),+ $(,)?) => {{
        let mut map = Map::new();
        $(
            let (name, value) = Entry::entry($section.$field, stringify!($field));
            map.insert(name, value);
        )+
        Value::Object(map)
    }};
}

/// `pgmq_core::DEFAULTS`: `{ queue: { ackDeadlineMs, ... }, ..., limits: {...}, conventions: {...} }`.
#[napi(catch_unwind, ts_return_type = "Record<string, Record<string, number | boolean | string | null>>")]
pub fn defaults() -> Value {
    let d = DEFAULTS;
    let mut table = Map::new();
    let mut add = |name: &str, section: Value| table.insert(camel(name), section);
    add(
        "queue",
        section!(d.queue;
            ack_deadline, max_delivery_attempts, retention_period, dead_letter_queue, backoff, max_messages,
        ),
    );
    add(
        "dead_letter_queue",
        section!(d.dead_letter_queue; ack_deadline, max_delivery_attempts, retention_period),
    );
    add("backoff", section!(d.backoff; base, factor, max, jitter));
    add("send", section!(d.send; track, wait_for_room, room_poll_interval));
    add("receive", section!(d.receive; batch_size, max_batch_size, poll_interval));
    add("completion", section!(d.completion; poll_interval));
    add("request", section!(d.request; timeout));
    add("peek", section!(d.peek; limit, max_limit));
    add(
        "client",
        section!(d.client;
            pool_size, connect_timeout, statement_timeout, connect_retry, maintenance_interval, schema,
            application_name, application_name_prefix, keepalives_idle, keepalives_interval, keepalives_count,
            tcp_user_timeout, reconnect_backoff_min, reconnect_backoff_max,
        ),
    );
    add(
        "limits",
        section!(d.limits;
            max_send_bytes, max_queue_name_len, max_schema_name_len, max_filter_depth, min_ack_deadline,
            max_delivery_attempts, max_duration, notify_max_ids, max_messages, migrate_lock_timeout, max_group_len,
            max_dependencies,
        ),
    );
    add("conventions", section!(d.conventions; dlq_prefix, content_type_attribute, json_content_type));
    Value::Object(table)
}

/// One row of `pgmq_core::ERROR_CODES`.
#[napi(object, object_from_js = false)]
pub struct NativeErrorCode {
    /// The stable code, e.g. `queue_not_found`.
    pub code: String,
    /// Whether trying again later may succeed.
    pub transient: bool,
    /// One line for people.
    pub description: String,
}

/// `pgmq_core::ERROR_CODES`, in the core's order.
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<NativeErrorCode> {
    ERROR_CODES
        .iter()
        .map(|e| NativeErrorCode { code: e.code.to_owned(), transient: e.transient, description: e.description.to_owned() })
        .collect()
}

/// The names of the outcomes (`Outcome::ALL`), in the core's order.
#[napi(catch_unwind)]
pub fn outcome_names() -> Vec<String> {
    Outcome::ALL.iter().map(|o| o.as_str().to_owned()).collect()
}

/// The names of the message states (`MessageState::ALL`), in the core's order.
#[napi(catch_unwind)]
pub fn message_state_names() -> Vec<String> {
    MessageState::ALL.iter().map(|s| s.as_str().to_owned()).collect()
}

/// Test hook, not API: `pgmq_core::truths_json()`, the core's own rendering of the table, the error
/// codes and the names, which the tests compare what the package shows with.
#[napi(catch_unwind)]
pub fn truths_json() -> String {
    pgmq_core::truths_json()
}
