//! `NativeStop`: what an `AbortSignal` does to a native call that takes one (a `request`'s wait, a send
//! waiting for room in a bounded queue): the core's future is dropped.

use std::future::Future;

use napi_derive::napi;
use tokio_util::sync::CancellationToken;

/// Stops the native call it was given to: its promise rejects (the JS layer answers with the signal's
/// reason) and the core's future is dropped, which is the core's cancellation: a dropped request stays
/// queued, a dropped send waiting for room sends nothing.
#[napi]
#[derive(Default)]
pub struct NativeStop {
    token: CancellationToken,
}

#[napi]
impl NativeStop {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> NativeStop {
        NativeStop::default()
    }

    /// Stops the call (again: nothing).
    #[napi(catch_unwind)]
    pub fn stop(&self) {
        self.token.cancel();
    }
}

/// The token of an optional stop, taken on the JS thread for the future that [`unless_stopped`] runs.
pub(crate) fn token(stop: Option<&NativeStop>) -> Option<CancellationToken> {
    stop.map(|s| s.token.clone())
}

/// Runs `future` to its end, or until `stop` is stopped: then the future is dropped and this fails.
pub(crate) async fn unless_stopped<T>(
    stop: Option<CancellationToken>,
    future: impl Future<Output = napi::Result<T>>,
) -> napi::Result<T> {
    let Some(stop) = stop else { return future.await };
    tokio::select! {
        result = future => result,
        _ = stop.cancelled() => Err(napi::Error::from_reason("pgmq: the call was stopped by its signal")),
    }
}
