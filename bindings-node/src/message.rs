//! A claim: the messages of one `nextBatch`, column by column (one JS object for the whole claim,
//! bodies in one buffer), and `NativeLeases`, the leases behind them, addressed by index. The acks of
//! one event-loop turn are awaited with one promise per claim.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_util::future::join_all;
use napi::bindgen_prelude::{within_runtime_if_available, *};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pgmq_core::{Error, NackOptions};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::convert::{attributes_to_js, duration_ms, epoch_ms};
use crate::error::{invalid_option, to_napi, IntoNapi};

/// The messages of one claim; message `i` is the `i`-th entry of every column.
#[napi(object, object_from_js = false)]
pub struct Claim {
    /// Message ids (UUIDs).
    pub ids: Vec<String>,
    /// Every body, one after the other: body `i` is `bodies[ends[i - 1] .. ends[i]]` (from 0 for `i = 0`).
    pub bodies: Buffer,
    /// Where each body ends in `bodies`.
    pub ends: Vec<f64>,
    /// Attributes (`null` when none).
    pub attributes: Vec<Value>,
    /// 1 on the first delivery, +1 for each redelivery.
    pub delivery_attempts: Vec<u32>,
    /// When each was sent, ms since the epoch.
    pub sent_at: Vec<f64>,
    /// The error of the last failed attempt, or `null`.
    pub last_errors: Vec<Option<String>>,
    /// In a DLQ: the attempts used in the original queue, or `null`.
    pub dead_letter_attempts: Vec<Option<u32>>,
    /// The leases.
    pub leases: NativeLeases,
}

/// A nack the core has begun (see [`begin`]), to await.
type Finishing = Pin<Box<dyn Future<Output = pgmq_core::Result<()>> + Send>>;

/// One leased message of a claim.
struct Slot {
    id: pgmq_core::Uuid,
    token: pgmq_core::Uuid,
    /// `None` once released; dropping the last reference to an unfinished core message releases it (an
    /// ack or nack under way holds a reference of its own).
    message: Mutex<Option<Arc<pgmq_core::Message>>>,
    /// Ends the cancellation watch (finished, released or collected).
    done: CancellationToken,
}

impl Slot {
    fn message(&self) -> pgmq_core::Result<Arc<pgmq_core::Message>> {
        lock(&self.message).clone().ok_or(Error::AlreadyFinished(self.id))
    }

    fn release(&self) {
        self.done.cancel();
        drop(lock(&self.message).take());
    }
}

/// A lock that a panic elsewhere cannot poison for good (what it guards stays consistent).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the core's `nack` of a message here, on the JS thread, up to its first wait, and returns the
/// rest of it to await. What the core decides at once — this handle's claim on finishing the message,
/// or `already_finished` — then happens in the order JS made its calls: the core alone keeps a
/// message's state, and a second `nack`, a `release` or `finished` right after one sees it finishing.
/// (Acks are begun on the runtime, all of a batch in one go, which keeps them in one statement; the JS
/// layer orders a message's other calls after its ack.)
fn begin<F>(work: F) -> Finishing
where
    F: Future<Output = pgmq_core::Result<()>> + Send + 'static,
{
    let mut work = Box::pin(work);
    let mut cx = Context::from_waker(Waker::noop());
    // The runtime's context, in case the first step needs it (the core only queues the statement there).
    match within_runtime_if_available(|| work.as_mut().poll(&mut cx)) {
        Poll::Ready(output) => Box::pin(std::future::ready(output)),
        Poll::Pending => work,
    }
}

/// Builds the claim object of a batch of leased messages.
pub(crate) fn claim(messages: Vec<pgmq_core::Message>) -> Claim {
    let n = messages.len();
    let mut c = Claim {
        ids: Vec::with_capacity(n),
        bodies: Buffer::from(Vec::new()),
        ends: Vec::with_capacity(n),
        attributes: Vec::with_capacity(n),
        delivery_attempts: Vec::with_capacity(n),
        sent_at: Vec::with_capacity(n),
        last_errors: Vec::with_capacity(n),
        dead_letter_attempts: Vec::with_capacity(n),
        leases: NativeLeases { slots: Vec::with_capacity(n) },
    };
    let mut bodies: Vec<u8> = Vec::new();
    for mut m in messages {
        c.ids.push(m.id().to_string());
        if n == 1 {
            bodies = m.take_body(); // no copy for single messages (which may be large)
        } else {
            bodies.extend_from_slice(m.body());
        }
        c.ends.push(bodies.len() as f64);
        c.attributes.push(if m.attributes().is_empty() { Value::Null } else { attributes_to_js(m.attributes()) });
        c.delivery_attempts.push(m.delivery_attempt());
        c.sent_at.push(epoch_ms(m.sent_at()));
        c.last_errors.push(m.last_error().map(str::to_owned));
        c.dead_letter_attempts.push(m.dead_letter_attempts());
        c.leases.slots.push(Slot {
            id: m.id(),
            token: m.lease_token(),
            message: Mutex::new(Some(Arc::new(m))),
            done: CancellationToken::new(),
        });
    }
    c.bodies = bodies.into();
    c
}

/// The leases of one claim, addressed by index. The core keeps each message's state (held, finishing,
/// finished, lease lost, cancelled); a released message reads as finished.
#[napi]
pub struct NativeLeases {
    slots: Vec<Slot>,
}

impl NativeLeases {
    fn slot(&self, index: u32) -> Result<&Slot> {
        self.slots.get(index as usize).ok_or_else(|| invalid_option(format!("no message {index} in this claim")))
    }

    fn message(&self, index: u32) -> Result<Arc<pgmq_core::Message>> {
        self.slot(index)?.message().napi()
    }
}

