//! send / send_batch / cancel / purge / peek / stats / completion: one SQL statement per verb.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::client::Client;
use crate::completion::{Completion, Reply, SentMessage};
use crate::db::Sql;
use crate::error::{Error, Result};
use crate::defaults::DEFAULTS;
use crate::options::{
    attributes_to_json, micros, OutgoingMessage, Outcome, QueueStats, ReceiveOptions, SendOptions, MAX_SEND_BYTES,
};
use crate::peek::{peek_statement, peeked, PeekOptions, PeekedMessage};
use crate::receiver::Receiver;

/// A handle on one queue of a [`Client`]. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    pub(crate) client: Client,
    pub(crate) name: Arc<str>,
}

/// Inserts a batch in one statement (the queue row is locked FOR KEY SHARE so that a concurrent
/// delete_queue waits for it, then deletes these rows too; a producer may take that lock through its
/// UPDATE right on the never-written column `send_lock`, migration 0006). The rows share one `available_at`; their ids,
/// UUIDv7 made in list order, keep that order for the claim (migration 0003), so the insert needs no sort.
/// `at` is MATERIALIZED: inlined, the planner computed the availability time once per row.
/// Returns no row when the queue does not exist, and then nothing was inserted (a data-modifying
/// CTE runs to completion whether or not it is read, so `ins` needs no RETURNING). The NOTIFY
/// follows from the client's notifier, coalesced with other sends (see `notifier.rs`).
/// The send commits with `synchronous_commit` on whatever the session's or role's default: a send is
/// the one write whose loss in a crash the caller would never learn of (claims, heartbeats and
/// notifications commit asynchronously on purpose; see their statements).
/// A bounded queue admits the batch whole through `pgmq._admit` (migration 0009), called while `q` is
/// read, before any row is inserted (`ins` reads `q`), which raises queue_full (PQ003) when it does not
/// fit; for an unbounded queue that is one CASE. (A CTE of its own for it cost `send_one` 5 % in
/// pgbench, 8 concurrent prepared sends, fsync on.)
pub(crate) const SEND: Sql = Sql::new(send_sql!(""), &SEND_TYPES);

/// [`SEND`] of a grouped batch: also records each message's membership of group `$8` (migration 0010).
pub(crate) const SEND_GROUPED: Sql = Sql::new(
    send_sql!(
        ",
grp AS (
    INSERT INTO pgmq.group_members (group_id, queue_id, message_id)
    SELECT $8, q.id, u.id FROM q, pg_catalog.unnest($5::uuid[]) AS u(id)
)"
    ),
    &[Type::TEXT, Type::BOOL, Type::TIMESTAMPTZ, Type::INT8, Type::UUID_ARRAY, Type::JSONB_ARRAY, Type::BYTEA_ARRAY, Type::TEXT],
);

/// [`SEND`] of messages with dependencies (migration 0011): `pgmq._depend` records them, holding the
/// dependencies still in a queue, and says which entries must wait; those are inserted at 'infinity'
/// (never claimed, never expired) until their last dependency completes. `$8` is the group or NULL,
/// `$9` the ids every message depends on, `$10`/`$11` the pairs (entry, earlier entry), 1-based.
pub(crate) const SEND_DEPENDENT: Sql = Sql::new(
    concat!(
        send_head!(),
        ",
dep AS MATERIALIZED (SELECT pgmq._depend(q.id, $5::uuid[], $9::uuid[], $10::int4[], $11::int4[], at.t) AS waits
                     FROM q, at),
ins AS (
    INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, attributes, body)
    SELECT q.id, u.id, CASE WHEN dep.waits[CAST(u.i AS int4)] THEN CAST('infinity' AS timestamptz) ELSE at.t END,
           $2, coalesce(u.attributes, '{}'), u.body
    FROM q, at, dep, ROWS FROM (pg_catalog.unnest($5::uuid[]), pg_catalog.unnest($6::jsonb[]),
                                pg_catalog.unnest($7::bytea[])) WITH ORDINALITY AS u(id, attributes, body, i)
),
grp AS (
    INSERT INTO pgmq.group_members (group_id, queue_id, message_id)
    SELECT $8, q.id, u.id FROM q, pg_catalog.unnest($5::uuid[]) AS u(id) WHERE $8::text IS NOT NULL
)
SELECT q.id FROM q"
    ),
    &[
        Type::TEXT,
        Type::BOOL,
        Type::TIMESTAMPTZ,
        Type::INT8,
        Type::UUID_ARRAY,
        Type::JSONB_ARRAY,
        Type::BYTEA_ARRAY,
        Type::TEXT,
        Type::UUID_ARRAY,
        Type::INT4_ARRAY,
        Type::INT4_ARRAY,
    ],
);

