//! `make bench`: pgmq-core throughput and latency beside the ceiling that hand-written SQL reaches on the
//! same cluster in the same run. Prints a table and appends one JSON object per figure to
//! `target/bench/summary.jsonl`.
//!
//! Figures: send_one (8 concurrent senders), send_batch (1,000 per call), outbox_send_one (8 concurrent
//! senders, each message in its own committed transaction through `pgmq_core::outbox` on a plain
//! tokio-postgres connection; ceiling: the same transactions of one plain INSERT), outbox_send_batch
//! (1,000 per `pgmq.send_batch` call, one call per transaction; ceiling: send_batch's), receive_ack (8 workers, batch
//! 100), tracked_receive_ack (the same with outcomes recorded; "ceiling": untracked, just before),
//! dependent_send_one (send_one where each message depends on one still queued; "ceiling": send_one just
//! before), bounded_send_one / bounded_send_batch (the same sends into a queue bounded far above what they
//! send; "ceiling": the unbounded figure measured just before), latency_p50/p99 (send -> handler start with an idle worker, 1,000 samples), completion_p50/p99
//! (send -> the completion wait returns, the idle worker acking plainly; ceiling: the same round trip in raw
//! SQL, INSERT + NOTIFY, a LISTENing worker's DELETE + NOTIFY back), request_p50/p99 (`Queue::request` ->
//! its reply, the worker acking with a small JSON result; "ceiling": completion_p50/p99 of the same run,
//! samples interleaved), many_queues_p50/p99
//! (1,000 queues with one idle receiver each on ONE client: send to a random queue -> its receiver
//! wakes, 1,000 samples), many_queues_subscribe (time until those 1,000 receivers are all subscribed
//! and asleep), many_queues_listen_conns / many_queues_pool_conns (that client's backends in
//! pg_stat_activity meanwhile; their "ceiling" is the bound: 1 LISTEN connection, `pool_size` work
//! connections), connect_tls (median time to a ready client over TLS verify-full + SCRAM, beside the
//! same over plaintext + SCRAM as its "ceiling"; needs the TLS cluster of PGMQ_PG_TLS=1). Sizes scale with `PGMQ_BENCH_SCALE` (default 1.0), except the 1,000 queues.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use pgmq_core::{Client, ClientOptions, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions, Uuid};
use tokio_postgres::NoTls;

const PAYLOAD: &[u8] = br#"{"job":"resize","id":123456,"size":"large"}"#;
/// Queues (one idle receiver each, all on one client) of the many_queues figures.
const MANY_QUEUES: usize = 1_000;
/// The pool of that client (the default).
const MANY_QUEUES_POOL: usize = 10;

struct Figure {
    name: &'static str,
    value: f64,
    unit: &'static str,
    ceiling: f64,
}

