//! Receiving: lease up to N ready messages in one statement, and sleep on NOTIFY (and the next scheduled
//! message or lease expiry) while there are none.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::db::Sql;
use crate::error::{Error, Result};
use crate::filter::SqlParams;
use crate::lease::Held;
use crate::listener::{Subscription, Wake};
use crate::message::{Message, MessageParts};
use crate::options::{
    attributes_from_json, ErrorHandler, ReceiveOptions, RECONNECT_BACKOFF_MAX, RECONNECT_BACKOFF_MIN,
};
use crate::queue::{duration_from_ms, Queue};

/// Leases the oldest available messages: FIFO by the time they became available, ties broken by the
/// id (a UUIDv7: send order within a batch and within one process). One statement claims, sets the lease
/// expiry, counts the attempt and marks a last attempt. When it claims nothing it returns one row saying
/// whether the queue exists and in how many milliseconds the next row becomes available (a scheduled
/// message, a nack delay or a lease expiry), judged at the same `now()` as the claim, so nothing can fall
/// due unseen between the two.
/// The claim commits asynchronously (`synchronous_commit` off for this transaction only): a claim lost in
/// a server crash just leaves the message ready again, which at-least-once delivery allows, and the
/// worker's ack, which is durable, flushes the claim with it.
/// Uses index `messages_ready` (queue_id, available_at, id), then a TID scan: the rows are locked by
/// `picked` in the same statement, so their ctids cannot move.
const CLAIM_HEAD: &str = "
WITH q AS (SELECT ack_deadline, max_delivery_attempts, pg_catalog.set_config('synchronous_commit', 'off', true)
           FROM pgmq.queues WHERE id = $1),
