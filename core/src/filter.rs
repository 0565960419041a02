//! Attribute filters for receivers, compiled to SQL whose every key, value and pattern is a bound
//! parameter: user text never becomes SQL.

use std::ops::{BitAnd, BitOr};

use tokio_postgres::types::ToSql;

use crate::error::Result;
use crate::options::{check_no_nul, AttributeValue};

/// A comparison of one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Eq,
    /// `<>` (the attribute must exist)
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

/// A condition on message attributes. Build one with [`Attribute`] and combine with `&` and `|`.
///
/// Numbers compare numerically and strings textually; an ordering comparison between values of
/// different JSON types (a string and a number) is false.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The attribute compares to the value (exists, same type for orderings).
    Compare {
        /// Attribute key.
        key: String,
        /// The comparison.
        op: Comparison,
        /// The value compared to.
        value: AttributeValue,
    },
    /// The attribute exists and is `null`.
    IsNull(String),
    /// The attribute exists and is not `null`.
    IsNotNull(String),
    /// The attribute is a string matching (or with `negated`, not matching) a SQL `LIKE` pattern.
    Like {
        /// Attribute key.
        key: String,
        /// `LIKE` pattern (`%` and `_` wildcards).
        pattern: String,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// The attribute exists.
    Exists(String),
    /// The attribute does not exist.
    DoesNotExist(String),
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
}

/// Starts a filter on one attribute: `Attribute::new("color").eq("red")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute(String);

impl Attribute {
    /// The attribute with this key.
    pub fn new(key: impl Into<String>) -> Self {
        Attribute(key.into())
    }
    fn cmp(self, op: Comparison, value: impl Into<AttributeValue>) -> Filter {
        Filter::Compare { key: self.0, op, value: value.into() }
    }
    /// Equal to `value`.
    pub fn eq(self, value: impl Into<AttributeValue>) -> Filter {
        self.cmp(Comparison::Eq, value)
    }
    /// Present and not equal to `value`.
    pub fn ne(self, value: impl Into<AttributeValue>) -> Filter {
        self.cmp(Comparison::Ne, value)
    }
    /// Less than `value`.
    pub fn lt(self, value: impl Into<AttributeValue>) -> Filter {
        self.cmp(Comparison::Lt, value)
    }
    /// Greater than `value`.
    pub fn gt(self, value: impl Into<AttributeValue>) -> Filter {
        self.cmp(Comparison::Gt, value)
    }
    /// Less than or equal to `value`.
    pub fn le(self, value: impl Into<AttributeValue>) -> Filter {
        self.cmp(Comparison::Le, value)
    }
    /// Greater than or equal to `value`.
    pub fn ge(self, value: impl Into<AttributeValue>) -> Filter {
        self.cmp(Comparison::Ge, value)
    }
    /// Present and `null`.
    pub fn is_null(self) -> Filter {
        Filter::IsNull(self.0)
    }
    /// Present and not `null`.
    pub fn is_not_null(self) -> Filter {
        Filter::IsNotNull(self.0)
    }
    /// A string matching the `LIKE` pattern.
    pub fn is_like(self, pattern: impl Into<String>) -> Filter {
        Filter::Like { key: self.0, pattern: pattern.into(), negated: false }
    }
    /// A string not matching the `LIKE` pattern.
    pub fn is_not_like(self, pattern: impl Into<String>) -> Filter {
        Filter::Like { key: self.0, pattern: pattern.into(), negated: true }
    }
    /// Present, whatever its value.
    pub fn exists(self) -> Filter {
        Filter::Exists(self.0)
    }
    /// Absent.
    pub fn does_not_exist(self) -> Filter {
        Filter::DoesNotExist(self.0)
    }
}

