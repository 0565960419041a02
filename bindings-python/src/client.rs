//! `pgmq.connect` and the client: schema, queue creation, listing (with statistics) and deletion,
//! redrive, job groups across queues, opening queues, closing.

use std::time::Duration;

use pgmq_core::{Backoff, ClientOptions, DeadLetterOptions, QueueOptions, DEFAULTS};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyInt;

use crate::completion::outcome_names;
use crate::convert::{count, duration, queue_bound};
use crate::error::{guard, invalid_option, ToPyResult};
use crate::group::GroupStatistics;
use crate::queue::{Queue, QueueStatistics};
use crate::runtime::{future_into_py, Owner};

/// A connection pool plus one LISTEN connection to a database holding the `pgmq` schema.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Client {
    inner: pgmq_core::Client,
    owner: Owner,
}

/// Connects; resolves to a `Client`. `ConnectionError` if the server cannot be reached (within
/// `connect_retry`), `InvalidOption` for a malformed DSN, a pool size under 1, a timeout that is not
/// positive or a negative duration. Durations are in seconds; `None` is the core's default.
#[pyfunction]
#[pyo3(signature = (
    dsn,
    *,
    listen_dsn=None,
    pool_size=None,
    connect_timeout=None,
    statement_timeout=None,
    statement_cache=None,
    connect_retry=None,
    application_name=None,
    schema=None,
    maintenance_interval=None,
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect(
    py: Python<'_>,
    dsn: String,
    listen_dsn: Option<String>,
    pool_size: Option<i64>,
    connect_timeout: Option<f64>,
    statement_timeout: Option<f64>,
    statement_cache: Option<bool>,
    connect_retry: Option<f64>,
    application_name: Option<String>,
    schema: Option<String>,
    maintenance_interval: Option<f64>,
) -> PyResult<Bound<'_, PyAny>> {
    let owner = Owner::current()?;
    // The application_name tells operators in pg_stat_activity which language's client a backend
    // serves (unless the DSN or PGAPPNAME names the application).
    let application_name =
        application_name.unwrap_or_else(|| format!("{}python", DEFAULTS.client.application_name_prefix));
    let mut options = ClientOptions::default().application_name(application_name);
    if let Some(size) = pool_size {
        // The core rejects 0, so a negative size gets the same clear error.
        options = options.pool_size(usize::try_from(size).unwrap_or(0));
    }
    if let Some(listen_dsn) = listen_dsn {
        options = options.listen_dsn(listen_dsn);
    }
    if let Some(schema) = schema {
        options = options.schema(schema);
    }
    if let Some(seconds) = connect_timeout {
        // A zero timeout would fail every host at once; refused as in Node.
        let timeout = duration(py, seconds, "connect_timeout")?;
        if timeout.is_zero() {
            return Err(invalid_option(py, "connect_timeout must be positive"));
        }
        options = options.connect_timeout(timeout);
    }
    if let Some(seconds) = statement_timeout {
        options = options.statement_timeout(duration(py, seconds, "statement_timeout")?);
    }
    if let Some(cache) = statement_cache {
        options = options.statement_cache(cache);
    }
    if let Some(seconds) = connect_retry {
        options = options.connect_retry(duration(py, seconds, "connect_retry")?);
    }
    if let Some(seconds) = maintenance_interval {
        options = options.maintenance_interval(duration(py, seconds, "maintenance_interval")?);
    }
    future_into_py(py, owner, async move {
        let inner = pgmq_core::Client::connect_with(&dsn, options).await?;
        Ok(Client { inner, owner })
    })
}

