//! Queue administration: migrate, create, list, delete, names and options.

use std::time::Duration;

use pgmq_core::{
    Backoff, Client, ClientOptions, DeadLetterOptions, Error, NackOptions, Outcome, QueueInfo, QueueOptions,
    ReceiveOptions, SendOptions, LATEST_VERSION,
};

use crate::common::*;

const DAY: Duration = Duration::from_secs(86_400);
const WAIT: Duration = Duration::from_secs(5);

async fn info(client: &Client, name: &str) -> Option<QueueInfo> {
    client.list_queues().await.unwrap().into_iter().find(|q| q.name == name)
}

async fn count(sql: &str, ids: &[i64]) -> i64 {
    raw().await.query_one(sql, &[&ids]).await.unwrap().get(0)
}

/// A name of exactly `len` characters that is unique to this call.
fn unique_of_len(len: usize) -> String {
    let mut name = unique("n").replace('-', "_");
    assert!(name.len() <= len);
    while name.len() < len {
        name.push('x');
    }
    name
}

#[tokio::test]
async fn migrate_twice_is_a_no_op_and_reports_the_latest_version() {
    let client = client().await;

    assert_eq!(client.migrate().await.unwrap(), LATEST_VERSION);
    assert_eq!(client.migrate().await.unwrap(), LATEST_VERSION);

    assert_eq!(client.schema_version().await.unwrap(), LATEST_VERSION);
    let applied: i64 =
        raw().await.query_one("SELECT count(*) FROM pgmq.schema_migrations", &[]).await.unwrap().get(0);
    assert_eq!(applied, LATEST_VERSION as i64, "each migration is recorded once");
    client.close().await;
}

#[tokio::test]
async fn two_clients_migrating_an_empty_database_at_once_both_succeed() {
    let db = fresh_database("pgmq_mig").await;
    let options = || ClientOptions::default().maintenance_interval(Duration::from_millis(100));
    let a = Client::connect_with(&kv_dsn(&db, ""), options()).await.unwrap();
    let b = Client::connect_with(&kv_dsn(&db, ""), options()).await.unwrap();
    assert_eq!(a.schema_version().await.unwrap(), 0, "a fresh database has no pgmq schema");

    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());

    assert_eq!(ra.unwrap(), LATEST_VERSION);
    assert_eq!(rb.unwrap(), LATEST_VERSION);
    assert_eq!(a.schema_version().await.unwrap(), LATEST_VERSION);
    assert_eq!(b.migrate().await.unwrap(), LATEST_VERSION);
    // The schema is whole: a queue works end to end.
    assert!(a.create_queue("after-migrate", &QueueOptions::default()).await.unwrap());
    let q = b.queue("after-migrate").unwrap();
    q.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = q.receiver(ReceiveOptions::default()).unwrap();
    tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap().ack().await.unwrap();
    drop(rx);
    a.close().await;
    b.close().await;
    drop_database(&db).await;
}

