//! What `queue.peek()` takes and returns: its options, and a copy of each message's row, read without
//! leasing it.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use pgmq_core::{MessageState, PeekOptions};
use serde_json::Value;

use crate::convert::{attributes_to_js, epoch_ms, whole};
use crate::error::IntoNapi;

/// What a peek reads (its filter is passed beside it, as a native `Filter`).
#[napi(object)]
pub struct NativePeekOptions {
    /// Most messages returned (default and bounds: the core's `DEFAULTS.peek`).
    pub limit: Option<f64>,
    /// Only messages in this state: `ready`, `scheduled`, `leased`, `lapsed` or `waiting`.
    pub state: Option<String>,
}

/// The core's options for these; `invalid_option` for a limit out of bounds or an unknown state.
pub(crate) fn peek_options(o: Option<NativePeekOptions>) -> Result<PeekOptions> {
    let mut options = PeekOptions::default();
    let Some(o) = o else { return Ok(options) };
    if let Some(n) = o.limit {
        let n = whole(n, "limit", i64::MIN as f64, i64::MAX as f64)?;
        options = options.limit(PeekOptions::checked_limit(n).napi()?);
    }
    if let Some(state) = o.state {
        options = options.state(MessageState::parse(&state).napi()?);
    }
    Ok(options)
}

/// A message as a peek read it: a copy of its row, holding no lease.
#[napi(object, object_from_js = false)]
pub struct NativePeekedMessage {
    /// The message id.
    pub id: String,
    /// The queue it was read from.
    pub queue: String,
    /// The payload.
    pub body: Buffer,
    /// Its attributes (`null` when none).
    pub attributes: Value,
    /// Where it stood when read: `ready`, `scheduled`, `leased`, `lapsed` or `waiting`.
    pub state: String,
    /// Deliveries so far (leases taken, a current one included).
    pub delivery_attempts: u32,
    /// When it was sent, ms since the epoch.
    pub sent_at_ms: f64,
    /// When it became or becomes ready (for a leased message, when its lease expires; for a waiting one,
    /// 9999-12-31T23:59:59Z), ms since the epoch.
    pub available_at_ms: f64,
    /// The error of the last failed attempt, or `null`.
    pub last_error: Option<String>,
    /// In a DLQ: the attempts used in the original queue, or `null`.
    pub dead_letter_attempts: Option<u32>,
}

impl From<pgmq_core::PeekedMessage> for NativePeekedMessage {
    fn from(m: pgmq_core::PeekedMessage) -> Self {
        NativePeekedMessage {
            id: m.id.to_string(),
            queue: m.queue,
            body: m.body.into(),
            attributes: if m.attributes.is_empty() { Value::Null } else { attributes_to_js(&m.attributes) },
            state: m.state.as_str().to_owned(),
            delivery_attempts: m.delivery_attempts,
            sent_at_ms: epoch_ms(m.sent_at),
            available_at_ms: epoch_ms(m.available_at),
            last_error: m.last_error,
            dead_letter_attempts: m.dead_letter_attempts,
        }
    }
}
