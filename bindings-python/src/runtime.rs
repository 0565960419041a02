//! The one tokio runtime of this process, and the bridge that hands its results to asyncio.
//!
//! The runtime is owned here, so `pgmq/__init__.py` can stop it from `atexit` ([`shutdown`], with the
//! GIL released) before the interpreter finalizes. A runtime that outlives the interpreter, like
//! pyo3-async-runtimes' global one, aborts the process when a future finishes during finalization
//! (PyO3/pyo3-async-runtimes#40).
//!
//! The bridge ([`future_into_py`]) never attaches a runtime thread to Python. A finished core future
//! queues its result on the bridge of its event loop and, if the queue was empty, writes one byte to a
//! socket pair that the loop watches (`loop.add_reader`); the loop's own thread then sets every queued
//! result in one go. pyo3-async-runtimes instead takes the GIL from a blocking-pool thread for every
//! single result: under load those threads queue for the GIL (the interpreter's switch interval is
//! 5 ms) and receive+ack ran at a fifth of the core's rate. Batching the hand-over makes its cost per
//! burst, not per message, and leaves nothing to go wrong at interpreter exit.
//!
//! Fork: tokio's threads do not survive `fork()`. A child that uses pgmq gets a runtime of its own,
//! created on first use; objects inherited from the parent belong to the parent's dead runtime and
//! raise a clear error instead of hanging (see [`Owner`]).

use std::cell::RefCell;
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{intern, IntoPyObjectExt};
use tokio::runtime::Handle;

use crate::error::{self, Mapped};