#[tokio::test]
async fn upgrading_to_version_3_keeps_the_backlog_its_order_and_its_dead_lettering() {
    // A database at schema version 2 (before `seq` gave way to the id as the tie-break), holding three
    // messages sent in one batch (one available_at, `seq` in list order), in a queue with a DLQ.
    let db = fresh_database("pgmq_v2").await;
    let (host, port, user) = server();
    let (old, conn) = tokio_postgres::connect(&format!("host={host} port={port} user={user} dbname={db}"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    old.batch_execute(
        "CREATE SCHEMA pgmq;
         CREATE TABLE pgmq.schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                                              applied_at timestamptz NOT NULL DEFAULT now());",
    )
    .await
    .unwrap();
    old.batch_execute(include_str!("../../migrations/0001_init.sql")).await.unwrap();
    old.batch_execute(include_str!("../../migrations/0002_lock_rows_before_finishing.sql")).await.unwrap();
    old.batch_execute(
        "INSERT INTO pgmq.schema_migrations (version, name)
         VALUES (1, '0001_init.sql'), (2, '0002_lock_rows_before_finishing.sql');
         INSERT INTO pgmq.queues (name, ack_deadline, max_delivery_attempts, retention_period)
         VALUES ('dlq@old', '30 s', 1, '7 days');
         INSERT INTO pgmq.queues (name, ack_deadline, max_delivery_attempts, retention_period, dlq_id, owns_dlq)
         SELECT 'old', '30 s', 1, '7 days', id, true FROM pgmq.queues WHERE name = 'dlq@old';",
    )
    .await
    .unwrap();
    let ids: Vec<pgmq_core::Uuid> = (0..3).map(|_| pgmq_core::Uuid::now_v7()).collect();
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| format!("m{i}").into_bytes()).collect();
    old.execute(
        "INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, body)
         SELECT (SELECT id FROM pgmq.queues WHERE name = 'old'), u.id, now() - interval '1 s', false, u.body
         FROM unnest($1::uuid[], $2::bytea[]) WITH ORDINALITY AS u(id, body, ord) ORDER BY u.ord",
        &[&ids, &bodies],
    )
    .await
    .unwrap();

    let client = Client::connect(&kv_dsn(&db, "")).await.unwrap();
    assert_eq!(client.migrate().await.unwrap(), LATEST_VERSION);
    let seq: i64 = old
        .query_one(
            "SELECT count(*) FROM pg_attribute
             WHERE attrelid = 'pgmq.messages'::regclass AND attname = 'seq' AND NOT attisdropped",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(seq, 0, "the identity column is gone");

    // The backlog is delivered in its old order, and a nack of a last attempt dead-letters it whole,
    // with the nack's error (nack no longer lists the table's columns by position).
    let queue = client.queue("old").unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(3)).unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap());
    }
    let order: Vec<(pgmq_core::Uuid, Vec<u8>)> = got.iter().map(|m| (m.id(), m.body().to_vec())).collect();
    assert_eq!(order, ids.iter().copied().zip(bodies.iter().cloned()).collect::<Vec<_>>());
    let mut got = got.into_iter();
    got.next().unwrap().nack(NackOptions { delay: None, error: Some("after the upgrade".into()) }).await.unwrap();
    for m in got {
        m.ack().await.unwrap();
    }
    drop(rx);
    let mut dlq_rx = client.queue("dlq@old").unwrap().receiver(ReceiveOptions::default()).unwrap();
    let dead = tokio::time::timeout(WAIT, dlq_rx.next()).await.unwrap().unwrap();
    assert_eq!(
        (dead.id(), dead.body(), dead.last_error(), dead.dead_letter_attempts()),
        (ids[0], &b"m0"[..], Some("after the upgrade"), Some(1))
    );
    dead.ack().await.unwrap();
    drop(dlq_rx);
    client.close().await;
    drop(old);
    drop_database(&db).await;
}

#[tokio::test]
async fn create_queue_returns_true_then_false_and_keeps_the_first_options() {
    let client = client().await;
    let name = unique("create-twice");

    let first =
        client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(5))).await;
    let second =
        client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(20))).await;

    assert!(first.unwrap());
    assert!(!second.unwrap());
    assert_eq!(info(&client, &name).await.unwrap().ack_deadline, Duration::from_secs(5));
    client.close().await;
}

#[tokio::test]
async fn default_queue_has_10s_deadline_10_attempts_7_days_and_a_dlq() {
    let client = client().await;
    let name = unique("defaults");

    client.create_queue(&name, &QueueOptions::default()).await.unwrap();

    assert_eq!(
        info(&client, &name).await.unwrap(),
        QueueInfo {
            name: name.clone(),
            ack_deadline: Duration::from_secs(10),
            max_delivery_attempts: 10,
            retention_period: 7 * DAY,
            dead_letter_queue: Some(format!("dlq@{name}")),
            backoff: None,
            max_messages: None,
        }
    );
    assert_eq!(pgmq_core::dlq_name(&name), format!("dlq@{name}"));
    client.close().await;
}

