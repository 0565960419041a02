//! Job groups: `NativeGroupStats` and the one shape the queue's and the client's `waitForGroup` share.
//! The operations themselves are methods of `NativeQueue` (one queue) and `NativeClient` (every queue).

use std::collections::HashMap;
use std::future::Future;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::IntoNapi;
use crate::queue::outcomes;
use crate::stop::{token, unless_stopped, NativeStop};

/// A job group's messages by state (those still in a queue) and by outcome (those finished, for as long
/// as their outcome is kept): the core's `GroupStats`.
#[napi(object, object_from_js = false)]
pub struct NativeGroupStats {
    /// Still in a queue: ready, scheduled and leased.
    pub messages: i64,
    /// Available for delivery now.
    pub ready: i64,
    /// Waiting for their time (or a nack delay).
    pub scheduled: i64,
    /// Held by a worker under a live lease.
    pub leased: i64,
    /// Finished: acked.
    pub completed: i64,
    /// Finished: attempts ran out.
    pub dead_lettered: i64,
    /// Finished: cancelled.
    pub cancelled: i64,
    /// Finished: retention ran out before anyone consumed them.
    pub expired: i64,
}

impl From<pgmq_core::GroupStats> for NativeGroupStats {
    fn from(s: pgmq_core::GroupStats) -> Self {
        NativeGroupStats {
            messages: s.messages as i64,
            ready: s.ready as i64,
            scheduled: s.scheduled as i64,
            leased: s.leased as i64,
            completed: s.completed as i64,
            dead_lettered: s.dead_lettered as i64,
            cancelled: s.cancelled as i64,
            expired: s.expired as i64,
        }
    }
}

/// Runs a core `wait_for_group` on napi's runtime: id -> outcome. With `stop`, its `stop()` drops the
/// core's wait (its subscriptions end with it; the group is left as it is) and the promise rejects.
pub(crate) fn spawn_wait<'env>(
    env: &'env Env,
    stop: Option<&NativeStop>,
    wait: impl Future<Output = pgmq_core::Result<HashMap<pgmq_core::Uuid, pgmq_core::Outcome>>> + Send + 'static,
) -> Result<PromiseRaw<'env, HashMap<String, String>>> {
    env.spawn_future(unless_stopped(token(stop), async move { wait.await.map(outcomes).napi() }))
}