struct State {
    pid: u32,
    /// `None` once shut down at interpreter exit.
    runtime: Option<tokio::runtime::Runtime>,
    handle: Handle,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn lock() -> std::sync::MutexGuard<'static, Option<State>> {
    // A panic while holding this lock leaves the state consistent: recover the guard.
    STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The runtime of this process: created on first use, re-created in a forked child, an error after
/// [`shutdown`].
pub(crate) fn handle() -> PyResult<Handle> {
    let pid = std::process::id();
    let mut state = lock();
    if let Some(s) = state.as_ref() {
        if s.pid == pid {
            return match s.runtime {
                Some(_) => Ok(s.handle.clone()),
                None => Err(error::client_closed("pgmq was shut down at interpreter exit")),
            };
        }
    }
    if let Some(old) = state.take() {
        // Forked: the parent's worker threads do not exist here. Dropping its runtime would wait for
        // them forever, so leak it.
        std::mem::forget(old);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("pgmq-tokio")
        .enable_all()
        .build()
        .map_err(|e| error::client_closed(&format!("cannot start the pgmq runtime: {e}")))?;
    let handle = runtime.handle().clone();
    *state = Some(State { pid, runtime: Some(runtime), handle: handle.clone() });
    Ok(handle)
}

/// Which process (and so which runtime) an object's core state belongs to. Every object that holds core
/// state (a client and everything made from it) carries one and checks it before using that state.
#[derive(Clone, Copy)]
pub(crate) struct Owner {
    pid: u32,
}

impl Owner {
    /// The owner for objects created now, starting the runtime if needed.
    pub(crate) fn current() -> PyResult<Owner> {
        handle()?;
        Ok(Owner { pid: std::process::id() })
    }

    /// Fails with a clear error in a forked child: this object's connections and background tasks
    /// stayed with the parent.
    pub(crate) fn check(self) -> PyResult<()> {
        if self.pid == std::process::id() {
            Ok(())
        } else {
            Err(error::client_closed(&format!(
                "this pgmq object was created in process {} and cannot be used after fork(); \
                 connect a new client in this process (or use the 'spawn' or 'forkserver' start method)",
                self.pid
            )))
        }
    }
}

/// Stops the runtime: called once from `atexit`. Background tasks stop, connections close (the server
/// releases their leases when they expire), and any later call fails with `ClientClosed`. The core's log
/// events stop reaching `logging` from the `pgmq-log` thread first; the ones queued are emitted here.
#[pyfunction]
#[pyo3(name = "_shutdown")]
pub(crate) fn shutdown(py: Python<'_>) {
    // First, so that no thread of pgmq attaches to Python from now on (see crate::log).
    crate::log::stop(py);
    let runtime = lock().as_mut().filter(|s| s.pid == std::process::id()).and_then(|s| s.runtime.take());
    if let Some(runtime) = runtime {
        // Waits (at most 500 ms) for the runtime's threads: nothing they do may wait for the GIL.
        py.detach(move || runtime.shutdown_timeout(Duration::from_millis(500)));
    }
    // What the core logged until now (a failed heartbeat, say), from this thread; later events are dropped.
    crate::log::flush(py);
}

/// Runs a core future on the runtime and returns an asyncio future of its result, on the running event
/// loop. The core error, if any, becomes the matching Python exception (built on the loop's thread).
/// Cancelling the asyncio future drops the core future (every core future is cancel-safe).
pub(crate) fn future_into_py<F, T>(py: Python<'_>, owner: Owner, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = pgmq_core::Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    spawn_into_py(py, owner, fut, true)
}

/// Like [`future_into_py`], for futures whose effect is already committed to when they start (an ack or
/// nack handed to the core's batcher): cancelling the asyncio future only stops the wait, so no
/// done-callback is needed.
pub(crate) fn detached_future_into_py<F, T>(py: Python<'_>, owner: Owner, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = pgmq_core::Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    spawn_into_py(py, owner, fut, false)
}

fn spawn_into_py<F, T>(py: Python<'_>, owner: Owner, fut: F, cancellable: bool) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = pgmq_core::Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    owner.check()?;
    let runtime = handle()?;
    let event_loop = running_loop(py)?;
    let bridge = bridge_for(&event_loop)?;
    let py_future = event_loop.call_method0(intern!(py, "create_future"))?;
    let target = py_future.clone().unbind();
    let task = runtime.spawn(async move {
        let result = Mapped(caught(fut).await);
        bridge.push(Ready::Result(target, Box::new(move |py| result.into_py_any(py))));
    });
    if cancellable {
        py_future.call_method1(intern!(py, "add_done_callback"), (AbortOnCancel { task: task.abort_handle() },))?;
    }
    Ok(py_future)
}

/// The future's result, or `Error::Internal` if it panicked: the awaiting Python code gets a
/// `pgmq.InternalError` instead of waiting forever on a task that died.
async fn caught<T>(fut: impl Future<Output = pgmq_core::Result<T>>) -> pgmq_core::Result<T> {
    AssertUnwindSafe(fut).catch_unwind().await.unwrap_or_else(|panic| Err(pgmq_core::Error::from_panic(&*panic)))
}

/// Runs a core future that yields one result per asyncio future in `targets` (created by the caller on
/// the running loop) and sets each: one task for work handed over in bulk.
pub(crate) fn spawn_into_futures<F, T>(py: Python<'_>, owner: Owner, targets: Vec<Py<PyAny>>, fut: F) -> PyResult<()>
where
    F: Future<Output = Vec<pgmq_core::Result<T>>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    owner.check()?;
    let runtime = handle()?;
    let bridge = bridge_for(&running_loop(py)?)?;
    let n = targets.len();
    runtime.spawn(async move {
        let results = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(results) => results,
            Err(panic) => {
                let e = pgmq_core::Error::from_panic(&*panic);
                (0..n).map(|_| Err(e.clone())).collect()
            }
        };
        for (target, result) in targets.into_iter().zip(results) {
            let result = Mapped(result);
            bridge.push(Ready::Result(target, Box::new(move |py| result.into_py_any(py))));
        }
    });
    Ok(())
}

/// Calls `callback()` on the running event loop's thread when `fut` completes, unless the returned
/// abort handle stopped it first.
pub(crate) fn call_soon_when<F>(py: Python<'_>, fut: F, callback: Py<PyAny>) -> PyResult<tokio::task::AbortHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = handle()?;
    let bridge = bridge_for(&running_loop(py)?)?;
    let task = runtime.spawn(async move {
        fut.await;
        bridge.push(Ready::Call(callback));
    });
    Ok(task.abort_handle())
}

fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()
}

