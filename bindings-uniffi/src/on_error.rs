//! `ReceiveErrorHandler`: a receiver's `onError`, implemented in Kotlin or Swift, and the hand-off that
//! calls it without holding up the runtime.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::error::PgmqError;

/// Told of each connection error a receiver recovered from (`ReceiveOptions.onError`). A receiver never
/// ends on a connection error (a dropped connection, `pg_terminate_backend`, a server restart): it
/// reports the error here and tries again after a capped, jittered pause (50 ms doubling to 5 s).
///
/// Called on a thread of pgmq's own, one report at a time, in the order the errors happened; a slow
/// handler delays only the reports after it, never a receiver. An exception it throws ends that call
/// only (uniffi hands it to Rust as a panic, printed to stderr): the receiver goes on. Kotlin:
/// `ReceiveErrorHandler { e -> ... }` makes one from a lambda.
#[uniffi::export(foreign)]
pub trait ReceiveErrorHandler: Send + Sync {
    /// The error, with the core's code (`PgmqException.Connection` / `PgmqError.Connection`); its
    /// `reason` never holds a password.
    fn on_error(&self, error: PgmqError);
}

/// A core `on_error` handler that queues each report for `handler`. The core reports from a runtime
/// thread: calling Kotlin or Swift there would let a handler that blocks (a log appender on a slow disk,
/// `runBlocking`) stall one of the two threads that also run every client's heartbeats. So the reports
/// go through a channel to a task that makes each call on tokio's blocking pool, one at a time; the task
/// ends, and lets the handler go, when the receiver drops its options.
pub(crate) fn report_to(handler: Arc<dyn ReceiveErrorHandler>) -> impl Fn(&pgmq_core::Error) + Send + Sync + 'static {
    let (reports, mut pending) = mpsc::unbounded_channel::<PgmqError>();
    crate::runtime().spawn(async move {
        while let Some(error) = pending.recv().await {
            let handler = handler.clone();
            // A Kotlin exception arrives here as a panic of uniffi's: it ends this call only.
            let _ = tokio::task::spawn_blocking(move || handler.on_error(error)).await;
        }
    });
    move |e| {
        // Fails only once the task is gone, i.e. never while the receiver that reports is alive.
        let _ = reports.send(e.clone().into());
    }
}
