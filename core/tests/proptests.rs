//! Property tests against a real PostgreSQL (`DATABASE_URL`, as for the integration tests): every queue
//! name, queue option, attribute, filter and payload is either accepted and round-trips exactly through
//! the database, or rejected with a typed error ([`Error`] and its code) before anything is written,
//! which the row counts of `pgmq.queues`, `pgmq.messages` and `pgmq.outcomes` prove.
//!
//! Inputs mix ordinary values with hostile ones (quotes, semicolons, `$$`, NUL, backslashes, unicode),
//! so these are also the SQL-injection tests: hostile text is either rejected or stored verbatim.
//!
//! Cases per property: 64, or `PROPTEST_CASES`.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use pgmq_core::fuzzing::{compile_filter, MAX_INTERVAL};
use pgmq_core::{
    Attribute, AttributeValue, Attributes, Backoff, Client, ClientOptions, Comparison, DeadLetterOptions, Error,
    Filter, NackOptions, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions, Uuid, MAX_FILTER_DEPTH,
    MAX_SEND_BYTES,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------------
// One runtime, one client, one raw connection for the whole binary

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

fn dsn() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is not set: run through `tests/with-postgres.sh cargo test`")
}

/// A migrated client whose housekeeping never runs during the tests (it would change the counts).
fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        rt().block_on(async {
            let options = ClientOptions::default().maintenance_interval(Duration::from_secs(3600));
            let client = Client::connect_with(&dsn(), options).await.expect("connect");
            client.migrate().await.expect("migrate");
            client
        })
    })
}

fn raw() -> &'static tokio_postgres::Client {
    static RAW: OnceLock<tokio_postgres::Client> = OnceLock::new();
    RAW.get_or_init(|| {
        rt().block_on(async {
            let (client, conn) = tokio_postgres::connect(&dsn(), tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(conn);
            client
        })
    })
}

/// Runs a test body on the runtime, connecting first (outside it: connecting blocks on it).
fn run<F: std::future::Future>(body: F) -> F::Output {
    client();
    raw();
    rt().block_on(body)
}

/// Held by every case that writes, so the row counts it compares are its own.
static WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Rows in pgmq's tables: (queues, messages, outcomes).
async fn counts() -> (i64, i64, i64) {
    let row = raw()
        .query_one(
            "SELECT (SELECT count(*) FROM pgmq.queues), (SELECT count(*) FROM pgmq.messages),
                    (SELECT count(*) FROM pgmq.outcomes)",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64);
    // No regression files in the source tree: a failure prints its minimal input.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn code(e: &Error) -> &'static str {
    e.code()
}

// ---------------------------------------------------------------------------------------------------
// Strategies

/// Text that would break out of a quoted literal, end a statement or open a comment if it were ever
/// pasted into SQL, plus unicode that tends to get mangled.
const HOSTILE: &[&str] = &[
    "x'); DROP TABLE pgmq.messages; --",
    "'",
    "\"",
    ";",
    "$$",
    "$1",
    "$q$ SELECT 1 $q$",
    "--",
    "/*",
    "\\",
    "\\\\",
    "%",
    "_",
    "\n\r\t",
    "é ü 中文 🎉",
    "\u{202e}\u{fffd}\u{feff}\u{2028}",
    "a\0b",
    "\0",
    "",
];

fn hostile() -> impl Strategy<Value = String> {
    prop::sample::select(HOSTILE).prop_map(str::to_owned)
}

/// Any text: short ordinary words, hostile snippets (also embedded in words), arbitrary unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        hostile(),
        ("[a-z]{0,4}", hostile(), "[a-z]{0,4}").prop_map(|(a, h, b)| format!("{a}{h}{b}")),
        any::<String>(),
    ]
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// Queue names: valid ones, every kind of invalid one.
fn queue_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9_-]{1,48}",
        1 => "[a-zA-Z0-9_-]{49,60}",
        1 => "[a-zA-Z0-9_-]{1,40}".prop_map(|n| format!("dlq@{n}")),
        2 => text(),
        1 => ("[a-z]{1,10}", hostile()).prop_map(|(n, h)| format!("{n}{h}")),
    ]
}

