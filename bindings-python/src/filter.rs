//! Attribute filters: `Attribute("color").eq("red") | Attribute("size").gt(3)`. The core turns them into
//! SQL with every key and value bound as a parameter.

use pgmq_core::AttributeValue;
use pyo3::prelude::*;

use crate::convert::attribute_value;
use crate::error::ToPyResult;

/// Starts a condition on one message attribute.
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Attribute {
    key: String,
}

/// A condition on message attributes; combine with `&` (and) and `|` (or).
#[pyclass(frozen, module = "pgmq._pgmq")]
pub(crate) struct Filter {
    pub(crate) inner: pgmq_core::Filter,
}

impl Attribute {
    fn attr(&self) -> pgmq_core::Attribute {
        pgmq_core::Attribute::new(self.key.clone())
    }
    fn compare(
        &self,
        value: &Bound<'_, PyAny>,
        op: fn(pgmq_core::Attribute, AttributeValue) -> pgmq_core::Filter,
    ) -> PyResult<Filter> {
        Ok(Filter { inner: op(self.attr(), attribute_value(value)?) })
    }
}

#[pymethods]
impl Attribute {
    #[new]
    fn new(key: String) -> Self {
        Attribute { key }
    }

    /// The attribute's key.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Equal to `value` (numbers compare numerically, strings textually).
    fn eq(&self, value: &Bound<'_, PyAny>) -> PyResult<Filter> {
        self.compare(value, pgmq_core::Attribute::eq)
    }
    /// Present and not equal to `value`.
    fn ne(&self, value: &Bound<'_, PyAny>) -> PyResult<Filter> {
        self.compare(value, pgmq_core::Attribute::ne)
    }
    /// Less than `value` (same type only).
    fn lt(&self, value: &Bound<'_, PyAny>) -> PyResult<Filter> {
        self.compare(value, pgmq_core::Attribute::lt)
    }
    /// Greater than `value` (same type only).
    fn gt(&self, value: &Bound<'_, PyAny>) -> PyResult<Filter> {
        self.compare(value, pgmq_core::Attribute::gt)
    }
    /// Less than or equal to `value` (same type only).
    fn le(&self, value: &Bound<'_, PyAny>) -> PyResult<Filter> {
        self.compare(value, pgmq_core::Attribute::le)
    }
    /// Greater than or equal to `value` (same type only).
    fn ge(&self, value: &Bound<'_, PyAny>) -> PyResult<Filter> {
        self.compare(value, pgmq_core::Attribute::ge)
    }
    /// Present and `None`.
    fn is_null(&self) -> Filter {
        Filter { inner: self.attr().is_null() }
    }
    /// Present and not `None`.
    fn is_not_null(&self) -> Filter {
        Filter { inner: self.attr().is_not_null() }
    }
    /// A string matching the SQL `LIKE` pattern (`%` and `_` wildcards).
    fn is_like(&self, pattern: String) -> Filter {
        Filter { inner: self.attr().is_like(pattern) }
    }
    /// A string not matching the SQL `LIKE` pattern.
    fn is_not_like(&self, pattern: String) -> Filter {
        Filter { inner: self.attr().is_not_like(pattern) }
    }
    /// Present, whatever its value.
    fn exists(&self) -> Filter {
        Filter { inner: self.attr().exists() }
    }
    /// Absent.
    fn does_not_exist(&self) -> Filter {
        Filter { inner: self.attr().does_not_exist() }
    }

    fn __repr__(&self) -> String {
        format!("Attribute({:?})", self.key)
    }
}

#[pymethods]
impl Filter {
    /// Both; `pgmq.InvalidOption` past `MAX_FILTER_DEPTH` levels (as in every binding: a filter is
    /// never built deeper than it can be used, cloned or dropped).
    fn __and__(&self, py: Python<'_>, other: &Filter) -> PyResult<Filter> {
        Ok(Filter { inner: self.inner.clone().checked_and(other.inner.clone()).to_py(py)? })
    }

    /// Either; `pgmq.InvalidOption` past `MAX_FILTER_DEPTH` levels.
    fn __or__(&self, py: Python<'_>, other: &Filter) -> PyResult<Filter> {
        Ok(Filter { inner: self.inner.clone().checked_or(other.inner.clone()).to_py(py)? })
    }

    fn __repr__(&self) -> String {
        format!("<pgmq.Filter {:?}>", self.inner)
    }
}
