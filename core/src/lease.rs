//! Leases held by this client: the per-queue heartbeat (one statement per tick for every held message of
//! the queue), cancellation signals, and the committer that batches acks, nacks and releases from every
//! worker into one statement per queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::db::{Db, Sql};
use crate::error::{Error, Result};
use crate::listener::Listener;
use crate::notifier::Notifier;
use crate::protocol;

const HELD: u8 = 0;
const FINISHING: u8 = 1;
const DONE: u8 = 2;

/// The shared state of one leased message: its fencing token and what its holder must learn.
pub(crate) struct Held {
    pub(crate) id: Uuid,
    pub(crate) token: Uuid,
    state: AtomicU8,
    pub(crate) lost: AtomicBool,
    pub(crate) cancelled: watch::Sender<bool>,
    /// The receiver's capacity slot, returned when the committer takes the message's ack or nack (before
    /// that statement commits), or when the message is dropped.
    slot: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Held {
    pub(crate) fn new(id: Uuid, token: Uuid, slot: Option<OwnedSemaphorePermit>) -> Arc<Held> {
        Arc::new(Held {
            id,
            token,
            state: AtomicU8::new(HELD),
            lost: AtomicBool::new(false),
            cancelled: watch::channel(false).0,
            slot: Mutex::new(slot),
        })
    }

    /// Claims the right to finish (ack/nack) the message; only one caller wins.
    pub(crate) fn begin_finish(&self) -> Result<()> {
        self.state
            .compare_exchange(HELD, FINISHING, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| Error::AlreadyFinished(self.id))
    }

    pub(crate) fn is_held(&self) -> bool {
        self.state.load(Ordering::Acquire) == HELD
    }

    fn settle(&self, leases: &QueueLeases, finished: bool) {
        if finished {
            self.state.store(DONE, Ordering::Release);
            leases.unregister(self);
            self.slot.lock().unwrap().take();
        } else {
            // The statement failed (connection trouble): the lease may still be ours; let the holder retry.
            self.state.store(HELD, Ordering::Release);
        }
    }

    /// For Drop: if nobody finished it, mark it done and say so.
    pub(crate) fn abandon(&self) -> bool {
        self.state.compare_exchange(HELD, DONE, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    pub(crate) fn release_slot(&self) {
        self.slot.lock().unwrap().take();
    }
}

/// The messages this client holds on one queue, kept alive by one heartbeat statement per tick.
pub(crate) struct QueueLeases {
    pub(crate) queue_id: i64,
    pub(crate) ack_deadline: Duration,
    /// Whether the queue is bounded (as its receivers last resolved it): then the committer announces
    /// room on `pgmq_r_<id>` after each batch that finished messages of it.
    pub(crate) bounded: AtomicBool,
    held: Mutex<HashMap<Uuid, Arc<Held>>>,
    changed: Notify,
}

impl QueueLeases {
    pub(crate) fn start(
        queue_id: i64,
        ack_deadline: Duration,
        db: Db,
        listener: Listener,
        shutdown: CancellationToken,
        rt: &tokio::runtime::Handle,
    ) -> Arc<QueueLeases> {
        let leases = Arc::new(QueueLeases {
            queue_id,
            ack_deadline,
            bounded: AtomicBool::new(false),
            held: Mutex::new(HashMap::new()),
            changed: Notify::new(),
        });
        rt.spawn(keep(Arc::downgrade(&leases), db, listener, shutdown));
        leases
    }

    pub(crate) fn register(&self, held: Arc<Held>) {
        let first = {
            let mut map = self.held.lock().unwrap();
            map.insert(held.id, held);
            map.len() == 1
        };
        if first {
            self.changed.notify_one();
        }
    }

    /// Forgets this lease, unless the message was redelivered to this client meanwhile and the entry is
    /// already the newer lease (same id, another token), which must stay kept alive.
    pub(crate) fn unregister(&self, held: &Held) {
        let mut map = self.held.lock().unwrap();
        if map.get(&held.id).is_some_and(|h| h.token == held.token) {
            map.remove(&held.id);
        }
    }

    fn snapshot(&self) -> Vec<Arc<Held>> {
        self.held.lock().unwrap().values().cloned().collect()
    }
}

/// Extends every held lease of one queue at a third of the ack deadline, and relays cancellations.
async fn keep(
    leases: std::sync::Weak<QueueLeases>,
    db: Db,
    listener: Listener,
    shutdown: CancellationToken,
) {
    let Some(first) = leases.upgrade() else { return };
    let (queue_id, interval) = (first.queue_id, first.ack_deadline / 3);
    drop(first);
    let mut subscription = None;
    let mut next_beat = Instant::now() + interval;
    loop {
        let Some(l) = leases.upgrade() else { return };
        let idle = l.held.lock().unwrap().is_empty();
        if idle {
            subscription = None; // UNLISTEN while we hold nothing
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = l.changed.notified() => {}
            }
            next_beat = Instant::now() + interval;
            continue;
        }
        let sub = match &mut subscription {
            Some(s) => s,
            None => {
                let s = listener.subscribe(protocol::cancelled_channel(queue_id)).await;
                // Cancels requested before we listened: the first beat reads the flags.
                next_beat = next_beat.min(Instant::now());
                subscription.insert(s)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = l.changed.notified() => {}
            // Any role can NOTIFY any channel: a notification only says "look now", and the beat
            // reads cancel_requested from the table, so a forged one cancels nothing.
            _ = sub.recv() => next_beat = Instant::now(),
            _ = tokio::time::sleep_until(next_beat) => {
                next_beat = Instant::now() + interval;
                if let Err(e) = beat(&l, &db, &listener).await {
                    tracing::warn!("pgmq heartbeat on queue {queue_id} failed: {e}");
                    next_beat = Instant::now() + interval.min(Duration::from_millis(500));
                }
            }
        }
    }
}

/// Never shortens a lease (an explicit `Message::extend` beyond the deadline stands). Commits
/// asynchronously: an extension lost in a server crash only makes the lease shorter.
/// Never waits for a row lock (`SKIP LOCKED`): a held row locked by someone else is being acked,
/// released or cancelled right now, so it is reported as still held (from the statement's snapshot) and
/// extended on the next beat if it still needs it. Waiting instead would lock the row's next version
/// after a release and hide it from claims until this transaction ends, and could deadlock with an ack.
/// Uses index `messages_pkey` (queue_id, id).
pub(crate) const HEARTBEAT: Sql = Sql::new(
    "
WITH q AS (SELECT ack_deadline, pg_catalog.set_config('synchronous_commit', 'off', true)
           FROM pgmq.queues WHERE id = $1),
a AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), pg_catalog.unnest($3::uuid[])) AS a(id, token)),
locked AS (
    SELECT m.ctid AS tid FROM pgmq.messages m, a
    WHERE m.queue_id = $1 AND m.id = a.id AND m.lease_token = a.token
    FOR UPDATE OF m SKIP LOCKED
), extended AS (
    UPDATE pgmq.messages m SET available_at = greatest(m.available_at, pg_catalog.now() + q.ack_deadline)
    FROM q, locked
    WHERE m.ctid = locked.tid
    RETURNING m.id, m.cancel_requested
)
SELECT e.id, e.cancel_requested FROM extended e
UNION ALL
SELECT m.id, m.cancel_requested FROM pgmq.messages m, a
WHERE m.queue_id = $1 AND m.id = a.id AND m.lease_token = a.token
  AND NOT EXISTS (SELECT 1 FROM extended e WHERE e.id = m.id)",
    &[Type::INT8, Type::UUID_ARRAY, Type::UUID_ARRAY],
);

