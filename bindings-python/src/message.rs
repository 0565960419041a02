//! A leased message: its content (as bytes, or decoded by the queue's serializer), ack / nack / extend /
//! release, and the cancellation watch that lets `acquire()` interrupt its block when the message is
//! cancelled.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::future::join_all;
use pgmq_core::{Attributes, Error, NackOptions, Uuid};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::body::Body;
use crate::convert::{attributes_to_py, datetime_to_py, duration_arg};
use crate::error::{guard, ToPyResult};
use crate::runtime::{self, detached_future_into_py, future_into_py, Owner};

/// A message leased to this worker. While it is held (not acked, nacked or released) the core extends
/// its lease in the background.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Message {
    id: Uuid,
    queue: String,
    body: Body,
    attributes: Attributes,
    delivery_attempt: u32,
    sent_at: SystemTime,
    last_error: Option<String>,
    dead_letter_attempts: Option<u32>,
    lease_token: Uuid,
    /// `None` once released; dropping the last reference to an unfinished core message releases it.
    lease: Mutex<Option<Arc<pgmq_core::Message>>>,
    owner: Owner,
}

impl Message {
    pub(crate) fn new(mut m: pgmq_core::Message, owner: Owner, serializer: Option<Arc<Py<PyAny>>>) -> Message {
        Message {
            id: m.id(),
            queue: m.queue().to_owned(),
            body: Body::new(m.take_body(), serializer),
            attributes: m.attributes().clone(),
            delivery_attempt: m.delivery_attempt(),
            sent_at: m.sent_at(),
            last_error: m.last_error().map(str::to_owned),
            dead_letter_attempts: m.dead_letter_attempts(),
            lease_token: m.lease_token(),
            lease: Mutex::new(Some(Arc::new(m))),
            owner,
        }
    }

    fn lease(&self) -> pgmq_core::Result<Arc<pgmq_core::Message>> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::AlreadyFinished(self.id))
    }

    fn take_lease(&self) -> Option<Arc<pgmq_core::Message>> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

#[pymethods]
impl Message {
    /// The message id (a time-ordered UUIDv7 assigned at send).
    #[getter]
    fn id(&self) -> Uuid {
        self.id
    }

    /// The queue it was received from.
    #[getter]
    fn queue(&self) -> &str {
        &self.queue
    }

    /// The payload.
    #[getter]
    fn body(&self, py: Python<'_>) -> Py<PyBytes> {
        self.body.to_py(py)
    }

    /// The attributes it was sent with: a new dict, `{}` when there are none.
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        attributes_to_py(py, &self.attributes)
    }

    /// 1 on the first delivery, +1 for every redelivery.
    #[getter]
    fn delivery_attempt(&self) -> u32 {
        self.delivery_attempt
    }

    /// When it was sent (an aware UTC datetime).
    #[getter]
    fn sent_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_to_py(py, self.sent_at)
    }

    /// The error given to the last failed attempt, if any.
    #[getter]
    fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// For a message in a dead-letter queue: the attempts it used in its original queue.
    #[getter]
    fn dead_letter_attempts(&self) -> Option<u32> {
        self.dead_letter_attempts
    }

    /// The fencing token of this lease: an ack or nack under an older token changes nothing.
    #[getter]
    fn lease_token(&self) -> Uuid {
        self.lease_token
    }

    /// Whether the heartbeat found the lease lost while it was held (expired and taken, or dead-lettered).
    #[getter]
    fn lease_lost(&self) -> bool {
        self.lease().is_ok_and(|m| m.is_lease_lost())
    }

    /// The body parsed as JSON (`pgmq._serializers.decode_json`): `ContentTypeError` if its content
    /// type is not JSON; what `json.loads` raises if the body is not JSON.
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.body.json(py, &self.attributes)
    }

    /// The body decoded by the serializer of the queue handle it was received through (JSON by
    /// default): `ContentTypeError` if its content type is another.
    fn decode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.body.decode(py, &self.attributes)
    }

    /// Whether `queue.cancel()` was called on it while held (its ack then changes nothing).
    #[getter]
    fn cancelled(&self) -> bool {
        self.lease().is_ok_and(|m| m.is_cancelled())
    }

    /// Whether this handle may no longer ack or nack it (finished or released).
    #[getter]
    fn finished(&self) -> bool {
        self.lease().map_or(true, |m| m.is_finished())
    }

    /// Completes the message. `HandleError` (code `already_finished`) if it was already finished,
    /// `LeaseLost` if the lease was lost (nothing changed).
    fn ack<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let message = self.lease().to_py(py)?;
        detached_future_into_py(py, self.owner, async move { message.ack().await })
    }

    /// Fails this delivery: redelivered after `delay` (a timedelta or seconds; default: the queue's
    /// backoff, or at once), or dead-lettered on the last attempt, keeping `error` as its last error.
    #[pyo3(signature = (error=None, delay=None))]
    fn nack<'py>(
        &self,
        py: Python<'py>,
        error: Option<String>,
        delay: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = NackOptions { delay: delay.map(|d| duration_arg(d, "delay")).transpose()?, error };
        let message = self.lease().to_py(py)?;
        detached_future_into_py(py, self.owner, async move { message.nack(options).await })
    }

    /// Extends the lease to `seconds` (a number, or a timedelta) from now (the heartbeat keeps extending
    /// it afterwards).
    fn extend<'py>(&self, py: Python<'py>, seconds: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let by = duration_arg(seconds, "extend")?;
        let message = self.lease().to_py(py)?;
        future_into_py(py, self.owner, async move { message.extend(by).await })
    }

    /// Hands an unfinished message back for prompt redelivery (this counts as an attempt). Does
    /// nothing if it was finished or already released.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            drop(self.take_lease());
            Ok(())
        })
    }

    /// Calls `callback()` on the event loop's thread if the message is cancelled while held, until the
    /// returned watch is disarmed or dropped.
    fn watch_cancelled(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<CancelWatch> {
        self.owner.check()?;
        let message = self.lease().to_py(py)?;
        let task = runtime::call_soon_when(
            py,
            async move {
                message.cancelled().await;
            },
            callback,
        )?;
        Ok(CancelWatch { task })
    }

    fn __repr__(&self) -> String {
        format!(
            "<pgmq.Message id={} queue={:?} delivery_attempt={} body={} bytes>",
            self.id,
            self.queue,
            self.delivery_attempt,
            self.body.len()
        )
    }
}

/// Acks `messages` in one hand-over, so the core commits them together, and sets `futures[i]` (asyncio
/// futures of the running loop) to `None` or to the exception of `messages[i]`'s ack.
#[pyfunction]
pub(crate) fn ack_all(py: Python<'_>, messages: Vec<Py<Message>>, futures: Vec<Py<PyAny>>) -> PyResult<()> {
    if messages.len() != futures.len() {
        return Err(PyValueError::new_err("ack_all needs one future per message"));
    }
    let Some(first) = messages.first() else { return Ok(()) };
    let owner = first.get().owner;
    let leases: Vec<_> = messages.iter().map(|m| m.get().lease()).collect();
    runtime::spawn_into_futures(py, owner, futures, async move {
        join_all(leases.iter().map(|lease| async move {
            match lease {
                Ok(message) => message.ack().await,
                Err(e) => Err(e.clone()),
            }
        }))
        .await
    })
}

/// The watch set up by `Message.watch_cancelled`: stops watching when disarmed or dropped.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct CancelWatch {
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl CancelWatch {
    /// Stops watching. The callback may still run once if the cancellation raced with this call.
    fn disarm(&self) {
        self.task.abort();
    }
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