#[pymethods]
impl Client {
    /// Creates or upgrades the schema; resolves to its version.
    fn migrate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.migrate().await })
    }

    /// The schema version in the database (0 before the first migration).
    fn schema_version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.schema_version().await })
    }

    /// Creates a queue and, unless `dlq` is `None`, its dead-letter queue `dlq@<name>`
    /// (`dlq` = `(ack_deadline, max_delivery_attempts, retention_period)`), with the nack `backoff`
    /// `(base, factor, max, jitter)` if given, bounded to `max_messages` if given. Durations in seconds.
    /// Resolves to `False` if the queue exists.
    #[pyo3(signature = (
        name, *, ack_deadline, max_delivery_attempts, retention_period, dlq, backoff=None, max_messages=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn create_queue<'py>(
        &self,
        py: Python<'py>,
        name: String,
        ack_deadline: f64,
        max_delivery_attempts: i64,
        retention_period: f64,
        dlq: Option<(f64, i64, f64)>,
        backoff: Option<(f64, f64, f64, bool)>,
        max_messages: Option<&Bound<'py, PyInt>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dead_letter_queue = match dlq {
            Some((ack, attempts, retention)) => Some(DeadLetterOptions {
                ack_deadline: duration(py, ack, "dlq_options.ack_deadline")?,
                max_delivery_attempts: count(py, attempts, "dlq_options.max_delivery_attempts")?,
                retention_period: duration(py, retention, "dlq_options.retention_period")?,
            }),
            None => None,
        };
        let backoff = match backoff {
            Some((base, factor, max, jitter)) => Some(Backoff {
                base: duration(py, base, "backoff.base")?,
                factor,
                max: duration(py, max, "backoff.max")?,
                jitter,
            }),
            None => None,
        };
        let options = QueueOptions::default()
            .ack_deadline(duration(py, ack_deadline, "ack_deadline")?)
            .max_delivery_attempts(count(py, max_delivery_attempts, "max_delivery_attempts")?)
            .retention_period(duration(py, retention_period, "retention_period")?)
            .dead_letter_queue(dead_letter_queue)
            .backoff(backoff)
            .max_messages(queue_bound(py, max_messages)?);
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.create_queue(&name, &options).await })
    }

    /// Deletes a queue, its messages and the DLQ created with it; resolves to `False` if unknown.
    fn delete_queue<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.delete_queue(&name).await })
    }

    /// Every queue (dead-letter queues included), by name: a list of `QueueInfo`.
    fn list_queues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move {
            Ok(client.list_queues().await?.into_iter().map(QueueInfo::from).collect::<Vec<_>>())
        })
    }

    /// Every queue (dead-letter queues included), by name, with its counts and the age of its oldest
    /// ready message, all read in one statement: a list of `QueueOverview`.
    fn list_queues_with_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move {
            Ok(client.list_queues_with_stats().await?.into_iter().map(QueueOverview::from).collect::<Vec<_>>())
        })
    }

    /// Moves every unleased message of queue `source` (typically a DLQ) to `target` as fresh messages;
    /// resolves to how many moved.
    fn redrive<'py>(&self, py: Python<'py>, source: String, target: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.redrive(&source, &target).await })
    }

    /// Cancels the queued and held messages of job group `group` in every queue; resolves to the ids
    /// found. `InvalidOption` for an invalid group id.
    fn cancel_group<'py>(&self, py: Python<'py>, group: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.cancel_group(&group).await })
    }

    /// Waits until every message of job group `group`, in every queue, has an outcome; resolves to
    /// `{id: outcome name}` (`{}` at once for an empty group). Cancelling the awaitable stops the wait.
    fn wait_for_group<'py>(&self, py: Python<'py>, group: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { Ok(outcome_names(client.wait_for_group(&group).await?)) })
    }

    /// Resolves to the `GroupStatistics` of job group `group` across every queue.
    fn group_stats<'py>(&self, py: Python<'py>, group: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { Ok(GroupStatistics::from(client.group_stats(&group).await?)) })
    }

    /// A handle on queue `name` (nothing is read; `InvalidQueueName` for a malformed name).
    fn queue(&self, py: Python<'_>, name: &str) -> PyResult<Queue> {
        self.owner.check()?;
        guard(py, || Ok(Queue::new(self.inner.queue(name).to_py(py)?, self.owner)))
    }

    /// Flushes pending acks, stops the background tasks and closes the connections. Waiting receivers
    /// and completion waiters then fail with `ClientClosed`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move {
            client.close().await;
            Ok(())
        })
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn __repr__(&self) -> String {
        format!("<pgmq._pgmq.Client closed={}>", if self.inner.is_closed() { "True" } else { "False" })
    }
}

/// A queue and its settings, as `Client.list_queues` lists it.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct QueueInfo {
    /// The queue's name (`dlq@...` for a dead-letter queue).
    #[pyo3(get)]
    name: String,
    /// How long a delivered message stays leased without a heartbeat.
    #[pyo3(get)]
    ack_deadline: Duration,
    /// Deliveries before a message is dead-lettered.
    #[pyo3(get)]
    max_delivery_attempts: u32,
    /// How long an unconsumed message is kept.
    #[pyo3(get)]
    retention_period: Duration,
    /// The name of its dead-letter queue, if it has one.
    #[pyo3(get)]
    dead_letter_queue: Option<String>,
    backoff: Option<Backoff>,
    /// The most messages it holds (ready, scheduled and leased together), if it is bounded.
    #[pyo3(get)]
    max_messages: Option<u64>,
}

