//! A queue: send, request, receive, peek, cancel, purge, statistics, its bound, completion of earlier
//! sends, its part of job groups.

use std::sync::Arc;

use pgmq_core::{MessageState, OutgoingMessage, PeekOptions, ReceiveOptions, SendOptions, Uuid};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList};

use crate::completion::{outcome_names, Completion};
use crate::convert::{attributes, duration, entry_positions, instant, message_ids, queue_bound};
use crate::error::{guard, ToPyResult};
use crate::filter::Filter;
use crate::group::GroupStatistics;
use crate::peek::PeekedMessage;
use crate::receiver::Receiver;
use crate::reply::Reply;
use crate::runtime::{call_on_loop_with_error, future_into_py, Owner};

/// A handle on one queue of a client.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Queue {
    inner: pgmq_core::Queue,
    owner: Owner,
}

impl Queue {
    pub(crate) fn new(inner: pgmq_core::Queue, owner: Owner) -> Queue {
        Queue { inner, owner }
    }
}

/// Counts of one queue's messages at one instant.
#[pyclass(frozen, get_all, module = "pgmq._pgmq")]
pub(crate) struct QueueStatistics {
    /// Every message in the queue: ready, scheduled and leased.
    messages: u64,
    /// Available for delivery now.
    ready: u64,
    /// Waiting for their scheduled time (or a nack delay), or for messages they depend on.
    scheduled: u64,
    /// Held by a worker under a live lease.
    leased: u64,
    /// Messages in this queue's dead-letter queue.
    dead_lettered: u64,
}

impl From<pgmq_core::QueueStats> for QueueStatistics {
    fn from(s: pgmq_core::QueueStats) -> Self {
        QueueStatistics {
            messages: s.messages,
            ready: s.ready,
            scheduled: s.scheduled,
            leased: s.leased,
            dead_lettered: s.dead_lettered,
        }
    }
}

#[pymethods]
impl QueueStatistics {
    fn __repr__(&self) -> String {
        format!(
            "QueueStatistics(messages={}, ready={}, scheduled={}, leased={}, dead_lettered={})",
            self.messages, self.ready, self.scheduled, self.leased, self.dead_lettered
        )
    }
}

