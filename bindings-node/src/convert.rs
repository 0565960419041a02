//! JS values (already type-checked by the JS layer) to core types: durations, ids, attributes, filters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use pgmq_core::{Attribute, AttributeValue, Attributes, Filter, Uuid, MAX_FILTER_DEPTH};
use serde_json::Value;

use crate::error::invalid_option;

/// Milliseconds (finite, >= 0: checked by the JS layer, again here) as a duration.
pub(crate) fn duration_ms(ms: f64, what: &str) -> Result<Duration> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(invalid_option(format!("{what} must be a finite number of milliseconds >= 0, got {ms}")));
    }
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| invalid_option(format!("{what} is too long")))
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

pub(crate) fn uuid(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| invalid_option(format!("{id:?} is not a message id (a UUID)")))
}

pub(crate) fn uuids(ids: &[String]) -> Result<Vec<Uuid>> {
    ids.iter().map(|id| uuid(id)).collect()
}

fn attribute_value(v: &Value, key: &str) -> Result<AttributeValue> {
    Ok(match v {
        Value::Null => AttributeValue::Null,
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::String(s) => AttributeValue::String(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AttributeValue::Int(i),
            None => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // JS has one number type: 3.0 is the integer 3.
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    AttributeValue::Int(f as i64)
                } else {
                    AttributeValue::Float(f)
                }
            }
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

fn field<'a>(node: &'a Value, name: &str) -> Result<&'a Value> {
    node.get(name).ok_or_else(|| invalid_option(format!("filter node without {name:?}")))
}

fn key(node: &Value) -> Result<String> {
    field(node, "key")?.as_str().map(str::to_owned).ok_or_else(|| invalid_option("filter key must be a string"))
}

/// The filter built by the JS `Attribute` class, in postfix order: `{op, key, value | pattern}` leaves
/// and `{op: 'and' | 'or'}` combining the two filters before it. Rebuilt with a stack, never recursion,
/// and refused past [`MAX_FILTER_DEPTH`] before a deeper one is built (whose drop would recurse).
pub(crate) fn filter(nodes: &Value) -> Result<Filter> {
    let malformed = || invalid_option("malformed filter");
    let nodes = nodes.as_array().ok_or_else(malformed)?;
    let mut stack: Vec<(Filter, usize)> = Vec::new();
    for node in nodes {
        let op = field(node, "op")?.as_str().unwrap_or_default();
        let built = if op == "and" || op == "or" {
            let ((b, db), (a, da)) = stack.pop().zip(stack.pop()).ok_or_else(malformed)?;
            let depth = da.max(db) + 1;
            if depth > MAX_FILTER_DEPTH {
                return Err(invalid_option(format!("filters may nest at most {MAX_FILTER_DEPTH} levels deep")));
            }
            (if op == "and" { a.and(b) } else { a.or(b) }, depth)
        } else {
            (leaf(node, op)?, 1)
        };
        stack.push(built);
    }
    match (stack.pop(), stack.is_empty()) {
        (Some((f, _)), true) => Ok(f),
        _ => Err(malformed()),
    }
}

fn leaf(node: &Value, op: &str) -> Result<Filter> {
    let attr = || key(node).map(Attribute::new);
    Ok(match op {
        "eq" | "ne" | "lt" | "gt" | "le" | "ge" => {
            let a = attr()?;
            let value = attribute_value(field(node, "value")?, a_key(node))?;
            match op {
                "eq" => a.eq(value),
                "ne" => a.ne(value),
                "lt" => a.lt(value),
                "gt" => a.gt(value),
                "le" => a.le(value),
                _ => a.ge(value),
            }
        }
        "isNull" => attr()?.is_null(),
        "isNotNull" => attr()?.is_not_null(),
        "exists" => attr()?.exists(),
        "doesNotExist" => attr()?.does_not_exist(),
        "isLike" | "isNotLike" => {
            let pattern = field(node, "pattern")?
                .as_str()
                .ok_or_else(|| invalid_option("a LIKE pattern must be a string"))?
                .to_owned();
            if op == "isLike" {
                attr()?.is_like(pattern)
            } else {
                attr()?.is_not_like(pattern)
            }
        }
        other => return Err(invalid_option(format!("unknown filter operation {other:?}"))),
    })
}

fn a_key(node: &Value) -> &str {
    node.get("key").and_then(Value::as_str).unwrap_or_default()
}