fn scale(n: usize) -> usize {
    let s: f64 = std::env::var("PGMQ_BENCH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    ((n as f64 * s) as usize).max(1)
}

async fn raw(dsn: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(dsn, NoTls).await.expect("connect");
    tokio::spawn(conn);
    c
}

async fn reset_raw_table(dsn: &str) {
    raw(dsn)
        .await
        .batch_execute(
            "DROP TABLE IF EXISTS bench_raw;
             CREATE TABLE bench_raw (id bigserial PRIMARY KEY, payload bytea NOT NULL,
                                     created_at timestamptz NOT NULL DEFAULT now());",
        )
        .await
        .unwrap();
}

async fn fresh_queue(client: &Client, name: &str) -> pgmq_core::Queue {
    fresh_queue_with(client, name, QueueOptions::default()).await
}

async fn fresh_queue_with(client: &Client, name: &str, options: QueueOptions) -> pgmq_core::Queue {
    client.delete_queue(name).await.unwrap();
    client.create_queue(name, &options.dead_letter_queue(None)).await.unwrap();
    client.queue(name).unwrap()
}

/// The bound of the bounded_* figures: far above what they send, so every send fits ("below the bound").
const BENCH_BOUND: u64 = 10_000_000;

/// A random index below `n`.
fn random_below(n: usize) -> usize {
    (Uuid::new_v4().as_u128() % n as u128) as usize
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

// ---- ceilings: plain SQL on plain connections ----

async fn ceiling_send_one(dsn: &str, total: usize) -> f64 {
    reset_raw_table(dsn).await;
    let per = total / 8;
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(raw(dsn).await);
    }
    let start = Instant::now();
    join_all(conns.iter().map(|c| async move {
        let stmt = c.prepare("INSERT INTO bench_raw (payload) VALUES ($1)").await.unwrap();
        for _ in 0..per {
            c.execute(&stmt, &[&PAYLOAD]).await.unwrap();
        }
    }))
    .await;
    (per * 8) as f64 / start.elapsed().as_secs_f64()
}

async fn ceiling_send_batch(dsn: &str, batches: usize) -> f64 {
    reset_raw_table(dsn).await;
    let c = raw(dsn).await;
    let stmt = c.prepare("INSERT INTO bench_raw (payload) SELECT unnest($1::bytea[])").await.unwrap();
    let bodies: Vec<&[u8]> = vec![PAYLOAD; 1000];
    let start = Instant::now();
    for _ in 0..batches {
        c.execute(&stmt, &[&bodies]).await.unwrap();
    }
    (batches * 1000) as f64 / start.elapsed().as_secs_f64()
}

async fn ceiling_receive_ack(dsn: &str, total: usize) -> f64 {
    reset_raw_table(dsn).await;
    let c = raw(dsn).await;
    let bodies: Vec<&[u8]> = vec![PAYLOAD; 1000];
    for _ in 0..total / 1000 {
        c.execute("INSERT INTO bench_raw (payload) SELECT unnest($1::bytea[])", &[&bodies]).await.unwrap();
    }
    c.batch_execute("VACUUM ANALYZE bench_raw").await.unwrap();
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(raw(dsn).await);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    join_all(conns.iter().map(|c| {
        let done = done.clone();
        async move {
            let stmt = c
                .prepare(
                    "DELETE FROM bench_raw WHERE id = ANY(ARRAY(
                         SELECT id FROM bench_raw ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 100))
                     RETURNING id, payload",
                )
                .await
                .unwrap();
            loop {
                let rows = c.query(&stmt, &[]).await.unwrap();
                if rows.is_empty() {
                    break;
                }
                done.fetch_add(rows.len(), Ordering::Relaxed);
            }
        }
    }))
    .await;
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// NOTIFY-woken claim in raw SQL: INSERT + NOTIFY commits on one connection; another, LISTENing,
/// wakes and claims with DELETE ... SKIP LOCKED LIMIT 1. Same shape as pgmq's path. With `channels` > 1
/// the listening connection LISTENs on that many channels and each sample notifies a random one.
/// Returns p50, p99 and how long the LISTENs took (ms).
async fn ceiling_latency(dsn: &str, samples: usize, channels: usize) -> (f64, f64, f64) {
    use futures_util::StreamExt;
    reset_raw_table(dsn).await;
    let (listener, mut conn) = tokio_postgres::connect(dsn, NoTls).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = stream.next().await {
            if let tokio_postgres::AsyncMessage::Notification(_) = m {
                let _ = tx.send(());
            }
        }
    });
    let names: Vec<String> = (0..channels).map(|i| format!("bench_raw_{i}")).collect();
    let listening = Instant::now();
    listener.batch_execute(&names.iter().map(|n| format!("LISTEN {n};")).collect::<String>()).await.unwrap();
    let listen_ms = listening.elapsed().as_secs_f64() * 1e3;
    let worker = raw(dsn).await;
    let sender = raw(dsn).await;
    let claim = worker
        .prepare(
            "DELETE FROM bench_raw WHERE id = (SELECT id FROM bench_raw ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
             RETURNING payload",
        )
        .await
        .unwrap();
    let send = sender
        .prepare("WITH i AS (INSERT INTO bench_raw (payload) VALUES ($1) RETURNING 1) SELECT pg_notify($2, '') FROM i")
        .await
        .unwrap();
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let channel = &names[random_below(channels)];
        let t0 = Instant::now();
        let (_, ()) = tokio::join!(async { sender.execute(&send, &[&PAYLOAD, channel]).await.unwrap() }, async {
            rx.recv().await.unwrap();
            let rows = worker.query(&claim, &[]).await.unwrap();
            assert_eq!(rows.len(), 1);
        });
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&lat, 0.5), percentile(&lat, 0.99), listen_ms)
}

