//! The transactional send (outbox): sending in the caller's own transaction, through the SQL functions
//! `pgmq.send`, `pgmq.send_json`, `pgmq.send_batch` and `pgmq.send_json_batch` (migration 0007).
//!
//! The messages commit with the caller's other writes or vanish with them on rollback, and receivers are
//! woken at commit, once per transaction however many messages it sent (NOTIFY is transactional and
//! PostgreSQL folds identical notifications of one transaction into one). docs/outbox.md describes the
//! functions, their guarantees and the privileges they need.
//!
//! Two ways in:
//! - [`statement`]: the SQL text of one call in the parameter style of the caller's driver, for the
//!   bindings (and anyone) to run on their own connection: the same parameters in every language.
//! - [`send`], [`send_json`], [`send_batch`], [`send_json_batch`]: the Rust API over any
//!   [`tokio_postgres::GenericClient`], a `Client` or a `Transaction`, in schema `pgmq`.
//!
//! ```no_run
//! # async fn demo(pg: &mut tokio_postgres::Client) -> pgmq_core::Result<()> {
//! use pgmq_core::{outbox, SendOptions};
//! let tx = pg.transaction().await?;
//! tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
//! let id = outbox::send(&tx, "payments", b"debited 10 from 1".to_vec(), &SendOptions::default()).await?;
//! tx.commit().await?; // the message and the update, or neither
//! # let _ = id; Ok(()) }
//! ```

use std::time::SystemTime;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::db::Policy;
use crate::error::{Error, Result};
use crate::options::{
    attributes_to_json, micros, validate_schema_name, OutgoingMessage, SendOptions, DEFAULT_SCHEMA, MAX_SEND_BYTES,
};

/// Which of the four outbox functions a [`statement`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// `pgmq.send`: one message whose body is bytes. Returns its id.
    Send,
    /// `pgmq.send_json`: one message whose body is JSON text, labelled `content-type: application/json`.
    SendJson,
    /// `pgmq.send_batch`: messages whose bodies are bytes, all or none. Returns their ids in order.
    SendBatch,
    /// `pgmq.send_json_batch`: messages whose bodies are JSON texts, all or none.
    SendJsonBatch,
}

impl OutboxKind {
    /// All four, in the order above.
    pub const ALL: [OutboxKind; 4] = [OutboxKind::Send, OutboxKind::SendJson, OutboxKind::SendBatch, OutboxKind::SendJsonBatch];

    /// The SQL function's name in pgmq's schema: `send`, `send_json`, `send_batch`, `send_json_batch`.
    pub fn function_name(self) -> &'static str {
        match self {
            OutboxKind::Send => "send",
            OutboxKind::SendJson => "send_json",
            OutboxKind::SendBatch => "send_batch",
            OutboxKind::SendJsonBatch => "send_json_batch",
        }
    }

    /// Whether the function takes arrays (of bodies and of attributes) and returns an array of ids.
    pub fn is_batch(self) -> bool {
        matches!(self, OutboxKind::SendBatch | OutboxKind::SendJsonBatch)
    }

    /// The names of the six parameters, for [`ParamStyle::Named`]: `queue`, `body` (`bodies` for a batch),
    /// `attributes`, `delay_seconds`, `schedule_at`, `track`.
    pub fn param_names(self) -> [&'static str; 6] {
        let body = if self.is_batch() { "bodies" } else { "body" };
        ["queue", body, "attributes", "delay_seconds", "schedule_at", "track"]
    }
}

/// How a driver writes the placeholders of a statement's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamStyle {
    /// `$1`, `$2`, ...: tokio-postgres, asyncpg, node-postgres, Prisma's raw queries.
    Dollar,
    /// `?`: JDBC.
    QuestionMark,
    /// `%s`: psycopg (the statement contains no other `%`).
    Format,
    /// `:name` ([`OutboxKind::param_names`]): SQLAlchemy's `text()`.
    Named,
}

