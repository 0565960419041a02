//! `pgmq._pgmq`: the native layer of the `pgmq` Python package over `pgmq-core`.
//!
//! Every method has the same shape: clone the core handle, run the core future on the one runtime
//! ([`runtime::future_into_py`]), map the error ([`error::to_py`]). The Python package (`pgmq/`) wraps
//! this module in typed, idiomatic classes: context managers, `async for`, timedelta/datetime arguments
//! and the cancellation behaviour of `acquire()`. No SQL and no queue logic live here. The core's log
//! events reach Python's `logging` through [`log`], installed when the module loads.

mod body;
mod client;
mod completion;
mod convert;
mod defaults;
mod error;
mod filter;
mod group;
mod log;
mod message;
mod outbox;
mod peek;
mod queue;
mod receiver;
mod reply;
mod runtime;

use pyo3::prelude::*;

/// The name of the dead-letter queue created with queue `name`: `dlq@<name>`.
#[pyfunction]
fn dlq_name(name: &str) -> String {
    pgmq_core::dlq_name(name)
}

/// `pgmq.redact_dsn`: the DSN with its password masked (`postgres://u:***@h/db`, `password=***`), for
/// logs; `<unparsable DSN>` when where a password would be cannot be told.
#[pyfunction]
#[pyo3(signature = (dsn, /))]
fn redact_dsn(dsn: &str) -> String {
    pgmq_core::redact_dsn(dsn)
}

/// Test hook, not API: panics, in this call (`in_runtime=False`) or in a task on the runtime (`True`:
/// returns an awaitable), so tests can prove a panic surfaces as `pgmq.InternalError`.
#[pyfunction]
#[pyo3(name = "_panic_for_tests")]
fn panic_for_tests(py: Python<'_>, in_runtime: bool) -> PyResult<Bound<'_, PyAny>> {
    if in_runtime {
        runtime::future_into_py(py, runtime::Owner::current()?, async {
            panic!("pgmq test hook: a panic in a task on the runtime");
            #[allow(unreachable_code)]
            Ok(())
        })
    } else {
        error::guard(py, || panic!("pgmq test hook: a panic in a synchronous call"))
    }
}

#[pymodule]
fn _pgmq(m: &Bound<'_, PyModule>) -> PyResult<()> {
    log::install();
    m.add_function(wrap_pyfunction!(client::connect, m)?)?;
    m.add_function(wrap_pyfunction!(dlq_name, m)?)?;
    m.add_function(wrap_pyfunction!(redact_dsn, m)?)?;
    m.add_function(wrap_pyfunction!(body::is_json_content_type, m)?)?;
    m.add_function(wrap_pyfunction!(message::ack_all, m)?)?;
    m.add_function(wrap_pyfunction!(outbox::outbox_statement, m)?)?;
    m.add_function(wrap_pyfunction!(outbox::outbox_attributes_json, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(panic_for_tests, m)?)?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::QueueInfo>()?;
    m.add_class::<client::QueueOverview>()?;
    m.add_class::<queue::Queue>()?;
    m.add_class::<queue::QueueStatistics>()?;
    m.add_class::<group::GroupStatistics>()?;
    m.add_class::<receiver::Receiver>()?;
    m.add_class::<message::Message>()?;
    m.add_class::<peek::PeekedMessage>()?;
    m.add_class::<message::CancelWatch>()?;
    m.add_class::<completion::Completion>()?;
    m.add_class::<reply::Reply>()?;
    m.add_class::<filter::Attribute>()?;
    m.add_class::<filter::Filter>()?;
    m.add("LATEST_SCHEMA_VERSION", pgmq_core::LATEST_VERSION)?;
    m.add("CONTENT_TYPE_ATTRIBUTE", pgmq_core::CONTENT_TYPE_ATTRIBUTE)?;
    m.add("JSON_CONTENT_TYPE", pgmq_core::JSON_CONTENT_TYPE)?;
    defaults::add(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
