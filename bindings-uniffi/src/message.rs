//! `Message` (a delivered message's content) and `Lease` (ack / nack / extend / release, cancellation)
//! behind it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::PgmqError;
use crate::run;
use crate::types::{from_core_attributes, AttributeValue, NackOptions};

/// A message leased to this worker. Finish it through `lease` (Kotlin and Swift add `msg.ack()`,
/// `msg.nack()` on top). While the lease is held the core extends it in the background.
#[derive(uniffi::Record)]
pub struct Message {
    /// The message id (a time-ordered UUID).
    pub id: String,
    /// The queue it was received from.
    pub queue: String,
    /// The payload.
    pub body: Vec<u8>,
    /// Its attributes (empty when none).
    pub attributes: HashMap<String, AttributeValue>,
    /// 1 on the first delivery, +1 for every redelivery.
    pub delivery_attempt: u32,
    /// When it was sent.
    pub sent_at: SystemTime,
    /// The error given to the last failed attempt.
    pub last_error: Option<String>,
    /// In a DLQ: the attempts it used in its original queue.
    pub dead_letter_attempts: Option<u32>,
    /// The fencing token of this delivery's lease (a UUID): an ack or nack under an older token changes
    /// nothing. Each delivery has its own, so it tells two deliveries of one message apart.
    pub lease_token: String,
    /// The lease.
    pub lease: Arc<Lease>,
}

pub(crate) fn deliver(mut m: pgmq_core::Message, client: &Arc<Client>) -> Message {
    Message {
        id: m.id().to_string(),
        queue: m.queue().to_owned(),
        body: m.take_body(),
        attributes: from_core_attributes(m.attributes()),
        delivery_attempt: m.delivery_attempt(),
        sent_at: m.sent_at(),
        last_error: m.last_error().map(str::to_owned),
        dead_letter_attempts: m.dead_letter_attempts(),
        lease_token: m.lease_token().to_string(),
        lease: Arc::new(Lease {
            id: m.id(),
            message: Mutex::new(Some(Arc::new(m))),
            done: CancellationToken::new(),
            _client: client.clone(),
        }),
    }
}

/// The lease on one delivered message. Dropping it unfinished releases the message for redelivery.
#[derive(uniffi::Object)]
pub struct Lease {
    id: pgmq_core::Uuid,
    /// `None` once released; dropping the last reference to an unfinished core message releases it.
    message: Mutex<Option<Arc<pgmq_core::Message>>>,
    /// Cancelled once the message is finished or released: ends `cancelled()` waits, which then drop
    /// their reference to the message.
    done: CancellationToken,
    _client: Arc<Client>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.done.cancel();
    }
}

/// Ends `cancelled()` waits once the message is finished (a connection error, or an argument refused
/// before anything was done, leaves it held).
fn settled(result: Result<(), pgmq_core::Error>, done: &CancellationToken) -> Result<(), PgmqError> {
    use pgmq_core::Error as E;
    if !matches!(result, Err(E::Connection(_) | E::Database(_) | E::InvalidOption(_))) {
        done.cancel();
    }
    Ok(result?)
}

impl Lease {
    fn message(&self) -> Result<Arc<pgmq_core::Message>, PgmqError> {
        self.message
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| pgmq_core::Error::AlreadyFinished(self.id).into())
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Lease {
    /// Completes the message. Acking a message cancelled while held succeeds and changes nothing.
    /// `AlreadyFinished` if already acked, nacked or released; `LeaseLost` if the lease was lost.
    pub async fn ack(&self) -> Result<(), PgmqError> {
        let message = self.message()?;
        let done = self.done.clone();
        run(async move { settled(message.ack().await, &done) }).await
    }

    /// Completes the message with a result (reply-to): as `ack()`, and the outcome record keeps `result`
    /// and its `contentType` (`null`: unlabelled bytes) for the queue's retention period, for whoever
    /// awaits the completion (`sent.reply()`, `queue.request()`, in any language). A message sent with
    /// `track = false` keeps no result (a plain ack); one cancelled while held keeps its `CANCELLED`
    /// outcome and no result. Errors as for `ack()`, and `InvalidOption` (nothing done, the message
    /// stays held) for a result over `DEFAULTS.limits.maxSendBytes` or a content type that is empty or
    /// holds a NUL character.
    #[uniffi::method(default(content_type = None))]
    pub async fn ack_with_result(&self, result: Vec<u8>, content_type: Option<String>) -> Result<(), PgmqError> {
        let message = self.message()?;
        let done = self.done.clone();
        run(async move { settled(message.ack_with_result(result, content_type.as_deref()).await, &done) }).await
    }

    /// Fails this delivery: redelivered after `delayMs` (or the queue's backoff, or at once), or
    /// dead-lettered on the last attempt, keeping `error`.
    #[uniffi::method(default(options = None))]
    pub async fn nack(&self, options: Option<NackOptions>) -> Result<(), PgmqError> {
        let message = self.message()?;
        let options = options.unwrap_or(NackOptions { delay_ms: None, error: None });
        let core = pgmq_core::NackOptions { delay: options.delay_ms.map(Duration::from_millis), error: options.error };
        let done = self.done.clone();
        run(async move { settled(message.nack(core).await, &done) }).await
    }

    /// Extends the lease to `ms` from now (the heartbeat keeps extending it afterwards).
    pub async fn extend(&self, ms: u64) -> Result<(), PgmqError> {
        let message = self.message()?;
        run(async move { Ok(message.extend(Duration::from_millis(ms)).await?) }).await
    }

    /// Hands the message back unfinished for prompt redelivery (counts as an attempt). Does nothing
    /// once finished.
    pub fn release(&self) {
        self.done.cancel();
        drop(self.message.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    /// Whether this handle can no longer ack or nack (finished, released or lost).
    pub fn is_finished(&self) -> bool {
        self.message().map_or(true, |m| m.is_finished())
    }

    /// Whether the heartbeat found the lease lost (it expired and the message went to another worker,
    /// or the message was dead-lettered or deleted): an ack or nack now fails with `LeaseLost`. False
    /// once this handle is finished or released.
    pub fn is_lease_lost(&self) -> bool {
        self.message().is_ok_and(|m| m.is_lease_lost())
    }

    /// Whether `queue.cancel()` was called on the message while held.
    pub fn is_cancelled(&self) -> bool {
        self.message().is_ok_and(|m| m.is_cancelled())
    }

    /// Returns when the message is cancelled while held (true), or once it is finished or released
    /// (false). Cancel the caller to stop waiting.
    pub async fn cancelled(&self) -> bool {
        let Ok(message) = self.message() else { return false };
        let done = self.done.clone();
        run(async move {
            tokio::select! {
                biased;
                _ = message.cancelled() => Ok(true),
                _ = done.cancelled() => Ok(false),
            }
        })
        .await
        .unwrap_or(false)
    }
}
