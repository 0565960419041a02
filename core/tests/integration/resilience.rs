//! Receivers keep going across connection loss: a claim cut off mid-flight, every backend of the client
//! terminated, a server restart. The error is reported (`on_error`), never the end of the loop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgmq_core::{Client, ClientOptions, Error, QueueOptions, ReceiveOptions, SendOptions};
use tokio::time::timeout;

use crate::common::*;

const TEN_S: Duration = Duration::from_secs(10);

/// A receive option that records what the receiver recovered from.
fn recording() -> (ReceiveOptions, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = ReceiveOptions::default().on_error(move |e: &Error| sink.lock().unwrap().push(e.code().to_owned()));
    (options, seen)
}

#[tokio::test]
async fn a_claim_cut_off_mid_flight_is_reported_and_the_receiver_goes_on() {
    // Arrange: a message waiting, and the message table locked so the next claim blocks in the server.
    let app = unique("cut-claim");
    let client = client_with(ClientOptions::default().application_name(&app)).await;
    let name = unique("cut-claim");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"survives".to_vec(), &SendOptions::default()).await.unwrap();
    let (options, seen) = recording();
    let mut rx = queue.receiver(options).unwrap();
    let mut locker = raw().await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE pgmq.messages IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let locker_pid: i32 = lock.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let receiving = tokio::spawn(async move { rx.next().await.map(|m| (m.id(), m)) });

    // Act: terminate the claim's backend while it waits for the lock, then let the table go.
    let admin = raw().await;
    let blocked = eventually(TEN_S, || async {
        admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND $2 = ANY(pg_blocking_pids(pid))",
                &[&app, &locker_pid],
            )
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert!(blocked, "the claim never blocked on the lock");
    let claim_pid: i32 = admin
        .query_one(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND $2 = ANY(pg_blocking_pids(pid))",
            &[&app, &locker_pid],
        )
        .await
        .unwrap()
        .get(0);
    kill_backend(&admin, claim_pid).await;
    lock.rollback().await.unwrap();

    // Assert: the same receiver call delivers the message; the cut-off claim was reported.
    let (id, message) = timeout(TEN_S, receiving).await.expect("receiver still waiting").unwrap().expect("no error");
    assert_eq!(id, sent.id());
    message.ack().await.unwrap();
    assert_eq!(seen.lock().unwrap().as_slice(), ["connection"]);
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn a_waiting_receiver_survives_the_termination_of_every_backend_of_its_client() {
    let app = unique("kill-all");
    let client = client_with(ClientOptions::default().application_name(&app)).await;
    let name = unique("kill-all");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let (options, _) = recording();
    let mut rx = client.queue(&name).unwrap().receiver(options).unwrap();
    let receiving = tokio::spawn(async move { rx.next().await.map(|m| (m.id(), m)) });
    assert!(eventually(TEN_S, || async { client.listener_waiting_count() > 0 }).await, "receiver never idle");

    let admin = raw().await;
    let pids: Vec<i32> = admin
        .query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(pids.len() >= 2, "a pool and a LISTEN backend: {pids:?}");
    for pid in pids {
        kill_backend(&admin, pid).await;
    }

    let other = Client::connect(&dsn()).await.unwrap();
    let sent = other.queue(&name).unwrap().send(b"after".to_vec(), &SendOptions::default()).await.unwrap();
    let (id, message) = timeout(TEN_S, receiving).await.expect("receiver still waiting").unwrap().expect("no error");
    assert_eq!(id, sent.id());
    message.ack().await.unwrap();
    client.delete_queue(&name).await.unwrap();
}
