//! Durability across a server crash: after `pg_ctl stop -m immediate` (the postmaster SIGQUITs every
//! backend: no checkpoint, and WAL still in the server's buffers is gone; WAL already handed to the
//! kernel survives) and crash recovery, a message whose send returned is in the queue, and one whose ack
//! returned is not.
//!
//! These tests crash the server they are given, so they run only with `PGMQ_CRASH_TESTS=1`, on a
//! throwaway cluster of their own with default durability (`fsync` and `synchronous_commit` on):
//!
//! ```text
//! env -u DATABASE_URL -u PGMQ_PG_FAST PGMQ_CRASH_TESTS=1 tests/with-postgres.sh cargo test -p pgmq-core --test crash
//! ```
//!
//! (`make test` runs them that way.) Without it they print `skipped: ...` and pass, so that `cargo test`
//! against a shared cluster never takes it down.

use std::path::PathBuf;
use std::time::Duration;

use pgmq_core::{Client, OutgoingMessage, Queue, QueueOptions, ReceiveOptions, SendOptions, Uuid};

/// Sends (or acks) per test. Of those that commit asynchronously, a crash takes the ones whose WAL is
/// on the last, partly filled WAL page (see [`Server::slow_wal_writer`]): 1-13 of 200 sends, 1-10 of
/// 200 acks, in runs on the development VM.
const MESSAGES: usize = 200;

/// A role whose sessions commit asynchronously by default, as some deployments configure for speed.
const ASYNC_ROLE: &str = "pgmq_async_commit";

/// The tests take turns: each one crashes the one server.
static SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn send_is_durable_even_when_the_roles_default_is_synchronous_commit_off() {
    let Some(server) = Server::from_env() else { return };
    let _turn = SERVER.lock().await;
    server.slow_wal_writer().await;
    let client = server.client_as_async_role().await;
    let queue = new_queue(&client, "crash-send-role-async").await;

    let sent = send_each(&queue).await;
    server.crash_and_start().await;

    let lost = server.missing(&sent).await;
    assert!(lost.is_empty(), "{} of {MESSAGES} sends that had returned were lost in the crash", lost.len());
}

#[tokio::test]
async fn send_is_durable_with_the_servers_default_settings() {
    let Some(server) = Server::from_env() else { return };
    let _turn = SERVER.lock().await;
    server.slow_wal_writer().await;
    let client = Client::connect(&server.dsn).await.expect("connect");
    let queue = new_queue(&client, "crash-send-default").await;

    let sent = send_each(&queue).await;
    server.crash_and_start().await;

    let lost = server.missing(&sent).await;
    assert!(lost.is_empty(), "{} of {MESSAGES} sends that had returned were lost in the crash", lost.len());
}

#[tokio::test]
async fn ack_is_durable_even_when_the_roles_default_is_synchronous_commit_off() {
    let Some(server) = Server::from_env() else { return };
    let _turn = SERVER.lock().await;
    server.slow_wal_writer().await;
    let sender = Client::connect(&server.dsn).await.expect("connect");
    let sent = send_each(&new_queue(&sender, "crash-ack-role-async").await).await;
    let worker = server.client_as_async_role().await;
    let mut receiver = worker.queue("crash-ack-role-async").unwrap().receiver(ReceiveOptions::default()).unwrap();

    for _ in 0..sent.len() {
        let message = tokio::time::timeout(Duration::from_secs(10), receiver.next()).await.expect("a message").unwrap();
        message.ack().await.expect("ack");
    }
    server.crash_and_start().await;

    // An acked message is gone from the queue; one still there will be delivered (and completed) again.
    let queued = sent.len() - server.missing(&sent).await.len();
    assert_eq!(queued, 0, "{queued} of {MESSAGES} messages whose ack had returned are queued again after the crash");
}

/// A migrated client on an empty queue of this name.
async fn new_queue(client: &Client, name: &str) -> Queue {
    client.migrate().await.expect("migrate");
    client.delete_queue(name).await.expect("delete_queue");
    client.create_queue(name, &QueueOptions::default()).await.expect("create_queue");
    client.queue(name).unwrap()
}

/// Sends [`MESSAGES`] one by one, each awaited; returns their ids.
async fn send_each(queue: &Queue) -> Vec<Uuid> {
    let mut sent = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let message = OutgoingMessage::new(format!("message {i}").into_bytes());
        sent.push(queue.send(message, &SendOptions::default()).await.expect("send").id());
    }
    sent
}

/// The throwaway cluster of tests/with-postgres.sh, from the variables it exports.
struct Server {
    dsn: String,
    bin: PathBuf,
    datadir: PathBuf,
    log: PathBuf,
    /// Set when we run as root: PostgreSQL runs as this user, and so must pg_ctl.
    runas: Option<String>,
}

