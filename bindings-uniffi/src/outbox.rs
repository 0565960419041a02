//! The transactional send (outbox) for the caller's own database driver (Kotlin: JDBC, in
//! `io.pgmq.Outbox`; Swift: any PostgreSQL client, through [`outbox_statement`]): the core's statements,
//! attributes as the JSON text they bind, and the SQLSTATEs pgmq's SQL functions raise, as [`PgmqError`]s.
//! Nothing here runs a statement: the caller's driver does, in the caller's transaction.

use std::collections::HashMap;

use pgmq_core::outbox as core;

use crate::error::PgmqError;
use crate::guard;
use crate::types::{to_core_attributes, AttributeValue};

/// Which of pgmq's SQL functions a statement calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum OutboxKind {
    /// `pgmq.send`: one message with a body of bytes; returns its id.
    Send,
    /// `pgmq.send_json`: one message with a JSON body (`content-type: application/json`); returns its id.
    SendJson,
    /// `pgmq.send_batch`: bodies of bytes in one call; returns their ids in order.
    SendBatch,
    /// `pgmq.send_json_batch`: JSON bodies in one call; returns their ids in order.
    SendJsonBatch,
}

impl From<OutboxKind> for core::OutboxKind {
    fn from(k: OutboxKind) -> Self {
        match k {
            OutboxKind::Send => core::OutboxKind::Send,
            OutboxKind::SendJson => core::OutboxKind::SendJson,
            OutboxKind::SendBatch => core::OutboxKind::SendBatch,
            OutboxKind::SendJsonBatch => core::OutboxKind::SendJsonBatch,
        }
    }
}

/// How a statement writes its parameters, for the driver that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ParamStyle {
    /// `$1`, `$2`, ...: PostgreSQL's own (PostgresNIO, libpq).
    Dollar,
    /// `?`: JDBC.
    QuestionMark,
    /// `%s`: Python's DB-API drivers (psycopg).
    Format,
    /// `:queue`, `:body`, ...: named parameters (SQLAlchemy's `text()`).
    Named,
}

impl From<ParamStyle> for core::ParamStyle {
    fn from(s: ParamStyle) -> Self {
        match s {
            ParamStyle::Dollar => core::ParamStyle::Dollar,
            ParamStyle::QuestionMark => core::ParamStyle::QuestionMark,
            ParamStyle::Format => core::ParamStyle::Format,
            ParamStyle::Named => core::ParamStyle::Named,
        }
    }
}

/// The statement that calls pgmq's SQL function [kind] in pgmq's schema (`schema`; `null`: `pgmq`),
/// written in `style`: the same text, parameters and order as in every language. Its six parameters, in
/// order: the queue's name (text); the body (bytes; JSON text for `SendJson`; an array of either for the
/// batches); the attributes as JSON text ([`attributes_json`]; `null`: none; an array for the batches);
/// the delay in seconds (float8, `null`: none); the instant to deliver at (timestamptz, `null`: now);
/// whether to track the outcome (bool). It returns one row: the id (uuid), or the ids (uuid[]).
/// `InvalidOption` for a schema name `ClientOptions.schema` would refuse.
#[uniffi::export]
pub fn outbox_statement(kind: OutboxKind, schema: Option<String>, style: ParamStyle) -> Result<String, PgmqError> {
    guard(|| Ok(core::statement(kind.into(), schema.as_deref(), style.into())?))
}

/// Attributes as the JSON object text a statement of [`outbox_statement`] binds (parameter 3; for a batch,
/// one per message): the core's writer, so a message sent through a driver reads back as one sent by
/// `queue.send` (an integral float keeps its exact value and reads back as a float). `InvalidOption` for a
/// NUL character or a number that is not finite, which PostgreSQL's `jsonb` cannot hold (the SQL
/// functions check the rest).
#[uniffi::export]
pub fn attributes_json(attributes: HashMap<String, AttributeValue>) -> Result<String, PgmqError> {
    guard(|| Ok(core::attributes_json(&to_core_attributes(attributes))?))
}

/// The core's SQLSTATE map ([`pgmq_core::SQLSTATES`]).
fn sqlstates() -> impl Iterator<Item = (&'static str, &'static str)> {
    pgmq_core::SQLSTATES.iter().copied()
}

/// The SQLSTATEs pgmq's SQL functions raise (class `PQ`), each with the core's error code:
/// `{"PQ001": "queue_not_found", "PQ002": "invalid_option", "PQ003": "queue_full"}`. The core's table,
/// the same in every language.
#[uniffi::export]
pub fn outbox_sqlstates() -> HashMap<String, String> {
    sqlstates().map(|(state, code)| (state.to_owned(), code.to_owned())).collect()
}

/// Fails with the error that SQLSTATE `sqlstate` of pgmq's SQL functions stands for
/// ([`outbox_sqlstates`]: `QueueNotFound`, `InvalidOption`, `QueueFull`), whose reason is `reason` (the server's
/// message); returns for any other SQLSTATE. How a binding turns its driver's exception into this
/// library's error without writing the table out again.
#[uniffi::export]
pub fn outbox_error(sqlstate: String, reason: String) -> Result<(), PgmqError> {
    match sqlstates().find(|(state, _)| *state == sqlstate) {
        Some((_, code)) => Err(PgmqError::with_code(code, reason)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlstate_map_is_read_from_the_core_and_maps_to_errors() {
        let map = outbox_sqlstates();
        assert_eq!(map.get("PQ001").map(String::as_str), Some("queue_not_found"));
        assert_eq!(map.get("PQ002").map(String::as_str), Some("invalid_option"));
        assert!(matches!(outbox_error("PQ001".into(), "r".into()), Err(PgmqError::QueueNotFound { .. })));
        assert!(matches!(outbox_error("PQ002".into(), "r".into()), Err(PgmqError::InvalidOption { .. })));
        assert_eq!(map.get("PQ003").map(String::as_str), Some("queue_full"));
        assert!(matches!(outbox_error("PQ003".into(), "r".into()), Err(PgmqError::QueueFull { .. })));
        assert!(outbox_error("23505".into(), "r".into()).is_ok());
    }

    #[test]
    fn attributes_are_written_as_the_core_writes_them() {
        let attrs = HashMap::from([
            ("a\"\\\n\u{1}".to_owned(), AttributeValue::Text { value: "zoë ✓".into() }),
            ("b".to_owned(), AttributeValue::Float { value: 4611686018427387904.0 }),
            ("c".to_owned(), AttributeValue::Float { value: 0.1 }),
            ("d".to_owned(), AttributeValue::Int { value: i64::MIN }),
            ("e".to_owned(), AttributeValue::Null),
            ("f".to_owned(), AttributeValue::Bool { value: false }),
        ]);
        assert_eq!(
            attributes_json(attrs).unwrap(),
            r#"{"a\"\\\n\u0001":"zoë ✓","b":4611686018427387904.0,"c":0.1,"d":-9223372036854775808,"e":null,"f":false}"#
        );
        assert_eq!(attributes_json(HashMap::new()).unwrap(), "{}");
        for bad in [AttributeValue::Float { value: f64::NAN }, AttributeValue::Text { value: "\0".into() }] {
            let err = attributes_json(HashMap::from([("k".to_owned(), bad)])).unwrap_err();
            assert!(matches!(err, PgmqError::InvalidOption { .. }), "{err:?}");
        }
    }
}
