//! `LogHandler`: the core's log events (a lost LISTEN connection, a failed heartbeat or housekeeping
//! run, a receiver retrying, a migration applied) handed to Kotlin or Swift. Kotlin installs one that
//! writes to `java.util.logging` at its first `Client.connect`; Swift installs its own.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use pgmq_core::log::{forward_logs, LogLevel as CoreLevel};

use crate::handoff::Handoff;

/// The severity of a log event, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed and was not retried (an `onError` handler threw).
    Error,
    /// Something failed and is being retried or worked around (a lost connection, a failed heartbeat,
    /// a failed housekeeping run).
    Warn,
    /// A notable, expected event (a migration applied).
    Info,
    /// Detail for diagnosing (a pool connection ended, a fallback taken).
    Debug,
    /// Finer detail still.
    Trace,
}

impl From<CoreLevel> for LogLevel {
    fn from(level: CoreLevel) -> Self {
        match level {
            CoreLevel::Error => LogLevel::Error,
            CoreLevel::Warn => LogLevel::Warn,
            CoreLevel::Info => LogLevel::Info,
            CoreLevel::Debug => LogLevel::Debug,
            CoreLevel::Trace => LogLevel::Trace,
        }
    }
}

/// Receives the core's log events (every level: filter in `log`, where the host's logging knows what it
/// wants). Called on a thread of pgmq's own, one event at a time, in the order they happened; a slow
/// handler delays only the events after it, never a client. An exception it throws ends that call only
/// (printed to stderr).
#[uniffi::export(foreign)]
pub trait LogHandler: Send + Sync {
    /// One event: its level, its origin (the Rust module, e.g. `pgmq_core::listener`) and its text.
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// The handler events go to: `None` before any was set; `Some(None)` after `setLogHandler(null)`.
static HANDLER: Mutex<Option<Option<Arc<dyn LogHandler>>>> = Mutex::new(None);

fn handler() -> MutexGuard<'static, Option<Option<Arc<dyn LogHandler>>>> {
    // A panic while holding the lock leaves the value whole: recover the guard.
    HANDLER.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Installs the core's forwarding, once per process, the first time a handler is set: until then the
/// core formats no event at all.
fn forward() {
    static EVENTS: OnceLock<()> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let events = Handoff::new(|(level, target, message): (LogLevel, String, String)| {
            let current = handler().clone().flatten();
            if let Some(h) = current {
                h.log(level, target, message);
            }
        });
        // The events go through the hand-off only while a handler is set.
        let sink = move |level: CoreLevel, target: &str, message: &str| {
            if matches!(*handler(), Some(Some(_))) {
                events.send((level.into(), target.to_owned(), message.to_owned()));
            }
        };
        // False only if this library's copy of `tracing` already has a global subscriber, which nothing
        // but this function installs.
        let _ = forward_logs(CoreLevel::Trace, Arc::new(sink));
    });
}

/// Sends the core's log events, from now on, to `handler`, replacing the one set before (`null`: to
/// nobody). Kotlin sets one at the first `Client.connect` unless this was called before: see
/// `JavaLogging`; call this to send them elsewhere.
#[uniffi::export]
pub fn set_log_handler(handler: Option<Arc<dyn LogHandler>>) {
    *self::handler() = Some(handler);
    forward();
}

/// Sets `handler` as [`set_log_handler`] does, unless a handler was set before (by either function);
/// returns whether it did. For a language layer's default (Kotlin's `java.util.logging` handler), which
/// must not replace the application's own.
#[uniffi::export]
pub fn set_default_log_handler(handler: Arc<dyn LogHandler>) -> bool {
    {
        let mut current = self::handler();
        if current.is_some() {
            return false;
        }
        *current = Some(Some(handler));
    }
    forward();
    true
}
