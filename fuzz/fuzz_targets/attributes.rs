//! Attributes → the JSON text a send binds → the attributes a receiver makes of it. Either the encoder
//! rejects them with `invalid_option` (NUL in a key or string, a non-finite number), or they come back
//! equal, variant for variant: an integral float stays a float, an int an int.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pgmq_core::fuzzing::{decode_attributes, encode_attributes};
use pgmq_core::{AttributeValue, Attributes};

#[derive(Arbitrary, Debug)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

fuzz_target!(|pairs: Vec<(String, Value)>| {
    let attributes: Attributes = pairs
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Null => AttributeValue::Null,
                Value::Bool(b) => AttributeValue::Bool(b),
                Value::Int(i) => AttributeValue::Int(i),
                Value::Float(f) => AttributeValue::Float(f),
                Value::String(s) => AttributeValue::String(s),
            };
            (k, v)
        })
        .collect();
    let valid = attributes.iter().all(|(k, v)| {
        !k.contains('\0')
            && match v {
                AttributeValue::Float(f) => f.is_finite(),
                AttributeValue::String(s) => !s.contains('\0'),
                _ => true,
            }
    });
    match encode_attributes(&attributes) {
        Ok(json) => {
            assert!(valid, "accepted attributes the rules reject: {attributes:?}");
            let decoded = decode_attributes(&json).unwrap_or_else(|| panic!("not JSON: {json}"));
            assert_eq!(decoded, attributes, "{json}");
        }
        Err(e) => {
            assert_eq!(e.code(), "invalid_option", "{e}");
            assert!(!valid, "rejected valid attributes ({e}): {attributes:?}");
        }
    }
});
