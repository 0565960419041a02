//! The Rust worker of the chaos checker: receives from one queue through pgmq-core's public API, acts out
//! the behaviour written in each message body, and logs every step as a JSON line on stdout (see
//! "Chaos and soak" in docs/testing.md, and `chaos/src/main.rs`).
//!
//! Environment: `CHAOS_DSN`, `CHAOS_QUEUE`, `CHAOS_CONCURRENCY` (receiving tasks, default 8).
//! Task 0 receives in batches of 4 (`next_batch`), the others one at a time.

use std::time::Duration;

use pgmq_chaos::{emit, mono_us};
use pgmq_core::{Client, ClientOptions, Error, Message, NackOptions, Queue, ReceiveOptions, Uuid};
use serde_json::{json, Value};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dsn = env("CHAOS_DSN");
    let queue_name = env("CHAOS_QUEUE");
    let concurrency: usize = std::env::var("CHAOS_CONCURRENCY").ok().and_then(|c| c.parse().ok()).unwrap_or(8);
    pgmq_chaos::exit_when_orphaned();
    // The server may be restarting right now: keep trying.
    let client = loop {
        match Client::connect_with(&dsn, ClientOptions::default().pool_size(4)).await {
            Ok(c) => break c,
            Err(e) => {
                emit(&json!({"e": "err", "where": "connect", "r": e.code(), "t": mono_us()}));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let queue = client.queue(&queue_name).expect("valid queue name");
    emit(&json!({"e": "ready", "t": mono_us()}));
    let tasks: Vec<_> =
        (0..concurrency).map(|i| tokio::spawn(receive_loop(queue.clone(), if i == 0 { 4 } else { 1 }))).collect();
    for t in tasks {
        let _ = t.await;
    }
}

async fn receive_loop(queue: Queue, batch: usize) {
    let options = ReceiveOptions::default().batch_size(batch).poll_interval(Duration::from_secs(2));
    let mut receiver = queue.receiver(options).expect("valid receive options");
    loop {
        // The claim happens inside this call (the receiver holds nothing when it starts), so `t0` is a
        // lower bound of the claim's time: the checker uses it to order deliveries.
        let t0 = mono_us();
        match receiver.next_batch().await {
            Ok(messages) => {
                let t = mono_us();
                for m in &messages {
                    let body: Value = serde_json::from_slice(m.body()).unwrap_or(Value::Null);
                    emit(
                        &json!({"e": "recv", "id": m.id().to_string(), "a": m.delivery_attempt(), "tok": m.lease_token().to_string(),
                                 "t0": t0, "t": t, "n": body["n"], "b": body["b"]}),
                    );
                }
                futures_util::future::join_all(messages.into_iter().map(|m| handle(&queue, m))).await;
            }
            Err(Error::Closed) => return,
            Err(e) => {
                emit(&json!({"e": "err", "where": "recv", "r": e.code(), "t": mono_us()}));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// What a handler that raises looks like in Rust: an error value, turned into a nack.
fn work(fail: bool) -> Result<(), String> {
    if fail {
        Err("chaos: the handler failed on purpose".to_owned())
    } else {
        Ok(())
    }
}

async fn handle(queue: &Queue, msg: Message) {
    let body: Value = serde_json::from_slice(msg.body()).unwrap_or(Value::Null);
    let attempt = msg.delivery_attempt() as u64;
    match body["b"].as_str().unwrap_or("ok") {
        "raise" => match work(attempt <= body["k"].as_u64().unwrap_or(1)) {
            Ok(()) => ack(&msg).await,
            Err(e) => nack(&msg, NackOptions { delay: None, error: Some(e) }).await,
        },
        "nack_once" if attempt == 1 => {
            nack(&msg, NackOptions { delay: Some(Duration::from_millis(200)), error: Some("once".into()) }).await
        }
        "fail" => nack(&msg, NackOptions { delay: None, error: Some("always fails".into()) }).await,
        "slow" => {
            let ms = body["ms"].as_u64().unwrap_or(2500);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                _ = msg.cancelled() => {
                    emit(&json!({"e": "intr", "id": msg.id().to_string(), "a": attempt, "t": mono_us()}));
                }
            }
            ack(&msg).await // on a cancelled message: succeeds and changes nothing
        }
        "cancel" => {
            if let Some(target) = body["target"].as_str().and_then(|t| Uuid::parse_str(t).ok()) {
                emit(
                    &json!({"e": "cancel", "id": msg.id().to_string(), "a": attempt, "target": target.to_string(), "t": mono_us()}),
                );
                let r = match queue.cancel(&[target]).await {
                    Ok(found) if found.contains(&target) => "found",
                    Ok(_) => "not_found",
                    Err(e) => e.code(),
                };
                emit(
                    &json!({"e": "cancel_r", "id": msg.id().to_string(), "target": target.to_string(), "r": r, "t": mono_us()}),
                );
            }
            ack(&msg).await
        }
        _ => ack(&msg).await,
    }
}

/// Acks, retrying after connection trouble (the message stays held then, and retrying is safe).
async fn ack(msg: &Message) {
    for _ in 0..5 {
        emit(&json!({"e": "ack", "id": msg.id().to_string(), "a": msg.delivery_attempt(), "t": mono_us()}));
        let r = msg.ack().await;
        emit(&json!({"e": "ack_r", "id": msg.id().to_string(), "a": msg.delivery_attempt(), "t": mono_us(),
                     "r": r.as_ref().map_or_else(|e| e.code(), |_| "ok")}));
        match r {
            Err(Error::Connection(_) | Error::Database(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => return,
        }
    }
}

async fn nack(msg: &Message, options: NackOptions) {
    for _ in 0..5 {
        emit(&json!({"e": "nack", "id": msg.id().to_string(), "a": msg.delivery_attempt(), "t": mono_us()}));
        let r = msg.nack(options.clone()).await;
        emit(&json!({"e": "nack_r", "id": msg.id().to_string(), "a": msg.delivery_attempt(), "t": mono_us(),
                     "r": r.as_ref().map_or_else(|e| e.code(), |_| "ok")}));
        match r {
            Err(Error::Connection(_) | Error::Database(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => return,
        }
    }
}
