//! Job groups: the counts of one group's messages (`Queue.group_stats`, `Client.group_stats`). The
//! operations themselves are methods of [`crate::queue::Queue`] and [`crate::client::Client`].

use pyo3::prelude::*;

/// Counts of one job group's messages at one instant: those still in a queue by state, the finished ones
/// by outcome.
#[pyclass(frozen, get_all, module = "pgmq._pgmq")]
pub(crate) struct GroupStatistics {
    /// Messages of the group still in a queue: ready, scheduled and leased.
    messages: u64,
    /// Available for delivery now.
    ready: u64,
    /// Waiting for their scheduled time (or a nack delay).
    scheduled: u64,
    /// Held by a worker under a live lease.
    leased: u64,
    /// Finished: acked.
    completed: u64,
    /// Finished: attempts ran out.
    dead_lettered: u64,
    /// Finished: cancelled.
    cancelled: u64,
    /// Finished: retention ran out before anyone consumed them.
    expired: u64,
}

impl From<pgmq_core::GroupStats> for GroupStatistics {
    fn from(s: pgmq_core::GroupStats) -> Self {
        GroupStatistics {
            messages: s.messages,
            ready: s.ready,
            scheduled: s.scheduled,
            leased: s.leased,
            completed: s.completed,
            dead_lettered: s.dead_lettered,
            cancelled: s.cancelled,
            expired: s.expired,
        }
    }
}

#[pymethods]
impl GroupStatistics {
    fn __repr__(&self) -> String {
        format!(
            "GroupStatistics(messages={}, ready={}, scheduled={}, leased={}, completed={}, dead_lettered={}, \
             cancelled={}, expired={})",
            self.messages,
            self.ready,
            self.scheduled,
            self.leased,
            self.completed,
            self.dead_lettered,
            self.cancelled,
            self.expired
        )
    }
}
