//! The one error type of pgmq. Every binding maps it by [`Error::code`], which never changes meaning.

use uuid::Uuid;

use crate::options::Outcome;

/// Everything that can go wrong in pgmq.
///
/// Match on the variant in Rust; in other languages match on [`Error::code`], a stable snake_case string
/// that the Python, Node, Kotlin and Swift bindings carry on their own error types.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A queue name does not match `^[a-zA-Z0-9_-]{1,48}$` (or uses the reserved `dlq@` prefix where a
    /// plain name is required). Nothing was written.
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An option or argument is out of range or malformed (a batch size of 0, an ack deadline under one
    /// second, a NaN attribute...). Nothing was written.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// No queue has this name.
    #[error("queue not found: there is no queue named {0:?}")]
    QueueNotFound(String),
    /// The lease on this message was lost (it expired and the message went to another worker, or it was
    /// dead-lettered): the ack, nack or extend changed nothing.
    #[error("lease lost on message {0}: it expired and was redelivered, or the message is gone")]
    LeaseLost(Uuid),
    /// The message was already acked or nacked through this handle.
    #[error("message {0} was already finished (acked or nacked)")]
    AlreadyFinished(Uuid),
    /// Completion was asked of a message sent with `track = false`: it leaves no outcome record.
    #[error("message {0} was sent without tracking, so its outcome is not recorded")]
    NotTracked(Uuid),
    /// Completion was asked of a message that is neither queued nor has an outcome record (it never
    /// existed, was untracked, or its record was pruned after the retention period).
    #[error("message {0} not found: not queued and no outcome recorded")]
    MessageNotFound(Uuid),
    /// A request ([`crate::Queue::request`]) finished without a reply: it was dead-lettered, cancelled
    /// or expired rather than completed.
    #[error("request {id} got no reply: it was {outcome}")]
    RequestFailed {
        /// The request message's id.
        id: Uuid,
        /// How it finished (never [`Outcome::Completed`]).
        outcome: Outcome,
    },
    /// A bounded queue ([`crate::QueueOptions::max_messages`]) had no room for the whole send, at once or
    /// within [`crate::SendOptions::wait_for_room`]. Nothing was written; sending again once workers
    /// have finished messages may succeed.
    #[error("queue full: {0}")]
    QueueFull(String),
    /// The `pgmq` schema is missing or older than this library: run [`crate::Client::migrate`].
    #[error("the pgmq schema is missing or outdated ({0}); run migrate() first")]
    SchemaMissing(String),
    /// [`crate::Client::migrate`] found a `pgmq` schema that is not this library's: it belongs to an
    /// extension (Tembo's pgmq extension, which Supabase Queues enables, uses the same schema name), or it
    /// holds objects but no `pgmq.schema_migrations` table. The message names the schema's owner and the
    /// extension or objects, and what to do. Nothing was changed.
    #[error("schema conflict: {0}")]
    SchemaConflict(String),
    /// The server could not be reached, refused the login, or the connection broke.
    #[error("connection error: {0}")]
    Connection(String),
    /// The server did not answer in time: a lock wait hit `lock_timeout` (SQLSTATE 55P03; `migrate` sets
    /// one of 5 s for its own transaction) or a statement hit `statement_timeout` (57014, when the server
    /// says so in English; other cancellations stay [`Error::Database`]). The statement failed and its
    /// transaction rolled back: nothing changed, and running it again later is safe. Also a
    /// [`crate::Queue::request`] that got no reply in time: the request was cancelled.
    #[error("timeout: {0}")]
    Timeout(String),
    /// PostgreSQL reported an error that is not one of the above.
    #[error("database error: {0}")]
    Database(String),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// A bug in pgmq: a panic, caught where it would have crossed into another language (or out of a
    /// background task) and reported instead of crashing the process. The operation did not complete;
    /// whether it had already taken effect is unknown. The process, and other clients, keep working.
    #[error("internal error (a bug in pgmq, please report it): {0}")]
    Internal(String),
}