impl Filter {
    /// Both this and `other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }
    /// This or `other`.
    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    /// Appends this filter as a SQL boolean expression over `m.attributes`, pushing its parameters.
    /// Only operators and `$n` placeholders are written; the text of keys and values never is.
    pub(crate) fn write_sql(&self, sql: &mut String, params: &mut SqlParams) -> Result<()> {
        match self {
            Filter::Compare { key, op, value } => {
                let k = params.text(key)?;
                let v = params.json(value.to_json()?);
                let op = match op {
                    Comparison::Eq => {
                        sql.push_str(&format!("(m.attributes -> {k}) = {v}"));
                        return Ok(());
                    }
                    Comparison::Ne => {
                        sql.push_str(&format!("(m.attributes ? {k} AND (m.attributes -> {k}) <> {v})"));
                        return Ok(());
                    }
                    Comparison::Lt => "<",
                    Comparison::Gt => ">",
                    Comparison::Le => "<=",
                    Comparison::Ge => ">=",
                };
                sql.push_str(&format!(
                    "(jsonb_typeof(m.attributes -> {k}) = jsonb_typeof({v}) AND (m.attributes -> {k}) {op} {v})"
                ));
            }
            Filter::IsNull(key) => {
                let k = params.text(key)?;
                sql.push_str(&format!("(m.attributes -> {k}) = 'null'::jsonb"));
            }
            Filter::IsNotNull(key) => {
                let k = params.text(key)?;
                sql.push_str(&format!("(m.attributes ? {k} AND (m.attributes -> {k}) <> 'null'::jsonb)"));
            }
            Filter::Like { key, pattern, negated } => {
                let k = params.text(key)?;
                let p = params.text(pattern)?;
                let not = if *negated { "NOT " } else { "" };
                sql.push_str(&format!(
                    "(jsonb_typeof(m.attributes -> {k}) = 'string' AND (m.attributes ->> {k}) {not}LIKE {p})"
                ));
            }
            Filter::Exists(key) => {
                let k = params.text(key)?;
                sql.push_str(&format!("(m.attributes ? {k})"));
            }
            Filter::DoesNotExist(key) => {
                let k = params.text(key)?;
                sql.push_str(&format!("(NOT m.attributes ? {k})"));
            }
            Filter::And(a, b) | Filter::Or(a, b) => {
                let joiner = if matches!(self, Filter::And(..)) { " AND " } else { " OR " };
                sql.push('(');
                a.write_sql(sql, params)?;
                sql.push_str(joiner);
                b.write_sql(sql, params)?;
                sql.push(')');
            }
        }
        Ok(())
    }
}

impl BitAnd for Filter {
    type Output = Filter;
    fn bitand(self, rhs: Filter) -> Filter {
        self.and(rhs)
    }
}

impl BitOr for Filter {
    type Output = Filter;
    fn bitor(self, rhs: Filter) -> Filter {
        self.or(rhs)
    }
}

/// The parameters of a statement under construction, numbered from a starting index.
pub(crate) struct SqlParams {
    next: usize,
    pub(crate) values: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl SqlParams {
    pub(crate) fn starting_at(first: usize) -> Self {
        SqlParams { next: first, values: Vec::new() }
    }
    fn push(&mut self, v: Box<dyn ToSql + Sync + Send>, cast: &str) -> String {
        self.values.push(v);
        let placeholder = format!("${}::{cast}", self.next);
        self.next += 1;
        placeholder
    }
    fn text(&mut self, s: &str) -> Result<String> {
        check_no_nul(s, "filter text")?;
        Ok(self.push(Box::new(s.to_owned()), "text"))
    }
    fn json(&mut self, v: serde_json::Value) -> String {
        self.push(Box::new(v), "jsonb")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_sql_holds_no_user_text() {
        let evil = "x'); DROP TABLE pgmq.messages; --";
        let f = Attribute::new(evil).eq(evil) | Attribute::new("a").is_like(evil) & Attribute::new(evil).gt(3);
        let mut sql = String::new();
        let mut params = SqlParams::starting_at(3);
        f.write_sql(&mut sql, &mut params).unwrap();
        assert!(!sql.contains("DROP"), "{sql}");
        assert!(!sql.contains(evil), "{sql}");
        assert_eq!(params.values.len(), 6);
        assert!(sql.contains("$3::text") && sql.contains("$8::jsonb"), "{sql}");
    }

    #[test]
    fn nul_in_filter_text_is_rejected() {
        let mut sql = String::new();
        let mut params = SqlParams::starting_at(1);
        let err = Attribute::new("a\0b").exists().write_sql(&mut sql, &mut params).unwrap_err();
        assert_eq!(err.code(), "invalid_option");
    }
}
