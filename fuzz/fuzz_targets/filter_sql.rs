//! Filters → SQL. Whatever the keys, values and patterns, a filter either compiles to SQL that is the
//! SQL of its shape (operators and `$n` placeholders: no byte of user text), or is rejected with
//! `invalid_option` exactly when it breaks a documented rule: NUL characters, a non-finite number, a
//! LIKE pattern ending in a lone backslash, nesting deeper than MAX_FILTER_DEPTH, too many parameters.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pgmq_core::fuzzing::compile_filter;
use pgmq_core::{AttributeValue, Comparison, Filter, MAX_FILTER_DEPTH};

#[derive(Arbitrary, Debug)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Compare(String, u8, Value),
    IsNull(String),
    IsNotNull(String),
    Like(String, String, bool),
    Exists(String),
    DoesNotExist(String),
    And,
    Or,
}

/// A filter with what the rules say of it, and the same filter with every text replaced.
struct Built {
    filter: Filter,
    shape: Filter,
    depth: usize,
    params: usize,
    valid: bool,
}

fn leaf(filter: Filter, shape: Filter, params: usize, valid: bool) -> Built {
    Built { filter, shape, depth: 1, params, valid }
}

fn ok_text(s: &str) -> bool {
    !s.contains('\0')
}

/// Builds filters from a postfix program (no recursion: deep trees cost no stack here).
fn build(ops: Vec<Op>) -> Vec<Built> {
    let mut stack: Vec<Built> = Vec::new();
    for op in ops {
        let k = || "k".to_owned();
        let built = match op {
            Op::Compare(key, op, value) => {
                let op =
                    [Comparison::Eq, Comparison::Ne, Comparison::Lt, Comparison::Gt, Comparison::Le, Comparison::Ge]
                        [usize::from(op) % 6];
                let (value, valid_value) = match value {
                    Value::Null => (AttributeValue::Null, true),
                    Value::Bool(b) => (AttributeValue::Bool(b), true),
                    Value::Int(i) => (AttributeValue::Int(i), true),
                    Value::Float(f) => (AttributeValue::Float(f), f.is_finite()),
                    Value::String(s) => {
                        let ok = ok_text(&s);
                        (AttributeValue::String(s), ok)
                    }
                };
                let valid = ok_text(&key) && valid_value;
                let shape = Filter::Compare { key: k(), op, value: AttributeValue::Null };
                leaf(Filter::Compare { key, op, value }, shape, 2, valid)
            }
            Op::IsNull(key) => leaf(Filter::IsNull(key.clone()), Filter::IsNull(k()), 1, ok_text(&key)),
            Op::IsNotNull(key) => leaf(Filter::IsNotNull(key.clone()), Filter::IsNotNull(k()), 1, ok_text(&key)),
            Op::Exists(key) => leaf(Filter::Exists(key.clone()), Filter::Exists(k()), 1, ok_text(&key)),
            Op::DoesNotExist(key) => {
                leaf(Filter::DoesNotExist(key.clone()), Filter::DoesNotExist(k()), 1, ok_text(&key))
            }
            Op::Like(key, pattern, negated) => {
                let lone_escape = pattern.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1;
                let valid = ok_text(&key) && ok_text(&pattern) && !lone_escape;
                let shape = Filter::Like { key: k(), pattern: "p".into(), negated };
                leaf(Filter::Like { key, pattern, negated }, shape, 2, valid)
            }
            Op::And | Op::Or => {
                if stack.len() < 2 {
                    continue;
                }
                let b = stack.pop().unwrap();
                let a = stack.pop().unwrap();
                let and = matches!(op, Op::And);
                let join = |x: Filter, y: Filter| if and { x & y } else { x | y };
                Built {
                    filter: join(a.filter, b.filter),
                    shape: join(a.shape, b.shape),
                    depth: a.depth.max(b.depth) + 1,
                    params: a.params + b.params,
                    valid: a.valid && b.valid,
                }
            }
        };
        stack.push(built);
    }
    stack
}

fuzz_target!(|ops: Vec<Op>| {
    for built in build(ops) {
        let expected_ok = built.valid && built.depth <= MAX_FILTER_DEPTH && built.params <= 65_533;
        match compile_filter(&built.filter) {
            Ok(compiled) => {
                assert!(expected_ok, "accepted a filter the rules reject: {:?}", built.filter);
                let skeleton = compile_filter(&built.shape).expect("the shape of a valid filter compiles");
                assert_eq!(compiled.sql, skeleton.sql, "user text changed the SQL");
                assert_eq!(compiled.params.len(), built.params);
                assert!(compiled.sql.is_ascii());
                assert!(!compiled.sql.contains(';') && !compiled.sql.contains("--") && !compiled.sql.contains("/*"));
            }
            Err(e) => {
                assert_eq!(e.code(), "invalid_option", "{e}");
                assert!(!expected_ok, "rejected a valid filter ({e}): {:?}", built.filter);
            }
        }
    }
});
