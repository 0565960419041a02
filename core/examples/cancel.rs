//! Cancellation: guaranteed while a message is queued, best effort once a worker holds it. A queued or
//! scheduled message that is cancelled is removed and never delivered. A message being processed is
//! signalled instead (`Message::cancelled()` returns), its ack does nothing, and it is never redelivered.
//! Either way the outcome is `Cancelled`.
//!
//! `DATABASE_URL=postgres://... cargo run -p pgmq-core --example cancel`
//!
//! Output:
//!   scheduled message: Cancelled
//!   working on a long job
//!   the worker saw the cancel
//!   long job: Cancelled

use std::time::Duration;

use pgmq_core::{Client, Outcome, QueueOptions, ReceiveOptions, SendOptions};

#[tokio::main]
async fn main() -> pgmq_core::Result<()> {
    let dsn = std::env::var("DATABASE_URL").unwrap_or("postgres://postgres@localhost/postgres".into());
    let client = Client::connect(&dsn).await?;
    client.migrate().await?;
    client.create_queue("examples-rust-cancel", &QueueOptions::default()).await?;
    let queue = client.queue("examples-rust-cancel")?;

    // 1. Queued (here: scheduled for tomorrow): removed, never delivered.
    let tomorrow = queue.send("reminder", &SendOptions::default().delay(Duration::from_secs(86_400))).await?;
    queue.cancel(&[tomorrow.id()]).await?;
    println!("scheduled message: {:?}", tomorrow.wait().await?);

    // 2. Being processed: the worker stops its work when the message is cancelled.
    let job = queue.send("a long job", &SendOptions::default()).await?;
    let mut receiver = queue.receiver(ReceiveOptions::default())?;
    let message = receiver.next().await?;
    println!("working on {}", String::from_utf8_lossy(message.body()));
    queue.cancel(&[message.id()]).await?; // here from the same task; usually from another process
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(60)) => println!("the job ran to its end"),
        _ = message.cancelled() => println!("the worker saw the cancel"),
    }
    message.ack().await?; // does nothing: the message is cancelled
    let outcome = job.wait().await?;
    println!("long job: {outcome:?}");
    assert_eq!(outcome, Outcome::Cancelled);

    client.delete_queue("examples-rust-cancel").await?;
    client.close().await;
    Ok(())
}
