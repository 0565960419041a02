//! The receiving end of `queue.receive()`: leases batches of messages. The Python stream
//! (`pgmq/_receive.py`) buffers a batch and hands out one handle per message.

use std::sync::Arc;

use pgmq_core::Error;
use pyo3::prelude::*;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::message::Message;
use crate::runtime::{future_into_py, Owner};

/// Leases messages from one queue, at most `batch_size` unfinished at a time.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Receiver {
    /// Locked by one `next_batch` at a time: concurrent callers queue up.
    inner: Arc<Mutex<pgmq_core::Receiver>>,
    closed: CancellationToken,
    owner: Owner,
}

impl Receiver {
    pub(crate) fn new(inner: pgmq_core::Receiver, owner: Owner) -> Receiver {
        Receiver { inner: Arc::new(Mutex::new(inner)), closed: CancellationToken::new(), owner }
    }
}

#[pymethods]
impl Receiver {
    /// Waits until at least one message is leased; resolves to every message of that claim (a list
    /// of `Message`). Cancelling the awaitable releases what it had leased. `ClientClosed` after
    /// `close()` or when the client closes.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (inner, closed, owner) = (self.inner.clone(), self.closed.clone(), self.owner);
        future_into_py(py, owner, async move {
            let mut receiver = tokio::select! {
                _ = closed.cancelled() => return Err(Error::Closed),
                r = inner.lock() => r,
            };
            let batch = tokio::select! {
                _ = closed.cancelled() => Err(Error::Closed),
                b = receiver.next_batch() => b,
            };
            if closed.is_cancelled() {
                // Closed meanwhile: whatever was just leased goes back at once (dropping releases).
                receiver.close();
                return Err(Error::Closed);
            }
            Ok(batch?.into_iter().map(|m| Message::new(m, owner)).collect::<Vec<_>>())
        })
    }

    /// Stops receiving: a pending `next_batch` fails with `ClientClosed`, leases it had taken are
    /// released. Messages already handed out stay valid.
    fn close(&self) {
        self.closed.cancel();
        if let Ok(mut receiver) = self.inner.try_lock() {
            receiver.close();
        }
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.is_cancelled()
    }
}
