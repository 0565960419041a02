//! `NativeReceiver`: leases batches of messages; `close()` ends a pending `nextBatch` with `null`.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use pgmq_core::SharedReceiver;

use crate::error::{to_napi, IntoNapi};
use crate::message::{claim, Claim};

/// The JS `onError(reason)` of a receiver. Weak (the last `true`): like an `unref()`ed handle, it never
/// keeps Node alive, so a script whose streams are done exits even before the receiver is collected.
pub(crate) type ErrorCallback = ThreadsafeFunction<String, Unknown<'static>, String, Status, false, true>;

/// A core `on_error` handler that queues `callback("[pgmq:<code>] text")` on the JS thread, where the JS
/// layer makes the typed error. Non-blocking: a receiver never waits for the JS thread (a full queue
/// cannot happen, it is unbounded; a closing environment just drops the call).
pub(crate) fn report_to(callback: ErrorCallback) -> impl Fn(&pgmq_core::Error) + Send + Sync + 'static {
    move |e| {
        callback.call(to_napi(e.clone()).reason, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

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
