//! TLS against a server configured like a managed one (`make test` starts it: `ssl=on`, its own CA,
//! `hostssl … scram-sha-256`, `hostssl … cert` for one role, `hostnossl … reject`), and failover between
//! the hosts of a multi-host DSN.

use std::time::{Duration, Instant};

use pgmq_core::{Client, ClientOptions, Error, QueueOptions, ReceiveOptions, SendOptions};

use crate::common::*;

/// The TLS server's settings, or `None` (with the reason printed) when it was not started, i.e. the
/// tests run against an outside `DATABASE_URL`. `make test` sets PGMQ_REQUIRE_TLS_TESTS, so there a
/// missing server fails instead of skipping.
struct TlsServer {
    port: String,
    password: String,
    dir: String,
    socket_dir: String,
}

fn tls_server() -> Option<TlsServer> {
    let var = |k: &str| std::env::var(k).ok();
    match (var("PGMQ_TLS_PORT"), var("PGMQ_TLS_PASSWORD"), var("PGMQ_TLS_DIR"), var("PGMQ_TLS_SOCKET_DIR")) {
        (Some(port), Some(password), Some(dir), Some(socket_dir)) => Some(TlsServer { port, password, dir, socket_dir }),
        _ if var("PGMQ_REQUIRE_TLS_TESTS").as_deref() == Some("1") => {
            panic!("PGMQ_TLS_* not set: start the tests with PGMQ_PG_TLS=1 tests/with-postgres.sh")
        }
        _ => {
            eprintln!("skipped: no TLS server (PGMQ_TLS_* not set; PGMQ_PG_TLS=1 tests/with-postgres.sh starts one)");
            None
        }
    }
}

impl TlsServer {
    /// A key=value DSN as `pgmq_tls` (scram over TLS) to `host`, plus `extra` pairs.
    fn dsn(&self, host: &str, extra: &str) -> String {
        format!("host={host} port={} user=pgmq_tls password={} dbname=postgres {extra}", self.port, self.password)
    }

    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// A superuser connection over the unix socket, for looking at pg_stat_ssl.
    async fn admin(&self) -> tokio_postgres::Client {
        let dsn = format!("host={} port={} user=postgres dbname=postgres", self.socket_dir, self.port);
        let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await.expect("admin connect");
        tokio::spawn(conn);
        client
    }
}

fn options(app: &str) -> ClientOptions {
    ClientOptions::default().connect_timeout(Duration::from_secs(3)).application_name(app)
}

async fn connect_err(dsn: &str) -> (Error, Duration) {
    let start = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), Client::connect_with(dsn, options("pgmq-tls-fail")))
        .await
        .expect("a failing connect returns within the connect timeout");
    (result.expect_err("connect must fail"), start.elapsed())
}

#[tokio::test]
async fn verify_full_encrypts_every_pool_and_listen_connection() {
    let Some(server) = tls_server() else { return };
    let app = unique("tls-app");
    let url = std::env::var("PGMQ_TLS_URL").unwrap();
    for dsn in [url, server.dsn("localhost", &format!("sslmode=verify-full sslrootcert={}", server.file("ca.crt")))] {
        let client = Client::connect_with(&dsn, options(&app).pool_size(2)).await.expect("verify-full connects");
        client.migrate().await.unwrap();
        let name = unique("tls");
        client.create_queue(&name, &QueueOptions::default()).await.unwrap();
        let queue = client.queue(&name).unwrap();
        let sent = queue.send(b"over tls".to_vec(), &SendOptions::default()).await.unwrap();
        let mut receiver = queue.receiver(ReceiveOptions::default()).unwrap();
        let message = receiver.next().await.unwrap();
        assert_eq!(message.body(), b"over tls");
        message.ack().await.unwrap();
        assert_eq!(sent.wait().await.unwrap(), pgmq_core::Outcome::Completed);

        let listen_pid = client.listener_backend_pid().await.expect("listening");
        let rows = server
            .admin()
            .await
            .query(
                "SELECT a.pid, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                 WHERE a.application_name = $1",
                &[&app],
            )
            .await
            .unwrap();
        assert!(rows.len() >= 2, "a pool and a LISTEN backend: {} rows", rows.len());
        assert!(rows.iter().all(|r| r.get::<_, bool>(1)), "every backend of the client is encrypted");
        assert!(rows.iter().any(|r| r.get::<_, i32>(0) == listen_pid), "the LISTEN backend is among them");
        client.delete_queue(&name).await.unwrap();
        client.close().await;
    }
}

#[tokio::test]
async fn scram_channel_binding_is_used_when_required() {
    let Some(server) = tls_server() else { return };
    let dsn = server.dsn("localhost", &format!("sslmode=verify-full sslrootcert={} channel_binding=require", server.file("ca.crt")));
    let client = Client::connect_with(&dsn, options("pgmq-tls-cb")).await.expect("SCRAM-SHA-256-PLUS");
    client.close().await;
}