/// `[pgmq:<code>] <text>` of a failed ack, `None` for success.
fn outcome(result: pgmq_core::Result<()>) -> Option<String> {
    result.err().map(|e| to_napi(e).reason)
}

/// Ends the cancellation watch once the message is finished (a connection error, or a result the core
/// refused, leaves it held).
fn settled(result: &pgmq_core::Result<()>, done: &CancellationToken) {
    if !matches!(result, Err(Error::Connection(_) | Error::Database(_) | Error::InvalidOption(_))) {
        done.cancel();
    }
}

#[napi]
impl NativeLeases {
    /// Acks the messages at `indices` (the acks of one event-loop turn, handed to the core together on
    /// the runtime, so that they commit in one statement). The `k`-th ack keeps `results[k]` with
    /// `contentTypes[k]` (`null`, a hole or a shorter array: a plain ack); the results are copied here,
    /// on the JS thread (see `NativeQueue::send`). Resolves to one entry per index: `null` for success,
    /// else the error (`[pgmq:<code>] text`). The messages are taken now, so a `release` right after this
    /// call cannot undo it.
    #[napi(ts_return_type = "Promise<Array<string | null>>", catch_unwind)]
    pub fn ack<'env>(
        &self,
        env: &'env Env,
        indices: Vec<u32>,
        results: Option<Vec<Option<BufferSlice>>>,
        content_types: Option<Vec<Option<String>>>,
    ) -> Result<PromiseRaw<'env, Vec<Option<String>>>> {
        let results = results.unwrap_or_default();
        let mut content_types = content_types.unwrap_or_default();
        let mut work = Vec::with_capacity(indices.len());
        for (k, i) in indices.into_iter().enumerate() {
            let slot = self.slot(i)?;
            let result = results.get(k).and_then(Option::as_ref).map(|bytes| {
                (bytes.to_vec(), content_types.get_mut(k).and_then(Option::take))
            });
            work.push((slot.message(), result, slot.done.clone()));
        }
        env.spawn_future(async move {
            Ok(join_all(work.into_iter().map(|(message, result, done)| async move {
                let result = match (message, result) {
                    (Ok(m), None) => m.ack().await,
                    (Ok(m), Some((bytes, content_type))) => m.ack_with_result(bytes, content_type.as_deref()).await,
                    (Err(e), _) => Err(e),
                };
                settled(&result, &done);
                outcome(result)
            }))
            .await)
        })
    }

    /// Fails the delivery of message `index`: redelivered after `delayMs` (default: the queue's
    /// backoff, or at once) or dead-lettered on the last attempt, keeping `error`. Taken now.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn nack<'env>(
        &self,
        env: &'env Env,
        index: u32,
        delay_ms: Option<f64>,
        error: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let delay = delay_ms.map(|ms| duration_ms(ms, "delayMs")).transpose()?;
        let message = self.message(index)?;
        let done = self.slot(index)?.done.clone();
        let work = begin(async move { message.nack(NackOptions { delay, error }).await });
        env.spawn_future(async move {
            let result = work.await;
            settled(&result, &done);
            result.napi()
        })
    }

    /// Extends the lease of message `index` to `ms` from now (the heartbeat keeps extending it).
    #[napi]
    pub async fn extend(&self, index: u32, ms: f64) -> Result<()> {
        let by = duration_ms(ms, "extend")?;
        let message = self.message(index)?;
        message.extend(by).await.napi()
    }

    /// Hands message `index` back unfinished, for prompt redelivery (this counts as an attempt).
    /// Does nothing if it was finished, is being finished, or was released.
    #[napi(catch_unwind)]
    pub fn release(&self, index: u32) {
        if let Some(slot) = self.slots.get(index as usize) {
            slot.release();
        }
    }

    /// Releases messages `start..` (those a stream had not handed out yet).
    #[napi(catch_unwind)]
    pub fn release_from(&self, start: u32) {
        for slot in self.slots.iter().skip(start as usize) {
            slot.release();
        }
    }

    /// Whether `queue.cancel()` was called on message `index` while held.
    #[napi(catch_unwind)]
    pub fn cancelled(&self, index: u32) -> bool {
        self.message(index).is_ok_and(|m| m.is_cancelled())
    }

    /// Whether message `index` can no longer be acked or nacked (finished, being finished, released).
    #[napi(catch_unwind)]
    pub fn finished(&self, index: u32) -> bool {
        self.message(index).map_or(true, |m| m.is_finished())
    }

    /// Whether the heartbeat found the lease of message `index` lost (expired and taken elsewhere, or
    /// dead-lettered). False once released.
    #[napi(catch_unwind)]
    pub fn lease_lost(&self, index: u32) -> bool {
        self.message(index).is_ok_and(|m| m.is_lease_lost())
    }

    /// The fencing token of the lease of message `index`.
    #[napi(catch_unwind)]
    pub fn lease_token(&self, index: u32) -> Result<String> {
        Ok(self.slot(index)?.token.to_string())
    }

    /// Calls `callback()` once if message `index` is cancelled while held. The watch ends when the
    /// message is finished or released, and never keeps the process alive.
    #[napi(catch_unwind)]
    pub fn watch_cancelled(
        &self,
        index: u32,
        callback: ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>,
    ) -> Result<()> {
        let slot = self.slot(index)?;
        let Ok(message) = slot.message() else { return Ok(()) };
        let done = slot.done.clone();
        napi::bindgen_prelude::spawn(async move {
            tokio::select! {
                _ = done.cancelled() => {}
                _ = message.cancelled() => {
                    callback.call((), ThreadsafeFunctionCallMode::NonBlocking);
                }
            }
        });
        Ok(())
    }
}

impl Drop for NativeLeases {
    fn drop(&mut self) {
        for slot in &self.slots {
            slot.done.cancel();
        }
    }
}
