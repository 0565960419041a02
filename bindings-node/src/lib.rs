//! The napi-rs addon behind the npm package `pgmq`: native classes over `pgmq-core`.
//!
//! The addon converts types and nothing more; the public JavaScript API (`connect`, `Queue`, async
//! iterators, `AbortSignal`, typed error classes, serializers) is the thin layer in
//! `bindings-node/index.cjs`, which hands out two native classes as they are: `Filter` and
//! `AttributeCondition` (`Attribute(key)`), the core's filters. Every default, limit, error code and
//! name the JS layer uses is the core's, read through [`defaults`]. Every native promise runs on napi's
//! tokio runtime, which is also the runtime of every client's background tasks (LISTEN connection,
//! heartbeats, ack batching); the core's log events reach JS through [`log`].
//!
//! Errors cross as JS `Error`s whose message starts with `[pgmq:<code>] `, `<code>` being the core's
//! stable [`pgmq_core::Error::code`]; the JS layer turns them into `PgmqError` subclasses. A panic never
//! crosses: every synchronous export is `#[napi(catch_unwind)]` and napi catches the panics of async
//! ones; either way the JS error has no `[pgmq:...]` prefix, and the JS layer makes it an
//! `InternalError` (code `internal`).

mod client;
mod convert;
mod defaults;
mod error;
mod filter;
mod group;
mod log;
mod message;
mod outbox;
mod peek;
mod queue;
mod receiver;
mod reply;
mod stop;

use napi_derive::napi;

/// The name of the dead-letter queue created with queue `name`: `dlq@<name>`.
#[napi(catch_unwind)]
pub fn get_dlq_name(name: String) -> String {
    pgmq_core::dlq_name(&name)
}

/// Whether `message.json()` reads a body labelled with this `content-type` attribute as JSON (`null`:
/// none, or not a string): the core's one rule, the same in every language.
#[napi(catch_unwind)]
pub fn is_json_content_type(content_type: Option<String>) -> bool {
    pgmq_core::is_json_content_type(content_type.as_deref())
}

/// Test hook, not API: panics in this call, so tests can prove a panic becomes an `InternalError`
/// (`#[napi(catch_unwind)]`, as on every synchronous export) and the process goes on.
#[napi(catch_unwind)]
pub fn panic_for_tests() {
    panic!("pgmq test hook: a panic in a synchronous call");
}

/// Test hook, not API: panics in a task on the runtime; the promise rejects (napi catches panics of
/// async exports) and the JS layer makes that an `InternalError`.
#[napi]
pub async fn panic_for_tests_async() -> napi::Result<()> {
    panic!("pgmq test hook: a panic in a task on the runtime");
}