/// The name rule, written out independently of the core: `^[a-zA-Z0-9_-]{1,48}$`.
fn plain_name_is_valid(name: &str) -> bool {
    (1..=48).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Durations around every limit: the 1 s minimum, 0, the 100-year maximum, and absurd ones.
fn duration() -> impl Strategy<Value = Duration> {
    let max = MAX_INTERVAL.as_secs();
    prop_oneof![
        (0u64..=3, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..=max + 1, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        Just(Duration::ZERO),
        Just(Duration::from_secs(1)),
        Just(MAX_INTERVAL),
        Just(MAX_INTERVAL + Duration::from_nanos(1)),
        any::<u64>().prop_map(Duration::from_secs),
    ]
}

fn attempts() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=20, any::<u32>(), Just(i32::MAX as u32), Just(i32::MAX as u32 + 1), Just(u32::MAX)]
}

fn factor() -> impl Strategy<Value = f64> {
    prop_oneof![1.0..10.0f64, any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(0.999), Just(1.0)]
}

fn queue_options() -> impl Strategy<Value = QueueOptions> {
    let dlq = prop::option::of((duration(), attempts(), duration()));
    let backoff = prop::option::of((duration(), factor(), duration(), any::<bool>()));
    (duration(), attempts(), duration(), dlq, backoff).prop_map(|(ack, n, retention, dlq, backoff)| {
        QueueOptions::default()
            .ack_deadline(ack)
            .max_delivery_attempts(n)
            .retention_period(retention)
            .dead_letter_queue(dlq.map(|(ack_deadline, max_delivery_attempts, retention_period)| DeadLetterOptions {
                ack_deadline,
                max_delivery_attempts,
                retention_period,
            }))
            .backoff(backoff.map(|(base, factor, max, jitter)| Backoff { base, factor, max, jitter }))
    })
}

/// The documented option rules, written out independently of the core.
fn options_are_valid(o: &QueueOptions) -> bool {
    let lease = |ack: Duration, n: u32, retention: Duration| {
        ack >= Duration::from_secs(1)
            && ack <= MAX_INTERVAL
            && (1..=i32::MAX as u32).contains(&n)
            && !retention.is_zero()
            && retention <= MAX_INTERVAL
    };
    lease(o.ack_deadline, o.max_delivery_attempts, o.retention_period)
        && o.dead_letter_queue
            .as_ref()
            .is_none_or(|d| lease(d.ack_deadline, d.max_delivery_attempts, d.retention_period))
        && o.backoff
            .as_ref()
            .is_none_or(|b| b.factor.is_finite() && b.factor >= 1.0 && b.base <= b.max && b.max <= MAX_INTERVAL)
}

/// Durations are stored to the microsecond.
fn to_micros(d: Duration) -> Duration {
    Duration::from_micros(d.as_micros() as u64)
}

/// Floats that are hard to store exactly: integral ones beyond 2^53 (which PostgreSQL's numeric would
/// keep as the shortest decimal, a different number), the extremes, negative zero.
fn tricky_float() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![
        4.611686018427388e18,
        2f64.powi(62),
        1e16,
        -1e16 - 2.0,
        9.223372036854776e18,
        1.8446744073709552e19,
        1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        0.1,
        1.0 / 3.0,
        -0.0,
        0.0,
        3.0,
    ])
}

fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        Just(AttributeValue::Null),
        any::<bool>().prop_map(AttributeValue::Bool),
        any::<i64>().prop_map(AttributeValue::Int),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0)].prop_map(AttributeValue::Int),
        any::<f64>().prop_map(AttributeValue::Float),
        tricky_float().prop_map(AttributeValue::Float),
        text().prop_map(AttributeValue::String),
    ]
}

fn attributes() -> impl Strategy<Value = Attributes> {
    btree_map(text(), attribute_value(), 0..6)
}

fn value_is_valid(v: &AttributeValue) -> bool {
    match v {
        AttributeValue::Float(f) => f.is_finite(),
        AttributeValue::String(s) => !has_nul(s),
        _ => true,
    }
}

fn attributes_are_valid(a: &Attributes) -> bool {
    a.iter().all(|(k, v)| !has_nul(k) && value_is_valid(v))
}

