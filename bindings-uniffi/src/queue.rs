//! `Queue`: send, send a batch, request, receive, cancel, peek, purge, stats, bound, completion, job
//! groups; the sent-message handles, and the `Reply` a completion or a request returns.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::error::PgmqError;
use crate::peek::{PeekOptions, PeekedMessage};
use crate::receiver::Receiver;
use crate::run;
use crate::types::{
    to_core_attributes, uuids, GroupStats, OutgoingMessage, Outcome, QueueStats, ReceiveOptions, SendOptions,
};

/// One queue, by name.
#[derive(uniffi::Object)]
pub struct Queue {
    inner: pgmq_core::Queue,
    /// Keeps the client open while this queue (or what it hands out) is in use.
    client: Arc<Client>,
}

impl Queue {
    pub(crate) fn new(inner: pgmq_core::Queue, client: Arc<Client>) -> Queue {
        Queue { inner, client }
    }
}

pub(crate) fn outcomes(map: HashMap<pgmq_core::Uuid, pgmq_core::Outcome>) -> HashMap<String, Outcome> {
    map.into_iter().map(|(id, o)| (id.to_string(), o.into())).collect()
}

fn replies(map: HashMap<pgmq_core::Uuid, pgmq_core::Reply>) -> HashMap<String, Reply> {
    map.into_iter().map(|(id, r)| (id.to_string(), r.into())).collect()
}

