//! Attributes, filters and scheduled messages. Attributes are flat JSON scalars sent with a message; a
//! receiver with a filter is only given the messages whose attributes match. A message sent with a
//! `delay` (or a `schedule_at`) waits in the table and is never delivered early.
//!
//! `DATABASE_URL=postgres://... cargo run -p pgmq-core --example filters`
//!
//! Output:
//!   urgent: page the on-call engineer
//!   left: 3 messages, 2 ready, 1 scheduled
//!   cancelled 3

use std::time::Duration;

use pgmq_core::{Attribute, Client, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions};

#[tokio::main]
async fn main() -> pgmq_core::Result<()> {
    let dsn = std::env::var("DATABASE_URL").unwrap_or("postgres://postgres@localhost/postgres".into());
    let client = Client::connect(&dsn).await?;
    client.migrate().await?;
    client.create_queue("examples-rust-filters", &QueueOptions::default()).await?;
    let queue = client.queue("examples-rust-filters")?;

    let messages = vec![
        OutgoingMessage::new("disk at 81%").attribute("kind", "alert").attribute("priority", 3),
        OutgoingMessage::new("page the on-call engineer").attribute("kind", "alert").attribute("priority", 9),
        OutgoingMessage::new("weekly report").attribute("kind", "report"),
    ];
    let sent = queue.send_batch(messages, &SendOptions::default()).await?;
    let later = queue.send("monthly report", &SendOptions::default().delay(Duration::from_secs(3600))).await?;

    // Only alerts of priority 5 or more; combine conditions with & and | (or .and() and .or()).
    let urgent = Attribute::new("kind").eq("alert") & Attribute::new("priority").ge(5);
    let mut receiver = queue.receiver(ReceiveOptions::default().filter(urgent))?;
    let message = receiver.next().await?;
    println!("urgent: {}", String::from_utf8_lossy(message.body()));
    message.ack().await?;

    let stats = queue.stats().await?;
    println!("left: {} messages, {} ready, {} scheduled", stats.messages, stats.ready, stats.scheduled);
    let mut ids = sent.ids().to_vec();
    ids.push(later.id());
    let cancelled = queue.cancel(&ids).await?; // the acked one is no longer there
    println!("cancelled {}", cancelled.len());
    assert_eq!(cancelled.len(), 3);

    client.delete_queue("examples-rust-filters").await?;
    client.close().await;
    Ok(())
}
