//! The completion handle of sent messages: their ids, and waiting for their outcomes and replies.

use std::collections::HashMap;
use std::sync::Arc;

use pgmq_core::{Outcome, Uuid};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::duration;
use crate::reply::Reply;
use crate::runtime::{future_into_py, Owner};

/// Outcomes by id as Python receives them, `{id: "completed" | "dead_lettered" | "cancelled" |
/// "expired"}` (the Python layer makes them `pgmq.Outcome`s): of a completion, and of a job group.
pub(crate) fn outcome_names(outcomes: HashMap<Uuid, Outcome>) -> HashMap<Uuid, &'static str> {
    outcomes.into_iter().map(|(id, o)| (id, o.as_str())).collect()
}

/// The ids of a batch of sent messages and a way to wait for their outcomes and replies.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Completion {
    inner: pgmq_core::Completion,
    owner: Owner,
}

impl Completion {
    pub(crate) fn new(inner: pgmq_core::Completion, owner: Owner) -> Completion {
        Completion { inner, owner }
    }

    fn with_poll_interval(&self, py: Python<'_>, poll_interval: Option<f64>) -> PyResult<pgmq_core::Completion> {
        match poll_interval {
            Some(interval) => Ok(self.inner.clone().with_poll_interval(duration(py, interval, "poll_interval")?)),
            None => Ok(self.inner.clone()),
        }
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
        let completion = self.with_poll_interval(py, poll_interval)?;
        future_into_py(py, self.owner, async move { Ok(outcome_names(completion.wait().await?)) })
    }

    /// Waits as `wait` does; resolves to `{id: Reply}`: each outcome with the result its worker gave.
    /// `serializer` is what `Reply.decode()` uses (`None`: JSON).
    #[pyo3(signature = (poll_interval=None, serializer=None))]
    fn wait_replies<'py>(
        &self,
        py: Python<'py>,
        poll_interval: Option<f64>,
        serializer: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (completion, serializer) = (self.with_poll_interval(py, poll_interval)?, serializer.map(Arc::new));
        future_into_py(py, self.owner, async move {
            let replies = completion.wait_replies().await?;
            Ok(replies.into_iter().map(|(id, r)| (id, Reply::new(r, serializer.clone()))).collect::<HashMap<_, _>>())
        })
    }

    fn __repr__(&self) -> String {
        format!("<pgmq._pgmq.Completion of {} message(s)>", self.inner.ids().len())
    }
}
