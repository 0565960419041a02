//! Sends the NOTIFYs of the hot paths (send, ack) in their own short transactions, coalesced across
//! every concurrent caller of this client.
//!
//! PostgreSQL serialises the commits of notifying transactions with a lock held through the commit's WAL
//! flush, so a NOTIFY inside each send would make concurrent senders queue behind each other's fsync.
//! Here the send or ack commits durably without a NOTIFY (so commits group), and then one transaction
//! with `synchronous_commit` off notifies for all of them. Callers do not wait for it: a send returns as
//! soon as it is durable (so its caller always learns of it before any worker does), and a notification
//! lost to a crash in between only delays waiters until their next re-read — the table is the truth.
//!
//! The NOTIFYs go out on the client's LISTEN connection, which is otherwise idle between notifications
//! (a session may notify channels it listens on; it then receives its own notifications like any other
//! listener's). A pool connection is used only while that connection is down or when a NOTIFY on it
//! fails: announcing never competes with sends, claims and acks for the pool, and a client sending in
//! a loop keeps to one pool connection instead of opening a second one the first time a send overlaps the
//! previous send's NOTIFY.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::Type;
use tokio_postgres::Statement;

use crate::db::{Db, Sql};
use crate::error::{Error, Result};
use crate::listener::Listener;

struct Request {
    notes: Vec<(String, String)>,
    done: Option<oneshot::Sender<Result<()>>>,
}

#[derive(Clone)]
pub(crate) struct Notifier {
    tx: mpsc::UnboundedSender<Request>,
}

const NOTIFY: &str = "
SELECT pg_catalog.pg_notify(n.channel, n.payload)
FROM pg_catalog.set_config('synchronous_commit', 'off', true),
     ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS n(channel, payload)";

/// [`NOTIFY`] on a pool connection (while the LISTEN connection is down).
pub(crate) const NOTIFY_ON_POOL: Sql = Sql::new(NOTIFY, &[Type::TEXT_ARRAY, Type::TEXT_ARRAY]);

impl Notifier {
    pub(crate) fn start(db: Db, listener: Listener, rt: &tokio::runtime::Handle) -> Notifier {
        let (tx, rx) = mpsc::unbounded_channel();
        rt.spawn(run(db, listener, rx));
        Notifier { tx }
    }

    /// Queues these (channel, payload) notifications, to go out with any others pending.
    pub(crate) fn announce(&self, notes: Vec<(String, String)>) {
        let _ = self.tx.send(Request { notes, done: None });
    }

    /// Waits until every notification queued before this call has been sent (or has failed).
    pub(crate) async fn flush(&self) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Request { notes: Vec::new(), done: Some(done) }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Sends these notifications and waits until they are committed.
    #[allow(dead_code)]
    pub(crate) async fn notify(&self, notes: Vec<(String, String)>) -> Result<()> {
        let (done, rx) = oneshot::channel();
        self.tx.send(Request { notes, done: Some(done) }).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

/// How long a NOTIFY on the LISTEN connection may take before the pool is used instead.
const LISTENER_NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// The NOTIFY statement prepared on one LISTEN connection (a reconnect brings a new one).
type Prepared = Option<(Arc<tokio_postgres::Client>, Statement)>;

/// Sends on the LISTEN connection, preparing the statement once per connection.
async fn notify_on_listener(
    conn: Arc<tokio_postgres::Client>,
    prepared: &mut Prepared,
    channels: &[String],
    payloads: &[String],
) -> Result<()> {
    let stmt = match prepared {
        Some((c, stmt)) if Arc::ptr_eq(c, &conn) => stmt.clone(),
        _ => {
            let stmt = conn.prepare(NOTIFY).await?;
            *prepared = Some((conn.clone(), stmt.clone()));
            stmt
        }
    };
    // A half-open socket is noticed by the listener's ping within about 20 s; the pool need not wait that long.
    tokio::time::timeout(LISTENER_NOTIFY_TIMEOUT, conn.execute(&stmt, &[&channels, &payloads]))
        .await
        .map_err(|_| Error::Connection("no answer on the LISTEN connection".into()))??;
    Ok(())
}

async fn run(db: Db, listener: Listener, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut prepared: Prepared = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 1000 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut seen = HashSet::new();
        let (mut channels, mut payloads) = (Vec::new(), Vec::new());
        for (channel, payload) in batch.iter().flat_map(|r| r.notes.iter()) {
            if seen.insert((channel, payload)) {
                channels.push(channel.clone());
                payloads.push(payload.clone());
            }
        }
        let result = async {
            if channels.is_empty() {
                return Ok(()); // only flushes waiting
            }
            if let Some(conn) = listener.connection() {
                match notify_on_listener(conn, &mut prepared, &channels, &payloads).await {
                    Ok(()) => return Ok(()),
                    // Most likely the connection is going down (the listener reconnects it): use the pool.
                    // Should the failed NOTIFY have committed after all, a waiter wakes twice, which is harmless.
                    Err(e) => {
                        prepared = None;
                        tracing::debug!("pgmq: notification on the LISTEN connection failed, using the pool: {e}");
                    }
                }
            }
            db.get().await?.execute(&NOTIFY_ON_POOL, &[&channels, &payloads]).await?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = &result {
            tracing::warn!("pgmq: notification failed (waiters catch up on their next re-read): {e}");
        }
        for r in batch {
            if let Some(done) = r.done {
                let _ = done.send(result.clone());
            }
        }
    }
}
