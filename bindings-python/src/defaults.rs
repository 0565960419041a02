//! The core's one table of defaults and limits (`pgmq_core::DEFAULTS`) and of error codes
//! (`pgmq_core::ERROR_CODES`) as Python values, read by `pgmq/_defaults.py` and `pgmq/_errors.py`
//! instead of writing a number or a code out again; `_truths_json()` is the core's own rendering of
//! both, which the tests compare the package with.

use pgmq_core::{DEFAULTS, ERROR_CODES};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// One section of the table as a dict named by the core's fields; durations become `timedelta`s.
macro_rules! section {
    ($py:expr, $section:expr; $($field:ident),+ $(,)?) => {{
        let dict = PyDict::new($py);
        $( dict.set_item(stringify!($field), $section.$field)?; )+
        dict
    }};
}

/// `pgmq_core::DEFAULTS` as `{section: {field: value}}`, with the core's section and field names.
/// The structs are `#[non_exhaustive]`, so a field the core adds is not a compile error here: the
/// test comparing this dict with `_truths_json()` fails instead.
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = DEFAULTS;
    let table = PyDict::new(py);
    table.set_item(
        "queue",
        section!(py, d.queue;
            ack_deadline, max_delivery_attempts, retention_period, dead_letter_queue, backoff, max_messages,
        ),
    )?;
    table.set_item(
        "dead_letter_queue",
        section!(py, d.dead_letter_queue; ack_deadline, max_delivery_attempts, retention_period),
    )?;
    table.set_item("backoff", section!(py, d.backoff; base, factor, max, jitter))?;
    table.set_item("send", section!(py, d.send; track, wait_for_room, room_poll_interval))?;
    table.set_item("receive", section!(py, d.receive; batch_size, max_batch_size, poll_interval))?;
    table.set_item("completion", section!(py, d.completion; poll_interval))?;
    table.set_item("request", section!(py, d.request; timeout))?;
    table.set_item("peek", section!(py, d.peek; limit, max_limit))?;
    table.set_item(
        "client",
        section!(py, d.client;
            pool_size, connect_timeout, statement_timeout, connect_retry, maintenance_interval, schema,
            application_name, application_name_prefix, keepalives_idle, keepalives_interval, keepalives_count,
            tcp_user_timeout, reconnect_backoff_min, reconnect_backoff_max,
        ),
    )?;
    table.set_item(
        "limits",
        section!(py, d.limits;
            max_send_bytes, max_queue_name_len, max_schema_name_len, max_filter_depth, min_ack_deadline,
            max_delivery_attempts, max_duration, notify_max_ids, max_messages, migrate_lock_timeout,
            max_group_len, max_dependencies,
        ),
    )?;
    table.set_item("conventions", section!(py, d.conventions; dlq_prefix, content_type_attribute, json_content_type))?;
    Ok(table)
}

/// `pgmq_core::ERROR_CODES` as `((code, transient, description), ...)`, in the core's order.
fn error_codes(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    PyTuple::new(py, ERROR_CODES.iter().map(|e| (e.code, e.transient, e.description)))
}

/// Not API: `pgmq_core::truths_json()`, the core's defaults, limits, error codes, SQLSTATEs, outcome and
/// message-state names as one JSON text, which the tests compare the package with and `pgmq/_errors.py`
/// reads the SQLSTATE map of `pgmq.sql` from.
#[pyfunction]
#[pyo3(name = "_truths_json")]
fn truths_json() -> String {
    pgmq_core::truths_json()
}

/// Adds `DEFAULTS`, `ERROR_CODES` and `_truths_json` to the module.
pub(crate) fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("DEFAULTS", defaults(py)?)?;
    m.add("ERROR_CODES", error_codes(py)?)?;
    m.add_function(wrap_pyfunction!(truths_json, m)?)?;
    Ok(())
}
