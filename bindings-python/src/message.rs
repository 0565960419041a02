//! A leased message: its content (as bytes, or decoded by the queue's serializer), ack (with a result or
//! without) / nack / extend / release, and the cancellation watch that lets `acquire()` interrupt its
//! block when the message is cancelled.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::future::join_all;
use pgmq_core::{Attributes, Error, NackOptions, Uuid};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict};

use crate::body::{content_type, Body};
use crate::convert::{attributes_to_py, datetime_to_py, duration_arg};
use crate::error::{guard, invalid_option, to_py, ToPyResult};
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
    /// What `set_result` gave: the result of an ack that gives none (the clean exit of `acquire()`).
    result: Mutex<Option<AckResult>>,
    owner: Owner,
}

/// A result encoded for `Message::ack_with_result`: its bytes and their content type.
#[derive(Clone)]
struct AckResult {
    bytes: Vec<u8>,
    content_type: Option<String>,
}

impl AckResult {
    /// `value` by the rule of a body (`pgmq._serializers.encode_result`): bytes and text as they are,
    /// labelled `content_type`; other values by the serializer of the queue handle (JSON without one).
    fn encode(value: &Bound<'_, PyAny>, content_type: Option<&str>, body: &Body) -> PyResult<AckResult> {
        static ENCODE_RESULT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = value.py();
        let encoded = ENCODE_RESULT.import(py, "pgmq._serializers", "encode_result")?.call1((
            value,
            content_type,
            body.serializer(py),
        ))?;
        let (bytes, content_type): (Vec<u8>, Option<String>) = encoded.extract()?;
        Ok(AckResult { bytes, content_type })
    }

    /// The core's rule for a result (`Message::ack_with_result`), checked when `set_result` is called, so
    /// that a result the ack would refuse fails inside the block (which then nacks) instead of at its exit.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        pgmq_core::validate_result(&self.bytes, self.content_type.as_deref()).to_py(py)
    }

    /// Acks `message` with this result, or without one.
    async fn ack(result: Option<AckResult>, message: &pgmq_core::Message) -> pgmq_core::Result<()> {
        match result {
            Some(r) => message.ack_with_result(r.bytes, r.content_type.as_deref()).await,
            None => message.ack().await,
        }
    }
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
            result: Mutex::new(None),
            owner,
        }
    }

    fn lease(&self) -> pgmq_core::Result<Arc<pgmq_core::Message>> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::AlreadyFinished(self.id))
    }

    fn take_lease(&self) -> Option<Arc<pgmq_core::Message>> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The result `set_result` gave, if any.
    fn pending_result(&self) -> Option<AckResult> {
        self.result.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The result of an ack: `result` encoded if given, else the one `set_result` gave, if any.
    fn ack_result(
        &self,
        py: Python<'_>,
        result: Option<&Bound<'_, PyAny>>,
        content_type: Option<&str>,
    ) -> PyResult<Option<AckResult>> {
        match result {
            Some(value) => AckResult::encode(value, content_type, &self.body).map(Some),
            None if content_type.is_some() => Err(invalid_option(py, "content_type was given without a result")),
            None => Ok(self.pending_result()),
        }
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
        self.body.json(py, content_type(&self.attributes), "message")
    }

    /// The body decoded by the serializer of the queue handle it was received through (JSON by
    /// default): `ContentTypeError` if its content type is another.
    fn decode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.body.decode(py, content_type(&self.attributes), "message")
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

    /// Completes the message, keeping `result` (encoded as a body is; `None`: the one `set_result` gave,
    /// if any) with its outcome for whoever awaits it. `HandleError` (code `already_finished`) if it was
    /// already finished, `LeaseLost` if the lease was lost (nothing changed), `InvalidOption` for a
    /// result the core refuses (the message stays held).
    #[pyo3(signature = (result=None, *, content_type=None))]
    fn ack<'py>(
        &self,
        py: Python<'py>,
        result: Option<&Bound<'py, PyAny>>,
        content_type: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let message = self.lease().to_py(py)?;
        let result = self.ack_result(py, result, content_type)?;
        detached_future_into_py(py, self.owner, async move { AckResult::ack(result, &message).await })
    }

    /// Sets the result of the ack that ends the message without giving one: the clean exit of its
    /// `acquire()` block, or `ack()`. `None` clears it. Encoded and checked now: `TypeError` or what the
    /// serializer raises, `InvalidOption` for a result the core would refuse, `AlreadyFinished` if the
    /// message was finished.
    #[pyo3(signature = (result, *, content_type=None))]
    fn set_result(
        &self,
        py: Python<'_>,
        result: Option<&Bound<'_, PyAny>>,
        content_type: Option<&str>,
    ) -> PyResult<()> {
        if self.lease().to_py(py)?.is_finished() {
            return Err(to_py(py, Error::AlreadyFinished(self.id)));
        }
        let result = match result {
            Some(value) => {
                let encoded = AckResult::encode(value, content_type, &self.body)?;
                encoded.check(py)?;
                Some(encoded)
            }
            None if content_type.is_some() => {
                return Err(invalid_option(py, "content_type was given without a result"));
            }
            None => None,
        };
        *self.result.lock().unwrap_or_else(|p| p.into_inner()) = result;
        Ok(())
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

/// Acks `messages` (each with the result its `set_result` gave, if any) in one hand-over, so the core
/// commits them together, and sets `futures[i]` (asyncio futures of the running loop) to `None` or to the
/// exception of `messages[i]`'s ack.
#[pyfunction]
pub(crate) fn ack_all(py: Python<'_>, messages: Vec<Py<Message>>, futures: Vec<Py<PyAny>>) -> PyResult<()> {
    if messages.len() != futures.len() {
        return Err(PyValueError::new_err("ack_all needs one future per message"));
    }
    let Some(first) = messages.first() else { return Ok(()) };
    let owner = first.get().owner;
    let acks: Vec<_> = messages.iter().map(|m| m.get()).map(|m| (m.lease(), m.pending_result())).collect();
    runtime::spawn_into_futures(py, owner, futures, async move {
        join_all(acks.into_iter().map(|(lease, result)| async move {
            match lease {
                Ok(message) => AckResult::ack(result, &message).await,
                Err(e) => Err(e),
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
