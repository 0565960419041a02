//! Attribute filters: `Attribute('color').eq('red').and(...)` builds a core [`pgmq_core::Filter`] at
//! each step; a receiver is handed that native object, never an encoding of it.

use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;
use pgmq_core::AttributeValue;

use crate::convert::number_value;
use crate::error::{type_error, IntoNapi};

/// A condition on message attributes, made with `Attribute(key)`; combine with `and` / `or`.
#[napi]
pub struct Filter {
    pub(crate) inner: pgmq_core::Filter,
}

#[napi]
impl Filter {
    /// Not for JS code: a `Filter` is made with `Attribute(key)` (this constructor only throws).
    #[napi(constructor, catch_unwind)]
    pub fn new(env: &Env) -> Result<Self> {
        Err(type_error(env, "a Filter is made with Attribute(key), not constructed directly"))
    }

    /// Both conditions hold. `invalid_option` past `MAX_FILTER_DEPTH` levels: a filter is never built
    /// deeper than it can be used.
    #[napi(ts_args_type = "other: Filter", catch_unwind)]
    pub fn and(&self, env: &Env, other: Either<&Filter, Unknown<'_>>) -> Result<Filter> {
        let other = filter_arg(env, other, "and()")?;
        Ok(Filter { inner: self.inner.clone().checked_and(other.inner.clone()).napi()? })
    }

    /// Either condition holds; `invalid_option` past `MAX_FILTER_DEPTH` levels.
    #[napi(ts_args_type = "other: Filter", catch_unwind)]
    pub fn or(&self, env: &Env, other: Either<&Filter, Unknown<'_>>) -> Result<Filter> {
        let other = filter_arg(env, other, "or()")?;
        Ok(Filter { inner: self.inner.clone().checked_or(other.inner.clone()).napi()? })
    }

    /// The filter as the core prints it (for logs and test failures).
    #[napi(js_name = "toString", catch_unwind)]
    pub fn to_js_string(&self) -> String {
        format!("Filter({:?})", self.inner)
    }
}

fn filter_arg<'a>(env: &Env, arg: Either<&'a Filter, Unknown<'_>>, what: &str) -> Result<&'a Filter> {
    match arg {
        Either::A(f) => Ok(f),
        Either::B(v) => Err(type_error(env, format!("{what} takes a Filter (made with Attribute), got {}", kind(&v)))),
    }
}

/// The conditions on one attribute (made by the JS `Attribute(key)`).
#[napi]
pub struct AttributeCondition {
    key: String,
}

impl AttributeCondition {
    fn attr(&self) -> pgmq_core::Attribute {
        pgmq_core::Attribute::new(self.key.clone())
    }

    fn compare(
        &self,
        env: &Env,
        value: Unknown<'_>,
        what: &str,
        op: fn(pgmq_core::Attribute, AttributeValue) -> pgmq_core::Filter,
    ) -> Result<Filter> {
        let value = attribute_value(env, &value, &self.key, what)?;
        Ok(Filter { inner: op(self.attr(), value) })
    }

    fn like(&self, env: &Env, pattern: Unknown<'_>, what: &str) -> Result<String> {
        string(env, &pattern, &format!("{what}() pattern"))
    }
}

#[napi]
impl AttributeCondition {
    /// The conditions on attribute `key` (a string, else a `TypeError`).
    #[napi(constructor, ts_args_type = "key: string", catch_unwind)]
    pub fn new(env: &Env, key: Unknown<'_>) -> Result<Self> {
        Ok(AttributeCondition { key: string(env, &key, "attribute key")? })
    }

    /// The attribute's key.
    #[napi(getter, catch_unwind)]
    pub fn key(&self) -> String {
        self.key.clone()
    }

    /// Equal (and of the same type).
    #[napi(ts_args_type = "value: string | number | boolean | null", catch_unwind)]
    pub fn eq(&self, env: &Env, value: Unknown<'_>) -> Result<Filter> {
        self.compare(env, value, "eq", pgmq_core::Attribute::eq)
    }