/// Bodies of every size class: empty, small random, up to 4 MiB (cheap to make: a seeded xorshift).
fn body() -> impl Strategy<Value = Vec<u8>> {
    let big = (0usize..=4 << 20, any::<u64>()).prop_map(|(n, seed)| {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    });
    prop_oneof![3 => vec(any::<u8>(), 0..256), 1 => vec(any::<u8>(), 0..=65_536), 1 => big]
}

// ---------------------------------------------------------------------------------------------------
// Queue names

async fn queue_name_round_trips_or_is_rejected(name: String) -> Result<(), TestCaseError> {
    let client = client();
    let _writes = WRITES.lock().await;
    let before = counts().await;

    let created = client.create_queue(&name, &QueueOptions::default()).await;

    if plain_name_is_valid(&name) {
        prop_assert_eq!(created.as_ref().ok(), Some(&true), "{:?}: {:?}", name, created);
        let stored: Vec<String> = raw()
            .query("SELECT name FROM pgmq.queues WHERE name IN ($1, 'dlq@' || $1) ORDER BY name", &[&name])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut expected = vec![name.clone(), format!("dlq@{name}")];
        expected.sort();
        prop_assert_eq!(stored, expected);
        let listed = client.list_queues().await.unwrap();
        let dlq = Some(format!("dlq@{name}"));
        prop_assert!(listed.iter().any(|q| q.name == name && q.dead_letter_queue == dlq), "{:?} not listed", name);
        prop_assert_eq!(client.queue(&name).unwrap().stats().await.unwrap().messages, 0);
        prop_assert_eq!(client.delete_queue(&name).await.ok(), Some(true));
    } else {
        let err = created.expect_err("an invalid name was accepted");
        prop_assert!(matches!(err, Error::InvalidQueueName { .. }), "{:?}: {:?}", name, err);
        prop_assert_eq!(code(&err), "invalid_queue_name");
        // `dlq@<valid>` opens the dead-letter queue; anything else invalid is rejected by every call.
        let opens = name.strip_prefix("dlq@").is_some_and(plain_name_is_valid);
        prop_assert_eq!(client.queue(&name).is_ok(), opens, "{:?}", name);
        if !opens {
            prop_assert_eq!(client.delete_queue(&name).await.map_err(|e| e.code()), Err("invalid_queue_name"));
        }
    }
    prop_assert_eq!(counts().await, before, "{:?} left rows behind", name);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn queue_names_are_created_verbatim_or_rejected_before_any_write(name in queue_name()) {
        run(queue_name_round_trips_or_is_rejected(name))?;
    }
}

// ---------------------------------------------------------------------------------------------------
// Queue options