/// A LISTENing connection and the stream of its notifications' channel names.
async fn raw_listener(dsn: &str, channel: &str) -> (tokio_postgres::Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use futures_util::StreamExt;
    let (client, mut conn) = tokio_postgres::connect(dsn, NoTls).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = stream.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                let _ = tx.send(n.channel().to_owned());
            }
        }
    });
    client.batch_execute(&format!("LISTEN {channel}")).await.unwrap();
    (client, rx)
}

/// The round trip of completion and request/reply in raw SQL: the sender's INSERT + NOTIFY commits, the
/// worker (LISTENing) wakes, claims and deletes the row and NOTIFYs back in one statement, and the
/// sender (LISTENing on its own connection) wakes. Returns p50 and p99 (ms).
async fn ceiling_round_trip(dsn: &str, samples: usize) -> (f64, f64) {
    reset_raw_table(dsn).await;
    let (worker, mut work) = raw_listener(dsn, "bench_raw_work").await;
    let (_waiter, mut done) = raw_listener(dsn, "bench_raw_done").await;
    let sender = raw(dsn).await;
    let claim = worker
        .prepare(
            "WITH d AS (DELETE FROM bench_raw
                        WHERE id = (SELECT id FROM bench_raw ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                        RETURNING id)
             SELECT pg_notify('bench_raw_done', id::text) FROM d",
        )
        .await
        .unwrap();
    let send = sender
        .prepare("WITH i AS (INSERT INTO bench_raw (payload) VALUES ($1) RETURNING 1) SELECT pg_notify('bench_raw_work', '') FROM i")
        .await
        .unwrap();
    let worker_task = tokio::spawn(async move {
        while work.recv().await.is_some() {
            worker.query(&claim, &[]).await.unwrap();
        }
    });
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t0 = Instant::now();
        sender.execute(&send, &[&PAYLOAD]).await.unwrap();
        done.recv().await.unwrap();
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    worker_task.abort();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&lat, 0.5), percentile(&lat, 0.99))
}

/// BEGIN; one INSERT; COMMIT, on 8 connections at once: what outbox_send_one's transactions cost without
/// pgmq.
async fn ceiling_tx_send_one(dsn: &str, total: usize) -> f64 {
    reset_raw_table(dsn).await;
    let per = total / 8;
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(raw(dsn).await);
    }
    let start = Instant::now();
    join_all(conns.iter_mut().map(|c| async move {
        let stmt = c.prepare("INSERT INTO bench_raw (payload) VALUES ($1)").await.unwrap();
        for _ in 0..per {
            let tx = c.transaction().await.unwrap();
            tx.execute(&stmt, &[&PAYLOAD]).await.unwrap();
            tx.commit().await.unwrap();
        }
    }))
    .await;
    (per * 8) as f64 / start.elapsed().as_secs_f64()
}

// ---- pgmq ----

/// Each message in its own transaction on a plain connection, as an application sending from its own
/// transaction does (BEGIN, pgmq.send, COMMIT), 8 connections at once.
async fn outbox_send_one(client: &Client, dsn: &str, total: usize) -> f64 {
    fresh_queue(client, "bench-outbox-one").await;
    let per = total / 8;
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(raw(dsn).await);
    }
    let start = Instant::now();
    join_all(conns.iter_mut().map(|c| async move {
        for _ in 0..per {
            let tx = c.transaction().await.unwrap();
            pgmq_core::outbox::send(&tx, "bench-outbox-one", PAYLOAD.to_vec(), &SendOptions::default()).await.unwrap();
            tx.commit().await.unwrap();
        }
    }))
    .await;
    (per * 8) as f64 / start.elapsed().as_secs_f64()
}

