//! The one mapping from the core's errors to pgmq's Python exceptions.
//!
//! The exception classes are defined in Python (`pgmq/_errors.py`), where multiple inheritance reads
//! naturally (`QueueNotFound` is both a `PgmqError` and a `LookupError`), and so is the table choosing
//! the class for each of the core's codes (`_errors.CLASSES`, which a test compares with the core's
//! `ERROR_CODES`). Each exception carries the core's stable code as `.code`, and the details of its
//! variant where it has some (`RequestFailed`'s `.message_id` and `.outcome`). Errors are raised with the
//! GIL held: by a method directly, or by the awaitable of an async method when its result is handed to
//! Python ([`Mapped`]).

use pgmq_core::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use pyo3::IntoPyObjectExt;

/// The Python exception for a core error: the class `_errors.CLASSES` names for its code.
pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let details = PyDict::new(py);
    if let Error::RequestFailed { id, outcome } = &e {
        let set = details.set_item("message_id", id).and_then(|()| details.set_item("outcome", outcome.as_str()));
        if let Err(failed) = set {
            return failed;
        }
    }
    new_error(py, &e.to_string(), e.code(), details)
}

/// `ClientClosed` with a message of its own (runtime shut down, object inherited across fork()).
pub(crate) fn client_closed(message: &str) -> PyErr {
    Python::attach(|py| new_error(py, message, Error::Closed.code(), PyDict::new(py)))
}

/// Runs a synchronous call into the core with panics caught: a panic becomes `InternalError` (a
/// `PgmqError`). Left alone, pyo3 would raise its `PanicException`, a `BaseException` that
/// `except Exception` does not catch. Async calls are covered by [`crate::runtime::future_into_py`].
pub(crate) fn guard<T>(py: Python<'_>, call: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
        .unwrap_or_else(|panic| Err(to_py(py, Error::from_panic(&*panic))))
}

/// `InvalidOption` for an argument the binding checks itself.
pub(crate) fn invalid_option(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, Error::InvalidOption(message.into()))
}

/// `_errors.error(message, code, **details)`.
fn new_error(py: Python<'_>, message: &str, code: &str, details: Bound<'_, PyDict>) -> PyErr {
    static ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    match ERROR.import(py, "pgmq._errors", "error").and_then(|make| make.call((message, code), Some(&details))) {
        Ok(exc) => PyErr::from_value(exc),
        // Only if pgmq/_errors.py is missing or broken: say so instead of losing the original error.
        Err(e) => e,
    }
}

/// A core result on its way to Python: `Ok` converts to the Python value, `Err` to the exception from
/// [`to_py`]. Converting needs the GIL, which the awaitable holds when it sets its result.
pub(crate) struct Mapped<T>(pub(crate) pgmq_core::Result<T>);

impl<'py, T: IntoPyObject<'py>> IntoPyObject<'py> for Mapped<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(v) => v.into_bound_py_any(py),
            Err(e) => Err(to_py(py, e)),
        }
    }
}

/// `.map_err` for core results inside methods that hold the GIL.
pub(crate) trait ToPyResult<T> {
    /// The core error as its Python exception.
    fn to_py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> ToPyResult<T> for pgmq_core::Result<T> {
    fn to_py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
