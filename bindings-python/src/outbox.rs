//! The transactional send (`pgmq.sql`): the core's statements calling pgmq's SQL send functions, which
//! the Python layer hands with their parameters to the application's own driver. No SQL is written in
//! Python.

use pgmq_core::outbox::{OutboxKind, ParamStyle};
use pyo3::prelude::*;

use crate::convert;
use crate::error::{guard, invalid_option, ToPyResult};

/// The core's statement for `function` (`"send"`, `"send_json"`, `"send_batch"`, `"send_json_batch"`) in
/// placeholder `style` (`"dollar"`: `$1`, `"format"`: `%s`, `"named"`: `:queue`, `"qmark"`: `?`), for
/// pgmq in `schema` (`None`: the default). `InvalidOption` for an unknown function or style and for a
/// schema name the core refuses.
#[pyfunction]
#[pyo3(signature = (function, schema, style, /))]
pub(crate) fn outbox_statement(py: Python<'_>, function: &str, schema: Option<&str>, style: &str) -> PyResult<String> {
    guard(py, || {
        let kind = match function {
            "send" => OutboxKind::Send,
            "send_json" => OutboxKind::SendJson,
            "send_batch" => OutboxKind::SendBatch,
            "send_json_batch" => OutboxKind::SendJsonBatch,
            other => return Err(invalid_option(py, format!("no outbox statement {other:?}"))),
        };
        let style = match style {
            "dollar" => ParamStyle::Dollar,
            "format" => ParamStyle::Format,
            "named" => ParamStyle::Named,
            "qmark" => ParamStyle::QuestionMark,
            other => return Err(invalid_option(py, format!("no placeholder style {other:?}"))),
        };
        pgmq_core::outbox::statement(kind, schema, style).to_py(py)
    })
}

/// `attributes` (a `dict`) as the JSON object text the statements bind, written by the core's
/// [`pgmq_core::outbox::attributes_json`], the writer of every send. `TypeError` for keys or values
/// `queue.send()` refuses by type, `InvalidOption` for what it refuses by value (NaN, NUL, ...).
#[pyfunction]
#[pyo3(signature = (attributes, /))]
pub(crate) fn outbox_attributes_json(py: Python<'_>, attributes: &Bound<'_, PyAny>) -> PyResult<String> {
    guard(py, || {
        let attributes = convert::attributes(attributes)?;
        pgmq_core::outbox::attributes_json(&attributes).to_py(py)
    })
}
