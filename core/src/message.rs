//! A leased message: ack, nack, extend, the automatic heartbeat, and the cancellation signal.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::client::ClientInner;
use crate::error::{Error, Result};
use crate::lease::{self, AckResult, Held, NackResult, Op, QueueLeases};
use crate::options::{micros, Attributes, NackOptions, JSON_CONTENT_TYPE, MAX_SEND_BYTES};

/// A message delivered to this worker under a lease.
///
/// Only this worker holds it until the lease ends: while the `Message` is alive and unfinished the client
/// extends the lease in the background, so slow work is never delivered twice while this process lives.
/// Finish it with [`Message::ack`] (done) or [`Message::nack`] (failed: retry later or dead-letter).
/// Dropping it unfinished releases it for prompt redelivery; a crash lets the lease expire, and the
/// message is redelivered after at most the queue's ack deadline.
pub struct Message {
    id: Uuid,
    queue: Arc<str>,
    body: Vec<u8>,
    attributes: Attributes,
    delivery_attempt: u32,
    sent_at: SystemTime,
    last_error: Option<String>,
    dead_letter_attempts: Option<u32>,
    held: Arc<Held>,
    leases: Arc<QueueLeases>,
    client: Arc<ClientInner>,
}

pub(crate) struct MessageParts {
    pub(crate) id: Uuid,
    pub(crate) queue: Arc<str>,
    pub(crate) body: Vec<u8>,
    pub(crate) attributes: Attributes,
    pub(crate) delivery_attempt: u32,
    pub(crate) sent_at: SystemTime,
    pub(crate) last_error: Option<String>,
    pub(crate) dead_letter_attempts: Option<u32>,
}

impl Message {
    pub(crate) fn new(
        parts: MessageParts,
        held: Arc<Held>,
        leases: Arc<QueueLeases>,
        client: Arc<ClientInner>,
    ) -> Message {
        leases.register(held.clone());
        Message {
            id: parts.id,
            queue: parts.queue,
            body: parts.body,
            attributes: parts.attributes,
            delivery_attempt: parts.delivery_attempt,
            sent_at: parts.sent_at,
            last_error: parts.last_error,
            dead_letter_attempts: parts.dead_letter_attempts,
            held,
            leases,
            client,
        }
    }

