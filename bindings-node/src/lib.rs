//! The napi-rs addon behind the npm package `pgmq`: native classes over `pgmq-core`.
//!
//! The addon converts types and nothing more; the public JavaScript API (`connect`, `Queue`, async
//! iterators, `AbortSignal`, typed error classes) is the thin layer in `bindings-node/index.cjs`. Every
//! native promise runs on napi's tokio runtime, which is also the runtime of every client's background
//! tasks (LISTEN connection, heartbeats, ack batching).
//!
//! Errors cross as JS `Error`s whose message starts with `[pgmq:<code>] `, `<code>` being the core's
//! stable [`pgmq_core::Error::code`]; the JS layer turns them into `PgmqError` subclasses.

mod client;
mod convert;
mod error;
mod message;
mod queue;
mod receiver;

use napi_derive::napi;

/// The name of the dead-letter queue created with queue `name`: `dlq@<name>`.
#[napi]
pub fn get_dlq_name(name: String) -> String {
    pgmq_core::dlq_name(&name)
}
