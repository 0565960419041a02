//! Attribute filters: every operator, combinations, typed comparison, and parameters that are bound, not
//! pasted into SQL.

use std::collections::BTreeSet;
use std::time::Duration;

use pgmq_core::{
    Attribute, AttributeValue, Client, Error, Filter, OutgoingMessage, QueueOptions, ReceiveOptions,
    SendOptions,
};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(5);
/// How long a receiver whose filter matches nothing is watched.
const QUIET: Duration = Duration::from_millis(300);

/// Messages named by their body, with attributes covering every value type, a missing key and null.
fn fixture() -> Vec<OutgoingMessage> {
    let m = OutgoingMessage::new;
    vec![
        m("a").attribute("n", 3).attribute("s", "apple").attribute("flag", true),
        m("b").attribute("n", 5).attribute("s", "banana").attribute("flag", false),
        m("c").attribute("n", 10).attribute("s", "cherry").attribute("x", AttributeValue::Null),
        m("d").attribute("n", 5.5).attribute("s", "date"),
        m("e").attribute("n", "10").attribute("s", "Apple pie"),
        m("f"),
        m("g").attribute("n", AttributeValue::Null).attribute("s", AttributeValue::Null),
        m("h").attribute("n", -2).attribute("s", "a%b_c"),
        m("i").attribute("n", 5.0).attribute("s", "9"),
    ]
}

/// Sends `messages` to a fresh queue and returns the bodies one receiver with `filter` leases, checking
/// that it leased them in one claim and left every other message alone.
async fn select(client: &Client, filter: Filter, messages: Vec<OutgoingMessage>) -> BTreeSet<String> {
    let name = unique("filter");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let total = messages.len() as u64;
    queue.send_batch(messages, &SendOptions::default()).await.unwrap();
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(100).filter(filter.clone())).unwrap();

    let picked = match tokio::time::timeout(QUIET, rx.next_batch()).await {
        Ok(batch) => batch.unwrap(),
        Err(_) => Vec::new(),
    };

    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.leased, picked.len() as u64, "{filter:?}");
    assert_eq!(stats.ready, total - picked.len() as u64, "{filter:?}: the others stay ready");
    picked.iter().map(|m| String::from_utf8(m.body().to_vec()).unwrap()).collect()
}

fn set(bodies: &[&str]) -> BTreeSet<String> {
    bodies.iter().map(|b| b.to_string()).collect()
}

async fn check(client: &Client, cases: Vec<(Filter, &[&str])>) {
    for (filter, expected) in cases {
        let got = select(client, filter.clone(), fixture()).await;
        assert_eq!(got, set(expected), "{filter:?}");
    }
}

fn attr(key: &str) -> Attribute {
    Attribute::new(key)
}

#[tokio::test]
async fn equality_operators_pick_exactly_the_matching_messages() {
    let client = client().await;
    check(
        &client,
        vec![
            (attr("n").eq(5), &["b", "i"]),
            (attr("n").eq(5.5), &["d"]),
            (attr("n").eq("10"), &["e"]),
            (attr("s").eq("apple"), &["a"]),
            (attr("flag").eq(true), &["a"]),
            (attr("flag").eq(false), &["b"]),
            (attr("n").eq(AttributeValue::Null), &["g"]),
            (attr("missing").eq(1), &[]),
            // ne: the attribute must exist
            (attr("n").ne(5), &["a", "c", "d", "e", "g", "h"]),
            (attr("flag").ne(true), &["b"]),
        ],
    )
    .await;
    client.close().await;
}

#[tokio::test]
async fn ordering_operators_compare_numbers_numerically() {
    let client = client().await;
    check(
        &client,
        vec![
            (attr("n").gt(5), &["c", "d"]),
            (attr("n").ge(5), &["b", "c", "d", "i"]),
            (attr("n").lt(5), &["a", "h"]),
            (attr("n").le(5), &["a", "b", "h", "i"]),
            (attr("n").gt(-3.5), &["a", "b", "c", "d", "h", "i"]),
            (attr("n").lt(0), &["h"]),
            (attr("missing").gt(0), &[]),
        ],
    )
    .await;
    client.close().await;
}

