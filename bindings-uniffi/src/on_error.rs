//! `ReceiveErrorHandler`: a receiver's `onError`, implemented in Kotlin or Swift.

use std::sync::Arc;

use crate::error::PgmqError;
use crate::handoff::Handoff;

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

/// A core `on_error` handler that hands each report to `handler` ([`Handoff`]); the hand-off ends, and
/// lets the handler go, when the receiver drops its options.
pub(crate) fn report_to(handler: Arc<dyn ReceiveErrorHandler>) -> impl Fn(&pgmq_core::Error) + Send + Sync + 'static {
    let reports = Handoff::new(move |error: PgmqError| handler.on_error(error));
    move |e| reports.send(e.clone().into())
}