async fn beat(leases: &QueueLeases, db: &Db, listener: &Listener) -> Result<()> {
    let held = leases.snapshot();
    if held.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = held.iter().map(|h| h.id).collect();
    let tokens: Vec<Uuid> = held.iter().map(|h| h.token).collect();
    let rows = match listener.connection() {
        Some(conn) => match beat_on_listener(&conn, &db.policy, leases.queue_id, &ids, &tokens).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!("pgmq: heartbeat on the LISTEN connection failed, using the pool: {e}");
                beat_on_pool(db, leases.queue_id, &ids, &tokens).await?
            }
        },
        None => beat_on_pool(db, leases.queue_id, &ids, &tokens).await?,
    };
    let mut alive: HashMap<Uuid, bool> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for h in held {
        match alive.remove(&h.id) {
            Some(true) => {
                h.cancelled.send_replace(true);
            }
            Some(false) => {}
            None if h.is_held() => {
                // Expired and taken by someone else, or dead-lettered: stop pretending we hold it.
                h.lost.store(true, Ordering::Release);
                leases.unregister(&h);
            }
            None => {}
        }
    }
    Ok(())
}

/// How long a heartbeat on the LISTEN connection may take before the pool is tried instead.
const LISTENER_BEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// Heartbeats go out on the client's LISTEN connection, which is idle between notifications: queued
/// behind the work on a busy pool (1,000 sends waiting for one connection), a beat would arrive after
/// the lease it renews had lapsed. One round trip (an unnamed statement with its parameter types).
async fn beat_on_listener(
    conn: &tokio_postgres::Client,
    policy: &crate::db::Policy,
    queue_id: i64,
    ids: &[Uuid],
    tokens: &[Uuid],
) -> Result<Vec<tokio_postgres::Row>> {
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] =
        [(&queue_id, Type::INT8), (&ids, Type::UUID_ARRAY), (&tokens, Type::UUID_ARRAY)];
    let sql = HEARTBEAT;
    let text = policy.in_schema(&sql.text);
    let query = conn.query_typed(&text, &params);
    tokio::time::timeout(LISTENER_BEAT_TIMEOUT, query)
        .await
        .map_err(|_| Error::Connection("no answer on the LISTEN connection".into()))?
        .map_err(Error::from)
}

