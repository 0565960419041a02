//! Sending: batches, ids, bodies, attributes, delays and schedules, tracking.

use std::time::{Duration, Instant, SystemTime};

use pgmq_core::{
    AttributeValue, Attributes, Client, ClientOptions, Error, Message, OutgoingMessage, QueueOptions,
    ReceiveOptions, Receiver, SendOptions,
};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(5);

async fn new_queue(client: &Client, prefix: &str) -> pgmq_core::Queue {
    let name = unique(prefix);
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    client.queue(&name).unwrap()
}

async fn next(rx: &mut Receiver) -> Message {
    tokio::time::timeout(WAIT, rx.next()).await.expect("a message within 5 s").unwrap()
}

async fn rows_of(queue: &str) -> i64 {
    raw()
        .await
        .query_one(
            "SELECT count(*) FROM pgmq.messages WHERE queue_id = (SELECT id FROM pgmq.queues WHERE name = $1)",
            &[&queue],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn batch_of_10000_is_written_by_one_transaction() {
    let client = client().await;
    let queue = new_queue(&client, "batch-10k").await;
    let batch: Vec<OutgoingMessage> =
        (0..10_000).map(|i| OutgoingMessage::new(format!("m{i}")).attribute("i", i)).collect();

    let completion = queue.send_batch(batch, &SendOptions::default()).await.unwrap();

    assert_eq!(completion.ids().len(), 10_000);
    let row = raw()
        .await
        .query_one(
            "SELECT count(*), count(DISTINCT xmin::text::bigint) FROM pgmq.messages
             WHERE queue_id = (SELECT id FROM pgmq.queues WHERE name = $1)",
            &[&queue.name()],
        )
        .await
        .unwrap();
    let (rows, transactions): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(rows, 10_000);
    assert_eq!(transactions, 1, "every row of the batch was written by the same transaction");
    assert_eq!(queue.stats().await.unwrap().ready, 10_000);
    client.close().await;
}

#[tokio::test]
async fn batch_with_one_invalid_attribute_is_rejected_whole() {
    let client = client().await;
    let queue = new_queue(&client, "batch-atomic").await;
    let bad: [(&str, OutgoingMessage); 5] = [
        ("NaN float", OutgoingMessage::new("x").attribute("f", f64::NAN)),
        ("infinite float", OutgoingMessage::new("x").attribute("f", f64::INFINITY)),
        ("NUL in a string value", OutgoingMessage::new("x").attribute("s", "a\0b")),
        ("NUL in a key", OutgoingMessage::new("x").attribute("k\0", 1)),
        ("NUL in a key of a null", OutgoingMessage::new("x").attribute("\0", AttributeValue::Null)),
    ];

    for (what, bad) in bad {
        let mut batch: Vec<OutgoingMessage> =
            (0..100).map(|i| OutgoingMessage::new(format!("ok{i}"))).collect();
        batch.insert(57, bad);
        let err = queue.send_batch(batch, &SendOptions::default()).await.expect_err(what);
        assert!(matches!(err, Error::InvalidOption(_)), "{what}: {err:?}");
        assert_eq!(err.code(), "invalid_option");
    }

    assert_eq!(rows_of(queue.name()).await, 0, "nothing of any rejected batch was written");
    client.close().await;
}

#[tokio::test]
async fn message_ids_are_uuid_v7_and_increase_in_send_order() {
    let client = client().await;
    let queue = new_queue(&client, "ids").await;
    let batch: Vec<OutgoingMessage> = (0..1000).map(|i| OutgoingMessage::new(format!("{i}"))).collect();

    let completion = queue.send_batch(batch, &SendOptions::default()).await.unwrap();
    let single = queue.send(b"after".to_vec(), &SendOptions::default()).await.unwrap();

    let mut ids = completion.ids().to_vec();
    ids.push(single.id());
    assert!(ids.iter().all(|id| id.get_version_num() == 7), "all UUIDv7");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing in send order");
    // The claim's order (migration 0003: available_at, then id) is the list order, and each id holds its body.
    let stored: Vec<(pgmq_core::Uuid, Vec<u8>)> = raw()
        .await
        .query(
            "SELECT id, body FROM pgmq.messages WHERE queue_id = (SELECT id FROM pgmq.queues WHERE name = $1)
             ORDER BY available_at, id",
            &[&queue.name()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<(pgmq_core::Uuid, Vec<u8>)> = ids
        .iter()
        .zip((0..1000).map(|i| format!("{i}").into_bytes()).chain([b"after".to_vec()]))
        .map(|(id, body)| (*id, body))
        .collect();
    assert_eq!(stored, expected, "stored in list order under the returned ids");
    client.close().await;
}

#[tokio::test]
async fn empty_body_round_trips() {
    let client = client().await;
    let queue = new_queue(&client, "empty-body").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    let sent = queue.send(Vec::<u8>::new(), &SendOptions::default()).await.unwrap();
    let msg = next(&mut rx).await;

    assert_eq!(msg.id(), sent.id());
    assert!(msg.body().is_empty());
    msg.ack().await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn body_of_50_mib_round_trips_byte_exact() {
    let client = client().await;
    let queue = new_queue(&client, "big-body").await;
    // Every byte value, in a pattern that a truncation or shift would break.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let body: Vec<u8> = (0..50 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    let sent = queue.send(body.clone(), &SendOptions::default()).await.unwrap();
    let mut msg = tokio::time::timeout(Duration::from_secs(60), rx.next()).await.unwrap().unwrap();

    assert_eq!(msg.id(), sent.id());
    let received = msg.take_body();
    assert_eq!(received.len(), body.len());
    assert!(received == body, "body differs");
    msg.ack().await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn send_to_unknown_queue_fails_and_writes_nothing() {
    let client = client().await;
    let name = unique("unknown");
    let queue = client.queue(&name).unwrap();

    let one = queue.send(b"lost?".to_vec(), &SendOptions::default()).await;
    let many = queue.send_batch(vec!["a".into(), "b".into()], &SendOptions::default()).await;

    for err in [one.map(|_| ()).unwrap_err(), many.map(|_| ()).unwrap_err()] {
        assert!(matches!(&err, Error::QueueNotFound(n) if *n == name), "{err:?}");
        assert_eq!(err.code(), "queue_not_found");
    }
    // Nothing was parked anywhere waiting for the queue to appear.
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    assert_eq!(queue.stats().await.unwrap().messages, 0);
    client.close().await;
}

/// Sends with `options` while a receiver is already waiting; returns (time from just before the send to
/// receipt, wall-clock time of receipt).
async fn send_to_waiting_receiver(
    sender: &pgmq_core::Queue,
    rx: &mut Receiver,
    options: SendOptions,
) -> (Duration, SystemTime, pgmq_core::Uuid) {
    let receiving = rx.next();
    tokio::pin!(receiving);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut receiving).await.is_err(),
        "queue not empty"
    );
    let sending = async {
        let start = Instant::now();
        let sent = sender.send(b"later".to_vec(), &options).await.unwrap();
        let stats = sender.stats().await.unwrap();
        (start, sent.id(), stats)
    };
    let (received, (start, id, stats)) = tokio::join!(
        async {
            let msg =
                tokio::time::timeout(WAIT, &mut receiving).await.expect("delivered within 5 s").unwrap();
            (msg, Instant::now(), SystemTime::now())
        },
        sending
    );
    let (msg, at, wall) = received;
    assert_eq!(msg.id(), id);
    assert_eq!((stats.scheduled, stats.ready), (1, 0), "held back right after the send: {stats:?}");
    msg.ack().await.unwrap();
    (at - start, wall, id)
}

#[tokio::test]
async fn delayed_message_is_never_delivered_early_and_arrives_promptly_after() {
    let client = client().await;
    let queue = new_queue(&client, "delay").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let delay = Duration::from_millis(700);

    let (elapsed, _, _) =
        send_to_waiting_receiver(&queue, &mut rx, SendOptions::default().delay(delay)).await;

    assert!(elapsed >= delay, "delivered {elapsed:?} after the send, before the {delay:?} delay");
    assert!(elapsed < delay + Duration::from_secs(1), "delivered only after {elapsed:?}");
    client.close().await;
}

#[tokio::test]
async fn scheduled_message_is_never_delivered_early_and_arrives_promptly_after() {
    let client = client().await;
    let queue = new_queue(&client, "schedule").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let at = SystemTime::now() + Duration::from_millis(700);

    let (_, received_at, _) =
        send_to_waiting_receiver(&queue, &mut rx, SendOptions::default().schedule_at(at)).await;

    let late = received_at.duration_since(at).expect("delivered before its schedule_at");
    assert!(late < Duration::from_secs(1), "delivered {late:?} after schedule_at");
    client.close().await;
}

#[tokio::test]
async fn schedule_in_the_past_is_delivered_at_once() {
    let client = client().await;
    let queue = new_queue(&client, "schedule-past").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    let sent = queue
        .send(
            b"past".to_vec(),
            &SendOptions::default().schedule_at(SystemTime::now() - Duration::from_secs(3600)),
        )
        .await
        .unwrap();

    assert_eq!(queue.stats().await.unwrap().ready, 1);
    let msg = tokio::time::timeout(Duration::from_secs(1), rx.next()).await.unwrap().unwrap();
    assert_eq!(msg.id(), sent.id());
    client.close().await;
}

#[tokio::test]
async fn delay_and_schedule_at_together_are_rejected() {
    let client = client().await;
    let queue = new_queue(&client, "both").await;
    let options = SendOptions::default().delay(Duration::from_secs(1)).schedule_at(SystemTime::now());

    let err = queue.send(b"x".to_vec(), &options).await.unwrap_err();

    assert!(matches!(err, Error::InvalidOption(_)), "{err:?}");
    assert_eq!(err.code(), "invalid_option");
    assert_eq!(rows_of(queue.name()).await, 0);
    client.close().await;
}

#[tokio::test]
async fn schedule_at_is_honoured_whatever_the_session_time_zone() {
    let url_dsn = {
        let dsn = dsn();
        let sep = if dsn.contains('?') { '&' } else { '?' };
        format!("{dsn}{sep}options=-c%20TimeZone%3DPacific/Kiritimati")
    };
    let kv = kv_dsn("postgres", "options='-c TimeZone=America/Los_Angeles'");
    for (dsn, zone) in [(&url_dsn, "Pacific/Kiritimati"), (&kv, "America/Los_Angeles")] {
        let (probe, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let shown: String = probe.query_one("SHOW TimeZone", &[]).await.unwrap().get(0);
        assert_eq!(shown, zone, "the DSN sets the session time zone");
    }
    let options = || ClientOptions::default().maintenance_interval(Duration::from_millis(100));
    let east = Client::connect_with(&url_dsn, options()).await.unwrap();
    let west = Client::connect_with(&kv, options()).await.unwrap();
    east.migrate().await.unwrap();
    let name = unique("time-zones");
    east.create_queue(&name, &QueueOptions::default()).await.unwrap();

    // Sent in one zone, received in the other, both ways.
    for (sender, receiver) in [(&east, &west), (&west, &east)] {
        let mut rx = receiver.queue(&name).unwrap().receiver(ReceiveOptions::default()).unwrap();
        let at = SystemTime::now() + Duration::from_millis(700);

        let (_, received_at, _) = send_to_waiting_receiver(
            &sender.queue(&name).unwrap(),
            &mut rx,
            SendOptions::default().schedule_at(at),
        )
        .await;

        let late = received_at.duration_since(at).expect("delivered before its schedule_at");
        assert!(late < Duration::from_secs(1), "delivered {late:?} after schedule_at");
    }
    east.close().await;
    west.close().await;
}

#[tokio::test]
async fn attributes_round_trip_with_every_value_type() {
    let client = client().await;
    let queue = new_queue(&client, "attributes").await;
    let mut attributes = Attributes::new();
    for (k, v) in [
        ("string", AttributeValue::from("text")),
        ("empty", AttributeValue::from("")),
        ("int", AttributeValue::Int(42)),
        ("negative", AttributeValue::Int(-7)),
        ("max", AttributeValue::Int(i64::MAX)),
        ("min", AttributeValue::Int(i64::MIN)),
        ("float", AttributeValue::Float(1.5)),
        ("tiny", AttributeValue::Float(-1.25e-7)),
        ("pi", AttributeValue::Float(std::f64::consts::PI)),
        ("true", AttributeValue::Bool(true)),
        ("false", AttributeValue::Bool(false)),
        ("null", AttributeValue::Null),
        ("ключ 🚀", AttributeValue::from("значение ✓ 日本語")),
        ("q'uo\"te", AttributeValue::from("it's \"quoted\"; $$ DROP TABLE pgmq.messages; $$ \\ \n")),
    ] {
        attributes.insert(k.to_owned(), v);
    }
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    queue
        .send(
            OutgoingMessage { body: b"with".to_vec(), attributes: attributes.clone(), after: Vec::new() },
            &SendOptions::default(),
        )
        .await
        .unwrap();
    let msg = next(&mut rx).await;

    assert_eq!(msg.attributes(), &attributes);
    client.close().await;
}

#[tokio::test]
async fn message_without_attributes_has_empty_attributes() {
    let client = client().await;
    let queue = new_queue(&client, "no-attributes").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    queue.send(b"plain".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = next(&mut rx).await;

    assert!(msg.attributes().is_empty());
    client.close().await;
}

#[tokio::test]
async fn untracked_message_completion_fails_with_not_tracked() {
    let client = client().await;
    let queue = new_queue(&client, "untracked").await;
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    let sent = queue.send(b"fire and forget".to_vec(), &SendOptions::default().track(false)).await.unwrap();

    assert!(!sent.completion().is_tracked());
    let err = sent.wait().await.unwrap_err();
    assert!(matches!(err, Error::NotTracked(id) if id == sent.id()), "{err:?}");
    assert_eq!(err.code(), "not_tracked");
    // A handle made later by id also knows, while the message is queued...
    let err = queue.wait_for_completion(&[sent.id()]).await.unwrap_err();
    assert!(matches!(err, Error::NotTracked(id) if id == sent.id()), "{err:?}");
    // ...and no outcome is recorded once it is done.
    next(&mut rx).await.ack().await.unwrap();
    assert!(matches!(sent.wait().await.unwrap_err(), Error::NotTracked(_)));
    let outcomes: i64 = raw()
        .await
        .query_one("SELECT count(*) FROM pgmq.outcomes WHERE id = $1", &[&sent.id()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcomes, 0);
    client.close().await;
}

#[tokio::test]
async fn empty_batch_writes_nothing_and_completes_at_once() {
    let client = client().await;
    let queue = new_queue(&client, "empty-batch").await;

    let completion = queue.send_batch(Vec::new(), &SendOptions::default()).await.unwrap();

    assert!(completion.ids().is_empty());
    assert!(tokio::time::timeout(WAIT, completion.wait()).await.unwrap().unwrap().is_empty());
    assert_eq!(rows_of(queue.name()).await, 0);
    let err = client.queue(&unique("unknown")).unwrap().send_batch(Vec::new(), &SendOptions::default()).await;
    assert!(matches!(err, Err(Error::QueueNotFound(_))), "{err:?}");
    client.close().await;
}

#[tokio::test]
async fn delay_beyond_100_years_is_rejected() {
    let client = client().await;
    let queue = new_queue(&client, "long-delay").await;

    let err = queue
        .send(b"x".to_vec(), &SendOptions::default().delay(Duration::from_secs(200 * 366 * 86_400)))
        .await
        .unwrap_err();

    assert!(matches!(err, Error::InvalidOption(_)), "{err:?}");
    assert_eq!(rows_of(queue.name()).await, 0);
    client.close().await;
}
