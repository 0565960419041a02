//! `NativeQueue`: send, send a batch, request, receive, peek, cancel, purge, stats, completion, bound,
//! job groups (within this queue).

use std::collections::HashMap;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use pgmq_core::{OutgoingMessage, ReceiveOptions, SendOptions, DEFAULTS};
use serde_json::Value;

use crate::convert::{attributes, duration_ms, entries, instant_ms, max_messages, uuids, whole};
use crate::error::IntoNapi;
use crate::filter::Filter;
use crate::group::{spawn_wait, NativeGroupStats};
use crate::peek::{peek_options, NativePeekOptions, NativePeekedMessage};
use crate::receiver::{report_to, NativeReceiver};
use crate::reply::NativeReply;
use crate::stop::{token, unless_stopped, NativeStop};

/// When sent messages become available and whether their outcome is tracked.
#[napi(object)]
pub struct NativeSendOptions {
    /// Deliver no earlier than this many ms after the send.
    pub delay_ms: Option<f64>,
    /// Deliver no earlier than this instant (ms since the epoch).
    pub schedule_at_ms: Option<f64>,
    /// Record the outcome (default true).
    pub track: Option<bool>,
    /// How long a send to a full bounded queue waits for room, ms; 0: fail at once (default 30 s).
    pub wait_for_room_ms: Option<f64>,
    /// The job group the messages join (checked by the core: at most `limits.max_group_len` bytes, no
    /// NUL, not with `track: false`).
    pub group: Option<String>,
    /// Ids of sent, tracked messages (any queue) every message of the send waits for (checked by the
    /// core: known, tracked, not finished other than completed; not with `track: false`).
    pub depends_on: Option<Vec<String>>,
}

/// How a receiver leases messages.
#[napi(object)]
pub struct NativeReceiveOptions {
    /// Most messages held at once, leased in one statement (default 1).
    pub batch_size: Option<f64>,
    /// Safety-net re-read while idle, ms (default 30 s).
    pub poll_interval_ms: Option<f64>,
}

/// Counts of a queue's messages.
#[napi(object)]
pub struct NativeStats {
    /// Every message in the queue.
    pub messages: i64,
    /// Available now.
    pub ready: i64,
    /// Waiting for their time, or for the messages they depend on.
    pub scheduled: i64,
    /// Held under a live lease.
    pub leased: i64,
    /// In the queue's DLQ.
    pub dead_lettered: i64,
}

impl From<pgmq_core::QueueStats> for NativeStats {
    fn from(s: pgmq_core::QueueStats) -> Self {
        NativeStats {
            messages: s.messages as i64,
            ready: s.ready as i64,
            scheduled: s.scheduled as i64,
            leased: s.leased as i64,
            dead_lettered: s.dead_lettered as i64,
        }
    }
}

fn send_options(o: Option<NativeSendOptions>) -> Result<SendOptions> {
    let mut options = SendOptions::default();
    if let Some(o) = o {
        if let Some(ms) = o.delay_ms {
            options = options.delay(duration_ms(ms, "delayMs")?);
        }
        if let Some(ms) = o.schedule_at_ms {
            options = options.schedule_at(instant_ms(ms, "scheduleAt")?);
        }
        if let Some(track) = o.track {
            options = options.track(track);
        }
        if let Some(ms) = o.wait_for_room_ms {
            let wait = duration_ms(ms, "waitForRoomMs")?;
            options = options.wait_for_room((!wait.is_zero()).then_some(wait));
        }
        if let Some(group) = o.group {
            options = options.group(group);
        }
        if let Some(ids) = o.depends_on {
            options = options.depends_on(uuids(&ids)?);
        }
    }
    Ok(options)
}

pub(crate) fn outcomes(map: HashMap<pgmq_core::Uuid, pgmq_core::Outcome>) -> HashMap<String, String> {
    map.into_iter().map(|(id, o)| (id.to_string(), o.as_str().to_owned())).collect()
}

/// One queue of a client.
#[napi]
pub struct NativeQueue {
    inner: pgmq_core::Queue,
}

impl NativeQueue {
    pub(crate) fn new(inner: pgmq_core::Queue) -> NativeQueue {
        NativeQueue { inner }
    }
}

