//! Reading a queue's messages without leasing or changing them ([`crate::Queue::peek`]): its options,
//! what it returns, and the states a message row can be in.

use std::sync::Arc;
use std::time::SystemTime;

use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::db::Sql;
use crate::defaults::DEFAULTS;
use crate::error::{Error, Result};
use crate::filter::{Filter, SqlParams};
use crate::options::{attributes_from_json, Attributes};

/// Where a message stands, as read from its row at one instant (migration 0001 defines the states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Available for delivery now: the next claim may lease it.
    Ready,
    /// Waiting for its scheduled time or a nack delay (`available_at` is when it becomes ready).
    Scheduled,
    /// Held by a worker under a live lease (`available_at` is when the lease expires).
    Leased,
    /// Its lease ran out on the last delivery attempt, or while it was being cancelled: housekeeping
    /// moves it to the dead-letter queue (or drops it, when cancelled) within a maintenance interval.
    /// It is never delivered again.
    Lapsed,
    /// Waiting for messages it depends on to complete ([`crate::SendOptions::depends_on`]): not
    /// claimable until the last one has. Its `available_at` reads as 9999-12-31T23:59:59Z, the
    /// latest instant every language's date type holds: it has none yet.
    Waiting,
}

impl MessageState {
    /// Every state, in declaration order.
    pub const ALL: [MessageState; 5] = [
        MessageState::Ready,
        MessageState::Scheduled,
        MessageState::Leased,
        MessageState::Lapsed,
        MessageState::Waiting,
    ];

    /// `"ready"`, `"scheduled"`, `"leased"`, `"lapsed"` or `"waiting"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Ready => "ready",
            MessageState::Scheduled => "scheduled",
            MessageState::Leased => "leased",
            MessageState::Lapsed => "lapsed",
            MessageState::Waiting => "waiting",
        }
    }

    /// The state named by [`MessageState::as_str`], for the bindings; [`Error::InvalidOption`] for
    /// any other text.
    pub fn parse(name: &str) -> Result<MessageState> {
        MessageState::ALL.into_iter().find(|s| s.as_str() == name).ok_or_else(|| {
            Error::invalid_option(format!("unknown message state {name:?}: ready, scheduled, leased, lapsed or waiting"))
        })
    }

    /// The row condition of this state, over `m` at the statement's `now()`. The five are disjoint and
    /// cover every row (a waiting message is the only one available at 'infinity': migration 0011).
    fn condition(self) -> &'static str {
        match self {
            MessageState::Ready => {
                "m.available_at <= pg_catalog.now() AND NOT m.last_lease AND NOT m.cancel_requested"
            }
            MessageState::Scheduled => {
                "m.available_at > pg_catalog.now() AND m.available_at < CAST('infinity' AS timestamptz) \
                 AND m.lease_token IS NULL"
            }
            MessageState::Leased => "m.available_at > pg_catalog.now() AND m.lease_token IS NOT NULL",
            MessageState::Lapsed => "m.available_at <= pg_catalog.now() AND (m.last_lease OR m.cancel_requested)",
            MessageState::Waiting => "m.available_at = CAST('infinity' AS timestamptz)",
        }
    }
}

impl std::fmt::Display for MessageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`crate::Queue::peek`] reads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PeekOptions {
    /// Most messages returned. Default 100 ([`DEFAULTS`]`.peek.limit`); 1 to 10,000
    /// (`DEFAULTS.peek.max_limit`), else [`Error::InvalidOption`].
    pub limit: usize,
    /// Only messages whose attributes match (the same filters as [`crate::ReceiveOptions::filter`]).
    pub filter: Option<Filter>,
    /// Only messages in this state. Default `None`: every state.
    pub state: Option<MessageState>,
}

impl Default for PeekOptions {
    fn default() -> Self {
        PeekOptions { limit: DEFAULTS.peek.limit, filter: None, state: None }
    }
}

impl PeekOptions {
    /// Sets [`PeekOptions::limit`].
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    /// Sets [`PeekOptions::filter`].
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }
    /// Sets [`PeekOptions::state`].
    pub fn state(mut self, state: MessageState) -> Self {
        self.state = Some(state);
        self
    }

    /// A limit given as a signed integer, as bindings receive it: outside `1..=max_limit` is
    /// [`Error::InvalidOption`].
    pub fn checked_limit(n: i64) -> Result<usize> {
        let max = DEFAULTS.peek.max_limit;
        if n < 1 || n > max as i64 {
            return Err(Error::invalid_option(format!("peek limit must be between 1 and {max}, got {n}")));
        }
        Ok(n as usize)
    }
}

/// A message as [`crate::Queue::peek`] read it: a copy of its row, holding no lease. Nothing can be
/// done to the message through it; it may have changed since.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PeekedMessage {
    /// The message id.
    pub id: Uuid,
    /// The queue it was read from.
    pub queue: String,
    /// The payload.
    pub body: Vec<u8>,
    /// The attributes it was sent with (empty when none).
    pub attributes: Attributes,
    /// Where it stood when read.
    pub state: MessageState,
    /// Deliveries so far (leases taken, the current one included).
    pub delivery_attempts: u32,
    /// When it was sent.
    pub sent_at: SystemTime,
    /// When it became or becomes ready; for a leased message, when its lease expires.
    pub available_at: SystemTime,
    /// The error text of the last failed attempt (in a DLQ: the error that dead-lettered it).
    pub last_error: Option<String>,
    /// In a dead-letter queue: how many attempts it had used in its original queue.
    pub dead_letter_attempts: Option<u32>,
}