#[tokio::test]
async fn default_dlq_has_default_options_and_no_dlq_of_its_own() {
    let client = client().await;
    let name = unique("dlq-defaults");

    client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(3))).await.unwrap();

    let dlq = format!("dlq@{name}");
    assert_eq!(
        info(&client, &dlq).await.unwrap(),
        QueueInfo {
            name: dlq.clone(),
            ack_deadline: Duration::from_secs(10),
            max_delivery_attempts: 10,
            retention_period: 7 * DAY,
            dead_letter_queue: None,
            backoff: None,
            max_messages: None,
        }
    );
    assert!(info(&client, &format!("dlq@{dlq}")).await.is_none());
    client.close().await;
}

#[tokio::test]
async fn dlq_takes_the_given_dead_letter_options() {
    let client = client().await;
    let name = unique("dlq-options");
    let dlq_options = DeadLetterOptions {
        ack_deadline: Duration::from_secs(3),
        max_delivery_attempts: 2,
        retention_period: Duration::from_secs(3600),
    };

    client.create_queue(&name, &QueueOptions::default().dead_letter_queue(Some(dlq_options))).await.unwrap();

    let dlq = info(&client, &format!("dlq@{name}")).await.unwrap();
    assert_eq!(dlq.ack_deadline, Duration::from_secs(3));
    assert_eq!(dlq.max_delivery_attempts, 2);
    assert_eq!(dlq.retention_period, Duration::from_secs(3600));
    assert_eq!(dlq.dead_letter_queue, None);
    client.close().await;
}

#[tokio::test]
async fn queue_without_dead_letter_queue_creates_no_dlq() {
    let client = client().await;
    let name = unique("no-dlq");

    client.create_queue(&name, &QueueOptions::default().dead_letter_queue(None)).await.unwrap();

    assert_eq!(info(&client, &name).await.unwrap().dead_letter_queue, None);
    assert!(info(&client, &format!("dlq@{name}")).await.is_none());
    assert!(find_queue_id(&format!("dlq@{name}")).await.is_none());
    let err = client.queue(&format!("dlq@{name}")).unwrap().stats().await.unwrap_err();
    assert!(matches!(err, Error::QueueNotFound(_)), "{err:?}");
    assert_eq!(client.queue(&name).unwrap().stats().await.unwrap().dead_lettered, 0);
    client.close().await;
}

#[tokio::test]
async fn delete_queue_of_unknown_name_returns_false() {
    let client = client().await;

    assert!(!client.delete_queue(&unique("never-created")).await.unwrap());
    client.close().await;
}