async fn beat_on_pool(db: &Db, queue_id: i64, ids: &[Uuid], tokens: &[Uuid]) -> Result<Vec<tokio_postgres::Row>> {
    db.get().await?.query(&HEARTBEAT, &[&queue_id, &ids, &tokens]).await
}

/// Extends one lease now by `by`. Returns whether it was still held under this token.
pub(crate) async fn extend(db: &Db, queue_id: i64, held: &Held, by: Duration) -> Result<bool> {
    let by = crate::options::micros(by, "extension")?;
    let conn = db.get().await?;
    Ok(conn.execute(&EXTEND, &[&queue_id, &held.id, &held.token, &by]).await? == 1)
}

pub(crate) const EXTEND: Sql = Sql::new(
    "UPDATE pgmq.messages
     SET available_at = pg_catalog.now() + ($4::bigint OPERATOR(pg_catalog.*) interval '1 microsecond')
     WHERE queue_id = $1 AND id = $2 AND lease_token = $3",
    &[Type::INT8, Type::UUID, Type::UUID, Type::INT8],
);

/// Acks, nacks and cancels commit with `synchronous_commit` on whatever the role's default, like sends:
/// one lost in a crash would bring a finished message back (and its outcome record with it).
pub(crate) const ACK: Sql = Sql::new(
    "SELECT a.id, a.recorded
     FROM pg_catalog.set_config('synchronous_commit', 'on', true), pgmq.ack($1, $2, $3) AS a",
    &[Type::INT8, Type::UUID_ARRAY, Type::UUID_ARRAY],
);

/// An ack carrying results (migration 0008): used only for batches where some ack has one, so plain acks
/// keep the statement above.
pub(crate) const ACK_WITH_RESULTS: Sql = Sql::new(
    "SELECT a.id, a.recorded
     FROM pg_catalog.set_config('synchronous_commit', 'on', true), pgmq.ack($1, $2, $3, $4, $5) AS a",
    &[Type::INT8, Type::UUID_ARRAY, Type::UUID_ARRAY, Type::BYTEA_ARRAY, Type::TEXT_ARRAY],
);

pub(crate) const NACK: Sql = Sql::new(
    "SELECT n.id, n.result
     FROM pg_catalog.set_config('synchronous_commit', 'on', true), pgmq.nack($1, $2, $3, $4, $5) AS n",
    &[Type::INT8, Type::UUID_ARRAY, Type::UUID_ARRAY, Type::INT8_ARRAY, Type::TEXT_ARRAY],
);

/// A result an ack keeps with the message's outcome: its bytes and their content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckResult {
    pub(crate) bytes: Vec<u8>,
    pub(crate) content_type: Option<String>,
}

/// What a nack did to a message still held under its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NackResult {
    Retried,
    DeadLettered,
    Cancelled,
}

pub(crate) enum Op {
    Ack {
        held: Arc<Held>,
        leases: Arc<QueueLeases>,
        /// The result to keep with the outcome (bytes and content type), if any.
        result: Option<AckResult>,
        done: Option<oneshot::Sender<Result<()>>>,
    },
    Nack {
        held: Arc<Held>,
        leases: Arc<QueueLeases>,
        delay_us: Option<i64>,
        error: Option<String>,
        done: Option<oneshot::Sender<Result<NackResult>>>,
    },
}

impl Op {
    fn queue_id(&self) -> i64 {
        match self {
            Op::Ack { leases, .. } | Op::Nack { leases, .. } => leases.queue_id,
        }
    }
}

/// Batches acks and nacks from every worker of this client: while one batch is in flight the next
/// accumulates, so a busy client commits hundreds of acks per statement and an idle one pays one
/// round trip per ack.
pub(crate) struct Committer {
    tx: mpsc::UnboundedSender<Op>,
    in_flight: Arc<Semaphore>,
}