impl Error {
    /// The stable, language-neutral code of this error, e.g. `"queue_not_found"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidQueueName { .. } => "invalid_queue_name",
            Error::InvalidOption(_) => "invalid_option",
            Error::QueueNotFound(_) => "queue_not_found",
            Error::LeaseLost(_) => "lease_lost",
            Error::AlreadyFinished(_) => "already_finished",
            Error::NotTracked(_) => "not_tracked",
            Error::MessageNotFound(_) => "message_not_found",
            Error::RequestFailed { .. } => "request_failed",
            Error::QueueFull(_) => "queue_full",
            Error::SchemaMissing(_) => "schema_missing",
            Error::SchemaConflict(_) => "schema_conflict",
            Error::Connection(_) => "connection",
            Error::Timeout(_) => "timeout",
            Error::Database(_) => "database",
            Error::Closed => "closed",
            Error::Internal(_) => "internal",
        }
    }

    /// The [`Error::Internal`] for a caught panic, carrying the panic's message. For the bindings, which
    /// catch panics (`std::panic::catch_unwind`, a panicked task's `JoinError::into_panic`) at the
    /// language boundary.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let text = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_owned()
        };
        Error::Internal(text)
    }

    /// Whether trying again later may succeed: the connection broke or the server could not be reached
    /// ([`Error::Connection`]), or the server or the pool was too busy to answer in time
    /// ([`Error::Timeout`]), or a bounded queue was full ([`Error::QueueFull`]). Receivers retry the first
    /// two by themselves.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Connection(_) | Error::Timeout(_) | Error::QueueFull(_))
    }

    /// The SQLSTATE of a server error, kept at the end of its text (`"... (40P01)"`).
    pub(crate) fn sqlstate(&self) -> Option<&str> {
        let text = match self {
            Error::Database(m) | Error::Connection(m) | Error::Timeout(m) | Error::SchemaMissing(m) => m,
            _ => return None,
        };
        let code = text.strip_suffix(')')?.rsplit_once('(')?.1;
        (code.len() == 5 && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
    }

    pub(crate) fn invalid_option(msg: impl Into<String>) -> Self {
        Error::InvalidOption(msg.into())
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if let Some(e) = from_pgmq_sqlstate(code.code(), db.message()) {
                return e;
            }
            let text = format!("{} ({})", db.message(), code.code());
            if *code == SqlState::UNDEFINED_TABLE
                || *code == SqlState::INVALID_SCHEMA_NAME
                || *code == SqlState::UNDEFINED_FUNCTION
            {
                return Error::SchemaMissing(text);
            }
            // 55P03: lock_timeout ran out (or a NOWAIT lock was refused, which pgmq never asks for);
            // 57014: a cancelled statement, a timeout only when statement_timeout cancelled it.
            if *code == SqlState::LOCK_NOT_AVAILABLE
                || (*code == SqlState::QUERY_CANCELED && db.message().contains("statement timeout"))
            {
                return Error::Timeout(text);
            }
            // class 08: connection exception; 57P0x: the server is shutting down or terminated us
            if code.code().starts_with("08") || code.code().starts_with("57P0") {
                return Error::Connection(text);
            }
            return Error::Database(text);
        }
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io {
            return Error::Connection(error_chain(&e));
        }
        Error::Database(error_chain(&e))
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            deadpool_postgres::PoolError::Closed => Error::Closed,
            other => Error::Connection(other.to_string()),
        }
    }
}

/// The SQLSTATEs that pgmq's SQL functions raise (class `PQ`, pgmq's own), with the [`Error::code`] each
/// stands for: every binding turns its driver's error with one of these into its own typed error, reading
/// this table (also in [`crate::truths_json`], key `"sqlstates"`).
pub const SQLSTATES: &[(&str, &str)] =
    &[("PQ001", "queue_not_found"), ("PQ002", "invalid_option"), ("PQ003", "queue_full")];