/// 1,000 messages per pgmq.send_batch call on a plain connection, each call its own transaction.
async fn outbox_send_batch(client: &Client, dsn: &str, batches: usize) -> f64 {
    fresh_queue(client, "bench-outbox-batch").await;
    let c = raw(dsn).await;
    let start = Instant::now();
    for _ in 0..batches {
        let batch: Vec<OutgoingMessage> = (0..1000).map(|_| OutgoingMessage::new(PAYLOAD)).collect();
        pgmq_core::outbox::send_batch(&c, "bench-outbox-batch", batch, &SendOptions::default()).await.unwrap();
    }
    (batches * 1000) as f64 / start.elapsed().as_secs_f64()
}

async fn pgmq_send_one(client: &Client, total: usize, name: &str, max_messages: Option<u64>) -> f64 {
    let queue = fresh_queue_with(client, name, QueueOptions::default().max_messages(max_messages)).await;
    let per = total / 8;
    let start = Instant::now();
    join_all((0..8).map(|_| {
        let queue = queue.clone();
        async move {
            for _ in 0..per {
                queue.send(PAYLOAD.to_vec(), &SendOptions::default()).await.unwrap();
            }
        }
    }))
    .await;
    (per * 8) as f64 / start.elapsed().as_secs_f64()
}

async fn dependent_send_one(client: &Client, total: usize) -> f64 {
    let queue = fresh_queue(client, "bench-dependent-one").await;
    let first = fresh_queue(client, "bench-dependent-first").await;
    let per = total / 8;
    let start = Instant::now();
    join_all((0..8).map(|_| {
        let (queue, first) = (queue.clone(), first.clone());
        async move {
            let dependency = first.send(PAYLOAD.to_vec(), &SendOptions::default()).await.unwrap().id();
            let after = SendOptions::default().depends_on([dependency]);
            for _ in 0..per {
                queue.send(PAYLOAD.to_vec(), &after).await.unwrap();
            }
        }
    }))
    .await;
    (per * 8) as f64 / start.elapsed().as_secs_f64()
}

async fn pgmq_send_batch(client: &Client, batches: usize, name: &str, max_messages: Option<u64>) -> f64 {
    let queue = fresh_queue_with(client, name, QueueOptions::default().max_messages(max_messages)).await;
    let start = Instant::now();
    for _ in 0..batches {
        let batch: Vec<OutgoingMessage> = (0..1000).map(|_| OutgoingMessage::new(PAYLOAD)).collect();
        queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    }
    (batches * 1000) as f64 / start.elapsed().as_secs_f64()
}

