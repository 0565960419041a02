//! Completion tracking: waiters are woken by NOTIFY within milliseconds, learn outcomes recorded before
//! they started or while their LISTEN connection was down, and get clear errors for untracked, unknown or
//! pruned messages.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use pgmq_core::{Error, NackOptions, Outcome, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions, Uuid};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

#[tokio::test]
async fn completion_waiter_wakes_within_100ms_of_the_ack() {
    // Arrange: the sender (and waiter) is its own client; a worker on another client acks.
    let worker = client().await;
    let raw = raw().await;
    let app = unique_app("complwake");
    let sender = quiet_client(&app).await;
    let name = unique("compl-wake");
    worker.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = sender.queue(&name).unwrap();
    let mut rx = worker.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();

    let mut latencies = Vec::new();
    for _ in 0..10 {
        let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
        let msg = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
        let since = SystemTime::now();
        let waiter = tokio::spawn({
            let sent = sent.clone();
            async move {
                let outcome = sent.wait().await;
                (outcome, Instant::now())
            }
        });
        // The waiter has read the outcomes table and sleeps on NOTIFY (its safety net is 30 s away).
        assert!(ran_since(&raw, &app, COMPLETION_CHECK_SQL, since, FIVE_S).await, "waiter never went idle");

        // Act
        msg.ack().await.unwrap();
        let acked = Instant::now();
        let (outcome, woke) = timeout(FIVE_S, waiter).await.expect("waiter not woken").unwrap();

        // Assert (per run)
        assert_eq!(outcome.unwrap(), Outcome::Completed);
        latencies.push(woke.saturating_duration_since(acked));
    }

    // Assert
    let median = median(latencies.clone());
    assert!(median < Duration::from_millis(100), "median ack -> wake-up {median:?}; all: {latencies:?}");
}

#[tokio::test]
async fn waiter_that_starts_after_the_ack_learns_the_outcome() {
    // Arrange: two messages finished before anyone waits.
    let client = client().await;
    let name = unique("compl-late");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let batch = vec![OutgoingMessage::new("a"), OutgoingMessage::new("b")];
    let ids = queue.send_batch(batch, &SendOptions::default()).await.unwrap().ids().to_vec();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    for _ in 0..2 {
        timeout(FIVE_S, rx.next()).await.unwrap().unwrap().ack().await.unwrap();
    }

    // Act: a client that did not exist when they finished asks.
    let late = crate::common::client().await;
    let outcomes = timeout(FIVE_S, late.queue(&name).unwrap().wait_for_completion(&ids)).await.unwrap().unwrap();

    // Assert
    assert_eq!(outcomes, ids.iter().map(|id| (*id, Outcome::Completed)).collect::<HashMap<_, _>>());
}

#[tokio::test]
async fn batch_completion_waits_for_every_message_and_reports_each_outcome() {
    // Arrange: one attempt each; three messages that will end differently.
    let client = client().await;
    let name = unique("compl-batch");
    client.create_queue(&name, &QueueOptions::default().max_delivery_attempts(1)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let batch = ["ack me", "cancel me", "fail me"].map(OutgoingMessage::new).to_vec();
    let completion = queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let (done, cancelled, failed) = (completion.ids()[0], completion.ids()[1], completion.ids()[2]);
    let mut waiter = tokio::spawn({
        let completion = completion.clone();
        async move { completion.wait().await }
    });
    assert_eq!(queue.cancel(&[cancelled]).await.unwrap(), vec![cancelled]);
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    let first = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    let second = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    assert_eq!((first.id(), second.id()), (done, failed));

    // Act 1: two of three finished.
    first.ack().await.unwrap();
    let early = timeout(Duration::from_millis(300), &mut waiter).await;
    assert!(early.is_err(), "the batch completion returned before every message finished: {early:?}");

    // Act 2: the last one fails its only attempt.
    second.nack(NackOptions { delay: None, error: Some("boom".into()) }).await.unwrap();
    let outcomes = timeout(FIVE_S, waiter).await.expect("not woken").unwrap().unwrap();

    // Assert
    let expected: HashMap<Uuid, Outcome> =
        [(done, Outcome::Completed), (cancelled, Outcome::Cancelled), (failed, Outcome::DeadLettered)].into();
    assert_eq!(outcomes, expected);
}

#[tokio::test]
async fn untracked_message_completion_fails_with_not_tracked() {
    // Arrange
    let client = client().await;
    let name = unique("compl-untracked");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default().track(false)).await.unwrap();

    // Act
    let by_handle = sent.wait().await;
    let by_id = queue.wait_for_completion(&[sent.id()]).await;

    // Assert
    assert!(!sent.completion().is_tracked());
    assert!(matches!(&by_handle, Err(Error::NotTracked(id)) if *id == sent.id()), "{by_handle:?}");
    assert_eq!(by_handle.unwrap_err().code(), "not_tracked");
    assert!(matches!(&by_id, Err(Error::NotTracked(id)) if *id == sent.id()), "{by_id:?}");
    // Once consumed it leaves no record at all.
    queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap().ack().await.unwrap();
    let after = queue.wait_for_completion(&[sent.id()]).await;
    assert!(matches!(after, Err(Error::MessageNotFound(_))), "{after:?}");
}

