//! `Queue`: send, send a batch, receive, cancel, stats, completion; and the sent-message handles.

use std::collections::HashMap;
use std::sync::Arc;

use crate::client::Client;
use crate::error::PgmqError;
use crate::message::Receiver;
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

    /// Counts of this queue's messages by state.
    pub async fn stats(&self) -> Result<QueueStats, PgmqError> {
        let queue = self.inner.clone();
        run(async move { Ok(queue.stats().await?.into()) }).await
    }

    /// Waits until every message has an outcome (sent earlier, by any process, with tracking).
    pub async fn wait_for_completion(&self, ids: Vec<String>) -> Result<HashMap<String, Outcome>, PgmqError> {
        let queue = self.inner.clone();
        run(async move {
            let ids = uuids(&ids)?;
            Ok(outcomes(queue.wait_for_completion(&ids).await?))
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

    /// Waits for the message's outcome (woken by NOTIFY, confirmed from the durable record).
    pub async fn completed(&self) -> Result<Outcome, PgmqError> {
        let completion = self.inner.clone();
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

    /// Waits until every message has an outcome: id -> outcome.
    pub async fn completed(&self) -> Result<HashMap<String, Outcome>, PgmqError> {
        let completion = self.inner.clone();
        run(async move { Ok(outcomes(completion.wait().await?)) }).await
    }
}
