//! One error type with the core's stable codes as cases (Kotlin: `PgmqException.QueueNotFound`, ...;
//! Swift: `PgmqError.QueueNotFound`). The text field is `reason`: a field named `message` would clash
//! with Kotlin's `Throwable.message`.

use crate::types::Outcome;

/// Every failure pgmq reports, by the core's stable code.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PgmqError {
    /// The queue name is invalid (empty, too long, characters outside `[a-zA-Z0-9_-]`, or `dlq@` on create).
    #[error("{reason}")]
    InvalidQueueName {
        /// What is wrong.
        reason: String,
    },
    /// An option has a value the queue cannot accept.
    #[error("{reason}")]
    InvalidOption {
        /// What is wrong.
        reason: String,
    },
    /// There is no queue of that name.
    #[error("{reason}")]
    QueueNotFound {
        /// Which queue.
        reason: String,
    },
    /// The lease was lost (expired and redelivered, or the message is gone); nothing changed.
    #[error("{reason}")]
    LeaseLost {
        /// Which message.
        reason: String,
    },
    /// The message was already acked, nacked or released by this handle.
    #[error("{reason}")]
    AlreadyFinished {
        /// Which message.
        reason: String,
    },
    /// The message was sent without tracking, so its outcome cannot be awaited.
    #[error("{reason}")]
    NotTracked {
        /// Which message.
        reason: String,
    },
    /// The id is neither queued nor has an outcome recorded.
    #[error("{reason}")]
    MessageNotFound {
        /// Which message.
        reason: String,
    },
    /// A request (`queue.request()`) finished without a reply: it was dead-lettered, cancelled or
    /// expired instead of completed.
    #[error("{reason}")]
    RequestFailed {
        /// Which request, and how it finished.
        reason: String,
        /// The request message's id (a UUID).
        id: String,
        /// How it finished: dead-lettered, cancelled or expired (never completed).
        outcome: Outcome,
    },
    /// A bounded queue (`QueueOptions.maxMessages`) had no room for the whole send, at once
    /// (`waitForRoomMs = 0`, or the outbox's SQL send) or within the send's `waitForRoomMs`. Nothing was
    /// written; sending again once workers have finished messages may succeed (transient).
    #[error("{reason}")]
    QueueFull {
        /// Which queue, and how long the send waited.
        reason: String,
    },
    /// The `pgmq` schema is missing or outdated: call `migrate()`.
    #[error("{reason}")]
    SchemaMissing {
        /// Details.
        reason: String,
    },
    /// `migrate()` found a `pgmq` schema that is not pgmq's: it belongs to an extension (Tembo's pgmq,
    /// which Supabase Queues enables, uses the same name), or it holds objects but no
    /// `pgmq.schema_migrations`. Nothing was changed.
    #[error("{reason}")]
    SchemaConflict {
        /// The schema's owner, the extension or objects, and what to do.
        reason: String,
    },
    /// PostgreSQL could not be reached; retrying is safe.
    #[error("{reason}")]
    Connection {
        /// Details.
        reason: String,
    },
    /// The server did not answer in time: a lock wait hit `lock_timeout` (`migrate()` sets 5 s) or a
    /// statement hit `statement_timeout`. Nothing changed; running it again later is safe. Also a
    /// request (`queue.request()`) that got no reply within its timeout: the request was cancelled.
    #[error("{reason}")]
    Timeout {
        /// Details.
        reason: String,
    },
    /// PostgreSQL reported an error.
    #[error("{reason}")]
    Database {
        /// Details.
        reason: String,
    },
    /// The client (or receiver) was closed.
    #[error("{reason}")]
    Closed {
        /// Details.
        reason: String,
    },
    /// A bug in pgmq: a panic, caught and reported instead of crashing the process. The operation did
    /// not complete; whether it took effect is unknown. The process and other clients keep working.
    #[error("{reason}")]
    Internal {
        /// The panic's message.
        reason: String,
    },
}

impl From<pgmq_core::Error> for PgmqError {
    fn from(e: pgmq_core::Error) -> Self {
        use pgmq_core::Error as E;
        let reason = e.to_string();
        match e {
            E::InvalidQueueName { .. } => PgmqError::InvalidQueueName { reason },
            E::InvalidOption(_) => PgmqError::InvalidOption { reason },
            E::QueueNotFound(_) => PgmqError::QueueNotFound { reason },
            E::LeaseLost(_) => PgmqError::LeaseLost { reason },
            E::AlreadyFinished(_) => PgmqError::AlreadyFinished { reason },
            E::NotTracked(_) => PgmqError::NotTracked { reason },
            E::MessageNotFound(_) => PgmqError::MessageNotFound { reason },
            E::RequestFailed { id, outcome } => {
                PgmqError::RequestFailed { reason, id: id.to_string(), outcome: outcome.into() }
            }
            E::QueueFull(_) => PgmqError::QueueFull { reason },
            E::SchemaMissing(_) => PgmqError::SchemaMissing { reason },
            E::SchemaConflict(_) => PgmqError::SchemaConflict { reason },
            E::Connection(_) => PgmqError::Connection { reason },
            E::Timeout(_) => PgmqError::Timeout { reason },
            E::Closed => PgmqError::Closed { reason },
            E::Internal(_) => PgmqError::Internal { reason },
            // Database and anything the core adds later.
            _ => PgmqError::Database { reason },
        }
    }
}

