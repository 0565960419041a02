//! `Client`: connect, migrate, create / delete / list queues, redrive, open a queue, close.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::PgmqError;
use crate::queue::{outcomes, Queue};
use crate::run;
use crate::types::{
    default_application_name, ClientOptions, GroupStats, Outcome, QueueInfo, QueueOptions, QueueOverview,
};

/// A connection to one PostgreSQL database: a pool for statements and one LISTEN connection shared by
/// every waiter. Close it with `close()` (Kotlin: `use {}`), or let it go when unreferenced.
#[derive(uniffi::Object)]
pub struct Client {
    inner: pgmq_core::Client,
}

/// The core's options: the foreign ones, or the defaults when there are none, with this library's
/// `application_name` unless they name one.
fn client_options(options: Option<ClientOptions>) -> pgmq_core::ClientOptions {
    let defaults = pgmq_core::ClientOptions::default().application_name(default_application_name());
    let Some(o) = options else { return defaults };
    let mut opts = defaults
        .pool_size(o.pool_size as usize)
        .connect_timeout(Duration::from_millis(o.connect_timeout_ms))
        .statement_timeout(Duration::from_millis(o.statement_timeout_ms))
        .connect_retry(Duration::from_millis(o.connect_retry_ms))
        .maintenance_interval(Duration::from_millis(o.maintenance_interval_ms));
    if let Some(listen) = o.listen_dsn {
        opts = opts.listen_dsn(listen);
    }
    if let Some(name) = o.application_name {
        opts = opts.application_name(name);
    }
    if let Some(schema) = o.schema {
        opts = opts.schema(schema);
    }
    if let Some(cache) = o.statement_cache {
        opts = opts.statement_cache(cache);
    }
    opts
}

fn queue_options(o: &QueueOptions) -> pgmq_core::QueueOptions {
    let dlq = o.create_dead_letter_queue.then(|| match &o.dead_letter_queue {
        Some(d) => pgmq_core::DeadLetterOptions {
            ack_deadline: Duration::from_millis(d.ack_deadline_ms),
            max_delivery_attempts: d.max_delivery_attempts,
            retention_period: Duration::from_millis(d.retention_period_ms),
        },
        None => pgmq_core::DeadLetterOptions::default(),
    });
    pgmq_core::QueueOptions::default()
        .ack_deadline(Duration::from_millis(o.ack_deadline_ms))
        .max_delivery_attempts(o.max_delivery_attempts)
        .retention_period(Duration::from_millis(o.retention_period_ms))
        .dead_letter_queue(dlq)
        .backoff(o.backoff.map(Into::into))
        .max_messages(o.max_messages)
}

#[uniffi::export(async_runtime = "tokio")]
impl Client {
    /// (Kotlin: `connectNative`; call `Client.connect`, which first sends the core's log events to
    /// `java.util.logging`.) Connects with a libpq DSN (`postgres://user@host:port/db?sslmode=verify-full` or
    /// `host=... user=... sslmode=...`; TLS, `PG*` variables and `~/.pgpass` as libpq reads them); the
    /// pool's first connection and the LISTEN connection are opened now. `Connection` if the server
    /// cannot be reached or TLS fails (the reason says what failed), `InvalidOption` for a malformed
    /// DSN; neither error shows the password.
    #[uniffi::constructor(default(options = None))]
    pub async fn connect(dsn: String, options: Option<ClientOptions>) -> Result<Arc<Client>, PgmqError> {
        run(async move {
            let inner = pgmq_core::Client::connect_with(&dsn, client_options(options)).await?;
            Ok(Arc::new(Client { inner }))
        })
        .await
    }