    /// Present and not equal.
    #[napi(ts_args_type = "value: string | number | boolean | null", catch_unwind)]
    pub fn ne(&self, env: &Env, value: Unknown<'_>) -> Result<Filter> {
        self.compare(env, value, "ne", pgmq_core::Attribute::ne)
    }

    /// Less than (same type only).
    #[napi(ts_args_type = "value: string | number | boolean | null", catch_unwind)]
    pub fn lt(&self, env: &Env, value: Unknown<'_>) -> Result<Filter> {
        self.compare(env, value, "lt", pgmq_core::Attribute::lt)
    }

    /// Greater than (same type only).
    #[napi(ts_args_type = "value: string | number | boolean | null", catch_unwind)]
    pub fn gt(&self, env: &Env, value: Unknown<'_>) -> Result<Filter> {
        self.compare(env, value, "gt", pgmq_core::Attribute::gt)
    }

    /// Less than or equal (same type only).
    #[napi(ts_args_type = "value: string | number | boolean | null", catch_unwind)]
    pub fn le(&self, env: &Env, value: Unknown<'_>) -> Result<Filter> {
        self.compare(env, value, "le", pgmq_core::Attribute::le)
    }

    /// Greater than or equal (same type only).
    #[napi(ts_args_type = "value: string | number | boolean | null", catch_unwind)]
    pub fn ge(&self, env: &Env, value: Unknown<'_>) -> Result<Filter> {
        self.compare(env, value, "ge", pgmq_core::Attribute::ge)
    }

    /// Present and `null`.
    #[napi(catch_unwind)]
    pub fn is_null(&self) -> Filter {
        Filter { inner: self.attr().is_null() }
    }

    /// Present and not `null`.
    #[napi(catch_unwind)]
    pub fn is_not_null(&self) -> Filter {
        Filter { inner: self.attr().is_not_null() }
    }

    /// A string matching a SQL `LIKE` pattern.
    #[napi(ts_args_type = "pattern: string", catch_unwind)]
    pub fn is_like(&self, env: &Env, pattern: Unknown<'_>) -> Result<Filter> {
        Ok(Filter { inner: self.attr().is_like(self.like(env, pattern, "isLike")?) })
    }

    /// A string not matching a SQL `LIKE` pattern.
    #[napi(ts_args_type = "pattern: string", catch_unwind)]
    pub fn is_not_like(&self, env: &Env, pattern: Unknown<'_>) -> Result<Filter> {
        Ok(Filter { inner: self.attr().is_not_like(self.like(env, pattern, "isNotLike")?) })
    }

    /// Present, whatever its value.
    #[napi(catch_unwind)]
    pub fn exists(&self) -> Filter {
        Filter { inner: self.attr().exists() }
    }

    /// Absent.
    #[napi(catch_unwind)]
    pub fn does_not_exist(&self) -> Filter {
        Filter { inner: self.attr().does_not_exist() }
    }
}

/// A JS value's kind, for a `TypeError` text.
fn kind(v: &Unknown<'_>) -> String {
    v.get_type().map_or_else(|_| "an unknown value".to_owned(), |t| t.to_string().to_lowercase())
}

fn string(env: &Env, v: &Unknown<'_>, what: &str) -> Result<String> {
    if v.get_type()? != ValueType::String {
        return Err(type_error(env, format!("{what} must be a string, got {}", kind(v))));
    }
    v.coerce_to_string()?.into_utf8()?.into_owned()
}

/// A filter's value: a string, number, boolean or null (else a `TypeError`). A number that is not
/// finite is the core's to refuse (`invalid_option` when the filter is used), as in every language.
fn attribute_value(env: &Env, v: &Unknown<'_>, key: &str, what: &str) -> Result<AttributeValue> {
    Ok(match v.get_type()? {
        ValueType::Null => AttributeValue::Null,
        ValueType::Boolean => AttributeValue::Bool(v.coerce_to_bool()?),
        ValueType::Number => number_value(v.coerce_to_number()?.get_double()?),
        ValueType::String => AttributeValue::String(v.coerce_to_string()?.into_utf8()?.into_owned()?),
        _ => {
            return Err(type_error(
                env,
                format!("Attribute({key:?}).{what}() value must be a string, number, boolean or null, got {}", kind(v)),
            ))
        }
    })
}