const MAX_IN_FLIGHT: u32 = 4;
const MAX_BATCH: usize = 5_000;

impl Committer {
    pub(crate) fn start(db: Db, notifier: Notifier, rt: &tokio::runtime::Handle) -> Committer {
        let (tx, rx) = mpsc::unbounded_channel();
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT as usize));
        rt.spawn(commit_loop(db, notifier, rx, in_flight.clone()));
        Committer { tx, in_flight }
    }

    /// Hands an op to the batcher. Works from any thread, also from `Drop`.
    pub(crate) fn submit(&self, op: Op) {
        if let Err(mpsc::error::SendError(op)) = self.tx.send(op) {
            fail(op, Error::Closed);
        }
    }

    /// Waits until every op submitted so far has been executed.
    pub(crate) async fn flush(&self) {
        // Ops are picked up in order; once we hold every permit, nothing earlier is in flight. Yield first
        // so the loop can take what is already queued.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        if let Ok(all) = self.in_flight.acquire_many(MAX_IN_FLIGHT).await {
            drop(all);
        }
    }
}

/// A failed statement: a holder that waits may retry; a release from `Drop` gives up and lets the lease
/// expire, which redelivers the message all the same.
fn fail(op: Op, e: Error) {
    match op {
        Op::Ack { held, leases, done, .. } => {
            held.settle(&leases, done.is_none());
            if let Some(d) = done {
                let _ = d.send(Err(e));
            }
        }
        Op::Nack { held, leases, done, .. } => {
            held.settle(&leases, done.is_none());
            if let Some(d) = done {
                let _ = d.send(Err(e));
            }
        }
    }
}

/// Where a batch holding nacks stands in the order of such batches.
struct NackOrder {
    /// Resolves (or fails, if that batch was dropped) once the previous such batch has executed.
    previous: Option<oneshot::Receiver<()>>,
    /// Fired (or dropped) when this batch has executed.
    done: oneshot::Sender<()>,
}

async fn commit_loop(db: Db, notifier: Notifier, mut rx: mpsc::UnboundedReceiver<Op>, in_flight: Arc<Semaphore>) {
    let mut previous_nacks: Option<oneshot::Receiver<()>> = None;
    while let Some(first) = rx.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        // The workers are done with these messages: give their receivers' slots back now, all together,
        // so that a receiver claims its next batch while this one commits rather than after the commit's
        // round trip and WAL flush. A statement that fails on a connection error leaves its message held
        // (the holder may retry) without a slot.
        for op in &batch {
            op_held(op).release_slot();
        }
        // Batches run concurrently, and each nack statement makes its messages available at its own
        // now(): chain the batches holding nacks (and releases) so they take effect in the order they were
        // handed over, which keeps released messages in their queue order.
        let order = batch.iter().any(|op| matches!(op, Op::Nack { .. })).then(|| {
            let (done, next) = oneshot::channel();
            NackOrder { previous: previous_nacks.replace(next), done }
        });
        let (db, notifier) = (db.clone(), notifier.clone());
        tokio::spawn(async move {
            execute(&db, &notifier, batch, order).await;
            drop(permit);
        });
    }
}

