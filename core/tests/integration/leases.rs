//! Leases: one worker at a time while it lives (batched heartbeats), fencing of stale holders, redelivery
//! after nack / drop / crash, nack delays and the queue's backoff policy.

use std::time::{Duration, Instant, SystemTime};

use pgmq_core::{
    Backoff, Error, Message, NackOptions, Outcome, OutgoingMessage, QueueOptions, ReceiveOptions, Receiver,
    SendOptions,
};
use tokio::time::timeout;
use uuid::Uuid;

use crate::common::*;

fn deadline(secs: u64) -> QueueOptions {
    QueueOptions::default().ack_deadline(Duration::from_secs(secs))
}

/// Makes another worker take over `id`: expires its lease with SQL (as if its holder had stalled past the
/// deadline) until `rx` claims it. Retries because the live holder's heartbeat may extend the lease again
/// between the UPDATE and the claim.
async fn expire_and_claim(raw: &tokio_postgres::Client, rx: &mut Receiver, id: Uuid) -> Message {
    for _ in 0..20 {
        raw.execute(
            "UPDATE pgmq.messages SET available_at = now() - interval '1 second' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
        if let Ok(received) = timeout(Duration::from_millis(500), rx.next()).await {
            let msg = received.unwrap();
            assert_eq!(msg.id(), id);
            return msg;
        }
    }
    panic!("the second receiver never claimed the expired message {id}");
}

/// (lease_token, delivery_attempts, lease still live, last_error) of a queued message.
async fn lease_row(raw: &tokio_postgres::Client, id: Uuid) -> (Option<Uuid>, i32, bool, Option<String>) {
    let row = raw
        .query_one(
            "SELECT lease_token, delivery_attempts, available_at > now(), last_error
             FROM pgmq.messages WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

async fn next_within(rx: &mut Receiver, limit: Duration) -> Message {
    timeout(limit, rx.next()).await.expect("no message in time").unwrap()
}

async fn outcome_rows(raw: &tokio_postgres::Client, id: Uuid) -> i64 {
    raw.query_one("SELECT count(*) FROM pgmq.outcomes WHERE id = $1", &[&id]).await.unwrap().get(0)
}

#[tokio::test]
async fn message_held_by_a_live_worker_for_three_deadlines_is_never_delivered_to_another_receiver() {
    // Arrange: a 1 s deadline; one worker holds the message, a worker of another client waits for it.
    let client = client().await;
    let other = crate::common::client().await;
    let raw = raw().await;
    let name = unique("lease-hold");
    client.create_queue(&name, &deadline(1)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"slow work".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = timeout(Duration::from_secs(5), rx.next()).await.unwrap().unwrap();
    let mut rx2 = other.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();

    // Act: hold it for 3.2 deadlines while the other receiver waits the whole time.
    let stolen = timeout(Duration::from_millis(3200), rx2.next()).await;

    // Assert
    assert!(stolen.is_err(), "a message held by a live worker was delivered to another: {stolen:?}");
    assert!(!msg.is_lease_lost());
    let (token, attempts, live, _) = lease_row(&raw, msg.id()).await;
    assert_eq!((token, attempts, live), (Some(msg.lease_token()), 1, true));
    msg.ack().await.unwrap();
    assert_eq!(timeout(Duration::from_secs(5), sent.wait()).await.unwrap().unwrap(), Outcome::Completed);
}

#[tokio::test]
async fn stale_holders_ack_returns_lease_lost_and_changes_nothing() {
    // Arrange: worker 1 holds the message, its lease expires and worker 2 claims it.
    let client = client().await;
    let other = crate::common::client().await;
    let raw = raw().await;
    let name = unique("lease-fence-ack");
    client.create_queue(&name, &deadline(2)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx1 = queue.receiver(ReceiveOptions::default()).unwrap();
    let stale = rx1.next().await.unwrap();
    let mut rx2 = other.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let current = expire_and_claim(&raw, &mut rx2, stale.id()).await;
    assert_eq!(current.delivery_attempt(), 2);
    assert_ne!(current.lease_token(), stale.lease_token());

    // Act
    let err = stale.ack().await.unwrap_err();

    // Assert: LeaseLost, and worker 2 still holds the message untouched.
    assert!(matches!(err, Error::LeaseLost(id) if id == stale.id()), "{err:?}");
    assert_eq!(err.code(), "lease_lost");
    let (token, attempts, live, _) = lease_row(&raw, stale.id()).await;
    assert_eq!((token, attempts, live), (Some(current.lease_token()), 2, true));
    assert_eq!(outcome_rows(&raw, stale.id()).await, 0, "the stale ack recorded an outcome");
    current.ack().await.unwrap();
    assert_eq!(timeout(Duration::from_secs(5), sent.wait()).await.unwrap().unwrap(), Outcome::Completed);
}

#[tokio::test]
async fn stale_holders_extend_and_nack_return_lease_lost_and_change_nothing() {
    // Arrange: 2 attempts, so the new holder's lease is the last one and a stale nack that went through
    // would dead-letter the message.
    let client = client().await;
    let other = crate::common::client().await;
    let raw = raw().await;
    let name = unique("lease-fence-nack");
    client.create_queue(&name, &deadline(2).max_delivery_attempts(2)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx1 = queue.receiver(ReceiveOptions::default()).unwrap();
    let stale = rx1.next().await.unwrap();
    let mut rx2 = other.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let current = expire_and_claim(&raw, &mut rx2, stale.id()).await;

    // The stale holder's heartbeat finds out by itself.
    assert!(
        eventually(Duration::from_secs(3), || async { stale.is_lease_lost() }).await,
        "the heartbeat did not notice the lost lease"
    );

    // Act
    let extend = stale.extend(Duration::from_secs(30)).await;
    let nack = stale
        .nack(NackOptions { delay: Some(Duration::from_secs(60)), error: Some("stale worker".into()) })
        .await;

    // Assert
    assert!(matches!(extend, Err(Error::LeaseLost(id)) if id == stale.id()), "{extend:?}");
    assert!(matches!(nack, Err(Error::LeaseLost(id)) if id == stale.id()), "{nack:?}");
    let (token, attempts, live, last_error) = lease_row(&raw, stale.id()).await;
    assert_eq!((token, attempts, live, last_error), (Some(current.lease_token()), 2, true, None));
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.leased, stats.dead_lettered), (1, 0));
    assert_eq!(outcome_rows(&raw, stale.id()).await, 0);
    current.ack().await.unwrap();
    assert_eq!(timeout(Duration::from_secs(5), sent.wait()).await.unwrap().unwrap(), Outcome::Completed);
}

#[tokio::test]
async fn twenty_held_messages_all_keep_their_leases_past_the_deadline() {
    // Arrange: 20 messages held by one worker, 1 s deadline, another client waiting.
    let client = client().await;
    let other = crate::common::client().await;
    let raw = raw().await;
    let name = unique("lease-many");
    client.create_queue(&name, &deadline(1)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let batch: Vec<OutgoingMessage> = (0..20).map(|i| OutgoingMessage::new(format!("m{i}"))).collect();
    let completion = queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(20)).unwrap();
    let mut held = Vec::new();
    while held.len() < 20 {
        held.push(timeout(Duration::from_secs(5), rx.next()).await.unwrap().unwrap());
    }
    let mut rx2 = other.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();

    // Act: hold them 2.5 s.
    let stolen = timeout(Duration::from_millis(2500), rx2.next()).await;

    // Assert: nothing went elsewhere; every lease is live, under its first token and first attempt.
    assert!(stolen.is_err(), "a held message was delivered to another worker: {stolen:?}");
    let qid = queue_id_in(&raw, &name).await;
    let row = raw
        .query_one(
            "SELECT count(*) FILTER (WHERE lease_token IS NOT NULL AND available_at > now()),
                    sum(delivery_attempts)
             FROM pgmq.messages WHERE queue_id = $1",
            &[&qid],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (20, 20));
    assert!(held.iter().all(|m| !m.is_lease_lost()));
    for m in &held {
        m.ack().await.unwrap();
    }
    let outcomes = timeout(Duration::from_secs(5), completion.wait()).await.unwrap().unwrap();
    assert_eq!(outcomes.len(), 20);
    assert!(outcomes.values().all(|o| *o == Outcome::Completed));
}

#[tokio::test]
async fn nacked_message_with_a_delay_is_redelivered_only_after_the_delay() {
    // Arrange
    let client = client().await;
    let name = unique("lease-nack-delay");
    client.create_queue(&name, &deadline(10)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = rx.next().await.unwrap();

    // Act
    let nacked_at = Instant::now();
    msg.nack(NackOptions { delay: Some(Duration::from_secs(1)), error: None }).await.unwrap();
    let again = timeout(Duration::from_secs(3), rx.next()).await.expect("not redelivered within 3 s").unwrap();
    let after = nacked_at.elapsed();

    // Assert
    assert!(after >= Duration::from_secs(1), "redelivered {after:?} after a nack with a 1 s delay");
    assert_eq!(again.id(), msg.id());
    assert_eq!(again.delivery_attempt(), 2);
    again.ack().await.unwrap();
}

#[tokio::test]
async fn nack_without_delay_wakes_an_idle_receiver_within_100ms() {
    // Arrange: worker A holds 10 messages (10 s deadline); worker B, on its own client, waits for work.
    // If B were not woken by the nack's NOTIFY it would only look again near the lease expiry.
    let client = client().await;
    let raw = raw().await;
    let app = unique_app("nackwake");
    let b_client = quiet_client(&app).await;
    let name = unique("lease-nack-wake");
    client.create_queue(&name, &deadline(10)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let batch: Vec<OutgoingMessage> = (0..10).map(|i| OutgoingMessage::new(format!("m{i}"))).collect();
    queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let mut rx_a = queue.receiver(ReceiveOptions::default().batch_size(10)).unwrap();
    let mut held = Vec::new();
    while held.len() < 10 {
        held.push(timeout(Duration::from_secs(5), rx_a.next()).await.unwrap().unwrap());
    }
    let mut rx_b = b_client.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let (ready_tx, mut ready) = tokio::sync::mpsc::unbounded_channel::<SystemTime>();
    let (got_tx, mut got) = tokio::sync::mpsc::unbounded_channel::<(Uuid, Instant)>();
    let worker_b = tokio::spawn(async move {
        loop {
            if ready_tx.send(SystemTime::now()).is_err() {
                return;
            }
            let m = rx_b.next().await.unwrap();
            let at = Instant::now();
            m.ack().await.unwrap();
            if got_tx.send((m.id(), at)).is_err() {
                return;
            }
        }
    });

    // Act: nack the messages one at a time, each once B is asleep.
    let mut latencies = Vec::new();
    for m in &held {
        let since = ready.recv().await.unwrap();
        assert!(
            ran_since(&raw, &app, RECEIVER_IDLE_SQL, since, Duration::from_secs(5)).await,
            "receiver B never went idle"
        );
        let nacked_at = Instant::now();
        m.nack(NackOptions::default()).await.unwrap();
        let (id, at) = timeout(Duration::from_secs(15), got.recv()).await.expect("B never got it").unwrap();
        assert_eq!(id, m.id());
        latencies.push(at.saturating_duration_since(nacked_at));
    }
    worker_b.abort();

    // Assert
    let median = median(latencies.clone());
    assert!(median < Duration::from_millis(100), "median wake-up {median:?} after nack; all: {latencies:?}");
}

/// Nacks `msg` (no explicit delay) and returns the range in which the retry delay the database chose
/// must lie: from the row's new `available_at` minus the times just after and just before the nack.
async fn nack_and_read_delay(raw: &tokio_postgres::Client, msg: &Message) -> (Duration, Duration) {
    let before = SystemTime::now();
    msg.nack(NackOptions::default()).await.unwrap();
    let after = SystemTime::now();
    let row = raw
        .query_one("SELECT available_at, lease_token IS NULL FROM pgmq.messages WHERE id = $1", &[&msg.id()])
        .await
        .unwrap();
    let (available_at, released): (SystemTime, bool) = (row.get(0), row.get(1));
    assert!(released, "the message was not released by the nack");
    let slack = Duration::from_millis(1); // timestamptz keeps microseconds
    let low = available_at.duration_since(after).unwrap_or_default().saturating_sub(slack);
    let high = available_at.duration_since(before).unwrap_or_default() + slack;
    (low, high)
}

#[tokio::test]
async fn queue_backoff_delays_the_first_retry_by_base_and_the_second_by_base_times_factor() {
    // Arrange: base 300 ms, factor 2, no jitter.
    let client = client().await;
    let raw = raw().await;
    let name = unique("lease-backoff");
    let backoff = Backoff {
        base: Duration::from_millis(300),
        factor: 2.0,
        max: Duration::from_secs(10),
        jitter: false,
    };
    client.create_queue(&name, &deadline(10).backoff(Some(backoff))).await.unwrap();
    let queue = client.queue(&name).unwrap();
    queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let first = rx.next().await.unwrap();

    // Act
    let t1 = Instant::now();
    let first_scheduled = nack_and_read_delay(&raw, &first).await;
    let second = timeout(Duration::from_secs(3), rx.next()).await.expect("first retry").unwrap();
    let first_delay = t1.elapsed();
    let t2 = Instant::now();
    let second_scheduled = nack_and_read_delay(&raw, &second).await;
    let third = timeout(Duration::from_secs(3), rx.next()).await.expect("second retry").unwrap();
    let second_delay = t2.elapsed();

    // Assert: the delays the database chose, and that the retries honoured them.
    let (base, doubled) = (Duration::from_millis(300), Duration::from_millis(600));
    assert!(first_scheduled.0 <= base && base <= first_scheduled.1, "first delay in {first_scheduled:?}");
    assert!(second_scheduled.0 <= doubled && doubled <= second_scheduled.1, "second delay in {second_scheduled:?}");
    assert!(first_delay >= base, "first retry after {first_delay:?}");
    assert!(first_delay < base + Duration::from_secs(1), "first retry after {first_delay:?}");
    assert!(second_delay >= doubled, "second retry after {second_delay:?}");
    assert!(second_delay < doubled + Duration::from_secs(1), "second retry after {second_delay:?}");
    assert_eq!((second.delivery_attempt(), third.delivery_attempt()), (2, 3));
    third.ack().await.unwrap();
}

#[tokio::test]
async fn dropped_unfinished_message_is_redelivered_at_once_not_after_the_deadline() {
    // Arrange: 10 s deadline; a worker of another client waits for the message.
    let client = client().await;
    let other = crate::common::client().await;
    let name = unique("lease-drop");
    client.create_queue(&name, &deadline(10)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = rx.next().await.unwrap();
    let mut rx2 = other.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let waiting = tokio::spawn(async move { rx2.next().await });

    // Act
    let dropped_at = Instant::now();
    drop(msg);
    let again = timeout(Duration::from_secs(1), waiting).await.expect("not redelivered within 1 s").unwrap().unwrap();

    // Assert
    assert!(dropped_at.elapsed() < Duration::from_secs(1));
    assert_eq!(again.id(), sent.id());
    assert_eq!(again.delivery_attempt(), 2);
    again.ack().await.unwrap();
}

#[tokio::test]
async fn finishing_a_message_twice_fails_with_already_finished() {
    // Arrange
    let client = client().await;
    let name = unique("lease-twice");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = queue.receiver(ReceiveOptions::default()).unwrap().next().await.unwrap();

    // Act
    msg.ack().await.unwrap();
    let ack = msg.ack().await;
    let nack = msg.nack(NackOptions::default()).await;
    let extend = msg.extend(Duration::from_secs(5)).await;

    // Assert
    assert!(matches!(&ack, Err(Error::AlreadyFinished(id)) if *id == msg.id()), "{ack:?}");
    assert_eq!(ack.unwrap_err().code(), "already_finished");
    assert!(matches!(nack, Err(Error::AlreadyFinished(_))), "{nack:?}");
    assert!(matches!(extend, Err(Error::AlreadyFinished(_))), "{extend:?}");
    assert!(msg.is_finished());
}

#[tokio::test]
async fn delivery_attempt_counts_every_lease_whether_nacked_dropped_or_expired() {
    // Arrange: 1 s deadline; a second client that will stop heartbeating.
    let client = client().await;
    let quitter = crate::common::client().await;
    let raw = raw().await;
    let name = unique("lease-attempts");
    client.create_queue(&name, &deadline(1)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    // Act + Assert, lease by lease.
    let m1 = next_within(&mut rx, Duration::from_secs(5)).await;
    assert_eq!(m1.delivery_attempt(), 1);
    m1.nack(NackOptions::default()).await.unwrap();
    let m2 = next_within(&mut rx, Duration::from_secs(5)).await;
    assert_eq!(m2.delivery_attempt(), 2);
    drop(m2);
    let mut quitter_rx = quitter.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let m3 = timeout(Duration::from_secs(5), quitter_rx.next()).await.unwrap().unwrap();
    assert_eq!(m3.delivery_attempt(), 3);
    quitter.close().await; // no more heartbeats: the lease lapses
    let m4 = next_within(&mut rx, Duration::from_secs(5)).await;
    assert_eq!(m4.delivery_attempt(), 4);
    assert_eq!(lease_row(&raw, sent.id()).await.1, 4);
    m4.ack().await.unwrap();
    assert_eq!(timeout(Duration::from_secs(5), sent.wait()).await.unwrap().unwrap(), Outcome::Completed);
    drop(m3);
}

const CHILD_QUEUE_VAR: &str = "PGMQ_TEST_CHILD_QUEUE";

/// Not a test of its own: the worker process of
/// `message_of_a_killed_worker_process_is_redelivered_once_its_lease_expires`. Without
/// `PGMQ_TEST_CHILD_QUEUE` it returns at once; with it, it leases one message from that queue, prints
/// `HOLDING <id>` and waits to be killed.
#[tokio::test]
async fn child_holds_a_lease() {
    let Ok(queue) = std::env::var(CHILD_QUEUE_VAR) else { return };
    let client = pgmq_core::Client::connect(&dsn()).await.expect("child: connect");
    let mut rx = client.queue(&queue).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let msg = rx.next().await.expect("child: receive");
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "\nHOLDING {}", msg.id()).unwrap();
        out.flush().unwrap();
    }
    std::future::pending::<()>().await;
    drop(msg);
}

#[tokio::test]
async fn message_of_a_killed_worker_process_is_redelivered_once_its_lease_expires() {
    use tokio::io::AsyncBufReadExt;

    // Arrange: a 2 s deadline; a child process (this test binary) leases the message.
    let client = client().await;
    let raw = raw().await;
    let name = unique("lease-crash");
    client.create_queue(&name, &deadline(2)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let child_app = unique_app("child");
    // /proc/self/exe still runs this binary if a concurrent build has replaced the file meanwhile.
    let exe = match std::path::Path::new("/proc/self/exe") {
        p if p.exists() => p.to_path_buf(),
        _ => std::env::current_exe().unwrap(),
    };
    let mut child = tokio::process::Command::new(exe)
        .args(["--exact", "leases::child_holds_a_lease", "--nocapture", "--test-threads=1"])
        .env(CHILD_QUEUE_VAR, &name)
        .env("DATABASE_URL", dsn_with_app(&child_app))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let held = timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("HOLDING ") {
                return Uuid::parse_str(line[at + 8..].trim()).unwrap();
            }
        }
        panic!("the child exited without leasing the message");
    })
    .await
    .expect("the child did not lease the message within 60 s");
    assert_eq!(held, sent.id());

    // Act: SIGKILL it; it cannot release anything.
    child.start_kill().unwrap();
    let killed_at = Instant::now();
    let status = child.wait().await.unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "child was not killed by SIGKILL: {status:?}");
    }
    // Once its backends are gone, nothing can extend the lease: this is its final expiry.
    let child_gone = eventually(Duration::from_secs(5), || async {
        let n: i64 = raw
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", &[&child_app])
            .await
            .unwrap()
            .get(0);
        n == 0
    })
    .await;
    assert!(child_gone, "the killed child's connections are still open");
    let row = raw
        .query_one("SELECT available_at, delivery_attempts FROM pgmq.messages WHERE id = $1", &[&held])
        .await
        .unwrap();
    let (expiry, attempts): (SystemTime, i32) = (row.get(0), row.get(1));
    assert_eq!(attempts, 1);
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let budget = Duration::from_secs(3).saturating_sub(killed_at.elapsed());
    let msg = timeout(budget, rx.next()).await.expect("not redelivered within deadline + 1 s of the kill").unwrap();
    let after_kill = killed_at.elapsed();

    // Assert: not before the lease expired, and soon after.
    assert!(SystemTime::now() >= expiry, "redelivered before the dead worker's lease expired");
    assert!(after_kill >= Duration::from_secs(1), "redelivered {after_kill:?} after the kill (deadline 2 s)");
    assert!(after_kill <= Duration::from_secs(3), "redelivered {after_kill:?} after the kill");
    assert_eq!(msg.id(), held);
    assert_eq!(msg.delivery_attempt(), 2);
    msg.ack().await.unwrap();
    assert_eq!(timeout(Duration::from_secs(5), sent.wait()).await.unwrap().unwrap(), Outcome::Completed);
}

#[tokio::test]
async fn heartbeats_keep_a_lease_while_sends_saturate_a_one_connection_pool() {
    let client = client_with(pgmq_core::ClientOptions::default().pool_size(1)).await;
    let name = unique("starve");
    client.create_queue(&name, &deadline(3)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    queue.send(b"held".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let held = next_within(&mut rx, Duration::from_secs(5)).await;

    // Another process's worker takes the message the moment its lease lapses.
    let rival = crate::common::client().await;
    let mut rival_rx = rival.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let stolen = tokio::spawn(async move { rival_rx.next().await.map(|m| m.id()) });

    // Three deadlines of 1,000 concurrent sends (to another queue) queued on the one pool connection.
    let flood_name = unique("flood");
    client.create_queue(&flood_name, &QueueOptions::default()).await.unwrap();
    let flood = client.queue(&flood_name).unwrap();
    // 256 KiB each: a wave then takes 2-4 s here, longer than the deadline.
    let body = vec![7u8; 256 * 1024];
    let untracked = SendOptions::default().track(false);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(9) {
        let sends = (0..1000).map(|_| flood.send(body.clone(), &untracked));
        for sent in futures_util::future::join_all(sends).await {
            sent.unwrap();
        }
        if stolen.is_finished() {
            panic!("the held message was redelivered to another worker: {:?}", stolen.await);
        }
    }
    let raw = raw().await;
    let (_, attempts, live, _) = lease_row(&raw, held.id()).await;
    assert_eq!((attempts, live), (1, true));
    held.ack().await.expect("still ours");
    stolen.abort();
    client.delete_queue(&name).await.unwrap();
    client.delete_queue(&flood_name).await.unwrap();
}
