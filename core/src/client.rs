//! What a [`Client`] owns: the pool of work connections, the one LISTEN connection, the lease keepers
//! and ack batcher shared by every receiver, and the housekeeping task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::Type;
use tokio_util::sync::CancellationToken;

use crate::connect::{Connector, PoolConnect};
use crate::db::{Db, Policy, Sql};
use crate::error::{Error, Result};
use crate::lease::{Committer, QueueLeases};
use crate::listener::Listener;
use crate::migrate;
use crate::notifier::Notifier;
use crate::protocol;
use crate::options::{
    dlq_name, micros, validate_new_queue_name, validate_queue_name, Backoff, ClientOptions, QueueInfo, QueueOptions,
    QueueOverview, QueueStats,
};
use crate::queue::Queue;

/// The least a new client waits for its own test notification (see `Listener::probe`), or its connect
/// timeout if longer. One normally arrives within a millisecond; on a machine loaded with four test
/// suites at once, 5 s once was not enough.
const LISTEN_PROBE_LIMIT: Duration = Duration::from_secs(10);

/// A connection to one PostgreSQL database holding the `pgmq` schema.
///
/// A client owns a pool of work connections, exactly one extra connection for LISTEN that every
/// receiver and completion waiter of this client shares, and a housekeeping task. It is cheap to clone
/// (all clones share the same connections). Create one per process and keep it.
///
/// ```no_run
/// # async fn demo() -> pgmq_core::Result<()> {
/// let client = pgmq_core::Client::connect("postgres://postgres@localhost/postgres").await?;
/// client.migrate().await?;
/// client.create_queue("jobs", &Default::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) pool: Pool,
    pub(crate) db: Db,
    pub(crate) listener: Listener,
    pub(crate) committer: Committer,
    pub(crate) notifier: Notifier,
    pub(crate) shutdown: CancellationToken,
    pub(crate) rt: tokio::runtime::Handle,
    leases: Mutex<HashMap<i64, Arc<QueueLeases>>>,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.pool.close();
    }
}

/// A notification sent when the caller's transaction commits: (channel, payload).
pub(crate) const NOTIFY_IN_TRANSACTION: Sql = Sql::new("SELECT pg_catalog.pg_notify($1::text, $2::text)", &[Type::TEXT, Type::TEXT]);

pub(crate) const CREATE_QUEUE: Sql = Sql::new(
    "INSERT INTO pgmq.queues (name, ack_deadline, max_delivery_attempts, retention_period,
                              backoff_base, backoff_factor, backoff_max, backoff_jitter)
     VALUES ($1, $2::bigint OPERATOR(pg_catalog.*) interval '1 microsecond', $3,
             $4::bigint OPERATOR(pg_catalog.*) interval '1 microsecond',
             $5::bigint OPERATOR(pg_catalog.*) interval '1 microsecond', $6::float8,
             $7::bigint OPERATOR(pg_catalog.*) interval '1 microsecond', $8)
     ON CONFLICT (name) DO NOTHING
     RETURNING id",
    &[Type::TEXT, Type::INT8, Type::INT4, Type::INT8, Type::INT8, Type::FLOAT8, Type::INT8, Type::BOOL],
);

/// The DLQ of a new queue, or the existing queue of that name (then not owned by the new queue).
pub(crate) const CREATE_DLQ: Sql = Sql::new(
    "WITH ins AS (
         INSERT INTO pgmq.queues (name, ack_deadline, max_delivery_attempts, retention_period)
         VALUES ($1, $2::bigint OPERATOR(pg_catalog.*) interval '1 microsecond', $3,
                 $4::bigint OPERATOR(pg_catalog.*) interval '1 microsecond')
         ON CONFLICT (name) DO NOTHING
         RETURNING id)
     SELECT id, true FROM ins
     UNION ALL SELECT id, false FROM pgmq.queues WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM ins)",
    &[Type::TEXT, Type::INT8, Type::INT4, Type::INT8],
);

/// Sets or removes a queue's bound and rebuilds its stripes (migration 0009).
pub(crate) const SET_MAX_MESSAGES: Sql = Sql::new("SELECT pgmq._set_max_messages($1, $2)", &[Type::INT8, Type::INT8]);

pub(crate) const SET_DLQ: Sql =
    Sql::new("UPDATE pgmq.queues SET dlq_id = $2, owns_dlq = $3 WHERE id = $1", &[Type::INT8, Type::INT8, Type::BOOL]);