const SEND_TYPES: [Type; 7] =
    [Type::TEXT, Type::BOOL, Type::TIMESTAMPTZ, Type::INT8, Type::UUID_ARRAY, Type::JSONB_ARRAY, Type::BYTEA_ARRAY];

/// The CTEs every send starts with: `q`, the queue (locked, admitted), and `at`, when its messages
/// become available.
macro_rules! send_head {
    () => {
        "
WITH q AS (SELECT q.id, pg_catalog.set_config('synchronous_commit', 'on', true),
                  CASE WHEN q.max_messages IS NOT NULL
                       THEN pgmq._admit(q.id, pg_catalog.cardinality($5::uuid[])) END
           FROM pgmq.queues q WHERE q.name = $1 FOR KEY SHARE OF q),
at AS MATERIALIZED (
    SELECT coalesce($3::timestamptz,
                    pg_catalog.now() + (coalesce($4::bigint, 0) OPERATOR(pg_catalog.*) interval '1 microsecond')) AS t)"
    };
}
use send_head;

/// The text of [`SEND`], with more CTEs (`$extra`, starting with a comma) after `ins`.
macro_rules! send_sql {
    ($extra:literal) => {
        concat!(
            send_head!(),
            ",
ins AS (
    INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, attributes, body)
    SELECT q.id, u.id, at.t, $2, coalesce(u.attributes, '{}'), u.body
    FROM q, at, ROWS FROM (pg_catalog.unnest($5::uuid[]), pg_catalog.unnest($6::jsonb[]),
                           pg_catalog.unnest($7::bytea[])) AS u(id, attributes, body)
)",
            $extra,
            "
SELECT q.id FROM q"
        )
    };
}
use send_sql;

/// Counts by state in one pass over the queue's rows (index `messages_ready`).
pub(crate) const STATS: Sql = Sql::new(
    "
SELECT pg_catalog.count(m.id),
       pg_catalog.count(m.id) FILTER (WHERE m.available_at <= pg_catalog.now() AND NOT m.last_lease
                                        AND NOT m.cancel_requested),
       pg_catalog.count(m.id) FILTER (WHERE m.lease_token IS NULL AND m.available_at > pg_catalog.now()),
       pg_catalog.count(m.id) FILTER (WHERE m.lease_token IS NOT NULL AND m.available_at > pg_catalog.now()),
       (SELECT pg_catalog.count(*) FROM pgmq.messages d WHERE d.queue_id = q.dlq_id)
FROM pgmq.queues q LEFT JOIN pgmq.messages m ON m.queue_id = q.id
WHERE q.name = $1
GROUP BY q.id",
    &[Type::TEXT],
);