#[tokio::test]
async fn delete_queue_removes_its_messages_outcomes_and_dlq() {
    let client = client().await;
    let name = unique("delete-all");
    let dlq = format!("dlq@{name}");
    client.create_queue(&name, &QueueOptions::default().max_delivery_attempts(1)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let ids = [find_queue_id(&name).await.unwrap(), find_queue_id(&dlq).await.unwrap()];
    // One completed (an outcome record), one dead-lettered (a DLQ message + outcome), one still queued,
    // one sent straight to the DLQ.
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let acked = queue.send(b"acked".to_vec(), &SendOptions::default()).await.unwrap();
    tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap().ack().await.unwrap();
    let dead = queue.send(b"dead".to_vec(), &SendOptions::default()).await.unwrap();
    tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap().nack(NackOptions::default()).await.unwrap();
    assert_eq!(acked.wait().await.unwrap(), Outcome::Completed);
    assert_eq!(dead.wait().await.unwrap(), Outcome::DeadLettered);
    drop(rx);
    queue.send(b"queued".to_vec(), &SendOptions::default()).await.unwrap();
    client.queue(&dlq).unwrap().send(b"direct".to_vec(), &SendOptions::default()).await.unwrap();
    let messages = "SELECT count(*) FROM pgmq.messages WHERE queue_id = ANY($1)";
    let outcomes = "SELECT count(*) FROM pgmq.outcomes WHERE queue_id = ANY($1)";
    let queues = "SELECT count(*) FROM pgmq.queues WHERE id = ANY($1)";
    assert_eq!(count(messages, &ids).await, 3);
    assert_eq!(count(outcomes, &ids).await, 2);

    let deleted = client.delete_queue(&name).await.unwrap();

    assert!(deleted);
    assert_eq!(count(messages, &ids).await, 0);
    assert_eq!(count(outcomes, &ids).await, 0);
    assert_eq!(count(queues, &ids).await, 0);
    let names: Vec<String> = client.list_queues().await.unwrap().into_iter().map(|q| q.name).collect();
    assert!(!names.contains(&name) && !names.contains(&dlq), "{names:?}");
    assert!(matches!(queue.stats().await.unwrap_err(), Error::QueueNotFound(_)));
    assert!(!client.delete_queue(&name).await.unwrap(), "a second delete finds nothing");
    assert!(!client.delete_queue(&dlq).await.unwrap(), "the DLQ went with its queue");
    // The name is free again, with a fresh, empty queue and DLQ.
    assert!(client.create_queue(&name, &QueueOptions::default()).await.unwrap());
    assert_eq!(queue.stats().await.unwrap(), Default::default());
    assert_eq!(client.queue(&dlq).unwrap().stats().await.unwrap().messages, 0);
    client.close().await;
}

#[tokio::test]
async fn invalid_queue_names_are_rejected_and_nothing_is_created() {
    let client = client().await;
    let tag = unique("bad").replace('-', "_");
    let too_long = format!("{tag}{}", "x".repeat(49 - tag.len()));
    let names = [
        String::new(),
        too_long,
        format!("{tag} space"),
        format!("{tag}!"),
        format!("{tag}-ünïcödé"),
        format!("{tag}'quote"),
        format!("{tag}\"dquote"),
        format!("{tag};semicolon"),
        format!("{tag}$$dollar"),
        format!("{tag}\0nul"),
        format!("{tag}/slash"),
        format!("{tag}.dot"),
        format!("dlq@{tag}!"),
        "dlq@".to_owned(),
        format!("dlq@dlq@{tag}"),
        format!("dlq@{tag}{}", "x".repeat(49 - tag.len())),
        format!("DLQ@{tag}"),
    ];

    for name in &names {
        let created = client.create_queue(name, &QueueOptions::default()).await;
        let handle = client.queue(name).map(|_| ());
        let deleted = client.delete_queue(name).await;

        for (what, result) in
            [("create_queue", created.map(|_| ())), ("queue", handle), ("delete_queue", deleted.map(|_| ()))]
        {
            let err = result.expect_err(&format!("{what}({name:?}) must fail"));
            assert!(matches!(err, Error::InvalidQueueName { .. }), "{what}({name:?}): {err:?}");
            assert_eq!(err.code(), "invalid_queue_name");
        }
    }
    let created: i64 = raw()
        .await
        .query_one("SELECT count(*) FROM pgmq.queues WHERE strpos(name, $1) > 0 OR name = ''", &[&tag])
        .await
        .unwrap()
        .get(0);
    assert_eq!(created, 0);
    client.close().await;
}

#[tokio::test]
async fn queue_name_of_48_characters_works_through_the_whole_cycle() {
    let client = client().await;
    let name = unique_of_len(48);
    assert_eq!(name.len(), pgmq_core::MAX_QUEUE_NAME_LEN);
    let dlq = format!("dlq@{name}");

    assert!(client.create_queue(&name, &QueueOptions::default().max_delivery_attempts(1)).await.unwrap());
    assert_eq!(info(&client, &name).await.unwrap().dead_letter_queue, Some(dlq.clone()));
    let queue = client.queue(&name).unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();

    // send, receive, ack, completion
    let sent = queue.send(b"one".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap();
    assert_eq!((msg.id(), msg.body(), msg.queue()), (sent.id(), &b"one"[..], name.as_str()));
    assert_eq!(queue.stats().await.unwrap().leased, 1);
    msg.ack().await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, sent.wait()).await.unwrap().unwrap(), Outcome::Completed);

    // cancel
    let sent = queue.send(b"two".to_vec(), &SendOptions::default()).await.unwrap();
    assert_eq!(queue.stats().await.unwrap().ready, 1);
    assert_eq!(queue.cancel(&[sent.id()]).await.unwrap(), vec![sent.id()]);
    assert_eq!(tokio::time::timeout(WAIT, sent.wait()).await.unwrap().unwrap(), Outcome::Cancelled);

    // dead-letter into the 52-character DLQ and receive it there
    let sent = queue.send(b"three".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap();
    msg.nack(NackOptions { delay: None, error: Some("failed".into()) }).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, sent.wait()).await.unwrap().unwrap(), Outcome::DeadLettered);
    assert_eq!(queue.stats().await.unwrap().dead_lettered, 1);
    let dlq_queue = client.queue(&dlq).unwrap();
    let mut dlq_rx = dlq_queue.receiver(ReceiveOptions::default()).unwrap();
    let dead = tokio::time::timeout(WAIT, dlq_rx.next()).await.unwrap().unwrap();
    assert_eq!((dead.id(), dead.body(), dead.queue()), (sent.id(), &b"three"[..], dlq.as_str()));
    assert_eq!(dead.last_error(), Some("failed"));
    dead.ack().await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), Default::default());

    // delete
    drop((rx, dlq_rx));
    assert!(client.delete_queue(&name).await.unwrap());
    assert!(info(&client, &name).await.is_none());
    assert!(info(&client, &dlq).await.is_none());
    client.close().await;
}