    /// Creates or upgrades the `pgmq` schema; returns its version. `Timeout` (nothing changed; run it
    /// again later) after waiting 5 s for a lock a long transaction holds on pgmq's tables;
    /// `SchemaConflict` if a `pgmq` schema exists that is not pgmq's.
    pub async fn migrate(&self) -> Result<i32, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.migrate().await?) }).await
    }

    /// The version of the `pgmq` schema in the database (0 when it was never migrated there).
    pub async fn schema_version(&self) -> Result<i32, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.schema_version().await?) }).await
    }

    /// Creates a queue (and its DLQ unless `createDeadLetterQueue` is false); false if it exists.
    pub async fn create_queue(&self, name: String, options: QueueOptions) -> Result<bool, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.create_queue(&name, &queue_options(&options)).await?) }).await
    }

    /// Deletes a queue, its DLQ and their messages; false if there was none.
    pub async fn delete_queue(&self, name: String) -> Result<bool, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.delete_queue(&name).await?) }).await
    }

    /// Every queue (dead-letter queues included) with its settings, by name.
    pub async fn list_queues(&self) -> Result<Vec<QueueInfo>, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.list_queues().await?.into_iter().map(Into::into).collect()) }).await
    }

    /// Every queue (dead-letter queues included) with its settings, its counts by state, its DLQ's depth
    /// and the age of its oldest ready message, by name: an operator's overview in one statement,
    /// whatever the number of queues. It reads every message row once, so on a large backlog it costs
    /// what a count of the messages does: fine for a dashboard, not for a hot loop.
    pub async fn list_queues_with_stats(&self) -> Result<Vec<QueueOverview>, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.list_queues_with_stats().await?.into_iter().map(Into::into).collect()) }).await
    }

    /// Moves every message that is not leased from queue `from` (typically a DLQ: `dlqName(name)`) to
    /// queue `to`, as fresh messages: available now, attempts reset, same ids, bodies and attributes.
    /// Returns how many moved. `QueueNotFound` if either queue is unknown.
    pub async fn redrive(&self, from: String, to: String) -> Result<u64, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.redrive(&from, &to).await?) }).await
    }

    /// Cancels the messages of job group `group` (`SendOptions.group`) in every queue, as `queue.cancel`
    /// does: queued and scheduled ones are never delivered, held ones are signalled to their holder
    /// (`msg.awaitCancelled()`) and never redelivered. Returns the ids found (held ones being cancelled
    /// are found again by a second call); an unknown group is an empty one. `InvalidOption` for an
    /// invalid group id.
    pub async fn cancel_group(&self, group: String) -> Result<Vec<String>, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.cancel_group(&group).await?.iter().map(ToString::to_string).collect()) }).await
    }

    /// Waits until every message of job group `group`, in every queue, has an outcome, and returns them
    /// by id (messages sent to the group meanwhile count too). Woken by the completion notifications of
    /// the group's queues; an empty or unknown group returns an empty map at once. A finished message
    /// leaves its group when its outcome expires (the queue's retention period). Cancelling the caller
    /// stops the wait and changes nothing. `InvalidOption` for an invalid group id.
    pub async fn wait_for_group(&self, group: String) -> Result<HashMap<String, Outcome>, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(outcomes(inner.wait_for_group(&group).await?)) }).await
    }

    /// Job group `group`'s messages in every queue, by state and by outcome. `InvalidOption` for an
    /// invalid group id.
    pub async fn group_stats(&self, group: String) -> Result<GroupStats, PgmqError> {
        let inner = self.inner.clone();
        run(async move { Ok(inner.group_stats(&group).await?.into()) }).await
    }

    /// A handle on a queue (the name is checked now; the queue need not exist yet).
    pub fn queue(self: Arc<Self>, name: String) -> Result<Arc<Queue>, PgmqError> {
        crate::guard(|| {
            let queue = self.inner.queue(&name)?;
            Ok(Arc::new(Queue::new(queue, self)))
        })
    }

    /// Closes the client: receivers return `null`, pending waits fail with `Closed`, connections close
    /// (Kotlin: `shutdown()`, since `close()` is `AutoCloseable`'s, which closes it too).
    pub async fn close(&self) {
        let inner = self.inner.clone();
        let _ = run(async move {
            inner.close().await;
            Ok(())
        })
        .await;
    }

    /// Closes the client like `close()`, blocking the calling thread until done (at most 5 s): for
    /// `Closeable`-style cleanup in non-async code (Kotlin's `use {}` in io.pgmq calls it).
    pub fn shutdown_blocking(&self) {
        close_and_wait(&self.inner);
    }

    /// Whether `close()` was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// Freed once nothing refers to it any more (its queues, receivers, messages and sent-message handles
/// each keep it alive; Kotlin `close()` / `use {}` and Swift `deinit` drop the caller's reference): close
/// the client gracefully (flush acks and notifications), waiting at most 5 s.
impl Drop for Client {
    fn drop(&mut self) {
        close_and_wait(&self.inner);
    }
}

/// Closes gracefully on the library's runtime; waits at most 5 s unless called from a runtime thread.
fn close_and_wait(client: &pgmq_core::Client) {
    if client.is_closed() {
        return;
    }
    let inner = client.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    crate::runtime().spawn(async move {
        inner.close().await;
        let _ = tx.send(());
    });
    if tokio::runtime::Handle::try_current().is_err() {
        let _ = rx.recv_timeout(Duration::from_secs(5));
    }
}
