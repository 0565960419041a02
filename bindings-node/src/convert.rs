//! JS values (already type-checked by the JS layer) to core types: durations, ids, attributes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use pgmq_core::{AttributeValue, Attributes, Uuid};
use serde_json::Value;

use crate::error::invalid_option;

/// Milliseconds (finite, >= 0: checked by the JS layer, again here) as a duration.
pub(crate) fn duration_ms(ms: f64, what: &str) -> Result<Duration> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(invalid_option(format!("{what} must be a finite number of milliseconds >= 0, got {ms}")));
    }
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| invalid_option(format!("{what} is too long")))
}

/// A duration in milliseconds (fractional below one).
pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Milliseconds since the Unix epoch (a JS `Date`'s `getTime()`) as a point in time.
pub(crate) fn instant_ms(ms: f64, what: &str) -> Result<SystemTime> {
    if !ms.is_finite() {
        return Err(invalid_option(format!("{what} must be a valid date")));
    }
    let offset = Duration::try_from_secs_f64(ms.abs() / 1000.0).map_err(|_| invalid_option(format!("{what} is out of range")))?;
    let at = if ms >= 0.0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
    at.ok_or_else(|| invalid_option(format!("{what} is out of range")))
}

/// Milliseconds since the Unix epoch of a point in time.
pub(crate) fn epoch_ms(at: SystemTime) -> f64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64() * 1000.0,
        Err(e) => -e.duration().as_secs_f64() * 1000.0,
    }
}

/// A whole number in `min..=max` given as a JS number.
pub(crate) fn whole(n: f64, what: &str, min: f64, max: f64) -> Result<i64> {
    if !n.is_finite() || n.fract() != 0.0 || n < min || n > max {
        return Err(invalid_option(format!("{what} must be a whole number between {min} and {max}, got {n}")));
    }
    Ok(n as i64)
}

/// A queue's bound (`maxMessages`) given as a JS number. 0 and values past the core's limit go on to the
/// core, whose error names its range; here only what a count cannot be (negative, fractional, NaN).
/// `DEFAULTS.limits.maxMessages` (2^63 - 1) reads as 2^63 in JS, the nearest double: it is taken as the
/// limit it stands for.
pub(crate) fn max_messages(n: f64) -> Result<u64> {
    if !n.is_finite() || n.fract() != 0.0 || n < 0.0 {
        return Err(invalid_option(format!("maxMessages must be a whole number >= 1, got {n}")));
    }
    Ok(if n == i64::MAX as f64 { i64::MAX as u64 } else { n as u64 })
}

pub(crate) fn uuid(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| invalid_option(format!("{id:?} is not a message id (a UUID)")))
}

pub(crate) fn uuids(ids: &[String]) -> Result<Vec<Uuid>> {
    ids.iter().map(|id| uuid(id)).collect()
}

/// The positions a batch entry (`entry`) depends on, as JS numbers: whole and >= 0 here (up to 2^53,
/// where every integer is exact); which earlier entries they may name is the core's to check.
pub(crate) fn entries(after: &[f64], entry: usize) -> Result<Vec<usize>> {
    let what = format!("messages[{entry}].after");
    after.iter().map(|&n| Ok(whole(n, &what, 0.0, 9_007_199_254_740_991.0)? as usize)).collect()
}

/// A JS number as an attribute value. JS has one number type: 3.0 is the integer 3 (within the range
/// where every integer is exact), anything else a float.
pub(crate) fn number_value(f: f64) -> AttributeValue {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        AttributeValue::Int(f as i64)
    } else {
        AttributeValue::Float(f)
    }
}

fn attribute_value(v: &Value, key: &str) -> Result<AttributeValue> {
    Ok(match v {
        Value::Null => AttributeValue::Null,
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::String(s) => AttributeValue::String(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AttributeValue::Int(i),
            None => number_value(n.as_f64().unwrap_or(f64::NAN)),
        },
        _ => {
            return Err(invalid_option(format!(
                "attribute {key:?} must be a string, number, boolean or null"
            )))
        }
    })
}

/// A JS object of scalars as core attributes (`undefined`/`null`: none).
pub(crate) fn attributes(v: Option<&Value>) -> Result<Attributes> {
    match v {
        None | Some(Value::Null) => Ok(Attributes::new()),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| Ok((k.clone(), attribute_value(v, k)?))).collect(),
        Some(_) => Err(invalid_option("attributes must be an object")),
    }
}

/// Core attributes as a JS object.
pub(crate) fn attributes_to_js(attrs: &Attributes) -> Value {
    let map = attrs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                AttributeValue::Null => Value::Null,
                AttributeValue::Bool(b) => Value::Bool(*b),
                AttributeValue::Int(i) => Value::from(*i),
                AttributeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
                AttributeValue::String(s) => Value::String(s.clone()),
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(map)
}
