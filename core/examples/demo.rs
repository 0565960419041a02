//! The seed example in Rust: two idle workers, one message sent; one worker receives it, processes it,
//! acks it, and the sender's completion resolves. Prints `sent`, `received`, `done processing`, `acked`,
//! `completed`.
//!
//! `DATABASE_URL=postgres://... cargo run --example demo` (or `make demo`, which starts a throwaway
//! PostgreSQL when `DATABASE_URL` is unset).

use std::time::Duration;

use pgmq_core::{Client, QueueOptions, ReceiveOptions, SendOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> pgmq_core::Result<()> {
    let dsn = std::env::var("DATABASE_URL").expect("set DATABASE_URL (make demo does)");
    let client = Client::connect(&dsn).await?;
    client.migrate().await?;
    client.create_queue("myq", &QueueOptions::default()).await?;
    let queue = client.queue("myq")?;

    let mut workers = Vec::new();
    for _ in 0..2 {
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            let mut receiver = queue.receiver(ReceiveOptions::default())?;
            let message = receiver.next().await?;
            println!("received");
            tokio::time::sleep(Duration::from_secs(1)).await;
            println!("done processing");
            message.ack().await?;
            println!("acked");
            Ok::<_, pgmq_core::Error>(())
        }));
    }

    let sent = queue.send(br#"{"foo":"bar"}"#.to_vec(), &SendOptions::default()).await?;
    println!("sent");
    sent.wait().await?;
    println!("completed");

    // One worker got the message; the other is still waiting: stop it.
    for worker in workers {
        worker.abort();
    }
    client.close().await;
    Ok(())
}
