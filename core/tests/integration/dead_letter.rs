//! Dead letters: exhausted attempts, lapsed last leases and retention expiry move messages whole to their
//! own queue's DLQ (or drop them without one), and redrive brings them back.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pgmq_core::{
    dlq_name, AttributeValue, Error, NackOptions, Outcome, OutgoingMessage, QueueOptions, ReceiveOptions,
    SendOptions,
};
use tokio::time::timeout;
use uuid::Uuid;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

fn nack_with(error: &str) -> NackOptions {
    NackOptions { delay: None, error: Some(error.to_owned()) }
}

/// The names of the queues holding a row with this id.
async fn queues_holding(raw: &tokio_postgres::Client, id: Uuid) -> Vec<String> {
    raw.query(
        "SELECT q.name FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE m.id = $1",
        &[&id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn message_that_used_all_its_attempts_moves_whole_to_its_dlq() {
    // Arrange: 3 attempts.
    let client = client().await;
    let name = unique("dl-exhaust");
    client.create_queue(&name, &QueueOptions::default().max_delivery_attempts(3)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let outgoing = OutgoingMessage::new(b"payload \x00\xff".to_vec()).attribute("kind", "invoice").attribute("n", 7);
    let sent = queue.send(outgoing.clone(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    // Act: three failed deliveries.
    for attempt in 1..=3 {
        let msg = timeout(FIVE_S, rx.next()).await.expect("redelivery").unwrap();
        assert_eq!(msg.delivery_attempt(), attempt);
        msg.nack(nack_with(&format!("failure {attempt}"))).await.unwrap();
    }

    // Assert: outcome, nothing left in the queue, the whole message in dlq@<name>.
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::DeadLettered);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.messages, stats.dead_lettered), (0, 1));
    let mut dlq_rx = client.queue(&dlq_name(&name)).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let dead = timeout(FIVE_S, dlq_rx.next()).await.expect("nothing in the DLQ").unwrap();
    assert_eq!(dead.id(), sent.id());
    assert_eq!(dead.body(), &outgoing.body[..]);
    assert_eq!(dead.attributes(), &outgoing.attributes);
    assert_eq!(dead.attributes().get("n"), Some(&AttributeValue::Int(7)));
    assert_eq!(dead.dead_letter_attempts(), Some(3));
    assert_eq!(dead.last_error(), Some("failure 3"));
    assert_eq!(dead.delivery_attempt(), 1);
    dead.ack().await.unwrap();
}

#[tokio::test]
async fn dead_letters_go_only_to_their_own_queues_dlq() {
    // Arrange: two queues with a DLQ each; one name is a prefix of the other.
    let client = client().await;
    let raw = raw().await;
    let a = unique("dl-own");
    let b = format!("{a}-x");
    let options = QueueOptions::default().max_delivery_attempts(1);
    client.create_queue(&a, &options).await.unwrap();
    client.create_queue(&b, &options).await.unwrap();
    let (qa, qb) = (client.queue(&a).unwrap(), client.queue(&b).unwrap());
    let sent_a = qa.send(b"for a".to_vec(), &SendOptions::default()).await.unwrap();
    let sent_b = qb.send(b"for b".to_vec(), &SendOptions::default()).await.unwrap();

    // Act: each fails its only attempt.
    for queue in [&qa, &qb] {
        let msg = queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();
        msg.nack(nack_with("boom")).await.unwrap();
    }

    // Assert
    assert_eq!(timeout(FIVE_S, sent_a.wait()).await.unwrap().unwrap(), Outcome::DeadLettered);
    assert_eq!(timeout(FIVE_S, sent_b.wait()).await.unwrap().unwrap(), Outcome::DeadLettered);
    assert_eq!(queues_holding(&raw, sent_a.id()).await, vec![dlq_name(&a)]);
    assert_eq!(queues_holding(&raw, sent_b.id()).await, vec![dlq_name(&b)]);
    assert_eq!(qa.stats().await.unwrap().dead_lettered, 1);
    assert_eq!(qb.stats().await.unwrap().dead_lettered, 1);
}

#[tokio::test]
async fn queue_without_dlq_drops_the_exhausted_message_with_outcome_dead_lettered() {
    // Arrange
    let client = client().await;
    let raw = raw().await;
    let name = unique("dl-none");
    let options = QueueOptions::default().max_delivery_attempts(1).dead_letter_queue(None);
    client.create_queue(&name, &options).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();

    // Act
    let msg = queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();
    msg.nack(nack_with("boom")).await.unwrap();

    // Assert
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::DeadLettered);
    assert!(queues_holding(&raw, sent.id()).await.is_empty(), "the message is still stored somewhere");
    let dlq = client.queue(&dlq_name(&name)).unwrap().stats().await;
    assert!(matches!(dlq, Err(Error::QueueNotFound(_))), "{dlq:?}");
}

#[tokio::test]
async fn lease_that_lapses_on_the_last_attempt_is_dead_lettered_by_housekeeping() {
    // Arrange: 1 attempt, 1 s deadline; the worker's client stops heartbeating (as if it hung).
    let client = client().await;
    let worker = crate::common::client().await;
    let name = unique("dl-lapse");
    let options = QueueOptions::default().max_delivery_attempts(1).ack_deadline(Duration::from_secs(1));
    client.create_queue(&name, &options).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let received_at = Instant::now();
    let held = worker.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();

    // Act
    worker.close().await;
    let outcome = timeout(FIVE_S, sent.wait()).await.expect("not dead-lettered within 5 s").unwrap();

    // Assert: not before the lease ran out; the DLQ copy says why.
    assert!(received_at.elapsed() >= Duration::from_secs(1), "dead-lettered before its lease lapsed");
    assert_eq!(outcome, Outcome::DeadLettered);
    let mut dlq_rx = client.queue(&dlq_name(&name)).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let dead = timeout(FIVE_S, dlq_rx.next()).await.expect("nothing in the DLQ").unwrap();
    assert_eq!(dead.id(), sent.id());
    assert_eq!(dead.dead_letter_attempts(), Some(1));
    assert_eq!(dead.last_error(), Some("lease expired on the last delivery attempt"));
    assert_eq!(queue.stats().await.unwrap().messages, 0);
    drop(held);
}

#[tokio::test]
async fn unconsumed_message_past_its_retention_moves_to_the_dlq_as_expired() {
    // Arrange: retention 1 s.
    let client = client().await;
    let name = unique("dl-expire");
    client.create_queue(&name, &QueueOptions::default().retention_period(Duration::from_secs(1))).await.unwrap();
    let queue = client.queue(&name).unwrap();

    // Act
    let sent_at = Instant::now();
    let sent = queue.send(b"stale".to_vec(), &SendOptions::default()).await.unwrap();
    let outcome = timeout(FIVE_S, sent.wait()).await.expect("not expired within 5 s").unwrap();

    // Assert
    assert!(sent_at.elapsed() >= Duration::from_secs(1), "expired before its retention period");
    assert_eq!(outcome, Outcome::Expired);
    let mut dlq_rx = client.queue(&dlq_name(&name)).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let dead = timeout(FIVE_S, dlq_rx.next()).await.expect("nothing in the DLQ").unwrap();
    assert_eq!((dead.id(), dead.body()), (sent.id(), &b"stale"[..]));
    assert_eq!(dead.dead_letter_attempts(), Some(0));
    assert_eq!(dead.last_error(), Some("retention period ran out"));
}

#[tokio::test]
async fn message_held_past_its_retention_by_a_live_worker_is_not_expired() {
    // Arrange: retention 1 s, deadline 1 s; a worker holds the message.
    let client = client().await;
    let raw = raw().await;
    let name = unique("dl-held-expire");
    let options =
        QueueOptions::default().retention_period(Duration::from_secs(1)).ack_deadline(Duration::from_secs(1));
    client.create_queue(&name, &options).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();
    let mut waiter = tokio::spawn({
        let sent = sent.clone();
        async move { sent.wait().await }
    });

    // Act: hold it 2.5 s, well past its retention.
    let early = timeout(Duration::from_millis(2500), &mut waiter).await;

    // Assert: no outcome while held, still leased in its queue; the ack then completes it.
    assert!(early.is_err(), "a held message got an outcome: {early:?}");
    assert_eq!(queues_holding(&raw, sent.id()).await, vec![name.clone()]);
    assert!(!msg.is_lease_lost());
    msg.ack().await.unwrap();
    assert_eq!(timeout(FIVE_S, waiter).await.unwrap().unwrap().unwrap(), Outcome::Completed);
    assert_eq!(queue.stats().await.unwrap().dead_lettered, 0);
}

#[tokio::test]
async fn redrive_moves_dead_letters_back_with_their_attempts_reset() {
    // Arrange: two messages dead-lettered after one attempt.
    let client = client().await;
    let name = unique("dl-redrive");
    client.create_queue(&name, &QueueOptions::default().max_delivery_attempts(1)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let batch = vec![OutgoingMessage::new("one").attribute("k", "1"), OutgoingMessage::new("two")];
    let completion = queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    for _ in 0..2 {
        let msg = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
        msg.nack(nack_with("boom")).await.unwrap();
    }
    let outcomes = timeout(FIVE_S, completion.wait()).await.unwrap().unwrap();
    assert!(outcomes.values().all(|o| *o == Outcome::DeadLettered));
    let dlq = dlq_name(&name);

    // Act
    let moved = client.redrive(&dlq, &name).await.unwrap();

    // Assert
    assert_eq!(moved, 2);
    assert_eq!(client.queue(&dlq).unwrap().stats().await.unwrap().messages, 0);
    let mut back = Vec::new();
    for _ in 0..2 {
        back.push(timeout(FIVE_S, rx.next()).await.expect("redriven message").unwrap());
    }
    let ids: HashSet<Uuid> = back.iter().map(|m| m.id()).collect();
    assert_eq!(ids, completion.ids().iter().copied().collect());
    assert!(back.iter().all(|m| m.delivery_attempt() == 1), "attempts were not reset");
    let one = back.iter().find(|m| m.body() == b"one").expect("body kept");
    assert_eq!(one.attributes().get("k"), Some(&AttributeValue::String("1".into())));
    for m in &back {
        m.ack().await.unwrap();
    }
    assert_eq!(client.redrive(&dlq, &name).await.unwrap(), 0);
}

#[tokio::test]
async fn redrive_with_an_unknown_queue_fails_with_queue_not_found() {
    // Arrange
    let client = client().await;
    let name = unique("dl-redrive-unknown");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let missing = unique("dl-missing");

    // Act
    let from_missing = client.redrive(&missing, &name).await;
    let to_missing = client.redrive(&dlq_name(&name), &missing).await;

    // Assert
    assert!(matches!(&from_missing, Err(Error::QueueNotFound(n)) if *n == missing), "{from_missing:?}");
    assert!(matches!(&to_missing, Err(Error::QueueNotFound(n)) if *n == missing), "{to_missing:?}");
    assert_eq!(from_missing.unwrap_err().code(), "queue_not_found");
}