    /// The message id (a UUIDv7, time-ordered, assigned at send).
    pub fn id(&self) -> Uuid {
        self.id
    }
    /// The queue it was received from.
    pub fn queue(&self) -> &str {
        &self.queue
    }
    /// The payload.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// Takes the payload out (leaving it empty), to avoid a copy.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }
    /// The attributes it was sent with (empty when none).
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }
    /// The body parsed as JSON into `T`, as sent by [`crate::OutgoingMessage::json`] or by the JSON send
    /// of any other language. [`Error::InvalidOption`] when the message is labelled with a content type
    /// that is not JSON ([`crate::is_json_content_type`]) or the body is not a `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        crate::options::decode_json(&self.body, &self.attributes)
    }
    /// Which delivery this is: 1 the first time, then +1 for every lease (redeliveries after a nack, a
    /// release or an expired lease).
    pub fn delivery_attempt(&self) -> u32 {
        self.delivery_attempt
    }
    /// When it was sent.
    pub fn sent_at(&self) -> SystemTime {
        self.sent_at
    }
    /// The error text of the last failed attempt (for a dead-lettered message: the error given to the
    /// final nack).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
    /// For a message in a dead-letter queue: how many attempts it had used in its original queue.
    pub fn dead_letter_attempts(&self) -> Option<u32> {
        self.dead_letter_attempts
    }
    /// The fencing token of this lease: an ack or nack under an older token changes nothing.
    pub fn lease_token(&self) -> Uuid {
        self.held.token
    }

    /// Whether `Queue::cancel` was called on this message while it was held. Its ack then does nothing.
    pub fn is_cancelled(&self) -> bool {
        *self.held.cancelled.borrow()
    }

    /// Resolves when the message is cancelled while held (signalled through NOTIFY within milliseconds,
    /// confirmed by the next heartbeat if that notification was lost). Pending forever otherwise.
    pub async fn cancelled(&self) {
        let mut rx = self.held.cancelled.subscribe();
        let _ = rx.wait_for(|c| *c).await;
        if !*rx.borrow() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether the heartbeat found the lease lost (expired and taken, or dead-lettered).
    pub fn is_lease_lost(&self) -> bool {
        self.held.lost.load(Ordering::Acquire)
    }

    /// Whether this handle may still ack or nack.
    pub fn is_finished(&self) -> bool {
        !self.held.is_held()
    }

    /// Completes the message: it is deleted and its outcome (if tracked) becomes `completed`.
    ///
    /// Acks from many workers are batched into one statement. Errors: [`Error::AlreadyFinished`] if this
    /// handle already acked or nacked, [`Error::LeaseLost`] if the lease was lost (nothing changed), a
    /// connection error (the message stays held; retrying is safe). Acking a message that was cancelled
    /// while held succeeds and changes nothing.
    pub async fn ack(&self) -> Result<()> {
        self.finish_ack(None).await
    }

    /// Completes the message with a result (reply-to): as [`Message::ack`], and the outcome record keeps
    /// `result` and its `content_type` (`None`: unlabelled bytes) for the queue's retention period, for
    /// whoever awaits the completion ([`crate::SentMessage::wait_reply`], [`crate::Queue::request`]).
    ///
    /// Only a tracked message keeps a result; for one sent with `track = false` this is a plain ack, and
    /// one cancelled while held keeps its `cancelled` outcome and no result. Errors as for
    /// [`Message::ack`], and [`Error::InvalidOption`] (nothing done, the message stays held) for a result
    /// over [`MAX_SEND_BYTES`] or a content type that is empty or holds a NUL character.
    pub async fn ack_with_result(&self, result: impl Into<Vec<u8>>, content_type: Option<&str>) -> Result<()> {
        let bytes = result.into();
        validate_result(&bytes, content_type)?;
        self.finish_ack(Some(AckResult { bytes, content_type: content_type.map(str::to_owned) })).await
    }

    /// Completes the message with `value` as a JSON result (UTF-8, labelled [`JSON_CONTENT_TYPE`]), which
    /// [`crate::Reply::json`] reads in every language. Errors as for [`Message::ack_with_result`], and
    /// [`Error::InvalidOption`] when `value` cannot be written as JSON.
    pub async fn ack_with_json<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::invalid_option(format!("the result cannot be written as JSON: {e}")))?;
        self.ack_with_result(bytes, Some(JSON_CONTENT_TYPE)).await
    }

    async fn finish_ack(&self, result: Option<AckResult>) -> Result<()> {
        self.held.begin_finish()?;
        let (tx, rx) = oneshot::channel();
        self.client.committer.submit(Op::Ack {
            held: self.held.clone(),
            leases: self.leases.clone(),
            result,
            done: Some(tx),
        });
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Fails this delivery. With attempts left, the message becomes available again after
    /// `options.delay` (or the queue's backoff, or at once) and idle receivers are woken; on the last
    /// attempt it moves to the dead-letter queue with `options.error`. Errors as for [`Message::ack`].
    pub async fn nack(&self, options: NackOptions) -> Result<()> {
        let delay_us = options.delay.map(|d| micros(d, "nack delay")).transpose()?;
        self.held.begin_finish()?;
        let (tx, rx) = oneshot::channel();
        self.client.committer.submit(Op::Nack {
            held: self.held.clone(),
            leases: self.leases.clone(),
            delay_us,
            // PostgreSQL text cannot hold NUL; rejecting it would fail every nack batched with this one.
            error: options.error.map(|e| if e.contains('\0') { e.replace('\0', "\u{FFFD}") } else { e }),
            done: Some(tx),
        });
        rx.await.map_err(|_| Error::Closed)?.map(|_: NackResult| ())
    }

    /// Extends the lease to `by` from now (the background heartbeat keeps extending it afterwards).
    /// [`Error::LeaseLost`] if it was lost.
    pub async fn extend(&self, by: Duration) -> Result<()> {
        if !self.held.is_held() {
            return Err(Error::AlreadyFinished(self.id));
        }
        if lease::extend(&self.client.db, self.leases.queue_id, &self.held, by).await? {
            Ok(())
        } else {
            self.held.lost.store(true, Ordering::Release);
            Err(Error::LeaseLost(self.id))
        }
    }
}

/// Whether [`Message::ack_with_result`] accepts this result: at most [`MAX_SEND_BYTES`] (one value, as
/// a message body), and a content type that is not empty and holds no NUL character (PostgreSQL text).
/// [`Error::InvalidOption`] otherwise. For the bindings, which check a result before the ack that
/// carries it (Python's `set_result`).
pub fn validate_result(bytes: &[u8], content_type: Option<&str>) -> Result<()> {
    if bytes.len() > MAX_SEND_BYTES {
        return Err(Error::invalid_option(format!("a result holds at most {MAX_SEND_BYTES} bytes, not {}", bytes.len())));
    }
    match content_type {
        Some("") => Err(Error::invalid_option("a result's content type must not be empty")),
        Some(label) if label.contains('\0') => {
            Err(Error::invalid_option("a result's content type must not contain a NUL character"))
        }
        _ => Ok(()),
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        if self.held.abandon() {
            // Never finished: hand it back at once (this counts as a used attempt).
            self.held.release_slot();
            self.client.committer.submit(Op::Nack {
                held: self.held.clone(),
                leases: self.leases.clone(),
                delay_us: Some(0),
                error: None,
                done: None,
            });
        }
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("queue", &self.queue)
            .field("delivery_attempt", &self.delivery_attempt)
            .field("body_len", &self.body.len())
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}
