//! ONE dedicated LISTEN connection per client, fanning notifications out to every waiter.
//!
//! A pooled connection cannot be used: tokio-postgres delivers notifications only to whoever polls the
//! `Connection` with `poll_message`, and pools drive their connections as plain futures, which drop
//! them. So this module owns one unpooled connection, subscribes channels by reference count, and after
//! any reconnect re-LISTENs everything and wakes every waiter with [`Wake::Reset`], because notifications
//! sent while it was down are lost and the waiters must re-read the tables.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use crate::connect::{Connected, Connector};
use crate::error::{Error, Result};
use crate::options::{RECONNECT_BACKOFF_MAX, RECONNECT_BACKOFF_MIN};

/// What woke a waiter.
#[derive(Debug, Clone)]
pub(crate) enum Wake {
    /// A notification on the channel, with its payload.
    Notify(Arc<str>),
    /// Notifications may have been missed (reconnect, or the waiter lagged): re-read everything.
    Reset,
}

struct Channel {
    refs: usize,
    tx: broadcast::Sender<Wake>,
}

#[derive(Default)]
struct State {
    channels: HashMap<String, Channel>,
    /// The connection's client while connected; `None` while reconnecting.
    client: Option<Arc<tokio_postgres::Client>>,
    /// Channels LISTENed on the current connection.
    listening: std::collections::HashSet<String>,
}

pub(crate) struct Inner {
    connector: Connector,
    state: Mutex<State>,
    /// Serialises LISTEN/UNLISTEN so a subscribe racing an unsubscribe of the same channel cannot leave
    /// the server not listening while the map says it is.
    commands: tokio::sync::Mutex<()>,
    /// Waiters asleep in [`Subscription::recv`] right now (diagnostics: "every receiver is idle").
    waiting: AtomicUsize,
    shutdown: CancellationToken,
    rt: tokio::runtime::Handle,
}

/// The client's listener. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Listener {
    inner: Arc<Inner>,
}

/// One waiter's subscription to a channel. Dropping it releases the reference (UNLISTEN at zero).
pub(crate) struct Subscription {
    channel: String,
    rx: broadcast::Receiver<Wake>,
    inner: Arc<Inner>,
}

impl Subscription {
    /// The next wake-up. Never returns while nothing happens.
    pub(crate) async fn recv(&mut self) -> Wake {
        let _asleep = Asleep::new(&self.inner.waiting);
        match self.rx.recv().await {
            Ok(w) => w,
            Err(broadcast::error::RecvError::Lagged(_)) => Wake::Reset,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }

    /// Discards wake-ups already queued (the caller is about to re-read anyway).
    pub(crate) fn drain(&mut self) {
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = self.rx.try_recv() {}
    }
}

/// Counts a waiter asleep in [`Subscription::recv`] for as long as that future lives.
struct Asleep<'a>(&'a AtomicUsize);

impl<'a> Asleep<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Asleep(count)
    }
}