pub(crate) const DELETE_QUEUE: Sql =
    Sql::new("DELETE FROM pgmq.queues WHERE name = $1 RETURNING id, dlq_id, owns_dlq, linked", &[Type::TEXT]);
/// Before the messages of a deleted queue that was linked go: what depends on them, in other queues too,
/// is cancelled, and what they waited for forgets them (migration 0011), as if they had been cancelled.
pub(crate) const SETTLE_DELETED: Sql = Sql::new(
    "SELECT pgmq._settle(ARRAY(SELECT m.id FROM pgmq.messages m WHERE m.queue_id = ANY($1) AND m.tracked), 'cancelled')",
    &[Type::INT8_ARRAY],
);
pub(crate) const DELETE_QUEUE_BY_ID: Sql = Sql::new("DELETE FROM pgmq.queues WHERE id = $1", &[Type::INT8]);
pub(crate) const DELETE_MESSAGES: Sql = Sql::new("DELETE FROM pgmq.messages WHERE queue_id = ANY($1)", &[Type::INT8_ARRAY]);
pub(crate) const DELETE_OUTCOMES: Sql = Sql::new("DELETE FROM pgmq.outcomes WHERE queue_id = ANY($1)", &[Type::INT8_ARRAY]);
pub(crate) const DELETE_GROUP_MEMBERS: Sql =
    Sql::new("DELETE FROM pgmq.group_members WHERE queue_id = ANY($1)", &[Type::INT8_ARRAY]);

/// Every queue's settings (read by [`queue_info`]: intervals as microseconds), by name.
pub(crate) const LIST_QUEUES: Sql = Sql::new(
    "SELECT q.name, (extract(epoch FROM q.ack_deadline) * 1e6)::bigint, q.max_delivery_attempts,
            (extract(epoch FROM q.retention_period) * 1e6)::bigint, d.name,
            (extract(epoch FROM q.backoff_base) * 1e6)::bigint, q.backoff_factor,
            (extract(epoch FROM q.backoff_max) * 1e6)::bigint, q.backoff_jitter, q.max_messages
     FROM pgmq.queues q LEFT JOIN pgmq.queues d ON d.id = q.dlq_id
     ORDER BY q.name",
    &[],
);

/// Every queue with its counts, in one pass over all messages (a hash aggregate by queue: cheaper than
/// one index range scan per queue once there are more than a few). The ready, scheduled and leased
/// conditions are `Queue::stats`'s (queue.rs, `STATS`); a DLQ's depth is its own row count. Its cost
/// grows with the number of messages, like a `count(*)` of pgmq.messages.
pub(crate) const LIST_QUEUES_WITH_STATS: Sql = Sql::new(
    "
WITH s AS MATERIALIZED (
    SELECT m.queue_id,
           pg_catalog.count(*) AS messages,
           pg_catalog.count(*) FILTER (WHERE m.available_at <= pg_catalog.now() AND NOT m.last_lease
                                         AND NOT m.cancel_requested) AS ready,
           pg_catalog.count(*) FILTER (WHERE m.lease_token IS NULL AND m.available_at > pg_catalog.now())
               AS scheduled,
           pg_catalog.count(*) FILTER (WHERE m.lease_token IS NOT NULL AND m.available_at > pg_catalog.now())
               AS leased,
           pg_catalog.min(m.available_at) FILTER (WHERE m.available_at <= pg_catalog.now() AND NOT m.last_lease
                                                    AND NOT m.cancel_requested) AS oldest_ready
    FROM pgmq.messages m
    GROUP BY m.queue_id
)
SELECT q.name, (extract(epoch FROM q.ack_deadline) * 1e6)::bigint, q.max_delivery_attempts,
       (extract(epoch FROM q.retention_period) * 1e6)::bigint, d.name,
       (extract(epoch FROM q.backoff_base) * 1e6)::bigint, q.backoff_factor,
       (extract(epoch FROM q.backoff_max) * 1e6)::bigint, q.backoff_jitter, q.max_messages,
       coalesce(s.messages, 0), coalesce(s.ready, 0), coalesce(s.scheduled, 0), coalesce(s.leased, 0),
       coalesce(ds.messages, 0),
       (extract(epoch FROM pg_catalog.now() - s.oldest_ready) * 1e6)::bigint
FROM pgmq.queues q
LEFT JOIN pgmq.queues d ON d.id = q.dlq_id
LEFT JOIN s ON s.queue_id = q.id
LEFT JOIN s ds ON ds.queue_id = q.dlq_id
ORDER BY q.name",
    &[],
);

