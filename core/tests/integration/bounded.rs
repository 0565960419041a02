//! Bounded queues: `max_messages` holds under concurrent senders, a send that does not fit fails at once
//! or waits for room (woken by the acks), a batch fits whole or not at all, and every way into a queue
//! (send, the SQL send, redrive) respects the bound.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_core::{outbox, Error, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions, DEFAULTS};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

fn fail_when_full() -> SendOptions {
    SendOptions::default().wait_for_room(None)
}

async fn bounded(client: &pgmq_core::Client, prefix: &str, max: u64) -> pgmq_core::Queue {
    let name = unique(prefix);
    client.create_queue(&name, &QueueOptions::default().max_messages(Some(max))).await.unwrap();
    client.queue(&name).unwrap()
}

async fn count(raw: &tokio_postgres::Client, queue: &pgmq_core::Queue) -> i64 {
    raw.query_one(
        "SELECT count(*) FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = $1",
        &[&queue.name()],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_send_that_does_not_fit_fails_whole_and_writes_nothing() {
    // Arrange: room for 3; one scheduled, one leased, one ready.
    let client = client().await;
    let raw = raw().await;
    let queue = bounded(&client, "bounded-full", 3).await;
    queue.send(b"later".to_vec(), &fail_when_full().delay(Duration::from_secs(3600))).await.unwrap();
    queue.send(b"held".to_vec(), &fail_when_full()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let held = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    queue.send(b"ready".to_vec(), &fail_when_full()).await.unwrap();

    // Act
    let one_more = queue.send(b"x".to_vec(), &fail_when_full()).await;

    // Assert
    match one_more {
        Err(e @ Error::QueueFull(_)) => {
            assert_eq!(e.code(), "queue_full");
            assert!(e.is_transient());
            assert!(e.to_string().contains(queue.name()), "{e}");
        }
        other => panic!("expected queue_full, got {other:?}"),
    }
    assert_eq!(count(&raw, &queue).await, 3);
    // A batch that fits only in part fits not at all.
    held.ack().await.unwrap();
    let batch = vec![OutgoingMessage::new(b"a".to_vec()), OutgoingMessage::new(b"b".to_vec())];
    assert!(matches!(queue.send_batch(batch, &fail_when_full()).await, Err(Error::QueueFull(_))));
    assert_eq!(count(&raw, &queue).await, 2);
    queue.send(b"fits".to_vec(), &fail_when_full()).await.unwrap();
    assert_eq!(count(&raw, &queue).await, 3);
    // A batch larger than the bound never fits: refused at once, however long the send would wait.
    let four = (0..4).map(|_| OutgoingMessage::new(b"x".to_vec())).collect();
    let started = Instant::now();
    let never = queue.send_batch(four, &SendOptions::default().wait_for_room(Some(Duration::from_secs(30)))).await;
    assert!(matches!(&never, Err(Error::InvalidOption(m)) if m.contains("never fits")), "{never:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_waiting_send_is_woken_by_the_ack_that_makes_room() {
    // Arrange: a full queue of 1, its message held by a worker.
    let client = client().await;
    let queue = bounded(&client, "bounded-wait", 1).await;
    queue.send(b"first".to_vec(), &fail_when_full()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let first = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    let sender = client.queue(queue.name()).unwrap();
    let waiting = tokio::spawn(async move {
        let sent = sender.send(b"second".to_vec(), &SendOptions::default().wait_for_room(Some(Duration::from_secs(20)))).await;
        (sent, Instant::now())
    });
    // The sender was refused and sleeps on the room channel.
    let id: i64 = raw().await.query_one("SELECT id FROM pgmq.queues WHERE name = $1", &[&queue.name()]).await.unwrap().get(0);
    let room = format!("pgmq_r_{id}");
    assert!(
        eventually(FIVE_S, || async { client.listener_server_channels().await.unwrap_or_default().contains(&room) }).await,
        "the sender never listened for room"
    );

    // Act
    first.ack().await.unwrap();
    let acked = Instant::now();

    // Assert: woken by the ack's notification, not by the 1 s safety net.
    let (sent, done) = timeout(FIVE_S, waiting).await.unwrap().unwrap();
    sent.unwrap();
    let after = done.saturating_duration_since(acked);
    assert!(after < DEFAULTS.send.room_poll_interval / 2, "the send went through {after:?} after the ack");
    let second = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    assert_eq!(second.body(), b"second");
}

#[tokio::test]
async fn a_waiting_send_gives_up_after_its_wait_with_queue_full() {
    // Arrange
    let client = client().await;
    let raw = raw().await;
    let queue = bounded(&client, "bounded-timeout", 1).await;
    queue.send(b"first".to_vec(), &fail_when_full()).await.unwrap();

    // Act
    let started = Instant::now();
    let result = queue.send(b"second".to_vec(), &SendOptions::default().wait_for_room(Some(Duration::from_millis(300)))).await;

    // Assert
    assert!(matches!(&result, Err(Error::QueueFull(m)) if m.contains("waited")), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(count(&raw, &queue).await, 1);
}

#[tokio::test]
async fn eight_racing_senders_never_exceed_the_bound() {
    // Arrange: a bound of 50; a checker reads the table's count all along; a worker acks slowly.
    const BOUND: u64 = 50;
    let client = client().await;
    let queue = bounded(&client, "bounded-race", BOUND).await;
    let stop = Arc::new(AtomicBool::new(false));
    let highest = Arc::new(AtomicU64::new(0));
    let checker = tokio::spawn({
        let (stop, highest, queue) = (stop.clone(), highest.clone(), queue.clone());
        async move {
            let raw = raw().await;
            while !stop.load(Ordering::Relaxed) {
                highest.fetch_max(count(&raw, &queue).await as u64, Ordering::Relaxed);
            }
        }
    });
    let acked = Arc::new(AtomicU64::new(0));
    let worker = tokio::spawn({
        let (stop, acked, queue) = (stop.clone(), acked.clone(), queue.clone());
        async move {
            let mut rx = queue.receiver(ReceiveOptions::default().batch_size(5)).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let Ok(Ok(batch)) = timeout(Duration::from_millis(200), rx.next_batch()).await else { continue };
                for m in batch {
                    m.ack().await.unwrap();
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });

    // Act: 8 senders, 60 sends each of 1 to 3 messages, half failing at once when full, half waiting.
    let senders: Vec<_> = (0..8u64)
        .map(|s| {
            let queue = client.queue(queue.name()).unwrap();
            tokio::spawn(async move {
                let (mut sent, mut refused) = (0u64, 0u64);
                for i in 0..60u64 {
                    let n = 1 + (s + i) % 3;
                    let batch = (0..n).map(|_| OutgoingMessage::new(b"x".to_vec())).collect();
                    let options = if s % 2 == 0 { fail_when_full() } else { SendOptions::default() };
                    match queue.send_batch(batch, &options).await {
                        Ok(_) => sent += n,
                        Err(Error::QueueFull(_)) => refused += n,
                        Err(e) => panic!("{e}"),
                    }
                }
                (sent, refused)
            })
        })
        .collect();
    let mut sent = 0;
    let mut refused = 0;
    for s in senders {
        let (a, b) = timeout(Duration::from_secs(120), s).await.unwrap().unwrap();
        sent += a;
        refused += b;
    }
    stop.store(true, Ordering::Relaxed);
    checker.await.unwrap();
    worker.await.unwrap();

    // Assert: the bound held at every reading, and nothing was lost or written twice.
    let raw = raw().await;
    let left = count(&raw, &queue).await as u64;
    assert!(highest.load(Ordering::Relaxed) <= BOUND, "the table held {} > {BOUND}", highest.load(Ordering::Relaxed));
    assert!(left <= BOUND);
    assert_eq!(sent, acked.load(Ordering::Relaxed) + left, "sent = acked + left");
    assert!(sent > BOUND, "only {sent} sent: the senders barely raced ({refused} refused)");
}

#[tokio::test]
async fn the_bound_can_be_lowered_lifted_and_is_listed() {
    // Arrange
    let client = client().await;
    let queue = bounded(&client, "bounded-change", 5).await;
    for _ in 0..4 {
        queue.send(b"x".to_vec(), &fail_when_full()).await.unwrap();
    }
    let info = client.list_queues().await.unwrap().into_iter().find(|q| q.name == queue.name()).unwrap();
    assert_eq!(info.max_messages, Some(5));

    // Act + Assert: lowered below the depth, nothing fits; lifted, anything does.
    queue.set_max_messages(Some(2)).await.unwrap();
    assert!(matches!(queue.send(b"x".to_vec(), &fail_when_full()).await, Err(Error::QueueFull(_))));
    queue.set_max_messages(None).await.unwrap();
    for _ in 0..10 {
        queue.send(b"x".to_vec(), &fail_when_full()).await.unwrap();
    }
    let info = client.list_queues().await.unwrap().into_iter().find(|q| q.name == queue.name()).unwrap();
    assert_eq!(info.max_messages, None);
    // Raised on a queue holding messages: the first send counts them.
    queue.set_max_messages(Some(15)).await.unwrap();
    queue.send(b"x".to_vec(), &fail_when_full()).await.unwrap();
    assert!(matches!(queue.send(b"x".to_vec(), &fail_when_full()).await, Err(Error::QueueFull(_))));
}

#[tokio::test]
async fn bad_bounds_are_refused() {
    let client = client().await;
    let name = unique("bounded-bad");
    let zero = client.create_queue(&name, &QueueOptions::default().max_messages(Some(0))).await;
    assert!(matches!(zero, Err(Error::InvalidOption(_))), "{zero:?}");
    let huge = client.create_queue(&name, &QueueOptions::default().max_messages(Some(u64::MAX))).await;
    assert!(matches!(huge, Err(Error::InvalidOption(_))), "{huge:?}");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let dlq = client.queue(&pgmq_core::dlq_name(&name)).unwrap();
    assert!(matches!(dlq.set_max_messages(Some(3)).await, Err(Error::InvalidOption(_))));
    assert!(matches!(client.queue(&unique("bounded-missing")).unwrap().set_max_messages(Some(3)).await, Err(Error::QueueNotFound(_))));
}

#[tokio::test]
async fn the_sql_send_and_redrive_respect_the_bound() {
    // Arrange: a bound of 2 holding 1; a message in another queue to redrive from.
    let client = client().await;
    let raw = raw().await;
    let queue = bounded(&client, "bounded-sql", 2).await;
    queue.send(b"x".to_vec(), &fail_when_full()).await.unwrap();
    let source = unique("bounded-source");
    client.create_queue(&source, &QueueOptions::default()).await.unwrap();
    client.queue(&source).unwrap().send(b"y".to_vec(), &fail_when_full()).await.unwrap();

    // Act + Assert: the SQL send of 2 does not fit, of 1 does.
    let two = vec![OutgoingMessage::new(b"a".to_vec()), OutgoingMessage::new(b"b".to_vec())];
    let mut pg = raw_owned().await;
    let tx = pg.transaction().await.unwrap();
    assert!(matches!(outbox::send_batch(&tx, queue.name(), two, &SendOptions::default()).await, Err(Error::QueueFull(_))));
    drop(tx);
    let tx = pg.transaction().await.unwrap();
    outbox::send(&tx, queue.name(), OutgoingMessage::new(b"c".to_vec()), &SendOptions::default()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&raw, &queue).await, 2);
    // Redrive into a full queue moves nothing.
    assert!(matches!(client.redrive(&source, queue.name()).await, Err(Error::QueueFull(_))));
    assert_eq!(count(&raw, &queue).await, 2);
    assert_eq!(count(&raw, &client.queue(&source).unwrap()).await, 1);
}

async fn raw_owned() -> tokio_postgres::Client {
    raw().await
}
