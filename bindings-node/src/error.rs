//! Core errors as JS errors: the message carries the stable code, `[pgmq:<code>] <text>`, and the
//! fields an error class exposes, `[pgmq:<code> <jsName>=<value> ...] <text>`.

use napi::Env;

/// Converts a core error into the napi error the JS layer recognises by its `[pgmq:<code>]` prefix.
/// A napi error carries text only, so the fields the JS error gets as properties (`RequestFailedError`'s
/// `messageId` and `outcome`) travel in the prefix, each a `name=value` without spaces.
pub(crate) fn to_napi(e: pgmq_core::Error) -> napi::Error {
    let fields = match &e {
        pgmq_core::Error::RequestFailed { id, outcome } => format!(" messageId={id} outcome={}", outcome.as_str()),
        _ => String::new(),
    };
    napi::Error::new(napi::Status::GenericFailure, format!("[pgmq:{}{fields}] {e}", e.code()))
}

/// `?`-friendly conversion of core results.
pub(crate) trait IntoNapi<T> {
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for pgmq_core::Result<T> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}

/// An `invalid_option` error (for values napi accepted but the core's types cannot hold).
pub(crate) fn invalid_option(text: impl std::fmt::Display) -> napi::Error {
    to_napi(pgmq_core::Error::InvalidOption(text.to_string()))
}

/// Throws a JS `TypeError` (an argument of the wrong type, as Node's own APIs do) and returns the error
/// that tells napi it is already thrown. For the native classes JS code calls directly (`Filter`,
/// `AttributeCondition`), which no JS layer stands in front of.
pub(crate) fn type_error(env: &Env, text: impl Into<String>) -> napi::Error {
    let text = text.into();
    match env.throw_type_error(&text, None) {
        Ok(()) => napi::Error::new(napi::Status::PendingException, text),
        Err(e) => e,
    }
}
