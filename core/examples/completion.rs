//! Waiting for completion: by the sender, or later by anyone who knows the ids. A tracked send (the
//! default) records each message's outcome durably, so a waiter that starts late, or in another process,
//! still learns it. `track(false)` skips the record (fire and forget); waiting on such a send fails with
//! `Error::NotTracked` (code `not_tracked`).
//!
//! `DATABASE_URL=postgres://... cargo run -p pgmq-core --example completion`
//!
//! Output:
//!   sent 2 messages
//!   processed invoice 1
//!   processed invoice 2
//!   outcomes, read by id: [Completed, Completed]
//!   fire and forget: not_tracked

use pgmq_core::{Client, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions};

#[tokio::main]
async fn main() -> pgmq_core::Result<()> {
    let dsn = std::env::var("DATABASE_URL").unwrap_or("postgres://postgres@localhost/postgres".into());
    let client = Client::connect(&dsn).await?;
    client.migrate().await?;
    client.create_queue("examples-rust-completion", &QueueOptions::default()).await?;
    let queue = client.queue("examples-rust-completion")?;

    let invoices = vec![OutgoingMessage::new("invoice 1"), OutgoingMessage::new("invoice 2")];
    let sent = queue.send_batch(invoices, &SendOptions::default()).await?;
    let ids = sent.ids().to_vec(); // store them, pass them on, wait for them anywhere
    println!("sent {} messages", ids.len());

    let mut receiver = queue.receiver(ReceiveOptions::default())?;
    for _ in &ids {
        let message = receiver.next().await?;
        println!("processed {}", String::from_utf8_lossy(message.body()));
        message.ack().await?;
    }

    // Another client (say, another process) waits for the same ids, after the fact.
    let other = Client::connect(&dsn).await?;
    let outcomes = other.queue("examples-rust-completion")?.wait_for_completion(&ids).await?;
    println!("outcomes, read by id: {:?}", ids.iter().map(|id| outcomes[id]).collect::<Vec<_>>());
    other.close().await;

    let untracked = queue.send("metrics sample", &SendOptions::default().track(false)).await?;
    match untracked.wait().await {
        Err(e) => println!("fire and forget: {}", e.code()),
        Ok(outcome) => panic!("an untracked send has no outcome, got {outcome:?}"),
    }

    client.delete_queue("examples-rust-completion").await?;
    client.close().await;
    Ok(())
}
