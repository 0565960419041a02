//! `NativeReceiver`: leases batches of messages; `close()` ends a pending `nextBatch` with `null`.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use pgmq_core::Error;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::error::to_napi;
use crate::message::{claim, Claim};

/// Leases messages from one queue, at most `batchSize` unfinished at a time.
#[napi]
pub struct NativeReceiver {
    /// Locked by one `nextBatch` at a time: concurrent callers queue up.
    inner: Arc<Mutex<pgmq_core::Receiver>>,
    closed: CancellationToken,
}

impl NativeReceiver {
    pub(crate) fn new(inner: pgmq_core::Receiver) -> NativeReceiver {
        NativeReceiver { inner: Arc::new(Mutex::new(inner)), closed: CancellationToken::new() }
    }
}

#[napi]
impl NativeReceiver {
    /// Waits until at least one message is leased and resolves to every message of that claim, or to
    /// `null` once the receiver or its client is closed (what it had leased is then released).
    #[napi]
    pub async fn next_batch(&self) -> Result<Option<Claim>> {
        let (inner, closed) = (self.inner.clone(), self.closed.clone());
        let mut receiver = tokio::select! {
            _ = closed.cancelled() => return Ok(None),
            r = inner.lock() => r,
        };
        let batch = tokio::select! {
            // Dropping the core's `next_batch` releases whatever its claim had leased.
            _ = closed.cancelled() => return Ok(None),
            b = receiver.next_batch() => b,
        };
        if closed.is_cancelled() {
            receiver.close();
            return Ok(None);
        }
        match batch {
            Ok(messages) => Ok(Some(claim(messages))),
            Err(Error::Closed) => Ok(None),
            Err(e) => Err(to_napi(e)),
        }
    }

    /// Stops receiving: a pending `nextBatch` resolves to `null`, and leases it had taken are
    /// released. Messages already delivered stay valid.
    #[napi]
    pub fn close(&self) {
        self.closed.cancel();
        if let Ok(mut receiver) = self.inner.try_lock() {
            receiver.close();
        }
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closed.is_cancelled()
    }
}
