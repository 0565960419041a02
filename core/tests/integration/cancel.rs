//! Cancellation: queued and scheduled messages are never delivered; a holder of a cancelled message is
//! signalled within milliseconds and the message is never redelivered, whatever the holder does next.

use std::time::{Duration, Instant};

use pgmq_core::{Error, Outcome, QueueOptions, ReceiveOptions, SendOptions, Uuid};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

async fn rows_with_id(raw: &tokio_postgres::Client, id: Uuid) -> i64 {
    raw.query_one("SELECT count(*) FROM pgmq.messages WHERE id = $1", &[&id]).await.unwrap().get(0)
}

async fn recorded_outcome(raw: &tokio_postgres::Client, id: Uuid) -> Option<String> {
    raw.query_opt("SELECT outcome FROM pgmq.outcomes WHERE id = $1", &[&id]).await.unwrap().map(|r| r.get(0))
}

#[tokio::test]
async fn cancelled_queued_message_is_never_delivered() {
    // Arrange
    let client = client().await;
    let name = unique("cancel-queued");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();

    // Act
    let cancelled = queue.cancel(&[sent.id()]).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let delivered = timeout(Duration::from_millis(1500), rx.next()).await;

    // Assert
    assert_eq!(cancelled, vec![sent.id()]);
    assert!(delivered.is_err(), "a cancelled message was delivered: {delivered:?}");
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
    assert_eq!(queue.stats().await.unwrap().messages, 0);
}

#[tokio::test]
async fn cancelled_scheduled_message_is_never_delivered() {
    // Arrange: due in 500 ms; a receiver is already waiting for it.
    let client = client().await;
    let name = unique("cancel-scheduled");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent_at = Instant::now();
    let sent =
        queue.send(b"x".to_vec(), &SendOptions::default().delay(Duration::from_millis(500))).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let waiting = tokio::spawn(async move { rx.next().await });

    // Act
    let cancelled = queue.cancel(&[sent.id()]).await.unwrap();
    // Wait until 1.5 s past its schedule.
    let delivered = timeout(Duration::from_millis(2000).saturating_sub(sent_at.elapsed()), waiting).await;

    // Assert
    assert_eq!(cancelled, vec![sent.id()]);
    assert!(delivered.is_err(), "a cancelled scheduled message was delivered: {delivered:?}");
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
    assert_eq!(queue.stats().await.unwrap().messages, 0);
}

#[tokio::test]
async fn cancelling_an_in_flight_message_signals_its_holder_and_it_is_never_redelivered() {
    // Arrange: a 3 s deadline (a heartbeat every second); a worker holds the message and another waits.
    let client = client().await;
    let other = crate::common::client().await;
    let raw = raw().await;
    let name = unique("cancel-inflight");
    client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(3))).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();
    // Wait for the holder's first heartbeat (it moves the lease expiry): from then on it listens for
    // cancellations, and its next heartbeat is a second away, so only the notification can be fast.
    let lease_expiry = || async {
        let row = raw.query_one("SELECT available_at FROM pgmq.messages WHERE id = $1", &[&sent.id()]).await;
        row.unwrap().get::<_, std::time::SystemTime>(0)
    };
    let claimed_expiry = lease_expiry().await;
    assert!(eventually(FIVE_S, || async { lease_expiry().await > claimed_expiry }).await, "no heartbeat");
    let mut rx2 = other.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    assert!(!msg.is_cancelled());

    // Act
    let cancelled = queue.cancel(&[sent.id()]).await.unwrap();
    let cancel_returned = Instant::now();
    timeout(FIVE_S, msg.cancelled()).await.expect("holder never signalled");
    let signalled_after = cancel_returned.elapsed();
    let again = queue.cancel(&[sent.id()]).await.unwrap();
    let ack = msg.ack().await;

    // Assert
    assert_eq!(cancelled, vec![sent.id()]);
    assert!(signalled_after < Duration::from_millis(100), "holder signalled {signalled_after:?} after cancel");
    assert!(msg.is_cancelled());
    assert_eq!(again, vec![sent.id()], "a message being cancelled is still found");
    assert!(ack.is_ok(), "ack of a cancelled message: {ack:?}");
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
    assert_eq!(recorded_outcome(&raw, sent.id()).await.as_deref(), Some("cancelled"), "the ack overwrote it");
    assert_eq!(rows_with_id(&raw, sent.id()).await, 0);
    let redelivered = timeout(Duration::from_millis(1500), rx2.next()).await;
    assert!(redelivered.is_err(), "a cancelled message was redelivered: {redelivered:?}");
}