#[tokio::test]
async fn the_default_sslmode_and_allow_use_tls_where_plaintext_is_refused() {
    let Some(server) = tls_server() else { return };
    for extra in ["", "sslmode=prefer", "sslmode=allow", "sslmode=require"] {
        let app = unique("tls-mode");
        let client = Client::connect_with(&server.dsn("127.0.0.1", extra), options(&app))
            .await
            .unwrap_or_else(|e| panic!("{extra:?}: {e}"));
        let ssl: Vec<bool> = server
            .admin()
            .await
            .query("SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1", &[&app])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!ssl.is_empty() && ssl.iter().all(|s| *s), "{extra:?}: {ssl:?}");
        client.close().await;
    }
    let (err, _) = connect_err(&server.dsn("127.0.0.1", "sslmode=disable")).await;
    assert_eq!(err.code(), "connection", "{err}");
    assert!(err.to_string().contains("no encryption"), "pg_hba's hostnossl reject: {err}");
}

#[tokio::test]
async fn an_unrelated_ca_fails_with_connection_error_saying_the_certificate_is_not_trusted() {
    let Some(server) = tls_server() else { return };
    let (err, took) =
        connect_err(&server.dsn("localhost", &format!("sslmode=verify-full sslrootcert={}", server.file("other-ca.crt")))).await;
    assert_eq!(err.code(), "connection", "{err}");
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert!(!err.to_string().contains(&server.password), "the password never appears in an error");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_wrong_host_name_fails_verify_full_and_passes_verify_ca() {
    let Some(server) = tls_server() else { return };
    let ca = server.file("ca.crt");
    let (err, took) = connect_err(&server.dsn("pgmq-wrong-name.invalid", &format!("hostaddr=127.0.0.1 sslmode=verify-full sslrootcert={ca}"))).await;
    assert_eq!(err.code(), "connection", "{err}");
    assert!(err.to_string().contains("does not match the host name"), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let client = Client::connect_with(
        &server.dsn("pgmq-wrong-name.invalid", &format!("hostaddr=127.0.0.1 sslmode=verify-ca sslrootcert={ca}")),
        options("pgmq-tls-ca"),
    )
    .await
    .expect("verify-ca checks the chain only");
    client.close().await;
}

#[tokio::test]
async fn require_against_a_server_without_tls_fails_with_connection_error() {
    if tls_server().is_none() {
        return;
    }
    let (host, port, user) = server();
    let (err, took) = connect_err(&format!("host={host} port={port} user={user} dbname=postgres sslmode=require")).await;
    assert_eq!(err.code(), "connection", "{err}");
    assert!(err.to_string().contains("does not support TLS"), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_client_certificate_logs_in_where_the_server_asks_for_one() {
    let Some(server) = tls_server() else { return };
    let base = format!("host=localhost port={} user=pgmq_cert dbname=postgres sslmode=verify-full sslrootcert={}", server.port, server.file("ca.crt"));
    let with_cert = format!("{base} sslcert={} sslkey={}", server.file("client.crt"), server.file("client.key"));
    let client = Client::connect_with(&with_cert, options("pgmq-tls-cert")).await.expect("certificate login");
    client.migrate().await.unwrap();
    client.close().await;

    let (err, _) = connect_err(&base).await;
    assert_eq!(err.code(), "connection", "{err}");
}

#[tokio::test]
async fn a_missing_root_file_is_an_invalid_option_naming_the_file() {
    let Some(server) = tls_server() else { return };
    let (err, _) = connect_err(&server.dsn("localhost", "sslmode=verify-full sslrootcert=/nonexistent/ca.pem")).await;
    assert_eq!(err.code(), "invalid_option", "{err}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn a_multi_host_dsn_fails_over_to_the_second_host_when_the_first_never_answers() {
    // The first host accepts TCP connections and never answers (a dropped-packets peer looks the same
    // to the client once the connect timeout counts per host).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let (host, port, user) = server();
    let dsn = format!("host=127.0.0.1,{host} port={silent_port},{port} user={user} dbname=postgres connect_timeout=2");
    let start = Instant::now();
    let client = Client::connect_with(&dsn, ClientOptions::default().pool_size(1)).await.expect("second host");
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(8), "took {took:?}");
    client.migrate().await.unwrap();
    client.close().await;

    // Both hosts silent: one error that names each.
    let dsn = format!("host=127.0.0.1,127.0.0.1 port={silent_port},{silent_port} user={user} dbname=postgres connect_timeout=2");
    let (err, took) = connect_err(&dsn).await;
    assert_eq!(err.code(), "connection");
    assert_eq!(err.to_string().matches("no answer within").count(), 2, "{err}");
    assert!(took < Duration::from_secs(6), "per host, not per attempt of the pool: {took:?}");
}

#[tokio::test]
async fn application_name_defaults_to_pgmq_and_the_language() {
    let client = Client::connect(&dsn()).await.unwrap();
    let pid = client.listener_backend_pid().await.unwrap();
    let row = raw().await.query_one("SELECT application_name FROM pg_stat_activity WHERE pid = $1", &[&pid]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "pgmq-rust");
    client.close().await;
}

#[tokio::test]
async fn client_options_debug_masks_the_listen_dsn_password() {
    let options = ClientOptions::default().listen_dsn("postgres://app:hunter2@db/orders");
    let shown = format!("{options:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("app:***@db"), "{shown}");
}
