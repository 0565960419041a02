//! Cancels that race a holder's nack (found by the chaos checker, `make chaos` / `make soak`).
//!
//! `pgmq.nack` used to run its steps as separate statements, each with its own snapshot: a cancel that
//! committed between "drop the cancelled ones" and "dead-letter the used-up ones" saw its `cancelled`
//! outcome overwritten by `dead_lettered`, and the cancelled message moved to the DLQ although the
//! cancel had reported it found. The nack now locks the rows it finishes first.

use std::time::Duration;

use pgmq_core::{
    Client, Message, NackOptions, Outcome, Queue, QueueOptions, ReceiveOptions, Receiver, SendOptions, SentMessage,
};
use tokio::time::timeout;

use crate::common::*;

/// One message, sent to a new queue (`prefix`, `options`) and leased: (client, queue, its name, sent,
/// receiver, lease).
async fn held_message(prefix: &str, options: QueueOptions) -> (Client, Queue, String, SentMessage, Receiver, Message) {
    let client = client().await;
    let name = unique(prefix);
    client.create_queue(&name, &options).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    (client, queue, name, sent, rx, msg)
}

/// Waits until some backend is blocked on a lock held by backend `holder` (an event, not a sleep).
async fn until_blocked_by(holder: i32) {
    let watcher = raw().await;
    let blocked = eventually(FIVE_S, || async {
        let n: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND $1 = ANY(pg_blocking_pids(pid))",
                &[&holder],
            )
            .await
            .unwrap()
            .get(0);
        n > 0
    })
    .await;
    assert!(blocked, "nothing waited for backend {holder}'s row lock");
}

const FIVE_S: Duration = Duration::from_secs(5);

#[tokio::test]
async fn cancel_committed_during_a_last_attempt_nack_stays_cancelled() {
    // Arrange: one attempt only, so the nack of the first delivery is the one that dead-letters.
    let (_client, queue, name, sent, _rx, msg) =
        held_message("cancel-race-nack", QueueOptions::default().max_delivery_attempts(1)).await;
    // A cancel in a transaction that stays open while the nack runs.
    let mut other = raw().await;
    let tx = other.transaction().await.unwrap();
    let holder: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let found = tx
        .query(
            "SELECT c.id FROM pgmq.queues q, pgmq.cancel(q.id, ARRAY[$2::uuid]) c WHERE q.name = $1",
            &[&name, &sent.id()],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the cancel finds the held message");

    // Act: nack (it waits for the cancel's row lock), then commit the cancel.
    let nack = tokio::spawn(async move { msg.nack(NackOptions { delay: None, error: Some("failed".into()) }).await });
    until_blocked_by(holder).await;
    tx.commit().await.unwrap();
    let nacked = timeout(FIVE_S, nack).await.unwrap().unwrap();

    // Assert: the cancel stands; nothing went to the DLQ.
    assert!(nacked.is_ok(), "{nacked:?}");
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.messages, stats.dead_lettered), (0, 0), "{stats:?}");
}

#[tokio::test]
async fn cancel_waiting_for_a_retrying_nack_still_finds_and_cancels_the_message() {
    // Arrange: a held message whose nack (a retry: attempts left) runs in a transaction left open.
    let (_client, queue, name, sent, mut rx, msg) = held_message("cancel-race-retry", QueueOptions::default()).await;
    let mut other = raw().await;
    let tx = other.transaction().await.unwrap();
    let holder: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let retried = tx
        .query(
            "SELECT n.result FROM pgmq.queues q,
                    pgmq.nack(q.id, ARRAY[$2::uuid], ARRAY[$3::uuid], ARRAY[NULL::bigint], ARRAY[NULL::text]) n
             WHERE q.name = $1",
            &[&name, &sent.id(), &msg.lease_token()],
        )
        .await
        .unwrap();
    assert_eq!(retried.len(), 1, "the nack holds the message");

    // Act: cancel (it waits for the nack's row lock), then commit the nack.
    let canceller = queue.clone();
    let id = sent.id();
    let cancel = tokio::spawn(async move { canceller.cancel(&[id]).await });
    until_blocked_by(holder).await;
    tx.commit().await.unwrap();
    let found = timeout(FIVE_S, cancel).await.unwrap().unwrap().unwrap();

    // Assert: the message, ready again by the time the cancel ran, was found and cancelled; it is never
    // delivered again.
    assert_eq!(found, vec![sent.id()]);
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
    drop(msg);
    let redelivered = timeout(Duration::from_millis(1500), rx.next()).await;
    assert!(redelivered.is_err(), "a cancelled message was delivered: {redelivered:?}");
}
