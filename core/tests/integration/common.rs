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