/// The error a pgmq function meant by raising `sqlstate` with `message` (`pgmq: queue "x" does not
/// exist`, `pgmq: <what is invalid>`), if the state is one of [`SQLSTATES`].
fn from_pgmq_sqlstate(sqlstate: &str, message: &str) -> Option<Error> {
    let (_, code) = SQLSTATES.iter().find(|(state, _)| *state == sqlstate)?;
    let text = message.strip_prefix("pgmq: ").unwrap_or(message);
    Some(match *code {
        "queue_not_found" => {
            let name = text.strip_prefix("queue \"").and_then(|t| t.strip_suffix("\" does not exist"));
            Error::QueueNotFound(name.unwrap_or(text).to_owned())
        }
        "queue_full" => Error::QueueFull(text.to_owned()),
        _ => Error::InvalidOption(text.to_owned()),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One row of [`ERROR_CODES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorCode {
    /// What [`Error::code`] returns.
    pub code: &'static str,
    /// What [`Error::is_transient`] returns: trying again later may succeed.
    pub transient: bool,
    /// One line for people.
    pub description: &'static str,
}

/// Every error code, in the order of [`Error`]'s variants: what each binding maps to its own error
/// classes (a test there compares its map with this table, through [`crate::truths_json`]).
pub const ERROR_CODES: &[ErrorCode] = &[
    ErrorCode { code: "invalid_queue_name", transient: false, description: "a queue name does not match ^[a-zA-Z0-9_-]{1,48}$, or uses the reserved dlq@ prefix where a plain name is required; nothing was written" },
    ErrorCode { code: "invalid_option", transient: false, description: "an option or argument is out of range or malformed (an ack deadline under 1 s, a batch size of 0, a negative duration, a NaN attribute, a filter nested too deep...); nothing was written" },
    ErrorCode { code: "queue_not_found", transient: false, description: "no queue has this name" },
    ErrorCode { code: "lease_lost", transient: false, description: "the ack, nack or extend came too late: the lease expired and the message went to another worker, or it was dead-lettered; nothing changed" },
    ErrorCode { code: "already_finished", transient: false, description: "the message was already acked or nacked through this handle" },
    ErrorCode { code: "not_tracked", transient: false, description: "waiting for the outcome of a message sent with tracking off" },
    ErrorCode { code: "message_not_found", transient: false, description: "waiting for a message that is neither queued nor has an outcome record (it never existed, or its record was pruned after the retention period)" },
    ErrorCode { code: "request_failed", transient: false, description: "a request finished without a reply: it was dead-lettered, cancelled or expired instead of completed" },
    ErrorCode { code: "queue_full", transient: true, description: "a bounded queue had no room for the whole send, at once or within the send's wait for room; nothing was written, and sending again once workers have finished messages may succeed" },
    ErrorCode { code: "schema_missing", transient: false, description: "the schema is missing or older than this library: run migrate" },
    ErrorCode { code: "schema_conflict", transient: false, description: "migrate found a schema of that name that is not pgmq's (another library's tables, or an extension such as Tembo's pgmq); nothing changed" },
    ErrorCode { code: "connection", transient: true, description: "the server could not be reached, refused the login, or the connection broke" },
    ErrorCode { code: "timeout", transient: true, description: "a lock wait hit lock_timeout, the server's statement_timeout cancelled a statement, or no pool connection came free within the client's statement timeout; nothing changed, and trying again later is safe; or a request got no reply within its timeout, and was cancelled" },
    ErrorCode { code: "database", transient: false, description: "PostgreSQL reported an error that is none of the above" },
    ErrorCode { code: "closed", transient: false, description: "the client or receiver was closed" },
    ErrorCode { code: "internal", transient: false, description: "a bug in pgmq: a panic, caught at the language boundary and reported instead of crashing the process; the operation did not complete, and whether it had taken effect is unknown" },
];

/// The result type of pgmq.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant. The match has no wildcard: a new variant does not compile until it is
    /// added here, and then the test below asks for its row in [`ERROR_CODES`].
    fn one_of_each() -> Vec<Error> {
        let id = Uuid::nil();
        let all = vec![
            Error::InvalidQueueName { name: String::new(), reason: String::new() },
            Error::InvalidOption(String::new()),
            Error::QueueNotFound(String::new()),
            Error::LeaseLost(id),
            Error::AlreadyFinished(id),
            Error::NotTracked(id),
            Error::MessageNotFound(id),
            Error::RequestFailed { id, outcome: Outcome::Cancelled },
            Error::QueueFull(String::new()),
            Error::SchemaMissing(String::new()),
            Error::SchemaConflict(String::new()),
            Error::Connection(String::new()),
            Error::Timeout(String::new()),
            Error::Database(String::new()),
            Error::Closed,
            Error::Internal(String::new()),
        ];
        for e in &all {
            match e {
                Error::InvalidQueueName { .. }
                | Error::InvalidOption(_)
                | Error::QueueNotFound(_)
                | Error::LeaseLost(_)
                | Error::AlreadyFinished(_)
                | Error::NotTracked(_)
                | Error::MessageNotFound(_)
                | Error::RequestFailed { .. }
                | Error::QueueFull(_)
                | Error::SchemaMissing(_)
                | Error::SchemaConflict(_)
                | Error::Connection(_)
                | Error::Timeout(_)
                | Error::Database(_)
                | Error::Closed
                | Error::Internal(_) => {}
            }
        }
        all
    }

    #[test]
    fn pgmq_sqlstates_map_to_their_errors_and_name_codes_that_exist() {
        for (_, code) in SQLSTATES {
            assert!(ERROR_CODES.iter().any(|e| e.code == *code), "{code}");
        }
        let e = from_pgmq_sqlstate("PQ001", "pgmq: queue \"jobs\" does not exist").unwrap();
        assert!(matches!(&e, Error::QueueNotFound(name) if name == "jobs"), "{e:?}");
        let e = from_pgmq_sqlstate("PQ002", "pgmq: delay must not be negative").unwrap();
        assert!(matches!(&e, Error::InvalidOption(m) if m == "delay must not be negative"), "{e:?}");
        assert!(from_pgmq_sqlstate("23505", "duplicate key").is_none());
    }

    #[test]
    fn every_variant_has_its_row_in_error_codes_and_every_row_its_variant() {
        let variants = one_of_each();
        let codes: Vec<&str> = variants.iter().map(Error::code).collect();
        let table: Vec<&str> = ERROR_CODES.iter().map(|e| e.code).collect();
        assert_eq!(codes, table, "ERROR_CODES lists the codes in variant order, each once");
        for e in &variants {
            let row = ERROR_CODES.iter().find(|r| r.code == e.code()).unwrap();
            assert_eq!(row.transient, e.is_transient(), "{}", row.code);
            assert!(!row.description.is_empty() && !row.description.contains('\n'), "{}", row.code);
        }
    }
}