async fn queue_options_round_trip_or_are_rejected(options: QueueOptions) -> Result<(), TestCaseError> {
    let client = client();
    let name = unique("pt-opt");
    let _writes = WRITES.lock().await;
    let before = counts().await;

    let created = client.create_queue(&name, &options).await;

    if options_are_valid(&options) {
        prop_assert_eq!(created.as_ref().ok(), Some(&true), "{:?}: {:?}", options, created);
        let listed = client.list_queues().await.unwrap();
        let info = listed.iter().find(|q| q.name == name).expect("listed");
        prop_assert_eq!(info.ack_deadline, to_micros(options.ack_deadline));
        prop_assert_eq!(info.max_delivery_attempts, options.max_delivery_attempts);
        prop_assert_eq!(info.retention_period, to_micros(options.retention_period));
        let dlq_name = format!("dlq@{name}");
        match &options.dead_letter_queue {
            Some(dlq) => {
                prop_assert_eq!(&info.dead_letter_queue, &Some(dlq_name.clone()));
                let d = listed.iter().find(|q| q.name == dlq_name).expect("DLQ listed");
                prop_assert_eq!(d.ack_deadline, to_micros(dlq.ack_deadline));
                prop_assert_eq!(d.max_delivery_attempts, dlq.max_delivery_attempts);
                prop_assert_eq!(d.retention_period, to_micros(dlq.retention_period));
                prop_assert_eq!(&d.dead_letter_queue, &None);
            }
            None => {
                prop_assert_eq!(&info.dead_letter_queue, &None);
                prop_assert!(!listed.iter().any(|q| q.name == dlq_name));
            }
        }
        let row = raw()
            .query_one(
                "SELECT (extract(epoch FROM backoff_base) * 1e6)::bigint, backoff_factor,
                        (extract(epoch FROM backoff_max) * 1e6)::bigint, backoff_jitter
                 FROM pgmq.queues WHERE name = $1",
                &[&name],
            )
            .await
            .unwrap();
        let stored: (Option<i64>, Option<f64>, Option<i64>, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
        let expected = match &options.backoff {
            Some(b) => (Some(b.base.as_micros() as i64), Some(b.factor), Some(b.max.as_micros() as i64), b.jitter),
            None => (None, None, None, false),
        };
        prop_assert_eq!(stored, expected);
        prop_assert_eq!(client.delete_queue(&name).await.ok(), Some(true));
    } else {
        let err = created.expect_err("invalid options were accepted");
        prop_assert!(matches!(err, Error::InvalidOption(_)), "{:?}: {:?}", options, err);
        prop_assert_eq!(code(&err), "invalid_option");
    }
    prop_assert_eq!(counts().await, before, "{:?} left rows behind", options);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn queue_options_round_trip_to_the_microsecond_or_are_rejected_before_any_write(options in queue_options()) {
        run(queue_options_round_trip_or_are_rejected(options))?;
    }
}

// ---------------------------------------------------------------------------------------------------
// Bodies and attributes

/// A queue of this test binary, created once per name (call it before taking [`WRITES`]).
async fn shared_queue(name: &'static str) -> pgmq_core::Queue {
    static CREATED: tokio::sync::Mutex<BTreeSet<&'static str>> = tokio::sync::Mutex::const_new(BTreeSet::new());
    let mut created = CREATED.lock().await;
    let full = format!("pt-{name}-{}", std::process::id());
    if created.insert(name) {
        let _writes = WRITES.lock().await;
        client().create_queue(&full, &QueueOptions::default()).await.unwrap();
    }
    client().queue(&full).unwrap()
}

async fn receive_one(queue: &pgmq_core::Queue) -> pgmq_core::Message {
    let mut rx = queue.receiver(ReceiveOptions::default()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), rx.next()).await.expect("a message within 10 s").unwrap()
}

async fn message_round_trips_or_is_rejected(body: Vec<u8>, attributes: Attributes) -> Result<(), TestCaseError> {
    let queue = shared_queue("messages").await;
    let _writes = WRITES.lock().await;
    let before = counts().await;

    let message = OutgoingMessage { body: body.clone(), attributes: attributes.clone(), after: Vec::new() };
    let sent = queue.send(message, &SendOptions::default().track(false)).await;

    if attributes_are_valid(&attributes) {
        let sent = sent.map_err(|e| TestCaseError::fail(format!("{attributes:?}: {e}")))?;
        let received = receive_one(&queue).await;
        received.ack().await.unwrap(); // first: a failing case leaves nothing for the next one
        prop_assert_eq!(received.id(), sent.id());
        prop_assert!(received.body() == body.as_slice(), "body of {} bytes changed", body.len());
        // Equal as values and as types (an integral float stays a float, an int an int); -0.0 == 0.0.
        prop_assert_eq!(received.attributes(), &attributes);
    } else {
        let err = sent.expect_err("invalid attributes were accepted");
        prop_assert!(matches!(err, Error::InvalidOption(_)), "{:?}: {:?}", attributes, err);
    }
    prop_assert_eq!(counts().await, before);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bodies_and_attributes_round_trip_exactly_or_are_rejected_before_any_write(
        body in body(),
        attributes in attributes(),
    ) {
        run(message_round_trips_or_is_rejected(body, attributes))?;
    }

    #[test]
    fn nack_error_text_is_kept_verbatim_but_for_nul(error in text()) {
        run(async {
            let queue = shared_queue("nack").await;
            let _writes = WRITES.lock().await;
            queue.send(b"x".to_vec(), &SendOptions::default().track(false)).await.unwrap();
            let first = receive_one(&queue).await;
            first.nack(NackOptions { delay: None, error: Some(error.clone()) }).await.unwrap();
            let again = receive_one(&queue).await;
            again.ack().await.unwrap();
            let expected = error.replace('\0', "\u{fffd}");
            prop_assert_eq!(again.last_error(), Some(expected.as_str()));
            Ok(())
        })?;
    }
}