#[tokio::test]
async fn unknown_id_completion_fails_with_message_not_found() {
    // Arrange
    let client = client().await;
    let name = unique("compl-unknown");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let unknown = Uuid::now_v7();

    // Act
    let result = timeout(FIVE_S, queue.wait_for_completion(&[unknown])).await.unwrap();

    // Assert
    assert!(matches!(&result, Err(Error::MessageNotFound(id)) if *id == unknown), "{result:?}");
    assert_eq!(result.unwrap_err().code(), "message_not_found");
    let no_queue = client.queue(&unique("compl-noqueue")).unwrap().wait_for_completion(&[unknown]).await;
    assert!(matches!(no_queue, Err(Error::QueueNotFound(_))), "{no_queue:?}");
}

#[tokio::test]
async fn outcome_records_are_pruned_after_the_retention_period() {
    // Arrange: retention 1 s.
    let client = client().await;
    let raw = raw().await;
    let name = unique("compl-prune");
    client.create_queue(&name, &QueueOptions::default().retention_period(Duration::from_secs(1))).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();

    // Act
    let acked_at = Instant::now();
    msg.ack().await.unwrap();
    assert_eq!(timeout(FIVE_S, sent.wait()).await.unwrap().unwrap(), Outcome::Completed);
    let pruned = eventually(FIVE_S, || async {
        let n: i64 = raw
            .query_one("SELECT count(*) FROM pgmq.outcomes WHERE id = $1", &[&sent.id()])
            .await
            .unwrap()
            .get(0);
        n == 0
    })
    .await;

    // Assert
    assert!(pruned, "the outcome record was not pruned within 5 s");
    assert!(acked_at.elapsed() >= Duration::from_secs(1), "pruned before the retention period");
    let after = sent.wait().await;
    assert!(matches!(&after, Err(Error::MessageNotFound(id)) if *id == sent.id()), "{after:?}");
}

#[tokio::test]
async fn waiter_whose_listen_connection_is_killed_still_learns_the_outcome_promptly() {
    // Arrange: the waiter's client is asleep on NOTIFY with a 30 s safety net.
    let worker = client().await;
    let raw = raw().await;
    let app = unique_app("complkill");
    let sender = quiet_client(&app).await;
    let name = unique("compl-kill");
    worker.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let sent = sender.queue(&name).unwrap().send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = worker.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();
    let since = SystemTime::now();
    let waiter = tokio::spawn({
        let sent = sent.clone();
        async move { sent.wait().await }
    });
    assert!(ran_since(&raw, &app, COMPLETION_CHECK_SQL, since, FIVE_S).await, "waiter never went idle");

    // Act: kill its LISTEN connection, then finish the message.
    let pid = sender.listener_backend_pid().await.expect("listener connected");
    kill_backend(&raw, pid).await;
    msg.ack().await.unwrap();

    // Assert
    let outcome = timeout(Duration::from_secs(2), waiter).await.expect("waiter not woken within 2 s");
    assert_eq!(outcome.unwrap().unwrap(), Outcome::Completed);
}

