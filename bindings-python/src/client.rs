//! `pgmq.connect` and the client: schema, queue creation and deletion, opening queues, closing.

use pgmq_core::{ClientOptions, DeadLetterOptions, QueueOptions};
use pyo3::prelude::*;

use crate::convert::{count, duration};
use crate::error::{guard, invalid_option, ToPyResult};
use crate::queue::Queue;
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
    pool_size=10,
    connect_timeout=None,
    statement_timeout=None,
    statement_cache=None,
    connect_retry=None,
    application_name=None,
    schema=None,
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect(
    py: Python<'_>,
    dsn: String,
    listen_dsn: Option<String>,
    pool_size: i64,
    connect_timeout: Option<f64>,
    statement_timeout: Option<f64>,
    statement_cache: Option<bool>,
    connect_retry: Option<f64>,
    application_name: Option<String>,
    schema: Option<String>,
) -> PyResult<Bound<'_, PyAny>> {
    let owner = Owner::current()?;
    // The core rejects 0, so a negative size gets the same clear error. The application_name tells
    // operators in pg_stat_activity which language's client a backend serves (unless the DSN or
    // PGAPPNAME names the application).
    let mut options = ClientOptions::default()
        .application_name(application_name.unwrap_or_else(|| "pgmq-python".to_owned()))
        .pool_size(usize::try_from(pool_size).unwrap_or(0));
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
    /// (`dlq` = `(ack_deadline, max_delivery_attempts, retention_period)`). Durations in seconds.
    /// Resolves to `False` if the queue exists.
    #[pyo3(signature = (name, *, ack_deadline, max_delivery_attempts, retention_period, dlq))]
    fn create_queue<'py>(
        &self,
        py: Python<'py>,
        name: String,
        ack_deadline: f64,
        max_delivery_attempts: i64,
        retention_period: f64,
        dlq: Option<(f64, i64, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dead_letter_queue = match dlq {
            Some((ack, attempts, retention)) => Some(DeadLetterOptions {
                ack_deadline: duration(py, ack, "dlq_options.ack_deadline")?,
                max_delivery_attempts: count(py, attempts, "dlq_options.max_delivery_attempts")?,
                retention_period: duration(py, retention, "dlq_options.retention_period")?,
            }),
            None => None,
        };
        let options = QueueOptions::default()
            .ack_deadline(duration(py, ack_deadline, "ack_deadline")?)
            .max_delivery_attempts(count(py, max_delivery_attempts, "max_delivery_attempts")?)
            .retention_period(duration(py, retention_period, "retention_period")?)
            .dead_letter_queue(dead_letter_queue);
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.create_queue(&name, &options).await })
    }

    /// Deletes a queue, its messages and the DLQ created with it; resolves to `False` if unknown.
    fn delete_queue<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.delete_queue(&name).await })
    }

    /// Moves every unleased message of queue `source` (typically a DLQ) to `target` as fresh messages;
    /// resolves to how many moved.
    fn redrive<'py>(&self, py: Python<'py>, source: String, target: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        future_into_py(py, self.owner, async move { client.redrive(&source, &target).await })
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