// ---------------------------------------------------------------------------------------------------
// Filters: compiled with hostile text, run by PostgreSQL, checked against a model of their meaning

const KEYS: &[&str] = &["a", "b", "x'); DROP TABLE pgmq.messages; --", "$$", "é", "", "a\0"];
const STRINGS: &[&str] = &["", "a", "abc", "a_c", "a%c", "ABC", "r%", "x'; --", "$$", "\\", "\\\\", "é", "中", "a\0"];
const PATTERNS: &[&str] =
    &["%", "a%", "%c", "a_c", "_", "", "abc", "a\\%c", "\\\\", "\\", "a\\", "%$$%", "x'%", "é%", "a\0%"];

fn small_value() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        Just(AttributeValue::Null),
        any::<bool>().prop_map(AttributeValue::Bool),
        (-3i64..=3).prop_map(AttributeValue::Int),
        (-6i32..=6).prop_map(|n| AttributeValue::Float(f64::from(n) / 2.0)),
        tricky_float().prop_map(AttributeValue::Float),
        Just(AttributeValue::Float(f64::NAN)),
        Just(AttributeValue::Int(4_611_686_018_427_387_904)),
        prop::sample::select(STRINGS).prop_map(AttributeValue::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_owned)
}

fn filter() -> impl Strategy<Value = Filter> {
    let op = prop::sample::select(vec![
        Comparison::Eq,
        Comparison::Ne,
        Comparison::Lt,
        Comparison::Gt,
        Comparison::Le,
        Comparison::Ge,
    ]);
    let pattern = prop::sample::select(PATTERNS).prop_map(str::to_owned);
    let leaf = prop_oneof![
        4 => (key(), op, small_value()).prop_map(|(key, op, value)| Filter::Compare { key, op, value }),
        1 => key().prop_map(Filter::IsNull),
        1 => key().prop_map(Filter::IsNotNull),
        2 => (key(), pattern, any::<bool>()).prop_map(|(key, pattern, negated)| Filter::Like { key, pattern, negated }),
        1 => key().prop_map(Filter::Exists),
        1 => key().prop_map(Filter::DoesNotExist),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a & b),
            (inner.clone(), inner).prop_map(|(a, b)| a | b),
        ]
    })
}

/// Whether the filter is documented to be rejected: NUL in its text, a non-finite number, a LIKE
/// pattern ending in a lone backslash.
fn filter_is_valid(f: &Filter) -> bool {
    match f {
        Filter::Compare { key, value, .. } => !has_nul(key) && value_is_valid(value),
        Filter::IsNull(k) | Filter::IsNotNull(k) | Filter::Exists(k) | Filter::DoesNotExist(k) => !has_nul(k),
        Filter::Like { key, pattern, .. } => {
            !has_nul(key) && !has_nul(pattern) && pattern.chars().rev().take_while(|&c| c == '\\').count() % 2 == 0
        }
        Filter::And(a, b) | Filter::Or(a, b) => filter_is_valid(a) && filter_is_valid(b),
    }
}

/// How jsonb compares two scalars of one JSON type (numbers as the real numbers they are; strings
/// byte-wise, as the test cluster's C collation does); `None` across types.
fn json_cmp(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    use AttributeValue::*;
    fn int_float(i: i64, f: f64) -> Ordering {
        if f >= 9.3e18 {
            return Ordering::Less;
        }
        if f < -9.3e18 {
            return Ordering::Greater;
        }
        let t = f.trunc();
        match i128::from(i).cmp(&(t as i128)) {
            Ordering::Equal => 0.0f64.partial_cmp(&(f - t)).unwrap(),
            o => o,
        }
    }
    Some(match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => x.partial_cmp(y)?,
        (Int(x), Float(y)) => int_float(*x, *y),
        (Float(x), Int(y)) => int_float(*y, *x).reverse(),
        (String(x), String(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => return None,
    })
}

/// SQL `LIKE` with `\` as the escape character, on characters.
fn like(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| like(&text[i..], rest)),
        Some(('_', rest)) => !text.is_empty() && like(&text[1..], rest),
        Some(('\\', rest)) if !rest.is_empty() => text.first() == Some(&rest[0]) && like(&text[1..], &rest[1..]),
        Some((c, rest)) => text.first() == Some(c) && like(&text[1..], rest),
    }
}

