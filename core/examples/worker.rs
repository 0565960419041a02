//! A worker with retries and a dead-letter queue. A nacked message comes back; after
//! `max_delivery_attempts` (2 here) it moves, whole, to the dead-letter queue `dlq@<name>`, which is read
//! like any other queue.
//!
//! `DATABASE_URL=postgres://... cargo run -p pgmq-core --example worker`
//!
//! Output:
//!   done resize 1
//!   done resize 2
//!   attempt 1 of fail: failing
//!   attempt 2 of fail: failing
//!   dead letter: fail, after 2 attempts, last error: cannot do this one

use pgmq_core::{
    dlq_name, Client, NackOptions, Outcome, OutgoingMessage, QueueOptions, ReceiveOptions, Receiver, SendOptions,
};

/// Acks every message but "fail", which it nacks with an error: it is redelivered, then dead-lettered.
async fn work(mut receiver: Receiver) -> pgmq_core::Result<()> {
    loop {
        let message = receiver.next().await?;
        let body = String::from_utf8_lossy(message.body()).into_owned();
        if body == "fail" {
            println!("attempt {} of {body}: failing", message.delivery_attempt());
            let error = Some("cannot do this one".to_string());
            message.nack(NackOptions { error, ..NackOptions::default() }).await?;
        } else {
            println!("done {body}");
            message.ack().await?;
        }
    }
}

#[tokio::main]
async fn main() -> pgmq_core::Result<()> {
    let dsn = std::env::var("DATABASE_URL").unwrap_or("postgres://postgres@localhost/postgres".into());
    let client = Client::connect(&dsn).await?;
    client.migrate().await?;
    client.create_queue("examples-rust-worker", &QueueOptions::default().max_delivery_attempts(2)).await?;
    let queue = client.queue("examples-rust-worker")?;

    let bodies = ["resize 1", "resize 2", "fail"].map(OutgoingMessage::new).to_vec();
    let sent = queue.send_batch(bodies, &SendOptions::default()).await?;

    let worker = tokio::spawn(work(queue.receiver(ReceiveOptions::default())?));
    let outcomes = sent.wait().await?; // once every message has an outcome
    worker.abort();
    let dead_lettered = outcomes.values().filter(|o| **o == Outcome::DeadLettered).count();
    assert_eq!((outcomes.len(), dead_lettered), (3, 1));

    let mut dlq = client.queue(&dlq_name("examples-rust-worker"))?.receiver(ReceiveOptions::default())?;
    let dead = dlq.next().await?;
    println!(
        "dead letter: {}, after {} attempts, last error: {}",
        String::from_utf8_lossy(dead.body()),
        dead.dead_letter_attempts().unwrap_or(0),
        dead.last_error().unwrap_or("")
    );
    dead.ack().await?;

    client.delete_queue("examples-rust-worker").await?;
    client.close().await;
    Ok(())
}