/// Deletes every message of the queue that no worker holds (ready, scheduled, or with a lapsed lease: what
/// `pgmq.cancel` removes) and records `cancelled` for the tracked ones through `pgmq._finish`, whose one
/// NOTIFY wakes their waiters (listing at most 200 ids, else `*`). One statement, so one transaction.
/// Rows another transaction holds locked at that moment (being claimed, nacked or cancelled) are skipped
/// rather than waited for, like redrive does: a purge never waits behind workers nor deadlocks with
/// them. `f` calls a volatile function, so it is evaluated once, after `d` (which it reads) has run.
/// Commits with `synchronous_commit` on, like cancel. Uses index `messages_pkey` (queue_id, id).
pub(crate) const PURGE: Sql = Sql::new(
    "
WITH q AS (SELECT q.id, pg_catalog.set_config('synchronous_commit', 'on', true)
           FROM pgmq.queues q WHERE q.name = $1),
d AS (
    DELETE FROM pgmq.messages m
    WHERE (m.queue_id, m.id) IN (
        SELECT x.queue_id, x.id FROM pgmq.messages x, q
        WHERE x.queue_id = q.id AND NOT x.cancel_requested
          AND (x.lease_token IS NULL OR x.available_at <= pg_catalog.now())
        FOR UPDATE OF x SKIP LOCKED)
    RETURNING m.id, m.tracked),
f AS (SELECT pgmq._finish(q.id, (SELECT pg_catalog.array_agg(d.id) FROM d WHERE d.tracked), 'cancelled')
      FROM q)
SELECT q.id, (SELECT pg_catalog.count(*) FROM d) FROM q, f",
    &[Type::TEXT],
);

pub(crate) const CANCEL: Sql = Sql::new(
    "SELECT q.id, c.id
     FROM pg_catalog.set_config('synchronous_commit', 'on', true),
          pgmq.queues q LEFT JOIN LATERAL pgmq.cancel(q.id, $2) c ON true
     WHERE q.name = $1",
    &[Type::TEXT, Type::UUID_ARRAY],
);

/// The dependencies of a send, checked and laid out for [`SEND_DEPENDENT`]: the pairs (entry, earlier
/// entry) of [`OutgoingMessage::after`], 1-based.
struct Dependencies {
    any: bool,
    entries: Vec<i32>,
    earlier: Vec<i32>,
}

impl Dependencies {
    fn of(messages: &[OutgoingMessage], options: &SendOptions) -> Result<Dependencies> {
        let mut entries = Vec::new();
        let mut earlier = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if options.depends_on.len() + m.after.len() > DEFAULTS.limits.max_dependencies {
                return Err(Error::invalid_option(format!(
                    "entry {i} has {} dependencies: at most {} per message",
                    options.depends_on.len() + m.after.len(),
                    DEFAULTS.limits.max_dependencies
                )));
            }
            for &j in &m.after {
                if j >= i {
                    return Err(Error::invalid_option(format!(
                        "entry {i} cannot depend on entry {j}: only on an earlier entry of the same send"
                    )));
                }
                entries.push(i as i32 + 1);
                earlier.push(j as i32 + 1);
            }
        }
        let any = !entries.is_empty() || !options.depends_on.is_empty();
        if any && !options.track {
            return Err(Error::invalid_option(
                "a message with dependencies is tracked (outcomes are how dependencies finish): drop track = false or the dependencies",
            ));
        }
        Ok(Dependencies { any, entries, earlier })
    }
}

