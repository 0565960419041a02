//! # pgmq-core
//!
//! A message queue that lives in the PostgreSQL database you already run: leases with fencing tokens and
//! automatic heartbeats, redelivery after failure or crash, dead-letter queues, scheduled messages,
//! cancellation, completion tracking, and batch send/receive — woken by LISTEN/NOTIFY, never by busy
//! polling. This crate is the one implementation behind the Python, Node, Kotlin and Swift bindings.
//!
//! ```no_run
//! use pgmq_core::{Client, QueueOptions, ReceiveOptions, SendOptions};
//!
//! # async fn demo() -> pgmq_core::Result<()> {
//! let client = Client::connect("postgres://postgres@localhost/postgres").await?;
//! client.migrate().await?;
//! client.create_queue("jobs", &QueueOptions::default()).await?;
//! let queue = client.queue("jobs")?;
//!
//! let sent = queue.send(b"hello".to_vec(), &SendOptions::default()).await?;
//! let mut receiver = queue.receiver(ReceiveOptions::default())?;
//! let message = receiver.next().await?;
//! assert_eq!(message.body(), b"hello");
//! message.ack().await?;
//! assert_eq!(sent.wait().await?, pgmq_core::Outcome::Completed);
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//! - **One worker at a time**: a message is leased to one receiver (`FOR UPDATE SKIP LOCKED`); while its
//!   [`Message`] is alive the lease is extended in the background. An ack or nack from a worker whose
//!   lease was lost changes nothing ([`Error::LeaseLost`]).
//! - **Redelivery**: a nack, a dropped [`Message`] or a crashed process (its lease expires) makes the
//!   message available again; after `max_delivery_attempts` deliveries it moves to the dead-letter queue.
//! - **Order**: oldest available first — FIFO by the time a message became available, then send order.
//! - **The table is the truth**: NOTIFY only wakes waiters, who re-read the tables; a lost notification
//!   costs latency, never a message.

// Every statement runs under the connecting role's search_path, which may reach a schema that others can
// create objects in (`public`, "$user"): an operator or function there whose signature matches exactly
// beats pg_catalog's polymorphic or coercing candidate. So SQL here calls functions as pg_catalog.f(...)
// (pgmq's own as pgmq.f), and writes an operator whose operand types pg_catalog has no exact operator for
// as OPERATOR(pg_catalog.op), in parentheses where it meets + or - (that form binds more loosely). Operators
// on types pg_catalog matches exactly (uuid = uuid, jsonb -> text, timestamptz + interval) stay as they are:
// pg_catalog, searched first, wins those. The functions in the schema pin their own search_path
// (migrations/0004), and so does migrate for its transaction. tests/integration/hostile_roles.rs plants
// such overloads and checks that nothing calls them.
mod client;
mod completion;
mod connect;
mod db;
mod defaults;
mod dsn;
mod error;
mod filter;
#[doc(hidden)]
pub mod fuzzing;
mod lease;
mod listener;
pub mod log;
mod message;
mod migrate;
mod group;
mod notifier;
mod options;
pub mod outbox;
mod peek;
pub mod protocol;
mod queue;
mod receiver;
mod tls;

pub use client::Client;
pub use completion::{Completion, Reply, SentMessage};
pub use connect::{
    DEFAULT_KEEPALIVES_COUNT, DEFAULT_KEEPALIVES_IDLE, DEFAULT_KEEPALIVES_INTERVAL, DEFAULT_TCP_USER_TIMEOUT,
};
pub use defaults::{
    truths_json, BackoffDefaults, ClientDefaults, CompletionDefaults, Conventions, DeadLetterDefaults, Defaults,
    Limits, PeekDefaults, QueueDefaults, ReceiveDefaults, RequestDefaults, SendDefaults, DEFAULTS,
};
pub use dsn::{redact_dsn, SslMode};
pub use error::{Error, ErrorCode, Result, ERROR_CODES, SQLSTATES};
pub use filter::{Attribute, Comparison, Filter, MAX_FILTER_DEPTH};
pub use group::GroupStats;
pub use message::{validate_result, Message};
pub use migrate::LATEST_VERSION;
pub use options::{
    dlq_name, validate_new_queue_name, validate_queue_name, AttributeValue, Attributes, Backoff, ClientOptions,
    DeadLetterOptions, ErrorHandler, DEFAULT_SCHEMA, NackOptions, Outcome, OutgoingMessage, QueueInfo, QueueOptions, QueueOverview, QueueStats,
    ReceiveOptions, SendOptions, CONTENT_TYPE_ATTRIBUTE, DLQ_PREFIX, is_json_content_type, JSON_CONTENT_TYPE, MAX_QUEUE_NAME_LEN, MAX_SEND_BYTES, RECONNECT_BACKOFF_MAX,
    RECONNECT_BACKOFF_MIN, validate_schema_name,
};
pub use peek::{MessageState, PeekOptions, PeekedMessage};
pub use queue::Queue;
pub use receiver::{Receiver, SharedReceiver};
pub use uuid::Uuid;

// The documentation's Rust, compiled and run as doctests (against `DATABASE_URL`): one struct per Markdown
// file with ```rust blocks (bindings-python/tests/test_docs_links.py checks this list against the files),
// and one per program in core/examples, so that `make test` runs them too.
/// README.md
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// core/README.md
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct CoreReadmeDoctests;

/// docs/errors.md
#[cfg(doctest)]
#[doc = include_str!("../../docs/errors.md")]
pub struct ErrorsDocDoctests;

/// docs/outbox.md
#[cfg(doctest)]
#[doc = include_str!("../../docs/outbox.md")]
pub struct OutboxDocDoctests;

/// docs/bounded-queues.md
#[cfg(doctest)]
#[doc = include_str!("../../docs/bounded-queues.md")]
pub struct BoundedQueuesDocDoctests;

/// docs/groups.md
#[cfg(doctest)]
#[doc = include_str!("../../docs/groups.md")]
pub struct GroupsDocDoctests;

/// docs/replies.md
#[cfg(doctest)]
#[doc = include_str!("../../docs/replies.md")]
pub struct RepliesDocDoctests;

/// docs/dependencies.md
#[cfg(doctest)]
#[doc = include_str!("../../docs/dependencies.md")]
pub struct DependenciesDocDoctests;

/// core/examples/demo.rs
#[cfg(doctest)]
#[doc = concat!("```rust\n", include_str!("../examples/demo.rs"), "\n```")]
pub struct DemoExample;

/// core/examples/worker.rs
#[cfg(doctest)]
#[doc = concat!("```rust\n", include_str!("../examples/worker.rs"), "\n```")]
pub struct WorkerExample;

/// core/examples/filters.rs
#[cfg(doctest)]
#[doc = concat!("```rust\n", include_str!("../examples/filters.rs"), "\n```")]
pub struct FiltersExample;

/// core/examples/cancel.rs
#[cfg(doctest)]
#[doc = concat!("```rust\n", include_str!("../examples/cancel.rs"), "\n```")]
pub struct CancelExample;

/// core/examples/completion.rs
#[cfg(doctest)]
#[doc = concat!("```rust\n", include_str!("../examples/completion.rs"), "\n```")]
pub struct CompletionExample;
