//! A reply: how a sent message finished and the result its worker gave it, as `CompletionHandle.replies()`
//! and `queue.request()` return it.

use std::sync::Arc;

use pgmq_core::Outcome;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

use crate::body::Body;
use crate::error::invalid_option;

/// The core's `Reply`, its result as a `Body` so that it reads like a message's: `bytes` made once,
/// `.json()`, `.decode()` by the serializer of the queue handle that waited for it.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Reply {
    outcome: Outcome,
    result: Option<Body>,
    content_type: Option<String>,
    reason: Option<String>,
}

impl Reply {
    pub(crate) fn new(reply: pgmq_core::Reply, serializer: Option<Arc<Py<PyAny>>>) -> Reply {
        let (outcome, content_type) = (reply.outcome(), reply.content_type().map(str::to_owned));
        let reason = reply.reason().map(str::to_owned);
        Reply { outcome, result: reply.into_result().map(|bytes| Body::new(bytes, serializer)), content_type, reason }
    }

    /// The result, or the core's `InvalidOption` of `Reply::json` when there is none.
    fn result_or_error(&self, py: Python<'_>, what: &str) -> PyResult<&Body> {
        self.result.as_ref().ok_or_else(|| {
            invalid_option(py, format!("{what}(): the message finished ({}) without a result", self.outcome))
        })
    }
}

#[pymethods]
impl Reply {
    /// How the message finished: a `pgmq.Outcome`.
    #[getter]
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static OUTCOME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        OUTCOME.import(py, "pgmq._types", "Outcome")?.call1((self.outcome.as_str(),))
    }

    /// The result's bytes, or `None` if the worker gave none.
    #[getter]
    fn result(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.result.as_ref().map(|body| body.to_py(py))
    }

    /// The result's content type (`application/json` for a JSON result), if labelled.
    #[getter]
    fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Why the message finished the way it did, when pgmq knows: for a message cancelled because a message
    /// it depended on did not complete, `dependency <id> was <outcome>`. `None` otherwise.
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The result parsed as JSON, under the rule of `Message.json()`: `InvalidOption` if there is none,
    /// `ContentTypeError` if it is labelled with another encoding.
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.result_or_error(py, "json")?.json(py, self.content_type.as_deref(), "reply")
    }

    /// The result decoded by the serializer of the queue handle that waited for it (JSON by default):
    /// `InvalidOption` if there is none, `ContentTypeError` if it is labelled otherwise.
    fn decode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.result_or_error(py, "decode")?.decode(py, self.content_type.as_deref(), "reply")
    }

    fn __repr__(&self) -> String {
        // The result may be large or secret: its length only, as the core's Debug and Message's repr do.
        let result = self.result.as_ref().map_or_else(|| "None".to_owned(), |body| format!("{} bytes", body.len()));
        let quoted = |text: &Option<String>| text.as_ref().map_or_else(|| "None".to_owned(), |t| format!("{t:?}"));
        let (content_type, reason) = (quoted(&self.content_type), quoted(&self.reason));
        format!("<pgmq.Reply outcome={} result={result} content_type={content_type} reason={reason}>", self.outcome)
    }
}
