//! Through the real PgBouncer in transaction pooling mode (`make test` starts it: PGMQ_PG_PGBOUNCER=1).
//! Named prepared statements leak between its clients there, and a LISTEN through it hears nothing.

use std::time::Duration;

use pgmq_core::{Client, ClientOptions, QueueOptions, ReceiveOptions, SendOptions};

use crate::common::*;

/// PgBouncer's URL, or `None` (with the reason printed) when it was not started; `make test` sets
/// PGMQ_REQUIRE_PGBOUNCER_TESTS, so there a missing pooler fails instead of skipping.
fn bouncer() -> Option<String> {
    match std::env::var("PGMQ_PGBOUNCER_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("PGMQ_REQUIRE_PGBOUNCER_TESTS").as_deref() == Ok("1") => {
            panic!("PGMQ_PGBOUNCER_URL not set: start the tests with PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh")
        }
        Err(_) => {
            eprintln!("skipped: no PgBouncer (PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh starts one)");
            None
        }
    }
}

/// A client whose work goes through the pooler and whose LISTEN goes direct: the statement cache turns
/// itself off because listen_dsn is set.
async fn pooled_client(url: &str) -> Client {
    let options = ClientOptions::default().listen_dsn(dsn()).pool_size(4);
    let client = Client::connect_with(url, options).await.expect("connect through PgBouncer");
    client.migrate().await.unwrap();
    client
}

#[tokio::test]
async fn two_clients_through_pgbouncer_each_move_ten_thousand_messages_without_an_error() {
    let Some(url) = bouncer() else { return };
    let setup = pooled_client(&url).await;
    let names = [unique("bouncer-a"), unique("bouncer-b")];
    for n in &names {
        setup.create_queue(n, &QueueOptions::default()).await.unwrap();
    }
    let mut runs = Vec::new();
    for name in names.clone() {
        let url = url.clone();
        runs.push(tokio::spawn(async move {
            let client = pooled_client(&url).await;
            let queue = client.queue(&name).unwrap();
            let producer = {
                let queue = queue.clone();
                tokio::spawn(async move {
                    for chunk in 0..100 {
                        let batch = (0..50).map(|i| format!("{chunk}-{i}").into_bytes().into()).collect();
                        queue.send_batch(batch, &SendOptions::default()).await.unwrap();
                        for i in 0..50 {
                            queue.send(format!("one-{chunk}-{i}").into_bytes(), &SendOptions::default()).await.unwrap();
                        }
                    }
                })
            };
            let mut rx = queue.receiver(ReceiveOptions::default().batch_size(50)).unwrap();
            let mut received = 0;
            while received < 10_000 {
                let batch = tokio::time::timeout(Duration::from_secs(30), rx.next_batch()).await.expect("stalled").unwrap();
                received += batch.len();
                for m in batch {
                    m.ack().await.unwrap();
                }
            }
            producer.await.unwrap();
            assert_eq!(queue.stats().await.unwrap().messages, 0);
            client.close().await;
        }));
    }
    for r in runs {
        r.await.expect("a client failed");
    }
    for n in &names {
        setup.delete_queue(n).await.unwrap();
    }
}

#[tokio::test]
async fn a_listen_connection_through_pgbouncer_is_refused_with_a_clear_error() {
    let Some(url) = bouncer() else { return };
    let err = Client::connect_with(&url, ClientOptions::default().connect_timeout(Duration::from_secs(2)))
        .await
        .expect_err("LISTEN through a transaction pooler hears nothing");
    assert_eq!(err.code(), "invalid_option", "{err}");
    assert!(err.to_string().contains("listen_dsn"), "{err}");
}

#[tokio::test]
async fn a_cached_statement_through_pgbouncer_is_what_breaks() {
    // The reason for the unnamed mode: forced on, the statement cache fails behind the pooler as soon
    // as two clients share its server connections.
    let Some(url) = bouncer() else { return };
    let options = || ClientOptions::default().listen_dsn(dsn()).pool_size(4).statement_cache(true);
    let a = Client::connect_with(&url, options()).await.unwrap();
    let b = Client::connect_with(&url, options()).await.unwrap();
    a.migrate().await.unwrap();
    let name = unique("bouncer-cache");
    a.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let (qa, qb) = (a.queue(&name).unwrap(), b.queue(&name).unwrap());
    let untracked = SendOptions::default().track(false);
    let mut failures = 0;
    for i in 0..200 {
        let (x, y) = tokio::join!(qa.stats(), qb.send(format!("{i}").into_bytes(), &untracked));
        failures += usize::from(x.is_err()) + usize::from(y.is_err());
    }
    assert!(failures > 0, "named statements survived transaction pooling: the test no longer shows the need");
    a.delete_queue(&name).await.unwrap();
}
