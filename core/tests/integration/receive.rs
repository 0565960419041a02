//! Receiving: batch sizes, order, waiting, capacity, attempts, wake-up latency, races, close, cancel-safety.

use std::time::{Duration, Instant};

use pgmq_core::{
    Client, Error, Message, NackOptions, OutgoingMessage, Queue, QueueOptions, ReceiveOptions, Receiver,
    SendOptions,
};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(5);
/// How long a receiver that should stay empty-handed is watched.
const QUIET: Duration = Duration::from_millis(300);

async fn new_queue(client: &Client, prefix: &str) -> Queue {
    let name = unique(prefix);
    // A long deadline: a redelivery seen by these tests can only come from a release, never from expiry.
    client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(60))).await.unwrap();
    client.queue(&name).unwrap()
}

async fn next(rx: &mut Receiver) -> Message {
    tokio::time::timeout(WAIT, rx.next()).await.expect("a message within 5 s").unwrap()
}

fn body(msg: &Message) -> String {
    String::from_utf8(msg.body().to_vec()).unwrap()
}

#[tokio::test]
async fn batch_size_zero_is_rejected() {
    let client = client().await;
    let queue = client.queue(&unique("batch-zero")).unwrap();

    let err = queue.receiver(ReceiveOptions::default().batch_size(0)).unwrap_err();

    assert!(matches!(err, Error::InvalidOption(_)), "{err:?}");
    assert_eq!(err.code(), "invalid_option");
    for n in [-1, 0, 100_001, i64::MIN] {
        let err = ReceiveOptions::checked_batch_size(n).unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)), "{n}: {err:?}");
    }
    assert_eq!(ReceiveOptions::checked_batch_size(1).unwrap(), 1);
    assert_eq!(ReceiveOptions::checked_batch_size(100_000).unwrap(), 100_000);
    let err = queue.receiver(ReceiveOptions::default().poll_interval(Duration::ZERO)).unwrap_err();
    assert_eq!(err.code(), "invalid_option");
    client.close().await;
}

#[tokio::test]
async fn messages_arrive_in_send_order_within_and_across_sends() {
    let client = client().await;
    let queue = new_queue(&client, "fifo").await;
    let batch: Vec<OutgoingMessage> = (0..50).map(|i| OutgoingMessage::new(format!("batch-{i}"))).collect();
    queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    for i in 0..50 {
        queue.send(format!("single-{i}"), &SendOptions::default()).await.unwrap();
    }
    let expected: Vec<String> =
        (0..50).map(|i| format!("batch-{i}")).chain((0..50).map(|i| format!("single-{i}"))).collect();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(7)).unwrap();

    let mut received = Vec::new();
    while received.len() < expected.len() {
        let msg = next(&mut rx).await;
        received.push(body(&msg));
        msg.ack().await.unwrap();
    }

    assert_eq!(received, expected);
    client.close().await;
}

#[tokio::test]
async fn receiver_on_unknown_queue_waits_and_gets_the_message_once_the_queue_exists() {
    let client = client().await;
    let name = unique("later");
    let queue = client.queue(&name).unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let receiving = rx.next();
    tokio::pin!(receiving);

    let early = tokio::time::timeout(QUIET, &mut receiving).await;
    assert!(early.is_err(), "waits without error or message: {early:?}");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let start = Instant::now();
    let sent = queue.send(b"first".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(2), &mut receiving)
        .await
        .expect("delivered within 2 s of the send")
        .unwrap();

    assert_eq!(msg.id(), sent.id());
    assert!(start.elapsed() < Duration::from_secs(2));
    client.close().await;
}