impl Queue {
    pub(crate) fn new(client: Client, name: &str) -> Queue {
        Queue { client, name: Arc::from(name) }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this handle belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends one message. See [`Queue::send_batch`].
    pub async fn send(&self, message: impl Into<OutgoingMessage>, options: &SendOptions) -> Result<SentMessage> {
        let completion = self.send_batch(vec![message.into()], options).await?;
        Ok(SentMessage::new(completion))
    }

    /// Sends messages atomically in ONE statement (all or none) with one NOTIFY, however many there are.
    /// They become available in list order, after any message sent before them.
    ///
    /// Errors: [`Error::QueueNotFound`] (nothing written), [`Error::InvalidOption`] for both `delay` and
    /// `schedule_at`, a NaN attribute, NUL characters in attributes, or more than [`MAX_SEND_BYTES`] of
    /// bodies and attributes (nothing written). For a bounded queue ([`crate::QueueOptions::max_messages`])
    /// without room for the whole batch: waits up to [`SendOptions::wait_for_room`], woken when workers
    /// finish messages, then [`Error::QueueFull`] (nothing written). Dropping the future while it waits
    /// sends nothing.
    pub async fn send_batch(&self, messages: Vec<OutgoingMessage>, options: &SendOptions) -> Result<Completion> {
        if options.delay.is_some() && options.schedule_at.is_some() {
            return Err(Error::invalid_option("give either delay or schedule_at, not both"));
        }
        let delay = options.delay.map(|d| micros(d, "delay")).transpose()?;
        if let Some(wait) = options.wait_for_room {
            micros(wait, "wait_for_room")?;
        }
        if let Some(group) = &options.group {
            crate::options::validate_group(group)?;
            if !options.track {
                return Err(Error::invalid_option(
                    "a grouped message is tracked (its outcome is how its group finishes): drop track = false or the group",
                ));
            }
        }
        let dependencies = Dependencies::of(&messages, options)?;
        let n = messages.len();
        let mut ids = Vec::with_capacity(n);
        let mut attributes = Vec::with_capacity(n);
        let mut bodies = Vec::with_capacity(n);
        let mut bytes = 0usize;
        for m in messages {
            ids.push(Uuid::now_v7());
            // No attributes travel as NULL: cheaper to send and to parse than '{}'.
            let json = if m.attributes.is_empty() { None } else { Some(attributes_to_json(&m.attributes)?) };
            bytes = bytes.saturating_add(m.body.len()).saturating_add(json.as_ref().map_or(0, |j| j.0.len()));
            if bytes > MAX_SEND_BYTES {
                return Err(Error::invalid_option(format!(
                    "one send carries at most {MAX_SEND_BYTES} bytes of bodies and attributes"
                )));
            }
            attributes.push(json);
            bodies.push(m.body);
        }
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
            &&*self.name,
            &options.track,
            &options.schedule_at,
            &delay,
            &ids,
            &attributes,
            &bodies,
            &options.group,
            &options.depends_on,
            &dependencies.entries,
            &dependencies.earlier,
        ];
        let (sql, params) = match (&options.group, dependencies.any) {
            (_, true) => (&SEND_DEPENDENT, &params[..]),
            (Some(_), false) => (&SEND_GROUPED, &params[..8]),
            (None, false) => (&SEND, &params[..7]),
        };
        let queue_id = match self.insert(sql, params).await {
            Err(Error::QueueFull(text)) => match options.wait_for_room {
                Some(wait) if !wait.is_zero() => self.insert_when_room(sql, params, wait).await?,
                _ => return Err(Error::QueueFull(text)),
            },
            other => other?,
        };
        self.client.inner.notifier.announce(vec![(crate::protocol::ready_channel(queue_id), String::new())]);
        Ok(Completion::new(self.client.inner.clone(), queue_id, ids, options.track))
    }

    /// Runs [`SEND`] once: the queue's id, or why nothing was written.
    /// Again if PostgreSQL aborted it to break a deadlock (possible between sends counting a full bounded
    /// queue's rows: see migration 0009): the statement is its own transaction, so nothing was written.
    async fn insert(&self, sql: &Sql, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<i64> {
        let conn = self.client.inner.db.get().await?;
        let rows = crate::lease::query_retrying_deadlocks(&conn, sql, params).await?;
        rows.first().map(|r| r.get(0)).ok_or_else(|| Error::QueueNotFound(self.name.to_string()))
    }

    /// A bounded queue was full: tries again whenever it may have room (the room channel, the safety-net
    /// interval) until the send fits or `wait` has passed since it was first refused.
    async fn insert_when_room(
        &self,
        sql: &Sql,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        wait: Duration,
    ) -> Result<i64> {
        let deadline = tokio::time::Instant::now() + wait;
        let queue_id = self.id().await?;
        // Subscribe before the next try, so that room made after it always wakes us.
        let mut room = self.client.inner.listener.subscribe(crate::protocol::room_channel(queue_id)).await;
        loop {
            room.drain();
            let refusal = match self.insert(sql, params).await {
                Err(Error::QueueFull(text)) => text,
                other => return other,
            };
            let next = (tokio::time::Instant::now() + DEFAULTS.send.room_poll_interval).min(deadline);
            tokio::select! {
                _ = self.client.inner.shutdown.cancelled() => return Err(Error::Closed),
                _ = tokio::time::sleep_until(next) => {}
                _ = room.recv() => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::QueueFull(format!("{refusal} (waited {wait:?} for room)")));
            }
        }
    }

