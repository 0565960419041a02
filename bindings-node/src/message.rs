//! A claim: the messages of one `nextBatch`, column by column (one JS object for the whole claim,
//! bodies in one buffer), and `NativeLeases`, the leases behind them, addressed by index. Acks of
//! many messages cross into Rust in one call.

use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use napi::bindgen_prelude::*;
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

/// One leased message of a claim.
struct Slot {
    id: pgmq_core::Uuid,
    /// `None` once released; dropping the last reference to an unfinished core message releases it.
    message: Mutex<Option<Arc<pgmq_core::Message>>>,
    /// Ends the cancellation watch (finished, released or collected).
    done: CancellationToken,
}

impl Slot {
    fn message(&self) -> pgmq_core::Result<Arc<pgmq_core::Message>> {
        self.message.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::AlreadyFinished(self.id))
    }

    fn release(&self) {
        self.done.cancel();
        drop(self.message.lock().unwrap_or_else(|p| p.into_inner()).take());
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
        c.leases.slots.push(Slot { id: m.id(), message: Mutex::new(Some(Arc::new(m))), done: CancellationToken::new() });
    }
    c.bodies = bodies.into();
    c
}

/// The leases of one claim. The JS layer tracks which messages it has finished or released and
/// never addresses a message twice; here a released message simply reads as gone.
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

/// Ends the cancellation watch once the message is finished (a connection error leaves it held).
fn settled(result: &pgmq_core::Result<()>, done: &CancellationToken) {
    if !matches!(result, Err(Error::Connection(_) | Error::Database(_))) {
        done.cancel();
    }
}

#[napi]
impl NativeLeases {
    /// Acks the messages at `indices` (handed to the core together, so they commit in one statement).
    /// Resolves to one entry per index: `null` for success, else the error (`[pgmq:<code>] text`).
    /// The leases are taken now, so a `release` right after this call cannot undo it.
    #[napi(ts_return_type = "Promise<Array<string | null>>", catch_unwind)]
    pub fn ack<'env>(&self, env: &'env Env, indices: Vec<u32>) -> Result<PromiseRaw<'env, Vec<Option<String>>>> {
        let mut work = Vec::with_capacity(indices.len());
        for i in indices {
            let slot = self.slot(i)?;
            work.push((slot.message(), slot.done.clone()));
        }
        env.spawn_future(async move {
            Ok(join_all(work.into_iter().map(|(message, done)| async move {
                let result = match message {
                    Ok(m) => m.ack().await,
                    Err(e) => Err(e),
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
        env.spawn_future(async move {
            let result = message.nack(NackOptions { delay, error }).await;
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
    /// Does nothing if it was finished or already released.
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

    /// Whether message `index` can no longer be acked or nacked (finished, released or lost).
    #[napi(catch_unwind)]
    pub fn finished(&self, index: u32) -> bool {
        self.message(index).map_or(true, |m| m.is_finished())
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
