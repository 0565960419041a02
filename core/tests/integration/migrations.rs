//! Migrating a database in use: a bounded wait for locks (`lock_timeout`, `Error::Timeout`), and a
//! `pgmq` schema that is not this library's (`Error::SchemaConflict`).

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

/// A send into queue `jobs` as a client of schema version 2 made it: the queue row locked FOR KEY
/// SHARE, one row inserted.
const OLD_SEND: &str = "
WITH q AS (SELECT id FROM pgmq.queues WHERE name = 'jobs' FOR KEY SHARE)
INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, attributes, body)
SELECT q.id, gen_random_uuid(), now(), false, '{}', $1 FROM q";

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
    // Sends as a client of that version makes them (this library's sends need schema 6's
    // queues.send_lock). The reader alone does not hold up DML.
    let sender = connect(&db).await;
    timeout(WAIT, sender.execute(OLD_SEND, &[&"before".as_bytes()])).await.unwrap().unwrap();
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
    let during: &[u8] = b"during";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&during];
    let issued = Instant::now();
    let (sent, claimed) = tokio::join!(
        timeout(LOCK_TIMEOUT * 3, sender.execute(OLD_SEND, &params)),
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

/// Runs `setup` (as the superuser) in a fresh database, then `migrate`, which must refuse with a schema
/// conflict whose message contains every one of `named`, and leave no trace of pgmq.
async fn assert_migrate_refuses(prefix: &str, setup: &str, named: &[&str]) {
    let db = fresh_database(prefix).await;
    connect(&db).await.batch_execute(setup).await.unwrap();
    let client = Client::connect(&kv_dsn(&db, "")).await.unwrap();

    let err = timeout(WAIT, client.migrate()).await.unwrap().unwrap_err();

    assert!(matches!(err, Error::SchemaConflict(_)), "{err:?}");
    assert_eq!(err.code(), "schema_conflict");
    for name in named {
        assert!(err.to_string().contains(name), "{name:?} not in: {err}");
    }
    assert_eq!(client.schema_version().await.unwrap(), 0, "migrate created its version table");
    let untouched: bool = connect(&db)
        .await
        .query_one("SELECT to_regclass('pgmq.queues') IS NULL AND to_regclass('pgmq.messages') IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(untouched, "migrate created tables in a schema that is not pgmq's");
    client.close().await;
    drop_database(&db).await;
}

#[tokio::test]
async fn migrate_refuses_a_pgmq_schema_holding_another_librarys_tables() {
    // The tables of Tembo's pgmq (the extension's SQL, installed by hand as on a managed service).
    let (_, _, superuser) = server();
    assert_migrate_refuses(
        "pgmq_tembo",
        "CREATE SCHEMA pgmq;
         CREATE TABLE pgmq.meta (queue_name varchar UNIQUE NOT NULL, is_partitioned boolean NOT NULL,
                                 is_unlogged boolean NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE pgmq.q_jobs (msg_id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
                                   read_ct integer NOT NULL DEFAULT 0, vt timestamptz NOT NULL, message jsonb);",
        &["table pgmq.meta", "table pgmq.q_jobs", &format!("owner {superuser:?}"), "schema of its own"],
    )
    .await;
}

#[tokio::test]
async fn migrate_refuses_a_pgmq_schema_that_belongs_to_an_extension() {
    // CREATE EXTENSION pgmq (Tembo's, as Supabase Queues enables it) creates the schema as a member of
    // the extension; ALTER EXTENSION ... ADD SCHEMA makes the same dependency with an extension at hand.
    assert_migrate_refuses(
        "pgmq_ext_member",
        "CREATE EXTENSION hstore; CREATE SCHEMA pgmq; ALTER EXTENSION hstore ADD SCHEMA pgmq;",
        &["extension \"hstore\""],
    )
    .await;
}

#[tokio::test]
async fn migrate_refuses_a_pgmq_schema_an_extension_was_installed_into() {
    assert_migrate_refuses(
        "pgmq_ext_inside",
        "CREATE SCHEMA pgmq; CREATE EXTENSION citext SCHEMA pgmq;",
        &["extension citext", "more"],
    )
    .await;
}

#[tokio::test]
async fn migrate_adopts_an_empty_pgmq_schema_created_for_a_role_that_may_not_create_schemas() {
    // Arrange: a DBA created the schema for the application's role, which has no CREATE on the database.
    let db = fresh_database("pgmq_adopt").await;
    let app = unique("pgmq_app").replace('-', "_");
    raw().await.batch_execute(&format!("CREATE ROLE {app} LOGIN")).await.unwrap();
    connect(&db).await.batch_execute(&format!("CREATE SCHEMA pgmq AUTHORIZATION {app}")).await.unwrap();
    let client = Client::connect(&kv_dsn(&db, &format!("user={app}"))).await.unwrap();

    // Act
    let version = timeout(WAIT, client.migrate()).await.unwrap().unwrap();

    // Assert: migrated, and it works.
    assert_eq!(version, LATEST_VERSION);
    client.create_queue("jobs", &QueueOptions::default()).await.unwrap();
    let queue = client.queue("jobs").unwrap();
    queue.send(b"x".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    timeout(WAIT, rx.next()).await.unwrap().unwrap().ack().await.unwrap();
    drop(rx);
    client.close().await;
    drop_database(&db).await;
    raw().await.batch_execute(&format!("DROP ROLE {app}")).await.unwrap();
}

/// Tembo's pgmq as a managed service installs it (its tables and a function, by hand here).
const TEMBO_LOOKALIKE: &str = "
CREATE SCHEMA pgmq;
CREATE TABLE pgmq.meta (queue_name varchar UNIQUE NOT NULL, is_partitioned boolean NOT NULL,
                        is_unlogged boolean NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE pgmq.q_jobs (msg_id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
                          read_ct integer NOT NULL DEFAULT 0, vt timestamptz NOT NULL, message jsonb);
CREATE FUNCTION pgmq.send(queue_name text, msg jsonb) RETURNS SETOF bigint LANGUAGE sql AS
  $$ INSERT INTO pgmq.q_jobs (vt, message) VALUES (now(), msg) RETURNING msg_id $$;
INSERT INTO pgmq.meta VALUES ('jobs', false, false, now());";

#[tokio::test]
async fn pgmq_lives_beside_tembos_pgmq_in_a_schema_of_its_own() {
    // Arrange: a database where `pgmq` is Tembo's.
    let db = fresh_database("pgmq_beside").await;
    let admin = connect(&db).await;
    admin.batch_execute(TEMBO_LOOKALIKE).await.unwrap();
    let options = || pgmq_core::ClientOptions::default().schema("pgmq_app");
    let client = Client::connect_with(&kv_dsn(&db, ""), options()).await.unwrap();

    // Act: migrate into our own schema and use every kind of statement there.
    assert_eq!(timeout(WAIT, client.migrate()).await.unwrap().unwrap(), LATEST_VERSION);
    client.create_queue("jobs", &QueueOptions::default().max_delivery_attempts(1)).await.unwrap();
    let queue = client.queue("jobs").unwrap();
    let done = queue.send(b"ok".to_vec(), &SendOptions::default()).await.unwrap();
    let failed = queue.send(b"bad".to_vec(), &SendOptions::default()).await.unwrap();
    let other = Client::connect_with(&kv_dsn(&db, ""), options().statement_cache(false)).await.unwrap();
    let mut rx = other.queue("jobs").unwrap().receiver(ReceiveOptions::default()).unwrap();
    timeout(WAIT, rx.next()).await.unwrap().unwrap().ack().await.unwrap();
    timeout(WAIT, rx.next()).await.unwrap().unwrap().nack(Default::default()).await.unwrap();

    // Assert: outcomes and the DLQ work in pgmq_app; Tembo's schema is untouched; pgmq_app holds ours.
    assert_eq!(timeout(WAIT, done.wait()).await.unwrap().unwrap(), pgmq_core::Outcome::Completed);
    assert_eq!(timeout(WAIT, failed.wait()).await.unwrap().unwrap(), pgmq_core::Outcome::DeadLettered);
    assert_eq!(client.queue("dlq@jobs").unwrap().stats().await.unwrap().messages, 1);
    assert_eq!(client.redrive("dlq@jobs", "jobs").await.unwrap(), 1);
    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pgmq.meta), (SELECT count(*) FROM pg_class WHERE relnamespace = 'pgmq'::regnamespace),
                    to_regclass('pgmq_app.messages') IS NOT NULL,
                    (SELECT bool_and(proconfig::text LIKE '%pgmq_app%') FROM pg_proc WHERE pronamespace = 'pgmq_app'::regnamespace)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1, "Tembo's meta rows untouched");
    assert_eq!(row.get::<_, bool>(2), true, "our tables are in pgmq_app");
    assert_eq!(row.get::<_, bool>(3), true, "our functions pin pgmq_app in their search_path");
    let default_schema = Client::connect(&kv_dsn(&db, "")).await.unwrap();
    assert_eq!(default_schema.migrate().await.unwrap_err().code(), "schema_conflict", "pgmq is still Tembo's");
    assert!(client.delete_queue("jobs").await.unwrap());
    for c in [client, other, default_schema] {
        c.close().await;
    }
    drop(rx);
    drop_database(&db).await;
}

#[tokio::test]
async fn a_schema_name_that_is_not_a_plain_identifier_is_an_invalid_option() {
    for bad in ["", "Pgmq", "pg_queue", "1pgmq", "pgmq app", "pgmq\"; DROP", &"x".repeat(64)] {
        let err = Client::connect_with(&dsn(), pgmq_core::ClientOptions::default().schema(bad)).await.unwrap_err();
        assert_eq!(err.code(), "invalid_option", "{bad:?}");
    }
}

#[tokio::test]
async fn a_role_made_a_producer_under_version_5_still_sends_after_the_upgrade() {
    // Arrange: a version-5 database, a role made a producer by version 5's grant_producer.
    let db = database_at_version("pgmq_v5_producer", 5).await;
    let admin = connect(&db).await;
    let role = unique("producer_v5").replace('-', "_");
    admin.batch_execute(&format!("CREATE ROLE {role} LOGIN; SELECT pgmq.grant_producer('{role}')")).await.unwrap();
    let owner = Client::connect(&kv_dsn(&db, "")).await.unwrap();

    // Act: upgrade, then send as that role with this library.
    assert_eq!(owner.migrate().await.unwrap(), LATEST_VERSION);
    owner.create_queue("jobs", &QueueOptions::default()).await.unwrap();
    let producer = Client::connect(&kv_dsn(&db, &format!("user={role}"))).await.unwrap();
    let sent = producer.queue("jobs").unwrap().send(b"hi".to_vec(), &SendOptions::default()).await;

    // Assert
    sent.expect("the upgrade granted what this version's send needs");
    assert_eq!(owner.queue("jobs").unwrap().stats().await.unwrap().messages, 1);
    producer.close().await;
    owner.close().await;
    drop_database(&db).await;
    raw().await.batch_execute(&format!("DROP ROLE {role}")).await.unwrap();
}
