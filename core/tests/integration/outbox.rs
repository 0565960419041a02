//! The transactional send (pgmq.send & co., migration 0007; pgmq_core::outbox): messages that commit
//! or roll back with the caller's transaction, one wake-up per transaction, pgmq's SQLSTATEs, the
//! producer's grant, and the statements in every parameter style and schema.

use std::time::Duration;

use pgmq_core::outbox::{self, statement, OutboxKind, ParamStyle};
use pgmq_core::{ClientOptions, Error, OutgoingMessage, Outcome, QueueOptions, ReceiveOptions, SendOptions};
use tokio::time::timeout;
use tokio_postgres::error::SqlState;

use crate::common::*;

const WAIT: Duration = Duration::from_secs(10);

async fn connect_to(dsn: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

async fn rows_of(raw: &tokio_postgres::Client, queue_id: i64) -> i64 {
    raw.query_one("SELECT count(*) FROM pgmq.messages WHERE queue_id = $1", &[&queue_id]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_committed_send_is_delivered_and_its_outcome_observed_after_the_ack() {
    // Arrange
    let client = client().await;
    let name = unique("outbox-commit");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let mut pg = raw().await;

    // Act: the message and the caller's own write, in one transaction.
    let tx = pg.transaction().await.unwrap();
    tx.batch_execute("CREATE TEMP TABLE orders (id int)").await.unwrap();
    let message = OutgoingMessage::new("order 1").attribute("kind", "order");
    let id = outbox::send(&tx, &name, message, &SendOptions::default()).await.unwrap();
    tx.commit().await.unwrap();

    // Assert: a pgmq receiver gets it; after the ack the sender's completion sees it completed.
    let m = timeout(WAIT, rx.next()).await.expect("delivered within 10 s").unwrap();
    assert_eq!((m.id(), m.body(), m.attributes().get("kind")), (id, &b"order 1"[..], Some(&"order".into())));
    m.ack().await.unwrap();
    let outcomes = timeout(WAIT, queue.completion(&[id]).await.unwrap().wait()).await.unwrap().unwrap();
    assert_eq!(outcomes[&id], Outcome::Completed);
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn a_rolled_back_send_leaves_nothing() {
    // Arrange
    let client = client().await;
    let name = unique("outbox-rollback");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let mut pg = raw().await;
    let queue_id = queue_id_in(&pg, &name).await;

    // Act: every function, then a rollback.
    let tx = pg.transaction().await.unwrap();
    let options = SendOptions::default();
    outbox::send(&tx, &name, b"one".to_vec(), &options).await.unwrap();
    outbox::send_json(&tx, &name, &serde_json::json!({"n": 2}), &options).await.unwrap();
    outbox::send_batch(&tx, &name, vec!["3".into(), "4".into()], &options).await.unwrap();
    outbox::send_json_batch(&tx, &name, &[5, 6], &options).await.unwrap();
    assert_eq!(rows_of(&raw().await, queue_id).await, 0, "another session sees nothing before the commit");
    let inside: i64 = tx.query_one("SELECT count(*) FROM pgmq.messages WHERE queue_id = $1", &[&queue_id]).await.unwrap().get(0);
    assert_eq!(inside, 6);
    tx.rollback().await.unwrap();

    // Assert
    assert_eq!(rows_of(&raw().await, queue_id).await, 0);
    assert_eq!(client.queue(&name).unwrap().stats().await.unwrap().messages, 0);
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn a_thousand_sends_in_one_transaction_wake_listeners_once_and_arrive_in_send_order() {
    // Arrange: a raw LISTEN on the queue's channel.
    let client = client().await;
    let name = unique("outbox-thousand");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let mut pg = raw().await;
    let channel = pgmq_core::protocol::ready_channel(queue_id_in(&pg, &name).await);
    let (_listening, mut notifications) = listen_on(std::slice::from_ref(&channel)).await;

    // Act: 1,000 calls in one transaction; then, from another one, a marker on the same channel
    // (notifications arrive in commit order, so everything the first sent comes before it).
    let tx = pg.transaction().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..1000 {
        ids.push(outbox::send(&tx, &name, format!("{i}").into_bytes(), &SendOptions::default()).await.unwrap());
    }
    tx.commit().await.unwrap();
    raw().await.execute(&format!("NOTIFY \"{channel}\", 'marker'"), &[]).await.unwrap();
    let mut wake_ups = 0;
    loop {
        let (_, payload) = timeout(WAIT, notifications.recv()).await.expect("the marker within 10 s").unwrap();
        if payload == "marker" {
            break;
        }
        wake_ups += 1;
    }

    // Assert: one wake-up; the 1,000 messages delivered in the order they were sent.
    assert_eq!(wake_ups, 1);
    let mut rx = client.queue(&name).unwrap().receiver(ReceiveOptions::default().batch_size(1000)).unwrap();
    let mut received = Vec::new();
    while received.len() < 1000 {
        let batch = timeout(WAIT, rx.next_batch()).await.expect("delivered within 10 s").unwrap();
        for m in batch {
            assert_eq!(m.body(), format!("{}", received.len()).as_bytes());
            received.push(m.id());
            m.ack().await.unwrap();
        }
    }
    assert_eq!(received, ids);
    drop(rx);
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn a_batch_keeps_list_order_and_json_bodies_read_back_as_json() {
    // Arrange
    let client = client().await;
    let name = unique("outbox-batch");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let pg = raw().await;

    // Act: a batch of bytes with attributes, then one of JSON values (each its own transaction).
    let messages: Vec<OutgoingMessage> =
        (0..50).map(|i| OutgoingMessage::new(format!("b{i}")).attribute("i", i)).collect();
    let bytes_ids = outbox::send_batch(&pg, &name, messages, &SendOptions::default()).await.unwrap();
    let json_ids = outbox::send_json_batch(&pg, &name, &[serde_json::json!({"a": 1}), serde_json::json!([2])], &SendOptions::default())
        .await
        .unwrap();
    let empty = outbox::send_batch(&pg, &name, Vec::new(), &SendOptions::default()).await.unwrap();

    // Assert
    assert!(empty.is_empty());
    let mut sorted = bytes_ids.clone();
    sorted.sort();
    assert_eq!(sorted, bytes_ids, "ids increase in list order");
    let mut rx = client.queue(&name).unwrap().receiver(ReceiveOptions::default().batch_size(100)).unwrap();
    let mut got = Vec::new();
    while got.len() < 52 {
        got.extend(timeout(WAIT, rx.next_batch()).await.unwrap().unwrap());
    }
    let ids: Vec<_> = got.iter().map(|m| m.id()).collect();
    assert_eq!(ids, [bytes_ids.clone(), json_ids.clone()].concat());
    assert_eq!(got[7].attributes().get("i"), Some(&7.into()));
    assert_eq!(got[50].json::<serde_json::Value>().unwrap(), serde_json::json!({"a": 1}));
    assert_eq!(got[51].json::<serde_json::Value>().unwrap(), serde_json::json!([2]));
    for m in got {
        m.ack().await.unwrap();
    }
    drop(rx);
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn delay_and_schedule_set_when_messages_become_available() {
    // Arrange
    let client = client().await;
    let name = unique("outbox-later");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let pg = raw().await;
    let at = std::time::SystemTime::now() + Duration::from_secs(7200);

    // Act
    outbox::send(&pg, &name, b"delayed".to_vec(), &SendOptions::default().delay(Duration::from_secs(3600))).await.unwrap();
    outbox::send(&pg, &name, b"scheduled".to_vec(), &SendOptions::default().schedule_at(at)).await.unwrap();
    outbox::send(&pg, &name, b"untracked".to_vec(), &SendOptions::default().track(false)).await.unwrap();

    // Assert
    let rows = pg
        .query(
            "SELECT convert_from(body, 'UTF8'), extract(epoch FROM available_at - now())::float8, tracked
             FROM pgmq.messages WHERE queue_id = (SELECT id FROM pgmq.queues WHERE name = $1) ORDER BY body",
            &[&name],
        )
        .await
        .unwrap();
    let got: Vec<(String, f64, bool)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(got[0].0, "delayed");
    assert!((got[0].1 - 3600.0).abs() < 60.0 && got[0].2, "{got:?}");
    assert_eq!(got[1].0, "scheduled");
    assert!((got[1].1 - 7200.0).abs() < 60.0, "{got:?}");
    assert_eq!((got[2].0.as_str(), got[2].2), ("untracked", false));
    assert!(got[2].1 <= 0.0);
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn the_extreme_numbers_a_send_accepts_pass_through_the_outbox_too() {
    // Arrange: the numbers at the edges of what attributes hold (the largest float is written as its
    // exact decimal, a little above the literal 1.7976931348623157e308).
    let client = client().await;
    let name = unique("outbox-extremes");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let pg = raw().await;
    let message = OutgoingMessage::new("x")
        .attribute("max", f64::MAX)
        .attribute("min", -f64::MAX)
        .attribute("tiny", f64::MIN_POSITIVE)
        .attribute("imax", i64::MAX)
        .attribute("imin", i64::MIN);

    // Act
    let id = outbox::send(&pg, &name, message.clone(), &SendOptions::default()).await.unwrap();

    // Assert: read back as sent.
    let m = timeout(WAIT, rx.next()).await.expect("delivered within 10 s").unwrap();
    assert_eq!((m.id(), m.attributes()), (id, &message.attributes));
    m.ack().await.unwrap();
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn every_invalid_call_raises_pgmqs_sqlstate_and_writes_nothing() {
    // Arrange
    let client = client().await;
    let name = unique("outbox-errors");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let pg = raw().await;
    let queue_id = queue_id_in(&pg, &name).await;
    let q = format!("'{name}'");
    let cases: Vec<(&str, String)> = vec![
        ("PQ001", "SELECT pgmq.send('no-such-queue', 'x')".into()),
        ("PQ001", "SELECT pgmq.send_batch('no-such-queue', '{}')".into()),
        ("PQ002", "SELECT pgmq.send(NULL, 'x')".into()),
        ("PQ002", format!("SELECT pgmq.send({q}, NULL)")),
        ("PQ002", format!("SELECT pgmq.send_json({q}, NULL)")),
        ("PQ002", format!("SELECT pgmq.send_batch({q}, NULL)")),
        ("PQ002", format!("SELECT pgmq.send_batch({q}, ARRAY['a', NULL]::bytea[])")),
        ("PQ002", format!("SELECT pgmq.send_json_batch({q}, ARRAY['1', NULL]::jsonb[])")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', '[1]')")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', 'null')")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', '{{\"a\": [1]}}')")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', '{{\"a\": {{\"b\": 1}}}}')")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', '{{\"a\": 1e400}}')")),
        // Past the largest float by more than half its last place: a reader would get infinity.
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', '{{\"a\": -1.7976931348623159e308}}')")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', delay => '1 s', schedule_at => now())")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', delay => '-1 s')")),
        ("PQ002", format!("SELECT pgmq.send({q}, 'x', track => NULL)")),
        ("PQ002", format!("SELECT pgmq.send_batch({q}, ARRAY['a']::bytea[], ARRAY['{{}}', '{{}}']::jsonb[])")),
        ("PQ002", format!("SELECT pgmq.send_json_batch({q}, ARRAY['1']::jsonb[], ARRAY['{{}}', '{{}}']::jsonb[])")),
        ("PQ002", format!("SELECT pgmq.send_json({q}, '1', '{{\"content-type\": \"text/plain\"}}')")),
        ("PQ002", format!("SELECT pgmq.send_json({q}, '1', '{{\"content-type\": 5}}')")),
    ];

    // Act + Assert: each fails with its SQLSTATE and a message starting "pgmq: ".
    for (state, sql) in &cases {
        let err = pg.query_one(sql.as_str(), &[]).await.expect_err(sql);
        let db = err.as_db_error().unwrap_or_else(|| panic!("{sql}: {err:?}"));
        assert_eq!(db.code().code(), *state, "{sql}: {}", db.message());
        assert!(db.message().starts_with("pgmq: "), "{sql}: {}", db.message());
        let mapped = Error::from(err);
        assert_eq!(mapped.code(), if *state == "PQ001" { "queue_not_found" } else { "invalid_option" }, "{sql}");
    }
    assert_eq!(rows_of(&pg, queue_id).await, 0, "nothing was written");

    // The Rust API maps them to the core's errors (and checks what it can before the round trip).
    let err = outbox::send(&pg, "no-such-queue", b"x".to_vec(), &SendOptions::default()).await.unwrap_err();
    assert!(matches!(&err, Error::QueueNotFound(n) if n == "no-such-queue"), "{err:?}");
    let both = SendOptions::default().delay(Duration::from_secs(1)).schedule_at(std::time::SystemTime::now());
    let err = outbox::send(&pg, &name, b"x".to_vec(), &both).await.unwrap_err();
    assert_eq!(err.code(), "invalid_option");
    let nan = OutgoingMessage::new("x").attribute("n", f64::NAN);
    assert_eq!(outbox::send(&pg, &name, nan, &SendOptions::default()).await.unwrap_err().code(), "invalid_option");
    let sql = statement(OutboxKind::Send, None, ParamStyle::Dollar).unwrap();
    let bad = pg.query_one(sql.as_str(), &[&name, &b"x".to_vec(), &"[1]", &None::<f64>, &None::<std::time::SystemTime>, &true]).await;
    let err = Error::from(bad.unwrap_err());
    assert!(matches!(&err, Error::InvalidOption(m) if m.starts_with("attributes must be a JSON object")), "{err:?}");
    assert_eq!(rows_of(&pg, queue_id).await, 0, "nothing was written");
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn a_producer_may_call_the_functions_and_a_role_without_the_grant_may_not() {
    // Arrange
    let client = client().await;
    let name = unique("outbox-roles");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let admin = raw().await;
    let producer = unique("outbox_producer").replace('-', "_");
    let consumer = unique("outbox_consumer").replace('-', "_");
    let nobody = unique("outbox_nobody").replace('-', "_");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {producer} LOGIN; SELECT pgmq.grant_producer('{producer}');
             CREATE ROLE {consumer} LOGIN; SELECT pgmq.grant_consumer('{consumer}');
             CREATE ROLE {nobody} LOGIN; GRANT USAGE ON SCHEMA pgmq TO {nobody};"
        ))
        .await
        .unwrap();

    // Act
    let as_producer = connect_to(&kv_dsn("postgres", &format!("user={producer}"))).await;
    let sent = outbox::send(&as_producer, &name, b"p".to_vec(), &SendOptions::default()).await;
    let json = outbox::send_json_batch(&as_producer, &name, &["a", "b"], &SendOptions::default()).await;
    let mut refusals = Vec::new();
    for role in [&consumer, &nobody] {
        let other = connect_to(&kv_dsn("postgres", &format!("user={role}"))).await;
        let sql = statement(OutboxKind::Send, None, ParamStyle::Dollar).unwrap();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&name, &b"x".to_vec(), &None::<String>, &None::<f64>, &None::<std::time::SystemTime>, &true];
        refusals.push(other.query_one(sql.as_str(), &params).await.expect_err("refused"));
    }

    // Assert
    sent.expect("a producer sends");
    assert_eq!(json.expect("a producer sends JSON").len(), 2);
    for err in &refusals {
        assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{err:?}");
    }
    assert_eq!(client.queue(&name).unwrap().stats().await.unwrap().messages, 3);
    drop(as_producer);
    for role in [&producer, &consumer, &nobody] {
        admin.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await.unwrap();
    }
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn a_role_made_a_producer_under_version_6_may_call_them_after_the_upgrade() {
    // Arrange: a version-6 database with a producer made by version 6's grant_producer.
    let db = database_at_version("pgmq_v6_outbox", 6).await;
    let admin = connect_to(&kv_dsn(&db, "")).await;
    let role = unique("outbox_v6").replace('-', "_");
    admin.batch_execute(&format!("CREATE ROLE {role} LOGIN; SELECT pgmq.grant_producer('{role}')")).await.unwrap();
    let owner = pgmq_core::Client::connect(&kv_dsn(&db, "")).await.unwrap();

    // Act
    owner.migrate().await.unwrap();
    owner.create_queue("jobs", &QueueOptions::default()).await.unwrap();
    let producer = connect_to(&kv_dsn(&db, &format!("user={role}"))).await;
    let sent = outbox::send(&producer, "jobs", b"hi".to_vec(), &SendOptions::default()).await;

    // Assert
    sent.expect("the upgrade granted EXECUTE to the existing producer");
    assert_eq!(owner.queue("jobs").unwrap().stats().await.unwrap().messages, 1);
    drop(producer);
    owner.close().await;
    drop(admin);
    drop_database(&db).await;
    raw().await.batch_execute(&format!("DROP ROLE {role}")).await.unwrap();
}

#[tokio::test]
async fn the_statements_run_in_a_custom_schema_and_reach_its_receivers() {
    // Arrange: pgmq in its own schema.
    let schema = unique("outbox_schema").replace('-', "_");
    let client = client_with(ClientOptions::default().schema(&schema)).await;
    client.create_queue("jobs", &QueueOptions::default()).await.unwrap();
    let mut rx = client.queue("jobs").unwrap().receiver(ReceiveOptions::default()).unwrap();
    let pg = raw().await;

    // Act: each kind's statement for that schema, on a plain connection.
    let run = |kind| statement(kind, Some(&schema), ParamStyle::Dollar).unwrap();
    let none_s: Option<String> = None;
    let (no_delay, no_time) = (None::<f64>, None::<std::time::SystemTime>);
    let one: uuid::Uuid = pg
        .query_one(run(OutboxKind::Send).as_str(), &[&"jobs", &b"bytes".to_vec(), &none_s, &no_delay, &no_time, &true])
        .await
        .unwrap()
        .get(0);
    let two: uuid::Uuid = pg
        .query_one(run(OutboxKind::SendJson).as_str(), &[&"jobs", &"{\"k\": 1}", &none_s, &no_delay, &no_time, &true])
        .await
        .unwrap()
        .get(0);
    let batch: Vec<uuid::Uuid> = pg
        .query_one(
            run(OutboxKind::SendBatch).as_str(),
            &[&"jobs", &vec![b"a".to_vec()], &Some(vec!["{\"x\": \"y\"}".to_owned()]), &no_delay, &no_time, &true],
        )
        .await
        .unwrap()
        .get(0);
    let json_batch: Vec<uuid::Uuid> = pg
        .query_one(run(OutboxKind::SendJsonBatch).as_str(), &[&"jobs", &vec!["2"], &None::<Vec<String>>, &no_delay, &no_time, &false])
        .await
        .unwrap()
        .get(0);

    // Assert
    let mut got = Vec::new();
    for _ in 0..4 {
        let m = timeout(WAIT, rx.next()).await.expect("delivered within 10 s").unwrap();
        got.push((m.id(), m.body().to_vec()));
        m.ack().await.unwrap();
    }
    assert_eq!(
        got,
        [(one, b"bytes".to_vec()), (two, b"{\"k\": 1}".to_vec()), (batch[0], b"a".to_vec()), (json_batch[0], b"2".to_vec())]
    );
    drop(rx);
    client.close().await;
    pg.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}
