//! Job groups (migration 0010): messages sent with [`crate::SendOptions::group`] are cancelled, awaited
//! and counted together, within one queue ([`crate::Queue`]'s methods) or across every queue
//! ([`crate::Client`]'s).

use std::collections::{HashMap, HashSet};

use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::client::ClientInner;
use crate::db::Sql;
use crate::defaults::DEFAULTS;
use crate::error::Result;
use crate::listener::{Subscription, Wake};
use crate::options::{validate_group, Outcome};
use crate::protocol;

/// A group's messages by state (those still in a queue) and by outcome (those finished, for as long as
/// their outcome is kept: the queue's retention period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupStats {
    /// Messages of the group still in a queue: ready, scheduled and leased.
    pub messages: u64,
    /// Available for delivery now.
    pub ready: u64,
    /// Waiting for their scheduled time (or a nack delay).
    pub scheduled: u64,
    /// Held by a worker under a live lease.
    pub leased: u64,
    /// Finished: acked.
    pub completed: u64,
    /// Finished: attempts ran out.
    pub dead_lettered: u64,
    /// Finished: cancelled.
    pub cancelled: u64,
    /// Finished: retention ran out before anyone consumed them.
    pub expired: u64,
}

/// Cancels the group's queued and held messages, in queue `$2` or (NULL) every queue.
pub(crate) const CANCEL_GROUP: Sql = Sql::new(
    "SELECT c.id FROM pg_catalog.set_config('synchronous_commit', 'on', true), pgmq.cancel_group($1, $2) AS c",
    &[Type::TEXT, Type::INT8],
);

/// The group's counts by state and outcome (indexes `group_members_pkey`, `messages_pkey`,
/// `outcomes_pkey`). The state conditions are `Queue::stats`'s.
pub(crate) const GROUP_STATS: Sql = Sql::new(
    "
SELECT pg_catalog.count(m.id),
       pg_catalog.count(m.id) FILTER (WHERE m.available_at <= pg_catalog.now() AND NOT m.last_lease
                                        AND NOT m.cancel_requested),
       pg_catalog.count(m.id) FILTER (WHERE m.lease_token IS NULL AND m.available_at > pg_catalog.now()),
       pg_catalog.count(m.id) FILTER (WHERE m.lease_token IS NOT NULL AND m.available_at > pg_catalog.now()),
       pg_catalog.count(o.id) FILTER (WHERE m.id IS NULL AND o.outcome = 'completed'),
       pg_catalog.count(o.id) FILTER (WHERE m.id IS NULL AND o.outcome = 'dead_lettered'),
       pg_catalog.count(o.id) FILTER (WHERE m.id IS NULL AND o.outcome = 'cancelled'),
       pg_catalog.count(o.id) FILTER (WHERE m.id IS NULL AND o.outcome = 'expired')
FROM pgmq.group_members g
LEFT JOIN pgmq.messages m ON m.queue_id = g.queue_id AND m.id = g.message_id
LEFT JOIN pgmq.outcomes o ON o.id = g.message_id
WHERE g.group_id = $1 AND ($2::bigint IS NULL OR g.queue_id = $2)",
    &[Type::TEXT, Type::INT8],
);

/// Each member's queue, id and outcome (NULL while it has none).
pub(crate) const GROUP_CHECK: Sql = Sql::new(
    "
SELECT g.queue_id, g.message_id, o.outcome
FROM pgmq.group_members g LEFT JOIN pgmq.outcomes o ON o.id = g.message_id
WHERE g.group_id = $1 AND ($2::bigint IS NULL OR g.queue_id = $2)",
    &[Type::TEXT, Type::INT8],
);

pub(crate) async fn cancel(client: &ClientInner, group: &str, queue_id: Option<i64>) -> Result<Vec<Uuid>> {
    validate_group(group)?;
    let conn = client.db.get().await?;
    let rows = conn.query(&CANCEL_GROUP, &[&group, &queue_id]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn stats(client: &ClientInner, group: &str, queue_id: Option<i64>) -> Result<GroupStats> {
    validate_group(group)?;
    let conn = client.db.get().await?;
    let r = conn.query_one(&GROUP_STATS, &[&group, &queue_id]).await?;
    let n = |i: usize| r.get::<_, i64>(i) as u64;
    Ok(GroupStats {
        messages: n(0),
        ready: n(1),
        scheduled: n(2),
        leased: n(3),
        completed: n(4),
        dead_lettered: n(5),
        cancelled: n(6),
        expired: n(7),
    })
}

/// Waits until every message of the group (as of each re-read: members sent meanwhile count too) has an
/// outcome, woken by the completion notifications of the group's queues, and returns the outcomes. An
/// empty group returns at once.
pub(crate) async fn wait(client: &ClientInner, group: &str, queue_id: Option<i64>) -> Result<HashMap<Uuid, Outcome>> {
    validate_group(group)?;
    let mut subscriptions: HashMap<i64, Subscription> = HashMap::new();
    loop {
        for s in subscriptions.values_mut() {
            s.drain();
        }
        let rows = {
            let conn = client.db.get().await?;
            conn.query(&GROUP_CHECK, &[&group, &queue_id]).await?
        };
        let mut outcomes = HashMap::with_capacity(rows.len());
        let mut pending: HashSet<Uuid> = HashSet::new();
        let mut new_queues = Vec::new();
        for row in &rows {
            let (queue, id, outcome): (i64, Uuid, Option<String>) = (row.get(0), row.get(1), row.get(2));
            match outcome {
                Some(o) => {
                    outcomes.insert(id, Outcome::parse(&o)?);
                }
                None => {
                    pending.insert(id);
                    if !subscriptions.contains_key(&queue) && !new_queues.contains(&queue) {
                        new_queues.push(queue);
                    }
                }
            }
        }
        if pending.is_empty() {
            return Ok(outcomes);
        }
        if !new_queues.is_empty() {
            // Subscribe, then read again: an outcome recorded before the subscription is in that read.
            for queue in new_queues {
                let s = client.listener.subscribe(protocol::completed_channel(queue)).await;
                subscriptions.insert(queue, s);
            }
            continue;
        }
        let deadline = tokio::time::Instant::now() + DEFAULTS.completion.poll_interval;
        'sleep: loop {
            let wakes = subscriptions.values_mut().map(|s| Box::pin(s.recv()));
            let wake = tokio::select! {
                _ = client.shutdown.cancelled() => return Err(crate::Error::Closed),
                _ = tokio::time::sleep_until(deadline) => break 'sleep,
                (wake, _, _) = futures_util::future::select_all(wakes) => wake,
            };
            match wake {
                Wake::Notify(payload) if !protocol::concerns(&payload, &pending) => {}
                _ => break 'sleep,
            }
        }
    }
}
