//! What `queue.peek()` returns: a copy of a message's row, read without leasing it.

use std::sync::Arc;
use std::time::SystemTime;

use pgmq_core::{Attributes, MessageState, Uuid};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict};

use crate::body::{content_type, Body};
use crate::convert::{attributes_to_py, datetime_to_py};

/// A message as `queue.peek()` read it. It holds no lease: nothing can be done to the message through
/// it, and the message may have changed since.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct PeekedMessage {
    id: Uuid,
    queue: String,
    body: Body,
    attributes: Attributes,
    state: MessageState,
    delivery_attempts: u32,
    sent_at: SystemTime,
    available_at: SystemTime,
    last_error: Option<String>,
    dead_letter_attempts: Option<u32>,
}

impl PeekedMessage {
    pub(crate) fn new(m: pgmq_core::PeekedMessage, serializer: Option<Arc<Py<PyAny>>>) -> PeekedMessage {
        PeekedMessage {
            id: m.id,
            queue: m.queue,
            body: Body::new(m.body, serializer),
            attributes: m.attributes,
            state: m.state,
            delivery_attempts: m.delivery_attempts,
            sent_at: m.sent_at,
            available_at: m.available_at,
            last_error: m.last_error,
            dead_letter_attempts: m.dead_letter_attempts,
        }
    }
}

#[pymethods]
impl PeekedMessage {
    /// The message id.
    #[getter]
    fn id(&self) -> Uuid {
        self.id
    }

    /// The queue it was read from.
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

    /// Where it stood when read: a `pgmq.MessageState`.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static MESSAGE_STATE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        MESSAGE_STATE.import(py, "pgmq._types", "MessageState")?.call1((self.state.as_str(),))
    }

    /// Deliveries so far (leases taken, a current one included).
    #[getter]
    fn delivery_attempts(&self) -> u32 {
        self.delivery_attempts
    }

    /// When it was sent (an aware UTC datetime).
    #[getter]
    fn sent_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_to_py(py, self.sent_at)
    }

    /// When it became or becomes ready; for a leased message, when its lease expires; for a waiting one,
    /// 9999-12-31T23:59:59 (it has no time yet: its dependencies decide). Aware, UTC.
    #[getter]
    fn available_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_to_py(py, self.available_at)
    }

    /// The error given to the last failed attempt, if any (in a dead-letter queue: the error that
    /// dead-lettered it).
    #[getter]
    fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// For a message in a dead-letter queue: the attempts it used in its original queue.
    #[getter]
    fn dead_letter_attempts(&self) -> Option<u32> {
        self.dead_letter_attempts
    }

    /// The body parsed as JSON: `ContentTypeError` if its content type is not JSON; what `json.loads`
    /// raises if the body is not JSON.
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.body.json(py, content_type(&self.attributes), "message")
    }

    /// The body decoded by the serializer of the queue handle it was peeked through (JSON by default):
    /// `ContentTypeError` if its content type is another.
    fn decode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.body.decode(py, content_type(&self.attributes), "message")
    }

    fn __repr__(&self) -> String {
        format!(
            "<pgmq.PeekedMessage id={} queue={:?} state={} delivery_attempts={} body={} bytes>",
            self.id,
            self.queue,
            self.state,
            self.delivery_attempts,
            self.body.len()
        )
    }
}