/// A core `on_error` handler ([`pgmq_core::ReceiveOptions::on_error`]) that calls `callback(exception)`
/// on the thread of the event loop running now, the exception made by [`error::to_py`].
///
/// The core reports from a runtime thread. Calling Python there (taking the GIL) would run the callback
/// outside its event loop, where asyncio objects must not be touched (an `on_error` that sets an
/// `asyncio.Event` or puts to an `asyncio.Queue` would corrupt them), and would make a runtime thread
/// wait for the GIL, which [`shutdown`] relies on never happening. The bridge is as prompt: the loop wakes
/// on its socket at once, as it does for the results of `next_batch`, and in the same order, so a report
/// reaches the callback before the batch claimed after it.
pub(crate) fn call_on_loop_with_error(
    py: Python<'_>,
    callback: Py<PyAny>,
) -> PyResult<impl Fn(&pgmq_core::Error) + Send + Sync + 'static> {
    let bridge = bridge_for(&running_loop(py)?)?;
    let callback = Arc::new(callback);
    Ok(move |e: &pgmq_core::Error| bridge.push(Ready::Report(callback.clone(), e.clone())))
}

/// A result on its way to the event loop's thread.
enum Ready {
    /// Set this asyncio future's result (or exception), unless it was cancelled meanwhile.
    Result(Py<PyAny>, Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>),
    /// Call this.
    Call(Py<PyAny>),
    /// Call this with the exception of this error.
    Report(Arc<Py<PyAny>>, pgmq_core::Error),
}

/// The hand-over queue of one event loop.
struct Bridge {
    ready: Mutex<Vec<Ready>>,
    /// Set while a wake-up byte is unread: later results just join the queue.
    wake_pending: AtomicBool,
    wake: UnixStream,
}

impl Bridge {
    fn push(&self, item: Ready) {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).push(item);
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // Non-blocking; a full socket means a wake-up is already pending anyway.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// Registered with `loop.add_reader` on the read end of a bridge: sets the queued results.
#[pyclass(frozen, module = "pgmq._pgmq")]
struct Drain {
    bridge: Arc<Bridge>,
    reader: UnixStream,
}

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        let mut buf = [0u8; 64];
        loop {
            match (&self.reader).read(&mut buf) {
                Ok(n) if n > 0 => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                _ => break,
            }
        }
        self.bridge.wake_pending.store(false, Ordering::Release);
        let items = std::mem::take(&mut *self.bridge.ready.lock().unwrap_or_else(|p| p.into_inner()));
        for item in items {
            let outcome = match item {
                Ready::Result(target, make) => settle(py, target.bind(py), make),
                Ready::Call(callback) => callback.bind(py).call0().map(drop),
                Ready::Report(callback, e) => callback.bind(py).call1((error::to_py(py, e),)).map(drop),
            };
            if let Err(e) = outcome {
                e.write_unraisable(py, None);
            }
        }
    }
}

fn settle(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    make: Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>,
) -> PyResult<()> {
    if target.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(()); // cancelled: nobody waits for it
    }
    match make(py) {
        Ok(value) => target.call_method1(intern!(py, "set_result"), (value,))?,
        Err(e) => target.call_method1(intern!(py, "set_exception"), (e.into_value(py),))?,
    };
    Ok(())
}

/// The done-callback of a cancellable asyncio future: cancelling it aborts the core future.
#[pyclass(frozen, module = "pgmq._pgmq")]
struct AbortOnCancel {
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, py: Python<'_>, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}

/// The bridge of the event loop this thread last used (one loop runs per thread at a time).
struct LoopBridge {
    event_loop: Py<PyAny>,
    bridge: Arc<Bridge>,
    reader_fd: i32,
}

thread_local! {
    static CURRENT: RefCell<Option<LoopBridge>> = const { RefCell::new(None) };
}

fn bridge_for(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Bridge>> {
    let py = event_loop.py();
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        if let Some(lb) = current.as_ref() {
            if lb.event_loop.bind(py).is(event_loop) {
                return Ok(lb.bridge.clone());
            }
            // Another loop now (e.g. a second asyncio.run): stop watching for the old one if it lives on.
            let old = lb.event_loop.bind(py);
            if !old.call_method0(intern!(py, "is_closed"))?.is_truthy()? {
                let _ = old.call_method1(intern!(py, "remove_reader"), (lb.reader_fd,));
            }
        }
        let (reader, wake) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        wake.set_nonblocking(true)?;
        let reader_fd = reader.as_raw_fd();
        let bridge = Arc::new(Bridge { ready: Mutex::new(Vec::new()), wake_pending: AtomicBool::new(false), wake });
        event_loop.call_method1(intern!(py, "add_reader"), (reader_fd, Drain { bridge: bridge.clone(), reader }))?;
        *current = Some(LoopBridge { event_loop: event_loop.clone().unbind(), bridge: bridge.clone(), reader_fd });
        Ok(bridge)
    })
}
