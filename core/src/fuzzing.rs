//! The pure steps that turn user input into SQL text, bound parameters and options, for the fuzz
//! targets in `fuzz/` and the property tests. Not part of the API: hidden, and free to change.

use std::time::Duration;

use crate::error::Result;
use crate::filter::{Filter, SqlParams};
use crate::options::{attributes_from_json, attributes_to_json, micros, Attributes, QueueOptions, ReceiveOptions};

/// The longest duration an option may have (100 years): longer ones are [`crate::Error::InvalidOption`].
pub const MAX_INTERVAL: Duration = crate::options::MAX_INTERVAL;

/// A filter compiled the way a receiver compiles it into its claim statement.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    /// The SQL boolean expression: operators and `$n::type` placeholders only.
    pub sql: String,
    /// The bound parameters, in placeholder order (`$3` first), as `Debug` text.
    pub params: Vec<String>,
}

/// Compiles `filter` as [`crate::Queue::receiver`] does (parameters numbered from `$3`).
pub fn compile_filter(filter: &Filter) -> Result<CompiledFilter> {
    let mut sql = String::new();
    let mut params = SqlParams::starting_at(3);
    filter.write_sql(&mut sql, &mut params)?;
    Ok(CompiledFilter { sql, params: params.values.iter().map(|p| format!("{p:?}")).collect() })
}

/// The JSON text a send binds for these attributes.
pub fn encode_attributes(attributes: &Attributes) -> Result<String> {
    Ok(attributes_to_json(attributes)?.0)
}

/// The attributes a receiver makes of the JSON text PostgreSQL returns. `None` if it is not JSON.
pub fn decode_attributes(json: &str) -> Option<Attributes> {
    serde_json::from_str(json).ok().map(|v| attributes_from_json(&v))
}

/// Parses a DSN as [`crate::Client::connect`] does, without connecting.
pub fn parse_dsn(dsn: &str) -> Result<()> {
    crate::connect::Connector::new(dsn, "pgmq", Duration::from_secs(10)).map(drop)
}

/// The checks [`crate::Client::create_queue`] makes before writing, including the conversion of
/// every duration to the microseconds it stores.
pub fn validate_queue_options(options: &QueueOptions) -> Result<()> {
    options.validate()?;
    micros(options.ack_deadline, "ack deadline")?;
    micros(options.retention_period, "retention period")?;
    if let Some(dlq) = &options.dead_letter_queue {
        micros(dlq.ack_deadline, "ack deadline")?;
        micros(dlq.retention_period, "retention period")?;
    }
    if let Some(b) = &options.backoff {
        micros(b.base, "backoff base")?;
        micros(b.max, "backoff max")?;
    }
    Ok(())
}

/// The checks [`crate::Queue::receiver`] makes, including compiling its filter.
pub fn validate_receive_options(options: &ReceiveOptions) -> Result<()> {
    options.validate()?;
    if let Some(filter) = &options.filter {
        compile_filter(filter)?;
    }
    Ok(())
}

/// Every statement pgmq runs on a pool connection, with the parameter types it declares (for sending
/// it unnamed through a transaction pooler), and the claim for `filter`. A test prepares each on the
/// server and checks the declared types against the ones PostgreSQL infers.
pub fn statements(filter: Option<crate::Filter>) -> Result<Vec<(&'static str, String, Vec<tokio_postgres::types::Type>)>> {
    use crate::{client, completion, group, lease, migrate, notifier, queue, receiver};
    let all = [
        ("notify_in_transaction", client::NOTIFY_IN_TRANSACTION),
        ("create_queue", client::CREATE_QUEUE),
        ("create_dlq", client::CREATE_DLQ),
        ("set_dlq", client::SET_DLQ),
        ("delete_queue", client::DELETE_QUEUE),
        ("delete_queue_by_id", client::DELETE_QUEUE_BY_ID),
        ("delete_messages", client::DELETE_MESSAGES),
        ("delete_outcomes", client::DELETE_OUTCOMES),
        ("list_queues", client::LIST_QUEUES),
        ("list_queues_with_stats", client::LIST_QUEUES_WITH_STATS),
        ("redrive", client::REDRIVE),
        ("queue_id", client::QUEUE_ID),
        ("maintain", client::MAINTAIN),
        ("send", queue::SEND),
        ("stats", queue::STATS),
        ("cancel", queue::CANCEL),
        ("purge", queue::PURGE),
        ("completion", completion::CHECK),
        ("resolve", receiver::RESOLVE),
        ("heartbeat", lease::HEARTBEAT),
        ("extend", lease::EXTEND),
        ("ack", lease::ACK),
        ("ack_with_results", lease::ACK_WITH_RESULTS),
        ("send_grouped", queue::SEND_GROUPED),
        ("send_dependent", queue::SEND_DEPENDENT),
        ("settle_deleted", client::SETTLE_DELETED),
        ("set_max_messages", client::SET_MAX_MESSAGES),
        ("delete_group_members", client::DELETE_GROUP_MEMBERS),
        ("cancel_group", group::CANCEL_GROUP),
        ("group_stats", group::GROUP_STATS),
        ("group_check", group::GROUP_CHECK),
        ("nack", lease::NACK),
        ("notify_on_pool", notifier::NOTIFY_ON_POOL),
        ("inspect_schema", migrate::INSPECT_SCHEMA),
        ("current_version", migrate::CURRENT_VERSION),
        ("record_version", migrate::RECORD_VERSION),
        ("version_table_exists", migrate::VERSION_TABLE_EXISTS),
    ];
    let mut out: Vec<_> = all.into_iter().map(|(n, s)| (n, s.text.into_owned(), s.types.into_owned())).collect();
    let options = match &filter {
        Some(f) => crate::ReceiveOptions::default().filter(f.clone()),
        None => crate::ReceiveOptions::default(),
    };
    let (claim, _) = receiver::claim_statement(&options)?;
    out.push(("claim", claim.text.into_owned(), claim.types.into_owned()));
    for state in crate::MessageState::ALL {
        let mut options = crate::PeekOptions::default().state(state);
        options.filter = filter.clone();
        let (peek, _) = crate::peek::peek_statement(&options)?;
        out.push(("peek", peek.text.into_owned(), peek.types.into_owned()));
    }
    let (peek, _) = crate::peek::peek_statement(&crate::PeekOptions::default())?;
    out.push(("peek", peek.text.into_owned(), peek.types.into_owned()));
    Ok(out)
}
