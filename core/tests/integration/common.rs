//! Shared helpers: a migrated client on `DATABASE_URL`, unique queue names, timing.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pgmq_core::{Client, ClientOptions};

pub fn dsn() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run the tests through `make test` or `tests/with-postgres.sh cargo test`",
    )
}

/// A client with fast housekeeping (100 ms) so expiry tests finish quickly, on a migrated schema.
pub async fn client() -> Client {
    client_with(ClientOptions::default()).await
}

pub async fn client_with(options: ClientOptions) -> Client {
    let options = options.maintenance_interval(Duration::from_millis(100));
    let client = Client::connect_with(&dsn(), options).await.expect("connect");
    client.migrate().await.expect("migrate");
    client
}

/// A queue name unique to this test run and call site.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// A plain tokio-postgres connection, for checks that look under the hood.
pub async fn raw() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&dsn(), tokio_postgres::NoTls).await.expect("raw connect");
    tokio::spawn(conn);
    client
}

/// Runs `f` until it returns true, every 20 ms, for at most `limit`. For conditions that have no event
/// to wait on (rows changed by another process); returns whether it became true.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The host, port and user of `DATABASE_URL`, for building other DSNs to the same server.
pub fn server() -> (String, u16, String) {
    let config: tokio_postgres::Config = dsn().parse().expect("DATABASE_URL parses");
    let host = match config.get_hosts().first().expect("DATABASE_URL names a host") {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(p) => p.to_string_lossy().into_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres").to_owned();
    (host, port, user)
}

/// A key=value DSN (`host=… port=… user=… dbname=…`) to `dbname` on the test server, plus `extra` pairs.
pub fn kv_dsn(dbname: &str, extra: &str) -> String {
    let (host, port, user) = server();
    format!("host={host} port={port} user={user} dbname={dbname} {extra}").trim_end().to_owned()
}

/// Creates an empty database (no pgmq schema) and returns its name; drop it with [`drop_database`].
pub async fn fresh_database(prefix: &str) -> String {
    let name = unique(prefix).replace('-', "_");
    raw().await.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await.expect("create database");
    name
}

/// Drops a database made by [`fresh_database`], disconnecting whoever is still on it.
pub async fn drop_database(name: &str) {
    raw().await.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.expect("drop database");
}

/// Creates a database holding the pgmq schema at `version` (the first `version` files of
/// core/migrations, applied and recorded as `migrate` did at the time) and returns its name; drop it with
/// [`drop_database`].
pub async fn database_at_version(prefix: &str, version: usize) -> String {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let db = fresh_database(prefix).await;
    let (conn, connection) = tokio_postgres::connect(&kv_dsn(&db, ""), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    conn.batch_execute(
        "CREATE SCHEMA pgmq;
         CREATE TABLE pgmq.schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                                              applied_at timestamptz NOT NULL DEFAULT now());",
    )
    .await
    .unwrap();
    for (i, file) in files[..version].iter().enumerate() {
        conn.batch_execute(&std::fs::read_to_string(file).unwrap()).await.unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        conn.execute("INSERT INTO pgmq.schema_migrations (version, name) VALUES ($1, $2)", &[&(i as i32 + 1), &name])
            .await
            .unwrap();
    }
    db
}

/// The id of queue `name` in `pgmq.queues`, if it exists.
pub async fn find_queue_id(name: &str) -> Option<i64> {
    raw().await.query_opt("SELECT id FROM pgmq.queues WHERE name = $1", &[&name]).await.unwrap().map(|r| r.get(0))
}

// ---- helpers for the lease / dead-letter / completion / cancel / listener / load modules ----

/// `DATABASE_URL` with this `application_name`, so a client's backends can be found in pg_stat_activity.
pub fn dsn_with_app(app: &str) -> String {
    let base = dsn();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}application_name={app}")
}

/// A unique application name (<= 63 bytes, URL-safe) for [`quiet_client`].
pub fn unique_app(prefix: &str) -> String {
    unique(&format!("pgmq_{prefix}")).replace('-', "_")
}

/// A client named `app` in pg_stat_activity whose housekeeping runs once an hour, so the only statements
/// its backends run are the ones the test makes it run (see [`ran_since`]).
pub async fn quiet_client(app: &str) -> Client {
    quiet_client_with(app, ClientOptions::default()).await
}

pub async fn quiet_client_with(app: &str, options: ClientOptions) -> Client {
    let options = options.maintenance_interval(Duration::from_secs(3600));
    let client = Client::connect_with(&dsn_with_app(app), options).await.expect("connect");
    client.migrate().await.expect("migrate");
    client
}

/// A text fragment of the statement a receiver runs right before it goes to sleep on NOTIFY
/// (the claim, `CLAIM_HEAD` in core/src/receiver.rs, which also computes when to wake; only the first
/// 1 kB of a statement shows in pg_stat_activity).
pub const RECEIVER_IDLE_SQL: &str = "AND NOT m.last_lease AND NOT m.cancel_requested";
/// A text fragment of the statement a completion waiter runs before it sleeps on NOTIFY (`CHECK` in
/// core/src/completion.rs).
pub const COMPLETION_CHECK_SQL: &str = "LEFT JOIN pgmq.outcomes o ON o.id = a.id";

/// Waits (at most `limit`) until a backend of the client named `app` has finished a statement containing
/// `fragment` that started at or after `since`. With a [`quiet_client`] this tells that a receiver or
/// completion waiter has re-read the table and is now asleep waiting for a notification, so that what the
/// test does next can only reach it through NOTIFY. Returns whether it happened.
pub async fn ran_since(
    raw: &tokio_postgres::Client,
    app: &str,
    fragment: &str,
    since: std::time::SystemTime,
    limit: Duration,
) -> bool {
    eventually(limit, || async {
        let n: i64 = raw
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = $1 AND state = 'idle' AND position($2 in query) > 0
                   AND query_start >= $3",
                &[&app, &fragment, &since],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        n > 0
    })
    .await
}

/// The id of queue `name` (to name its NOTIFY channels or look at its rows), on an open raw connection.
pub async fn queue_id_in(raw: &tokio_postgres::Client, name: &str) -> i64 {
    raw.query_one("SELECT id FROM pgmq.queues WHERE name = $1", &[&name]).await.expect("queue id").get(0)
}

/// Terminates the backend `pid` and waits until it has exited.
pub async fn kill_backend(raw: &tokio_postgres::Client, pid: i32) {
    let killed: bool =
        raw.query_one("SELECT pg_terminate_backend($1)", &[&pid]).await.expect("terminate").get(0);
    assert!(killed, "pg_terminate_backend({pid}) found no such backend");
    let gone = eventually(Duration::from_secs(10), || async {
        let n: i64 = raw
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .await
            .expect("pg_stat_activity")
            .get(0);
        n == 0
    })
    .await;
    assert!(gone, "backend {pid} still alive 10 s after pg_terminate_backend");
}

/// The median of some durations.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A plain connection LISTENing on `channels`, and the notifications it receives as (channel, payload)
/// (keep the client alive). For checks of what goes over the wire.
pub async fn listen_on(
    channels: &[String],
) -> (tokio_postgres::Client, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    use futures_util::StreamExt;
    let (listening, mut connection) = tokio_postgres::connect(&dsn(), tokio_postgres::NoTls).await.expect("connect");
    let (tx, notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                if tx.send((n.channel().to_owned(), n.payload().to_owned())).is_err() {
                    return;
                }
            }
        }
    });
    let sql: String = channels.iter().map(|c| format!("LISTEN \"{c}\";")).collect();
    listening.batch_execute(&sql).await.expect("LISTEN");
    (listening, notifications)
}