impl From<pgmq_core::QueueInfo> for QueueInfo {
    fn from(info: pgmq_core::QueueInfo) -> Self {
        QueueInfo {
            name: info.name,
            ack_deadline: info.ack_deadline,
            max_delivery_attempts: info.max_delivery_attempts,
            retention_period: info.retention_period,
            dead_letter_queue: info.dead_letter_queue,
            backoff: info.backoff,
            max_messages: info.max_messages,
        }
    }
}

#[pymethods]
impl QueueInfo {
    /// Its delay policy for nacks without a delay of their own, as a `pgmq.Backoff` (durations as
    /// timedeltas); `None`: such nacks retry at once.
    #[getter]
    fn backoff<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        static BACKOFF: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let Some(b) = self.backoff else { return Ok(None) };
        let class = BACKOFF.import(py, "pgmq._types", "Backoff")?;
        class.call1((b.base, b.factor, b.max, b.jitter)).map(Some)
    }

    fn __repr__(&self) -> String {
        let dlq = self.dead_letter_queue.as_deref().map_or_else(|| "None".to_owned(), |d| format!("{d:?}"));
        let backoff = self.backoff.map_or_else(
            || "None".to_owned(),
            |b| {
                format!(
                    "Backoff(base={}s, factor={}, max={}s, jitter={})",
                    b.base.as_secs_f64(),
                    b.factor,
                    b.max.as_secs_f64(),
                    if b.jitter { "True" } else { "False" }
                )
            },
        );
        format!(
            "QueueInfo(name={:?}, ack_deadline={}s, max_delivery_attempts={}, retention_period={}s, \
             dead_letter_queue={dlq}, backoff={backoff}, max_messages={})",
            self.name,
            self.ack_deadline.as_secs_f64(),
            self.max_delivery_attempts,
            self.retention_period.as_secs_f64(),
            self.max_messages.map_or_else(|| "None".to_owned(), |n| n.to_string()),
        )
    }
}

/// A queue, its settings and its counts, as `Client.list_queues_with_stats` lists it. Made without the
/// GIL (on the runtime); its `info` and `stats` objects are made on first use.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct QueueOverview {
    overview: pgmq_core::QueueOverview,
    info: PyOnceLock<Py<QueueInfo>>,
    stats: PyOnceLock<Py<QueueStatistics>>,
}

impl From<pgmq_core::QueueOverview> for QueueOverview {
    fn from(overview: pgmq_core::QueueOverview) -> Self {
        QueueOverview { overview, info: PyOnceLock::new(), stats: PyOnceLock::new() }
    }
}

#[pymethods]
impl QueueOverview {
    /// Its name and settings: a `QueueInfo`.
    #[getter]
    fn info(&self, py: Python<'_>) -> PyResult<Py<QueueInfo>> {
        let info = self.info.get_or_try_init(py, || Py::new(py, QueueInfo::from(self.overview.info.clone())))?;
        Ok(info.clone_ref(py))
    }

    /// Its counts by state, and its dead-letter queue's depth: a `QueueStatistics`.
    #[getter]
    fn stats(&self, py: Python<'_>) -> PyResult<Py<QueueStatistics>> {
        let stats = self.stats.get_or_try_init(py, || Py::new(py, QueueStatistics::from(self.overview.stats)))?;
        Ok(stats.clone_ref(py))
    }

    /// How long its oldest ready message has waited since it became available (its send, its
    /// scheduled time, or the nack or lapsed lease that made it ready again); `None` when none is ready.
    #[getter]
    fn oldest_ready_age(&self) -> Option<Duration> {
        self.overview.oldest_ready_age
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let age = self.overview.oldest_ready_age.map_or_else(|| "None".to_owned(), |a| format!("{}s", a.as_secs_f64()));
        Ok(format!(
            "QueueOverview(info={}, stats={}, oldest_ready_age={age})",
            self.info(py)?.bind(py).repr()?,
            self.stats(py)?.bind(py).repr()?
        ))
    }
}
