//! The NOTIFY protocol has two writers, the Rust code (pgmq_core::protocol) and the SQL functions of the
//! schema: they build the same channel names and the same payloads.

use std::time::Duration;

use pgmq_core::protocol::{
    cancelled_channel, completed_channel, decode_ids, encode_ids, ready_channel, IdPayload, EVERYTHING, NOTIFY_MAX_IDS,
    QUEUES_CHANNEL,
};
use pgmq_core::{dlq_name, NackOptions, QueueOptions, ReceiveOptions, SendOptions, Uuid};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sql_and_rust_write_and_read_the_same_id_payloads() {
    let _client = client().await; // migrated
    let raw = raw().await;
    for n in [0, 1, NOTIFY_MAX_IDS, NOTIFY_MAX_IDS + 1] {
        // Arrange
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();

        // Act
        let sql: String = raw.query_one("SELECT pgmq._id_payload($1::uuid[])", &[&ids]).await.unwrap().get(0);

        // Assert
        assert_eq!(sql, encode_ids(&ids), "{n} ids");
        let expected = if n > NOTIFY_MAX_IDS { IdPayload::Everything } else { IdPayload::Ids(ids) };
        assert_eq!(decode_ids(&sql), expected, "{n} ids");
    }
    let sql: String = raw
        .query_one("SELECT pgmq._id_payload(ARRAY(SELECT gen_random_uuid() FROM generate_series(1, 1000)))", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sql, EVERYTHING);
}

/// Waits for each (channel, payload) in `expected`, in any order, among whatever else arrives.
async fn expect_notifications(notes: &mut tokio::sync::mpsc::UnboundedReceiver<(String, String)>, expected: &[(String, String)]) {
    let mut missing: Vec<&(String, String)> = expected.iter().collect();
    let mut seen = Vec::new();
    while !missing.is_empty() {
        let Ok(Some(note)) = timeout(FIVE_S, notes.recv()).await else {
            panic!("never notified: {missing:?}; seen: {seen:?}");
        };
        missing.retain(|m| **m != note);
        seen.push(note);
    }
}

#[tokio::test]
async fn the_sql_functions_notify_on_the_channels_rust_listens_to() {
    // Arrange: two tracked messages held by a worker, on a queue with two attempts. The sending client
    // is closed first (which flushes its own notifications), so what follows is the SQL functions' doing.
    let sender = client().await;
    let raw = raw().await;
    let name = unique("protocol");
    let (listening, mut queues_notes) = listen_on(&[QUEUES_CHANNEL.to_owned()]).await;
    sender.create_queue(&name, &QueueOptions::default().max_delivery_attempts(2)).await.unwrap();
    expect_notifications(&mut queues_notes, &[(QUEUES_CHANNEL.to_owned(), name.clone())]).await;
    drop(listening);
    let batch = sender
        .queue(&name)
        .unwrap()
        .send_batch(vec!["cancel me".into(), "fail me".into()], &SendOptions::default())
        .await
        .unwrap();
    sender.close().await;
    let (queue, dlq) = (queue_id_in(&raw, &name).await, queue_id_in(&raw, &dlq_name(&name)).await);
    let channels = [ready_channel(queue), completed_channel(queue), cancelled_channel(queue), ready_channel(dlq)];
    let (_listening, mut notes) = listen_on(&channels).await;
    let worker = client().await;
    let mut rx = worker.queue(&name).unwrap().receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    let held = timeout(FIVE_S, rx.next_batch()).await.unwrap().unwrap();
    let (cancel_me, fail_me) = (batch.ids()[0], batch.ids()[1]);
    assert_eq!(held.iter().map(|m| m.id()).collect::<Vec<_>>(), [cancel_me, fail_me]);

    // Act 1: pgmq.cancel of a held message; pgmq.nack of the other (attempts left).
    worker.queue(&name).unwrap().cancel(&[cancel_me]).await.unwrap();
    let mut held = held.into_iter();
    let cancelled = held.next().unwrap();
    held.next().unwrap().nack(NackOptions::default()).await.unwrap();

    // Assert 1: the holders' channel and the waiters' channel carry the id; the receivers' channel, nothing.
    let one = encode_ids(&[cancel_me]);
    expect_notifications(
        &mut notes,
        &[(cancelled_channel(queue), one.clone()), (completed_channel(queue), one), (ready_channel(queue), String::new())],
    )
    .await;

    // Act 2: its last attempt fails: pgmq.nack moves it to the DLQ (pgmq._dead_letter, pgmq._finish).
    let last = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    assert_eq!((last.id(), last.delivery_attempt()), (fail_me, 2));
    last.nack(NackOptions::default()).await.unwrap();

    // Assert 2
    expect_notifications(
        &mut notes,
        &[(ready_channel(dlq), String::new()), (completed_channel(queue), encode_ids(&[fail_me]))],
    )
    .await;
    drop(cancelled);
    worker.close().await;
}