pub(crate) const REDRIVE: Sql = Sql::new("SELECT pgmq.redrive($1, $2)", &[Type::TEXT, Type::TEXT]);
pub(crate) const QUEUE_ID: Sql = Sql::new("SELECT id FROM pgmq.queues WHERE name = $1", &[Type::TEXT]);
pub(crate) const MAINTAIN: Sql = Sql::new("SELECT pgmq.maintain()", &[]);

impl Client {
    /// Connects with default [`ClientOptions`]. `dsn` is a libpq URL (`postgres://user@host:port/db`) or
    /// a key=value string (`host=localhost user=postgres`).
    ///
    /// Fails with [`Error::Connection`] if the server cannot be reached within the connect timeout, and
    /// with [`Error::InvalidOption`] for a malformed DSN.
    pub async fn connect(dsn: &str) -> Result<Client> {
        Client::connect_with(dsn, ClientOptions::default()).await
    }

    /// Connects with the given options. Must be called inside a tokio runtime, which then runs this
    /// client's background tasks.
    ///
    /// With [`ClientOptions::connect_retry`], a server that cannot be reached yet (or is starting up)
    /// is tried again with a capped, jittered backoff until that much time has passed; a refused login
    /// or an unknown database fails at once.
    pub async fn connect_with(dsn: &str, options: ClientOptions) -> Result<Client> {
        let start = tokio::time::Instant::now();
        let mut backoff = crate::options::RECONNECT_BACKOFF_MIN;
        loop {
            match Client::connect_once(dsn, options.clone()).await {
                Err(e) if retryable_at_connect(&e) && start.elapsed() < options.connect_retry => {
                    let jitter = 0.5 + (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 2000.0;
                    let pause = backoff.mul_f64(jitter).min(options.connect_retry.saturating_sub(start.elapsed()));
                    tracing::warn!("pgmq: connect failed ({e}); retrying in {pause:?}");
                    tokio::time::sleep(pause).await;
                    backoff = (backoff * 2).min(crate::options::RECONNECT_BACKOFF_MAX);
                }
                result => return result,
            }
        }
    }

    async fn connect_once(dsn: &str, options: ClientOptions) -> Result<Client> {
        crate::options::validate_schema_name(&options.schema)?;
        if options.connect_timeout.is_zero() {
            return Err(Error::invalid_option("connect_timeout must be positive"));
        }
        if options.statement_timeout.is_zero() {
            return Err(Error::invalid_option("statement_timeout must be positive"));
        }
        if options.pool_size < 1 {
            return Err(Error::invalid_option("pool_size must be at least 1"));
        }
        if options.maintenance_interval.is_zero() {
            return Err(Error::invalid_option("maintenance_interval must be positive"));
        }
        let connector = Connector::new(dsn, &options.application_name, options.connect_timeout)?;
        let listen_connector = match &options.listen_dsn {
            Some(listen) => Connector::new(listen, &options.application_name, options.connect_timeout)?,
            None => connector.clone(),
        };
        // The LISTEN connection first: a failure to connect is reported with what went wrong on each
        // host (the pool can only say it in tokio-postgres's words).
        let shutdown = CancellationToken::new();
        let listener = Listener::start(listen_connector, shutdown.clone()).await?;
        let manager = Manager::from_connect(
            tokio_postgres::Config::new(),
            PoolConnect(connector),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::invalid_option(format!("pool: {e}")))?;
        // Fail now, with a clear error, rather than on first use.
        if let Err(e) = pool.get().await {
            shutdown.cancel();
            return Err(match Error::from(e) {
                Error::Database(m) => Error::Connection(m),
                other => other,
            });
        }
        let rt = tokio::runtime::Handle::current();
        let policy = Policy {
            statement_cache: options.statement_cache.unwrap_or(options.listen_dsn.is_none()),
            statement_timeout: options.statement_timeout,
            schema: (options.schema != crate::options::DEFAULT_SCHEMA)
                .then(|| std::sync::Arc::from(format!("\"{}\"", options.schema))),
        };
        let db = Db { pool: pool.clone(), policy };
        if let Err(e) = listener.probe(&db, options.connect_timeout.max(LISTEN_PROBE_LIMIT)).await {
            shutdown.cancel();
            pool.close();
            return Err(e);
        }

        let notifier = Notifier::start(db.clone(), listener.clone(), &rt);
        let committer = Committer::start(db.clone(), notifier.clone(), &rt);
        rt.spawn(maintain(db.clone(), options.maintenance_interval, shutdown.clone()));

        Ok(Client {
            inner: Arc::new(ClientInner {
                pool,
                db,
                listener,
                committer,
                notifier,
                shutdown,
                rt,
                leases: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Creates or upgrades the `pgmq` schema to [`migrate::LATEST_VERSION`]. Idempotent, and safe to run
    /// from several processes at once (an advisory lock serialises them). Returns the schema version.
    ///
    /// All or nothing, in one transaction. Fails with [`Error::Timeout`] when it waited 5 s for a lock on
    /// one of pgmq's tables (a long transaction is using it; sends and claims queue behind the waiting
    /// migration, so it does not wait longer): run it again later. Fails with [`Error::SchemaConflict`],
    /// before changing anything, when a `pgmq` schema exists that is not this library's (an extension's,
    /// such as Tembo's pgmq, or one holding other objects); an empty one is adopted.
    pub async fn migrate(&self) -> Result<i32> {
        migrate::migrate(&self.inner.db).await
    }

    /// The schema version in the database (0 when pgmq was never migrated there).
    pub async fn schema_version(&self) -> Result<i32> {
        migrate::schema_version(&self.inner.db).await
    }

    /// Creates a queue, and with it (by default) its dead-letter queue `dlq@<name>`, in one transaction.
    /// Returns `false`, changing nothing, if a queue with this name exists.
    ///
    /// Fails with [`Error::InvalidQueueName`] (also for names starting with the reserved `dlq@`) or
    /// [`Error::InvalidOption`] before anything is written.
    pub async fn create_queue(&self, name: &str, options: &QueueOptions) -> Result<bool> {
        validate_new_queue_name(name)?;
        options.validate()?;
        let mut conn = self.inner.db.get().await?;
        let tx = conn.transaction().await?;
        let backoff = options.backoff.as_ref();
        let row = tx
            .query_opt(
                &CREATE_QUEUE,
                &[
                    &name,
                    &micros(options.ack_deadline, "ack deadline")?,
                    &(options.max_delivery_attempts as i32),
                    &micros(options.retention_period, "retention period")?,
                    &backoff.map(|b| micros(b.base, "backoff base")).transpose()?,
                    &backoff.map(|b| b.factor),
                    &backoff.map(|b| micros(b.max, "backoff max")).transpose()?,
                    &backoff.is_some_and(|b| b.jitter),
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let id: i64 = row.get(0);
        if let Some(max) = options.max_messages {
            tx.execute(&SET_MAX_MESSAGES, &[&id, &(max as i64)]).await?;
        }
        if let Some(dlq) = &options.dead_letter_queue {
            let dlq_row = tx
                .query_one(
                    &CREATE_DLQ,
                    &[
                        &dlq_name(name),
                        &micros(dlq.ack_deadline, "ack deadline")?,
                        &(dlq.max_delivery_attempts as i32),
                        &micros(dlq.retention_period, "retention period")?,
                    ],
                )
                .await?;
            let (dlq_id, created): (i64, bool) = (dlq_row.get(0), dlq_row.get(1));
            tx.execute(&SET_DLQ, &[&id, &dlq_id, &created]).await?;
        }
        tx.execute(&NOTIFY_IN_TRANSACTION, &[&protocol::QUEUES_CHANNEL, &name]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a queue with all its messages and outcome records, and the DLQ that was created with it.
    /// Returns `false` for an unknown queue. Receivers waiting on it go back to waiting for it to exist.
    pub async fn delete_queue(&self, name: &str) -> Result<bool> {
        validate_queue_name(name)?;
        let mut conn = self.inner.db.get().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(&DELETE_QUEUE, &[&name])
            .await?
        else {
            return Ok(false);
        };
        let (id, dlq_id, owns, linked): (i64, Option<i64>, bool, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
        let mut gone = vec![id];
        if let (Some(dlq_id), true) = (dlq_id, owns) {
            tx.execute(&DELETE_QUEUE_BY_ID, &[&dlq_id]).await?;
            gone.push(dlq_id);
        }
        // Messages and outcomes have no foreign key (see the migration): delete them here, after the queue
        // row, whose deletion waited for every in-flight send that had locked it.
        if linked {
            tx.execute(&SETTLE_DELETED, &[&gone]).await?;
        }
        tx.execute(&DELETE_MESSAGES, &[&gone]).await?;
        tx.execute(&DELETE_OUTCOMES, &[&gone]).await?;
        tx.execute(&DELETE_GROUP_MEMBERS, &[&gone]).await?;
        for q in gone {
            tx.execute(&NOTIFY_IN_TRANSACTION, &[&protocol::ready_channel(q), &""]).await?;
            tx.execute(&NOTIFY_IN_TRANSACTION, &[&protocol::completed_channel(q), &protocol::EVERYTHING]).await?;
        }
        tx.execute(&NOTIFY_IN_TRANSACTION, &[&protocol::QUEUES_CHANNEL, &name]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A handle on the queue `name` (which may also be a dead-letter queue, `dlq@<name>`). Nothing is
    /// read from the database: sending to a queue that does not exist fails with
    /// [`Error::QueueNotFound`], and receiving from it waits until it exists.
    pub fn queue(&self, name: &str) -> Result<Queue> {
        validate_queue_name(name)?;
        Ok(Queue::new(self.clone(), name))
    }

    /// Every queue (dead-letter queues included) with its settings, by name.
    pub async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        let conn = self.inner.db.get().await?;
        let rows = conn.query(&LIST_QUEUES, &[]).await?;
        Ok(rows.iter().map(queue_info).collect())
    }

    /// Every queue (dead-letter queues included) with its settings, its counts by state, its DLQ's
    /// depth and the age of its oldest ready message, by name: an operator's overview in ONE statement,
    /// whatever the number of queues. The counts are those [`Queue::stats`] gives, all read at one
    /// instant. It reads every message row once, so on a large backlog it costs what a `count(*)` of
    /// the messages table does: fine for a dashboard refreshed every few seconds, not for a hot loop.
    pub async fn list_queues_with_stats(&self) -> Result<Vec<QueueOverview>> {
        let conn = self.inner.db.get().await?;
        let rows = conn.query(&LIST_QUEUES_WITH_STATS, &[]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let n = |i: usize| r.get::<_, i64>(i) as u64;
                QueueOverview {
                    info: queue_info(r),
                    stats: QueueStats { messages: n(10), ready: n(11), scheduled: n(12), leased: n(13), dead_lettered: n(14) },
                    oldest_ready_age: r.get::<_, Option<i64>>(15).map(micros_to_duration),
                }
            })
            .collect())
    }

    /// Moves every message that is not leased from queue `from` (typically a DLQ) to queue `to`, as
    /// fresh messages: available now, attempts reset, same ids, bodies and attributes. Returns how many
    /// moved. [`Error::QueueNotFound`] if either queue is unknown.
    pub async fn redrive(&self, from: &str, to: &str) -> Result<u64> {
        validate_queue_name(from)?;
        validate_queue_name(to)?;
        let conn = self.inner.db.get().await?;
        let row = conn.query_one(&REDRIVE, &[&from, &to]).await?;
        match row.get::<_, Option<i64>>(0) {
            Some(n) => Ok(n as u64),
            None => {
                let exists = conn.query_opt(&QUEUE_ID, &[&from]).await?;
                Err(Error::QueueNotFound(if exists.is_none() { from } else { to }.to_owned()))
            }
        }
    }

    /// Stops the background tasks and closes the connections. Waiting receivers and completion waiters
    /// return [`Error::Closed`]. Pending acks and releases already handed to the client are flushed first,
    /// and so are the notifications of its sends and acks: a process that sends or acks and then closes
    /// its client wakes the waiters elsewhere at once.
    pub async fn close(&self) {
        self.inner.committer.flush().await;
        self.inner.notifier.flush().await;
        self.inner.shutdown.cancel();
        self.inner.pool.close();
    }

    /// Whether [`Client::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// The server process id of the LISTEN connection (for fault-injection tests), if connected.
    #[doc(hidden)]
    pub async fn listener_backend_pid(&self) -> Option<i32> {
        self.inner.listener.backend_pid().await
    }

    /// The channels this client's waiters are subscribed to (diagnostics, for tests and benchmarks).
    #[doc(hidden)]
    pub fn listener_channel_count(&self) -> usize {
        self.inner.listener.channel_count()
    }

    /// How many waiters (idle receivers, completion waiters, lease keepers) are asleep on the LISTEN
    /// connection right now (diagnostics: tells a test or benchmark that its receivers are all idle).
    #[doc(hidden)]
    pub fn listener_waiting_count(&self) -> usize {
        self.inner.listener.waiting_count()
    }

    /// The channels the server reports the LISTEN connection listening on, if connected (diagnostics).
    #[doc(hidden)]
    pub async fn listener_server_channels(&self) -> Option<Vec<String>> {
        self.inner.listener.server_channels().await
    }

    /// Cancels every queued and held message of job group `group` ([`crate::SendOptions::group`]) in
    /// every queue, as [`Queue::cancel`] does (holders are signalled, outcomes become `cancelled`).
    /// Returns the ids found. An unknown group is an empty one. [`Error::InvalidOption`] for an invalid
    /// group id.
    pub async fn cancel_group(&self, group: &str) -> Result<Vec<uuid::Uuid>> {
        crate::group::cancel(&self.inner, group, None).await
    }

    /// Waits until every message of job group `group`, in every queue, has an outcome (messages sent to
    /// the group meanwhile count too), woken by the completion notifications of the group's queues, and
    /// returns the outcomes by id. An empty or unknown group returns at once; a finished message is
    /// forgotten by its group when its outcome expires (the queue's retention period).
    pub async fn wait_for_group(&self, group: &str) -> Result<HashMap<uuid::Uuid, crate::Outcome>> {
        crate::group::wait(&self.inner, group, None).await
    }

    /// Job group `group`'s messages in every queue, by state and by outcome.
    pub async fn group_stats(&self, group: &str) -> Result<crate::GroupStats> {
        crate::group::stats(&self.inner, group, None).await
    }

    pub(crate) fn leases_for(&self, queue_id: i64, ack_deadline: Duration, bounded: bool) -> Arc<QueueLeases> {
        let mut map = self.inner.leases.lock().unwrap();
        if let Some(l) = map.get(&queue_id) {
            if l.ack_deadline == ack_deadline {
                l.bounded.store(bounded, std::sync::atomic::Ordering::Relaxed);
                return l.clone();
            }
        }
        let leases = QueueLeases::start(
            queue_id,
            ack_deadline,
            self.inner.db.clone(),
            self.inner.listener.clone(),
            self.inner.shutdown.clone(),
            &self.inner.rt,
        );
        leases.bounded.store(bounded, std::sync::atomic::Ordering::Relaxed);
        map.insert(queue_id, leases.clone());
        leases
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("closed", &self.is_closed()).finish_non_exhaustive()
    }
}

fn micros_to_duration(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

/// A queue's settings from the first ten columns of [`LIST_QUEUES`] / [`LIST_QUEUES_WITH_STATS`].
fn queue_info(r: &tokio_postgres::Row) -> QueueInfo {
    let backoff = match (r.get::<_, Option<i64>>(5), r.get::<_, Option<f64>>(6), r.get::<_, Option<i64>>(7)) {
        (Some(base), Some(factor), Some(max)) => Some(Backoff {
            base: micros_to_duration(base),
            factor,
            max: micros_to_duration(max),
            jitter: r.get(8),
        }),
        _ => None,
    };
    QueueInfo {
        name: r.get(0),
        ack_deadline: micros_to_duration(r.get(1)),
        max_delivery_attempts: r.get::<_, i32>(2) as u32,
        retention_period: micros_to_duration(r.get(3)),
        dead_letter_queue: r.get(4),
        backoff,
        max_messages: r.get::<_, Option<i64>>(9).map(|n| n as u64),
    }
}

/// A connect failure worth trying again: the server unreachable, not answering, shutting down or
/// starting up; not a refused login (28xxx) or an unknown database (3D000), which waiting does not fix.
fn retryable_at_connect(e: &Error) -> bool {
    e.is_transient() && !matches!(e.sqlstate(), Some(code) if code.starts_with("28") || code == "3D000")
}

/// Housekeeping: offered every `interval`; the database elects one client at a time to do it.
async fn maintain(db: Db, interval: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let result = async {
            let conn = db.get().await?;
            let n: i64 = conn.query_one(&MAINTAIN, &[]).await?.get(0);
            Ok::<_, Error>(n)
        }
        .await;
        match result {
            Ok(n) if n > 0 => tracing::debug!("pgmq maintenance handled {n} rows"),
            Ok(_) => {}
            Err(Error::SchemaMissing(_)) => {}
            Err(e) => tracing::warn!("pgmq maintenance failed (it runs again on the next tick): {e}"),
        }
    }
}