picked AS (
    SELECT m.ctid AS tid, m.available_at AS became_available
    FROM pgmq.messages m
    WHERE m.queue_id = $1 AND m.available_at <= pg_catalog.now() AND NOT m.last_lease AND NOT m.cancel_requested";
const CLAIM_TAIL: &str = "
    ORDER BY m.available_at, m.id
    LIMIT $2
    FOR UPDATE OF m SKIP LOCKED
), claimed AS (
    UPDATE pgmq.messages m
    SET available_at = pg_catalog.now() + q.ack_deadline,
        lease_token = pg_catalog.gen_random_uuid(),
        delivery_attempts = m.delivery_attempts + 1,
        last_lease = m.delivery_attempts + 1 >= q.max_delivery_attempts
    FROM picked, q
    WHERE m.ctid = picked.tid
    RETURNING m.id, m.lease_token, m.delivery_attempts, m.body, m.attributes, m.sent_at, m.last_error,
              m.dead_letter_attempts, picked.became_available
)
SELECT c.*, true AS queue_exists, NULL::bigint AS wake_ms, false AS due_locked FROM claimed c
UNION ALL
SELECT NULL::uuid, NULL::uuid, NULL::integer, NULL::bytea, NULL::jsonb, NULL::timestamptz, NULL::text,
       NULL::integer, NULL::timestamptz,
       EXISTS (SELECT 1 FROM pgmq.queues WHERE id = $1),
       (SELECT pg_catalog.ceil(extract(epoch FROM w.available_at - pg_catalog.now())
                               OPERATOR(pg_catalog.*) 1000)::bigint
        FROM pgmq.messages w WHERE w.queue_id = $1 AND w.available_at > pg_catalog.now()
          AND w.available_at < CAST('infinity' AS timestamptz)
        ORDER BY w.available_at LIMIT 1),
       EXISTS (SELECT 1 FROM pgmq.messages m
               WHERE m.queue_id = $1 AND m.available_at <= pg_catalog.now()
                 AND NOT m.last_lease AND NOT m.cancel_requested";
/// Closes the "due but locked" test of the idle row (after the filter, when there is one).
const CLAIM_END: &str = ")
WHERE NOT EXISTS (SELECT 1 FROM claimed)";

/// The queue's id, ack deadline and whether it is bounded. `max_messages` (schema 9) is read through the
/// row's JSON so that a receiver also works on a schema a version behind, while its migration waits for a
/// lock (a rolling upgrade); it runs once per receiver start, not per claim.
pub(crate) const RESOLVE: Sql = Sql::new(
    "SELECT q.id, (extract(epoch FROM q.ack_deadline) OPERATOR(pg_catalog.*) 1000)::bigint,
            coalesce(pg_catalog.to_jsonb(q) OPERATOR(pg_catalog.->) 'max_messages', 'null')
                OPERATOR(pg_catalog.<>) 'null'::jsonb
     FROM pgmq.queues q WHERE q.name = $1",
    &[Type::TEXT],
);

/// Claimed messages, or none plus (queue exists, milliseconds until the next row falls due).
/// "Due but locked" means a ready row was skipped because another transaction held its lock (another
/// claim, an ack, a heartbeat that lost a race): nothing may announce it, so the receiver looks again
/// soon (see [`LOCKED_RETRY_MAX`]) rather than sleeping until the next NOTIFY.
type Claim = (Vec<Message>, bool, Option<i64>, bool);

/// The longest a receiver waits before re-reading when it found ready rows locked by others; it
/// starts at 1 ms and doubles while that persists.
const LOCKED_RETRY_MAX: Duration = Duration::from_millis(250);

/// Filter parameters: immutable for the receiver's life, shared with its claim tasks.
type Params = Arc<Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>>;

#[derive(Clone, Copy)]
struct Resolved {
    id: i64,
    ack_deadline: Duration,
    /// Whether the queue was bounded when resolved: its acks then announce room to waiting senders.
    bounded: bool,
}

/// Leases messages from one queue, at most `batch_size` at a time.
///
/// A receiver never holds more than `batch_size` unfinished messages (no hidden prefetch): when that many
/// are out, [`Receiver::next`] waits until one is finished or dropped. A message counts as finished once
/// its ack or nack is handed to the client's committer, which commits it in the background together with
/// others: the next claim does not wait for that commit. While the queue is idle it sleeps
/// on NOTIFY, the next scheduled message and the next lease expiry, with a slow safety-net re-read
/// (`poll_interval`); it never polls faster. A queue that does not exist yet is waited for.
pub struct Receiver {
    queue: Queue,
    claim_sql: Arc<Sql>,
    filter_params: Params,
    poll_interval: Duration,
    capacity: Arc<Semaphore>,
    batch_size: usize,
    buffer: VecDeque<Message>,
    resolved: Option<Resolved>,
    subscription: Option<Subscription>,
    queues_subscription: Option<Subscription>,
    on_error: Option<ErrorHandler>,
    closed: bool,
}

/// The claim for these options: `$1` the queue id, `$2` the limit, then the filter's parameters.
pub(crate) fn claim_statement(
    options: &ReceiveOptions,
) -> Result<(Sql, Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>)> {
    let mut claim_sql = String::from(CLAIM_HEAD);
    let mut params = SqlParams::starting_at(3);
    let mut filter_sql = String::new();
    if let Some(filter) = &options.filter {
        filter_sql.push_str(" AND ");
        filter.write_sql(&mut filter_sql, &mut params)?;
    }
    // The filter twice: for the claim, and for the "due but locked" test (same parameters).
    claim_sql.push_str(&filter_sql);
    claim_sql.push_str(CLAIM_TAIL);
    claim_sql.push_str(&filter_sql);
    claim_sql.push_str(CLAIM_END);
    let types = [Type::INT8, Type::INT8].into_iter().chain(params.types).collect();
    Ok((Sql::owned(claim_sql, types), params.values))
}

impl Receiver {
    pub(crate) fn new(queue: Queue, options: ReceiveOptions) -> Result<Receiver> {
        let (claim_sql, params) = claim_statement(&options)?;
        Ok(Receiver {
            queue,
            claim_sql: Arc::new(claim_sql),
            filter_params: Arc::new(params),
            poll_interval: options.poll_interval,
            capacity: Arc::new(Semaphore::new(options.batch_size)),
            batch_size: options.batch_size,
            buffer: VecDeque::new(),
            resolved: None,
            subscription: None,
            queues_subscription: None,
            on_error: options.on_error,
            closed: false,
        })
    }

    /// The queue this receiver reads.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Waits for the next message and returns it leased to this worker.
    ///
    /// Cancel-safe: if the future is dropped, messages it had already leased are released at once.
    /// Errors: [`Error::Closed`] after [`Receiver::close`] or when the client closes. Connection errors
    /// never end the call: the receiver reports them ([`ReceiveOptions::on_error`], a `tracing`
    /// warning) and tries again with a capped, jittered backoff.
    pub async fn next(&mut self) -> Result<Message> {
        loop {
            if let Some(m) = self.buffer.pop_front() {
                return Ok(m);
            }
            let batch = self.next_batch().await?;
            self.buffer.extend(batch);
        }
    }

    /// Waits until at least one message is available and returns every message leased in that claim (up
    /// to the free capacity, `batch_size` minus the messages still held). Cancel-safe like
    /// [`Receiver::next`].
    pub async fn next_batch(&mut self) -> Result<Vec<Message>> {
        if !self.buffer.is_empty() {
            return Ok(self.buffer.drain(..).collect());
        }
        let shutdown = self.queue.client.inner.shutdown.clone();
        let mut locked_retry = Duration::from_millis(1);
        let mut backoff = RECONNECT_BACKOFF_MIN;
        loop {
            if self.closed || shutdown.is_cancelled() {
                return Err(Error::Closed);
            }
            let resolved = match self.resolve().await {
                Ok(r) => r,
                Err(e) if e.is_transient() => {
                    self.recover(&e, &mut backoff).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(resolved) = resolved else {
                // The queue does not exist (yet): wait for any queue to be created.
                let sub = self.queues_subscription.as_mut().expect("subscribed by resolve");
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(Error::Closed),
                    _ = sub.recv() => {}
                    _ = tokio::time::sleep(self.poll_interval) => {}
                }
                continue;
            };

            // Capacity first: a receiver holds at most batch_size unfinished messages.
            let first = tokio::select! {
                _ = shutdown.cancelled() => return Err(Error::Closed),
                p = self.capacity.clone().acquire_owned() => p.map_err(|_| Error::Closed)?,
            };
            let mut permits = vec![first];
            while permits.len() < self.batch_size {
                match self.capacity.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }

            if self.subscription.is_none() {
                let channel = crate::protocol::ready_channel(resolved.id);
                self.subscription = Some(self.queue.client.inner.listener.subscribe(channel).await);
            }
            self.subscription.as_mut().unwrap().drain();

            let (messages, exists, wait_ms, due_locked) = match self.claim(resolved, permits).await {
                Ok(claim) => claim,
                Err(e) if e.is_transient() => {
                    self.recover(&e, &mut backoff).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            backoff = RECONNECT_BACKOFF_MIN;
            if !messages.is_empty() {
                return Ok(messages);
            }
            if !exists {
                self.resolved = None;
                self.subscription = None;
                continue;
            }
            let mut wait = wait_ms.map_or(self.poll_interval, |ms| duration_from_ms(ms).min(self.poll_interval));
            if due_locked {
                wait = wait.min(locked_retry);
                locked_retry = (locked_retry * 2).min(LOCKED_RETRY_MAX);
            } else {
                locked_retry = Duration::from_millis(1);
            }
            let sub = self.subscription.as_mut().unwrap();
            tokio::select! {
                _ = shutdown.cancelled() => return Err(Error::Closed),
                wake = sub.recv() => if let Wake::Reset = wake { tracing::trace!("receiver re-reads after reset") },
                _ = tokio::time::sleep(wait + Duration::from_millis(1)) => {}
            }
        }
    }

    /// Reports a connection error and pauses before the next attempt: `backoff` scaled by a random
    /// factor in [0.5, 1] (so a restarted server is not met by every receiver at once), then doubled up
    /// to the cap. [`Error::Closed`] if the receiver or the client closes meanwhile.
    async fn recover(&mut self, error: &Error, backoff: &mut Duration) -> Result<()> {
        tracing::warn!("pgmq receiver on {:?}: {error}; retrying in up to {:?}", &*self.queue.name, *backoff);
        if let Some(handler) = &self.on_error {
            let handler = handler.0.clone();
            // A panicking handler must not take the receiver down with it.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(error))).is_err() {
                tracing::error!("pgmq receiver: the on_error handler panicked");
            }
        }
        // A claim that failed may have been cut off mid-flight: forget what it resolved, so the next
        // attempt starts from the queue's name (it may have been deleted meanwhile).
        self.resolved = None;
        self.subscription = None;
        let jitter = 0.5 + (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 2000.0;
        let pause = backoff.mul_f64(jitter);
        *backoff = (*backoff * 2).min(RECONNECT_BACKOFF_MAX);
        let shutdown = self.queue.client.inner.shutdown.clone();
        tokio::select! {
            _ = shutdown.cancelled() => Err(Error::Closed),
            _ = tokio::time::sleep(pause) => if self.closed { Err(Error::Closed) } else { Ok(()) },
        }
    }

    /// Stops receiving: messages leased but not yet returned are released for prompt redelivery, and
    /// later calls fail with [`Error::Closed`]. Messages already returned stay valid.
    pub fn close(&mut self) {
        self.closed = true;
        self.buffer.clear();
        self.subscription = None;
        self.queues_subscription = None;
    }

    /// Whether [`Receiver::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    async fn resolve(&mut self) -> Result<Option<Resolved>> {
        if let Some(r) = self.resolved {
            return Ok(Some(r));
        }
        if self.queues_subscription.is_none() {
            let sub = self.queue.client.inner.listener.subscribe(crate::protocol::QUEUES_CHANNEL.to_owned()).await;
            self.queues_subscription = Some(sub);
        }
        self.queues_subscription.as_mut().unwrap().drain();
        let conn = self.queue.client.inner.db.get().await?;
        let row = conn.query_opt(&RESOLVE, &[&&*self.queue.name]).await?;
        self.resolved =
            row.map(|r| Resolved { id: r.get(0), ack_deadline: duration_from_ms(r.get(1)), bounded: r.get(2) });
        if self.resolved.is_some() {
            self.queues_subscription = None;
        }
        Ok(self.resolved)
    }

    /// Runs the claim in its own task so that, if the caller stops waiting, the messages it leased are
    /// still turned into `Message`s and dropped, which releases them at once.
    /// Returns the messages claimed, or (when none) whether the queue exists and when to look again.
    async fn claim(&self, resolved: Resolved, permits: Vec<OwnedSemaphorePermit>) -> Result<Claim> {
        let client = self.queue.client.clone();
        let sql = self.claim_sql.clone();
        let params = self.filter_params.clone();
        let queue_name = self.queue.name.clone();
        let task = client.inner.rt.clone().spawn(async move {
            let limit = permits.len() as i64;
            let conn = client.inner.db.get().await?;
            let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&resolved.id, &limit];
            args.extend(params.iter().map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)));
            let rows = conn.query(&sql, &args).await?;
            drop(conn);
            if let [idle] = rows.as_slice() {
                if idle.get::<_, Option<Uuid>>(0).is_none() {
                    return Ok((Vec::new(), idle.get(9), idle.get(10), idle.get(11)));
                }
            }
            let leases = client.leases_for(resolved.id, resolved.ack_deadline, resolved.bounded);
            let mut claimed: Vec<(SystemTime, MessageParts, Uuid)> = rows
                .into_iter()
                .map(|r| {
                    let parts = MessageParts {
                        id: r.get(0),
                        queue: queue_name.clone(),
                        body: r.get(3),
                        attributes: attributes_from_json(&r.get::<_, serde_json::Value>(4)),
                        delivery_attempt: r.get::<_, i32>(2) as u32,
                        sent_at: r.get(5),
                        last_error: r.get(6),
                        dead_letter_attempts: r.get::<_, Option<i32>>(7).map(|n| n as u32),
                    };
                    (r.get(8), parts, r.get(1))
                })
                .collect();
            claimed.sort_by_key(|(at, parts, _)| (*at, parts.id));
            let mut permits = permits.into_iter();
            let messages = claimed
                .into_iter()
                .map(|(_, parts, token)| {
                    let held = Held::new(parts.id, token, permits.next());
                    Message::new(parts, held, leases.clone(), client.inner.clone())
                })
                .collect();
            Ok::<_, Error>((messages, true, None, false))
        });
        // A JoinError is a panic (a bug: reported as one) or the runtime shutting down.
        task.await.map_err(|e| if e.is_panic() { Error::from_panic(&*e.into_panic()) } else { Error::Closed })?
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("queue", &self.queue.name)
            .field("batch_size", &self.batch_size)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// A [`Receiver`] shared between tasks, as the language bindings hold one: any number of callers may
/// wait in [`SharedReceiver::next_batch`] (one claims at a time, the others queue up), and
/// [`SharedReceiver::close`], callable from anywhere without waiting, ends every pending and later call
/// with `Ok(None)`, releasing what a pending claim had leased.
#[derive(Clone)]
pub struct SharedReceiver {
    inner: Arc<tokio::sync::Mutex<Receiver>>,
    closed: tokio_util::sync::CancellationToken,
}

impl SharedReceiver {
    /// Shares `receiver`.
    pub fn new(receiver: Receiver) -> SharedReceiver {
        SharedReceiver {
            inner: Arc::new(tokio::sync::Mutex::new(receiver)),
            closed: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Like [`Receiver::next_batch`], but `Ok(None)` once this receiver or its client is closed.
    pub async fn next_batch(&self) -> Result<Option<Vec<Message>>> {
        self.with(|r| Box::pin(r.next_batch())).await
    }

    /// Like [`Receiver::next`], but `Ok(None)` once this receiver or its client is closed.
    pub async fn next(&self) -> Result<Option<Message>> {
        self.with(|r| Box::pin(r.next())).await
    }

    async fn with<T>(
        &self,
        call: impl for<'a> FnOnce(&'a mut Receiver) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T>> + Send + 'a>>,
    ) -> Result<Option<T>> {
        let mut receiver = tokio::select! {
            _ = self.closed.cancelled() => return Ok(None),
            r = self.inner.lock() => r,
        };
        let result = tokio::select! {
            // Dropping the receiver's call releases whatever its claim had leased.
            _ = self.closed.cancelled() => return Ok(None),
            r = call(&mut receiver) => r,
        };
        if self.closed.is_cancelled() {
            receiver.close();
            return Ok(None); // what was just leased is dropped, hence released
        }
        match result {
            Ok(v) => Ok(Some(v)),
            Err(Error::Closed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stops receiving: pending and later calls return `Ok(None)`; messages already returned stay valid.
    pub fn close(&self) {
        self.closed.cancel();
        if let Ok(mut receiver) = self.inner.try_lock() {
            receiver.close();
        }
    }

    /// Whether [`SharedReceiver::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }
}

impl std::fmt::Debug for SharedReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedReceiver").field("closed", &self.is_closed()).finish_non_exhaustive()
    }
}
