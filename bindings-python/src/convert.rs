//! Arguments from Python: durations in seconds, instants in microseconds since the epoch, attribute
//! values, message ids, entry positions. The typed wrappers in `pgmq/` have already turned
//! `timedelta`/`datetime` into numbers, except for the methods of `Message`, which users call directly
//! ([`duration_arg`]); what is out of range here is an `InvalidOption` (a `ValueError`), never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgmq_core::{AttributeValue, Attributes, Uuid, DEFAULTS};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDelta, PyDict, PyFloat, PyInt, PyString};
use pyo3::IntoPyObjectExt;

use crate::error::invalid_option;

/// A duration given in seconds: finite and not negative.
pub(crate) fn duration(py: Python<'_>, seconds: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        invalid_option(py, format!("{what} must be a finite, non-negative number of seconds, got {seconds}"))
    })
}

/// A duration given as a `timedelta` or a number of seconds (not a bool): finite and not negative.
pub(crate) fn duration_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    let py = value.py();
    let seconds = if let Ok(delta) = value.cast::<PyDelta>() {
        delta.call_method0("total_seconds")?.extract::<f64>()?
    } else if !value.is_instance_of::<PyBool>()
        && (value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
    {
        // An int beyond any float is out of range, like infinity.
        value.extract::<f64>().unwrap_or(f64::INFINITY)
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a timedelta or a number of seconds, not {}",
            value.get_type().name()?
        )));
    };
    duration(py, seconds, what)
}

/// An instant given in microseconds since the Unix epoch (UTC).
pub(crate) fn instant(py: Python<'_>, micros: i64) -> PyResult<SystemTime> {
    let offset = Duration::from_micros(micros.unsigned_abs());
    let at = if micros >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
    at.ok_or_else(|| invalid_option(py, "schedule_at is out of range"))
}

/// A count that must fit the core's `u32`.
pub(crate) fn count(py: Python<'_>, n: i64, what: &str) -> PyResult<u32> {
    u32::try_from(n).map_err(|_| invalid_option(py, format!("{what} must be between 1 and {}, got {n}", i32::MAX)))
}

/// A queue's bound (`max_messages`): `None` for none. An int that is negative or beyond 64 bits is an
/// `InvalidOption` worded as the core words 0 and the values over its limit, which it refuses itself.
pub(crate) fn queue_bound(py: Python<'_>, n: Option<&Bound<'_, PyInt>>) -> PyResult<Option<u64>> {
    let Some(n) = n else { return Ok(None) };
    n.extract::<u64>().map(Some).map_err(|_| {
        invalid_option(py, format!("max_messages must be between 1 and {}, not {n}", DEFAULTS.limits.max_messages))
    })
}

/// Message ids given as `uuid.UUID`s or as their text (`depends_on`): text that does not parse as a UUID
/// is an `InvalidOption`, any other type a `TypeError`.
pub(crate) fn message_ids(py: Python<'_>, ids: &[Bound<'_, PyAny>], what: &str) -> PyResult<Vec<Uuid>> {
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if let Ok(text) = id.cast::<PyString>() {
            let text = text.to_cow()?;
            let parsed = Uuid::parse_str(&text)
                .map_err(|_| invalid_option(py, format!("{what}[{i}] is not a message id (a UUID): {text:?}")))?;
            out.push(parsed);
        } else if let Ok(uuid) = id.extract::<Uuid>() {
            out.push(uuid);
        } else {
            return Err(PyTypeError::new_err(format!(
                "{what}[{i}] must be a UUID or its text, not {}",
                id.get_type().name()?
            )));
        }
    }
    Ok(out)
}

/// Entry `entry`'s `after`: positions of earlier entries of its send, which the typed layer has checked
/// are ints. One that no `usize` holds (a negative one) is refused in the words the core refuses a
/// later one with.
pub(crate) fn entry_positions(py: Python<'_>, entry: usize, positions: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let mut out = Vec::new();
    for position in positions.try_iter()? {
        let position = position?;
        out.push(position.extract::<usize>().map_err(|_| {
            invalid_option(
                py,
                format!("entry {entry} cannot depend on entry {position}: only on an earlier entry of the same send"),
            )
        })?);
    }
    Ok(out)
}

/// One attribute value: `None`, `bool`, `int` (64-bit), `float` or `str`.
pub(crate) fn attribute_value(value: &Bound<'_, PyAny>) -> PyResult<AttributeValue> {
    let py = value.py();
    if value.is_none() {
        Ok(AttributeValue::Null)
    } else if let Ok(b) = value.cast::<PyBool>() {
        Ok(AttributeValue::Bool(b.is_true()))
    } else if value.is_instance_of::<PyInt>() {
        value
            .extract::<i64>()
            .map(AttributeValue::Int)
            .map_err(|_| invalid_option(py, format!("attribute value {value} does not fit in 64 bits")))
    } else if let Ok(f) = value.cast::<PyFloat>() {
        Ok(AttributeValue::Float(f.value()))
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(AttributeValue::String(s.to_cow()?.into_owned()))
    } else {
        Err(PyTypeError::new_err(format!(
            "attribute values must be str, int, float, bool or None, not {}",
            value.get_type().name()?
        )))
    }
}

/// Attributes from a `dict[str, value]`.
pub(crate) fn attributes(dict: &Bound<'_, PyAny>) -> PyResult<Attributes> {
    let Ok(dict) = dict.cast::<PyDict>() else {
        return Err(PyTypeError::new_err(format!("attributes must be a dict, not {}", dict.get_type().name()?)));
    };
    let mut out = Attributes::new();
    for (k, v) in dict.iter() {
        let key = k.cast::<PyString>().map_err(|_| PyTypeError::new_err("attribute keys must be str"))?;
        out.insert(key.to_cow()?.into_owned(), attribute_value(&v)?);
    }
    Ok(out)
}

/// Attributes to a fresh `dict` (always a dict, `{}` when there are none).
pub(crate) fn attributes_to_py<'py>(py: Python<'py>, attributes: &Attributes) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in attributes {
        dict.set_item(k, attribute_value_to_py(py, v)?)?;
    }
    Ok(dict)
}

/// One attribute value as its Python scalar.
pub(crate) fn attribute_value_to_py<'py>(py: Python<'py>, value: &AttributeValue) -> PyResult<Bound<'py, PyAny>> {
    match value {
        AttributeValue::Null => Ok(py.None().into_bound(py)),
        AttributeValue::Bool(b) => b.into_bound_py_any(py),
        AttributeValue::Int(i) => i.into_bound_py_any(py),
        AttributeValue::Float(f) => f.into_bound_py_any(py),
        AttributeValue::String(s) => s.into_bound_py_any(py),
    }
}

/// An aware UTC `datetime` for an instant (exact to the microsecond).
pub(crate) fn datetime_to_py(py: Python<'_>, at: SystemTime) -> PyResult<Bound<'_, PyAny>> {
    static FROM_MICROS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let micros = match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    };
    FROM_MICROS.import(py, "pgmq._convert", "datetime_from_micros")?.call1((micros,))
}