#[tokio::test]
async fn create_queue_refuses_the_dlq_prefix_but_dlq_handles_work() {
    let client = client().await;
    let name = unique("dlq-handle");
    let dlq = format!("dlq@{name}");

    let err =
        client.create_queue(&format!("dlq@{}", unique("x")), &QueueOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidQueueName { .. }), "{err:?}");
    assert_eq!(err.code(), "invalid_queue_name");
    let err = client.create_queue(&dlq, &QueueOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidQueueName { .. }), "{err:?}");
    assert!(find_queue_id(&dlq).await.is_none());

    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let handle = client.queue(&dlq).unwrap();
    let first = handle.send(b"to the dlq".to_vec(), &SendOptions::default()).await.unwrap();
    let second = handle.send(b"cancel me".to_vec(), &SendOptions::default()).await.unwrap();
    assert_eq!(handle.stats().await.unwrap().messages, 2);
    assert_eq!(client.queue(&name).unwrap().stats().await.unwrap().dead_lettered, 2);
    let mut rx = handle.receiver(ReceiveOptions::default()).unwrap();
    let msg = tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap();
    assert_eq!((msg.id(), msg.body()), (first.id(), &b"to the dlq"[..]));
    msg.ack().await.unwrap();
    assert_eq!(handle.cancel(&[second.id()]).await.unwrap(), vec![second.id()]);
    assert_eq!(handle.stats().await.unwrap().messages, 0);
    client.close().await;
}