#[tokio::test]
async fn ordering_operators_compare_strings_textually() {
    let client = client().await;
    check(
        &client,
        vec![
            (attr("s").gt("b"), &["b", "c", "d"]),
            (attr("s").ge("banana"), &["b", "c", "d"]),
            (attr("s").lt("b"), &["a", "e", "h", "i"]),
            (attr("s").le("banana"), &["a", "b", "e", "h", "i"]),
            // "10" < "5" as text, and the string "10" is not compared with numbers at all
            (attr("n").lt("5"), &["e"]),
            (attr("s").gt("10"), &["a", "b", "c", "d", "e", "h", "i"]),
        ],
    )
    .await;
    client.close().await;
}

#[tokio::test]
async fn a_string_never_compares_with_a_number() {
    let client = client().await;
    let messages = || {
        vec![
            OutgoingMessage::new("string ten").attribute("v", "10"),
            OutgoingMessage::new("number ten").attribute("v", 10),
            OutgoingMessage::new("number three").attribute("v", 3),
        ]
    };

    assert_eq!(select(&client, attr("v").gt(5), messages()).await, set(&["number ten"]));
    assert_eq!(select(&client, attr("v").lt(5), messages()).await, set(&["number three"]));
    assert_eq!(select(&client, attr("v").gt("5"), messages()).await, set(&[]));
    assert_eq!(select(&client, attr("v").lt("5"), messages()).await, set(&["string ten"]));
    assert_eq!(select(&client, attr("v").eq(10), messages()).await, set(&["number ten"]));
    assert_eq!(select(&client, attr("v").eq("10"), messages()).await, set(&["string ten"]));
    client.close().await;
}

#[tokio::test]
async fn null_operators_pick_exactly_the_matching_messages() {
    let client = client().await;
    check(
        &client,
        vec![
            (attr("n").is_null(), &["g"]),
            (attr("x").is_null(), &["c"]),
            (attr("missing").is_null(), &[]),
            (attr("n").is_not_null(), &["a", "b", "c", "d", "e", "h", "i"]),
            (attr("x").is_not_null(), &[]),
        ],
    )
    .await;
    client.close().await;
}

#[tokio::test]
async fn like_operators_match_string_patterns() {
    let client = client().await;
    check(
        &client,
        vec![
            (attr("s").is_like("app%"), &["a"]),
            (attr("s").is_like("%pp%"), &["a", "e"]),
            (attr("s").is_like("_a%"), &["b", "d"]),
            (attr("s").is_like("a\\%b\\_c"), &["h"]),
            (attr("n").is_like("1%"), &["e"]),
            (attr("s").is_not_like("app%"), &["b", "c", "d", "e", "h", "i"]),
            (attr("s").is_not_like("%"), &[]),
            (attr("missing").is_not_like("x"), &[]),
        ],
    )
    .await;
    client.close().await;
}

#[tokio::test]
async fn existence_operators_pick_exactly_the_matching_messages() {
    let client = client().await;
    check(
        &client,
        vec![
            (attr("x").exists(), &["c"]),
            (attr("flag").exists(), &["a", "b"]),
            (attr("n").exists(), &["a", "b", "c", "d", "e", "g", "h", "i"]),
            (attr("n").does_not_exist(), &["f"]),
            (attr("flag").does_not_exist(), &["c", "d", "e", "f", "g", "h", "i"]),
        ],
    )
    .await;
    client.close().await;
}

#[tokio::test]
async fn and_or_combinations_pick_exactly_the_matching_messages() {
    let client = client().await;
    check(
        &client,
        vec![
            (attr("n").gt(4) & attr("s").is_like("%an%"), &["b"]),
            (attr("n").lt(0) | attr("s").eq("cherry"), &["c", "h"]),
            ((attr("flag").eq(true) | attr("flag").eq(false)) & attr("n").le(3), &["a"]),
            (attr("flag").eq(true) | (attr("flag").eq(false) & attr("n").le(3)), &["a"]),
            (attr("n").does_not_exist() | attr("s").is_null() | attr("x").exists(), &["c", "f", "g"]),
            (attr("n").gt(0) & attr("n").lt(10) & attr("s").ne("date"), &["a", "b", "i"]),
            (attr("n").gt(100) & attr("n").lt(0), &[]),
            (
                attr("n").ge(5).and(attr("s").is_not_like("c%")).or(attr("s").eq("a%b_c")),
                &["b", "d", "h", "i"],
            ),
        ],
    )
    .await;
    client.close().await;
}

