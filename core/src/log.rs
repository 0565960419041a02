//! The core's log events, handed to the host language's logging.
//!
//! The core logs through `tracing` (a lost LISTEN connection, a failed heartbeat or housekeeping run, a
//! receiver retrying). A Rust program sees them through whatever `tracing` subscriber it installs. A
//! binding has no such subscriber: it calls [`forward_logs`] once with a sink that writes into Python's
//! `logging`, Node's warnings or `java.util.logging`, so that every language receives the same events at
//! the same levels.

use std::fmt::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The severity of a log event, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Something failed and was not retried (e.g. an `on_error` handler panicked).
    Error,
    /// Something failed and is being retried or worked around (a lost connection, a failed heartbeat).
    Warn,
    /// A notable, expected event (a migration applied).
    Info,
    /// Detail for diagnosing (a pool connection ended, a fallback taken).
    Debug,
    /// Finer detail still.
    Trace,
}

impl LogLevel {
    /// The lower-case name: `error`, `warn`, `info`, `debug`, `trace`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    fn of(level: &tracing::Level) -> LogLevel {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }
}

/// Where [`forward_logs`] sends each event: its level, its origin (the Rust module path, e.g.
/// `pgmq_core::listener`) and its text.
pub type LogSink = Arc<dyn Fn(LogLevel, &str, &str) + Send + Sync>;

/// Sends every log event of this process's copy of the core at `max_level` or more severe to `sink`, from
/// whichever thread emits it. Meant for a binding, once, at load: it installs the process-wide `tracing`
/// subscriber of the library it is linked into, and returns false (changing nothing) if one was already
/// installed. The sink must not block for long: it runs on the core's worker threads.
pub fn forward_logs(max_level: LogLevel, sink: LogSink) -> bool {
    tracing::subscriber::set_global_default(Forwarder { max_level, sink }).is_ok()
}

/// A `tracing` subscriber that keeps no spans (the core opens none) and hands each event's message and
/// fields, as one line, to a sink.
struct Forwarder {
    max_level: LogLevel,
    sink: LogSink,
}

impl Subscriber for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        LogLevel::of(metadata.level()) <= self.max_level
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(match self.max_level {
            LogLevel::Error => tracing::level_filters::LevelFilter::ERROR,
            LogLevel::Warn => tracing::level_filters::LevelFilter::WARN,
            LogLevel::Info => tracing::level_filters::LevelFilter::INFO,
            LogLevel::Debug => tracing::level_filters::LevelFilter::DEBUG,
            LogLevel::Trace => tracing::level_filters::LevelFilter::TRACE,
        })
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let metadata = event.metadata();
        (self.sink)(LogLevel::of(metadata.level()), metadata.target(), &line.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's `message`, followed by its other fields as ` name=value`.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn events_at_or_above_the_level_reach_the_sink_with_their_fields() {
        // Arrange: a sink that keeps what it is given (a scoped default, so other tests are unaffected).
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let sink: LogSink = Arc::new(move |level, target, text| {
            kept.lock().unwrap().push((level, target.to_owned(), text.to_owned()));
        });
        let forwarder = Forwarder { max_level: LogLevel::Info, sink };

        // Act
        tracing::subscriber::with_default(forwarder, || {
            tracing::warn!(queue = "jobs", "heartbeat failed: {}", "reset");
            tracing::info!("migration applied");
            tracing::debug!("not forwarded");
        });

        // Assert
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].0, LogLevel::Warn);
        assert_eq!(seen[0].1, "pgmq_core::log::tests");
        assert_eq!(seen[0].2, "heartbeat failed: reset queue=jobs");
        assert_eq!((seen[1].0, seen[1].2.as_str()), (LogLevel::Info, "migration applied"));
    }
}
