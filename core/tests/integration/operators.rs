//! What operators use: peek reads a queue (or a DLQ) without touching it, purge deletes what no worker
//! holds and tells the senders' waiters, list_queues_with_stats shows every queue in one statement.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use pgmq_core::protocol::{completed_channel, EVERYTHING};
use pgmq_core::{
    dlq_name, Attribute, AttributeValue, Backoff, Client, MessageState, NackOptions, Outcome, OutgoingMessage,
    PeekOptions, QueueOptions, ReceiveOptions, SendOptions, Uuid,
};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);
const AN_HOUR: Duration = Duration::from_secs(3600);

/// What a claim or an ack would change in each row of queue `name`: (id, attempts, lease token), by id.
async fn lease_columns(raw: &tokio_postgres::Client, name: &str) -> Vec<(Uuid, i32, Option<Uuid>)> {
    raw.query(
        "SELECT m.id, m.delivery_attempts, m.lease_token FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id
         WHERE q.name = $1 ORDER BY m.id",
        &[&name],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn ids_and_states(peeked: &[pgmq_core::PeekedMessage]) -> Vec<(Uuid, MessageState)> {
    peeked.iter().map(|m| (m.id, m.state)).collect()
}

/// Queue `name` holding, in claim order: `red2` and `blue` ready, `red1` leased (returned, held by the
/// caller), `red3` scheduled an hour from now. Returns (ids by name, the held message).
async fn four_states(client: &Client, name: &str) -> (HashMap<&'static str, Uuid>, pgmq_core::Message) {
    client.create_queue(name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(name).unwrap();
    let batch = queue
        .send_batch(
            vec![
                OutgoingMessage::new("red1").attribute("color", "red").attribute("size", 1),
                OutgoingMessage::new("red2").attribute("color", "red").attribute("size", 2),
                OutgoingMessage::new("blue").attribute("color", "blue").attribute("size", 3),
            ],
            &SendOptions::default(),
        )
        .await
        .unwrap();
    let later = queue
        .send(OutgoingMessage::new("red3").attribute("color", "red"), &SendOptions::default().delay(AN_HOUR))
        .await
        .unwrap();
    let held = timeout(FIVE_S, queue.receiver(ReceiveOptions::default()).unwrap().next()).await.unwrap().unwrap();
    assert_eq!(held.id(), batch.ids()[0]);
    let ids = HashMap::from([("red1", batch.ids()[0]), ("red2", batch.ids()[1]), ("blue", batch.ids()[2]), ("red3", later.id())]);
    (ids, held)
}

#[tokio::test]
async fn peek_reads_messages_in_claim_order_without_leasing_or_changing_them() {
    // Arrange
    let client = client().await;
    let raw = raw().await;
    let name = unique("peek-look");
    let (ids, held) = four_states(&client, &name).await;
    let before = lease_columns(&raw, &name).await;

    // Act
    let peeked = client.queue(&name).unwrap().peek(&PeekOptions::default()).await.unwrap();

    // Assert: ready ones first, then by when each falls due (the lease's expiry, the schedule).
    let expected = vec![
        (ids["red2"], MessageState::Ready),
        (ids["blue"], MessageState::Ready),
        (ids["red1"], MessageState::Leased),
        (ids["red3"], MessageState::Scheduled),
    ];
    assert_eq!(ids_and_states(&peeked), expected);
    let leased = &peeked[2];
    assert_eq!((leased.queue.as_str(), leased.body.as_slice()), (name.as_str(), &b"red1"[..]));
    assert_eq!(leased.attributes["color"], AttributeValue::String("red".into()));
    assert_eq!((leased.delivery_attempts, leased.last_error.as_deref(), leased.dead_letter_attempts), (1, None, None));
    assert!(leased.available_at > SystemTime::now() && leased.sent_at <= SystemTime::now());
    assert!(peeked[3].available_at > SystemTime::now() + AN_HOUR - Duration::from_secs(60));
    // Nothing changed: no attempt counted, no lease taken or lost.
    assert_eq!(lease_columns(&raw, &name).await, before);
    held.ack().await.expect("the held lease is intact");
    let next = timeout(FIVE_S, client.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap().next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((next.id(), next.delivery_attempt()), (ids["red2"], 1));
    next.ack().await.unwrap();
}

#[tokio::test]
async fn peek_narrows_by_state_filter_and_limit() {
    // Arrange
    let client = client().await;
    let name = unique("peek-narrow");
    let (ids, held) = four_states(&client, &name).await;
    let queue = client.queue(&name).unwrap();
    let peek = |options: PeekOptions| {
        let queue = queue.clone();
        async move { queue.peek(&options).await.unwrap().iter().map(|m| m.id).collect::<Vec<_>>() }
    };
    let red = || Attribute::new("color").eq("red");

    // Act + Assert
    assert_eq!(peek(PeekOptions::default().state(MessageState::Ready)).await, [ids["red2"], ids["blue"]]);
    assert_eq!(peek(PeekOptions::default().state(MessageState::Leased)).await, [ids["red1"]]);
    assert_eq!(peek(PeekOptions::default().state(MessageState::Scheduled)).await, [ids["red3"]]);
    assert!(peek(PeekOptions::default().state(MessageState::Lapsed)).await.is_empty());
    assert_eq!(peek(PeekOptions::default().filter(red())).await, [ids["red2"], ids["red1"], ids["red3"]]);
    assert_eq!(peek(PeekOptions::default().filter(red()).state(MessageState::Ready)).await, [ids["red2"]]);
    let small = Attribute::new("size").lt(3) & red();
    assert_eq!(peek(PeekOptions::default().filter(small)).await, [ids["red2"], ids["red1"]]);
    assert_eq!(peek(PeekOptions::default().limit(1)).await, [ids["red2"]]);
    assert_eq!(peek(PeekOptions::default().limit(3)).await, [ids["red2"], ids["blue"], ids["red1"]]);
    held.ack().await.unwrap();
}

#[tokio::test]
async fn peek_into_a_dead_letter_queue_shows_why_each_message_is_there() {
    // Arrange: one attempt, so the nack dead-letters.
    let client = client().await;
    let name = unique("peek-dlq");
    client.create_queue(&name, &QueueOptions::default().max_delivery_attempts(1)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(OutgoingMessage::new("poison").attribute("kind", "x"), &SendOptions::default()).await.unwrap();
    let msg = timeout(FIVE_S, queue.receiver(ReceiveOptions::default()).unwrap().next()).await.unwrap().unwrap();
    msg.nack(NackOptions { delay: None, error: Some("boom".into()) }).await.unwrap();

    // Act
    let dlq = client.queue(&dlq_name(&name)).unwrap();
    let peeked = dlq.peek(&PeekOptions::default()).await.unwrap();
    let again = dlq.peek(&PeekOptions::default()).await.unwrap();

    // Assert
    assert_eq!(peeked.len(), 1);
    let dead = &peeked[0];
    assert_eq!((dead.id, dead.queue.as_str(), dead.body.as_slice()), (sent.id(), dlq_name(&name).as_str(), &b"poison"[..]));
    assert_eq!((dead.state, dead.last_error.as_deref(), dead.dead_letter_attempts), (MessageState::Ready, Some("boom"), Some(1)));
    assert_eq!((dead.delivery_attempts, dead.attributes["kind"].clone()), (0, AttributeValue::String("x".into())));
    assert_eq!(peeked, again, "peeking changes nothing");
    assert_eq!(dlq.stats().await.unwrap().ready, 1);
}

#[tokio::test]
async fn peek_with_a_limit_out_of_bounds_is_an_invalid_option_and_of_an_unknown_queue_not_found() {
    let client = client().await;
    let name = unique("peek-bad");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();

    for limit in [0, pgmq_core::DEFAULTS.peek.max_limit + 1] {
        let err = queue.peek(&PeekOptions::default().limit(limit)).await.unwrap_err();
        assert_eq!(err.code(), "invalid_option", "limit {limit}");
    }
    assert!(queue.peek(&PeekOptions::default()).await.unwrap().is_empty(), "an empty queue");
    let unknown = client.queue(&unique("peek-nowhere")).unwrap().peek(&PeekOptions::default()).await.unwrap_err();
    assert_eq!(unknown.code(), "queue_not_found");
}

#[tokio::test]
async fn purge_deletes_ready_and_scheduled_messages_and_leaves_leased_ones_to_their_workers() {
    // Arrange: red2 and blue ready, red3 scheduled, red1 held.
    let client = client().await;
    let name = unique("purge-keep");
    let (ids, held) = four_states(&client, &name).await;
    let queue = client.queue(&name).unwrap();

    // Act
    let purged = queue.purge().await.unwrap();

    // Assert
    assert_eq!(purged, 3);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.messages, stats.ready, stats.scheduled, stats.leased), (1, 0, 0, 1));
    held.ack().await.expect("the held message is still the worker's to ack");
    let all: Vec<Uuid> = ids.values().copied().collect();
    let outcomes = timeout(FIVE_S, queue.wait_for_completion(&all)).await.unwrap().unwrap();
    assert_eq!(outcomes[&ids["red1"]], Outcome::Completed);
    for name in ["red2", "blue", "red3"] {
        assert_eq!(outcomes[&ids[name]], Outcome::Cancelled, "{name}");
    }
    assert_eq!(queue.purge().await.unwrap(), 0, "nothing left to purge");
}

#[tokio::test]
async fn a_waiter_in_another_client_learns_at_once_that_its_purged_message_was_cancelled() {
    // Arrange: the sender waits for its message's outcome (safety net an hour away) in its own client.
    let operator = client().await;
    let raw = raw().await;
    let app = unique_app("purgewait");
    let sender = quiet_client(&app).await;
    let name = unique("purge-wait");
    operator.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let sent = sender.queue(&name).unwrap().send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let since = SystemTime::now();
    let completion = sent.completion().clone().with_poll_interval(AN_HOUR);
    let waiting = tokio::spawn(async move { completion.wait().await });
    assert!(ran_since(&raw, &app, COMPLETION_CHECK_SQL, since, FIVE_S).await, "the waiter never went to sleep");

    // Act
    let purged = operator.queue(&name).unwrap().purge().await.unwrap();

    // Assert
    assert_eq!(purged, 1);
    let outcomes = timeout(FIVE_S, waiting).await.expect("the waiter was not woken").unwrap().unwrap();
    assert_eq!(outcomes[&sent.id()], Outcome::Cancelled);
}

#[tokio::test]
async fn purging_a_thousand_tracked_messages_wakes_their_waiter_with_an_everything_notification() {
    // Arrange: 1,000 tracked messages, a waiter asleep on them, and a listener on their channel.
    let operator = client().await;
    let raw = raw().await;
    let app = unique_app("purgemany");
    let sender = quiet_client(&app).await;
    let name = unique("purge-many");
    operator.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let messages = (0..1000).map(|i| OutgoingMessage::new(format!("m{i}"))).collect();
    let sent = sender.queue(&name).unwrap().send_batch(messages, &SendOptions::default()).await.unwrap();
    let (_listening, mut notes) = listen_on(&[completed_channel(queue_id_in(&raw, &name).await)]).await;
    let since = SystemTime::now();
    let completion = sent.with_poll_interval(AN_HOUR);
    let waiting = tokio::spawn(async move { completion.wait().await });
    assert!(ran_since(&raw, &app, COMPLETION_CHECK_SQL, since, FIVE_S).await, "the waiter never went to sleep");

    // Act
    let purged = operator.queue(&name).unwrap().purge().await.unwrap();

    // Assert
    assert_eq!(purged, 1000);
    let (_, payload) = timeout(FIVE_S, notes.recv()).await.expect("no notification").unwrap();
    assert_eq!(payload, EVERYTHING, "1,000 ids do not fit in a payload");
    let outcomes = timeout(FIVE_S, waiting).await.expect("the waiter was not woken").unwrap().unwrap();
    assert_eq!(outcomes.len(), 1000);
    assert!(outcomes.values().all(|o| *o == Outcome::Cancelled));
}

#[tokio::test]
async fn purge_of_an_unknown_queue_is_queue_not_found() {
    let client = client().await;
    let err = client.queue(&unique("purge-nowhere")).unwrap().purge().await.unwrap_err();
    assert_eq!(err.code(), "queue_not_found");
}

#[tokio::test]
async fn list_queues_with_stats_agrees_with_each_queues_stats() {
    // Arrange: `busy` (one attempt, a backoff) with messages in every state and one in its DLQ; `plain`
    // without a DLQ and one ready message; `idle` empty.
    let client = client().await;
    let (busy, plain, idle) = (unique("list-busy"), unique("list-plain"), unique("list-idle"));
    let backoff = Backoff { base: Duration::from_millis(250), factor: 3.0, max: Duration::from_secs(90), jitter: false };
    let busy_options = QueueOptions::default().max_delivery_attempts(1).backoff(Some(backoff));
    client.create_queue(&busy, &busy_options).await.unwrap();
    client.create_queue(&plain, &QueueOptions::default().dead_letter_queue(None)).await.unwrap();
    client.create_queue(&idle, &QueueOptions::default()).await.unwrap();
    let q = client.queue(&busy).unwrap();
    q.send_batch((0..4).map(|i| OutgoingMessage::new(vec![i])).collect(), &SendOptions::default()).await.unwrap();
    q.send(b"later".to_vec(), &SendOptions::default().delay(AN_HOUR)).await.unwrap();
    let mut rx = q.receiver(ReceiveOptions::default().batch_size(2)).unwrap();
    let mut taken = timeout(FIVE_S, rx.next_batch()).await.unwrap().unwrap();
    assert_eq!(taken.len(), 2);
    let held = taken.pop().unwrap();
    taken.pop().unwrap().nack(NackOptions::default()).await.unwrap(); // to the DLQ
    client.queue(&plain).unwrap().send(b"p".to_vec(), &SendOptions::default()).await.unwrap();

    // Act
    let listed = client.list_queues_with_stats().await.unwrap();

    // Assert
    let ours: Vec<&pgmq_core::QueueOverview> = listed
        .iter()
        .filter(|o| [&busy, &plain, &idle, &dlq_name(&busy), &dlq_name(&idle)].contains(&&o.info.name))
        .collect();
    assert_eq!(ours.len(), 5);
    for overview in &ours {
        let stats = client.queue(&overview.info.name).unwrap().stats().await.unwrap();
        assert_eq!(overview.stats, stats, "{}", overview.info.name);
    }
    let find = |name: &str| *ours.iter().find(|o| o.info.name == name).unwrap();
    let b = find(&busy);
    assert_eq!((b.stats.messages, b.stats.ready, b.stats.scheduled, b.stats.leased, b.stats.dead_lettered), (4, 2, 1, 1, 1));
    assert_eq!((b.info.max_delivery_attempts, b.info.backoff, b.info.dead_letter_queue.clone()), (1, Some(backoff), Some(dlq_name(&busy))));
    assert!(b.oldest_ready_age.is_some_and(|age| age < Duration::from_secs(60)), "{:?}", b.oldest_ready_age);
    assert_eq!(find(&dlq_name(&busy)).stats.ready, 1);
    let p = find(&plain);
    assert_eq!((p.stats.ready, p.info.dead_letter_queue.clone(), p.info.backoff), (1, None, None));
    let i = find(&idle);
    assert_eq!((i.stats, i.oldest_ready_age), (Default::default(), None));
    // list_queues lists the same settings.
    let infos: Vec<pgmq_core::QueueInfo> = client.list_queues().await.unwrap();
    for overview in &ours {
        assert_eq!(infos.iter().find(|i| i.name == overview.info.name), Some(&overview.info));
    }
    held.ack().await.unwrap();
}

/// A login role with the grants of `pgmq.grant_<kind>`.
async fn role(raw: &tokio_postgres::Client, kind: &str) -> String {
    let name = unique(kind).replace('-', "_");
    raw.batch_execute(&format!("CREATE ROLE {name} LOGIN; SELECT pgmq.grant_{kind}('{name}')")).await.unwrap();
    name
}

#[tokio::test]
async fn a_consumer_may_purge_and_a_producer_may_only_look() {
    // Arrange
    let owner = client().await;
    let raw = raw().await;
    let (producer, consumer) = (role(&raw, "producer").await, role(&raw, "consumer").await);
    let name = unique("purge-roles");
    owner.create_queue(&name, &QueueOptions::default()).await.unwrap();
    owner.queue(&name).unwrap().send_batch(vec!["a".into(), "b".into()], &SendOptions::default()).await.unwrap();
    let connect = |role: String| async move { Client::connect(&kv_dsn("postgres", &format!("user={role}"))).await.unwrap() };
    let (p, c) = (connect(producer.clone()).await, connect(consumer.clone()).await);

    // Act
    let producer_peek = p.queue(&name).unwrap().peek(&PeekOptions::default()).await;
    let producer_list = p.list_queues_with_stats().await;
    let producer_purge = p.queue(&name).unwrap().purge().await;
    let consumer_peek = c.queue(&name).unwrap().peek(&PeekOptions::default()).await;
    let consumer_purge = c.queue(&name).unwrap().purge().await;

    // Assert
    assert_eq!(producer_peek.unwrap().len(), 2);
    assert!(producer_list.unwrap().iter().any(|o| o.info.name == name));
    let refused = producer_purge.expect_err("a producer cannot purge");
    assert!(refused.code() == "database" && refused.to_string().contains("42501"), "{refused}");
    assert_eq!(consumer_peek.unwrap().len(), 2);
    assert_eq!(consumer_purge.unwrap(), 2);
    p.close().await;
    c.close().await;
    for role in [producer, consumer] {
        raw.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await.unwrap();
    }
}
