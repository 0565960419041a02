//! pgmq for Kotlin and Swift: the uniffi layer over `pgmq-core` (proc-macros, no UDL).
//!
//! Everything here converts types; the queue lives in the core. Async exports are polled on tokio
//! (`async_runtime = "tokio"`), and each one runs its work as a task on this library's own
//! multi-threaded runtime ([`run`]), which also runs every client's background tasks. Dropping the
//! foreign future (a cancelled Kotlin coroutine) aborts that task, and the core's cancel-safety then
//! releases whatever it had leased.

mod client;
mod error;
mod message;
mod on_error;
mod queue;
mod types;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

pub use client::Client;
pub use error::PgmqError;
pub use message::{Lease, Message, Receiver};
pub use on_error::ReceiveErrorHandler;
pub use queue::{Queue, SentBatch, SentMessage};
pub use types::{
    default_client_options, max_filter_depth, AttributeValue, ClientOptions, DeadLetterQueueOptions, Filter,
    NackOptions, Outcome, OutgoingMessage, QueueOptions, QueueStats, ReceiveOptions, SendOptions,
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
