//! A network that silently drops a connection: a proxy of our own that stops forwarding, as a NAT that
//! forgot its mapping looks from the client (the socket stays open, the kernel acknowledges, nothing
//! comes back).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgmq_core::{Client, ClientOptions, QueueOptions, ReceiveOptions, SendOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

/// Forwards 127.0.0.1:`port` to the test server until [`Proxy::drop_existing`].
struct Proxy {
    port: u16,
    connections: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start() -> Proxy {
        let (host, port, _) = server();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap().port();
        let connections: Arc<Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
        let list = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = TcpStream::connect((host.as_str(), port)).await else { continue };
                let dropped = Arc::new(AtomicBool::new(false));
                list.lock().unwrap().push(dropped.clone());
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                tokio::spawn(pipe(cr, uw, dropped.clone()));
                tokio::spawn(pipe(ur, cw, dropped));
            }
        });
        Proxy { port: local, connections, task }
    }

    /// Every connection open now stops forwarding, both ways, for good; later ones work.
    fn drop_existing(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            c.store(true, Ordering::SeqCst);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, dropped: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if dropped.load(Ordering::SeqCst) {
            // Swallow everything from now on, keeping both sockets open.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_silently_dropped_connection_fails_within_the_statement_timeout_and_the_lease_holds() {
    // Arrange: work through the proxy, LISTEN (and so heartbeats) direct; a message held under a 1 s lease.
    let proxy = Proxy::start().await;
    let (_, _, user) = server();
    let via_proxy = format!("host=127.0.0.1 port={} user={user} dbname=postgres", proxy.port);
    let options = ClientOptions::default()
        .listen_dsn(dsn())
        .statement_cache(true)
        .statement_timeout(Duration::from_secs(2))
        .pool_size(1);
    let client = Client::connect_with(&via_proxy, options).await.unwrap();
    client.migrate().await.unwrap();
    let name = unique("dropped");
    client.create_queue(&name, &QueueOptions::default().ack_deadline(Duration::from_secs(1))).await.unwrap();
    let queue = client.queue(&name).unwrap();
    queue.send(b"held".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let held = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.unwrap().unwrap();

    // Act: the network drops the pool's connection; the next statement is sent into the void.
    proxy.drop_existing();
    let start = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), queue.stats()).await.expect("hung").unwrap_err();
    let took = start.elapsed();

    // Assert: a connection error after the statement timeout; the connection was not reused (the next
    // statement opens a new one and works); the held message kept its lease past two deadlines.
    assert_eq!(err.code(), "connection", "{err}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(queue.stats().await.unwrap().leased, 1);
    let raw = raw().await;
    let attempts: i32 = raw
        .query_one("SELECT delivery_attempts FROM pgmq.messages WHERE id = $1", &[&held.id()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 1);
    held.ack().await.expect("the lease held across the stall");
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn connect_retry_waits_for_a_server_that_is_not_up_yet_but_not_for_a_refused_login() {
    // A "server" that hangs up on its first two connections (as one still starting does), then forwards.
    let (host, port, user) = server();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let front = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if count.fetch_add(1, Ordering::SeqCst) < 2 {
                drop(client);
                continue;
            }
            let upstream = TcpStream::connect((host.as_str(), port)).await.unwrap();
            let (cr, cw) = client.into_split();
            let (ur, uw) = upstream.into_split();
            let live = Arc::new(AtomicBool::new(false));
            tokio::spawn(pipe(cr, uw, live.clone()));
            tokio::spawn(pipe(ur, cw, live));
        }
    });
    let dsn = format!("host=127.0.0.1 port={local} user={user} dbname=postgres");

    let without = Client::connect_with(&dsn, ClientOptions::default()).await;
    assert_eq!(without.expect_err("no retry by default").code(), "connection");
    let client = Client::connect_with(&dsn, ClientOptions::default().connect_retry(Duration::from_secs(10)))
        .await
        .expect("connects once the server answers");
    assert!(accepted.load(Ordering::SeqCst) >= 3);
    client.close().await;

    let start = Instant::now();
    let refused = Client::connect_with(
        &kv_dsn("postgres", "user=no_such_role_for_retry"),
        ClientOptions::default().connect_retry(Duration::from_secs(10)),
    )
    .await
    .expect_err("a refused login");
    assert_eq!(refused.code(), "connection");
    assert!(start.elapsed() < Duration::from_secs(3), "a refused login is not retried: {:?}", start.elapsed());
    front.abort();
}
