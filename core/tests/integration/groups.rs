//! Job groups: messages sent with a group id, in one queue or several, are cancelled, awaited and counted
//! together; sends without a group write nothing for it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgmq_core::{Error, OutgoingMessage, Outcome, QueueOptions, ReceiveOptions, SendOptions};
use futures_util::FutureExt;
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

async fn queue(client: &pgmq_core::Client, prefix: &str, options: QueueOptions) -> pgmq_core::Queue {
    let name = unique(prefix);
    client.create_queue(&name, &options).await.unwrap();
    client.queue(&name).unwrap()
}

fn in_group(group: &str) -> SendOptions {
    SendOptions::default().group(group)
}

#[tokio::test]
async fn a_group_spans_queues_and_is_counted_and_cancelled_per_queue_or_everywhere() {
    // Arrange: group g has 2 messages in `a` (one held by a worker) and 1 scheduled in `b`; `a` also has
    // an ungrouped message.
    let client = client().await;
    let group = unique("g");
    let a = queue(&client, "group-a", QueueOptions::default()).await;
    let b = queue(&client, "group-b", QueueOptions::default()).await;
    let held_id = a.send(b"held".to_vec(), &in_group(&group)).await.unwrap().id();
    let mut rx = a.receiver(ReceiveOptions::default()).unwrap();
    let held = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    let batch = vec![OutgoingMessage::new(b"queued".to_vec())];
    let queued = a.send_batch(batch, &in_group(&group)).await.unwrap();
    let other = a.send(b"not in the group".to_vec(), &SendOptions::default()).await.unwrap();
    let later = b.send(b"later".to_vec(), &in_group(&group).delay(Duration::from_secs(3600))).await.unwrap();

    // Assert: counts per queue and across queues.
    let in_a = a.group_stats(&group).await.unwrap();
    assert_eq!((in_a.messages, in_a.ready, in_a.leased, in_a.scheduled), (2, 1, 1, 0));
    let everywhere = client.group_stats(&group).await.unwrap();
    assert_eq!((everywhere.messages, everywhere.ready, everywhere.leased, everywhere.scheduled), (3, 1, 1, 1));

    // Act: cancel in `a` only.
    let mut cancelled = a.cancel_group(&group).await.unwrap();
    cancelled.sort();
    let mut expected = vec![held_id, queued.ids()[0]];
    expected.sort();
    assert_eq!(cancelled, expected);
    timeout(FIVE_S, held.cancelled()).await.expect("the holder is signalled");
    assert_eq!(b.group_stats(&group).await.unwrap().scheduled, 1, "b untouched");
    assert_eq!(a.stats().await.unwrap().ready, 1, "the ungrouped message stays");

    // Act: cancel everywhere (the held message, still being cancelled, is found again, as by `cancel`).
    let mut everywhere = client.cancel_group(&group).await.unwrap();
    everywhere.sort();
    let mut expected = vec![held_id, later.id()];
    expected.sort();
    assert_eq!(everywhere, expected);

    // Assert
    held.ack().await.unwrap();
    let after = client.group_stats(&group).await.unwrap();
    assert_eq!((after.messages, after.cancelled, after.completed), (0, 3, 0));
    assert_eq!(other.completion().ids().len(), 1);
    assert!(client.cancel_group(&group).await.unwrap().is_empty(), "nothing left to cancel");
}

