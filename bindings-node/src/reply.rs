//! Replies: how a message finished and the result its worker gave it (`NativeReply`).

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A finished message's outcome and result: the core's `Reply`.
#[napi(object, object_from_js = false)]
pub struct NativeReply {
    /// How it finished: `completed`, `dead_lettered`, `cancelled` or `expired`.
    pub outcome: String,
    /// The result's bytes, or `null` when the worker gave none.
    pub result: Option<Buffer>,
    /// The result's content type, or `null` when unlabelled.
    pub content_type: Option<String>,
    /// Why it finished so, when pgmq knows (`dependency <id> was <outcome>`), or `null`.
    pub reason: Option<String>,
}

impl From<pgmq_core::Reply> for NativeReply {
    fn from(reply: pgmq_core::Reply) -> Self {
        NativeReply {
            outcome: reply.outcome().as_str().to_owned(),
            content_type: reply.content_type().map(str::to_owned),
            reason: reply.reason().map(str::to_owned),
            result: reply.into_result().map(Buffer::from),
        }
    }
}