#[tokio::test]
async fn receiver_holds_at_most_batch_size_messages() {
    let client = client().await;
    let queue = new_queue(&client, "capacity").await;
    let batch: Vec<OutgoingMessage> = (0..10).map(|i| OutgoingMessage::new(format!("{i}"))).collect();
    queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(3)).unwrap();

    let held = tokio::time::timeout(WAIT, rx.next_batch()).await.unwrap().unwrap();
    assert_eq!(held.len(), 3);
    assert_eq!(queue.stats().await.unwrap().leased, 3);
    assert!(tokio::time::timeout(QUIET, rx.next()).await.is_err(), "a 4th message while 3 are held");
    assert_eq!(queue.stats().await.unwrap().leased, 3, "nothing more was leased while waiting");

    let mut held = std::collections::VecDeque::from(held);
    held.pop_front().unwrap().ack().await.unwrap();
    let fourth =
        tokio::time::timeout(Duration::from_secs(2), rx.next()).await.expect("a slot was freed").unwrap();
    held.push_back(fourth);
    let mut received = 4;
    while received < 10 {
        assert!(queue.stats().await.unwrap().leased <= 3);
        held.pop_front().unwrap().ack().await.unwrap();
        held.push_back(next(&mut rx).await);
        received += 1;
        assert_eq!(held.len(), 3);
    }
    assert!(queue.stats().await.unwrap().leased <= 3);
    // Dropping a message frees its slot too.
    drop(held.pop_front());
    let again = next(&mut rx).await;
    assert_eq!(again.delivery_attempt(), 2, "the dropped message came back");
    client.close().await;
}

#[tokio::test]
async fn the_next_claim_does_not_wait_for_the_ack_to_commit() {
    let client = client().await;
    let queue = new_queue(&client, "ack-overlap").await;
    let batch: Vec<OutgoingMessage> = (0..2).map(|i| OutgoingMessage::new(format!("{i}"))).collect();
    queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(1)).unwrap();
    let first = next(&mut rx).await;

    // Hold the first message's row so that its ack cannot commit yet.
    let mut locker = raw().await;
    let tx = locker.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM pgmq.messages WHERE id = $1 FOR UPDATE", &[&first.id()]).await.unwrap();
    let ack = tokio::spawn(async move { first.ack().await });

    // The ack was handed over: its slot is free, and the receiver leases the second message meanwhile.
    let second = next(&mut rx).await;
    assert_eq!(body(&second), "1");
    assert!(!ack.is_finished(), "the ack is still waiting for the row lock");

    tx.rollback().await.unwrap();
    tokio::time::timeout(WAIT, ack).await.expect("the ack commits once the row is free").unwrap().unwrap();
    second.ack().await.unwrap();
    assert_eq!(queue.stats().await.unwrap().messages, 0);
    client.close().await;
}

#[tokio::test]
async fn delivery_attempt_starts_at_one_and_increments_on_each_nack() {
    let client = client().await;
    let queue = new_queue(&client, "attempts").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let sent = queue.send(b"retry me".to_vec(), &SendOptions::default()).await.unwrap();

    for attempt in 1..=4 {
        let msg = next(&mut rx).await;
        assert_eq!(msg.id(), sent.id());
        assert_eq!(msg.delivery_attempt(), attempt);
        let expected_error = if attempt == 1 { None } else { Some(format!("failure {}", attempt - 1)) };
        assert_eq!(msg.last_error(), expected_error.as_deref());
        msg.nack(NackOptions { delay: None, error: Some(format!("failure {attempt}")) }).await.unwrap();
    }
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_receiver_is_woken_by_a_send_within_100_ms() {
    let client = client().await;
    let queue = new_queue(&client, "wake").await;
    // Polling cannot explain a fast delivery: the safety net is far away.
    let mut rx = queue.receiver(ReceiveOptions::default().poll_interval(Duration::from_secs(60))).unwrap();

    let mut latencies = Vec::new();
    for _ in 0..20 {
        let receiving = rx.next();
        tokio::pin!(receiving);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut receiving).await.is_err(),
            "queue not empty"
        );
        let (received_at, sent_at) = tokio::join!(
            async {
                let msg = tokio::time::timeout(WAIT, &mut receiving).await.unwrap().unwrap();
                let at = Instant::now();
                msg.ack().await.unwrap();
                at
            },
            async {
                let at = Instant::now();
                queue.send(b"wake".to_vec(), &SendOptions::default()).await.unwrap();
                at
            }
        );
        latencies.push(received_at - sent_at);
    }

    latencies.sort();
    let median = latencies[latencies.len() / 2];
    assert!(median < Duration::from_millis(100), "median send-to-receipt {median:?}: {latencies:?}");
    client.close().await;
}