impl Drop for Asleep<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.inner.state.lock().unwrap();
        let Some(ch) = state.channels.get_mut(&self.channel) else { return };
        ch.refs -= 1;
        if ch.refs > 0 {
            return;
        }
        state.channels.remove(&self.channel);
        drop(state);
        let inner = self.inner.clone();
        let channel = std::mem::take(&mut self.channel);
        self.inner.rt.spawn(async move {
            let _guard = inner.commands.lock().await;
            let client = {
                let mut state = inner.state.lock().unwrap();
                if state.channels.contains_key(&channel) || !state.listening.remove(&channel) {
                    return; // re-subscribed meanwhile, or never listened on this connection
                }
                state.client.clone()
            };
            if let Some(client) = client {
                let _ = client.batch_execute(&format!("UNLISTEN {}", quote_ident(&channel))).await;
            }
        });
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Listener {
    /// Connects the LISTEN connection (failing fast if the server cannot be reached) and starts the task
    /// that drives it and reconnects it.
    pub(crate) async fn start(connector: Connector, shutdown: CancellationToken) -> Result<Listener> {
        let inner = Arc::new(Inner {
            connector,
            state: Mutex::new(State::default()),
            commands: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            shutdown,
            rt: tokio::runtime::Handle::current(),
        });
        let first = inner.connector.connect().await.map_err(Error::from)?;
        let task_inner = inner.clone();
        inner.rt.spawn(run(task_inner, first));
        Ok(Listener { inner })
    }

    /// Checks that notifications reach this connection: LISTENs on a fresh channel, NOTIFYs it from a
    /// pool connection, and waits up to `limit` for it. Through a transaction-pooling PgBouncer the
    /// LISTEN lands on a server connection that goes back to the pooler's pool, and nothing would ever
    /// arrive: receivers would wake only on their safety-net re-read, 30 s apart. Better to refuse now.
    pub(crate) async fn probe(&self, db: &crate::db::Db, limit: Duration) -> Result<()> {
        let channel = format!("{}{}", crate::protocol::PROBE_CHANNEL_PREFIX, uuid::Uuid::new_v4().simple());
        let mut subscription = self.subscribe(channel.clone()).await;
        let notify = || async {
            let conn = db.get().await?;
            // A simple query: no prepared statement to leak through a pooler.
            conn.batch_execute(&format!("SELECT pg_catalog.pg_notify('{channel}', '')"), Some(limit)).await
        };
        notify().await?;
        // A reset means the LISTEN connection dropped and came back (LISTENing again): a notification sent
        // while it was down is lost, so send another rather than wait out the limit for the first.
        let arrived = tokio::time::timeout(limit, async {
            while let Wake::Reset = subscription.recv().await {
                notify().await?;
            }
            Ok::<_, Error>(())
        })
        .await;
        arrived.map_err(|_| {
            Error::invalid_option(format!(
                "notifications do not reach the LISTEN connection (none arrived within {limit:?}): it goes \
                 through a transaction-pooling PgBouncer or another proxy that does not keep a session; give \
                 listen_dsn a direct connection to PostgreSQL"
            ))
        })?
    }

    /// Subscribes to a channel. When this returns, the connection is LISTENing on it (or is down, in which
    /// case the reconnect will LISTEN and send [`Wake::Reset`]), so a read of the table made after this
    /// call cannot miss a change announced after that read.
    pub(crate) async fn subscribe(&self, channel: String) -> Subscription {
        let _guard = self.inner.commands.lock().await;
        let (rx, client) = {
            let mut state = self.inner.state.lock().unwrap();
            let ch = state
                .channels
                .entry(channel.clone())
                .or_insert_with(|| Channel { refs: 0, tx: broadcast::channel(64).0 });
            ch.refs += 1;
            let rx = ch.tx.subscribe();
            let client = if state.listening.contains(&channel) { None } else { state.client.clone() };
            (rx, client)
        };
        if let Some(client) = client {
            if client.batch_execute(&format!("LISTEN {}", quote_ident(&channel))).await.is_ok() {
                let mut state = self.inner.state.lock().unwrap();
                if state.client.as_ref().is_some_and(|c| Arc::ptr_eq(c, &client)) {
                    state.listening.insert(channel.clone());
                }
            }
            // On failure the connection is going down; the reconnect LISTENs every channel in the map.
        }
        Subscription { channel, rx, inner: self.inner.clone() }
    }

    /// The number of channels currently subscribed (for tests and diagnostics).
    pub(crate) fn channel_count(&self) -> usize {
        self.inner.state.lock().unwrap().channels.len()
    }

    /// The number of waiters asleep on a subscription right now (for tests and diagnostics).
    pub(crate) fn waiting_count(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// The channels the server says the LISTEN connection is listening on (`pg_listening_channels()`),
    /// while connected (for tests and diagnostics).
    pub(crate) async fn server_channels(&self) -> Option<Vec<String>> {
        let client = self.connection()?;
        let rows = client.query("SELECT pg_catalog.pg_listening_channels()", &[]).await.ok()?;
        Some(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The LISTEN connection's client while it is connected, `None` while it reconnects. The notifier
    /// sends its NOTIFYs on it, so announcing never takes a pool connection from the work.
    pub(crate) fn connection(&self) -> Option<Arc<tokio_postgres::Client>> {
        self.inner.state.lock().unwrap().client.clone()
    }

    /// The server process id of the LISTEN connection, while connected (for tests that kill it).
    pub(crate) async fn backend_pid(&self) -> Option<i32> {
        let client = self.connection()?;
        let row = client.query_one("SELECT pg_catalog.pg_backend_pid()", &[]).await.ok()?;
        Some(row.get(0))
    }
}

/// Drives the connection; on loss, reconnects with backoff, re-LISTENs and wakes everyone.
async fn run(inner: Arc<Inner>, first: Connected) {
    let mut next = Some(first);
    let mut backoff = RECONNECT_BACKOFF_MIN;
    loop {
        let (client, connection) = match next.take() {
            Some(c) => c,
            None => {
                let attempt = tokio::select! {
                    _ = inner.shutdown.cancelled() => return,
                    r = inner.connector.connect() => r,
                };
                match attempt {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("pgmq listener: reconnect failed: {}", e.text);
                        tokio::select! {
                            _ = inner.shutdown.cancelled() => return,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
                        continue;
                    }
                }
            }
        };
        backoff = RECONNECT_BACKOFF_MIN;
        let client = Arc::new(client);
        let lost = CancellationToken::new();
        let driver = inner.rt.spawn(drive(inner.clone(), connection, lost.clone()));

        // Re-LISTEN every channel, then wake every waiter: anything sent while we were away is only in
        // the tables now.
        {
            let _guard = inner.commands.lock().await;
            let channels: Vec<String> = {
                let mut state = inner.state.lock().unwrap();
                state.client = Some(client.clone());
                state.listening.clear();
                state.channels.keys().cloned().collect()
            };
            let sql: String = channels.iter().map(|c| format!("LISTEN {};", quote_ident(c))).collect();
            if sql.is_empty() || client.batch_execute(&sql).await.is_ok() {
                let mut state = inner.state.lock().unwrap();
                state.listening.extend(channels);
                for ch in state.channels.values() {
                    let _ = ch.tx.send(Wake::Reset);
                }
            }
        }

        // Watch for a half-open socket with a cheap ping while connected.
        loop {
            tokio::select! {
                _ = inner.shutdown.cancelled() => {
                    driver.abort();
                    return;
                }
                _ = lost.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(10)) => {
                    let ping = tokio::time::timeout(Duration::from_secs(10), client.simple_query("")).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
        driver.abort();
        let mut state = inner.state.lock().unwrap();
        state.client = None;
        state.listening.clear();
        drop(state);
        tracing::warn!("pgmq listener: connection lost, reconnecting");
    }
}

async fn drive(
    inner: Arc<Inner>,
    mut connection: tokio_postgres::Connection<tokio_postgres::Socket, crate::tls::TlsStream>,
    lost: CancellationToken,
) {
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(n)) => {
                let state = inner.state.lock().unwrap();
                if let Some(ch) = state.channels.get(n.channel()) {
                    let _ = ch.tx.send(Wake::Notify(Arc::from(n.payload())));
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    lost.cancel();
}
