//! Completion tracking: wait for the outcome of sent messages. Woken by NOTIFY, confirmed from the
//! durable outcome records, so a waiter that starts late or loses its LISTEN connection still learns
//! every outcome.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::client::ClientInner;
use crate::db::Sql;
use crate::defaults::DEFAULTS;
use crate::error::{Error, Result};
use crate::listener::Wake;
use crate::options::{decode_json, Attributes, AttributeValue, Outcome, CONTENT_TYPE_ATTRIBUTE};
use crate::protocol;

/// Reads the outcome and result (if any) of each pending id, and whether it is still queued and tracked
/// (indexes `outcomes_pkey` and `messages_pkey`).
pub(crate) const CHECK: Sql = Sql::new(
    "SELECT a.id, o.outcome, m.tracked, o.result, o.result_content_type, o.reason
     FROM pg_catalog.unnest($2::uuid[]) AS a(id)
     LEFT JOIN pgmq.outcomes o ON o.id = a.id
     LEFT JOIN pgmq.messages m ON m.queue_id = $1 AND m.id = a.id",
    &[Type::INT8, Type::UUID_ARRAY],
);

/// How a message finished, and the result its worker gave it (reply-to): what a requester receives.
///
/// The result is the one given to [`crate::Message::ack_with_result`] (or `ack_with_json`, or the
/// same call in any other language), kept with the outcome for the queue's retention period. A message
/// acked without a result, or finished any other way, has none.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    outcome: Outcome,
    result: Option<Vec<u8>>,
    content_type: Option<String>,
    reason: Option<String>,
}

impl Reply {
    /// How the message finished.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
    /// The result's bytes, if the worker gave one.
    pub fn result(&self) -> Option<&[u8]> {
        self.result.as_deref()
    }
    /// Takes the result's bytes out, to avoid a copy.
    pub fn into_result(self) -> Option<Vec<u8>> {
        self.result
    }
    /// Why the message finished the way it did, when pgmq knows: for a message cancelled because a
    /// message it depended on did not complete, `dependency <id> was <outcome>`
    /// ([`crate::SendOptions::depends_on`]). `None` otherwise.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// The result's content type (`application/json` for a JSON result), if labelled.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
    /// The result parsed as JSON into `T`, under the rule of `message.json()`: unlabelled or labelled
    /// JSON. [`Error::InvalidOption`] when there is no result, it is labelled otherwise, or it is not a `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let Some(bytes) = &self.result else {
            return Err(Error::invalid_option(format!("json(): the message finished ({}) without a result", self.outcome)));
        };
        let mut label = Attributes::new();
        if let Some(ct) = &self.content_type {
            label.insert(CONTENT_TYPE_ATTRIBUTE.to_owned(), AttributeValue::String(ct.clone()));
        }
        decode_json(bytes, &label)
    }
}

impl std::fmt::Debug for Reply {
    // The result may be large or secret: its length only, as Message's Debug does for bodies.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("outcome", &self.outcome)
            .field("result_len", &self.result.as_ref().map(Vec::len))
            .field("content_type", &self.content_type)
            .field("reason", &self.reason)
            .finish()
    }
}

/// The handle of a batch of sent messages: their ids, and a way to wait for their outcomes.
#[derive(Clone)]
pub struct Completion {
    client: Arc<ClientInner>,
    queue_id: i64,
    ids: Vec<Uuid>,
    tracked: bool,
    poll_interval: Duration,
}

impl Completion {
    pub(crate) fn new(client: Arc<ClientInner>, queue_id: i64, ids: Vec<Uuid>, tracked: bool) -> Self {
        Completion { client, queue_id, ids, tracked, poll_interval: DEFAULTS.completion.poll_interval }
    }

    /// The ids of the messages, in the order they were given.
    pub fn ids(&self) -> &[Uuid] {
        &self.ids
    }

    /// Whether the messages were sent with tracking (only then can their outcome be awaited).
    pub fn is_tracked(&self) -> bool {
        self.tracked
    }

