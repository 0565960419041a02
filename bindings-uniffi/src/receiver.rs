//! `Receiver` (leases messages from one queue) and `Interrupt` (ends one pending receive early, so that
//! the Kotlin layer never has to cancel it).

use std::sync::Arc;

use pgmq_core::SharedReceiver;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::PgmqError;
use crate::message::{deliver, Message};
use crate::run;

/// Leases messages from one queue, at most `batchSize` unfinished at a time.
#[derive(uniffi::Object)]
pub struct Receiver {
    inner: SharedReceiver,
    client: Arc<Client>,
}

impl Receiver {
    pub(crate) fn new(inner: pgmq_core::Receiver, client: Arc<Client>) -> Receiver {
        Receiver { inner: SharedReceiver::new(inner), client }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.inner.close();
    }
}

/// Ends one pending `next()` or `nextBatch()` early, as if nothing had come (`null`, an empty list);
/// what its claim had leased is released. A call given an interrupt that has already fired returns at
/// once; interrupting a call that has returned does nothing.
///
/// Why it exists: uniffi turns a call's result into its foreign form as soon as the Rust future
/// completes, and a Kotlin coroutine cancelled between then and its resumption drops that form unread.
/// The leases in it are then never released: their handles are gone, and the heartbeat keeps extending
/// them for as long as the client is open. So the Kotlin layer (`Receiver.next()` in kotlin/src/io/pgmq) never
/// cancels these calls: it gives each an interrupt, fires it when its caller is cancelled, and releases
/// whatever the call still returns.
#[derive(uniffi::Object, Default)]
pub struct Interrupt(CancellationToken);

#[uniffi::export]
impl Interrupt {
    /// An interrupt that has not fired.
    #[uniffi::constructor]
    pub fn new() -> Arc<Interrupt> {
        Arc::default()
    }

    /// Ends the call this interrupt was given to.
    pub fn interrupt(&self) {
        self.0.cancel();
    }
}

/// The token a call stops on: the interrupt's, or one that never fires.
fn interrupted(interrupt: Option<Arc<Interrupt>>) -> CancellationToken {
    interrupt.map(|i| i.0.clone()).unwrap_or_default()
}

#[uniffi::export(async_runtime = "tokio")]
impl Receiver {
    /// (Kotlin: `nextNative`; call `next()`, which interrupts it when the caller is cancelled.)
    /// Suspends until a message is leased; `null` once the receiver or its client is closed, or once
    /// `interrupt` fires. Ending the call early releases what its claim had leased. With `batchSize` > 1
    /// the rest of a claim is kept for the next calls.
    #[uniffi::method(default(interrupt = None))]
    pub async fn next(&self, interrupt: Option<Arc<Interrupt>>) -> Result<Option<Message>, PgmqError> {
        let (inner, client, interrupted) = (self.inner.clone(), self.client.clone(), interrupted(interrupt));
        run(async move {
            let message = interrupted.run_until_cancelled_owned(inner.next()).await.transpose()?.flatten();
            Ok(message.map(|m| deliver(m, &client)))
        })
        .await
    }

    /// (Kotlin: `nextBatchNative`; call `nextBatch()`, which interrupts it when the caller is
    /// cancelled.) Suspends until at least one message is leased and returns every message of that
    /// claim; empty once the receiver or its client is closed, or once `interrupt` fires.
    #[uniffi::method(default(interrupt = None))]
    pub async fn next_batch(&self, interrupt: Option<Arc<Interrupt>>) -> Result<Vec<Message>, PgmqError> {
        let (inner, client, interrupted) = (self.inner.clone(), self.client.clone(), interrupted(interrupt));
        run(async move {
            let batch = interrupted.run_until_cancelled_owned(inner.next_batch()).await.transpose()?.flatten();
            Ok(batch.unwrap_or_default().into_iter().map(|m| deliver(m, &client)).collect())
        })
        .await
    }

    /// Stops receiving: a pending `next()` returns `null` and what it had leased is released
    /// (Kotlin: `stop()`, since `close()` is `AutoCloseable`'s).
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether `close()` was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}