impl PgmqError {
    /// An `InvalidOption` error.
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        PgmqError::InvalidOption { reason: reason.into() }
    }

    /// The case whose core code is `code` (one of `pgmq_core::ERROR_CODES`), with `reason`; `Database` for
    /// a code this library does not know, and for `request_failed`, whose case carries a request's id and
    /// outcome that a code in text does not (none arrives so). The inverse of [`PgmqError::code`] (the
    /// test below holds them to each other), for codes that arrive as text: the SQLSTATE map of the
    /// outbox.
    pub(crate) fn with_code(code: &str, reason: String) -> Self {
        match code {
            "invalid_queue_name" => PgmqError::InvalidQueueName { reason },
            "invalid_option" => PgmqError::InvalidOption { reason },
            "queue_not_found" => PgmqError::QueueNotFound { reason },
            "lease_lost" => PgmqError::LeaseLost { reason },
            "already_finished" => PgmqError::AlreadyFinished { reason },
            "not_tracked" => PgmqError::NotTracked { reason },
            "message_not_found" => PgmqError::MessageNotFound { reason },
            "queue_full" => PgmqError::QueueFull { reason },
            "schema_missing" => PgmqError::SchemaMissing { reason },
            "schema_conflict" => PgmqError::SchemaConflict { reason },
            "connection" => PgmqError::Connection { reason },
            "timeout" => PgmqError::Timeout { reason },
            "closed" => PgmqError::Closed { reason },
            "internal" => PgmqError::Internal { reason },
            _ => PgmqError::Database { reason },
        }
    }

    /// The core's code of this case: the variant of `pgmq_core::Error` it is made from (the test below
    /// holds the two maps to each other).
    fn code(&self) -> &'static str {
        match self {
            PgmqError::InvalidQueueName { .. } => "invalid_queue_name",
            PgmqError::InvalidOption { .. } => "invalid_option",
            PgmqError::QueueNotFound { .. } => "queue_not_found",
            PgmqError::LeaseLost { .. } => "lease_lost",
            PgmqError::AlreadyFinished { .. } => "already_finished",
            PgmqError::NotTracked { .. } => "not_tracked",
            PgmqError::MessageNotFound { .. } => "message_not_found",
            PgmqError::RequestFailed { .. } => "request_failed",
            PgmqError::QueueFull { .. } => "queue_full",
            PgmqError::SchemaMissing { .. } => "schema_missing",
            PgmqError::SchemaConflict { .. } => "schema_conflict",
            PgmqError::Connection { .. } => "connection",
            PgmqError::Timeout { .. } => "timeout",
            PgmqError::Database { .. } => "database",
            PgmqError::Closed { .. } => "closed",
            PgmqError::Internal { .. } => "internal",
        }
    }
}

#[uniffi::export]
impl PgmqError {
    /// The core's stable snake_case code of this error (`queue_not_found`, `connection`, ...: one of
    /// `errorCodes()`), the same in every language. Kotlin: the property `code`.
    pub fn error_code(&self) -> String {
        self.code().to_owned()
    }

    /// Whether trying again later may succeed: `Connection` or `Timeout` (receivers retry these by
    /// themselves), or `QueueFull` (once workers have made room).
    pub fn is_transient(&self) -> bool {
        pgmq_core::ERROR_CODES.iter().any(|e| e.code == self.code() && e.transient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgmq_core::{Error as E, Uuid};

    #[test]
    fn every_core_error_keeps_its_code_and_every_code_has_a_case() {
        let id = Uuid::nil();
        let s = || "x".to_owned();
        let core = [
            E::InvalidQueueName { name: s(), reason: s() },
            E::InvalidOption(s()),
            E::QueueNotFound(s()),
            E::LeaseLost(id),
            E::AlreadyFinished(id),
            E::NotTracked(id),
            E::MessageNotFound(id),
            E::RequestFailed { id, outcome: pgmq_core::Outcome::DeadLettered },
            E::QueueFull(s()),
            E::SchemaMissing(s()),
            E::SchemaConflict(s()),
            E::Connection(s()),
            E::Timeout(s()),
            E::Database(s()),
            E::Closed,
            E::Internal(s()),
        ];
        for e in &core {
            let ours = PgmqError::from(e.clone());
            assert_eq!(ours.error_code(), e.code(), "{e:?}");
            if !matches!(e, E::RequestFailed { .. }) {
                assert_eq!(PgmqError::with_code(e.code(), s()).error_code(), e.code(), "with_code({})", e.code());
            }
            assert_eq!(ours.is_transient(), e.is_transient(), "{e:?}");
        }
        match PgmqError::from(E::RequestFailed { id, outcome: pgmq_core::Outcome::Expired }) {
            PgmqError::RequestFailed { id: which, outcome, .. } => {
                assert_eq!((which, outcome), (id.to_string(), Outcome::Expired), "the id and outcome are kept");
            }
            other => panic!("expected RequestFailed, got {other:?}"),
        }
        let codes: Vec<&str> = core.iter().map(E::code).collect();
        let table: Vec<&str> = pgmq_core::ERROR_CODES.iter().map(|e| e.code).collect();
        assert_eq!(codes, table, "one core error of each code, in the table's order");
    }
}
