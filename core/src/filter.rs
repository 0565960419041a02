//! Attribute filters for receivers, compiled to SQL whose every key, value and pattern is a bound
//! parameter: user text never becomes SQL.

use std::ops::{BitAnd, BitOr};

use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::options::{check_no_nul, AttributeValue, JsonText};

/// A comparison of one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Hash)]
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

    /// How many levels this filter nests: 1 for a condition on one attribute, and each `and` / `or` one
    /// more than the deeper of its two sides (a chain `a & b & c` is 3). A filter may be at most
    /// [`MAX_FILTER_DEPTH`] deep. Computed without recursion, so any filter can be measured, however
    /// deep.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut todo = vec![(self, 1)];
        while let Some((f, depth)) = todo.pop() {
            deepest = deepest.max(depth);
            if let Filter::And(a, b) | Filter::Or(a, b) = f {
                todo.push((a, depth + 1));
                todo.push((b, depth + 1));
            }
        }
        deepest
    }

    /// Both this and `other`, or [`Error::InvalidOption`] if the result would nest deeper than
    /// [`MAX_FILTER_DEPTH`]: for callers (the bindings) that must never hold a filter deeper than
    /// the limit, since walking and dropping one recurses.
    pub fn checked_and(self, other: Filter) -> Result<Filter> {
        check_combined_depth(&self, &other)?;
        Ok(self.and(other))
    }

    /// This or `other`, or [`Error::InvalidOption`] if the result would nest deeper than
    /// [`MAX_FILTER_DEPTH`] (see [`Filter::checked_and`]).
    pub fn checked_or(self, other: Filter) -> Result<Filter> {
        check_combined_depth(&self, &other)?;
        Ok(self.or(other))
    }

    /// Appends this filter as a SQL boolean expression over `m.attributes`, pushing its parameters.
    /// Only operators and `$n` placeholders are written; the text of keys and values never is.
    ///
    /// [`Error::InvalidOption`] for what PostgreSQL would reject only when the statement runs: NUL
    /// characters, a `LIKE` pattern ending in an escape character, non-finite numbers, more parameters
    /// than a statement can bind, or nesting deeper than [`MAX_FILTER_DEPTH`].
    pub(crate) fn write_sql(&self, sql: &mut String, params: &mut SqlParams) -> Result<()> {
        self.write_sql_at(sql, params, 1)
    }

    /// The recursive part, kept to a small stack frame: a leaf is written by [`Filter::write_leaf`].
    fn write_sql_at(&self, sql: &mut String, params: &mut SqlParams, depth: usize) -> Result<()> {
        if depth > MAX_FILTER_DEPTH {
            return Err(Error::invalid_option(format!("filters may nest at most {MAX_FILTER_DEPTH} levels deep")));
        }
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                sql.push('(');
                a.write_sql_at(sql, params, depth + 1)?;
                sql.push_str(if matches!(self, Filter::And(..)) { " AND " } else { " OR " });
                b.write_sql_at(sql, params, depth + 1)?;
                sql.push(')');
                Ok(())
            }
            leaf => leaf.write_leaf(sql, params),
        }
    }

    #[inline(never)]
    fn write_leaf(&self, sql: &mut String, params: &mut SqlParams) -> Result<()> {
        match self {
            Filter::Compare { key, op, value } => {
                let k = params.text(key)?;
                let v = params.json(value.to_json()?)?;
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
                    "(pg_catalog.jsonb_typeof(m.attributes -> {k}) = pg_catalog.jsonb_typeof({v}) \
                     AND (m.attributes -> {k}) {op} {v})"
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
                // PostgreSQL fails the whole statement on a pattern ending in a lone escape character.
                if pattern.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1 {
                    return Err(Error::invalid_option("a LIKE pattern must not end with an unescaped backslash"));
                }
                let k = params.text(key)?;
                let p = params.text(pattern)?;
                let not = if *negated { "NOT " } else { "" };
                sql.push_str(&format!(
                    "(pg_catalog.jsonb_typeof(m.attributes -> {k}) = 'string' AND (m.attributes ->> {k}) {not}LIKE {p})"
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
            Filter::And(..) | Filter::Or(..) => unreachable!("written by write_sql_at"),
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

/// How deeply `and` / `or` may nest in one filter (a chain `a & b & c ...` nests one level per `&`;
/// combine long lists pairwise to stay shallow). Deeper filters are [`Error::InvalidOption`]. The bound
/// keeps every step that walks a filter recursively (here, in PostgreSQL's parser, and in the bindings'
/// conversions, some on threads with small stacks, such as a JVM's 1 MiB) far from the end of its stack.
pub const MAX_FILTER_DEPTH: usize = 100;

/// Whether `a` and `b` combined by one `and` / `or` nest at most [`MAX_FILTER_DEPTH`] levels.
fn check_combined_depth(a: &Filter, b: &Filter) -> Result<()> {
    let depth = a.depth().max(b.depth()) + 1;
    if depth > MAX_FILTER_DEPTH {
        return Err(Error::invalid_option(format!(
            "filters may nest at most {MAX_FILTER_DEPTH} levels deep (MAX_FILTER_DEPTH); this and / or would \
             nest {depth} levels: combine long lists pairwise"
        )));
    }
    Ok(())
}

/// The most parameters one PostgreSQL statement can bind.
const MAX_PARAMS: usize = u16::MAX as usize;

/// The parameters of a statement under construction, numbered from a starting index.
pub(crate) struct SqlParams {
    next: usize,
    pub(crate) values: Vec<Box<dyn ToSql + Sync + Send>>,
    /// The type of each value, for statements sent unnamed (see `db.rs`).
    pub(crate) types: Vec<tokio_postgres::types::Type>,
}

impl SqlParams {
    pub(crate) fn starting_at(first: usize) -> Self {
        SqlParams { next: first, values: Vec::new(), types: Vec::new() }
    }
    fn push(&mut self, v: Box<dyn ToSql + Sync + Send>, ty: tokio_postgres::types::Type) -> Result<String> {
        if self.next > MAX_PARAMS {
            return Err(Error::invalid_option(format!(
                "a filter may hold at most {} keys, values and patterns",
                MAX_PARAMS - 2
            )));
        }
        self.values.push(v);
        let placeholder = format!("${}::{}", self.next, ty.name());
        self.types.push(ty);
        self.next += 1;
        Ok(placeholder)
    }
    fn text(&mut self, s: &str) -> Result<String> {
        check_no_nul(s, "filter text")?;
        self.push(Box::new(s.to_owned()), tokio_postgres::types::Type::TEXT)
    }
    fn json(&mut self, v: JsonText) -> Result<String> {
        self.push(Box::new(v), tokio_postgres::types::Type::JSONB)
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

    /// Text that would break out of a quoted literal, end a statement or open a comment if it were ever
    /// pasted into SQL.
    const HOSTILE: &[&str] = &[
        "x'); DROP TABLE pgmq.messages; --",
        "'",
        "''",
        "\"",
        ";",
        "$$",
        "$1",
        "$tag$ SELECT 1 $tag$",
        "--",
        "/*",
        "*/",
        "\\\\",
        "\n\r\t",
        "é ü 中文 🎉",
        "\u{202e}\u{fffd}\u{feff}",
        "E'\\x00'",
        "attributes ? 'a'",
        "",
    ];

    /// Every filter shape over one key, with `text` as its key, compared value and pattern.
    fn every_shape(text: &str) -> Vec<Filter> {
        let a = || Attribute::new(text);
        vec![
            a().eq(text),
            a().ne(text),
            a().lt(text),
            a().gt(text),
            a().le(text),
            a().ge(text),
            a().eq(1.5),
            a().is_null(),
            a().is_not_null(),
            a().is_like(text),
            a().is_not_like(text),
            a().exists(),
            a().does_not_exist(),
            a().eq(text) & (a().is_like(text) | a().does_not_exist()),
        ]
    }

    fn compile(f: &Filter) -> Result<(String, usize)> {
        let mut sql = String::new();
        let mut params = SqlParams::starting_at(3);
        f.write_sql(&mut sql, &mut params)?;
        Ok((sql, params.values.len()))
    }

    #[test]
    fn hostile_keys_values_and_patterns_only_ever_become_placeholders() {
        let skeletons: Vec<(String, usize)> = every_shape("x").iter().map(|f| compile(f).unwrap()).collect();
        for text in HOSTILE {
            for (f, skeleton) in every_shape(text).iter().zip(&skeletons) {
                let (sql, n) = compile(f).unwrap_or_else(|e| panic!("{text:?} in {f:?}: {e}"));
                // The statement is the same whatever the text: it cannot contain any of it.
                assert_eq!(&(sql.clone(), n), skeleton, "{text:?} changed the SQL of {f:?}");
                assert!(sql.is_ascii() && !sql.contains(';') && !sql.contains("--") && !sql.contains("/*"), "{sql}");
            }
        }
    }

    #[test]
    fn like_pattern_ending_in_a_lone_escape_is_rejected_before_any_statement() {
        for bad in ["\\", "abc\\", "a\\\\\\"] {
            let err = compile(&Attribute::new("k").is_like(bad)).unwrap_err();
            assert_eq!(err.code(), "invalid_option", "{bad:?}");
        }
        for good in ["\\\\", "a\\%", "a\\\\\\_b", "100\\%"] {
            compile(&Attribute::new("k").is_not_like(good)).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
    }

    #[test]
    fn too_deep_or_too_many_parameters_is_rejected_not_a_crash() {
        let chain = |n: usize| (1..n).fold(Attribute::new("a").exists(), |f, _| f & Attribute::new("a").exists());
        compile(&chain(MAX_FILTER_DEPTH)).expect("a chain of MAX_FILTER_DEPTH conditions compiles");
        assert_eq!(compile(&chain(MAX_FILTER_DEPTH + 1)).unwrap_err().code(), "invalid_option");

        // 2^15 comparisons of 2 parameters each, balanced (depth 16): more than a statement can bind.
        let mut level: Vec<Filter> = (0..1 << 15).map(|i| Attribute::new("k").eq(i)).collect();
        while level.len() > 1 {
            level = level.chunks(2).map(|p| p[0].clone() & p[1].clone()).collect();
        }
        assert_eq!(compile(&level[0]).unwrap_err().code(), "invalid_option");
    }

    #[test]
    fn depth_counts_levels_and_checked_combinators_stop_at_the_limit() {
        let leaf = || Attribute::new("a").exists();
        assert_eq!(leaf().depth(), 1);
        assert_eq!((leaf() & leaf()).depth(), 2);
        assert_eq!((leaf() | (leaf() & (leaf() | leaf()))).depth(), 4);
        assert_eq!(((leaf() & leaf()) | leaf()).depth(), 3);

        // A chain built with checked_and / checked_or reaches MAX_FILTER_DEPTH, compiles, and goes no further.
        let mut chain = leaf();
        for level in 2..=MAX_FILTER_DEPTH {
            chain = if level % 2 == 0 { chain.checked_and(leaf()) } else { chain.checked_or(leaf()) }.unwrap();
            assert_eq!(chain.depth(), level);
        }
        compile(&chain).expect("MAX_FILTER_DEPTH levels compile");
        for err in [chain.clone().checked_and(leaf()), leaf().checked_or(chain.clone())] {
            let err = err.unwrap_err();
            assert_eq!(err.code(), "invalid_option");
            assert!(err.to_string().contains(&format!("at most {MAX_FILTER_DEPTH} levels")), "{err}");
        }
        // Two sides of MAX_FILTER_DEPTH - 1 make exactly MAX_FILTER_DEPTH.
        let below = |n: usize| (1..n).fold(leaf(), |f, _| f & leaf());
        let widest = below(MAX_FILTER_DEPTH - 1).checked_or(below(MAX_FILTER_DEPTH - 1)).unwrap();
        assert_eq!(widest.depth(), MAX_FILTER_DEPTH);

        // depth() itself does not recurse: a filter far deeper than the limit is measured (and then taken
        // apart without recursion, as its drop would overflow the stack).
        let mut deep = leaf();
        for _ in 1..100_000 {
            deep = deep & leaf();
        }
        assert_eq!(deep.depth(), 100_000);
        while let Filter::And(a, _) = deep {
            deep = *a;
        }
    }

    #[test]
    fn equal_filters_hash_alike() {
        use std::hash::{BuildHasher, RandomState};
        let h = RandomState::new();
        let a = Attribute::new("x").eq(0.0) & Attribute::new("y").is_like("a%");
        let b = Attribute::new("x").eq(-0.0) & Attribute::new("y").is_like("a%");
        assert_eq!(a, b);
        assert_eq!(h.hash_one(&a), h.hash_one(&b));
        assert_ne!(h.hash_one(Attribute::new("x").eq(1)), h.hash_one(Attribute::new("x").eq(1.0)));
    }

    #[test]
    fn nul_in_filter_text_is_rejected() {
        let mut sql = String::new();
        let mut params = SqlParams::starting_at(1);
        let err = Attribute::new("a\0b").exists().write_sql(&mut sql, &mut params).unwrap_err();
        assert_eq!(err.code(), "invalid_option");
    }
}