/// What the filter means, written out independently of its SQL.
fn matches(f: &Filter, attrs: &Attributes) -> bool {
    match f {
        Filter::Compare { key, op, value } => {
            let Some(a) = attrs.get(key) else { return false };
            let Some(o) = json_cmp(a, value) else { return *op == Comparison::Ne };
            match op {
                Comparison::Eq => o == Ordering::Equal,
                Comparison::Ne => o != Ordering::Equal,
                Comparison::Lt => o == Ordering::Less,
                Comparison::Gt => o == Ordering::Greater,
                Comparison::Le => o != Ordering::Greater,
                Comparison::Ge => o != Ordering::Less,
            }
        }
        Filter::IsNull(k) => attrs.get(k) == Some(&AttributeValue::Null),
        Filter::IsNotNull(k) => attrs.get(k).is_some_and(|v| *v != AttributeValue::Null),
        Filter::Like { key, pattern, negated } => match attrs.get(key) {
            Some(AttributeValue::String(s)) => {
                like(&s.chars().collect::<Vec<_>>(), &pattern.chars().collect::<Vec<_>>()) != *negated
            }
            _ => false,
        },
        Filter::Exists(k) => attrs.contains_key(k),
        Filter::DoesNotExist(k) => !attrs.contains_key(k),
        Filter::And(a, b) => matches(a, attrs) && matches(b, attrs),
        Filter::Or(a, b) => matches(a, attrs) || matches(b, attrs),
    }
}

fn filter_attributes() -> impl Strategy<Value = Attributes> {
    let valid_key = key().prop_filter("no NUL", |k| !has_nul(k));
    let valid_value = small_value().prop_filter("storable", value_is_valid);
    btree_map(valid_key, valid_value, 0..4)
}

const SENTINEL: &str = "pt sentinel";