#[tokio::test]
async fn invalid_queue_options_are_rejected_and_nothing_is_created() {
    let client = client().await;
    let base = QueueOptions::default;
    let dlq = |f: fn(&mut DeadLetterOptions)| {
        let mut d = DeadLetterOptions::default();
        f(&mut d);
        base().dead_letter_queue(Some(d))
    };
    let backoff = |base_ms: u64, factor: f64, max_ms: u64| {
        base().backoff(Some(Backoff {
            base: Duration::from_millis(base_ms),
            factor,
            max: Duration::from_millis(max_ms),
            jitter: false,
        }))
    };
    let cases = [
        ("ack deadline 999 ms", base().ack_deadline(Duration::from_millis(999))),
        ("ack deadline 0", base().ack_deadline(Duration::ZERO)),
        ("ack deadline 1000 years", base().ack_deadline(1000 * 365 * DAY)),
        ("0 attempts", base().max_delivery_attempts(0)),
        ("2^31 attempts", base().max_delivery_attempts(1 << 31)),
        ("retention 0", base().retention_period(Duration::ZERO)),
        ("DLQ ack deadline 500 ms", dlq(|d| d.ack_deadline = Duration::from_millis(500))),
        ("DLQ 0 attempts", dlq(|d| d.max_delivery_attempts = 0)),
        ("DLQ retention 0", dlq(|d| d.retention_period = Duration::ZERO)),
        ("backoff factor 0.5", backoff(100, 0.5, 1000)),
        ("backoff factor NaN", backoff(100, f64::NAN, 1000)),
        ("backoff factor infinite", backoff(100, f64::INFINITY, 1000)),
        ("backoff max < base", backoff(1000, 2.0, 100)),
    ];

    for (what, options) in cases {
        let name = unique("bad-options");
        let err = client.create_queue(&name, &options).await.expect_err(what);
        assert!(matches!(err, Error::InvalidOption(_)), "{what}: {err:?}");
        assert_eq!(err.code(), "invalid_option");
        assert!(find_queue_id(&name).await.is_none(), "{what}: queue created");
        assert!(find_queue_id(&format!("dlq@{name}")).await.is_none(), "{what}: DLQ created");
    }

    // The limits themselves are accepted.
    let name = unique("edge-options");
    let edge = base()
        .ack_deadline(Duration::from_secs(1))
        .max_delivery_attempts(1)
        .retention_period(Duration::from_micros(1))
        .backoff(Some(Backoff {
            base: Duration::from_secs(1),
            factor: 1.0,
            max: Duration::from_secs(1),
            jitter: true,
        }));
    assert!(client.create_queue(&name, &edge).await.unwrap());
    client.close().await;
}

#[tokio::test]
async fn list_queues_shows_every_queue_by_name_with_its_settings() {
    let client = client().await;
    let a = unique("list-b");
    let b = unique("list-a");
    client
        .create_queue(
            &a,
            &QueueOptions::default()
                .ack_deadline(Duration::from_secs(2))
                .max_delivery_attempts(3)
                .retention_period(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    client.create_queue(&b, &QueueOptions::default().dead_letter_queue(None)).await.unwrap();

    let listed = client.list_queues().await.unwrap();

    let names: Vec<&str> = listed.iter().map(|q| q.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "listed by name");
    let find = |n: &str| listed.iter().find(|q| q.name == n).cloned();
    assert_eq!(
        find(&a),
        Some(QueueInfo {
            name: a.clone(),
            ack_deadline: Duration::from_secs(2),
            max_delivery_attempts: 3,
            retention_period: Duration::from_secs(60),
            dead_letter_queue: Some(format!("dlq@{a}")),
            backoff: None,
            max_messages: None,
        })
    );
    assert!(find(&format!("dlq@{a}")).is_some());
    assert_eq!(find(&b).unwrap().dead_letter_queue, None);
    assert!(find(&format!("dlq@{b}")).is_none());

    client.delete_queue(&a).await.unwrap();
    let names: Vec<String> = client.list_queues().await.unwrap().into_iter().map(|q| q.name).collect();
    assert!(!names.contains(&a) && !names.contains(&format!("dlq@{a}")) && names.contains(&b));
    client.close().await;
}

#[tokio::test]
async fn receiver_waiting_on_a_deleted_queue_waits_for_it_to_exist_again() {
    let client = client().await;
    let name = unique("recreated");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let receiving = rx.next();
    tokio::pin!(receiving);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut receiving).await.is_err(),
        "queue is empty"
    );

    assert!(client.delete_queue(&name).await.unwrap());

    let after_delete = tokio::time::timeout(Duration::from_millis(300), &mut receiving).await;
    assert!(after_delete.is_err(), "keeps waiting without error: {after_delete:?}");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let sent = queue.send(b"second life".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(2), &mut receiving)
        .await
        .expect("delivered from the new queue within 2 s")
        .unwrap();
    assert_eq!(msg.id(), sent.id());
    client.close().await;
}
