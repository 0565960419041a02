//! Results and request/reply: a worker finishes a message with a result, which is kept with the outcome
//! and handed to whoever awaits the completion; `Queue::request` sends and awaits that reply in one call.

use std::time::Duration;

use pgmq_core::{
    Error, NackOptions, Outcome, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions, DEFAULTS,
};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

async fn queue_named(client: &pgmq_core::Client, prefix: &str, options: QueueOptions) -> pgmq_core::Queue {
    let name = unique(prefix);
    client.create_queue(&name, &options).await.unwrap();
    client.queue(&name).unwrap()
}

#[tokio::test]
async fn a_result_given_to_the_ack_reaches_the_waiter_with_its_label() {
    // Arrange
    let client = client().await;
    let queue = queue_named(&client, "reply-basic", QueueOptions::default()).await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let bytes = queue.send(b"a".to_vec(), &SendOptions::default()).await.unwrap();
    let json = queue.send(b"b".to_vec(), &SendOptions::default()).await.unwrap();
    let plain = queue.send(b"c".to_vec(), &SendOptions::default()).await.unwrap();

    // Act
    timeout(FIVE_S, rx.next()).await.unwrap().unwrap().ack_with_result(b"\x00\xffraw".to_vec(), None).await.unwrap();
    let m = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    m.ack_with_json(&serde_json::json!({"sum": 5, "text": "é"})).await.unwrap();
    timeout(FIVE_S, rx.next()).await.unwrap().unwrap().ack().await.unwrap();

    // Assert
    let reply = timeout(FIVE_S, bytes.wait_reply()).await.unwrap().unwrap();
    assert_eq!((reply.outcome(), reply.result(), reply.content_type()), (Outcome::Completed, Some(&b"\x00\xffraw"[..]), None));
    let reply = timeout(FIVE_S, json.wait_reply()).await.unwrap().unwrap();
    assert_eq!(reply.content_type(), Some("application/json"));
    assert_eq!(reply.json::<serde_json::Value>().unwrap(), serde_json::json!({"sum": 5, "text": "é"}));
    let reply = timeout(FIVE_S, plain.wait_reply()).await.unwrap().unwrap();
    assert_eq!((reply.outcome(), reply.result()), (Outcome::Completed, None));
    assert!(matches!(reply.json::<i32>(), Err(Error::InvalidOption(_))), "no result, no JSON");
    assert_eq!(timeout(FIVE_S, plain.wait()).await.unwrap().unwrap(), Outcome::Completed);
}

#[tokio::test]
async fn acks_with_and_without_results_batched_together_each_keep_their_own() {
    // Arrange: 200 messages held at once, acked concurrently (the committer batches them), every third
    // with no result.
    let client = client().await;
    let queue = queue_named(&client, "reply-batch", QueueOptions::default()).await;
    let bodies: Vec<OutgoingMessage> = (0..200).map(|i| OutgoingMessage::new(format!("{i}"))).collect();
    let completion = queue.send_batch(bodies, &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(200)).unwrap();
    let mut held = Vec::new();
    while held.len() < 200 {
        held.extend(timeout(FIVE_S, rx.next_batch()).await.unwrap().unwrap());
    }

    // Act
    let acks = held.iter().map(|m| async move {
        let i: usize = std::str::from_utf8(m.body()).unwrap().parse().unwrap();
        if i % 3 == 0 {
            m.ack().await
        } else {
            m.ack_with_result(format!("r{i}").into_bytes(), Some("text/plain")).await
        }
    });
    for result in futures_util::future::join_all(acks).await {
        result.unwrap();
    }

    // Assert
    let replies = timeout(FIVE_S, completion.wait_replies()).await.unwrap().unwrap();
    assert_eq!(replies.len(), 200);
    for (i, id) in completion.ids().iter().enumerate() {
        let reply = &replies[id];
        assert_eq!(reply.outcome(), Outcome::Completed);
        if i % 3 == 0 {
            assert_eq!((reply.result(), reply.content_type()), (None, None), "{i}");
        } else {
            assert_eq!((reply.result(), reply.content_type()), (Some(format!("r{i}").as_bytes()), Some("text/plain")), "{i}");
        }
    }
}

#[tokio::test]
async fn a_result_is_kept_for_a_waiter_that_comes_later_and_for_a_retried_message() {
    // Arrange: the first delivery fails; the second one answers.
    let client = client().await;
    let queue = queue_named(&client, "reply-later", QueueOptions::default()).await;
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    timeout(FIVE_S, rx.next()).await.unwrap().unwrap().nack(NackOptions::default()).await.unwrap();
    let m = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    assert_eq!(m.delivery_attempt(), 2);

    // Act
    m.ack_with_result(vec![7u8; 1_000_000], None).await.unwrap();

    // Assert: a new handle on the same id, from another client, after the ack.
    let other = crate::common::client().await;
    let later = other.queue(queue.name()).unwrap().completion(&[sent.id()]).await.unwrap();
    let replies = timeout(FIVE_S, later.wait_replies()).await.unwrap().unwrap();
    assert_eq!(replies[&sent.id()].result().map(<[u8]>::len), Some(1_000_000));
}

