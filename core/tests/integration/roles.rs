//! Least privilege: a producer role (pgmq.grant_producer) sends and awaits outcomes and can do nothing
//! else; a consumer role (pgmq.grant_consumer) claims, acks and nacks (into the DLQ) and can do nothing
//! else.

use std::time::Duration;

use pgmq_core::{Client, NackOptions, Outcome, QueueOptions, ReceiveOptions, SendOptions};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

/// A login role with the grants of `grant` (`producer` or `consumer`), dropped with its grants by `drop_role`.
async fn role(raw: &tokio_postgres::Client, kind: &str) -> String {
    let name = unique(kind).replace('-', "_");
    raw.batch_execute(&format!("CREATE ROLE {name} LOGIN; SELECT pgmq.grant_{kind}('{name}')")).await.unwrap();
    name
}

async fn drop_role(raw: &tokio_postgres::Client, name: &str) {
    raw.batch_execute(&format!("DROP OWNED BY {name}; DROP ROLE {name}")).await.unwrap();
}

async fn connect_as(role: &str) -> Client {
    Client::connect(&kv_dsn("postgres", &format!("user={role}"))).await.expect("the role connects")
}

#[tokio::test]
async fn a_producer_sends_and_awaits_outcomes_and_a_consumer_acks_and_dead_letters_and_neither_does_more() {
    // Arrange: the owner makes the queue (one attempt, so a nack dead-letters); two restricted roles.
    let owner = client().await;
    let raw = raw().await;
    let (producer, consumer) = (role(&raw, "producer").await, role(&raw, "consumer").await);
    let name = unique("roles");
    owner.create_queue(&name, &QueueOptions::default().max_delivery_attempts(1)).await.unwrap();
    let p = connect_as(&producer).await;
    let c = connect_as(&consumer).await;

    // Act: the producer sends two; the consumer acks one and nacks the other into the DLQ.
    let pq = p.queue(&name).unwrap();
    let first = pq.send(b"one".to_vec(), &SendOptions::default()).await.expect("producer sends");
    let second = pq.send(b"two".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = c.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let m = timeout(FIVE_S, rx.next()).await.unwrap().expect("consumer claims");
    assert_eq!(m.id(), first.id());
    m.ack().await.expect("consumer acks");
    let m = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    m.nack(NackOptions::default()).await.expect("consumer nacks into the DLQ");

    // Assert: the producer hears both outcomes.
    assert_eq!(timeout(FIVE_S, first.wait()).await.unwrap().unwrap(), Outcome::Completed);
    assert_eq!(timeout(FIVE_S, second.wait()).await.unwrap().unwrap(), Outcome::DeadLettered);
    assert_eq!(owner.queue(&pgmq_core::dlq_name(&name)).unwrap().stats().await.unwrap().messages, 1);

    // ... and neither role can do the other's work, or manage queues.
    pq.send(b"three".to_vec(), &SendOptions::default()).await.unwrap();
    let mut producer_rx = pq.receiver(ReceiveOptions::default()).unwrap();
    let claim = timeout(FIVE_S, producer_rx.next()).await.expect("refused, not waiting");
    assert_eq!(claim.expect_err("a producer cannot claim").code(), "database");
    assert!(p.delete_queue(&name).await.is_err(), "a producer cannot delete queues");
    assert!(p.create_queue(&unique("roles-p"), &QueueOptions::default()).await.is_err());
    let cq = c.queue(&name).unwrap();
    assert!(cq.send(b"x".to_vec(), &SendOptions::default()).await.is_err(), "a consumer cannot send");
    assert!(c.delete_queue(&name).await.is_err(), "a consumer cannot delete queues");
    let (producer_raw, conn) =
        tokio_postgres::connect(&kv_dsn("postgres", &format!("user={producer}")), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let queue_id = queue_id_in(&raw, &name).await;
    let ack = producer_raw
        .query("SELECT * FROM pgmq.ack($1, $2, $3)", &[&queue_id, &vec![first.id()], &vec![first.id()]])
        .await;
    assert!(ack.is_err(), "a producer cannot ack");
    // Its one UPDATE right (on queues.send_lock, which lets a send lock the queue row) changes nothing.
    for update in ["UPDATE pgmq.queues SET send_lock = true", "UPDATE pgmq.queues SET ack_deadline = '1 hour'"] {
        let refused = producer_raw.batch_execute(update).await.expect_err("a producer cannot change queues");
        assert_eq!(refused.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{update}");
    }
    let refused = raw.batch_execute("UPDATE pgmq.queues SET send_lock = true").await.expect_err("nor can the owner");
    assert_eq!(refused.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE));

    p.close().await;
    c.close().await;
    owner.delete_queue(&name).await.unwrap();
    drop_role(&raw, &producer).await;
    drop_role(&raw, &consumer).await;
}

#[tokio::test]
async fn a_producer_sends_with_dependencies_and_a_consumers_acks_and_nacks_release_and_cancel_them() {
    // Arrange: a queue with one attempt; A and B sent by the owner; the producer sends C after A and D
    // after B.
    let owner = client().await;
    let raw = raw().await;
    let (producer, consumer) = (role(&raw, "producer").await, role(&raw, "consumer").await);
    let name = unique("roles-deps");
    owner.create_queue(&name, &QueueOptions::default().max_delivery_attempts(1)).await.unwrap();
    let a = owner.queue(&name).unwrap().send(b"A".to_vec(), &SendOptions::default()).await.unwrap();
    let b = owner.queue(&name).unwrap().send(b"B".to_vec(), &SendOptions::default()).await.unwrap();
    let p = connect_as(&producer).await;
    let c = connect_as(&consumer).await;
    let pq = p.queue(&name).unwrap();
    let after_a = pq.send(b"C".to_vec(), &SendOptions::default().depends_on([a.id()])).await.expect("producer links");
    let after_b = pq.send(b"D".to_vec(), &SendOptions::default().depends_on([b.id()])).await.unwrap();

    // Act: the consumer acks A and nacks B (dead-lettered: one attempt).
    let mut rx = c.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let m = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    assert_eq!(m.id(), a.id());
    m.ack().await.expect("the consumer's ack releases C");
    let m = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    assert_eq!(m.id(), b.id());
    m.nack(NackOptions::default()).await.expect("the consumer's nack cancels D");

    // Assert: C is delivered; D was cancelled, which the producer hears with its reason.
    let m = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    assert_eq!(m.id(), after_a.id());
    m.ack().await.unwrap();
    let reply = timeout(FIVE_S, after_b.wait_reply()).await.unwrap().unwrap();
    assert_eq!(reply.reason(), Some(format!("dependency {} was dead_lettered", b.id()).as_str()));

    p.close().await;
    c.close().await;
    owner.delete_queue(&name).await.unwrap();
    drop_role(&raw, &producer).await;
    drop_role(&raw, &consumer).await;
}