    /// Sets the safety-net re-read interval (default 10 s, `DEFAULTS.completion.poll_interval`) used in
    /// case a notification is lost;
    /// NOTIFY does the real waking. Zero is rejected by [`Completion::wait`].
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Waits until every message has an outcome and returns them all.
    ///
    /// Errors: [`Error::NotTracked`] for messages sent with `track = false`, [`Error::MessageNotFound`]
    /// for ids that are neither queued nor have an outcome record, [`Error::Closed`] when the client
    /// closes. Cancel-safe: dropping the future leaves nothing behind.
    pub async fn wait(&self) -> Result<HashMap<Uuid, Outcome>> {
        let replies = self.wait_replies().await?;
        Ok(replies.into_iter().map(|(id, reply)| (id, reply.outcome)).collect())
    }

    /// Waits until every message has an outcome and returns each one's [`Reply`]: its outcome and the
    /// result its worker gave it, if any. Errors as for [`Completion::wait`].
    pub async fn wait_replies(&self) -> Result<HashMap<Uuid, Reply>> {
        if !self.tracked {
            return Err(Error::NotTracked(self.ids.first().copied().unwrap_or_default()));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::invalid_option("poll_interval must be positive"));
        }
        let mut outcomes = HashMap::with_capacity(self.ids.len());
        let mut pending: HashSet<Uuid> = self.ids.iter().copied().collect();
        if pending.is_empty() {
            return Ok(outcomes);
        }
        // Subscribe before the first read, so an outcome recorded after that read always wakes us.
        let mut subscription = self.client.listener.subscribe(protocol::completed_channel(self.queue_id)).await;
        loop {
            subscription.drain();
            self.check(&mut pending, &mut outcomes).await?;
            if pending.is_empty() {
                return Ok(outcomes);
            }
            let deadline = tokio::time::Instant::now() + self.poll_interval;
            loop {
                let wake = tokio::select! {
                    _ = self.client.shutdown.cancelled() => return Err(Error::Closed),
                    _ = tokio::time::sleep_until(deadline) => break,
                    wake = subscription.recv() => wake,
                };
                match wake {
                    // Only re-read when one of ours finished; `*` or an empty payload may concern anyone.
                    Wake::Notify(payload) if !protocol::concerns(&payload, &pending) => {}
                    Wake::Notify(_) | Wake::Reset => break,
                }
            }
        }
    }

    async fn check(&self, pending: &mut HashSet<Uuid>, outcomes: &mut HashMap<Uuid, Reply>) -> Result<()> {
        let ids: Vec<Uuid> = pending.iter().copied().collect();
        let conn = self.client.db.get().await?;
        let rows = conn.query(&CHECK, &[&self.queue_id, &ids]).await?;
        for row in rows {
            let id: Uuid = row.get(0);
            let outcome: Option<String> = row.get(1);
            let queued_tracked: Option<bool> = row.get(2);
            match (outcome, queued_tracked) {
                (Some(o), _) => {
                    let reply = Reply { outcome: Outcome::parse(&o)?, result: row.get(3), content_type: row.get(4), reason: row.get(5) };
                    outcomes.insert(id, reply);
                    pending.remove(&id);
                }
                (None, Some(true)) => {}
                (None, Some(false)) => return Err(Error::NotTracked(id)),
                (None, None) => return Err(Error::MessageNotFound(id)),
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion").field("ids", &self.ids).field("tracked", &self.tracked).finish()
    }
}

/// The handle of one sent message.
#[derive(Clone, Debug)]
pub struct SentMessage {
    completion: Completion,
}

impl SentMessage {
    pub(crate) fn new(completion: Completion) -> Self {
        SentMessage { completion }
    }

    /// The message id.
    pub fn id(&self) -> Uuid {
        self.completion.ids[0]
    }

    /// Waits for the message's outcome. Errors as for [`Completion::wait`].
    pub async fn wait(&self) -> Result<Outcome> {
        Ok(self.wait_reply().await?.outcome)
    }

    /// Waits for the message's outcome and the result its worker gave it. Errors as for
    /// [`Completion::wait`].
    pub async fn wait_reply(&self) -> Result<Reply> {
        let mut replies = self.completion.wait_replies().await?;
        replies.remove(&self.id()).ok_or(Error::MessageNotFound(self.id()))
    }

    /// The underlying batch handle.
    pub fn completion(&self) -> &Completion {
        &self.completion
    }

    /// Turns this into a batch handle of one.
    pub fn into_completion(self) -> Completion {
        self.completion
    }
}