#[tokio::test]
async fn waiting_for_a_group_is_woken_by_its_last_outcome() {
    // Arrange: 3 messages of one group in two queues; one worker per queue.
    let client = client().await;
    let group = unique("wait");
    let a = queue(&client, "group-wait-a", QueueOptions::default()).await;
    let b = queue(&client, "group-wait-b", QueueOptions::default().max_delivery_attempts(1)).await;
    let two = vec![OutgoingMessage::new(b"1".to_vec()), OutgoingMessage::new(b"2".to_vec())];
    let sent_a = a.send_batch(two, &in_group(&group)).await.unwrap();
    let sent_b = b.send(b"3".to_vec(), &in_group(&group)).await.unwrap();
    let waiter = tokio::spawn({
        let client = client.clone();
        let group = group.clone();
        async move {
            let outcomes = client.wait_for_group(&group).await;
            (outcomes, Instant::now())
        }
    });
    let mut rx_a = a.receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    let mut rx_b = b.receiver(ReceiveOptions::default()).unwrap();
    for m in timeout(FIVE_S, rx_a.next_batch()).await.unwrap().unwrap() {
        m.ack().await.unwrap();
    }
    let last = timeout(FIVE_S, rx_b.next()).await.unwrap().unwrap();
    // The waiter has seen two outcomes and sleeps on the two queues' channels.
    let channels = |client: pgmq_core::Client| async move { client.listener_server_channels().await.unwrap_or_default() };
    assert!(
        eventually(FIVE_S, || async { channels(client.clone()).await.iter().filter(|c| c.starts_with("pgmq_c_")).count() >= 2 })
            .await,
        "the waiter never subscribed to both queues"
    );
    assert!(!waiter.is_finished());

    // Act: the last one fails for good.
    last.nack(Default::default()).await.unwrap();
    let finished = Instant::now();

    // Assert
    let (outcomes, woke) = timeout(FIVE_S, waiter).await.unwrap().unwrap();
    let outcomes = outcomes.unwrap();
    let mut expected: HashMap<_, _> = sent_a.ids().iter().map(|id| (*id, Outcome::Completed)).collect();
    expected.insert(sent_b.id(), Outcome::DeadLettered);
    assert_eq!(outcomes, expected);
    let after = woke.saturating_duration_since(finished);
    assert!(after < Duration::from_secs(2), "woken {after:?} after the last outcome");
    // Per queue, and for an unknown group: at once.
    assert_eq!(a.wait_for_group(&group).await.unwrap().len(), 2);
    assert!(client.wait_for_group(&unique("nobody")).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_group_ids_and_untracked_grouped_sends_are_refused() {
    let client = client().await;
    let q = queue(&client, "group-bad", QueueOptions::default()).await;
    for group in [String::new(), "x".repeat(256), "a\0b".to_owned()] {
        let sent = q.send(b"x".to_vec(), &in_group(&group)).await;
        assert!(matches!(sent, Err(Error::InvalidOption(_))), "{group:?}: {sent:?}");
        assert!(matches!(client.group_stats(&group).await, Err(Error::InvalidOption(_))));
    }
    let untracked = q.send(b"x".to_vec(), &in_group("g").track(false)).await;
    assert!(matches!(untracked, Err(Error::InvalidOption(_))), "{untracked:?}");
    assert_eq!(q.stats().await.unwrap().messages, 0);
    let missing = client.queue(&unique("group-missing")).unwrap();
    assert!(matches!(missing.cancel_group("g").await, Err(Error::QueueNotFound(_))));
    q.send(b"x".to_vec(), &in_group(&"é".repeat(127))).await.unwrap();
}

#[tokio::test]
async fn members_are_forgotten_with_their_outcomes_and_ungrouped_sends_record_none() {
    // Arrange: outcomes kept 1 s; housekeeping every 100 ms (the test client's).
    let client = client().await;
    let raw = raw().await;
    let group = unique("forget");
    let q = queue(&client, "group-forget", QueueOptions::default().retention_period(Duration::from_secs(1))).await;
    q.send(b"plain".to_vec(), &SendOptions::default()).await.unwrap();
    let sent = q.send(b"grouped".to_vec(), &in_group(&group)).await.unwrap();
    let count = |sql: &'static str, arg: String| {
        let raw = &raw;
        async move { raw.query_one(sql, &[&arg]).await.unwrap().get::<_, i64>(0) }
    };
    const BY_GROUP: &str = "SELECT count(*) FROM pgmq.group_members WHERE group_id = $1";
    const BY_QUEUE: &str =
        "SELECT count(*) FROM pgmq.group_members g JOIN pgmq.queues q ON q.id = g.queue_id WHERE q.name = $1";
    assert_eq!(count(BY_QUEUE, q.name().to_owned()).await, 1, "only the grouped send is a member");
    assert_eq!(count(BY_GROUP, group.clone()).await, 1);

    // Act: finish it; its outcome expires after the retention period, and housekeeping deletes it.
    q.cancel(&[sent.id()]).await.unwrap();

    // Assert
    assert_eq!(client.group_stats(&group).await.unwrap().cancelled, 1);
    let forgotten = eventually(FIVE_S, || count(BY_GROUP, group.clone()).then(|n| std::future::ready(n == 0))).await;
    assert!(forgotten, "the member outlived its outcome");
}
