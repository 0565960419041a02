use std::time::Duration;

use pgmq_core::{NackOptions, Outcome, QueueOptions, ReceiveOptions, SendOptions};

use crate::common::*;

#[tokio::test]
async fn send_receive_ack_and_complete() {
    let client = client().await;
    let name = unique("smoke");
    assert!(client.create_queue(&name, &QueueOptions::default()).await.unwrap());
    assert!(!client.create_queue(&name, &QueueOptions::default()).await.unwrap());
    let queue = client.queue(&name).unwrap();
    let sent = queue.send(b"hello".to_vec(), &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let msg = rx.next().await.unwrap();
    assert_eq!(msg.body(), b"hello");
    assert_eq!(msg.delivery_attempt(), 1);
    assert_eq!(queue.stats().await.unwrap().leased, 1);
    msg.ack().await.unwrap();
    assert_eq!(sent.wait().await.unwrap(), Outcome::Completed);
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.messages, 0);

    let sent = queue.send(b"again".to_vec(), &SendOptions::default()).await.unwrap();
    let msg = rx.next().await.unwrap();
    msg.nack(NackOptions::default()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.unwrap().unwrap();
    assert_eq!(msg.delivery_attempt(), 2);
    drop(msg);
    let msg = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.unwrap().unwrap();
    assert_eq!(msg.delivery_attempt(), 3);
    assert_eq!(queue.cancel(&[sent.id()]).await.unwrap(), vec![sent.id()]);
    tokio::time::timeout(Duration::from_secs(1), msg.cancelled()).await.unwrap();
    msg.ack().await.unwrap();
    assert_eq!(sent.wait().await.unwrap(), Outcome::Cancelled);
    assert!(client.delete_queue(&name).await.unwrap());
    client.close().await;
}
