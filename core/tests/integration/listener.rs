//! The LISTEN connection: one per client however many waiters, survives being killed (reconnect,
//! re-LISTEN, waiters re-read), and NOTIFY is sent once per batch, not once per message.

use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use pgmq_core::{ClientOptions, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions};
use tokio::time::timeout;
use tokio_postgres::AsyncMessage;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

/// A plain connection LISTENing on `channel`, and the notifications it receives (keep the client alive).
async fn listen_raw(
    channel: &str,
) -> (tokio_postgres::Client, tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>) {
    let (listening, mut connection) = tokio_postgres::connect(&dsn(), tokio_postgres::NoTls).await.unwrap();
    let (tx, notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                if tx.send(n).is_err() {
                    return;
                }
            }
        }
    });
    listening.batch_execute(&format!("LISTEN {channel}")).await.unwrap();
    (listening, notifications)
}

#[tokio::test]
async fn idle_receiver_gets_a_message_sent_after_its_listen_connection_was_killed_and_restored() {
    // Arrange: a receiver asleep on NOTIFY (safety-net re-read 30 s away).
    let sender = client().await;
    let raw = raw().await;
    let app = unique_app("lstrestore");
    let receiving = quiet_client(&app).await;
    let name = unique("listen-restore");
    sender.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let mut rx = receiving.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let since = SystemTime::now();
    let waiting = tokio::spawn(async move { rx.next().await });
    assert!(ran_since(&raw, &app, RECEIVER_IDLE_SQL, since, FIVE_S).await, "receiver never went idle");

    // Act 1: kill the LISTEN connection; wait until the client is listening on a new one and the receiver
    // has re-read the table after being told notifications may have been lost.
    let old = receiving.listener_backend_pid().await.expect("listener connected");
    let before_kill = SystemTime::now();
    kill_backend(&raw, old).await;
    let reconnected = eventually(FIVE_S, || async {
        receiving.listener_backend_pid().await.is_some_and(|pid| pid != old)
    })
    .await;
    assert!(reconnected, "the listener did not reconnect within 5 s");
    assert!(
        ran_since(&raw, &app, RECEIVER_IDLE_SQL, before_kill, FIVE_S).await,
        "the receiver did not re-read the queue after the reconnect"
    );

    // Act 2: now send; only a notification on the new connection can wake it quickly.
    let sent = sender.queue(&name).unwrap().send(b"after".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = timeout(Duration::from_secs(2), waiting).await.expect("not received within 2 s").unwrap().unwrap();

    // Assert
    assert_eq!(msg.id(), sent.id());
    msg.ack().await.unwrap();
}

#[tokio::test]
async fn idle_receiver_gets_a_message_sent_while_its_listen_connection_is_down() {
    // Arrange
    let sender = client().await;
    let raw = raw().await;
    let app = unique_app("lstdown");
    let receiving = quiet_client(&app).await;
    let name = unique("listen-down");
    sender.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let mut rx = receiving.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
    let since = SystemTime::now();
    let waiting = tokio::spawn(async move { rx.next().await });
    assert!(ran_since(&raw, &app, RECEIVER_IDLE_SQL, since, FIVE_S).await, "receiver never went idle");

    // Act: kill the LISTEN connection and send at once (its NOTIFY cannot reach the dead connection).
    let old = receiving.listener_backend_pid().await.expect("listener connected");
    kill_backend(&raw, old).await;
    let sent = sender.queue(&name).unwrap().send(b"meanwhile".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = timeout(Duration::from_secs(2), waiting).await.expect("not received within 2 s").unwrap().unwrap();

    // Assert
    assert_eq!(msg.id(), sent.id());
    msg.ack().await.unwrap();
}

#[tokio::test]
async fn twenty_idle_receivers_on_twenty_queues_share_one_listen_connection() {
    // Arrange: one client (pool of 4) with 20 receivers, each on its own queue.
    let sender = client().await;
    let raw = raw().await;
    let app = unique_app("lstshare");
    let pool_size = 4;
    let receiving = quiet_client_with(&app, ClientOptions::default().pool_size(pool_size)).await;
    let names: Vec<String> = (0..20).map(|i| unique(&format!("listen-share{i}"))).collect();
    for name in &names {
        sender.create_queue(name, &QueueOptions::default()).await.unwrap();
        sender.queue(name).unwrap().send(b"warm-up".to_vec(), &SendOptions::default()).await.unwrap();
    }
    let (warm_tx, mut warm) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for name in &names {
        let mut rx = receiving.queue(name).unwrap().receiver(ReceiveOptions::default()).unwrap();
        let warm_tx = warm_tx.clone();
        tasks.push(tokio::spawn(async move {
            rx.next().await.unwrap().ack().await.unwrap();
            warm_tx.send(()).unwrap();
            let msg = rx.next().await.unwrap();
            msg.ack().await.unwrap();
            (msg.id(), Instant::now())
        }));
    }
    for _ in 0..20 {
        timeout(Duration::from_secs(10), warm.recv()).await.expect("warm-up").unwrap();
    }

    // Act: every receiver is subscribed and waiting (or about to).
    let pids: Vec<i32> = raw
        .query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let listener = receiving.listener_backend_pid().await.expect("listener connected");

    // Assert: the pool plus ONE listen connection, and every receiver is woken through it.
    assert!(pids.contains(&listener), "listener {listener} not among the client's backends {pids:?}");
    assert!(pids.len() <= pool_size + 1, "{} backends for one client with a pool of {pool_size}", pids.len());
    let started = Instant::now();
    let mut sent = Vec::new();
    for name in &names {
        sent.push(sender.queue(name).unwrap().send(b"go".to_vec(), &SendOptions::default()).await.unwrap().id());
    }
    for (task, id) in tasks.into_iter().zip(sent) {
        let (got, at) = timeout(Duration::from_secs(2), task).await.expect("a receiver was not woken").unwrap();
        assert_eq!(got, id);
        assert!(at - started < Duration::from_secs(2));
    }
}

#[tokio::test]
async fn send_batch_of_100_messages_sends_exactly_one_notification() {
    // Arrange: a plain connection LISTENing on the queue's channel.
    let client = client().await;
    let raw = raw().await;
    let name = unique("listen-coalesce");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let channel = format!("pgmq_q_{}", queue_id_in(&raw, &name).await);
    let (_listening, mut notifications) = listen_raw(&channel).await;

    // Act
    let batch: Vec<OutgoingMessage> = (0..100).map(|i| OutgoingMessage::new(format!("m{i}"))).collect();
    client.queue(&name).unwrap().send_batch(batch, &SendOptions::default()).await.unwrap();
    let first = timeout(FIVE_S, notifications.recv()).await.expect("no notification at all").unwrap();
    // Proving an absence: give any further notification 300 ms to show up.
    let extra = timeout(Duration::from_millis(300), notifications.recv()).await;

    // Assert
    assert_eq!(first.channel(), channel);
    assert!(extra.is_err(), "a second notification for one batch: {extra:?}");
    assert_eq!(client.queue(&name).unwrap().stats().await.unwrap().ready, 100);
}

#[tokio::test]
async fn notifications_go_out_on_the_listen_connection_so_a_send_loop_keeps_one_pool_connection() {
    // Arrange: a quiet client (no housekeeping on the pool) and a plain connection LISTENing on the channel.
    let app = unique_app("notify_conn");
    let client = quiet_client(&app).await;
    let raw = raw().await;
    let name = unique("notify-conn");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let channel = format!("pgmq_q_{}", queue_id_in(&raw, &name).await);
    let (_listening, mut notifications) = listen_raw(&channel).await;
    let listen_pid = client.listener_backend_pid().await.expect("the LISTEN connection is up");

    // Act: sends back to back, each announced while the next one starts.
    let queue = client.queue(&name).unwrap();
    for i in 0..30 {
        let batch: Vec<OutgoingMessage> = (0..100).map(|j| OutgoingMessage::new(format!("{i}-{j}"))).collect();
        queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    }
    let first = timeout(FIVE_S, notifications.recv()).await.expect("no notification at all").unwrap();

    // Assert: the NOTIFY came from the LISTEN connection's backend, and the sends never needed a second
    // pool connection (before, the first send to overlap a NOTIFY opened one).
    assert_eq!(first.process_id(), listen_pid);
    let backends: i64 = raw
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .await
        .unwrap()
        .get(0);
    assert_eq!(backends, 2, "the LISTEN connection and one pool connection");

    // And with the LISTEN connection gone, sends are still announced (from the pool, or from the
    // connection once it is back).
    kill_backend(&raw, listen_pid).await;
    while timeout(Duration::from_millis(50), notifications.recv()).await.is_ok() {}
    queue.send(b"after".to_vec(), &SendOptions::default()).await.unwrap();
    let after = timeout(FIVE_S, notifications.recv()).await.expect("no notification after the kill").unwrap();
    assert_eq!(after.channel(), channel);
    client.close().await;
}