/// `completion` re-reading every `poll_interval_ms` (`None`: the core's `DEFAULTS.completion.pollInterval`).
fn polling(completion: pgmq_core::Completion, poll_interval_ms: Option<u64>) -> pgmq_core::Completion {
    match poll_interval_ms {
        Some(ms) => completion.with_poll_interval(Duration::from_millis(ms)),
        None => completion,
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Queue {
    /// The queue's name.
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// Sends one message (with `options.attributes`); returns once it is durable. To a bounded queue
    /// without room it waits up to `options.waitForRoomMs` (`null`: 30 s) for room, then fails with
    /// `QueueFull`, having written nothing; cancelling the caller while it waits sends nothing. With
    /// `options.dependsOn` it waits in the queue until those messages have completed.
    #[uniffi::method(default(options = None))]
    pub async fn send(&self, body: Vec<u8>, options: Option<SendOptions>) -> Result<Arc<SentMessage>, PgmqError> {
        let (queue, client) = (self.inner.clone(), self.client.clone());
        run(async move {
            let (send, attributes) = match options {
                Some(o) => (o.to_core()?, to_core_attributes(o.attributes)),
                None => (pgmq_core::SendOptions::default(), Default::default()),
            };
            let message = pgmq_core::OutgoingMessage { body, attributes, after: Vec::new() };
            let sent = queue.send(message, &send).await?;
            Ok(Arc::new(SentMessage { id: sent.id().to_string(), inner: sent.into_completion(), _client: client }))
        })
        .await
    }

    /// Sends messages in one statement: all of them or, on error, none. A bounded queue takes the whole
    /// batch or nothing: it waits for room for all of them, as `send` does. Each message waits for the
    /// earlier entries its `after` names, and all of them for `options.dependsOn`.
    #[uniffi::method(default(options = None))]
    pub async fn send_batch(
        &self,
        messages: Vec<OutgoingMessage>,
        options: Option<SendOptions>,
    ) -> Result<Arc<SentBatch>, PgmqError> {
        let (queue, client) = (self.inner.clone(), self.client.clone());
        run(async move {
            let send = options.map(|o| o.to_core()).transpose()?.unwrap_or_default();
            let messages =
                messages.into_iter().enumerate().map(|(entry, m)| m.into_core(entry)).collect::<Result<_, _>>()?;
            let completion = queue.send_batch(messages, &send).await?;
            Ok(Arc::new(SentBatch { inner: completion, _client: client }))
        })
        .await
    }

    /// Sends `message` (tracked) and waits for its reply: request/reply over a queue. A worker in any
    /// language answers with `lease.ackWithResult(result, contentType)` (Kotlin `msg.ack(result)`,
    /// `msg.ackJson(json)`); the reply's outcome is then `COMPLETED`, its result the worker's (`null` if
    /// it acked without one).
    ///
    /// Errors, besides those of `send`: `RequestFailed` (with the request's `id` and `outcome`) when the
    /// request was dead-lettered, cancelled or expired instead; `Timeout` when no reply came within
    /// `timeoutMs` (`null`: `DEFAULTS.request.timeoutMs`, 30 s), after which the request is cancelled (a
    /// worker holding it is signalled, and its late reply is dropped), unless it finished meanwhile,
    /// whose reply is then returned; `InvalidOption` for a timeout of 0 or over 100 years, before
    /// anything is sent. Cancelling the caller (a Kotlin coroutine) stops the wait and leaves the
    /// request queued: a worker may still process it, and nobody reads its reply.
    #[uniffi::method(default(timeout_ms = None))]
    pub async fn request(&self, message: OutgoingMessage, timeout_ms: Option<u64>) -> Result<Reply, PgmqError> {
        let queue = self.inner.clone();
        run(async move {
            let message = message.into_core(0)?;
            let timeout = timeout_ms.map_or(pgmq_core::DEFAULTS.request.timeout, Duration::from_millis);
            Ok(queue.request(message, timeout).await?.into())
        })
        .await
    }

    /// A receiver (nothing is read until its first `next()`).
    #[uniffi::method(default(options = None))]
    pub fn receiver(&self, options: Option<ReceiveOptions>) -> Result<Arc<Receiver>, PgmqError> {
        crate::guard(|| {
            let options = match options {
                Some(o) => o.to_core()?,
                None => pgmq_core::ReceiveOptions::default(),
            };
            Ok(Arc::new(Receiver::new(self.inner.receiver(options)?, self.client.clone())))
        })
    }

    /// Cancels messages: a queued or scheduled one is removed and never delivered (guaranteed); a held
    /// one is signalled to its holder and never redelivered. Returns the ids that were found.
    pub async fn cancel(&self, ids: Vec<String>) -> Result<Vec<String>, PgmqError> {
        let queue = self.inner.clone();
        run(async move {
            let ids = uuids(&ids)?;
            Ok(queue.cancel(&ids).await?.iter().map(ToString::to_string).collect())
        })
        .await
    }

    /// Reads up to `options.limit` (default 100) of this queue's messages without leasing or changing
    /// them: for operators looking into a queue, or into a dead-letter queue (`client.queue(dlqName(q))`),
    /// where `lastError` and `deadLetterAttempts` say why each message is there. They come in the order
    /// claims take them (ready ones oldest first, then the others by when they fall due); `options.state`
    /// and `options.filter` narrow the read. A plain read of one snapshot: it takes no lock, so what it
    /// returns may have changed since. `QueueNotFound` for an unknown queue; `InvalidOption` for a limit
    /// of 0 or above 10,000, before any statement runs.
    #[uniffi::method(default(options = None))]
    pub async fn peek(&self, options: Option<PeekOptions>) -> Result<Vec<PeekedMessage>, PgmqError> {
        let queue = self.inner.clone();
        run(async move {
            let options = match options {
                Some(o) => o.to_core()?,
                None => pgmq_core::PeekOptions::default(),
            };
            Ok(queue.peek(&options).await?.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// Deletes this queue's messages that no worker holds (ready, scheduled, and those whose lease
    /// lapsed) and returns how many; their outcome becomes `CANCELLED`, which waiters in every process
    /// learn at once. Messages under a live lease are left to their workers (`cancel` their ids to stop
    /// those too). One transaction; works on a dead-letter queue too. `QueueNotFound` for an unknown
    /// queue; a role that may only produce gets `Database` (permission denied).
    pub async fn purge(&self) -> Result<u64, PgmqError> {
        let queue = self.inner.clone();
        run(async move { Ok(queue.purge().await?) }).await
    }

    /// Counts of this queue's messages by state.
    pub async fn stats(&self) -> Result<QueueStats, PgmqError> {
        let queue = self.inner.clone();
        run(async move { Ok(queue.stats().await?.into()) }).await
    }

    /// Bounds the queue to `max` messages, ready, scheduled and leased together (sets, lowers or raises
    /// the bound), or with `null` lifts it. Messages already in the queue stay, also beyond a lower bound;
    /// sends fit again once workers have drained it below. `InvalidOption` for 0, for more than
    /// `DEFAULTS.limits.maxMessages`, or for a dead-letter queue (never bounded); `QueueNotFound`.
    pub async fn set_max_messages(&self, max: Option<u64>) -> Result<(), PgmqError> {
        let queue = self.inner.clone();
        run(async move { Ok(queue.set_max_messages(max).await?) }).await
    }

    /// Cancels the messages of job group `group` (`SendOptions.group`) in this queue, as `cancel` does:
    /// queued ones are never delivered, held ones are signalled to their holder. Returns the ids found.
    /// The group's messages in other queues are left alone (`client.cancelGroup` cancels everywhere).
    /// `QueueNotFound` for an unknown queue, `InvalidOption` for an invalid group id.
    pub async fn cancel_group(&self, group: String) -> Result<Vec<String>, PgmqError> {
        let queue = self.inner.clone();
        run(async move { Ok(queue.cancel_group(&group).await?.iter().map(ToString::to_string).collect()) }).await
    }

    /// Waits until every message of job group `group` in this queue has an outcome, and returns them by
    /// id (messages sent to the group meanwhile count too); a group without messages here returns an
    /// empty map at once. Woken by the queue's completion notifications. Cancelling the caller stops the
    /// wait and changes nothing. Errors as `cancelGroup`'s.
    pub async fn wait_for_group(&self, group: String) -> Result<HashMap<String, Outcome>, PgmqError> {
        let queue = self.inner.clone();
        run(async move { Ok(outcomes(queue.wait_for_group(&group).await?)) }).await
    }

    /// Job group `group`'s messages in this queue, by state and by outcome. Errors as `cancelGroup`'s.
    pub async fn group_stats(&self, group: String) -> Result<GroupStats, PgmqError> {
        let queue = self.inner.clone();
        run(async move { Ok(queue.group_stats(&group).await?.into()) }).await
    }

    /// A handle on messages sent earlier, by any process, with tracking: `completed()` waits for their
    /// outcomes. `QueueNotFound` for an unknown queue, `InvalidOption` for an id that is not a UUID.
    pub async fn completion(&self, ids: Vec<String>) -> Result<Arc<SentBatch>, PgmqError> {
        let (queue, client) = (self.inner.clone(), self.client.clone());
        run(async move {
            let ids = uuids(&ids)?;
            Ok(Arc::new(SentBatch { inner: queue.completion(&ids).await?, _client: client }))
        })
        .await
    }

    /// Waits until every message has an outcome (sent earlier, by any process, with tracking). Woken by
    /// NOTIFY; re-reads every `pollIntervalMs` in case a notification was lost (`null`:
    /// `DEFAULTS.completion.pollIntervalMs`, 10 s; 0 is `InvalidOption`).
    #[uniffi::method(default(poll_interval_ms = None))]
    pub async fn wait_for_completion(
        &self,
        ids: Vec<String>,
        poll_interval_ms: Option<u64>,
    ) -> Result<HashMap<String, Outcome>, PgmqError> {
        let queue = self.inner.clone();
        run(async move {
            let ids = uuids(&ids)?;
            Ok(outcomes(polling(queue.completion(&ids).await?, poll_interval_ms).wait().await?))
        })
        .await
    }
}

/// The handle of a sent message.
#[derive(uniffi::Object)]
pub struct SentMessage {
    id: String,
    inner: pgmq_core::Completion,
    _client: Arc<Client>,
}

#[uniffi::export(async_runtime = "tokio")]
impl SentMessage {
    /// The message id (a time-ordered UUID).
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// Whether it was sent with tracking (only then can its outcome be awaited).
    pub fn is_tracked(&self) -> bool {
        self.inner.is_tracked()
    }

    /// Waits for the message's outcome (woken by NOTIFY, confirmed from the durable record; re-read
    /// every `pollIntervalMs` in case a notification was lost, `null`: 10 s). `NotTracked` if it was
    /// sent with `track = false`.
    #[uniffi::method(default(poll_interval_ms = None))]
    pub async fn completed(&self, poll_interval_ms: Option<u64>) -> Result<Outcome, PgmqError> {
        let completion = polling(self.inner.clone(), poll_interval_ms);
        run(async move {
            let map = completion.wait().await?;
            let outcome = map.into_values().next().ok_or_else(|| PgmqError::Database { reason: "no outcome".into() })?;
            Ok(outcome.into())
        })
        .await
    }

    /// Waits for the message's outcome and the result its worker gave it (`lease.ackWithResult`, in any
    /// language); re-reads as `completed()` does. `NotTracked` if it was sent with `track = false`.
    #[uniffi::method(default(poll_interval_ms = None))]
    pub async fn reply(&self, poll_interval_ms: Option<u64>) -> Result<Reply, PgmqError> {
        let completion = polling(self.inner.clone(), poll_interval_ms);
        run(async move {
            let id = completion.ids().first().copied().unwrap_or_default();
            let reply = completion.wait_replies().await?.remove(&id).ok_or(pgmq_core::Error::MessageNotFound(id))?;
            Ok(reply.into())
        })
        .await
    }
}

/// The handle of a batch of sent messages.
#[derive(uniffi::Object)]
pub struct SentBatch {
    inner: pgmq_core::Completion,
    _client: Arc<Client>,
}

#[uniffi::export(async_runtime = "tokio")]
impl SentBatch {
    /// The ids, in the order the messages were given.
    pub fn ids(&self) -> Vec<String> {
        self.inner.ids().iter().map(ToString::to_string).collect()
    }

    /// Whether they were sent with tracking (only then can their outcomes be awaited).
    pub fn is_tracked(&self) -> bool {
        self.inner.is_tracked()
    }

    /// Waits until every message has an outcome: id -> outcome (re-read every `pollIntervalMs` in case
    /// a notification was lost, `null`: 10 s). `NotTracked` if they were sent with `track = false`.
    #[uniffi::method(default(poll_interval_ms = None))]
    pub async fn completed(&self, poll_interval_ms: Option<u64>) -> Result<HashMap<String, Outcome>, PgmqError> {
        let completion = polling(self.inner.clone(), poll_interval_ms);
        run(async move { Ok(outcomes(completion.wait().await?)) }).await
    }

    /// Waits until every message has an outcome: id -> its `Reply` (outcome, and the result its worker
    /// gave it, if any); re-reads as `completed()` does. `NotTracked` if they were sent with
    /// `track = false`.
    #[uniffi::method(default(poll_interval_ms = None))]
    pub async fn replies(&self, poll_interval_ms: Option<u64>) -> Result<HashMap<String, Reply>, PgmqError> {
        let completion = polling(self.inner.clone(), poll_interval_ms);
        run(async move { Ok(replies(completion.wait_replies().await?)) }).await
    }
}

/// How a message finished, the result its worker gave it (`lease.ackWithResult`, Kotlin
/// `msg.ack(result)`, in any language), and why, when pgmq knows: what `queue.request()`, `sent.reply()`
/// and `batch.replies()` return. Printed (Kotlin `toString()`, Swift `description`), it shows the
/// result's length, never its bytes: `Reply(outcome=completed, result=12 bytes,
/// contentType=application/json, reason=null)`.
#[derive(Clone, PartialEq, Eq, Hash, uniffi::Record)]
#[uniffi::export(Display, Debug, Eq, Hash)]
pub struct Reply {
    /// How the message finished.
    pub outcome: Outcome,
    /// The result's bytes; `null` when it was acked without one, or finished another way.
    pub result: Option<Vec<u8>>,
    /// The result's content type (`application/json` for a JSON result); `null`: unlabelled.
    pub content_type: Option<String>,
    /// Why it finished so, when pgmq knows: for a message cancelled because a message it depended on
    /// (`SendOptions.dependsOn`, `OutgoingMessage.after`) did not complete, `dependency <id> was
    /// <outcome>` (`dead_lettered`, `cancelled` or `expired`); `null` otherwise.
    #[uniffi(default = None)]
    pub reason: Option<String>,
}

impl From<pgmq_core::Reply> for Reply {
    fn from(r: pgmq_core::Reply) -> Self {
        let (outcome, content_type) = (r.outcome().into(), r.content_type().map(str::to_owned));
        let reason = r.reason().map(str::to_owned);
        Reply { outcome, result: r.into_result(), content_type, reason }
    }
}

// The result may be large or secret: its length only, as the core's `Debug` of a `Reply` shows it.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            Outcome::Completed => "completed",
            Outcome::DeadLettered => "dead_lettered",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
        };
        write!(f, "Reply(outcome={outcome}, result=")?;
        match &self.result {
            Some(bytes) => write!(f, "{} bytes", bytes.len())?,
            None => f.write_str("null")?,
        }
        write!(
            f,
            ", contentType={}, reason={})",
            self.content_type.as_deref().unwrap_or("null"),
            self.reason.as_deref().unwrap_or("null")
        )
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
