//! `NativeClient`: connect, migrate, create / delete / list queues (with their counts), redrive, open a
//! queue, job groups (across every queue), close.

use std::collections::HashMap;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use pgmq_core::{Backoff, ClientOptions, DeadLetterOptions, QueueOptions, DEFAULTS};

use crate::convert::{duration_ms, max_messages, millis, whole};
use crate::error::{invalid_option, IntoNapi};
use crate::group::{spawn_wait, NativeGroupStats};
use crate::queue::{NativeQueue, NativeStats};
use crate::stop::NativeStop;

/// How to connect (every field optional).
#[napi(object)]
pub struct NativeConnectOptions {
    /// A separate DSN for the one LISTEN connection (e.g. direct, while work goes through PgBouncer).
    pub listen_dsn: Option<String>,
    /// Most pooled connections for statements (default 10).
    pub pool_size: Option<f64>,
    /// How long to wait for a connection, in milliseconds (default 10 s).
    pub connect_timeout_ms: Option<f64>,
    /// The longest a statement or a wait for a pool connection may take, ms (default 60 s; > 0).
    pub statement_timeout_ms: Option<f64>,
    /// Prepared, cached statements (true) or unnamed ones (false). Default: cached unless `listen_dsn`.
    pub statement_cache: Option<bool>,
    /// How long to keep trying a server that cannot be reached yet, ms (default 0: fail at once).
    pub connect_retry_ms: Option<f64>,
    /// What `pg_stat_activity` shows, unless the DSN or PGAPPNAME says (default `pgmq-node`: the core's
    /// prefix and the language).
    pub application_name: Option<String>,
    pub schema: Option<String>,
    /// How often this client offers to run housekeeping, ms (default 1 s; > 0).
    pub maintenance_interval_ms: Option<f64>,
}

/// The core's options: its defaults, with `pgmq-node` as the application name (operators see the
/// language in pg_stat_activity), overridden by whatever the caller gave.
fn client_options(options: Option<NativeConnectOptions>) -> Result<ClientOptions> {
    let application_name = format!("{}node", DEFAULTS.client.application_name_prefix);
    let mut opts = ClientOptions::default().application_name(application_name);
    let Some(o) = options else { return Ok(opts) };
    if let Some(listen) = o.listen_dsn {
        opts = opts.listen_dsn(listen);
    }
    if let Some(n) = o.pool_size {
        // Node's own bound, not the core's (which has none): the pool reserves a slot per connection
        // up front, so a pool size of 10^12 would abort the process allocating them.
        opts = opts.pool_size(whole(n, "poolSize", 1.0, 10_000.0)? as usize);
    }
    if let Some(ms) = o.connect_timeout_ms {
        let timeout = duration_ms(ms, "connectTimeoutMs")?;
        if timeout.is_zero() {
            return Err(invalid_option("connectTimeoutMs must be positive"));
        }
        opts = opts.connect_timeout(timeout);
    }
    if let Some(ms) = o.statement_timeout_ms {
        opts = opts.statement_timeout(duration_ms(ms, "statementTimeoutMs")?);
    }
    if let Some(cache) = o.statement_cache {
        opts = opts.statement_cache(cache);
    }
    if let Some(ms) = o.connect_retry_ms {
        opts = opts.connect_retry(duration_ms(ms, "connectRetryMs")?);
    }
    if let Some(schema) = o.schema {
        opts = opts.schema(schema);
    }
    if let Some(name) = o.application_name {
        opts = opts.application_name(name);
    }
    if let Some(ms) = o.maintenance_interval_ms {
        opts = opts.maintenance_interval(duration_ms(ms, "maintenanceIntervalMs")?);
    }
    Ok(opts)
}

/// The settings of a dead-letter queue created with its queue.
#[napi(object)]
pub struct NativeDeadLetterOptions {
    /// Lease length in the DLQ, ms (>= 1000).
    pub ack_deadline_ms: Option<f64>,
    /// Deliveries before a DLQ message is dropped (>= 1).
    pub max_delivery_attempts: Option<f64>,
    /// How long an unconsumed DLQ message is kept, ms.
    pub retention_period_ms: Option<f64>,
}

/// Exponential backoff for nacks without a delay; what is left out is the core's default.
#[napi(object)]
pub struct NativeBackoff {
    /// Delay after the first failure, ms (default 1 s).
    pub base_ms: Option<f64>,
    /// Growth per attempt (>= 1; default 2).
    pub factor: Option<f64>,
    /// Upper bound, ms (default 10 minutes).
    pub max_ms: Option<f64>,
    /// Randomise delays (default true).
    pub jitter: Option<bool>,
}