impl Server {
    /// `None` (after saying why) unless `PGMQ_CRASH_TESTS=1` and the cluster's variables are set.
    fn from_env() -> Option<Server> {
        if std::env::var("PGMQ_CRASH_TESTS").as_deref() != Ok("1") {
            eprintln!(
                "skipped: this test crashes its server; it runs only with PGMQ_CRASH_TESTS=1 on a cluster of its own"
            );
            return None;
        }
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| panic!("PGMQ_CRASH_TESTS=1 needs {name}: run it under tests/with-postgres.sh"))
        };
        let runas = var("PGMQ_PG_RUNAS");
        // /proc/self belongs to our effective user. PostgreSQL refuses to run as root.
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
        Some(Server {
            dsn: var("DATABASE_URL"),
            bin: var("PGMQ_PG_BIN").into(),
            datadir: var("PGMQ_PG_DATADIR").into(),
            log: var("PGMQ_PG_LOG").into(),
            runas: root.then_some(runas),
        })
    }

    async fn admin(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.dsn, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client
    }

    /// A pgmq client logged in as [`ASYNC_ROLE`] (created here), whose sessions commit asynchronously.
    async fn client_as_async_role(&self) -> Client {
        self.admin()
            .await
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {ASYNC_ROLE} LOGIN SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
                 ALTER ROLE {ASYNC_ROLE} SET synchronous_commit = off"
            ))
            .await
            .expect("create the role");
        let dsn = self.dsn_as(ASYNC_ROLE);
        let (session, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await.expect("connect as the role");
        tokio::spawn(conn);
        let setting: String = session.query_one("SHOW synchronous_commit", &[]).await.unwrap().get(0);
        assert_eq!(setting, "off", "the role's default applies to its sessions");
        Client::connect(&dsn).await.expect("connect as the role")
    }

    /// `DATABASE_URL`, logging in as `user`.
    fn dsn_as(&self, user: &str) -> String {
        let config: tokio_postgres::Config = self.dsn.parse().expect("DATABASE_URL parses");
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.to_string_lossy().into_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let dbname = config.get_dbname().unwrap_or("postgres");
        format!("host={host} port={port} user={user} dbname={dbname}")
    }

    /// An asynchronous commit survives a crash of the server's processes once the WAL writer has handed
    /// its WAL to the kernel. The WAL writer wakes up when a WAL page fills, and every `wal_writer_delay`
    /// (200 ms by default) to write out everything committed. At 10 s, the last, partly filled page
    /// (the last commits of a test, at least the very last one) is still in the server's buffers when
    /// the test crashes it, unless the commits waited for their WAL themselves, as synchronous commits
    /// do. Applied by a restart: a reload would reach the WAL writer only when it next wakes up.
    async fn slow_wal_writer(&self) {
        let admin = self.admin().await;
        let delay: String = admin.query_one("SHOW wal_writer_delay", &[]).await.unwrap().get(0);
        if delay != "10s" {
            admin.batch_execute("ALTER SYSTEM SET wal_writer_delay = '10s'").await.expect("ALTER SYSTEM");
            self.pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60"]).await;
        }
    }

    /// `pg_ctl stop -m immediate`, then `pg_ctl start -w`, which returns once crash recovery is done.
    async fn crash_and_start(&self) {
        // `pg_ctl start` does not read postmaster.opts (only `restart` does): pass the port again, from
        // the fourth line of postmaster.pid.
        let pidfile = std::fs::read_to_string(self.datadir.join("postmaster.pid")).expect("postmaster.pid");
        let port = pidfile.lines().nth(3).expect("the port in postmaster.pid").trim().to_owned();
        self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "60"]).await;
        self.pg_ctl(&["start", "-w", "-t", "120", "-o", &format!("-p {port}")]).await;
    }

    async fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = match &self.runas {
            Some(user) => {
                let mut c = tokio::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&pg_ctl);
                c
            }
            None => tokio::process::Command::new(&pg_ctl),
        };
        // -l: without it the server would inherit our stdout, and reading pg_ctl's output to its end
        // would wait for the server to exit. The cluster's owner may not be able to read our directory.
        cmd.arg(args[0]).arg("-D").arg(&self.datadir).arg("-l").arg(&self.log).args(&args[1..]);
        cmd.current_dir(self.datadir.parent().expect("the data directory has a parent"));
        let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
            .await
            .expect("pg_ctl within 180 s")
            .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {} failed ({}): {}{}",
            args[0],
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The ids in `sent` that are not in `pgmq.messages`.
    async fn missing(&self, sent: &[Uuid]) -> Vec<Uuid> {
        let rows = self
            .admin()
            .await
            .query("SELECT id FROM pgmq.messages WHERE id = ANY($1)", &[&sent])
            .await
            .expect("read the queue after the crash");
        let present: std::collections::HashSet<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        sent.iter().copied().filter(|id| !present.contains(id)).collect()
    }
}