impl PeekedMessage {
    /// The body parsed as JSON into `T`, by the rule of [`crate::Message::json`].
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        crate::options::decode_json(&self.body, &self.attributes)
    }
}

/// The head of the peek: `$1` the queue's name, `$2` the limit, then the filter's parameters. One row
/// per message, or one row of NULLs when the queue exists but nothing matches, and no row when the
/// queue does not exist. A plain read of the statement's snapshot: no lock, nothing written.
/// Uses index `messages_ready` (queue_id, available_at, id): the claim's order, so the rows come as
/// claims would take them (ready ones first, then the others by when they fall due).
const PEEK_HEAD: &str = "
SELECT p.*
FROM pgmq.queues q
LEFT JOIN LATERAL (
    SELECT m.id, m.body, m.attributes, m.delivery_attempts, m.sent_at,
           CASE WHEN m.available_at = CAST('infinity' AS timestamptz)
                THEN CAST('9999-12-31 23:59:59+00' AS timestamptz) ELSE m.available_at END,
           m.last_error, m.dead_letter_attempts,
           CASE WHEN m.available_at = CAST('infinity' AS timestamptz) THEN 'waiting'
                WHEN m.available_at > pg_catalog.now()
                THEN CASE WHEN m.lease_token IS NULL THEN 'scheduled' ELSE 'leased' END
                WHEN m.last_lease OR m.cancel_requested THEN 'lapsed'
                ELSE 'ready' END AS state
    FROM pgmq.messages m
    WHERE m.queue_id = q.id";
const PEEK_TAIL: &str = "
    ORDER BY m.available_at, m.id
    LIMIT $2
) p ON true
WHERE q.name = $1";

/// The peek for these options and their filter's parameters; [`Error::InvalidOption`] for a bad
/// limit or filter.
pub(crate) fn peek_statement(
    options: &PeekOptions,
) -> Result<(Sql, Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>)> {
    PeekOptions::checked_limit(options.limit.min(i64::MAX as usize) as i64)?;
    let mut sql = String::from(PEEK_HEAD);
    if let Some(state) = options.state {
        sql.push_str(" AND ");
        sql.push_str(state.condition());
    }
    let mut params = SqlParams::starting_at(3);
    if let Some(filter) = &options.filter {
        sql.push_str(" AND ");
        filter.write_sql(&mut sql, &mut params)?;
    }
    sql.push_str(PEEK_TAIL);
    let types = [Type::TEXT, Type::INT8].into_iter().chain(params.types).collect();
    Ok((Sql::owned(sql, types), params.values))
}

/// The rows of a peek as messages of `queue`; `None` when the queue does not exist.
pub(crate) fn peeked(queue: &Arc<str>, rows: Vec<tokio_postgres::Row>) -> Result<Option<Vec<PeekedMessage>>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(id) = r.get::<_, Option<Uuid>>(0) else { continue };
        let state: String = r.get(8);
        out.push(PeekedMessage {
            id,
            queue: queue.to_string(),
            body: r.get(1),
            attributes: attributes_from_json(&r.get::<_, serde_json::Value>(2)),
            delivery_attempts: r.get::<_, i32>(3) as u32,
            sent_at: r.get(4),
            available_at: r.get(5),
            last_error: r.get(6),
            dead_letter_attempts: r.get::<_, Option<i32>>(7).map(|n| n as u32),
            state: MessageState::parse(&state).map_err(|_| Error::Database(format!("unknown state {state:?}")))?,
        });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for s in MessageState::ALL {
            assert_eq!(MessageState::parse(s.as_str()).unwrap(), s);
        }
        // No wildcard: a new state does not compile until it is placed in ALL.
        for (i, s) in MessageState::ALL.into_iter().enumerate() {
            let index = match s {
                MessageState::Ready => 0,
                MessageState::Scheduled => 1,
                MessageState::Leased => 2,
                MessageState::Lapsed => 3,
                MessageState::Waiting => 4,
            };
            assert_eq!(index, i);
        }
        assert_eq!(MessageState::parse("held").unwrap_err().code(), "invalid_option");
    }

    #[test]
    fn a_limit_outside_its_bounds_is_an_invalid_option() {
        for bad in [0, DEFAULTS.peek.max_limit + 1] {
            let err = peek_statement(&PeekOptions::default().limit(bad)).unwrap_err();
            assert_eq!(err.code(), "invalid_option", "{bad}");
        }
        for good in [1, DEFAULTS.peek.limit, DEFAULTS.peek.max_limit] {
            peek_statement(&PeekOptions::default().limit(good)).unwrap();
        }
        assert_eq!(PeekOptions::checked_limit(-1).unwrap_err().code(), "invalid_option");
    }
}