/// The original pgmq filter test (`test_receive_filter_attributes`).
#[tokio::test]
async fn like_filter_skips_bad_messages_and_or_adds_the_ones_without_baz() {
    let client = client().await;
    let name = unique("filter-original");
    client.create_queue(&name, &QueueOptions::default()).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let send = |m: OutgoingMessage| {
        let queue = queue.clone();
        async move { queue.send(m, &SendOptions::default()).await.unwrap() }
    };
    send(OutgoingMessage::new("").attribute("foo", "VERY BAD").attribute("baz", AttributeValue::Null)).await;
    send(OutgoingMessage::new("").attribute("baz", 1).attribute("foo", "...")).await;
    let very_bad = send(OutgoingMessage::new("").attribute("foo", "VERY BAD")).await;
    let good_only = attr("foo").is_like("GOOD%");

    let mut rx = queue.receiver(ReceiveOptions::default().filter(good_only.clone())).unwrap();
    assert!(tokio::time::timeout(QUIET, rx.next()).await.is_err(), "no good message yet");
    let good = send(OutgoingMessage::new("").attribute("foo", "GOOD!")).await;
    let msg = tokio::time::timeout(WAIT, rx.next()).await.unwrap().unwrap();
    assert_eq!(msg.id(), good.id());
    assert_eq!(msg.attributes().get("foo"), Some(&AttributeValue::from("GOOD!")));
    msg.ack().await.unwrap();

    let widened = good_only | (attr("baz").does_not_exist() & attr("foo").is_not_null());
    let mut rx = queue.receiver(ReceiveOptions::default().batch_size(10).filter(widened)).unwrap();
    let batch = tokio::time::timeout(WAIT, rx.next_batch()).await.unwrap().unwrap();
    assert_eq!(batch.iter().map(|m| m.id()).collect::<Vec<_>>(), vec![very_bad.id()]);
    assert_eq!(batch[0].attributes().len(), 1);
    assert_eq!(queue.stats().await.unwrap().ready, 2, "the two with baz are left");
    client.close().await;
}

#[tokio::test]
async fn filter_keys_and_values_are_bound_not_injected() {
    let client = client().await;
    let evil_key = "k'); DROP TABLE pgmq.messages; --";
    let evil_value = "v' OR '1'='1'; $$ DELETE FROM pgmq.queues; $$ \" \\";
    let messages = || {
        vec![
            OutgoingMessage::new("evil").attribute(evil_key, evil_value).attribute("ключ 🚀", "значение"),
            OutgoingMessage::new("near").attribute(evil_key, "v").attribute("ключ 🚀", "значение!"),
            OutgoingMessage::new("other").attribute("k", evil_value),
            OutgoingMessage::new("dollar").attribute("$$", "$$;'"),
        ]
    };

    assert_eq!(select(&client, attr(evil_key).eq(evil_value), messages()).await, set(&["evil"]));
    assert_eq!(select(&client, attr(evil_key).exists(), messages()).await, set(&["evil", "near"]));
    assert_eq!(select(&client, attr("ключ 🚀").eq("значение"), messages()).await, set(&["evil"]));
    assert_eq!(select(&client, attr("k").is_like("v' OR%"), messages()).await, set(&["other"]));
    assert_eq!(select(&client, attr("$$").eq("$$;'"), messages()).await, set(&["dollar"]));
    assert_eq!(select(&client, attr(evil_key).gt("v' OR '1'='1'; $$"), messages()).await, set(&["evil"]));
    assert_eq!(select(&client, attr("k' OR true --").exists(), messages()).await, set(&[]));

    let still_there: bool = raw()
        .await
        .query_one(
            "SELECT to_regclass('pgmq.messages') IS NOT NULL AND to_regclass('pgmq.queues') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(still_there);
    client.close().await;
}

#[tokio::test]
async fn nul_in_filter_text_is_rejected_when_the_receiver_is_created() {
    let client = client().await;
    let queue = client.queue(&unique("filter-nul")).unwrap();

    for filter in [
        attr("a\0b").exists(),
        attr("a").eq("x\0y"),
        attr("a").is_like("%\0%"),
        attr("ok").exists() & attr("\0").is_null(),
        attr("ok").exists() | attr("x").gt(AttributeValue::Float(f64::NAN)),
    ] {
        let err = queue.receiver(ReceiveOptions::default().filter(filter.clone())).unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)), "{filter:?}: {err:?}");
        assert_eq!(err.code(), "invalid_option");
    }
    client.close().await;
}