/// The SQL of one call of `kind`, with its six parameters in the placeholders of `style`, for `schema`
/// (`None`: `pgmq`). The parameters, in this order in every language (each placeholder appears once, in
/// increasing order):
///
/// 1. `queue`: the queue's name (text).
/// 2. `body`: the body (bytes); for [`OutboxKind::SendJson`] the JSON text (text); for the batch kinds
///    (`bodies`) an array of bytes / of JSON texts.
/// 3. `attributes`: the attributes as a JSON object's text (NULL: none); for the batch kinds an array of
///    them, one per body, or NULL.
/// 4. `delay_seconds`: seconds to wait after commit before the messages become available (float8, NULL:
///    none). Exclusive with `schedule_at`.
/// 5. `schedule_at`: when the messages become available (timestamptz, NULL: now).
/// 6. `track`: whether outcomes are recorded (bool, [`crate::DEFAULTS`]`.send.track` = true).
///
/// The statement returns one row with one column: the id (uuid), or for a batch the ids (uuid[]) in
/// list order. Casts are written `CAST(x AS t)` (never `::`, which `:name` parsers misread).
///
/// The SQL raises SQLSTATE `PQ001` for an unknown queue and `PQ002` for an invalid argument (the map
/// is `"sqlstates"` of [`crate::truths_json`]); nothing is written then.
///
/// Errors: [`Error::InvalidOption`] for a schema name that [`validate_schema_name`] refuses.
///
/// ```
/// use pgmq_core::outbox::{statement, OutboxKind, ParamStyle};
/// let sql = statement(OutboxKind::Send, None, ParamStyle::QuestionMark).unwrap();
/// assert!(sql.starts_with("SELECT pgmq.send(CAST(? AS text), CAST(? AS bytea), "));
/// ```
pub fn statement(kind: OutboxKind, schema: Option<&str>, style: ParamStyle) -> Result<String> {
    let (body, attributes) = match kind {
        OutboxKind::Send => ("CAST($2 AS bytea)", "CAST(CAST($3 AS text) AS jsonb)"),
        OutboxKind::SendJson => ("CAST(CAST($2 AS text) AS jsonb)", "CAST(CAST($3 AS text) AS jsonb)"),
        OutboxKind::SendBatch => ("CAST($2 AS bytea[])", "CAST(CAST($3 AS text[]) AS jsonb[])"),
        OutboxKind::SendJsonBatch => ("CAST(CAST($2 AS text[]) AS jsonb[])", "CAST(CAST($3 AS text[]) AS jsonb[])"),
    };
    let text = format!(
        "SELECT pgmq.{}(CAST($1 AS text), {body}, {attributes}, pg_catalog.make_interval(secs => CAST($4 AS float8)), \
         CAST($5 AS timestamptz), CAST($6 AS boolean))",
        kind.function_name()
    );
    let policy = Policy {
        statement_cache: false,
        statement_timeout: std::time::Duration::ZERO,
        schema: match schema {
            None | Some(DEFAULT_SCHEMA) => None,
            Some(name) => {
                validate_schema_name(name)?;
                Some(std::sync::Arc::from(format!("\"{name}\"")))
            }
        },
    };
    let text = policy.in_schema(&text).into_owned();
    Ok(match style {
        ParamStyle::Dollar => text,
        ParamStyle::QuestionMark => rewrite(&text, |_| "?".to_owned()),
        ParamStyle::Format => rewrite(&text, |_| "%s".to_owned()),
        ParamStyle::Named => rewrite(&text, |n| format!(":{}", kind.param_names()[n - 1])),
    })
}

/// Attributes as the JSON object text the statements of [`statement`] bind as parameter 3 (for a batch,
/// one such text per message): written exactly as a send writes them — an integral float keeps its exact
/// decimal and a `.0` (so that `numeric` holds the very number and receivers read a float back), any
/// other float its shortest text that reads back as it. Every binding writes its attributes through this,
/// so a message sent through a driver reads back as one sent by `queue.send`.
///
/// Errors: [`Error::InvalidOption`] for NUL characters and non-finite numbers, which PostgreSQL's `jsonb`
/// cannot hold (the SQL functions check the rest: a flat object of scalars).
///
/// ```
/// use pgmq_core::{outbox::attributes_json, Attributes};
/// let mut attributes = Attributes::new();
/// attributes.insert("n".into(), 3.0.into());
/// assert_eq!(attributes_json(&attributes).unwrap(), r#"{"n":3.0}"#);
/// ```
pub fn attributes_json(attributes: &crate::Attributes) -> Result<String> {
    Ok(crate::options::attributes_to_json(attributes)?.0)
}

/// Sends one message in `client`'s transaction (a `Transaction`, or a `Client` outside one: then the
/// statement is its own transaction) through `pgmq.send`, and returns its id.
///
/// The message is written with the transaction and becomes visible to receivers, which are woken then,
/// only if it commits; a rollback leaves no trace. It is available `options.delay` after the
/// transaction's start time (`now()`), or at `options.schedule_at`. The transaction commits with
/// `synchronous_commit` on, as every send does. The caller's role needs a producer's rights
/// (`pgmq.grant_producer`).
///
/// Errors: [`Error::QueueNotFound`]; [`Error::InvalidOption`] for both `delay` and `schedule_at`, a NaN
/// attribute, NUL characters in attributes or more than [`MAX_SEND_BYTES`] (before anything runs);
/// [`Error::SchemaMissing`] when the schema predates these functions (version 7: run migrate);
/// [`Error::Database`] for a role without the rights (SQLSTATE 42501). A failed statement aborts the
/// caller's transaction, as any failed statement does.
pub async fn send<C: GenericClient>(
    client: &C,
    queue: &str,
    message: impl Into<OutgoingMessage>,
    options: &SendOptions,
) -> Result<Uuid> {
    let message = message.into();
    let (delay, schedule_at) = timing(options)?;
    let attributes = attributes_of(&message)?;
    check_size(message.body.len() + attributes.as_ref().map_or(0, String::len))?;
    let sql = statement(OutboxKind::Send, None, ParamStyle::Dollar)?;
    let params: [&(dyn ToSql + Sync); 6] = [&queue, &message.body, &attributes, &delay, &schedule_at, &options.track];
    let row = client.query_typed_one(&sql, &typed(&params, Type::BYTEA, Type::TEXT)).await?;
    Ok(row.try_get(0)?)
}