/// A new queue's settings; `dead_letter_queue` is ignored when `no_dead_letter_queue` is true.
#[napi(object)]
pub struct NativeQueueOptions {
    /// Lease length, ms (>= 1000; default 10 s).
    pub ack_deadline_ms: Option<f64>,
    /// Deliveries before dead-lettering (>= 1; default 10).
    pub max_delivery_attempts: Option<f64>,
    /// How long an unconsumed message is kept, ms (default 7 days).
    pub retention_period_ms: Option<f64>,
    /// The DLQ's settings (defaults when absent).
    pub dead_letter_queue: Option<NativeDeadLetterOptions>,
    /// No DLQ: exhausted messages are dropped.
    pub no_dead_letter_queue: Option<bool>,
    /// Backoff of nacks without a delay (default: redeliver at once).
    pub backoff: Option<NativeBackoff>,
    /// The most messages the queue holds (default: unbounded).
    pub max_messages: Option<f64>,
}

fn attempts(n: Option<f64>, default: u32, what: &str) -> Result<u32> {
    match n {
        None => Ok(default),
        // Below 1 is the core's error (same message in every language); here only what u32 cannot hold.
        Some(n) => Ok(whole(n, what, i32::MIN as f64, i32::MAX as f64)?.max(0) as u32),
    }
}

fn ms_or(ms: Option<f64>, default: Duration, what: &str) -> Result<Duration> {
    ms.map_or(Ok(default), |ms| duration_ms(ms, what))
}

fn queue_options(o: NativeQueueOptions) -> Result<QueueOptions> {
    let d = QueueOptions::default();
    let dlq = if o.no_dead_letter_queue.unwrap_or(false) {
        None
    } else {
        let dd = DeadLetterOptions::default();
        let dlq = o.dead_letter_queue.unwrap_or(NativeDeadLetterOptions {
            ack_deadline_ms: None,
            max_delivery_attempts: None,
            retention_period_ms: None,
        });
        Some(DeadLetterOptions {
            ack_deadline: ms_or(dlq.ack_deadline_ms, dd.ack_deadline, "deadLetterQueue.ackDeadlineMs")?,
            max_delivery_attempts: attempts(
                dlq.max_delivery_attempts,
                dd.max_delivery_attempts,
                "deadLetterQueue.maxDeliveryAttempts",
            )?,
            retention_period: ms_or(dlq.retention_period_ms, dd.retention_period, "deadLetterQueue.retentionPeriodMs")?,
        })
    };
    let backoff = match o.backoff {
        None => None,
        Some(b) => {
            let bd = Backoff::default();
            Some(Backoff {
                base: ms_or(b.base_ms, bd.base, "backoff.baseMs")?,
                factor: b.factor.unwrap_or(bd.factor),
                max: ms_or(b.max_ms, bd.max, "backoff.maxMs")?,
                jitter: b.jitter.unwrap_or(bd.jitter),
            })
        }
    };
    Ok(QueueOptions::default()
        .ack_deadline(ms_or(o.ack_deadline_ms, d.ack_deadline, "ackDeadlineMs")?)
        .max_delivery_attempts(attempts(o.max_delivery_attempts, d.max_delivery_attempts, "maxDeliveryAttempts")?)
        .retention_period(ms_or(o.retention_period_ms, d.retention_period, "retentionPeriodMs")?)
        .dead_letter_queue(dlq)
        .backoff(backoff)
        .max_messages(o.max_messages.map(max_messages).transpose()?))
}

/// The backoff policy of a queue, as `listQueues` lists it.
#[napi(object, object_from_js = false)]
pub struct NativeQueueBackoff {
    /// Delay after the first failure, ms.
    pub base_ms: f64,
    /// Growth per attempt.
    pub factor: f64,
    /// Upper bound, ms.
    pub max_ms: f64,
    /// Whether delays are randomised.
    pub jitter: bool,
}

/// A queue and its settings, as `listQueues` lists them.
#[napi(object, object_from_js = false)]
pub struct NativeQueueInfo {
    /// The queue's name (a DLQ's is `dlq@<name>`).
    pub name: String,
    /// Its lease length, ms.
    pub ack_deadline_ms: f64,
    /// Deliveries before dead-lettering.
    pub max_delivery_attempts: u32,
    /// How long an unconsumed message is kept, ms.
    pub retention_period_ms: f64,
    /// The name of its DLQ, or `null` without one.
    pub dead_letter_queue: Option<String>,
    /// Its backoff of nacks without a delay, or `null` without one (redelivered at once).
    pub backoff: Option<NativeQueueBackoff>,
    /// The most messages it holds, or `null` when it is unbounded.
    pub max_messages: Option<f64>,
}

impl From<pgmq_core::QueueInfo> for NativeQueueInfo {
    fn from(q: pgmq_core::QueueInfo) -> Self {
        NativeQueueInfo {
            name: q.name,
            ack_deadline_ms: millis(q.ack_deadline),
            max_delivery_attempts: q.max_delivery_attempts,
            retention_period_ms: millis(q.retention_period),
            dead_letter_queue: q.dead_letter_queue,
            backoff: q.backoff.map(|b| NativeQueueBackoff {
                base_ms: millis(b.base),
                factor: b.factor,
                max_ms: millis(b.max),
                jitter: b.jitter,
            }),
            max_messages: q.max_messages.map(|n| n as f64),
        }
    }
}

