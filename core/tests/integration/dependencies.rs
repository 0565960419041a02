//! Dependencies between messages: a message waits, unclaimable, until every message it depends on has
//! completed; when one finishes any other way its dependents are cancelled with a reason, transitively.

use std::collections::HashSet;
use std::time::Duration;

use pgmq_core::{
    Error, MessageState, NackOptions, OutgoingMessage, Outcome, PeekOptions, QueueOptions, ReceiveOptions,
    SendOptions, Uuid,
};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

async fn queue(client: &pgmq_core::Client, prefix: &str, options: QueueOptions) -> pgmq_core::Queue {
    let name = unique(prefix);
    client.create_queue(&name, &options).await.unwrap();
    client.queue(&name).unwrap()
}

fn after(ids: &[Uuid]) -> SendOptions {
    SendOptions::default().depends_on(ids.iter().copied())
}

/// Claims the one message ready in `queue`, with its body; panics if there is none within 5 s.
async fn take(queue: &pgmq_core::Queue) -> pgmq_core::Message {
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let m = timeout(FIVE_S, rx.next()).await.expect("a message becomes ready").unwrap();
    rx.close();
    m
}

/// The rows pgmq keeps for dependencies of these messages (edges as dependency or dependent, waiting rows).
async fn rows_about(ids: &[Uuid]) -> i64 {
    let raw = raw().await;
    let ids = ids.to_vec();
    raw.query_one(
        "SELECT (SELECT count(*) FROM pgmq.dependencies WHERE dependency = ANY($1) OR dependent = ANY($1))
              + (SELECT count(*) FROM pgmq.waiting WHERE id = ANY($1))",
        &[&ids],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_diamond_across_two_queues_runs_its_last_message_once_after_both_middles() {
    // Arrange: A in `a`; B and C in `b` depend on A; D in `a` depends on B and C.
    let client = client().await;
    let a = queue(&client, "dep-diamond-a", QueueOptions::default()).await;
    let b = queue(&client, "dep-diamond-b", QueueOptions::default()).await;
    let top = a.send(b"A".to_vec(), &SendOptions::default()).await.unwrap();
    let middle = b
        .send_batch(vec![OutgoingMessage::new(b"B".to_vec()), OutgoingMessage::new(b"C".to_vec())], &after(&[top.id()]))
        .await
        .unwrap();
    let bottom = a.send(b"D".to_vec(), &after(middle.ids())).await.unwrap();

    // Assert: only A is claimable; the others wait.
    assert_eq!((b.stats().await.unwrap().ready, b.stats().await.unwrap().messages), (0, 2));
    let waiting = a.peek(&PeekOptions::default().state(MessageState::Waiting)).await.unwrap();
    assert_eq!(waiting.iter().map(|m| m.id).collect::<Vec<_>>(), vec![bottom.id()]);
    assert_eq!(
        waiting[0].available_at,
        std::time::UNIX_EPOCH + Duration::from_secs(253_402_300_799),
        "a waiting message reads as available at 9999-12-31T23:59:59Z"
    );
    let first = take(&a).await;
    assert_eq!(first.body(), b"A");
    first.ack().await.unwrap();

    // Act: B and C become ready; D only after both.
    let mut rx = b.receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(timeout(FIVE_S, rx.next_batch()).await.unwrap().unwrap());
    }
    rx.close();
    got[0].ack().await.unwrap();
    assert_eq!(a.stats().await.unwrap().ready, 0, "D still waits for the other middle message");
    got[1].ack().await.unwrap();
    let last = take(&a).await;
    assert_eq!(last.body(), b"D");
    last.ack().await.unwrap();

    // Assert: every outcome completed, D ran once, nothing left behind.
    assert_eq!(timeout(FIVE_S, bottom.wait()).await.unwrap().unwrap(), Outcome::Completed);
    assert_eq!(a.stats().await.unwrap().messages + b.stats().await.unwrap().messages, 0);
    let all: Vec<Uuid> = [top.id(), bottom.id()].into_iter().chain(middle.ids().iter().copied()).collect();
    assert_eq!(rows_about(&all).await, 0);
}

#[tokio::test]
async fn a_failed_dependency_cancels_its_dependents_down_the_graph_with_reasons() {
    // Arrange: a chain in one batch, A <- B <- C, and D in another queue depending on B; one attempt each.
    let client = client().await;
    let q = queue(&client, "dep-fail", QueueOptions::default().max_delivery_attempts(1)).await;
    let other = queue(&client, "dep-fail-other", QueueOptions::default()).await;
    let chain = vec![
        OutgoingMessage::new(b"A".to_vec()),
        OutgoingMessage::new(b"B".to_vec()).after([0]),
        OutgoingMessage::new(b"C".to_vec()).after([1]),
    ];
    let sent = q.send_batch(chain, &SendOptions::default()).await.unwrap();
    let (a, b, c) = (sent.ids()[0], sent.ids()[1], sent.ids()[2]);
    let d = other.send(b"D".to_vec(), &after(&[b])).await.unwrap();

    // Act: A fails on its only attempt.
    let m = take(&q).await;
    assert_eq!(m.id(), a);
    m.nack(NackOptions { error: Some("boom".into()), ..Default::default() }).await.unwrap();

    // Assert
    let replies = timeout(FIVE_S, sent.wait_replies()).await.unwrap().unwrap();
    assert_eq!(replies[&a].outcome(), Outcome::DeadLettered);
    assert_eq!(replies[&b].outcome(), Outcome::Cancelled);
    assert_eq!(replies[&b].reason(), Some(format!("dependency {a} was dead_lettered").as_str()));
    assert_eq!(replies[&c].reason(), Some(format!("dependency {b} was cancelled").as_str()));
    let d_reply = timeout(FIVE_S, d.wait_reply()).await.unwrap().unwrap();
    assert_eq!((d_reply.outcome(), d_reply.reason()), (Outcome::Cancelled, Some(format!("dependency {b} was cancelled").as_str())));
    assert_eq!(q.stats().await.unwrap().messages, 0);
    assert_eq!(other.stats().await.unwrap().messages, 0);
    assert_eq!(rows_about(&[a, b, c, d.id()]).await, 0);
}

#[tokio::test]
async fn cancelling_a_waiting_message_cancels_what_depends_on_it_and_releases_nothing() {
    let client = client().await;
    let q = queue(&client, "dep-cancel", QueueOptions::default()).await;
    let batch = vec![
        OutgoingMessage::new(b"A".to_vec()),
        OutgoingMessage::new(b"B".to_vec()).after([0]),
        OutgoingMessage::new(b"C".to_vec()).after([0, 1]),
    ];
    let sent = q.send_batch(batch, &SendOptions::default()).await.unwrap();
    let (a, b, c) = (sent.ids()[0], sent.ids()[1], sent.ids()[2]);

    // Act: cancel B while it waits, then complete A.
    assert_eq!(q.cancel(&[b]).await.unwrap(), vec![b]);
    let m = take(&q).await;
    m.ack().await.unwrap();

    // Assert: C was cancelled with B, and A's completion released nothing.
    let replies = timeout(FIVE_S, sent.wait_replies()).await.unwrap().unwrap();
    assert_eq!(replies[&a].outcome(), Outcome::Completed);
    assert_eq!((replies[&b].outcome(), replies[&b].reason()), (Outcome::Cancelled, None));
    assert_eq!(replies[&c].reason(), Some(format!("dependency {b} was cancelled").as_str()));
    assert_eq!(q.stats().await.unwrap().messages, 0);
    assert_eq!(rows_about(&[a, b, c]).await, 0);
}

#[tokio::test]
async fn bad_dependencies_are_refused_and_nothing_is_written() {
    let client = client().await;
    let q = queue(&client, "dep-refuse", QueueOptions::default()).await;
    let untracked = q.send(b"u".to_vec(), &SendOptions::default().track(false)).await.unwrap().id();
    let cancelled = q.send(b"c".to_vec(), &SendOptions::default()).await.unwrap().id();
    q.cancel(&[cancelled]).await.unwrap();
    let before = q.stats().await.unwrap().messages;

    let refused = |e: Error, needle: &str| {
        assert!(matches!(&e, Error::InvalidOption(m) if m.contains(needle)), "{needle}: {e:?}");
    };
    refused(q.send(b"x".to_vec(), &after(&[Uuid::now_v7()])).await.unwrap_err(), "is unknown");
    refused(q.send(b"x".to_vec(), &after(&[untracked])).await.unwrap_err(), "is not tracked");
    refused(q.send(b"x".to_vec(), &after(&[cancelled])).await.unwrap_err(), "already finished as cancelled");
    let forward = vec![OutgoingMessage::new(b"0".to_vec()).after([1]), OutgoingMessage::new(b"1".to_vec())];
    refused(q.send_batch(forward, &SendOptions::default()).await.unwrap_err(), "only on an earlier entry");
    let itself = vec![OutgoingMessage::new(b"0".to_vec()).after([0])];
    refused(q.send_batch(itself, &SendOptions::default()).await.unwrap_err(), "only on an earlier entry");
    let fire_and_forget = SendOptions::default().track(false).depends_on([untracked]);
    refused(q.send(b"x".to_vec(), &fire_and_forget).await.unwrap_err(), "is tracked");
    let too_many = SendOptions::default().depends_on((0..10_001).map(|_| Uuid::now_v7()));
    refused(q.send(b"x".to_vec(), &too_many).await.unwrap_err(), "at most 10000");

    assert_eq!(q.stats().await.unwrap().messages, before, "nothing was written");
}

#[tokio::test]
async fn a_completed_dependency_counts_and_a_delay_still_holds_after_release() {
    let client = client().await;
    let q = queue(&client, "dep-done", QueueOptions::default()).await;
    let done = q.send(b"done".to_vec(), &SendOptions::default()).await.unwrap();
    take(&q).await.ack().await.unwrap();
    done.wait().await.unwrap();

    // A completed dependency: available at once.
    let now = q.send(b"now".to_vec(), &after(&[done.id()])).await.unwrap();
    let m = take(&q).await;
    assert_eq!(m.id(), now.id());
    m.ack().await.unwrap();

    // An open dependency and an hour's delay: released as scheduled, not ready.
    let open = q.send(b"open".to_vec(), &SendOptions::default()).await.unwrap();
    let later = q.send(b"later".to_vec(), &after(&[open.id()]).delay(Duration::from_secs(3600))).await.unwrap();
    take(&q).await.ack().await.unwrap();
    let s = q.stats().await.unwrap();
    assert_eq!((s.messages, s.ready, s.scheduled), (1, 0, 1));
    let peeked = q.peek(&PeekOptions::default()).await.unwrap();
    assert_eq!((peeked[0].id, peeked[0].state), (later.id(), MessageState::Scheduled));
}

#[tokio::test]
async fn many_dependencies_finishing_at_once_release_their_dependent_exactly_once() {
    // Arrange: D depends on 40 messages that 4 workers ack concurrently, in batches.
    let client = client().await;
    let q = queue(&client, "dep-fan-in", QueueOptions::default()).await;
    let sink = queue(&client, "dep-fan-in-sink", QueueOptions::default()).await;
    let sources = q.send_batch((0..40).map(|i| OutgoingMessage::new(vec![i])).collect(), &SendOptions::default()).await.unwrap();
    let d = sink.send(b"D".to_vec(), &after(sources.ids())).await.unwrap();

    // Act
    let mut workers = Vec::new();
    for _ in 0..4 {
        let q = q.clone();
        workers.push(tokio::spawn(async move {
            let mut rx = q.receiver(ReceiveOptions::default().batch_size(3)).unwrap();
            while let Ok(Ok(batch)) = timeout(Duration::from_millis(500), rx.next_batch()).await {
                for m in batch {
                    m.ack().await.unwrap();
                }
            }
            rx.close();
        }));
    }
    for w in workers {
        w.await.unwrap();
    }

    // Assert: D ready once, and only once.
    sources.wait().await.unwrap();
    let m = take(&sink).await;
    assert_eq!(m.id(), d.id());
    m.ack().await.unwrap();
    assert_eq!(sink.stats().await.unwrap().messages, 0);
    assert_eq!(rows_about(&[d.id()]).await, 0);
}

#[tokio::test]
async fn a_send_racing_its_dependencys_ack_is_never_left_waiting() {
    // Each round: a dependency is acked while a message depending on it is being sent. Whichever commits
    // first, the dependent must end up claimable (never stuck at 'infinity').
    let client = client().await;
    let q = queue(&client, "dep-race", QueueOptions::default()).await;
    let sink = queue(&client, "dep-race-sink", QueueOptions::default()).await;
    let mut seen = HashSet::new();
    for _ in 0..30 {
        let dep = q.send(b"dep".to_vec(), &SendOptions::default()).await.unwrap();
        let m = take(&q).await;
        let options = after(&[dep.id()]);
        let (ack, sent) = tokio::join!(m.ack(), sink.send(b"after".to_vec(), &options));
        ack.unwrap();
        let sent = sent.unwrap();
        let got = take(&sink).await;
        assert_eq!(got.id(), sent.id());
        assert!(seen.insert(got.id()));
        got.ack().await.unwrap();
    }
}

#[tokio::test]
async fn sends_without_dependencies_leave_their_queue_unlinked() {
    let client = client().await;
    let q = queue(&client, "dep-none", QueueOptions::default()).await;
    q.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    take(&q).await.ack().await.unwrap();
    let raw = raw().await;
    let linked: bool =
        raw.query_one("SELECT linked FROM pgmq.queues WHERE name = $1", &[&q.name()]).await.unwrap().get(0);
    assert!(!linked);
}

#[tokio::test]
async fn deleting_a_queue_cancels_what_depends_on_its_messages_elsewhere() {
    let client = client().await;
    let doomed = queue(&client, "dep-doomed", QueueOptions::default()).await;
    let other = queue(&client, "dep-survivor", QueueOptions::default()).await;
    let dep = doomed.send(b"dep".to_vec(), &SendOptions::default()).await.unwrap();
    let waiting = other.send(b"waits".to_vec(), &after(&[dep.id()])).await.unwrap();

    assert!(client.delete_queue(doomed.name()).await.unwrap());

    let reply = timeout(FIVE_S, waiting.wait_reply()).await.unwrap().unwrap();
    assert_eq!(reply.outcome(), Outcome::Cancelled);
    assert_eq!(reply.reason(), Some(format!("dependency {} was cancelled", dep.id()).as_str()));
    assert_eq!(other.stats().await.unwrap().messages, 0);
    assert_eq!(rows_about(&[dep.id(), waiting.id()]).await, 0);
}

#[tokio::test]
async fn a_receiver_idle_on_a_queue_of_waiting_messages_gets_each_once_released() {
    // The receiver starts first: its idle claim sees only a message waiting at 'infinity' (no wake-up time).
    let client = client().await;
    let q = queue(&client, "dep-idle", QueueOptions::default()).await;
    let other = queue(&client, "dep-idle-dep", QueueOptions::default()).await;
    let dep = other.send(b"dep".to_vec(), &SendOptions::default()).await.unwrap();
    let waiting = q.send(b"waits".to_vec(), &after(&[dep.id()])).await.unwrap();
    let mut rx = q.receiver(ReceiveOptions::default()).unwrap();
    let next = tokio::spawn(async move {
        let m = rx.next().await;
        (m, rx)
    });
    tokio::task::yield_now().await;
    assert!(!next.is_finished());

    take(&other).await.ack().await.unwrap();

    let (m, mut rx) = timeout(FIVE_S, next).await.expect("woken by the release").unwrap();
    let m = m.expect("no error while idle");
    assert_eq!(m.id(), waiting.id());
    m.ack().await.unwrap();
    rx.close();
}
