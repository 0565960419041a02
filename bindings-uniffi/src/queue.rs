//! `Queue`: send, send a batch, receive, cancel, peek, purge, stats, completion; and the sent-message
//! handles.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::error::PgmqError;
use crate::message::Receiver;
use crate::peek::{PeekOptions, PeekedMessage};
use crate::run;
use crate::types::{
    to_core_attributes, uuids, OutgoingMessage, Outcome, QueueStats, ReceiveOptions, SendOptions,
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

fn outcomes(map: HashMap<pgmq_core::Uuid, pgmq_core::Outcome>) -> HashMap<String, Outcome> {
    map.into_iter().map(|(id, o)| (id.to_string(), o.into())).collect()
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

    /// Sends one message (with `options.attributes`); returns once it is durable.
    #[uniffi::method(default(options = None))]
    pub async fn send(&self, body: Vec<u8>, options: Option<SendOptions>) -> Result<Arc<SentMessage>, PgmqError> {
        let (queue, client) = (self.inner.clone(), self.client.clone());
        run(async move {
            let (send, attributes) = match options {
                Some(o) => (o.to_core(), to_core_attributes(o.attributes)),
                None => (pgmq_core::SendOptions::default(), Default::default()),
            };
            let message = pgmq_core::OutgoingMessage { body, attributes };
            let sent = queue.send(message, &send).await?;
            Ok(Arc::new(SentMessage { id: sent.id().to_string(), inner: sent.into_completion(), _client: client }))
        })
        .await
    }

    /// Sends messages in one statement: all of them or, on error, none.
    #[uniffi::method(default(options = None))]
    pub async fn send_batch(
        &self,
        messages: Vec<OutgoingMessage>,
        options: Option<SendOptions>,
    ) -> Result<Arc<SentBatch>, PgmqError> {
        let (queue, client) = (self.inner.clone(), self.client.clone());
        run(async move {
            let send = options.map(|o| o.to_core()).unwrap_or_default();
            let messages = messages
                .into_iter()
                .map(|m| pgmq_core::OutgoingMessage { body: m.body, attributes: to_core_attributes(m.attributes) })
                .collect();
            let completion = queue.send_batch(messages, &send).await?;
            Ok(Arc::new(SentBatch { inner: completion, _client: client }))
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
}