#[tokio::test]
async fn untracked_and_cancelled_messages_keep_no_result() {
    // Arrange
    let client = client().await;
    let queue = queue_named(&client, "reply-none", QueueOptions::default()).await;
    let untracked = queue.send(b"u".to_vec(), &SendOptions::default().track(false)).await.unwrap();
    let cancelled = queue.send(b"c".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    let first = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    let second = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();
    queue.cancel(&[cancelled.id()]).await.unwrap();
    timeout(FIVE_S, second.cancelled()).await.expect("holder signalled");

    // Act
    first.ack_with_result(b"lost".to_vec(), None).await.unwrap();
    second.ack_with_result(b"too late".to_vec(), None).await.unwrap();

    // Assert
    assert!(matches!(untracked.wait_reply().await, Err(Error::NotTracked(_))));
    let reply = timeout(FIVE_S, cancelled.wait_reply()).await.unwrap().unwrap();
    assert_eq!((reply.outcome(), reply.result()), (Outcome::Cancelled, None));
    let rows = raw().await.query("SELECT 1 FROM pgmq.outcomes WHERE id = $1", &[&untracked.id()]).await.unwrap();
    assert!(rows.is_empty(), "no outcome row for an untracked message");
}

#[tokio::test]
async fn a_bad_result_label_is_refused_and_the_message_stays_held() {
    // Arrange
    let client = client().await;
    let queue = queue_named(&client, "reply-bad", QueueOptions::default()).await;
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let m = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();

    // Act + Assert
    assert!(matches!(m.ack_with_result(b"r".to_vec(), Some("")).await, Err(Error::InvalidOption(_))));
    assert!(matches!(m.ack_with_result(b"r".to_vec(), Some("a\0b")).await, Err(Error::InvalidOption(_))));
    assert!(!m.is_finished());
    m.ack_with_result(b"r".to_vec(), Some("text/plain; charset=utf-8")).await.unwrap();
    let reply = timeout(FIVE_S, sent.wait_reply()).await.unwrap().unwrap();
    assert_eq!(reply.content_type(), Some("text/plain; charset=utf-8"));
    assert!(matches!(m.ack_with_result(b"r".to_vec(), None).await, Err(Error::AlreadyFinished(_))));
}

#[tokio::test]
async fn a_request_gets_its_reply_from_a_worker() {
    // Arrange: a worker that answers every request with the sum of its numbers.
    let client = client().await;
    let queue = queue_named(&client, "request", QueueOptions::default()).await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let worker = tokio::spawn(async move {
        for _ in 0..3 {
            let m = rx.next().await.unwrap();
            let numbers: Vec<i64> = m.json().unwrap();
            m.ack_with_json(&numbers.iter().sum::<i64>()).await.unwrap();
        }
    });

    // Act
    let mut sums = Vec::new();
    for numbers in [vec![1, 2], vec![3, 4, 5], vec![]] {
        let message = OutgoingMessage::json(&numbers).unwrap();
        let reply = timeout(FIVE_S, queue.request(message, FIVE_S)).await.unwrap().unwrap();
        sums.push(reply.json::<i64>().unwrap());
    }

    // Assert
    assert_eq!(sums, vec![3, 12, 0]);
    timeout(FIVE_S, worker).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_request_that_is_dead_lettered_fails_with_request_failed() {
    // Arrange: one attempt, and the worker fails it.
    let client = client().await;
    let queue = queue_named(&client, "request-dead", QueueOptions::default().max_delivery_attempts(1)).await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let worker = tokio::spawn(async move {
        let m = rx.next().await.unwrap();
        m.nack(NackOptions { error: Some("boom".into()), ..Default::default() }).await.unwrap();
    });

    // Act
    let result = timeout(FIVE_S, queue.request(b"x".to_vec(), FIVE_S)).await.unwrap();

    // Assert
    match result {
        Err(e @ Error::RequestFailed { outcome: Outcome::DeadLettered, .. }) => assert_eq!(e.code(), "request_failed"),
        other => panic!("expected request_failed, got {other:?}"),
    }
    worker.await.unwrap();
}

#[tokio::test]
async fn a_request_nobody_answers_times_out_and_is_cancelled() {
    // Arrange: no worker.
    let client = client().await;
    let queue = queue_named(&client, "request-timeout", QueueOptions::default()).await;

    // Act
    let result = queue.request(b"x".to_vec(), Duration::from_millis(200)).await;

    // Assert: a timeout, and the request will never be delivered.
    assert!(matches!(&result, Err(Error::Timeout(m)) if m.contains("cancelled")), "{result:?}");
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.messages, 0);
    let raw = raw().await;
    let row = raw
        .query_one(
            "SELECT count(*) FROM pgmq.outcomes o JOIN pgmq.queues q ON q.id = o.queue_id
             WHERE q.name = $1 AND o.outcome = 'cancelled'",
            &[&queue.name()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
}

#[tokio::test]
async fn a_request_with_a_bad_timeout_sends_nothing() {
    // Arrange
    let client = client().await;
    let queue = queue_named(&client, "request-bad", QueueOptions::default()).await;

    // Act + Assert
    assert!(matches!(queue.request(b"x".to_vec(), Duration::ZERO).await, Err(Error::InvalidOption(_))));
    let century = Duration::from_secs(101 * 366 * 86_400);
    assert!(matches!(queue.request(b"x".to_vec(), century).await, Err(Error::InvalidOption(_))));
    assert_eq!(queue.stats().await.unwrap().messages, 0);
    assert_eq!(DEFAULTS.request.timeout, Duration::from_secs(30));
    let missing = client.queue(&unique("request-missing")).unwrap();
    assert!(matches!(missing.request(b"x".to_vec(), FIVE_S).await, Err(Error::QueueNotFound(_))));
}
