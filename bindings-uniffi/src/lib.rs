//! pgmq for Kotlin and Swift: the uniffi layer over `pgmq-core` (proc-macros, no UDL).
//!
//! Everything here converts types; the queue lives in the core. Async exports are polled on tokio
//! (`async_runtime = "tokio"`), and each one runs its work as a task on this library's own
//! multi-threaded runtime ([`run`]), which also runs every client's background tasks. Dropping the
//! foreign future (a cancelled Kotlin coroutine) aborts that task, and the core's cancel-safety then
//! releases whatever it had leased. A result is another matter: uniffi hands it over in foreign form
//! once the task has finished, and a coroutine cancelled in that moment drops it unread, with any
//! handle in it; so what returns leases (`Receiver.next`) is interrupted, not cancelled, by the Kotlin
//! layer (see [`Interrupt`]).

mod client;
mod error;
mod handoff;
mod log;
mod message;
mod on_error;
mod outbox;
mod peek;
mod queue;
mod receiver;
mod truths;
mod types;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

pub use client::Client;
pub use error::PgmqError;
pub use log::{set_default_log_handler, set_log_handler, LogHandler, LogLevel};
pub use message::{Lease, Message};
pub use on_error::ReceiveErrorHandler;
pub use outbox::{attributes_json, outbox_error, outbox_sqlstates, outbox_statement, OutboxKind, ParamStyle};
pub use peek::{MessageState, PeekOptions, PeekedMessage};
pub use queue::{Queue, Reply, SentBatch, SentMessage};
pub use receiver::{Interrupt, Receiver};
pub use truths::{
    defaults, error_codes, truths_json, BackoffDefaults, ClientDefaults, CompletionDefaults, Conventions,
    DeadLetterDefaults, Defaults, ErrorCode, Limits, PeekDefaults, QueueDefaults, ReceiveDefaults, RequestDefaults,
    SendDefaults,
};
pub use types::{
    default_client_options, max_filter_depth, AttributeValue, Backoff, ClientOptions, DeadLetterQueueOptions,
    Filter, GroupStats, NackOptions, Outcome, OutgoingMessage, QueueInfo, QueueOptions, QueueOverview, QueueStats,
    ReceiveOptions, SendOptions,
};

uniffi::setup_scaffolding!();

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pgmq")
            .enable_all()
            .build()
            .expect("the pgmq runtime starts")
    })
}

/// Aborts the task when the awaiting future is dropped (the caller was cancelled).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on the library's runtime and waits for it; cancelling the wait cancels the work. A panic
/// in it is `PgmqError::Internal`.
pub(crate) async fn run<T, F>(work: F) -> Result<T, PgmqError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, PgmqError>> + Send + 'static,
{
    let mut task = AbortOnDrop(runtime().spawn(work));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(pgmq_core::Error::from_panic(&*e.into_panic()).into()),
        Err(e) => Err(PgmqError::Closed { reason: format!("task ended: {e}") }),
    }
}

/// Runs the body of a synchronous export that returns a `PgmqError`, a panic becoming
/// `PgmqError::Internal`. (Any other panic is caught by uniffi itself: Kotlin's `InternalException`,
/// Swift's `UniffiInternalError`; it never crosses the FFI.)
pub(crate) fn guard<T>(body: impl FnOnce() -> Result<T, PgmqError>) -> Result<T, PgmqError> {
    std::panic::catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(pgmq_core::Error::from_panic(&*panic).into()))
}

/// The name of the dead-letter queue created with queue `name`: `dlq@<name>`.
#[uniffi::export]
pub fn dlq_name(name: String) -> String {
    pgmq_core::dlq_name(&name)
}

/// The DSN with its password masked (`postgres://app:***@db/orders`, `password=***`), for logging a
/// DSN; one that does not parse is `<unparsable DSN>`, since where its password is cannot be known.
#[uniffi::export]
pub fn redact_dsn(dsn: String) -> String {
    pgmq_core::redact_dsn(&dsn)
}

/// Checks a queue name as every call taking one does: a plain name (`^[a-zA-Z0-9_-]{1,48}$`) or a
/// dead-letter queue's `dlq@<name>`; `InvalidQueueName` otherwise. For callers that check early (a name
/// read from configuration).
#[uniffi::export]
pub fn validate_queue_name(name: String) -> Result<(), PgmqError> {
    guard(|| Ok(pgmq_core::validate_queue_name(&name)?))
}

/// Checks a name for `createQueue`: a plain name only (`dlq@` is reserved for dead-letter queues);
/// `InvalidQueueName` otherwise.
#[uniffi::export]
pub fn validate_new_queue_name(name: String) -> Result<(), PgmqError> {
    guard(|| Ok(pgmq_core::validate_new_queue_name(&name)?))
}

/// Checks a name for `ClientOptions.schema`: a lower-case identifier of at most 63 bytes, not starting
/// with `pg_`; `InvalidOption` otherwise.
#[uniffi::export]
pub fn validate_schema_name(name: String) -> Result<(), PgmqError> {
    guard(|| Ok(pgmq_core::validate_schema_name(&name)?))
}

/// Whether a message whose `content-type` attribute is `contentType` (`null`: absent, or not a string)
/// may be read as JSON (Kotlin's `message.json()`): no label, `application/json` with or without
/// parameters, or an `application/…+json` type; case-insensitive. The core's one rule, the same in
/// every language.
#[uniffi::export]
pub fn is_json_content_type(content_type: Option<String>) -> bool {
    pgmq_core::is_json_content_type(content_type.as_deref())
}

/// Test hook, not API: panics, inside [`guard`] (`guarded`: `PgmqError.Internal`) or not (uniffi's
/// `InternalException`), so tests can prove a panic never crashes the process.
#[uniffi::export]
pub fn panic_for_tests(guarded: bool) -> Result<(), PgmqError> {
    if guarded {
        guard(|| panic!("pgmq test hook: a panic in a synchronous call"))
    } else {
        panic!("pgmq test hook: a panic uniffi catches")
    }
}

/// Test hook, not API: panics in a task on the library's runtime (`PgmqError.Internal`).
#[uniffi::export(async_runtime = "tokio")]
pub async fn panic_for_tests_async() -> Result<(), PgmqError> {
    run(async {
        panic!("pgmq test hook: a panic in a task on the runtime");
        #[allow(unreachable_code)]
        Ok(())
    })
    .await
}