/// 8 workers (batch 100) ack what was queued before they started; with `track`, every ack records its
/// outcome (the default of a send), else none is recorded.
async fn pgmq_receive_ack(client: &Client, total: usize, track: bool) -> f64 {
    let queue = fresh_queue(client, if track { "bench-receive-ack-tracked" } else { "bench-receive-ack" }).await;
    for _ in 0..total / 1000 {
        let batch: Vec<OutgoingMessage> = (0..1000).map(|_| OutgoingMessage::new(PAYLOAD)).collect();
        queue.send_batch(batch, &SendOptions::default().track(track)).await.unwrap();
    }
    raw(&std::env::var("DATABASE_URL").unwrap()).await.batch_execute("VACUUM ANALYZE pgmq.messages").await.unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let target = (total / 1000) * 1000;
    let start = Instant::now();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let queue = queue.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut rx = queue.receiver(ReceiveOptions::default().batch_size(100)).unwrap();
                while done.load(Ordering::Relaxed) < target {
                    let batch = tokio::select! {
                        b = rx.next_batch() => b.unwrap(),
                        _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    };
                    let n = batch.len();
                    join_all(batch.iter().map(|m| m.ack())).await.into_iter().for_each(|r| r.unwrap());
                    done.fetch_add(n, Ordering::Relaxed);
                }
            })
        })
        .collect();
    join_all(workers).await;
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn pgmq_latency(client: &Client, samples: usize) -> (f64, f64) {
    let queue = fresh_queue(client, "bench-latency").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let worker_queue = queue.clone();
    let worker = tokio::spawn(async move {
        let mut receiver = worker_queue.receiver(ReceiveOptions::default()).unwrap();
        loop {
            let Ok(message) = receiver.next().await else { return };
            let _ = tx.send(Instant::now()); // handler start
            message.ack().await.unwrap();
        }
    });
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t0 = Instant::now();
        queue.send(PAYLOAD.to_vec(), &SendOptions::default().track(false)).await.unwrap();
        let started = rx.recv().await.unwrap();
        lat.push(started.duration_since(t0).as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    worker.abort();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&lat, 0.5), percentile(&lat, 0.99))
}

/// Send -> completion wait returns (the worker acks plainly) and request -> reply (the worker acks with a
/// small JSON result), with one idle worker, the samples of both interleaved so that they share the
/// machine's conditions. Returns ((completion p50, p99), (request p50, p99)) in ms.
async fn pgmq_round_trips(client: &Client, samples: usize) -> ((f64, f64), (f64, f64)) {
    let queue = fresh_queue(client, "bench-round-trip").await;
    let worker_queue = queue.clone();
    let worker = tokio::spawn(async move {
        let mut receiver = worker_queue.receiver(ReceiveOptions::default()).unwrap();
        loop {
            let Ok(message) = receiver.next().await else { return };
            if message.body() == b"request" {
                message.ack_with_json(&serde_json::json!({"ok": true})).await.unwrap();
            } else {
                message.ack().await.unwrap();
            }
        }
    });
    let (mut completion, mut request) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for _ in 0..samples {
        let t0 = Instant::now();
        let sent = queue.send(PAYLOAD.to_vec(), &SendOptions::default()).await.unwrap();
        sent.wait().await.unwrap();
        completion.push(t0.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(2)).await;
        let t0 = Instant::now();
        let reply = queue.request(b"request".to_vec(), Duration::from_secs(30)).await.unwrap();
        request.push(t0.elapsed().as_secs_f64() * 1e3);
        assert!(reply.result().is_some());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    worker.abort();
    completion.sort_by(|a, b| a.partial_cmp(b).unwrap());
    request.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        (percentile(&completion, 0.5), percentile(&completion, 0.99)),
        (percentile(&request, 0.5), percentile(&request, 0.99)),
    )
}

struct ManyQueues {
    p50: f64,
    p99: f64,
    /// Until every receiver was subscribed and asleep (ms).
    subscribe_ms: f64,
    listen_conns: usize,
    pool_conns: usize,
}