/// Uses `pgmq.ack` / `pgmq.nack` (index `messages_pkey`).
async fn execute(db: &Db, notifier: &Notifier, batch: Vec<Op>, order: Option<NackOrder>) {
    let done = match order {
        Some(NackOrder { previous, done }) => {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            Some(done)
        }
        None => None,
    };
    let mut by_queue: HashMap<i64, (Vec<Op>, Vec<Op>)> = HashMap::new();
    for op in batch {
        let entry = by_queue.entry(op.queue_id()).or_default();
        match op {
            Op::Ack { .. } => entry.0.push(op),
            Op::Nack { .. } => entry.1.push(op),
        }
    }
    let conn = match db.get().await {
        Ok(c) => c,
        Err(e) => {
            for (_, (acks, nacks)) in by_queue {
                acks.into_iter().chain(nacks).for_each(|op| fail(op, e.clone()));
            }
            return;
        }
    };
    // Completion notifications go out once the connection is back in the pool (the notifier needs one).
    let mut notes = Vec::new();
    let mut ack_replies = Vec::new();
    for (queue_id, (acks, nacks)) in by_queue {
        // Acks free room; so do nacks, when they dead-letter. A bounded queue's senders may be waiting.
        if acks.iter().chain(&nacks).any(|op| op_leases(op).bounded.load(Ordering::Relaxed)) {
            notes.push((protocol::room_channel(queue_id), String::new()));
        }
        if !acks.is_empty() {
            let ids: Vec<Uuid> = acks.iter().map(|op| op_held(op).id).collect();
            let tokens: Vec<Uuid> = acks.iter().map(|op| op_held(op).token).collect();
            let with_results = acks.iter().any(|op| matches!(op, Op::Ack { result: Some(_), .. }));
            let result = if with_results {
                let (results, content_types): (Vec<Option<&[u8]>>, Vec<Option<&str>>) = acks
                    .iter()
                    .map(|op| match op {
                        Op::Ack { result: Some(r), .. } => (Some(r.bytes.as_slice()), r.content_type.as_deref()),
                        _ => (None, None),
                    })
                    .unzip();
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                    [&queue_id, &ids, &tokens, &results, &content_types];
                query_retrying_deadlocks(&conn, &ACK_WITH_RESULTS, &params).await
            } else {
                query_retrying_deadlocks(&conn, &ACK, &[&queue_id, &ids, &tokens]).await
            };
            match result {
                Ok(rows) => {
                    let acked: std::collections::HashSet<Uuid> = rows.iter().map(|r| r.get(0)).collect();
                    let recorded: Vec<Uuid> = rows.iter().filter(|r| r.get::<_, bool>(1)).map(|r| r.get(0)).collect();
                    if !recorded.is_empty() {
                        notes.push((protocol::completed_channel(queue_id), protocol::encode_ids(&recorded)));
                    }
                    for op in acks {
                        if let Op::Ack { held, leases, done, .. } = op {
                            held.settle(&leases, true);
                            let r = if acked.contains(&held.id) { Ok(()) } else { Err(Error::LeaseLost(held.id)) };
                            if let Some(d) = done {
                                ack_replies.push((d, r));
                            }
                        }
                    }
                }
                Err(e) => acks.into_iter().for_each(|op| fail(op, e.clone())),
            }
        }
        if !nacks.is_empty() {
            let mut ids = Vec::with_capacity(nacks.len());
            let mut tokens = Vec::with_capacity(nacks.len());
            let mut delays = Vec::with_capacity(nacks.len());
            let mut errors = Vec::with_capacity(nacks.len());
            for op in &nacks {
                if let Op::Nack { held, delay_us, error, .. } = op {
                    ids.push(held.id);
                    tokens.push(held.token);
                    delays.push(*delay_us);
                    errors.push(error.clone());
                }
            }
            let result = query_retrying_deadlocks(&conn, &NACK, &[&queue_id, &ids, &tokens, &delays, &errors]).await;
            match result {
                Ok(rows) => {
                    let results: HashMap<Uuid, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                    for op in nacks {
                        if let Op::Nack { held, leases, done, .. } = op {
                            held.settle(&leases, true);
                            let r = match results.get(&held.id).map(String::as_str) {
                                Some("retried") => Ok(NackResult::Retried),
                                Some("dead_lettered") => Ok(NackResult::DeadLettered),
                                Some(_) => Ok(NackResult::Cancelled),
                                None => Err(Error::LeaseLost(held.id)),
                            };
                            if let Some(d) = done {
                                let _ = d.send(r);
                            }
                        }
                    }
                }
                Err(e) => nacks.into_iter().for_each(|op| fail(op, e.clone())),
            }
        }
    }
    drop(conn);
    drop(done); // the next batch with nacks may go
    if !notes.is_empty() {
        notifier.announce(notes);
    }
    for (done, result) in ack_replies {
        let _ = done.send(result);
    }
}

/// Runs an ack or nack statement, again if PostgreSQL aborted it to break a deadlock. Heartbeats never
/// wait for row locks, but a `cancel` or the housekeeping statement locks many rows of a queue in its
/// own order while acks and nacks delete or update some of them. The aborted statement changed
/// nothing, so running it again is safe.
pub(crate) async fn query_retrying_deadlocks(
    conn: &crate::db::Conn,
    sql: &Sql,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>> {
    let mut retries = 0;
    loop {
        match conn.query(sql, params).await {
            Err(e) if retries < 5 && e.sqlstate() == Some("40P01") => retries += 1,
            result => return result,
        }
    }
}

fn op_leases(op: &Op) -> &QueueLeases {
    match op {
        Op::Ack { leases, .. } | Op::Nack { leases, .. } => leases,
    }
}

fn op_held(op: &Op) -> &Held {
    match op {
        Op::Ack { held, .. } | Op::Nack { held, .. } => held,
    }
}