#[tokio::test]
async fn cancelled_in_flight_message_dropped_by_its_holder_is_not_redelivered() {
    // Arrange
    let client = client().await;
    let other = crate::common::client().await;
    let raw = raw().await;
    let name = unique("cancel-drop");
    client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(2))).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();
    let mut rx2 = other.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();

    // Act
    assert_eq!(queue.cancel(&[sent.id()]).await.unwrap(), vec![sent.id()]);
    timeout(FIVE_S, msg.cancelled()).await.expect("holder never signalled");
    drop(msg); // a release would normally redeliver at once

    // Assert
    let redelivered = timeout(Duration::from_millis(1500), rx2.next()).await;
    assert!(redelivered.is_err(), "a cancelled message was redelivered: {redelivered:?}");
    assert_eq!(rows_with_id(&raw, sent.id()).await, 0);
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
}

#[tokio::test]
async fn cancelled_message_whose_holder_hung_is_not_redelivered_when_its_lease_lapses() {
    // Arrange: 1 s deadline; the holder's client stops heartbeating.
    let client = client().await;
    let worker = crate::common::client().await;
    let raw = raw().await;
    let name = unique("cancel-lapse");
    client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(1))).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let held = worker.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    // Act
    assert_eq!(queue.cancel(&[sent.id()]).await.unwrap(), vec![sent.id()]);
    worker.close().await;
    let redelivered = timeout(Duration::from_millis(2500), rx.next()).await;

    // Assert: never redelivered, and housekeeping removes the lapsed row.
    assert!(redelivered.is_err(), "a cancelled message was redelivered: {redelivered:?}");
    assert!(eventually(FIVE_S, || async { rows_with_id(&raw, sent.id()).await == 0 }).await, "row left behind");
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
    assert_eq!(queue.stats().await.unwrap().dead_lettered, 0);
    drop(held);
}

#[tokio::test]
async fn cancel_of_unknown_ids_returns_only_the_known_ones() {
    // Arrange
    let client = client().await;
    let name = unique("cancel-unknown");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let (unknown1, unknown2) = (Uuid::now_v7(), Uuid::now_v7());

    // Act
    let none = queue.cancel(&[unknown1]).await.unwrap();
    let empty = queue.cancel(&[]).await.unwrap();
    let mixed = queue.cancel(&[unknown1, sent.id(), unknown2]).await.unwrap();

    // Assert
    assert!(none.is_empty(), "{none:?}");
    assert!(empty.is_empty(), "{empty:?}");
    assert_eq!(mixed, vec![sent.id()]);
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);
}

#[tokio::test]
async fn cancel_on_an_unknown_queue_fails_with_queue_not_found() {
    // Arrange
    let client = client().await;
    let name = unique("cancel-noqueue");

    // Act
    let result = client.queue(&name).unwrap().cancel(&[Uuid::now_v7()]).await;

    // Assert
    assert!(matches!(&result, Err(Error::QueueNotFound(n)) if *n == name), "{result:?}");
    assert_eq!(result.unwrap_err().code(), "queue_not_found");
}

#[tokio::test]
async fn a_forged_cancel_notification_does_not_signal_the_holder() {
    // Arrange: two held messages.
    let client = client().await;
    let name = unique("cancel-forged");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    queue.send_batch(vec![b"a".to_vec().into(), b"b".to_vec().into()], &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    let mut held = timeout(FIVE_S, rx.next_batch()).await.unwrap().unwrap();
    while held.len() < 2 {
        held.extend(timeout(FIVE_S, rx.next_batch()).await.unwrap().unwrap());
    }
    let (b, a) = (held.pop().unwrap(), held.pop().unwrap());
    let raw = raw().await;
    let queue_id: i64 = raw.query_one("SELECT id FROM pgmq.queues WHERE name = $1", &[&name]).await.unwrap().get(0);

    // Act: any role may NOTIFY the cancel channel with a's id; then b is cancelled for real, and its
    // notification arrives after the forged one.
    raw.execute("SELECT pg_notify($1, $2)", &[&format!("pgmq_x_{queue_id}"), &a.id().to_string()]).await.unwrap();
    queue.cancel(&[b.id()]).await.unwrap();
    timeout(FIVE_S, b.cancelled()).await.expect("the real cancel reaches its holder");

    // Assert
    assert!(!a.is_cancelled(), "a forged notification cancelled a message");
    a.ack().await.unwrap();
}