#[napi]
impl NativeQueue {
    /// The queue's name.
    #[napi(getter, catch_unwind)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// Sends one message; resolves once it is durable. With `stop`, its `stop()` abandons the send (a
    /// send waiting for room in a bounded queue then sends nothing).
    ///
    /// The body is copied here, on the JS thread: a `Buffer` kept into the async part would be released
    /// from a tokio thread, which napi does through a thread-safe call back to the JS thread per buffer.
    #[napi(ts_return_type = "Promise<NativeCompletion>", catch_unwind)]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        body: BufferSlice,
        attrs: Option<Value>,
        options: Option<NativeSendOptions>,
        stop: Option<&NativeStop>,
    ) -> Result<PromiseRaw<'env, NativeCompletion>> {
        let options = send_options(options)?;
        let message = OutgoingMessage { body: body.to_vec(), attributes: attributes(attrs.as_ref())?, after: Vec::new() };
        let stop = token(stop);
        let queue = self.inner.clone();
        env.spawn_future(unless_stopped(stop, async move {
            let sent = queue.send(message, &options).await.napi()?;
            Ok(NativeCompletion { inner: sent.into_completion() })
        }))
    }

    /// Sends messages in one statement (all or none); `attrs[i]` and `after[i]` belong to `bodies[i]`
    /// (`attrs` / `after` null, or their entry null: none). `after[i]` lists the positions of earlier
    /// entries `bodies[i]` depends on. The bodies are copied on the JS thread (see `send`); `stop` as in
    /// `send`.
    #[napi(ts_return_type = "Promise<NativeCompletion>", catch_unwind)]
    pub fn send_batch<'env>(
        &self,
        env: &'env Env,
        bodies: Vec<BufferSlice>,
        attrs: Option<Vec<Value>>,
        after: Option<Vec<Option<Vec<f64>>>>,
        options: Option<NativeSendOptions>,
        stop: Option<&NativeStop>,
    ) -> Result<PromiseRaw<'env, NativeCompletion>> {
        let options = send_options(options)?;
        let attrs = attrs.unwrap_or_default();
        let after = after.unwrap_or_default();
        let mut messages = Vec::with_capacity(bodies.len());
        for (i, body) in bodies.iter().enumerate() {
            messages.push(OutgoingMessage {
                body: body.to_vec(),
                attributes: attributes(attrs.get(i))?,
                after: entries(after.get(i).and_then(Option::as_deref).unwrap_or_default(), i)?,
            });
        }
        let stop = token(stop);
        let queue = self.inner.clone();
        env.spawn_future(unless_stopped(stop, async move {
            let completion = queue.send_batch(messages, &options).await.napi()?;
            Ok(NativeCompletion { inner: completion })
        }))
    }

    /// Sends one message (tracked) and waits for its reply: the core's `request`. `timeoutMs` left out
    /// is the core's `DEFAULTS.request.timeout`. The body is copied on the JS thread (see `send`). With
    /// `stop`, its `stop()` abandons the wait: the promise rejects and the request stays queued.
    #[napi(ts_return_type = "Promise<NativeReply>", catch_unwind)]
    pub fn request<'env>(
        &self,
        env: &'env Env,
        body: BufferSlice,
        attrs: Option<Value>,
        timeout_ms: Option<f64>,
        stop: Option<&NativeStop>,
    ) -> Result<PromiseRaw<'env, NativeReply>> {
        let timeout = timeout_ms.map_or(Ok(DEFAULTS.request.timeout), |ms| duration_ms(ms, "timeoutMs"))?;
        let message = OutgoingMessage { body: body.to_vec(), attributes: attributes(attrs.as_ref())?, after: Vec::new() };
        let stop = token(stop);
        let queue = self.inner.clone();
        env.spawn_future(unless_stopped(stop, async move { Ok(queue.request(message, timeout).await.napi()?.into()) }))
    }

    /// A receiver (nothing is read until its first `nextBatch`) of the messages `filter` matches (all
    /// without one). `onError(reason)` is called on the JS thread with the `[pgmq:<code>] text` of each
    /// error the receiver recovered from (it retries).
    #[napi(catch_unwind)]
    pub fn receiver(
        &self,
        options: Option<NativeReceiveOptions>,
        filter: Option<&Filter>,
        // Spelt out rather than `ErrorCallback`: napi-rs writes the TypeScript type from this text.
        on_error: Option<ThreadsafeFunction<String, Unknown<'static>, String, Status, false, true>>,
    ) -> Result<NativeReceiver> {
        let mut opts = ReceiveOptions::default();
        if let Some(o) = options {
            if let Some(n) = o.batch_size {
                let n = whole(n, "batchSize", i64::MIN as f64, i64::MAX as f64)?;
                opts = opts.batch_size(ReceiveOptions::checked_batch_size(n).napi()?);
            }
            if let Some(ms) = o.poll_interval_ms {
                opts = opts.poll_interval(duration_ms(ms, "pollIntervalMs")?);
            }
        }
        if let Some(f) = filter {
            opts = opts.filter(f.inner.clone());
        }
        if let Some(callback) = on_error {
            opts = opts.on_error(report_to(callback));
        }
        Ok(NativeReceiver::new(self.inner.receiver(opts).napi()?))
    }

    /// Reads up to `limit` of this queue's messages (those `filter` matches, in `state`) without leasing
    /// or changing them, in the order receivers would take them.
    #[napi(ts_return_type = "Promise<Array<NativePeekedMessage>>", catch_unwind)]
    pub fn peek<'env>(
        &self,
        env: &'env Env,
        options: Option<NativePeekOptions>,
        filter: Option<&Filter>,
    ) -> Result<PromiseRaw<'env, Vec<NativePeekedMessage>>> {
        let mut options = peek_options(options)?;
        if let Some(f) = filter {
            options = options.filter(f.inner.clone());
        }
        let queue = self.inner.clone();
        env.spawn_future(async move {
            let messages = queue.peek(&options).await.napi()?;
            Ok(messages.into_iter().map(NativePeekedMessage::from).collect())
        })
    }

    /// Deletes the messages no worker holds (their outcome: `cancelled`); resolves to how many.
    #[napi]
    pub async fn purge(&self) -> Result<f64> {
        Ok(self.inner.purge().await.napi()? as f64)
    }

    /// Cancels messages; resolves to the ids found (and now cancelled).
    #[napi]
    pub async fn cancel(&self, ids: Vec<String>) -> Result<Vec<String>> {
        let ids = uuids(&ids)?;
        let found = self.inner.cancel(&ids).await.napi()?;
        Ok(found.iter().map(ToString::to_string).collect())
    }

    /// Bounds the queue to `max` messages, or lifts its bound (`null`): the core's `set_max_messages`.
    #[napi]
    pub async fn set_max_messages(&self, max: Option<f64>) -> Result<()> {
        let max = max.map(max_messages).transpose()?;
        self.inner.set_max_messages(max).await.napi()
    }

    /// Counts of this queue's messages by state.
    #[napi]
    pub async fn stats(&self) -> Result<NativeStats> {
        Ok(self.inner.stats().await.napi()?.into())
    }

    /// Waits for the outcome of every id (sent earlier, by anyone, with tracking).
    #[napi]
    pub async fn wait_for_completion(&self, ids: Vec<String>) -> Result<HashMap<String, String>> {
        let ids = uuids(&ids)?;
        self.inner.wait_for_completion(&ids).await.map(outcomes).napi()
    }

    /// Cancels job group `group`'s queued and held messages in this queue; resolves to the ids found.
    #[napi]
    pub async fn cancel_group(&self, group: String) -> Result<Vec<String>> {
        let found = self.inner.cancel_group(&group).await.napi()?;
        Ok(found.iter().map(ToString::to_string).collect())
    }

    /// Waits until every message of job group `group` in this queue has an outcome: id -> outcome.
    /// `stop` as in `send`: it drops the wait.
    #[napi(ts_return_type = "Promise<Record<string, string>>", catch_unwind)]
    pub fn wait_for_group<'env>(
        &self,
        env: &'env Env,
        group: String,
        stop: Option<&NativeStop>,
    ) -> Result<PromiseRaw<'env, HashMap<String, String>>> {
        let queue = self.inner.clone();
        spawn_wait(env, stop, async move { queue.wait_for_group(&group).await })
    }

    /// Job group `group`'s messages in this queue, by state and by outcome.
    #[napi]
    pub async fn group_stats(&self, group: String) -> Result<NativeGroupStats> {
        Ok(self.inner.group_stats(&group).await.napi()?.into())
    }
}

/// The ids of sent messages and a wait for their outcomes.
#[napi]
pub struct NativeCompletion {
    inner: pgmq_core::Completion,
}

#[napi]
impl NativeCompletion {
    /// The ids, in send order.
    #[napi(getter, catch_unwind)]
    pub fn ids(&self) -> Vec<String> {
        self.inner.ids().iter().map(ToString::to_string).collect()
    }

    /// Whether the outcomes are recorded.
    #[napi(getter, catch_unwind)]
    pub fn tracked(&self) -> bool {
        self.inner.is_tracked()
    }

    /// Waits until every message has an outcome: id -> outcome.
    #[napi]
    pub async fn wait(&self) -> Result<HashMap<String, String>> {
        self.inner.wait().await.map(outcomes).napi()
    }

    /// Waits until every message has an outcome: id -> its reply (outcome and result).
    #[napi]
    pub async fn replies(&self) -> Result<HashMap<String, NativeReply>> {
        let replies = self.inner.wait_replies().await.napi()?;
        Ok(replies.into_iter().map(|(id, reply)| (id.to_string(), reply.into())).collect())
    }
}
