//! A delivered message: its content as a plain object, and `NativeLease` (ack / nack / extend /
//! release, the cancellation watch) for the lease behind it.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pgmq_core::{Error, NackOptions, Uuid};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::convert::{attributes_to_js, duration_ms, epoch_ms};
use crate::error::IntoNapi;

/// One message of a claim, built as a plain JS object in one go.
#[napi(object, object_from_js = false)]
pub struct Delivery {
    /// The message id (UUID).
    pub id: String,
    /// The payload.
    pub body: Buffer,
    /// Its attributes, `null` when none.
    pub attributes: Option<Value>,
    /// 1 on the first delivery, +1 for each redelivery.
    pub delivery_attempt: u32,
    /// When it was sent, ms since the epoch.
    pub sent_at: f64,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// In a DLQ: the attempts it used in its original queue.
    pub dead_letter_attempts: Option<u32>,
    /// The lease.
    pub lease: NativeLease,
}

/// The lease on one delivered message. While it is held the core extends it in the background.
#[napi]
pub struct NativeLease {
    id: Uuid,
    /// `None` once released; dropping the last reference to an unfinished core message releases it.
    message: Mutex<Option<Arc<pgmq_core::Message>>>,
    /// Ends the cancellation watch (finished, released or collected).
    done: CancellationToken,
}

impl NativeLease {
    pub(crate) fn deliver(mut m: pgmq_core::Message) -> Delivery {
        let attributes = (!m.attributes().is_empty()).then(|| attributes_to_js(m.attributes()));
        Delivery {
            id: m.id().to_string(),
            body: m.take_body().into(),
            attributes,
            delivery_attempt: m.delivery_attempt(),
            sent_at: epoch_ms(m.sent_at()),
            last_error: m.last_error().map(str::to_owned),
            dead_letter_attempts: m.dead_letter_attempts(),
            lease: NativeLease { id: m.id(), message: Mutex::new(Some(Arc::new(m))), done: CancellationToken::new() },
        }
    }

    fn message(&self) -> pgmq_core::Result<Arc<pgmq_core::Message>> {
        self.message.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::AlreadyFinished(self.id))
    }
}

#[napi]
impl NativeLease {
    /// Completes the message (acks from many workers are batched into one statement). The lease is
    /// taken now, so a `release()` right after this call cannot undo it.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn ack<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let message = self.message().napi()?;
        let done = self.done.clone();
        env.spawn_future(async move { settled(message.ack().await, &done) })
    }

    /// Fails this delivery: redelivered after `delayMs` (default: the queue's backoff, or at once) or
    /// dead-lettered on the last attempt, keeping `error`. Taken now, like `ack`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn nack<'env>(
        &self,
        env: &'env Env,
        delay_ms: Option<f64>,
        error: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let delay = delay_ms.map(|ms| duration_ms(ms, "delayMs")).transpose()?;
        let message = self.message().napi()?;
        let done = self.done.clone();
        env.spawn_future(async move { settled(message.nack(NackOptions { delay, error }).await, &done) })
    }

    /// Extends the lease to `ms` from now (the heartbeat keeps extending it afterwards).
    #[napi]
    pub async fn extend(&self, ms: f64) -> Result<()> {
        let by = duration_ms(ms, "extend")?;
        let message = self.message().napi()?;
        message.extend(by).await.napi()
    }

    /// Hands an unfinished message back for prompt redelivery (this counts as an attempt). Does
    /// nothing if it was finished or already released.
    #[napi]
    pub fn release(&self) {
        self.done.cancel();
        drop(self.message.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    /// Whether `queue.cancel()` was called on it while held.
    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.message().is_ok_and(|m| m.is_cancelled())
    }

    /// Whether this handle can no longer ack or nack (finished or released).
    #[napi(getter)]
    pub fn finished(&self) -> bool {
        self.message().map_or(true, |m| m.is_finished())
    }

    /// Calls `callback()` once if the message is cancelled while held. The watch ends when the message
    /// is finished or released, and never keeps the process alive.
    #[napi]
    pub fn watch_cancelled(&self, callback: ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>) {
        let Ok(message) = self.message() else { return };
        let done = self.done.clone();
        napi::bindgen_prelude::spawn(async move {
            tokio::select! {
                _ = done.cancelled() => {}
                _ = message.cancelled() => {
                    callback.call((), ThreadsafeFunctionCallMode::NonBlocking);
                }
            }
        });
    }
}

/// Ends the cancellation watch once the message is finished (a connection error leaves it held).
fn settled(result: pgmq_core::Result<()>, done: &CancellationToken) -> Result<()> {
    if !matches!(result, Err(Error::Connection(_) | Error::Database(_))) {
        done.cancel();
    }
    result.napi()
}

impl Drop for NativeLease {
    fn drop(&mut self) {
        self.done.cancel();
    }
}
