//! `Handoff`: how reports reach Kotlin or Swift code (a receiver's `onError`, the core's log events):
//! queued, then handed over one at a time, in order, on a thread of pgmq's own.

use std::sync::Arc;

use tokio::sync::mpsc;

/// The sending end of one foreign callback's queue. Reports come from the core's runtime threads (or any
/// thread that logs): calling Kotlin or Swift there would let a callback that blocks (a log appender on a
/// slow disk, `runBlocking`) stall one of the two threads that also run every client's heartbeats. So
/// each report goes through a channel to a task that makes each call on tokio's blocking pool, one at a
/// time, in the order they were sent; the task ends, and lets the callback go, when the `Handoff` is
/// dropped.
pub(crate) struct Handoff<T>(mpsc::UnboundedSender<T>);

impl<T: Send + 'static> Handoff<T> {
    /// Starts the task that calls `deliver` with each report.
    pub(crate) fn new(deliver: impl Fn(T) + Send + Sync + 'static) -> Self {
        let (reports, mut pending) = mpsc::unbounded_channel::<T>();
        let deliver = Arc::new(deliver);
        crate::runtime().spawn(async move {
            while let Some(report) = pending.recv().await {
                let deliver = deliver.clone();
                // A Kotlin exception arrives here as a panic of uniffi's: it ends this call only.
                let _ = tokio::task::spawn_blocking(move || deliver(report)).await;
            }
        });
        Handoff(reports)
    }

    /// Queues `report`, never blocking. Fails only once the task is gone, i.e. never while this
    /// `Handoff` is alive: the failure is ignored.
    pub(crate) fn send(&self, report: T) {
        let _ = self.0.send(report);
    }
}