    /// Cancels every queued and held message of job group `group` in this queue (see
    /// [`Client::cancel_group`] for every queue). [`Error::QueueNotFound`] for an unknown queue.
    pub async fn cancel_group(&self, group: &str) -> Result<Vec<Uuid>> {
        crate::options::validate_group(group)?;
        crate::group::cancel(&self.client.inner, group, Some(self.id().await?)).await
    }

    /// Waits until every message of job group `group` in this queue has an outcome and returns them (see
    /// [`Client::wait_for_group`] for every queue).
    pub async fn wait_for_group(&self, group: &str) -> Result<std::collections::HashMap<Uuid, Outcome>> {
        crate::options::validate_group(group)?;
        crate::group::wait(&self.client.inner, group, Some(self.id().await?)).await
    }

    /// Job group `group`'s messages in this queue, by state and by outcome (see [`Client::group_stats`]).
    pub async fn group_stats(&self, group: &str) -> Result<crate::GroupStats> {
        crate::options::validate_group(group)?;
        crate::group::stats(&self.client.inner, group, Some(self.id().await?)).await
    }

    /// The queue's id ([`Error::QueueNotFound`] if it does not exist).
    async fn id(&self) -> Result<i64> {
        let conn = self.client.inner.db.get().await?;
        let row = conn.query_opt(&crate::client::QUEUE_ID, &[&&*self.name]).await?;
        row.map(|r| r.get(0)).ok_or_else(|| Error::QueueNotFound(self.name.to_string()))
    }

    /// Bounds the queue to `max` messages (ready, scheduled and leased together), or with `None` lifts
    /// its bound. Messages already in the queue stay, also beyond a new bound; sends fit again once it
    /// has drained below. [`Error::InvalidOption`] for 0 or a dead-letter queue (never bounded),
    /// [`Error::QueueNotFound`] for an unknown queue.
    pub async fn set_max_messages(&self, max: Option<u64>) -> Result<()> {
        crate::options::validate_max_messages(max)?;
        if self.name.starts_with(crate::options::DLQ_PREFIX) && max.is_some() {
            return Err(Error::invalid_option("a dead-letter queue cannot be bounded"));
        }
        let queue_id = self.id().await?;
        let conn = self.client.inner.db.get().await?;
        conn.execute(&crate::client::SET_MAX_MESSAGES, &[&queue_id, &max.map(|n| n as i64)]).await?;
        Ok(())
    }

    /// A receiver that leases messages from this queue. Nothing is read until [`Receiver::next`].
    /// [`Error::InvalidOption`] for a batch size of 0.
    pub fn receiver(&self, options: ReceiveOptions) -> Result<Receiver> {
        options.validate()?;
        Receiver::new(self.clone(), options)
    }