/// Sends `value` as one JSON message through `pgmq.send_json`: its body is the JSON text (as PostgreSQL's
/// `jsonb` writes it) and it carries [`crate::CONTENT_TYPE_ATTRIBUTE`] = [`crate::JSON_CONTENT_TYPE`], so
/// `message.json()` reads it in every language. Otherwise as [`send`]; for attributes besides, send
/// [`OutgoingMessage::json`] through [`send`].
///
/// Errors: as [`send`], and [`Error::InvalidOption`] when `value` cannot be written as JSON.
pub async fn send_json<C: GenericClient, T: serde::Serialize + ?Sized>(
    client: &C,
    queue: &str,
    value: &T,
    options: &SendOptions,
) -> Result<Uuid> {
    let (delay, schedule_at) = timing(options)?;
    let body = to_json(value)?;
    check_size(body.len())?;
    let sql = statement(OutboxKind::SendJson, None, ParamStyle::Dollar)?;
    let none: Option<String> = None;
    let params: [&(dyn ToSql + Sync); 6] = [&queue, &body, &none, &delay, &schedule_at, &options.track];
    let row = client.query_typed_one(&sql, &typed(&params, Type::TEXT, Type::TEXT)).await?;
    Ok(row.try_get(0)?)
}

/// Sends messages in `client`'s transaction in ONE statement through `pgmq.send_batch`, all or none,
/// and returns their ids in list order. They become available in list order, with one available time
/// for the call, and receivers are woken once (once per transaction, however many calls it makes).
/// An empty list sends nothing and returns no ids. Otherwise as [`send`].
pub async fn send_batch<C: GenericClient>(
    client: &C,
    queue: &str,
    messages: Vec<OutgoingMessage>,
    options: &SendOptions,
) -> Result<Vec<Uuid>> {
    let (delay, schedule_at) = timing(options)?;
    let mut bodies = Vec::with_capacity(messages.len());
    let mut attributes = Vec::with_capacity(messages.len());
    let mut bytes = 0usize;
    for m in messages {
        let json = attributes_of(&m)?;
        bytes = bytes.saturating_add(m.body.len()).saturating_add(json.as_ref().map_or(0, String::len));
        check_size(bytes)?;
        attributes.push(json);
        bodies.push(m.body);
    }
    // No attributes at all travel as one NULL rather than an array of them.
    let attributes = attributes.iter().any(Option::is_some).then_some(attributes);
    let sql = statement(OutboxKind::SendBatch, None, ParamStyle::Dollar)?;
    let params: [&(dyn ToSql + Sync); 6] = [&queue, &bodies, &attributes, &delay, &schedule_at, &options.track];
    let row = client.query_typed_one(&sql, &typed(&params, Type::BYTEA_ARRAY, Type::TEXT_ARRAY)).await?;
    Ok(row.try_get(0)?)
}

/// Sends each of `values` as a JSON message (see [`send_json`]) in ONE statement through
/// `pgmq.send_json_batch`, all or none, and returns their ids in list order. Otherwise as [`send_batch`].
pub async fn send_json_batch<C: GenericClient, T: serde::Serialize>(
    client: &C,
    queue: &str,
    values: &[T],
    options: &SendOptions,
) -> Result<Vec<Uuid>> {
    let (delay, schedule_at) = timing(options)?;
    let mut bodies = Vec::with_capacity(values.len());
    let mut bytes = 0usize;
    for v in values {
        let body = to_json(v)?;
        bytes = bytes.saturating_add(body.len());
        check_size(bytes)?;
        bodies.push(body);
    }
    let sql = statement(OutboxKind::SendJsonBatch, None, ParamStyle::Dollar)?;
    let none: Option<Vec<String>> = None;
    let params: [&(dyn ToSql + Sync); 6] = [&queue, &bodies, &none, &delay, &schedule_at, &options.track];
    let row = client.query_typed_one(&sql, &typed(&params, Type::TEXT_ARRAY, Type::TEXT_ARRAY)).await?;
    Ok(row.try_get(0)?)
}

