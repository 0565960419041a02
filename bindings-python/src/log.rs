//! The core's log events in Python's `logging`: logger `pgmq.core`, each record carrying the Rust module
//! that emitted it as `record.rust_target` (and as its `pathname`).
//!
//! The core logs on its runtime threads, which never call Python: one waiting for the GIL would stall every
//! task of that thread while the event loop's thread runs, and [`crate::runtime::shutdown`] relies on none
//! of them ever waiting for it. So the sink only queues an event (bounded, never blocking on Python) and one
//! thread of its own, `pgmq-log`, hands the events to `pgmq._log.emit` in order, attached to Python once per
//! burst; `emit` asks `logger.isEnabledFor(level)` before it makes a record.
//!
//! At interpreter exit [`stop`] ends that thread's use of Python before the runtime stops: attaching to an
//! interpreter that is finalizing hangs, or ends the thread from inside `PyGILState_Ensure` by unwinding
//! through Rust frames (pyo3's own finalization check exists only for 3.13+, not for this abi3-py39 build).
//! What the core logs after that is emitted by the exiting thread itself ([`flush`]), or not at all.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pgmq_core::log::{forward_logs, LogLevel};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Events queued beyond this are counted, not kept: `emit` reports how many were dropped.
const CAPACITY: usize = 10_000;

/// How long the exiting thread waits for the `pgmq-log` thread to leave a `logging` call (a handler that
/// blocks longer is left to it; Python finalizes regardless).
const STOP_WAIT: Duration = Duration::from_secs(1);

struct Pending {
    /// The process the queue and the thread belong to: a forked child starts afresh.
    pid: u32,
    events: VecDeque<(u8, String, String)>,
    dropped: usize,
    thread_started: bool,
}

static PENDING: Mutex<Pending> =
    Mutex::new(Pending { pid: 0, events: VecDeque::new(), dropped: 0, thread_started: false });
static WAKE: Condvar = Condvar::new();
/// Set by [`stop`]: the `pgmq-log` thread no longer attaches to Python.
static STOPPED: AtomicBool = AtomicBool::new(false);
/// Set by the `pgmq-log` thread from just before it checks [`STOPPED`] until it is detached again.
static ATTACHED: AtomicBool = AtomicBool::new(false);

fn lock() -> MutexGuard<'static, Pending> {
    // A panic while holding this lock leaves the queue consistent: recover the guard.
    PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Installs the forwarding: called once, when the module is loaded.
pub(crate) fn install() {
    // `false` means this copy of the core already forwards (the module initialised twice): nothing to do.
    let _ = forward_logs(LogLevel::Trace, Arc::new(push));
}

/// The `logging` level of a core level; trace is 5, below `DEBUG` (`pgmq.TRACE`).
fn python_level(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 40,
        LogLevel::Warn => 30,
        LogLevel::Info => 20,
        LogLevel::Debug => 10,
        LogLevel::Trace => 5,
    }
}

/// The sink: on whichever thread the core logs, queues the event and wakes the `pgmq-log` thread.
fn push(level: LogLevel, target: &str, text: &str) {
    let pid = std::process::id();
    let mut pending = lock();
    if pending.pid != pid {
        // First event of this process (or of a forked child, where the parent's thread does not exist).
        *pending = Pending { pid, events: VecDeque::new(), dropped: 0, thread_started: false };
        ATTACHED.store(false, Ordering::SeqCst);
    }
    if pending.events.len() >= CAPACITY {
        pending.dropped += 1;
        return;
    }
    pending.events.push_back((python_level(level), target.to_owned(), text.to_owned()));
    if !pending.thread_started && !STOPPED.load(Ordering::SeqCst) {
        pending.thread_started = std::thread::Builder::new().name("pgmq-log".into()).spawn(run).is_ok();
    }
    drop(pending);
    WAKE.notify_one();
}

/// The `pgmq-log` thread: hands each burst of queued events to Python until [`stop`].
fn run() {
    loop {
        let (events, dropped) = {
            let mut pending = lock();
            while pending.events.is_empty() && pending.dropped == 0 && !STOPPED.load(Ordering::SeqCst) {
                pending = WAKE.wait(pending).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if STOPPED.load(Ordering::SeqCst) {
                return; // what is queued is the exiting thread's to emit
            }
            (std::mem::take(&mut pending.events), std::mem::take(&mut pending.dropped))
        };
        // Announce the attach before checking STOPPED, as `stop` sets STOPPED before checking ATTACHED:
        // one of the two sees the other, so no attach starts after `stop` returns.
        ATTACHED.store(true, Ordering::SeqCst);
        let left = if STOPPED.load(Ordering::SeqCst) {
            Some((events, dropped))
        } else {
            // `None`: Python cannot be attached to now (not initialised, or in a GC traversal): dropped.
            Python::try_attach(|py| emit(py, events, dropped, true)).flatten()
        };
        if let Some((events, dropped)) = left {
            let mut pending = lock();
            for event in events.into_iter().rev() {
                pending.events.push_front(event);
            }
            pending.dropped += dropped;
        }
        ATTACHED.store(false, Ordering::SeqCst);
    }
}

type Events = VecDeque<(u8, String, String)>;

/// Hands `events` to `pgmq._log.emit` one by one, and reports `dropped`. On the `pgmq-log` thread
/// (`interruptible`) it stops between two events once [`stop`] was called, and returns what is left.
fn emit(py: Python<'_>, mut events: Events, mut dropped: usize, interruptible: bool) -> Option<(Events, usize)> {
    static EMIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static EMIT_DROPPED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let report = |result: PyResult<Bound<'_, PyAny>>| {
        if let Err(e) = result {
            e.write_unraisable(py, None);
        }
    };
    let emit = match EMIT.import(py, "pgmq._log", "emit") {
        Ok(f) => f,
        Err(e) => {
            e.write_unraisable(py, None);
            return None; // pgmq/_log.py is missing or broken: nothing can be logged
        }
    };
    while !events.is_empty() || dropped > 0 {
        if interruptible && STOPPED.load(Ordering::SeqCst) {
            return Some((events, dropped));
        }
        if let Some((level, target, text)) = events.pop_front() {
            report(emit.call1((level, target, text)));
        } else {
            report(EMIT_DROPPED.import(py, "pgmq._log", "emit_dropped").and_then(|f| f.call1((dropped,))));
            dropped = 0;
        }
    }
    None
}

/// Stops the `pgmq-log` thread's use of Python: called at interpreter exit (with the GIL held), before
/// the runtime stops. Waits, with the GIL released, for the event being logged to finish (the thread
/// stops before the next one).
pub(crate) fn stop(py: Python<'_>) {
    STOPPED.store(true, Ordering::SeqCst);
    WAKE.notify_all();
    if lock().pid != std::process::id() {
        return; // nothing was logged in this process: no thread of ours here (a forked child's is its own)
    }
    py.detach(|| {
        let deadline = Instant::now() + STOP_WAIT;
        while ATTACHED.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Emits what is queued from this thread (the exiting one, after [`stop`]).
pub(crate) fn flush(py: Python<'_>) {
    let (events, dropped) = {
        let mut pending = lock();
        if pending.pid != std::process::id() {
            return;
        }
        (std::mem::take(&mut pending.events), std::mem::take(&mut pending.dropped))
    };
    emit(py, events, dropped, false);
}
