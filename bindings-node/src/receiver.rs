//! `NativeReceiver`: leases batches of messages; `close()` ends a pending `nextBatch` with `null`.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use pgmq_core::SharedReceiver;

use crate::error::IntoNapi;
use crate::message::{claim, Claim};

/// Leases messages from one queue, at most `batchSize` unfinished at a time.
#[napi]
pub struct NativeReceiver {
    inner: SharedReceiver,
}

impl NativeReceiver {
    pub(crate) fn new(inner: pgmq_core::Receiver) -> NativeReceiver {
        NativeReceiver { inner: SharedReceiver::new(inner) }
    }
}

#[napi]
impl NativeReceiver {
    /// Waits until at least one message is leased and resolves to every message of that claim, or to
    /// `null` once the receiver or its client is closed (what it had leased is then released).
    #[napi]
    pub async fn next_batch(&self) -> Result<Option<Claim>> {
        Ok(self.inner.next_batch().await.napi()?.map(claim))
    }

    /// Stops receiving: a pending `nextBatch` resolves to `null`, and leases it had taken are
    /// released. Messages already delivered stay valid.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether `close()` was called.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}
