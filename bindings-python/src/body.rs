//! A message's body as Python reads it, for leased and peeked messages and replies alike: `bytes` made
//! once, `.json()`, and `.decode()` by the serializer of the queue handle it was read through (the
//! decoding itself is `pgmq/_serializers.py`'s, which asks the core's [`is_json_content_type`] which
//! labels read as JSON).

use std::sync::Arc;

use pgmq_core::{AttributeValue, Attributes, CONTENT_TYPE_ATTRIBUTE};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

/// `pgmq_core::is_json_content_type`: whether a message with this `content-type` attribute (`None`: none)
/// reads as JSON: no label, `application/json` with or without parameters, or an `application/*+json`
/// type, case-insensitively. The one rule of every language's `message.json()`.
#[pyfunction]
#[pyo3(signature = (content_type, /))]
pub(crate) fn is_json_content_type(content_type: Option<&str>) -> bool {
    pgmq_core::is_json_content_type(content_type)
}

/// The body of one message and what decodes it.
pub(crate) struct Body {
    bytes: Vec<u8>,
    /// The `bytes` object, made on first use and then shared: a body is never copied twice.
    py_bytes: PyOnceLock<Py<PyBytes>>,
    /// The serializer of the queue handle it was read through; `None`: JSON.
    serializer: Option<Arc<Py<PyAny>>>,
}

impl Body {
    pub(crate) fn new(bytes: Vec<u8>, serializer: Option<Arc<Py<PyAny>>>) -> Body {
        Body { bytes, py_bytes: PyOnceLock::new(), serializer }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The body as `bytes`.
    pub(crate) fn to_py(&self, py: Python<'_>) -> Py<PyBytes> {
        self.py_bytes.get_or_init(py, || PyBytes::new(py, &self.bytes).unbind()).clone_ref(py)
    }

    /// The serializer of the queue handle it was read through (`None`: JSON), for what is sent back.
    pub(crate) fn serializer(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.serializer.as_ref().map(|s| s.clone_ref(py))
    }

    /// The body parsed as JSON (`pgmq._serializers.decode_json`): `ContentTypeError` if `content_type`
    /// names another encoding; what `json.loads` raises if it is not JSON. `what` names the reader in
    /// the error: `"message"` or `"reply"`.
    pub(crate) fn json<'py>(
        &self,
        py: Python<'py>,
        content_type: Option<&str>,
        what: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        static DECODE_JSON: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let decode_json = DECODE_JSON.import(py, "pgmq._serializers", "decode_json")?;
        decode_json.call1((self.to_py(py), content_type, what))
    }

    /// The body decoded by the serializer (`pgmq._serializers.decode`): `ContentTypeError` if
    /// `content_type` is not the serializer's. `what` as for [`Body::json`].
    pub(crate) fn decode<'py>(
        &self,
        py: Python<'py>,
        content_type: Option<&str>,
        what: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        static DECODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        DECODE.import(py, "pgmq._serializers", "decode")?.call1((
            self.to_py(py),
            content_type,
            self.serializer(py),
            what,
        ))
    }
}

/// The `content-type` attribute (the core's `CONTENT_TYPE_ATTRIBUTE`), if the message has one that is a
/// string: as `is_json_content_type` says, one of another type labels nothing.
pub(crate) fn content_type(attributes: &Attributes) -> Option<&str> {
    match attributes.get(CONTENT_TYPE_ATTRIBUTE) {
        Some(AttributeValue::String(label)) => Some(label),
        _ => None,
    }
}