/// Runs `work` with a client of its own on a runtime of its own that is shut down as soon as `work`
/// (which closes the client) returns, as when a short-lived process exits after `close()`.
fn in_short_lived_process<T: Send + 'static>(
    work: impl FnOnce(pgmq_core::Client) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let out = rt.block_on(async move { work(client().await).await });
        rt.shutdown_background();
        out
    })
}

/// A process that sends (or acks) and closes its client at once still wakes the waiters of other
/// clients through NOTIFY: `close()` sends the notifications it had queued before it closes the pool.
/// (Found by the cross-language tests: a short-lived Node sender's notification was dropped with the
/// process, and the Python receiver slept until its 30 s safety net.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_right_after_a_send_or_an_ack_still_notifies_other_clients() {
    let app = unique_app("close-flush");
    let waiting = quiet_client(&app).await;
    // Completion waits in a client of their own, which runs nothing else: its last statement is the
    // waiter's check (the other client's notifier would otherwise reuse the connection).
    let completer_app = unique_app("close-flush-wait");
    let completer = quiet_client(&completer_app).await;
    let watcher = raw().await;
    let name = unique("close-flush");
    waiting.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = waiting.queue(&name).unwrap();

    for round in 0..5 {
        // A receiver in the long-lived client, asleep on NOTIFY (poll interval 30 s); the sender sends,
        // closes and is gone.
        // (A receiving client per round: its connections have run nothing but claims when it is watched.)
        let receiver_app = unique_app("close-flush-rx");
        let receiving_client = quiet_client(&receiver_app).await;
        let since = SystemTime::now();
        let mut rx = receiving_client.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
        let receiving = tokio::spawn(async move { (rx.next().await.unwrap(), Instant::now()) });
        assert!(ran_since(&watcher, &receiver_app, RECEIVER_IDLE_SQL, since, FIVE_S).await);
        let n = name.clone();
        let sender = in_short_lived_process(move |c| {
            Box::pin(async move {
                let sent = c.queue(&n).unwrap().send(format!("{round}"), &SendOptions::default()).await.unwrap();
                c.close().await;
                (sent.id(), Instant::now())
            })
        });
        let (sent_id, closed) = tokio::task::spawn_blocking(move || sender.join().unwrap()).await.unwrap();
        let (msg, at) = timeout(FIVE_S, receiving).await.expect("woken by the closed sender's NOTIFY").unwrap();
        assert_eq!(msg.id(), sent_id);
        assert!(at - closed < Duration::from_secs(2), "round {round}: woken {:?} after close", at - closed);
        msg.ack().await.unwrap();
        receiving_client.close().await;

        // The reverse: the outcome's waiter is in the long-lived client, the acker acks, closes, is gone.
        let sent = queue.send(format!("ack {round}"), &SendOptions::default()).await.unwrap();
        let since = SystemTime::now();
        let completion = completer.queue(&name).unwrap().completion(&[sent.id()]).await.unwrap();
        let waiter = tokio::spawn(async move { (completion.wait().await.unwrap(), Instant::now()) });
        assert!(ran_since(&watcher, &completer_app, COMPLETION_CHECK_SQL, since, FIVE_S).await);
        let n = name.clone();
        let acker = in_short_lived_process(move |c| {
            Box::pin(async move {
                let mut rx = c.queue(&n).unwrap().receiver(ReceiveOptions::default()).unwrap();
                let msg = rx.next().await.unwrap();
                msg.ack().await.unwrap();
                drop(rx);
                c.close().await;
                (msg.id(), Instant::now())
            })
        });
        let (acked_id, closed) = tokio::task::spawn_blocking(move || acker.join().unwrap()).await.unwrap();
        assert_eq!(acked_id, sent.id());
        let (outcomes, at) = timeout(FIVE_S, waiter).await.expect("woken by the closed acker's NOTIFY").unwrap();
        assert_eq!(outcomes[&sent.id()], Outcome::Completed);
        assert!(at - closed < Duration::from_secs(2), "round {round}: completion {:?} after close", at - closed);
    }
    completer.close().await;
    waiting.close().await;
}
