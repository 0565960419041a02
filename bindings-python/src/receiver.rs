//! The receiving end of `queue.receive()`: leases batches of messages. The Python stream
//! (`pgmq/_receive.py`) buffers a batch and hands out one handle per message.

use std::sync::Arc;

use pgmq_core::{Error, SharedReceiver};
use pyo3::prelude::*;

use crate::error::guard;
use crate::message::Message;
use crate::runtime::{future_into_py, Owner};

/// Leases messages from one queue, at most `batch_size` unfinished at a time.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Receiver {
    /// Concurrent `next_batch` callers queue up; `close()` ends them all.
    inner: SharedReceiver,
    /// Handed to every message, for `Message.decode()`; `None`: JSON.
    serializer: Option<Arc<Py<PyAny>>>,
    owner: Owner,
}

impl Receiver {
    pub(crate) fn new(inner: pgmq_core::Receiver, owner: Owner, serializer: Option<Py<PyAny>>) -> Receiver {
        Receiver { inner: SharedReceiver::new(inner), serializer: serializer.map(Arc::new), owner }
    }
}

#[pymethods]
impl Receiver {
    /// Waits until at least one message is leased; resolves to every message of that claim (a list
    /// of `Message`). Cancelling the awaitable releases what it had leased. `ClientClosed` after
    /// `close()` or when the client closes.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (inner, owner, serializer) = (self.inner.clone(), self.owner, self.serializer.clone());
        future_into_py(py, owner, async move {
            let batch = inner.next_batch().await?.ok_or(Error::Closed)?;
            Ok(batch.into_iter().map(|m| Message::new(m, owner, serializer.clone())).collect::<Vec<_>>())
        })
    }

    /// Stops receiving: a pending `next_batch` fails with `ClientClosed`, leases it had taken are
    /// released. Messages already handed out stay valid.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            self.inner.close();
            Ok(())
        })
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}
