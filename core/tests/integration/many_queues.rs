//! Many queues on one client: 1,000 idle receivers (one per queue) share ONE LISTEN connection and a
//! pool bounded by `pool_size`, a send to any queue wakes its receiver fast (p99 < 50 ms), and dropping
//! the receivers unsubscribes their channels.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pgmq_core::{ClientOptions, QueueOptions, ReceiveOptions, SendOptions, Uuid};
use tokio::time::timeout;

use crate::common::*;

const QUEUES: usize = 1_000;
const SAMPLES: usize = 200;
/// The receiving client's pool: the bound on its work connections, however many receivers it has.
const POOL: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_receivers_share_one_listen_connection_and_wake_within_50_ms() {
    // Arrange: 1,000 queues (no DLQs), a receiving client named `app` with a pool of 4, a second client
    // to send.
    let raw = raw().await;
    let app = unique_app("many");
    let receiving = quiet_client_with(&app, ClientOptions::default().pool_size(POOL)).await;
    let sender = client().await;
    let names: Vec<String> = (0..QUEUES).map(|i| unique(&format!("many{i}"))).collect();
    let options = QueueOptions::default().dead_letter_queue(None);
    futures_util::stream::iter(&names)
        .for_each_concurrent(4, |name| {
            let (sender, options) = (&sender, &options);
            async move { assert!(sender.create_queue(name, options).await.unwrap()) }
        })
        .await;

    // Act 1: one receiver per queue, each in its own task awaiting next(); wait until every one of them
    // is asleep on the listener (the count of waiters, not a sleep).
    let (woke_tx, mut woke) = tokio::sync::mpsc::unbounded_channel::<(usize, Uuid, Instant)>();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut rx = receiving.queue(name).unwrap().receiver(ReceiveOptions::default()).unwrap();
        let woke_tx = woke_tx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let msg = rx.next().await.unwrap();
                let _ = woke_tx.send((i, msg.id(), Instant::now()));
                msg.ack().await.unwrap();
            }
        }));
    }
    let all_idle =
        eventually(Duration::from_secs(60), || async { receiving.listener_waiting_count() == QUEUES }).await;
    assert!(all_idle, "only {} of {QUEUES} receivers idle after 60 s", receiving.listener_waiting_count());
    let subscribe_time = started.elapsed();

    // Assert 1: the server says ONE connection of this client listens, on 1,000 queue channels, and the
    // rest of its backends (the pool) are at most POOL, none of which ever ran a LISTEN.
    let listener = receiving.listener_backend_pid().await.expect("listener connected");
    let mut listening = receiving.listener_server_channels().await.expect("listener connected");
    listening.sort();
    listening.dedup();
    assert_eq!(receiving.listener_channel_count(), QUEUES);
    assert_eq!(listening.len(), QUEUES, "the LISTEN connection listens on {} channels", listening.len());
    assert!(listening.iter().all(|c| c.starts_with("pgmq_q_")), "unexpected channels: {listening:?}");
    let backends = raw
        .query("SELECT pid, query FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .await
        .unwrap();
    let pids: Vec<i32> = backends.iter().map(|r| r.get(0)).collect();
    assert!(pids.contains(&listener), "listener {listener} not among the client's backends {pids:?}");
    let work: Vec<(i32, String)> =
        backends.iter().map(|r| (r.get(0), r.get(1))).filter(|(pid, _)| *pid != listener).collect();
    assert!(work.len() <= POOL, "{} work connections for a pool of {POOL}: {work:?}", work.len());
    assert!(
        work.iter().all(|(_, q)| !q.to_uppercase().contains("LISTEN")),
        "a work connection ran LISTEN: {work:?}"
    );

    // Act 2: send to 200 distinct random queues, one at a time, from the other client; each send must
    // wake that queue's receiver (and only it).
    let mut order: Vec<usize> = (0..QUEUES).collect();
    order.sort_by_cached_key(|_| Uuid::new_v4());
    let mut latencies = Vec::with_capacity(SAMPLES);
    for &i in &order[..SAMPLES] {
        let queue = sender.queue(&names[i]).unwrap();
        let t0 = Instant::now();
        let sent = queue.send(b"wake".to_vec(), &SendOptions::default().track(false)).await.unwrap();
        let (got, id, at) = timeout(Duration::from_secs(5), woke.recv()).await.expect("no receiver woke").unwrap();
        assert_eq!((got, id), (i, sent.id()), "the wrong receiver woke");
        latencies.push(at - t0);
    }

    // Assert 2
    latencies.sort();
    let p50 = latencies[SAMPLES / 2];
    let p99 = latencies[SAMPLES * 99 / 100];
    println!(
        "many queues: {QUEUES} idle receivers subscribed in {subscribe_time:?}; 1 LISTEN + {} work connections \
         (pool {POOL}); wake latency p50 {p50:?} p99 {p99:?} max {:?} ({SAMPLES} sends)",
        work.len(),
        latencies[SAMPLES - 1],
    );
    assert!(p99 < Duration::from_millis(50), "wake latency p99 {p99:?} (p50 {p50:?}) is not under 50 ms");
    assert!(woke.try_recv().is_err(), "a message was delivered that was not sent in this loop");

    // Act 3: drop every receiver.
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        assert!(task.await.unwrap_err().is_cancelled());
    }

    // Assert 3: no queue channel is subscribed any more, and the server stops listening on all of them
    // (the lease keepers of the 200 queues that received let go of their cancel channels at their next
    // heartbeat tick, a third of the 10 s ack deadline).
    let dropped = Instant::now();
    let client_side = receiving.listener_channel_count();
    let unlistened = eventually(Duration::from_secs(10), || async {
        receiving.listener_server_channels().await.is_some_and(|c| c.is_empty())
    })
    .await;
    assert!(
        unlistened,
        "still listening on {:?} 10 s after the receivers were dropped",
        receiving.listener_server_channels().await
    );
    assert_eq!(receiving.listener_channel_count(), 0);
    println!("many queues: {client_side} channels (lease keepers') left at drop, none after {:?}", dropped.elapsed());
    assert!(client_side <= SAMPLES, "{client_side} channels left right after the receivers were dropped");
    receiving.close().await;
    for name in &names {
        sender.delete_queue(name).await.unwrap();
    }
}