#[pymethods]
impl Queue {
    /// The queue's name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Sends `bodies` (with `attributes_list[i]` for body i, and `after_list[i]`, the earlier entries it
    /// depends on, if given) in one atomic statement; resolves to their `Completion`. `schedule_at` is in
    /// microseconds since the epoch, `delay` in seconds. To a bounded queue without room for them all,
    /// waits up to `wait_for_room` seconds (0: not at all) for room, then `QueueFull`; cancelling the
    /// awaitable while it waits sends nothing. With `group`, every message joins that job group (the core
    /// checks the id, and refuses it with `track=False`). With `depends_on` (`UUID`s or their text), every
    /// message waits for those messages to complete; the core refuses what cannot be (`InvalidOption`).
    #[pyo3(signature = (
        bodies, attributes_list=None, *, after_list=None, schedule_at=None, delay=None, track, wait_for_room,
        group=None, depends_on=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn send<'py>(
        &self,
        py: Python<'py>,
        bodies: &Bound<'py, PyList>,
        attributes_list: Option<&Bound<'py, PyList>>,
        after_list: Option<&Bound<'py, PyList>>,
        schedule_at: Option<i64>,
        delay: Option<f64>,
        track: bool,
        wait_for_room: f64,
        group: Option<String>,
        depends_on: Option<Vec<Bound<'py, PyAny>>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut messages = Vec::with_capacity(bodies.len());
        for (i, body) in bodies.iter().enumerate() {
            let body = body.cast::<PyBytes>().map_err(|_| PyTypeError::new_err("message bodies must be bytes"))?;
            let mut message = OutgoingMessage::new(body.as_bytes());
            if let Some(list) = attributes_list {
                let attrs = list.get_item(i)?;
                if !attrs.is_none() {
                    message.attributes = attributes(&attrs)?;
                }
            }
            if let Some(list) = after_list {
                let positions = list.get_item(i)?;
                if !positions.is_none() {
                    message.after = entry_positions(py, i, &positions)?;
                }
            }
            messages.push(message);
        }
        let mut options =
            SendOptions::default().track(track).wait_for_room(Some(duration(py, wait_for_room, "wait_for_room")?));
        if let Some(at) = schedule_at {
            options = options.schedule_at(instant(py, at)?);
        }
        if let Some(delay) = delay {
            options = options.delay(duration(py, delay, "delay")?);
        }
        if let Some(group) = group {
            options = options.group(group);
        }
        if let Some(ids) = depends_on {
            options = options.depends_on(message_ids(py, &ids, "depends_on")?);
        }
        let (queue, owner) = (self.inner.clone(), self.owner);
        future_into_py(py, owner, async move {
            let completion = queue.send_batch(messages, &options).await?;
            Ok(Completion::new(completion, owner))
        })
    }

    /// Sends `body` (with `message_attributes`, if given) tracked and waits for its reply: resolves to a
    /// `Reply` whose outcome is `completed`. `RequestFailed` if it was dead-lettered, cancelled or expired
    /// instead; `Timeout` if no reply came within `timeout` seconds (the request is then cancelled);
    /// `InvalidOption` for a zero timeout or one over 100 years (nothing sent). Cancelling the awaitable
    /// stops the wait and leaves the request queued. `serializer` is what `Reply.decode()` uses. `after`
    /// is passed on for the core to refuse: a request is the only entry of its send.
    #[pyo3(signature = (body, message_attributes=None, *, after=None, timeout, serializer=None))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        body: &Bound<'py, PyBytes>,
        message_attributes: Option<&Bound<'py, PyAny>>,
        after: Option<&Bound<'py, PyAny>>,
        timeout: f64,
        serializer: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut message = OutgoingMessage::new(body.as_bytes());
        if let Some(attrs) = message_attributes.filter(|a| !a.is_none()) {
            message.attributes = attributes(attrs)?;
        }
        if let Some(positions) = after.filter(|a| !a.is_none()) {
            message.after = entry_positions(py, 0, positions)?;
        }
        let timeout = duration(py, timeout, "timeout")?;
        let (queue, serializer) = (self.inner.clone(), serializer.map(Arc::new));
        future_into_py(py, self.owner, async move {
            let reply = queue.request(message, timeout).await?;
            Ok(Reply::new(reply, serializer))
        })
    }

    /// A receiver leasing up to `batch_size` messages at a time (nothing is read until `next_batch`).
    /// `poll_interval` (seconds) is the idle safety-net re-read; `None` keeps the core's default.
    /// `on_error(exception)` is called, on the thread of the event loop running now, with each error
    /// the receiver recovered from (it retries, see the core's `ReceiveOptions::on_error`). `serializer`
    /// is what `Message.decode()` of its messages uses (`None`: JSON).
    #[pyo3(signature = (*, batch_size, poll_interval=None, filter=None, on_error=None, serializer=None))]
    fn receiver(
        &self,
        py: Python<'_>,
        batch_size: i64,
        poll_interval: Option<f64>,
        filter: Option<&Filter>,
        on_error: Option<Py<PyAny>>,
        serializer: Option<Py<PyAny>>,
    ) -> PyResult<Receiver> {
        self.owner.check()?;
        let mut options =
            ReceiveOptions::default().batch_size(ReceiveOptions::checked_batch_size(batch_size).to_py(py)?);
        if let Some(interval) = poll_interval {
            options = options.poll_interval(duration(py, interval, "poll_interval")?);
        }
        if let Some(filter) = filter {
            options = options.filter(filter.inner.clone());
        }
        if let Some(callback) = on_error {
            options = options.on_error(call_on_loop_with_error(py, callback)?);
        }
        guard(py, || Ok(Receiver::new(self.inner.receiver(options).to_py(py)?, self.owner, serializer)))
    }

    /// Resolves to up to `limit` of the queue's messages (a list of `PeekedMessage`), read without
    /// leasing them, in the order receivers would take them; only those matching `filter` and in
    /// `state` (`"ready"`, `"scheduled"`, `"leased"`, `"lapsed"` or `"waiting"`; `None`: any) if given.
    /// `InvalidOption` for a limit out of range or an unknown state, `QueueNotFound` for an unknown
    /// queue. `serializer` is what `PeekedMessage.decode()` uses (`None`: JSON).
    #[pyo3(signature = (*, limit, filter=None, state=None, serializer=None))]
    fn peek<'py>(
        &self,
        py: Python<'py>,
        limit: i64,
        filter: Option<&Filter>,
        state: Option<&str>,
        serializer: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut options = PeekOptions::default().limit(PeekOptions::checked_limit(limit).to_py(py)?);
        if let Some(state) = state {
            options = options.state(MessageState::parse(state).to_py(py)?);
        }
        if let Some(filter) = filter {
            options = options.filter(filter.inner.clone());
        }
        let (queue, serializer) = (self.inner.clone(), serializer.map(Arc::new));
        future_into_py(py, self.owner, async move {
            let messages = queue.peek(&options).await?;
            Ok(messages.into_iter().map(|m| PeekedMessage::new(m, serializer.clone())).collect::<Vec<_>>())
        })
    }

    /// Cancels messages; resolves to the ids that existed (unknown ids are no error).
    fn cancel<'py>(&self, py: Python<'py>, ids: Vec<Uuid>) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.inner.clone();
        future_into_py(py, self.owner, async move { queue.cancel(&ids).await })
    }

    /// Deletes the messages no worker holds; resolves to how many (their outcome: `cancelled`).
    /// `QueueNotFound` for an unknown queue.
    fn purge<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.inner.clone();
        future_into_py(py, self.owner, async move { queue.purge().await })
    }

    /// Resolves to the queue's `QueueStatistics`; `QueueNotFound` for an unknown queue.
    fn statistics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.inner.clone();
        future_into_py(py, self.owner, async move { Ok(QueueStatistics::from(queue.stats().await?)) })
    }

    /// Bounds the queue to `max_messages` (ready, scheduled and leased together), or with `None` lifts its
    /// bound. `InvalidOption` for a bound out of range or on a dead-letter queue, `QueueNotFound` for an
    /// unknown queue.
    fn set_max_messages<'py>(
        &self,
        py: Python<'py>,
        max_messages: Option<&Bound<'py, PyInt>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (queue, max) = (self.inner.clone(), queue_bound(py, max_messages)?);
        future_into_py(py, self.owner, async move { queue.set_max_messages(max).await })
    }

    /// Cancels the queued and held messages of job group `group` in this queue; resolves to the ids found.
    /// `InvalidOption` for an invalid group id, `QueueNotFound` for an unknown queue.
    fn cancel_group<'py>(&self, py: Python<'py>, group: String) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.inner.clone();
        future_into_py(py, self.owner, async move { queue.cancel_group(&group).await })
    }

    /// Waits until every message of job group `group` in this queue has an outcome; resolves to
    /// `{id: outcome name}` (`{}` at once for an empty group). Cancelling the awaitable stops the wait.
    fn wait_for_group<'py>(&self, py: Python<'py>, group: String) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.inner.clone();
        future_into_py(py, self.owner, async move { Ok(outcome_names(queue.wait_for_group(&group).await?)) })
    }

    /// Resolves to the `GroupStatistics` of job group `group` in this queue.
    fn group_stats<'py>(&self, py: Python<'py>, group: String) -> PyResult<Bound<'py, PyAny>> {
        let queue = self.inner.clone();
        future_into_py(py, self.owner, async move { Ok(GroupStatistics::from(queue.group_stats(&group).await?)) })
    }

    /// Resolves to a `Completion` for messages sent earlier to this queue, possibly by another process.
    fn completion<'py>(&self, py: Python<'py>, ids: Vec<Uuid>) -> PyResult<Bound<'py, PyAny>> {
        let (queue, owner) = (self.inner.clone(), self.owner);
        future_into_py(py, owner, async move {
            let completion = queue.completion(&ids).await?;
            Ok(Completion::new(completion, owner))
        })
    }

    fn __repr__(&self) -> String {
        format!("<pgmq._pgmq.Queue {:?}>", self.inner.name())
    }
}