    /// Cancels messages. A queued or scheduled message is removed and will never be delivered
    /// (guaranteed). A leased one is marked: its holder is signalled ([`crate::Message::cancelled`]) and its
    /// ack then does nothing; it is never redelivered. Either way its outcome becomes `cancelled`.
    /// Returns the ids that were found; unknown ids are no error. [`Error::QueueNotFound`] for an unknown
    /// queue.
    pub async fn cancel(&self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let conn = self.client.inner.db.get().await?;
        let rows = conn.query(&CANCEL, &[&&*self.name, &ids]).await?;
        if rows.is_empty() {
            return Err(Error::QueueNotFound(self.name.to_string()));
        }
        Ok(rows.iter().filter_map(|r| r.get::<_, Option<Uuid>>(1)).collect())
    }

    /// Reads up to `options.limit` of this queue's messages without leasing or changing them: for
    /// operators looking into a queue, or into a dead-letter queue (`client.queue(&dlq_name("jobs"))`),
    /// where `last_error` and `dead_letter_attempts` say why each message is there.
    ///
    /// The messages come in the order claims take them: ready ones oldest first, then the others by
    /// when they fall due (a scheduled message's time, a lease's expiry). [`PeekOptions::state`] and
    /// [`PeekOptions::filter`] (the receivers' attribute filters) narrow the read. A plain read of one
    /// snapshot: it takes no lock, so it neither waits for workers nor holds them up, and what it
    /// returns may have changed by the time the caller looks at it.
    ///
    /// Errors: [`Error::QueueNotFound`] for an unknown queue; [`Error::InvalidOption`] for a limit of 0
    /// or above `DEFAULTS.peek.max_limit` (10,000) or an invalid filter, before any statement runs.
    /// Needs only SELECT on pgmq's tables: producers and consumers alike may peek.
    ///
    /// ```no_run
    /// # async fn demo(client: pgmq_core::Client) -> pgmq_core::Result<()> {
    /// use pgmq_core::{dlq_name, PeekOptions};
    /// for message in client.queue(&dlq_name("jobs"))?.peek(&PeekOptions::default().limit(10)).await? {
    ///     println!("{} failed {:?} times: {:?}", message.id, message.dead_letter_attempts, message.last_error);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn peek(&self, options: &PeekOptions) -> Result<Vec<PeekedMessage>> {
        let (sql, params) = peek_statement(options)?;
        let (name, limit) = (&*self.name, options.limit as i64);
        let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&name, &limit];
        args.extend(params.iter().map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)));
        let conn = self.client.inner.db.get().await?;
        let rows = conn.query(&sql, &args).await?;
        peeked(&self.name, rows)?.ok_or_else(|| Error::QueueNotFound(self.name.to_string()))
    }

    /// Deletes this queue's messages that no worker holds — ready ones and scheduled ones (and those
    /// whose lease lapsed, which are ready again) — and returns how many it deleted. Their outcome
    /// becomes `cancelled`, as if [`Queue::cancel`] had been called on each: waiters on tracked ones
    /// (in any process) learn it at once. Messages under a live lease are left to their workers, who
    /// ack or nack them as usual; to stop those too, [`Queue::cancel`] their ids.
    ///
    /// All in one transaction, whatever the number of messages (their waiters get one notification).
    /// A message another transaction is changing at that very moment (being claimed, nacked or
    /// cancelled) is left alone rather than waited for. Works on a dead-letter queue too.
    ///
    /// Needs a consumer's rights, as [`Queue::cancel`] does (it deletes messages and records
    /// outcomes: `pgmq.grant_consumer`); a role that may only produce gets [`Error::Database`]
    /// (permission denied, SQLSTATE 42501). [`Error::QueueNotFound`] for an unknown queue.
    pub async fn purge(&self) -> Result<u64> {
        let conn = self.client.inner.db.get().await?;
        let row = conn
            .query_opt(&PURGE, &[&&*self.name])
            .await?
            .ok_or_else(|| Error::QueueNotFound(self.name.to_string()))?;
        Ok(row.get::<_, i64>(1) as u64)
    }

    /// Counts of this queue's messages by state. [`Error::QueueNotFound`] for an unknown queue.
    pub async fn stats(&self) -> Result<QueueStats> {
        let conn = self.client.inner.db.get().await?;
        let row = conn
            .query_opt(&STATS, &[&&*self.name])
            .await?
            .ok_or_else(|| Error::QueueNotFound(self.name.to_string()))?;
        let n = |i: usize| row.get::<_, i64>(i) as u64;
        Ok(QueueStats { messages: n(0), ready: n(1), scheduled: n(2), leased: n(3), dead_lettered: n(4) })
    }

    /// A completion handle for messages sent earlier (possibly by another process) to this queue, to
    /// wait for their outcomes. Fails at [`Completion::wait`] with [`Error::NotTracked`] or
    /// [`Error::MessageNotFound`] for ids that have no outcome coming.
    pub async fn completion(&self, ids: &[Uuid]) -> Result<Completion> {
        Ok(Completion::new(self.client.inner.clone(), self.id().await?, ids.to_vec(), true))
    }

    /// Sends `message` (tracked) and waits for its reply: request/reply over a queue. A worker answers
    /// with [`crate::Message::ack_with_result`] or `ack_with_json` in any language; the [`Reply`]'s
    /// outcome is then [`Outcome::Completed`] and its result the worker's (none if it acked without one).
    ///
    /// Errors, besides those of [`Queue::send`]: [`Error::RequestFailed`] when the request was
    /// dead-lettered, cancelled or expired instead; [`Error::Timeout`] when no reply came within
    /// `timeout` ([`crate::DEFAULTS`]`.request.timeout` is the bindings' default), after which the
    /// request is cancelled (a worker holding it is signalled, and its late reply is dropped), unless it
    /// finished in the meantime, whose reply is then returned; [`Error::InvalidOption`] for a zero
    /// timeout or one over 100 years, before anything is sent. Dropping the future stops the wait and
    /// leaves the request queued.
    ///
    /// ```no_run
    /// # async fn demo(queue: pgmq_core::Queue) -> pgmq_core::Result<()> {
    /// use std::time::Duration;
    /// let reply = queue.request(pgmq_core::OutgoingMessage::json(&[2, 3])?, Duration::from_secs(5)).await?;
    /// let sum: i64 = reply.json()?;
    /// # Ok(()) }
    /// ```
    pub async fn request(&self, message: impl Into<OutgoingMessage>, timeout: Duration) -> Result<Reply> {
        if timeout.is_zero() {
            return Err(Error::invalid_option("a request's timeout must be positive"));
        }
        micros(timeout, "a request's timeout")?;
        let sent = self.send(message, &SendOptions::default().track(true)).await?;
        let reply = match tokio::time::timeout(timeout, sent.wait_reply()).await {
            Ok(reply) => reply?,
            Err(_) => {
                // Nobody will read a late reply: cancel the request. The cancel finds nothing only when
                // the request finished in the meantime, and then its reply is there to read.
                let id = sent.id();
                match self.cancel(&[id]).await {
                    Ok(found) if found.is_empty() => sent.wait_reply().await?,
                    Ok(_) => {
                        return Err(Error::Timeout(format!(
                            "no reply to request {id} within {timeout:?}; the request was cancelled"
                        )))
                    }
                    Err(e) => {
                        return Err(Error::Timeout(format!(
                            "no reply to request {id} within {timeout:?}, and cancelling it failed ({e})"
                        )))
                    }
                }
            }
        };
        match reply.outcome() {
            Outcome::Completed => Ok(reply),
            outcome => Err(Error::RequestFailed { id: sent.id(), outcome }),
        }
    }

    /// Waits until every message in `ids` has finished and returns their outcomes.
    /// Shorthand for [`Queue::completion`] + [`Completion::wait`].
    pub async fn wait_for_completion(&self, ids: &[Uuid]) -> Result<std::collections::HashMap<Uuid, crate::Outcome>> {
        self.completion(ids).await?.wait().await
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("name", &self.name).finish()
    }
}

pub(crate) fn duration_from_ms(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}
