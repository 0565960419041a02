//! The core's log events in JS: `forwardLogs(callback)`, called by the JS layer as it loads, hands each
//! event (a lost LISTEN connection, a failed heartbeat, a migration applied) to `callback` on the JS
//! thread; `setLogLevel` says which levels JS wants.
//!
//! The core logs on whichever thread it runs: the sink only queues a call to the JS thread, never
//! waiting (an unbounded queue), and the callback is weak, like an `unref()`ed handle, so it never keeps
//! Node alive. The core's forwarding is process-wide while each JS environment (the main thread, each
//! worker thread) loads the addon anew: events go to the first environment that registered and still
//! exists.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Once};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pgmq_core::log::LogLevel;

use crate::error::invalid_option;

/// One log event of the core.
#[napi(object, object_from_js = false)]
pub struct LogEvent {
    /// `error`, `warn`, `info` or `debug`.
    pub level: String,
    /// Where it comes from: the Rust module (`pgmq_core::listener`, ...).
    pub target: String,
    /// What happened, one line.
    pub message: String,
}

type LogCallback = ThreadsafeFunction<LogEvent, Unknown<'static>, LogEvent, Status, false, true>;

static CALLBACKS: Mutex<Vec<LogCallback>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
/// The least severe level JS wants (a [`rank`]): warnings and errors until a logger asks for more.
static LEVEL: AtomicU8 = AtomicU8::new(1);

/// 0 for the most severe level. `trace` is never forwarded (the per-wake-up detail of receivers).
fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 0,
        LogLevel::Warn => 1,
        LogLevel::Info => 2,
        LogLevel::Debug => 3,
        LogLevel::Trace => 4,
    }
}

/// Registers `callback(event)` for the core's log events, and installs the core's forwarding the
/// first time (once per process).
#[napi(ts_args_type = "callback: (event: LogEvent) => void", catch_unwind)]
pub fn forward_logs(callback: LogCallback) {
    CALLBACKS.lock().unwrap_or_else(|p| p.into_inner()).push(callback);
    INSTALL.call_once(|| {
        // `false`: this copy of the core already forwards elsewhere; nothing reaches JS then.
        let _ = pgmq_core::log::forward_logs(LogLevel::Debug, Arc::new(sink));
    });
}

/// Forwards events from `level` up in severity: `error`, `warn`, `info` or `debug`.
#[napi(ts_args_type = "level: 'error' | 'warn' | 'info' | 'debug'", catch_unwind)]
pub fn set_log_level(level: String) -> Result<()> {
    let rank = match level.as_str() {
        "error" => 0,
        "warn" => 1,
        "info" => 2,
        "debug" => 3,
        other => return Err(invalid_option(format!("unknown log level {other:?}"))),
    };
    LEVEL.store(rank, Ordering::Relaxed);
    Ok(())
}

fn sink(level: LogLevel, target: &str, text: &str) {
    if rank(level) > LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let mut callbacks = CALLBACKS.lock().unwrap_or_else(|p| p.into_inner());
    while let Some(first) = callbacks.first() {
        let event = LogEvent { level: level.as_str().to_owned(), target: target.to_owned(), message: text.to_owned() };
        if first.call(event, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok {
            return;
        }
        // Its environment is gone (a worker thread that ended): the next one takes the events.
        callbacks.remove(0);
    }
}
