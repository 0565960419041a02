//! Migrating a database in use: a bounded wait for locks (`lock_timeout`, `Error::Timeout`).

use std::time::{Duration, Instant};

use pgmq_core::{Client, Error, QueueOptions, ReceiveOptions, SendOptions, LATEST_VERSION};
use tokio::time::timeout;

use crate::common::*;

const WAIT: Duration = Duration::from_secs(10);
/// `MIGRATION_LOCK_TIMEOUT` in core/src/migrate.rs.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

async fn connect(db: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&kv_dsn(db, ""), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// An open transaction that has read pgmq.messages, as a long report or an idle-in-transaction session
/// would: it holds ACCESS SHARE on the table, which DML does not mind and ALTER / DROP INDEX wait for.
async fn long_reader(db: &str) -> tokio_postgres::Client {
    let reader = connect(db).await;
    reader.batch_execute("BEGIN; SELECT count(*) FROM pgmq.messages;").await.unwrap();
    reader
}

#[tokio::test]
async fn migration_blocked_by_a_long_transaction_gives_up_with_timeout_and_changes_nothing() {
    // Arrange: a database at version 2, whose upgrade (migration 0003) rebuilds an index of pgmq.messages.
    let db = database_at_version("pgmq_locked", 2).await;
    let reader = long_reader(&db).await;
    let client = Client::connect(&kv_dsn(&db, "")).await.unwrap();

    // Act
    let start = Instant::now();
    let err = timeout(LOCK_TIMEOUT * 4, client.migrate()).await.expect("migrate gave up").unwrap_err();
    let took = start.elapsed();

    // Assert: a timeout after the lock timeout, not before nor long after; the schema is still at 2.
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert_eq!(err.code(), "timeout");
    assert!(err.to_string().contains("run it again"), "{err}");
    assert!(took >= LOCK_TIMEOUT - Duration::from_millis(100) && took < LOCK_TIMEOUT * 2, "took {took:?}");
    assert_eq!(client.schema_version().await.unwrap(), 2);
    // Once the transaction ends, migrating again succeeds.
    reader.batch_execute("COMMIT").await.unwrap();
    assert_eq!(client.migrate().await.unwrap(), LATEST_VERSION);
    client.close().await;
    drop_database(&db).await;
}

#[tokio::test]
async fn sends_and_claims_queued_behind_a_waiting_migration_go_through_when_it_gives_up() {
    // Arrange: a version-2 database in use, a long reader, and a migration waiting for its lock.
    let db = database_at_version("pgmq_stall", 2).await;
    let client = Client::connect(&kv_dsn(&db, "")).await.unwrap();
    client.create_queue("jobs", &QueueOptions::default()).await.unwrap();
    let queue = client.queue("jobs").unwrap();
    let reader = long_reader(&db).await;
    // The reader alone does not hold up DML.
    timeout(WAIT, queue.send(b"before".to_vec(), &SendOptions::default())).await.unwrap().unwrap();
    let migrator = Client::connect(&kv_dsn(&db, "")).await.unwrap();
    let migrating = tokio::spawn(async move { migrator.migrate().await });
    let admin = connect(&db).await;
    let waiting = eventually(WAIT, || async {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_locks
                 WHERE relation = 'pgmq.messages'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        n == 1
    })
    .await;
    assert!(waiting, "the migration never waited for its lock on pgmq.messages");

    // Act: a send and a claim now queue behind the migration's lock request.
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let options = SendOptions::default();
    let issued = Instant::now();
    let (sent, claimed) = tokio::join!(
        timeout(LOCK_TIMEOUT * 3, queue.send(b"during".to_vec(), &options)),
        timeout(LOCK_TIMEOUT * 3, rx.next()),
    );
    let stalled = issued.elapsed();

    // Assert: both went through once the migration gave up, so within the lock timeout.
    sent.expect("the send went through").unwrap();
    assert_eq!(claimed.expect("the claim went through").unwrap().body(), b"before");
    let err = migrating.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "timeout", "{err:?}");
    assert!(stalled > LOCK_TIMEOUT / 2, "they did not queue behind the migration ({stalled:?}): nothing tested");
    assert!(stalled < LOCK_TIMEOUT + Duration::from_secs(2), "stalled {stalled:?}");
    reader.batch_execute("COMMIT").await.unwrap();
    assert_eq!(client.migrate().await.unwrap(), LATEST_VERSION);
    drop(rx);
    client.close().await;
    drop_database(&db).await;
}
