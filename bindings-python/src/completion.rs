//! The completion handle of sent messages: their ids, and waiting for their outcomes.

use std::collections::HashMap;

use pgmq_core::Uuid;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::duration;
use crate::runtime::{future_into_py, Owner};

/// The ids of a batch of sent messages and a way to wait for their outcomes.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Completion {
    inner: pgmq_core::Completion,
    owner: Owner,
}

impl Completion {
    pub(crate) fn new(inner: pgmq_core::Completion, owner: Owner) -> Completion {
        Completion { inner, owner }
    }
}

#[pymethods]
impl Completion {
    /// The message ids, in send order.
    #[getter]
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.ids())
    }

    /// Whether the messages were sent with tracking.
    #[getter]
    fn tracked(&self) -> bool {
        self.inner.is_tracked()
    }

    /// Waits until every message has an outcome; resolves to `{id: "completed" | "dead_lettered" |
    /// "cancelled" | "expired"}`. `poll_interval` (seconds) is the safety-net re-read.
    #[pyo3(signature = (poll_interval=None))]
    fn wait<'py>(&self, py: Python<'py>, poll_interval: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let mut completion = self.inner.clone();
        if let Some(interval) = poll_interval {
            completion = completion.with_poll_interval(duration(py, interval, "poll_interval")?);
        }
        future_into_py(py, self.owner, async move {
            let outcomes = completion.wait().await?;
            Ok(outcomes.into_iter().map(|(id, o)| (id, o.as_str())).collect::<HashMap<Uuid, &'static str>>())
        })
    }

    fn __repr__(&self) -> String {
        format!("<pgmq._pgmq.Completion of {} message(s)>", self.inner.ids().len())
    }
}