async fn filter_selects_what_the_model_says(filter: Filter, messages: Vec<Attributes>) -> Result<(), TestCaseError> {
    let client = client();
    let name = unique("pt-filter");
    let _writes = WRITES.lock().await;
    client.create_queue(&name, &QueueOptions::default().dead_letter_queue(None)).await.unwrap();
    let queue = client.queue(&name).unwrap();
    let mut batch: Vec<OutgoingMessage> =
        messages.iter().map(|a| OutgoingMessage { body: Vec::new(), attributes: a.clone(), after: Vec::new() }).collect();
    // Always one match, so the receiver returns at once: a message only the sentinel branch selects.
    batch.push(OutgoingMessage::new(Vec::new()).attribute(SENTINEL, true));
    let ids = queue.send_batch(batch, &SendOptions::default().track(false)).await.unwrap().ids().to_vec();

    let options =
        ReceiveOptions::default().batch_size(ids.len()).filter(filter.clone() | Attribute::new(SENTINEL).exists());
    let receiver = queue.receiver(options);

    let result = if filter_is_valid(&filter) {
        let mut receiver = receiver.map_err(|e| TestCaseError::fail(format!("{filter:?}: {e}")))?;
        let mut expected: BTreeSet<Uuid> =
            messages.iter().zip(&ids).filter(|(a, _)| matches(&filter, a)).map(|(_, id)| *id).collect();
        expected.insert(*ids.last().unwrap());
        let mut got = BTreeSet::new();
        let mut held = Vec::new();
        for _ in 0..expected.len() {
            let m = tokio::time::timeout(Duration::from_secs(10), receiver.next())
                .await
                .map_err(|_| TestCaseError::fail(format!("{filter:?}: fewer matches than the model's {expected:?}")))?
                .map_err(|e| TestCaseError::fail(format!("{filter:?}: {e}")))?;
            got.insert(m.id());
            held.push(m);
        }
        // One claim leased every match (batch_size covers them all): no more than the model's.
        let leased = queue.stats().await.unwrap().leased as usize;
        let check = if got != expected || leased != expected.len() {
            Err(TestCaseError::fail(format!(
                "{filter:?} over {messages:?}: selected {got:?} ({leased} leased), the model says {expected:?}"
            )))
        } else {
            Ok(())
        };
        drop(held);
        check
    } else {
        match receiver {
            Err(e) if e.code() == "invalid_option" => Ok(()),
            Err(e) => Err(TestCaseError::fail(format!("{filter:?}: {e:?}, expected invalid_option"))),
            Ok(_) => Err(TestCaseError::fail(format!("{filter:?} was accepted"))),
        }
    };
    client.delete_queue(&name).await.unwrap();
    result
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn filters_select_exactly_what_they_mean_or_are_rejected(
        filter in filter(),
        messages in vec(filter_attributes(), 0..6),
    ) {
        run(filter_selects_what_the_model_says(filter, messages))?;
    }

    /// Without a database: whatever the text, the SQL of a filter is the SQL of its shape.
    #[test]
    fn filter_sql_depends_only_on_the_shape_never_on_the_text(filter in filter()) {
        fn shape(f: &Filter) -> Filter {
            match f {
                Filter::Compare { op, .. } => Filter::Compare { key: "k".into(), op: *op, value: AttributeValue::Null },
                Filter::IsNull(_) => Filter::IsNull("k".into()),
                Filter::IsNotNull(_) => Filter::IsNotNull("k".into()),
                Filter::Like { negated, .. } => Filter::Like { key: "k".into(), pattern: "p".into(), negated: *negated },
                Filter::Exists(_) => Filter::Exists("k".into()),
                Filter::DoesNotExist(_) => Filter::DoesNotExist("k".into()),
                Filter::And(a, b) => shape(a) & shape(b),
                Filter::Or(a, b) => shape(a) | shape(b),
            }
        }
        match compile_filter(&filter) {
            Ok(compiled) => {
                let skeleton = compile_filter(&shape(&filter)).unwrap();
                prop_assert_eq!(&compiled.sql, &skeleton.sql);
                prop_assert_eq!(compiled.params.len(), skeleton.params.len());
            }
            Err(e) => {
                prop_assert!(!filter_is_valid(&filter), "{:?}: {}", filter, e);
                prop_assert_eq!(e.code(), "invalid_option");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Limits, one example each

#[test]
fn a_send_over_max_send_bytes_is_rejected_before_any_write() {
    run(async {
        let queue = shared_queue("limits").await;
        let _writes = WRITES.lock().await;
        let before = counts().await;
        // Zeroed memory from the allocator: not touched, so not resident.
        let huge = vec![0u8; MAX_SEND_BYTES + 1];
        let err = queue.send(huge, &SendOptions::default()).await.unwrap_err();
        assert_eq!(err.code(), "invalid_option", "{err}");
        let halves = vec![
            OutgoingMessage::new(vec![0u8; MAX_SEND_BYTES / 2]),
            OutgoingMessage::new(vec![0u8; MAX_SEND_BYTES / 2 + 1]),
        ];
        let err = queue.send_batch(halves, &SendOptions::default()).await.unwrap_err();
        assert_eq!(err.code(), "invalid_option", "{err}");
        assert_eq!(counts().await, before);
    });
}

#[test]
fn a_16_mib_body_round_trips() {
    run(async {
        let queue = shared_queue("big").await;
        let _writes = WRITES.lock().await;
        let body: Vec<u8> = (0..16u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        queue.send(body.clone(), &SendOptions::default().track(false)).await.unwrap();
        let received = receive_one(&queue).await;
        assert!(received.body() == body.as_slice());
        received.ack().await.unwrap();
    });
}

#[test]
fn the_deepest_filter_allowed_runs_in_postgresql() {
    run(async {
        let queue = shared_queue("deep").await;
        let _writes = WRITES.lock().await;
        queue.send(OutgoingMessage::new(b"deep".to_vec()).attribute("a", 1), &SendOptions::default()).await.unwrap();
        let chain = (1..MAX_FILTER_DEPTH).fold(Attribute::new("a").eq(1), |f, _| f & Attribute::new("a").exists());
        let mut rx = queue.receiver(ReceiveOptions::default().filter(chain.clone())).unwrap();
        let m = tokio::time::timeout(Duration::from_secs(10), rx.next()).await.expect("received").unwrap();
        assert_eq!(m.body(), b"deep");
        m.ack().await.unwrap();
        let err = queue.receiver(ReceiveOptions::default().filter(chain & Attribute::new("a").exists())).unwrap_err();
        assert_eq!(err.code(), "invalid_option");
    });
}