/// `MANY_QUEUES` queues, one idle receiver each, all on ONE client of its own (pool `MANY_QUEUES_POOL`,
/// named in pg_stat_activity); `client` sends to random queues one at a time. Latency is send -> the
/// receiver's `next()` returning.
async fn pgmq_many_queues(client: &Client, dsn: &str, samples: usize) -> ManyQueues {
    let app = format!("pgmq_bench_many_{}", std::process::id());
    let app_dsn = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        format!("{dsn}{}application_name={app}", if dsn.contains('?') { '&' } else { '?' })
    } else {
        format!("{dsn} application_name={app}")
    };
    let receiving =
        Client::connect_with(&app_dsn, ClientOptions::default().pool_size(MANY_QUEUES_POOL)).await.unwrap();
    let names: Vec<String> = (0..MANY_QUEUES).map(|i| format!("bench-many-{i}")).collect();
    let mut queues = Vec::with_capacity(MANY_QUEUES);
    for chunk in names.chunks(50) {
        queues.extend(join_all(chunk.iter().map(|name| fresh_queue(client, name))).await);
    }

    let (tx, mut woke) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let started = Instant::now();
    let workers: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut receiver = receiving.queue(name).unwrap().receiver(ReceiveOptions::default()).unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                loop {
                    let Ok(message) = receiver.next().await else { return };
                    let _ = tx.send((i, Instant::now()));
                    message.ack().await.unwrap();
                }
            })
        })
        .collect();
    while receiving.listener_waiting_count() < MANY_QUEUES {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let subscribe_ms = started.elapsed().as_secs_f64() * 1e3;

    let listener = receiving.listener_backend_pid().await.unwrap();
    let backends = raw(dsn)
        .await
        .query("SELECT pid, query FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .await
        .unwrap();
    let listen_conns = backends
        .iter()
        .filter(|r| r.get::<_, i32>(0) == listener || r.get::<_, String>(1).to_uppercase().starts_with("LISTEN"))
        .count();
    let pool_conns = backends.len() - listen_conns;
    let channels = receiving.listener_server_channels().await.unwrap().len();
    assert_eq!(channels, MANY_QUEUES, "the LISTEN connection should listen on one channel per queue");

    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let i = random_below(MANY_QUEUES);
        let t0 = Instant::now();
        queues[i].send(PAYLOAD.to_vec(), &SendOptions::default().track(false)).await.unwrap();
        let (got, at) = woke.recv().await.unwrap();
        assert_eq!(got, i, "the wrong receiver woke");
        lat.push(at.duration_since(t0).as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for w in &workers {
        w.abort();
    }
    join_all(workers).await;
    receiving.close().await;
    for chunk in names.chunks(50) {
        join_all(chunk.iter().map(|name| client.delete_queue(name))).await;
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ManyQueues { p50: percentile(&lat, 0.5), p99: percentile(&lat, 0.99), subscribe_ms, listen_conns, pool_conns }
}

/// Connects of each kind in the connect_tls figure.
const CONNECTS: usize = 40;

/// Median milliseconds to a ready client (one pool connection, the LISTEN connection, the NOTIFY probe)
/// and closed again; the "ceiling" of connect_tls is the same over plaintext, so the ratio is the cost
/// of the TLS handshakes.
async fn connect_ms(dsn: &str) -> f64 {
    let mut samples = Vec::with_capacity(CONNECTS);
    for _ in 0..CONNECTS {
        let start = Instant::now();
        let client = Client::connect_with(dsn, ClientOptions::default().pool_size(1)).await.expect("connect");
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
        client.close().await;
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let dsn = std::env::var("DATABASE_URL").expect("set DATABASE_URL (make bench does)");
    let client = Client::connect_with(&dsn, ClientOptions::default().pool_size(16)).await.unwrap();
    client.migrate().await.unwrap();

    let n_one = scale(8_000);
    let n_batches = scale(100);
    let n_recv = scale(200_000);
    let n_lat = scale(1_000);

    // PGMQ_BENCH_ONLY=send_one,latency runs a subset (for profiling).
    let only = std::env::var("PGMQ_BENCH_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only.split(',').any(|o| name.starts_with(o));
    let mut figures = Vec::new();
    if want("send_one") {
        eprintln!("bench: send_one ({n_one} msgs)...");
        let ceiling = ceiling_send_one(&dsn, n_one).await;
        let value = pgmq_send_one(&client, n_one, "bench-send-one", None).await;
        figures.push(Figure { name: "send_one", value, unit: "msg/s", ceiling });
    }
    if want("bounded_send_one") {
        // Unbounded and bounded back to back; the "ceiling" is the unbounded figure.
        eprintln!("bench: bounded_send_one ({n_one} msgs, beside unbounded)...");
        let unbounded = pgmq_send_one(&client, n_one, "bench-send-one", None).await;
        let value = pgmq_send_one(&client, n_one, "bench-bounded-one", Some(BENCH_BOUND)).await;
        figures.push(Figure { name: "bounded_send_one", value, unit: "msg/s", ceiling: unbounded });
    }
    if want("dependent_send_one") {
        // Each message depends on one still queued (its sender's own, in another queue); "ceiling":
        // send_one measured just before.
        eprintln!("bench: dependent_send_one ({n_one} msgs, beside send_one)...");
        let plain = pgmq_send_one(&client, n_one, "bench-send-one", None).await;
        let value = dependent_send_one(&client, n_one).await;
        figures.push(Figure { name: "dependent_send_one", value, unit: "msg/s", ceiling: plain });
    }
    if want("send_batch") {
        eprintln!("bench: send_batch ({n_batches} x 1000)...");
        let ceiling = ceiling_send_batch(&dsn, n_batches).await;
        let value = pgmq_send_batch(&client, n_batches, "bench-send-batch", None).await;
        figures.push(Figure { name: "send_batch", value, unit: "msg/s", ceiling });
    }
    if want("bounded_send_batch") {
        eprintln!("bench: bounded_send_batch ({n_batches} x 1000, beside unbounded)...");
        let unbounded = pgmq_send_batch(&client, n_batches, "bench-send-batch", None).await;
        let value = pgmq_send_batch(&client, n_batches, "bench-bounded-batch", Some(BENCH_BOUND)).await;
        figures.push(Figure { name: "bounded_send_batch", value, unit: "msg/s", ceiling: unbounded });
    }
    if want("outbox_send_one") {
        eprintln!("bench: outbox_send_one ({n_one} msgs, one per transaction)...");
        let ceiling = ceiling_tx_send_one(&dsn, n_one).await;
        let value = outbox_send_one(&client, &dsn, n_one).await;
        figures.push(Figure { name: "outbox_send_one", value, unit: "msg/s", ceiling });
    }
    if want("outbox_send_batch") {
        eprintln!("bench: outbox_send_batch ({n_batches} x 1000)...");
        let ceiling = ceiling_send_batch(&dsn, n_batches).await;
        let value = outbox_send_batch(&client, &dsn, n_batches).await;
        figures.push(Figure { name: "outbox_send_batch", value, unit: "msg/s", ceiling });
    }
    if want("receive_ack") {
        eprintln!("bench: receive_ack ({n_recv} msgs)...");
        let ceiling = ceiling_receive_ack(&dsn, n_recv).await;
        let value = pgmq_receive_ack(&client, n_recv, false).await;
        figures.push(Figure { name: "receive_ack", value, unit: "msg/s", ceiling });
    }
    if want("tracked_receive_ack") {
        // The same with outcomes recorded; "ceiling": the untracked figure measured just before.
        eprintln!("bench: tracked_receive_ack ({n_recv} msgs, beside untracked)...");
        let untracked = pgmq_receive_ack(&client, n_recv, false).await;
        let value = pgmq_receive_ack(&client, n_recv, true).await;
        figures.push(Figure { name: "tracked_receive_ack", value, unit: "msg/s", ceiling: untracked });
    }
    if want("latency") {
        eprintln!("bench: latency ({n_lat} samples)...");
        let (c50, c99, _) = ceiling_latency(&dsn, n_lat, 1).await;
        let (p50, p99) = pgmq_latency(&client, n_lat).await;
        figures.push(Figure { name: "latency_p50", value: p50, unit: "ms", ceiling: c50 });
        figures.push(Figure { name: "latency_p99", value: p99, unit: "ms", ceiling: c99 });
    }
    if want("completion") || want("request") {
        eprintln!("bench: completion and request round trips ({n_lat} samples each)...");
        let (c50, c99) = ceiling_round_trip(&dsn, n_lat).await;
        let ((p50, p99), (r50, r99)) = pgmq_round_trips(&client, n_lat).await;
        figures.push(Figure { name: "completion_p50", value: p50, unit: "ms", ceiling: c50 });
        figures.push(Figure { name: "completion_p99", value: p99, unit: "ms", ceiling: c99 });
        // The request's bound is the plain completion of the same run (goal: within 1 ms of it).
        figures.push(Figure { name: "request_p50", value: r50, unit: "ms", ceiling: p50 });
        figures.push(Figure { name: "request_p99", value: r99, unit: "ms", ceiling: p99 });
    }
    if want("many_queues") {
        eprintln!("bench: many_queues ({MANY_QUEUES} queues with idle receivers on one client, {n_lat} samples)...");
        let (c50, c99, c_listen) = ceiling_latency(&dsn, n_lat, MANY_QUEUES).await;
        let m = pgmq_many_queues(&client, &dsn, n_lat).await;
        figures.push(Figure { name: "many_queues_p50", value: m.p50, unit: "ms", ceiling: c50 });
        figures.push(Figure { name: "many_queues_p99", value: m.p99, unit: "ms", ceiling: c99 });
        figures.push(Figure { name: "many_queues_subscribe", value: m.subscribe_ms, unit: "ms", ceiling: c_listen });
        let (listen, pool) = (m.listen_conns as f64, m.pool_conns as f64);
        figures.push(Figure { name: "many_queues_listen_conns", value: listen, unit: "conns", ceiling: 1.0 });
        let bound = MANY_QUEUES_POOL as f64;
        figures.push(Figure { name: "many_queues_pool_conns", value: pool, unit: "conns", ceiling: bound });
    }

    if want("connect_tls") {
        if let (Ok(port), Ok(password), Ok(dir)) =
            (std::env::var("PGMQ_TLS_PORT"), std::env::var("PGMQ_TLS_PASSWORD"), std::env::var("PGMQ_TLS_DIR"))
        {
            eprintln!("bench: connect_tls (TLS verify-full vs plaintext, both SCRAM, {} connects each)...", CONNECTS);
            let base = format!("host=localhost port={port} password={password} dbname=postgres");
            let tls = format!("{base} user=pgmq_tls sslmode=verify-full sslrootcert={dir}/ca.crt");
            let plain = format!("{base} user=pgmq_plain sslmode=disable");
            let (tls_ms, plain_ms) = (connect_ms(&tls).await, connect_ms(&plain).await);
            figures.push(Figure { name: "connect_tls", value: tls_ms, unit: "ms", ceiling: plain_ms });
        } else {
            eprintln!("bench: connect_tls skipped (no TLS cluster: PGMQ_PG_TLS=1 tests/with-postgres.sh starts one)");
        }
    }

    for q in ["bench-send-one", "bench-send-batch", "bench-outbox-one", "bench-outbox-batch", "bench-receive-ack", "bench-latency", "bench-round-trip",
              "bench-bounded-one", "bench-bounded-batch"] {
        let _ = client.delete_queue(q).await;
    }
    raw(&dsn).await.batch_execute("DROP TABLE IF EXISTS bench_raw").await.unwrap();
    client.close().await;

    println!("| figure | pgmq (rust) | raw SQL ceiling | pgmq / ceiling |");
    println!("|---|---:|---:|---:|");
    for f in &figures {
        if f.unit == "conns" {
            // A count against its bound, not against a ceiling.
            println!("| {} | {} {} | at most {} | |", f.name, f.value, f.unit, f.ceiling);
            continue;
        }
        let ratio = if f.unit == "ms" { f.ceiling / f.value } else { f.value / f.ceiling };
        println!("| {} | {:.2} {} | {:.2} {} | {:.0}% |", f.name, f.value, f.unit, f.ceiling, f.unit, ratio * 100.0);
    }
    std::fs::create_dir_all("target/bench").unwrap();
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open("target/bench/summary.jsonl").unwrap();
    for f in &figures {
        writeln!(
            out,
            "{}",
            serde_json::json!({"figure": f.name, "lang": "rust", "value": f.value, "unit": f.unit, "ceiling": f.ceiling})
        )
        .unwrap();
    }
}
