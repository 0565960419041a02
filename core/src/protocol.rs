//! The NOTIFY protocol: the channel names and payloads that pgmq's Rust code and its SQL functions
//! agree on (docs/protocol.md describes it whole; a database test checks both sides agree).
//!
//! Notifications are hints, never the truth: every waiter re-reads the tables after one, after a
//! reconnect and on a slow timer, so a lost or forged notification costs latency, never a message. Any
//! role may NOTIFY any channel; nothing here trusts a payload beyond "look now at these".
//!
//! Channels are named from queue ids, never names, so every valid queue name keeps its channel far below
//! PostgreSQL's 63-byte identifier limit:
//!
//! | channel | sent when | payload |
//! |---|---|---|
//! | `pgmq_q_<id>` | messages became ready: send, nack, release, redrive, a DLQ receiving a message, delete_queue | empty |
//! | `pgmq_c_<id>` | tracked messages finished (an outcome was recorded) | [`encode_ids`] of them |
//! | `pgmq_x_<id>` | held messages were cancelled (their holders must be signalled) | [`encode_ids`] of them |
//! | `pgmq_r_<id>` | a bounded queue has room again: workers acked or nacked messages of it | empty |
//! | `pgmq_queues` | a queue was created or deleted | the queue's name |
//!
//! The SQL side builds the same names (`'pgmq_c_' || queue_id`) and payloads (`pgmq._id_payload`).

use uuid::Uuid;

/// Messages of queue `<id>` became ready; the payload is empty. Receivers of the queue listen here.
pub const READY_CHANNEL_PREFIX: &str = "pgmq_q_";
/// Tracked messages of queue `<id>` finished; the payload lists them ([`encode_ids`]). Completion
/// waiters listen here.
pub const COMPLETED_CHANNEL_PREFIX: &str = "pgmq_c_";
/// Held messages of queue `<id>` were cancelled; the payload lists them ([`encode_ids`]). The clients
/// holding leases on the queue listen here.
pub const CANCELLED_CHANNEL_PREFIX: &str = "pgmq_x_";
/// Bounded queue `<id>` may have room again (workers finished messages); the payload is empty. Senders
/// waiting for room listen here.
pub const ROOM_CHANNEL_PREFIX: &str = "pgmq_r_";
/// A queue was created or deleted; the payload is its name. Receivers waiting for a queue that does not
/// exist yet listen here.
pub const QUEUES_CHANNEL: &str = "pgmq_queues";
/// A client's start-up check that notifications reach its LISTEN connection (`pgmq_probe_<uuid>`).
pub const PROBE_CHANNEL_PREFIX: &str = "pgmq_probe_";

/// The most ids one payload lists; more are sent as [`EVERYTHING`], keeping a payload (37 bytes per
/// id) far below PostgreSQL's 8000-byte limit.
pub const NOTIFY_MAX_IDS: usize = 200;
/// The payload that stands for "too many to list: re-check every message you wait for".
pub const EVERYTHING: &str = "*";

/// The channel announcing that messages of queue `queue_id` became ready.
pub fn ready_channel(queue_id: i64) -> String {
    format!("{READY_CHANNEL_PREFIX}{queue_id}")
}

/// The channel announcing that tracked messages of queue `queue_id` finished.
pub fn completed_channel(queue_id: i64) -> String {
    format!("{COMPLETED_CHANNEL_PREFIX}{queue_id}")
}

/// The channel announcing that held messages of queue `queue_id` were cancelled.
pub fn cancelled_channel(queue_id: i64) -> String {
    format!("{CANCELLED_CHANNEL_PREFIX}{queue_id}")
}

/// The channel announcing that bounded queue `queue_id` may have room again.
pub fn room_channel(queue_id: i64) -> String {
    format!("{ROOM_CHANNEL_PREFIX}{queue_id}")
}

/// The payload naming these messages: their ids (lower-case hyphenated UUIDs) joined by `,`, or
/// [`EVERYTHING`] when there are more than [`NOTIFY_MAX_IDS`]. No ids make an empty payload. The same
/// text as `pgmq._id_payload(ids)` in SQL.
pub fn encode_ids(ids: &[Uuid]) -> String {
    if ids.len() > NOTIFY_MAX_IDS {
        return EVERYTHING.to_owned();
    }
    ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",")
}

/// What a `pgmq_c_` / `pgmq_x_` payload names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdPayload {
    /// Too many to list ([`EVERYTHING`]): re-check everything.
    Everything,
    /// These messages (text that is not a UUID is skipped: a payload is only a hint). Empty for an empty
    /// payload, which names nobody in particular: waiters re-check everything then too.
    Ids(Vec<Uuid>),
}

/// Whether a `pgmq_c_` / `pgmq_x_` payload may concern one of `pending`: it names one of them, is
/// [`EVERYTHING`], or is empty (names nobody in particular). Text that is not an id is ignored.
pub(crate) fn concerns(payload: &str, pending: &std::collections::HashSet<Uuid>) -> bool {
    match decode_ids(payload) {
        IdPayload::Ids(ids) => payload.is_empty() || ids.iter().any(|id| pending.contains(id)),
        IdPayload::Everything => true,
    }
}

/// Reads a payload made by [`encode_ids`] or `pgmq._id_payload`.
pub fn decode_ids(payload: &str) -> IdPayload {
    if payload == EVERYTHING {
        return IdPayload::Everything;
    }
    IdPayload::Ids(payload.split(',').filter_map(|id| Uuid::parse_str(id).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_up_to_the_limit_and_become_everything_beyond_it() {
        for n in [0, 1, 2, NOTIFY_MAX_IDS] {
            let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
            assert_eq!(decode_ids(&encode_ids(&ids)), IdPayload::Ids(ids), "{n} ids");
        }
        let many: Vec<Uuid> = (0..=NOTIFY_MAX_IDS).map(|_| Uuid::now_v7()).collect();
        assert_eq!(encode_ids(&many), EVERYTHING);
        assert_eq!(decode_ids(EVERYTHING), IdPayload::Everything);
    }

    #[test]
    fn a_full_payload_stays_below_postgresqls_limit() {
        let ids: Vec<Uuid> = (0..NOTIFY_MAX_IDS).map(|_| Uuid::now_v7()).collect();
        assert!(encode_ids(&ids).len() < 8000);
    }

    #[test]
    fn text_that_is_not_an_id_is_skipped() {
        let id = Uuid::now_v7();
        assert_eq!(decode_ids(&format!("nonsense,{id},")), IdPayload::Ids(vec![id]));
    }

    #[test]
    fn channel_names_carry_the_queue_id() {
        assert_eq!(ready_channel(7), "pgmq_q_7");
        assert_eq!(completed_channel(7), "pgmq_c_7");
        assert_eq!(cancelled_channel(i64::MAX), format!("pgmq_x_{}", i64::MAX));
        assert!(cancelled_channel(i64::MAX).len() < 63);
    }
}
