//! Connecting: DSN forms, timeouts, pool size, closing, and the error codes every binding relies on.

use std::time::{Duration, Instant};

use pgmq_core::{Client, ClientOptions, Error, QueueOptions, ReceiveOptions, SendOptions, Uuid};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(5);

fn fast_fail() -> ClientOptions {
    ClientOptions::default().connect_timeout(Duration::from_secs(1))
}

/// Connects, bounded by `limit` so a hang fails the test instead of stalling it; returns the error and how
/// long it took.
async fn connect_error(dsn: &str, options: ClientOptions, limit: Duration) -> (Error, Duration) {
    let start = Instant::now();
    let listen = options.listen_dsn.clone();
    let result = tokio::time::timeout(limit, Client::connect_with(dsn, options))
        .await
        .unwrap_or_else(|_| panic!("connect to {dsn:?} (listen {listen:?}) still pending after {limit:?}"));
    (result.expect_err("connect must fail"), start.elapsed())
}

/// A TCP port that accepts connections (the kernel completes the handshake) but never answers.
async fn silent_server() -> (tokio::net::TcpListener, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[tokio::test]
async fn unreachable_server_fails_with_connection_error_within_the_connect_timeout() {
    let (err, took) =
        connect_error("postgres://postgres@127.0.0.1:1/postgres", fast_fail(), Duration::from_secs(5)).await;

    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert_eq!(err.code(), "connection");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn silent_server_fails_with_connection_error_after_the_connect_timeout() {
    let (_silent, port) = silent_server().await;

    let (err, took) = connect_error(
        &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        fast_fail(),
        Duration::from_secs(5),
    )
    .await;

    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn unreachable_or_silent_listen_dsn_fails_with_connection_error() {
    let (_silent, port) = silent_server().await;
    for listen in [
        "postgres://postgres@127.0.0.1:1/postgres".to_owned(),
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
    ] {
        let (err, took) =
            connect_error(&dsn(), fast_fail().listen_dsn(listen.clone()), Duration::from_secs(5)).await;

        assert!(matches!(err, Error::Connection(_)), "{listen}: {err:?}");
        assert!(took < Duration::from_secs(3), "{listen}: took {took:?}");
    }
}

#[tokio::test]
async fn refused_login_fails_with_connection_error() {
    let (host, port, _) = server();
    for dsn in [
        kv_dsn(&unique("no_such_database").replace('-', "_"), ""),
        format!("host={host} port={port} user=no_such_user dbname=postgres"),
    ] {
        let (err, _) = connect_error(&dsn, fast_fail(), WAIT).await;

        assert!(matches!(err, Error::Connection(_)), "{dsn}: {err:?}");
        assert_eq!(err.code(), "connection");
    }
}

#[tokio::test]
async fn malformed_dsn_is_rejected_as_invalid_option() {
    let malformed = [
        "postgres://postgres@127.0.0.1:notaport/postgres",
        "host=127.0.0.1 port=abc",
        "this is not a dsn",
        "host=127.0.0.1 sslmode=sometimes",
        "postgres://postgres@127.0.0.1/postgres?connect_timeout=soon",
    ];

    for bad in malformed {
        let (err, _) = connect_error(bad, fast_fail(), WAIT).await;
        assert!(matches!(err, Error::InvalidOption(_)), "{bad:?}: {err:?}");
        assert_eq!(err.code(), "invalid_option");

        let (err, _) = connect_error(&dsn(), fast_fail().listen_dsn(bad), WAIT).await;
        assert!(matches!(err, Error::InvalidOption(_)), "listen_dsn {bad:?}: {err:?}");
    }
}

#[tokio::test]
async fn key_value_dsn_connects_and_works() {
    let kv = kv_dsn("postgres", "application_name=pgmq_kv_test");
    assert!(!kv.contains("://"));

    let client = Client::connect_with(&kv, ClientOptions::default()).await.unwrap();

    client.migrate().await.unwrap();
    let name = unique("kv-dsn");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"kv".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap();
    assert_eq!((msg.id(), msg.body()), (sent.id(), &b"kv"[..]));
    msg.ack().await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn pool_size_zero_and_zero_maintenance_interval_are_rejected() {
    for (what, options) in [
        ("pool_size 0", ClientOptions::default().pool_size(0)),
        ("maintenance_interval 0", ClientOptions::default().maintenance_interval(Duration::ZERO)),
    ] {
        let (err, _) = connect_error(&dsn(), options, WAIT).await;
        assert!(matches!(err, Error::InvalidOption(_)), "{what}: {err:?}");
        assert_eq!(err.code(), "invalid_option");
    }
}

#[tokio::test]
async fn pool_of_two_connections_serves_twenty_concurrent_sends() {
    let app = unique("pool2").replace('-', "_");
    let sep = if dsn().contains('?') { '&' } else { '?' };
    let client = Client::connect_with(
        &format!("{}{sep}application_name={app}", dsn()),
        ClientOptions::default().pool_size(2).maintenance_interval(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    client.migrate().await.unwrap();
    let name = unique("pool2");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();

    let sends = (0..20).map(|i| {
        let queue = queue.clone();
        async move { queue.send(format!("{i}"), &SendOptions::default()).await }
    });
    let results =
        tokio::time::timeout(WAIT, futures_util::future::join_all(sends)).await.expect("no deadlock");

    let ids: std::collections::HashSet<Uuid> = results.into_iter().map(|r| r.unwrap().id()).collect();
    assert_eq!(ids.len(), 20);
    assert_eq!(queue.stats().await.unwrap().messages, 20);
    let backends: i64 = raw()
        .await
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .await
        .unwrap()
        .get(0);
    assert!(backends <= 3, "{backends} connections: 2 pooled + 1 LISTEN at most");
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(20)).unwrap();
    let batch = tokio::time::timeout(WAIT, rx.next_batch()).await.unwrap().unwrap();
    assert_eq!(batch.iter().map(|m| m.id()).collect::<std::collections::HashSet<_>>(), ids);
    client.close().await;
}

#[tokio::test]
async fn closing_the_client_stops_waiters_and_later_calls_with_closed() {
    let client = client().await;
    let name = unique("closed");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let pending = queue.send(b"never acked".to_vec(), &SendOptions::default()).await.unwrap();
    let mut busy = queue.receiver(ReceiveOptions::default()).unwrap();
    let held = tokio::time::timeout(WAIT, busy.next()).await.unwrap().unwrap();
    assert_eq!(held.id(), pending.id());
    let mut idle = queue.receiver(ReceiveOptions::default()).unwrap();
    {
        let receiving = idle.next();
        let completing = pending.wait();
        tokio::pin!(receiving, completing);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut receiving).await.is_err(),
            "queue is empty"
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut completing).await.is_err(),
            "not finished"
        );

        client.close().await;

        assert!(client.is_closed());
        let received =
            tokio::time::timeout(Duration::from_secs(1), receiving).await.expect("waiting receiver returns");
        assert!(matches!(received, Err(Error::Closed)), "{received:?}");
        let completed = tokio::time::timeout(Duration::from_secs(1), completing)
            .await
            .expect("completion waiter returns");
        assert!(matches!(completed, Err(Error::Closed)), "{completed:?}");
    }
    assert!(matches!(idle.next().await, Err(Error::Closed)));
    let mut fresh = queue.receiver(ReceiveOptions::default()).unwrap();
    assert!(matches!(tokio::time::timeout(WAIT, fresh.next()).await.unwrap(), Err(Error::Closed)));
    let closed_or_connection = |what: &str, err: Error| {
        assert!(matches!(err, Error::Closed | Error::Connection(_)), "{what}: {err:?}");
    };
    closed_or_connection("send", queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap_err());
    closed_or_connection("stats", queue.stats().await.unwrap_err());
    closed_or_connection("cancel", queue.cancel(&[pending.id()]).await.unwrap_err());
    closed_or_connection(
        "create_queue",
        client.create_queue(&unique("x"), &QueueOptions::default()).await.unwrap_err(),
    );
    closed_or_connection("delete_queue", client.delete_queue(&name).await.unwrap_err());
    closed_or_connection("list_queues", client.list_queues().await.unwrap_err());
    closed_or_connection("migrate", client.migrate().await.unwrap_err());
    let acked = held.ack().await.unwrap_err();
    closed_or_connection("ack", acked);
}

#[tokio::test]
async fn unmigrated_database_reports_schema_missing() {
    let db = fresh_database("pgmq_nomig").await;
    let client = Client::connect_with(&kv_dsn(&db, ""), ClientOptions::default()).await.unwrap();
    let queue = client.queue("jobs").unwrap();

    let created = client.create_queue("jobs", &QueueOptions::default()).await.unwrap_err();
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap_err();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let received =
        tokio::time::timeout(WAIT, rx.next()).await.expect("fails instead of waiting").unwrap_err();

    for (what, err) in [("create_queue", created), ("send", sent), ("receive", received)] {
        assert!(matches!(err, Error::SchemaMissing(_)), "{what}: {err:?}");
        assert_eq!(err.code(), "schema_missing");
    }
    assert_eq!(client.schema_version().await.unwrap(), 0);
    client.migrate().await.unwrap();
    assert!(client.create_queue("jobs", &QueueOptions::default()).await.unwrap());
    drop(rx);
    client.close().await;
    drop_database(&db).await;
}

#[tokio::test]
async fn error_codes_are_the_documented_strings() {
    let id = Uuid::nil();
    let cases = [
        (Error::InvalidQueueName { name: "a b".into(), reason: "space".into() }, "invalid_queue_name"),
        (Error::InvalidOption("x".into()), "invalid_option"),
        (Error::QueueNotFound("q".into()), "queue_not_found"),
        (Error::LeaseLost(id), "lease_lost"),
        (Error::AlreadyFinished(id), "already_finished"),
        (Error::NotTracked(id), "not_tracked"),
        (Error::MessageNotFound(id), "message_not_found"),
        (Error::SchemaMissing("x".into()), "schema_missing"),
        (Error::SchemaConflict("x".into()), "schema_conflict"),
        (Error::Connection("x".into()), "connection"),
        (Error::Timeout("x".into()), "timeout"),
        (Error::Database("x".into()), "database"),
        (Error::Closed, "closed"),
    ];

    for (err, code) in &cases {
        assert_eq!(err.code(), *code, "{err:?}");
        assert!(!err.to_string().is_empty());
    }
    let codes: std::collections::HashSet<&str> = cases.iter().map(|(e, _)| e.code()).collect();
    assert_eq!(codes.len(), cases.len(), "codes are distinct");

    // And real failures carry them.
    let client = client().await;
    let missing = client.queue(&unique("missing")).unwrap();
    assert_eq!(missing.stats().await.unwrap_err().code(), "queue_not_found");
    assert_eq!(missing.cancel(&[id]).await.unwrap_err().code(), "queue_not_found");
    assert_eq!(client.queue("no spaces").unwrap_err().code(), "invalid_queue_name");
    let name = unique("codes");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    assert_eq!(queue.wait_for_completion(&[Uuid::now_v7()]).await.unwrap_err().code(), "message_not_found");
    let sent = queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap();
    msg.ack().await.unwrap();
    assert_eq!(msg.ack().await.unwrap_err().code(), "already_finished");
    assert_eq!(sent.wait().await.unwrap(), pgmq_core::Outcome::Completed);
    client.close().await;
}