#[tokio::test]
async fn two_receivers_racing_for_one_message_exactly_one_gets_it() {
    let client = client().await;
    let other_client = crate::common::client().await;
    let queue = new_queue(&client, "race").await;
    let mut a = queue.receiver(ReceiveOptions::default()).unwrap();
    let mut b = other_client.queue(queue.name()).unwrap().receiver(ReceiveOptions::default()).unwrap();

    for round in 0..3 {
        let (fa, fb) = (a.next(), b.next());
        tokio::pin!(fa, fb);
        let sent = queue.send(format!("round {round}"), &SendOptions::default()).await.unwrap();

        let (winner, a_won) = tokio::time::timeout(WAIT, async {
            tokio::select! {
                m = &mut fa => (m.unwrap(), true),
                m = &mut fb => (m.unwrap(), false),
            }
        })
        .await
        .expect("one receiver gets it");

        assert_eq!(winner.id(), sent.id());
        let loser = if a_won { fb } else { fa };
        assert!(tokio::time::timeout(QUIET, loser).await.is_err(), "round {round}: both got a message");
        winner.ack().await.unwrap();
    }
    other_client.close().await;
    client.close().await;
}

#[tokio::test]
async fn next_batch_returns_up_to_batch_size_in_one_claim() {
    let client = client().await;
    let queue = new_queue(&client, "next-batch").await;
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(10)).unwrap();

    let few: Vec<OutgoingMessage> = (0..4).map(|i| OutgoingMessage::new(format!("few-{i}"))).collect();
    queue.send_batch(few, &SendOptions::default()).await.unwrap();
    let batch = tokio::time::timeout(WAIT, rx.next_batch()).await.unwrap().unwrap();
    assert_eq!(batch.iter().map(body).collect::<Vec<_>>(), ["few-0", "few-1", "few-2", "few-3"]);
    for m in batch {
        m.ack().await.unwrap();
    }

    let many: Vec<OutgoingMessage> = (0..15).map(|i| OutgoingMessage::new(format!("{i}"))).collect();
    queue.send_batch(many, &SendOptions::default()).await.unwrap();
    let first = tokio::time::timeout(WAIT, rx.next_batch()).await.unwrap().unwrap();
    assert_eq!(first.len(), 10);
    assert_eq!(queue.stats().await.unwrap().leased, 10);
    for m in first {
        m.ack().await.unwrap();
    }
    let rest = tokio::time::timeout(WAIT, rx.next_batch()).await.unwrap().unwrap();
    assert_eq!(
        rest.iter().map(body).collect::<Vec<_>>(),
        (10..15).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    client.close().await;
}

#[tokio::test]
async fn closed_receiver_fails_with_closed_and_releases_what_it_had_not_returned() {
    let client = client().await;
    let queue = new_queue(&client, "close").await;
    let batch: Vec<OutgoingMessage> = (0..3).map(|i| OutgoingMessage::new(format!("{i}"))).collect();
    queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(3)).unwrap();
    let returned = next(&mut rx).await; // the other two are leased and buffered

    rx.close();

    assert!(rx.is_closed());
    assert!(matches!(rx.next().await, Err(Error::Closed)));
    assert!(matches!(rx.next_batch().await, Err(Error::Closed)));
    assert!(eventually(WAIT, || async { queue.stats().await.unwrap().leased == 1 }).await);
    let mut other = queue.receiver(ReceiveOptions::default().batch_size(3)).unwrap();
    let others = tokio::time::timeout(Duration::from_secs(1), other.next_batch()).await.unwrap().unwrap();
    assert_eq!(others.iter().map(body).collect::<Vec<_>>(), ["1", "2"]);
    returned.ack().await.expect("a message returned before close stays valid");
    client.close().await;
}

#[tokio::test]
async fn dropping_a_waiting_next_leaves_nothing_leased() {
    let client = client().await;
    let queue = new_queue(&client, "drop-wait").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    assert!(tokio::time::timeout(QUIET, rx.next()).await.is_err(), "the queue is empty");

    let sent = queue.send(b"for someone else".to_vec(), &SendOptions::default()).await.unwrap();

    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.leased, stats.ready), (0, 1), "{stats:?}");
    let mut other = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(1), other.next()).await.unwrap().unwrap();
    assert_eq!((msg.id(), msg.delivery_attempt()), (sent.id(), 1));
    msg.ack().await.unwrap();
    // The receiver whose call was dropped still works.
    let sent = queue.send(b"for the first".to_vec(), &SendOptions::default()).await.unwrap();
    assert_eq!(next(&mut rx).await.id(), sent.id());
    client.close().await;
}