/// The delay in seconds and the scheduled time, checked as the core's send checks them.
fn timing(options: &SendOptions) -> Result<(Option<f64>, Option<SystemTime>)> {
    if options.delay.is_some() && options.schedule_at.is_some() {
        return Err(Error::invalid_option("give either delay or schedule_at, not both"));
    }
    let delay = options.delay.map(|d| micros(d, "delay").map(|us| us as f64 / 1e6)).transpose()?;
    Ok((delay, options.schedule_at))
}

/// A message's attributes as JSON text (the core's validation), `None` for none.
fn attributes_of(message: &OutgoingMessage) -> Result<Option<String>> {
    if message.attributes.is_empty() {
        return Ok(None);
    }
    Ok(Some(attributes_to_json(&message.attributes)?.0))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid_option(format!("the value cannot be written as JSON: {e}")))
}

fn check_size(bytes: usize) -> Result<()> {
    if bytes > MAX_SEND_BYTES {
        return Err(Error::invalid_option(format!(
            "one send carries at most {MAX_SEND_BYTES} bytes of bodies and attributes"
        )));
    }
    Ok(())
}

/// The parameters with their types (one round trip, no prepare): those of [`statement`]'s casts.
fn typed<'a>(params: &[&'a (dyn ToSql + Sync); 6], body: Type, attributes: Type) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    let types = [Type::TEXT, body, attributes, Type::FLOAT8, Type::TIMESTAMPTZ, Type::BOOL];
    params.iter().copied().zip(types).collect()
}

/// `text` with `$1` ... `$6` replaced by `placeholder(n)`. The statements hold no other `$`.
fn rewrite(text: &str, placeholder: impl Fn(usize) -> String) -> String {
    let mut out = text.to_owned();
    for n in (1..=6).rev() {
        out = out.replace(&format!("${n}"), &placeholder(n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_style_rewrites_the_six_placeholders_in_order_and_nothing_else() {
        for kind in OutboxKind::ALL {
            let dollar = statement(kind, None, ParamStyle::Dollar).unwrap();
            let positions: Vec<usize> = (1..=6).map(|n| dollar.find(&format!("${n}")).unwrap()).collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{kind:?}: {dollar}");
            assert_eq!(dollar.matches('$').count(), 6, "{dollar}");
            assert!(!dollar.contains("::") && !dollar.contains('%') && !dollar.contains('?') && !dollar.contains('\n'));
            assert!(dollar.starts_with(&format!("SELECT pgmq.{}(CAST($1 AS text), ", kind.function_name())));

            let question = statement(kind, None, ParamStyle::QuestionMark).unwrap();
            assert_eq!(question, rewrite(&dollar, |_| "?".into()));
            assert_eq!((question.matches('?').count(), question.contains('$')), (6, false));
            let format = statement(kind, None, ParamStyle::Format).unwrap();
            assert_eq!((format.matches("%s").count(), format.matches('%').count(), format.contains('$')), (6, 6, false));
            let named = statement(kind, None, ParamStyle::Named).unwrap();
            let names = kind.param_names();
            let at: Vec<usize> = names.iter().map(|n| named.find(&format!(":{n} ")).unwrap()).collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{named}");
            assert_eq!((named.matches(':').count(), named.contains('$')), (6, false));
        }
        assert_eq!(
            statement(OutboxKind::Send, None, ParamStyle::Dollar).unwrap(),
            "SELECT pgmq.send(CAST($1 AS text), CAST($2 AS bytea), CAST(CAST($3 AS text) AS jsonb), \
             pg_catalog.make_interval(secs => CAST($4 AS float8)), CAST($5 AS timestamptz), CAST($6 AS boolean))"
        );
        assert!(statement(OutboxKind::SendBatch, None, ParamStyle::Named).unwrap().contains("CAST(:bodies AS bytea[])"));
    }

    #[test]
    fn a_custom_schema_is_quoted_in_and_a_bad_one_refused() {
        let sql = statement(OutboxKind::SendJsonBatch, Some("app_queues"), ParamStyle::Dollar).unwrap();
        assert!(sql.starts_with("SELECT \"app_queues\".send_json_batch(CAST($1 AS text), "), "{sql}");
        assert!(sql.contains("pg_catalog.make_interval") && !sql.contains("pgmq."));
        assert_eq!(
            statement(OutboxKind::Send, Some("pgmq"), ParamStyle::Dollar).unwrap(),
            statement(OutboxKind::Send, None, ParamStyle::Dollar).unwrap()
        );
        for bad in ["Jobs", "x\"; DROP TABLE t; --", "pg_x", ""] {
            let err = statement(OutboxKind::Send, Some(bad), ParamStyle::Dollar).unwrap_err();
            assert_eq!(err.code(), "invalid_option", "{bad:?}");
        }
    }
}
