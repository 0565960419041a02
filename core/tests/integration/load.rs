//! Load: many messages, several concurrent receivers: every message delivered exactly once, nothing lost,
//! and the batch's completion reports every outcome.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgmq_core::{Outcome, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions, Uuid};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use crate::common::*;

const MESSAGES: usize = 10_000;
const RECEIVERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_receivers_consume_10000_messages_exactly_once() {
    // Arrange: 10,000 tracked messages sent in one batch; a waiter for all of them.
    let client = client().await;
    let name = unique("load");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let batch: Vec<OutgoingMessage> = (0..MESSAGES).map(|i| OutgoingMessage::new(format!("m{i}"))).collect();
    let completion = queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let sent: HashSet<Uuid> = completion.ids().iter().copied().collect();
    assert_eq!(sent.len(), MESSAGES);
    let waiter = tokio::spawn({
        let completion = completion.clone();
        async move { completion.wait().await }
    });

    // Act: four receivers (batches of 50) on their own tasks, acking every message.
    let deliveries: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
    let all_seen = CancellationToken::new();
    let mut workers = Vec::new();
    for _ in 0..RECEIVERS {
        let mut rx = queue.receiver(ReceiveOptions::default().batch_size(50)).unwrap();
        let deliveries = deliveries.clone();
        let all_seen = all_seen.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let batch = tokio::select! {
                    _ = all_seen.cancelled() => return,
                    batch = rx.next_batch() => batch.unwrap(),
                };
                {
                    let mut seen = deliveries.lock().unwrap();
                    for m in &batch {
                        *seen.entry(m.id()).or_default() += 1;
                    }
                    if seen.len() == MESSAGES {
                        all_seen.cancel();
                    }
                }
                for result in futures_util::future::join_all(batch.iter().map(|m| m.ack())).await {
                    result.unwrap();
                }
            }
        }));
    }
    for worker in workers {
        timeout(Duration::from_secs(120), worker).await.expect("consuming 10,000 messages took over 120 s").unwrap();
    }

    // Assert: every sent id received exactly once, nothing left, every outcome completed.
    let deliveries = deliveries.lock().unwrap().clone();
    let received: HashSet<Uuid> = deliveries.keys().copied().collect();
    assert_eq!(received, sent, "lost or foreign messages");
    let duplicates: Vec<_> = deliveries.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "delivered more than once: {duplicates:?}");
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.messages, stats.dead_lettered), (0, 0));
    let outcomes = timeout(Duration::from_secs(30), waiter).await.expect("completion not resolved").unwrap().unwrap();
    assert_eq!(outcomes.len(), MESSAGES);
    assert!(outcomes.values().all(|o| *o == Outcome::Completed));
}