#[tokio::test]
async fn dropping_next_during_its_claim_releases_the_message_at_once() {
    let client = client().await;
    let queue = new_queue(&client, "drop-claim").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let mut other = queue.receiver(ReceiveOptions::default()).unwrap();

    // Stop waiting at various points of the claim; wherever it was, the message is never stranded.
    let mut interrupted = 0;
    for i in 0..40u64 {
        let sent = queue.send(format!("{i}"), &SendOptions::default()).await.unwrap();
        let cut = Duration::from_micros(i * 25);
        let msg = match tokio::time::timeout(cut, rx.next()).await {
            Ok(msg) => msg.unwrap(),
            Err(_) => {
                interrupted += 1;
                assert!(
                    eventually(Duration::from_secs(2), || async { queue.stats().await.unwrap().leased == 0 })
                        .await,
                    "cut at {cut:?}: still leased"
                );
                // Well before the 10 s lease would expire; generous because the whole suite runs in parallel.
                tokio::time::timeout(Duration::from_secs(3), other.next())
                    .await
                    .unwrap_or_else(|_| panic!("cut at {cut:?}: not redelivered within 3 s"))
                    .unwrap()
            }
        };
        assert_eq!(msg.id(), sent.id());
        msg.ack().await.unwrap();
    }
    assert!(interrupted > 0, "no call was interrupted");
    client.close().await;
}

/// A dropped message comes straight back to the same receiver. Releasing the old handle must not forget
/// the new lease on the same id: it keeps being kept alive and still hears its cancellation. (The race
/// lost it about once in 50 rounds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_redelivered_to_the_same_receiver_keeps_its_lease_kept() {
    let client = client().await;
    let queue = new_queue(&client, "redelivered-kept").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    for round in 0..200 {
        let sent = queue.send(format!("{round}"), &SendOptions::default()).await.unwrap();
        drop(next(&mut rx).await);
        let again = next(&mut rx).await;
        assert_eq!((again.id(), again.delivery_attempt()), (sent.id(), 2));

        queue.cancel(&[sent.id()]).await.unwrap();

        let signalled = tokio::time::timeout(Duration::from_secs(1), again.cancelled()).await;
        assert!(signalled.is_ok(), "round {round}: the redelivered lease was forgotten (no cancel signal)");
        again.ack().await.unwrap();
    }
    client.close().await;
}

/// A ready row that a claim skips because another transaction holds its lock (here a plain
/// `SELECT ... FOR UPDATE`, which announces nothing when it ends) is looked at again within milliseconds,
/// not after the 30 s safety net. Found through the Node suite: a heartbeat that lost a race with a
/// release kept the released row locked for a moment, and the next receiver slept for its poll interval.
#[tokio::test]
async fn a_ready_message_locked_by_another_transaction_is_claimed_once_the_lock_is_gone() {
    let app = unique_app("due-locked");
    let client = quiet_client(&app).await;
    let queue = new_queue(&client, "due-locked").await;
    let sent = queue.send("locked for a moment", &SendOptions::default()).await.unwrap();

    let mut locker = raw().await;
    let watcher = raw().await;
    let tx = locker.transaction().await.unwrap();
    let id = sent.id();
    tx.execute("SELECT 1 FROM pgmq.messages WHERE id = $1 FOR UPDATE", &[&id]).await.unwrap();

    let since = std::time::SystemTime::now();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let receiving = tokio::spawn(async move {
        let msg = rx.next().await.unwrap();
        (msg.id(), Instant::now(), rx, msg)
    });
    // The receiver has claimed (and skipped the locked row) before the lock goes.
    assert!(ran_since(&watcher, &app, RECEIVER_IDLE_SQL, since, Duration::from_secs(5)).await);
    assert!(!receiving.is_finished());
    tx.commit().await.unwrap();
    let unlocked = Instant::now();

    let (got, at, _rx, msg) = tokio::time::timeout(Duration::from_secs(5), receiving)
        .await
        .expect("claimed within 5 s of the lock's end (the poll interval is 30 s)")
        .unwrap();
    assert_eq!(got, sent.id());
    assert!(at - unlocked < Duration::from_secs(1), "claimed {:?} after the lock ended", at - unlocked);
    msg.ack().await.unwrap();
    client.close().await;
}
