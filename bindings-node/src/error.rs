//! Core errors as JS errors: the message carries the stable code, `[pgmq:<code>] <text>`.

/// Converts a core error into the napi error the JS layer recognises by its `[pgmq:<code>]` prefix.
pub(crate) fn to_napi(e: pgmq_core::Error) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("[pgmq:{}] {e}", e.code()))
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