/// A queue, its settings and its counts, as `listQueuesWithStats` lists them.
#[napi(object, object_from_js = false)]
pub struct NativeQueueOverview {
    /// Its name and settings.
    pub info: NativeQueueInfo,
    /// Its counts by state, and its DLQ's depth.
    pub stats: NativeStats,
    /// How long its oldest ready message has waited since it became available, ms; `null` when none is.
    pub oldest_ready_age_ms: Option<f64>,
}

/// A connection to one PostgreSQL database: a pool for statements and one LISTEN connection.
#[napi]
pub struct NativeClient {
    inner: pgmq_core::Client,
}

#[napi]
impl NativeClient {
    /// Connects (the pool's first connection and the LISTEN connection are opened now).
    #[napi(factory)]
    pub async fn connect(dsn: String, options: Option<NativeConnectOptions>) -> Result<NativeClient> {
        let options = client_options(options)?;
        let inner = pgmq_core::Client::connect_with(&dsn, options).await.napi()?;
        Ok(NativeClient { inner })
    }

    /// Creates or upgrades the schema; resolves to its version.
    #[napi]
    pub async fn migrate(&self) -> Result<i32> {
        self.inner.migrate().await.napi()
    }

    /// The schema version in the database (0 when pgmq was never migrated there).
    #[napi]
    pub async fn schema_version(&self) -> Result<i32> {
        self.inner.schema_version().await.napi()
    }

    /// Creates a queue (and its DLQ); false if it already existed.
    #[napi]
    pub async fn create_queue(&self, name: String, options: NativeQueueOptions) -> Result<bool> {
        let options = queue_options(options)?;
        self.inner.create_queue(&name, &options).await.napi()
    }

    /// Deletes a queue, its DLQ and their messages; false if there was none.
    #[napi]
    pub async fn delete_queue(&self, name: String) -> Result<bool> {
        self.inner.delete_queue(&name).await.napi()
    }

    /// Every queue (dead-letter queues included), by name.
    #[napi]
    pub async fn list_queues(&self) -> Result<Vec<NativeQueueInfo>> {
        let queues = self.inner.list_queues().await.napi()?;
        Ok(queues.into_iter().map(NativeQueueInfo::from).collect())
    }

    /// Every queue (dead-letter queues included), by name, with its counts, read in one statement.
    #[napi]
    pub async fn list_queues_with_stats(&self) -> Result<Vec<NativeQueueOverview>> {
        let queues = self.inner.list_queues_with_stats().await.napi()?;
        Ok(queues
            .into_iter()
            .map(|q| NativeQueueOverview {
                info: q.info.into(),
                stats: q.stats.into(),
                oldest_ready_age_ms: q.oldest_ready_age.map(millis),
            })
            .collect())
    }

    /// Moves every message that is not leased from queue `from` (typically a DLQ) to queue `to`, as
    /// fresh messages (available now, attempts reset); resolves to how many moved.
    #[napi]
    pub async fn redrive(&self, from: String, to: String) -> Result<f64> {
        Ok(self.inner.redrive(&from, &to).await.napi()? as f64)
    }

    /// A handle on a queue by name (checked for syntax only; nothing is read).
    #[napi(catch_unwind)]
    pub fn queue(&self, name: String) -> Result<NativeQueue> {
        Ok(NativeQueue::new(self.inner.queue(&name).napi()?))
    }

    /// Cancels job group `group`'s queued and held messages in every queue; resolves to the ids found.
    #[napi]
    pub async fn cancel_group(&self, group: String) -> Result<Vec<String>> {
        let found = self.inner.cancel_group(&group).await.napi()?;
        Ok(found.iter().map(ToString::to_string).collect())
    }

    /// Waits until every message of job group `group`, in every queue, has an outcome: id -> outcome.
    /// With `stop`, its `stop()` drops the wait.
    #[napi(ts_return_type = "Promise<Record<string, string>>", catch_unwind)]
    pub fn wait_for_group<'env>(
        &self,
        env: &'env Env,
        group: String,
        stop: Option<&NativeStop>,
    ) -> Result<PromiseRaw<'env, HashMap<String, String>>> {
        let client = self.inner.clone();
        spawn_wait(env, stop, async move { client.wait_for_group(&group).await })
    }

    /// Job group `group`'s messages in every queue, by state and by outcome.
    #[napi]
    pub async fn group_stats(&self, group: String) -> Result<NativeGroupStats> {
        Ok(self.inner.group_stats(&group).await.napi()?.into())
    }

    /// Closes the client: receivers end, pending waits fail with `closed`, connections close.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.inner.close().await;
        Ok(())
    }

    /// Whether `close()` was called.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}
