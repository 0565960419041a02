//! The transactional send (outbox): the core's statements, which the JS layer hands with their values to
//! the application's own driver, and the SQLSTATEs pgmq's SQL functions raise, which it maps to error
//! classes. Nothing of either is written out in JS.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use pgmq_core::outbox::{OutboxKind, ParamStyle};
use serde_json::{Map, Value};

use crate::convert;
use crate::error::{invalid_option, IntoNapi};

/// The core's statement of `kind` (`send`, `send_json`, `send_batch`, `send_json_batch`) with `$n`
/// placeholders (node-postgres' style), for pgmq in `schema` (`null`: the default schema).
#[napi(catch_unwind)]
pub fn outbox_statement(kind: String, schema: Option<String>) -> Result<String> {
    let kind = OutboxKind::ALL
        .into_iter()
        .find(|k| k.function_name() == kind)
        .ok_or_else(|| invalid_option(format!("no outbox statement {kind:?}")))?;
    pgmq_core::outbox::statement(kind, schema.as_deref(), ParamStyle::Dollar).napi()
}

/// The SQLSTATEs of pgmq's SQL functions and the core's error code of each: `{ PQ001: 'queue_not_found' }`.
#[napi(catch_unwind, ts_return_type = "Record<string, string>")]
pub fn sqlstates() -> Value {
    let truths: Value = serde_json::from_str(&pgmq_core::truths_json()).unwrap_or_default();
    match truths.get("sqlstates") {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => Value::Object(Map::new()),
    }
}

/// `attributes` (an object of scalars) as the JSON object text the statements bind, written by the
/// core's writer of every send ([`pgmq_core::outbox::attributes_json`]), so a message sent through a
/// driver reads back as one sent by `queue.send`. `InvalidOptionError` for what a send refuses.
#[napi(catch_unwind, ts_args_type = "attributes: Record<string, string | number | boolean | null>")]
pub fn outbox_attributes_json(attributes: Value) -> Result<String> {
    let attributes = convert::attributes(Some(&attributes))?;
    pgmq_core::outbox::attributes_json(&attributes).napi()
}
