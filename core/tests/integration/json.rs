//! JSON bodies: OutgoingMessage::json labels what it sends with the core's content type, and
//! Message::json / PeekedMessage::json read it back, refusing bodies labelled as something else.

use std::time::Duration;

use pgmq_core::{
    Error, OutgoingMessage, PeekOptions, QueueOptions, ReceiveOptions, SendOptions, CONTENT_TYPE_ATTRIBUTE,
    JSON_CONTENT_TYPE,
};
use serde::{Deserialize, Serialize};
use tokio::time::timeout;

use crate::common::*;

const FIVE_S: Duration = Duration::from_secs(5);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    items: Vec<String>,
    note: Option<String>,
}

#[tokio::test]
async fn a_value_sent_as_json_is_labelled_and_reads_back_as_the_same_value() {
    // Arrange
    let client = client().await;
    let name = unique("json");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let order = Order { id: 7, items: vec!["tea".into(), "é ☕".into()], note: None };

    // Act
    queue.send(OutgoingMessage::json(&order).unwrap(), &SendOptions::default()).await.unwrap();
    let peeked = queue.peek(&PeekOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    let message = timeout(FIVE_S, rx.next()).await.unwrap().unwrap();

    // Assert: UTF-8 JSON text, the core's label, the same value through both readers.
    assert_eq!(message.body(), r#"{"id":7,"items":["tea","é ☕"],"note":null}"#.as_bytes());
    assert_eq!(
        message.attributes().get(CONTENT_TYPE_ATTRIBUTE),
        Some(&pgmq_core::AttributeValue::String(JSON_CONTENT_TYPE.to_owned()))
    );
    assert_eq!(message.json::<Order>().unwrap(), order);
    assert_eq!(peeked[0].json::<Order>().unwrap(), order);
    message.ack().await.unwrap();
    client.delete_queue(&name).await.unwrap();
}

#[tokio::test]
async fn json_refuses_a_body_labelled_otherwise_or_not_of_the_type_and_reads_unlabelled_bytes() {
    // Arrange: a text body labelled text/plain, JSON bytes with no label, and a JSON value of another shape.
    let client = client().await;
    let name = unique("json-refused");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let messages = vec![
        OutgoingMessage::new("hello").attribute(CONTENT_TYPE_ATTRIBUTE, "text/plain"),
        OutgoingMessage::new(r#"{"id":1,"items":[],"note":"x"}"#),
        OutgoingMessage::json(&[1, 2, 3]).unwrap(),
    ];
    queue.send_batch(messages, &SendOptions::default()).await.unwrap();

    // Act
    let peeked = queue.peek(&PeekOptions::default()).await.unwrap();

    // Assert
    let labelled = peeked[0].json::<serde_json::Value>().expect_err("text/plain is not JSON");
    assert!(matches!(labelled, Error::InvalidOption(_)), "{labelled:?}");
    assert!(labelled.to_string().contains("text/plain"), "{labelled}");
    let unlabelled: Order = peeked[1].json().expect("unlabelled bytes are read as JSON");
    assert_eq!(unlabelled.note.as_deref(), Some("x"));
    assert!(matches!(peeked[2].json::<Order>(), Err(Error::InvalidOption(_))), "an array is not an Order");
    assert_eq!(peeked[2].json::<Vec<i32>>().unwrap(), [1, 2, 3]);
    client.delete_queue(&name).await.unwrap();
}

#[test]
fn a_value_json_cannot_write_is_an_invalid_option() {
    let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
    assert!(matches!(OutgoingMessage::json(&map), Err(Error::InvalidOption(_))));
}
