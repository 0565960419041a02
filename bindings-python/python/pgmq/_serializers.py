"""Bodies that are not bytes: text as it is, other values by the :class:`Serializer` of a queue handle.

What ``queue.send(body)`` sends, the same rule in every language:

- bytes-like: as they are, unlabelled; read back as ``message.body``;
- a ``str``: its UTF-8 text, unlabelled (read back as ``message.body.decode()``), unless the queue handle
  was given a serializer explicitly (``connect_to_queue(..., serializer=)``): then it goes through it;
- any other value: encoded by the handle's serializer (compact JSON when it has none) and labelled with
  the attribute ``content-type`` (:data:`pgmq.CONTENT_TYPE_ATTRIBUTE`) set to the serializer's content type,
  so that a reader in any language knows how to decode it. A reader gets the value back with
  ``message.json()`` (always JSON) or ``message.decode()`` (the serializer of the queue handle it received
  through).

Which labels read as JSON is the core's rule (``pgmq_core::is_json_content_type``): none,
``application/json`` with or without parameters, or an ``application/*+json`` type.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple, runtime_checkable

from . import _pgmq
from ._errors import InvalidOption
from ._types import OutgoingMessage

CONTENT_TYPE_ATTRIBUTE: str = _pgmq.CONTENT_TYPE_ATTRIBUTE
"""The attribute naming a body's encoding: ``"content-type"`` (the core's constant, the same in every
language)."""

JSON_CONTENT_TYPE: str = _pgmq.JSON_CONTENT_TYPE
"""The content type of a JSON body (UTF-8 JSON text): ``"application/json"``."""


class ContentTypeError(ValueError):
    """``message.json()`` or ``message.decode()`` was called on a message whose ``content-type`` attribute
    names another encoding. The body was not parsed. ``content_type`` is the message's, ``expected`` the
    one asked for."""

    def __init__(self, message: str, content_type: object, expected: str) -> None:
        super().__init__(message)
        self.content_type = content_type
        self.expected = expected


@runtime_checkable
class Serializer(Protocol):
    """How a queue handle turns values into bodies and back: ``pgmq.connect_to_queue(name, client,
    serializer=...)``. Given one, a handle sends every body that is not bytes through it, ``str`` included.
    ``dumps`` must return bytes; what it or ``loads`` raises reaches the caller of ``send()`` or
    ``decode()``.

    A pydantic model, say (one model per queue)::

        class OrderSerializer:
            content_type = pgmq.JSON_CONTENT_TYPE      # plain JSON: any language reads it with .json()

            def dumps(self, value: Any) -> bytes:
                return Order.model_validate(value).model_dump_json().encode()

            def loads(self, data: bytes) -> Order:
                return Order.model_validate_json(data)
    """

    @property
    def content_type(self) -> str:
        """The ``content-type`` attribute of the messages it encodes."""
        ...

    def dumps(self, value: Any) -> bytes:
        """A value as a body."""
        ...

    def loads(self, data: bytes) -> Any:
        """A body as a value."""
        ...


class JsonSerializer:
    """The encoding of a queue handle without a serializer: compact UTF-8 JSON (``json.dumps`` without
    spaces, non-ASCII characters as they are), content type ``application/json``. Given explicitly
    (``connect_to_queue(..., serializer=pgmq.JsonSerializer())``), it encodes ``str`` values too, as JSON
    strings. NaN and infinities are refused (``ValueError``): JSON has no such numbers and other
    languages' parsers reject them. ``default`` is passed to ``json.dumps`` for types it does not know
    (``default=str`` writes a ``datetime`` as text, say)."""

    __slots__ = ("_default",)

    content_type: str = JSON_CONTENT_TYPE

    def __init__(self, *, default: Optional[Callable[[Any], Any]] = None) -> None:
        self._default = default

    def dumps(self, value: Any) -> bytes:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=self._default)
        return text.encode("utf-8")

    def loads(self, data: bytes) -> Any:
        return json.loads(data)

    def __repr__(self) -> str:
        return "pgmq.JsonSerializer()" if self._default is None else f"pgmq.JsonSerializer(default={self._default!r})"


JSON = JsonSerializer()
"""What encodes the values (other than bytes and ``str``) that a queue handle without a serializer sends."""


def checked(serializer: Optional[Serializer]) -> Optional[Serializer]:
    """The serializer given to a queue handle (``None``: none); a ``TypeError`` for what does not fit."""
    if serializer is None:
        return None
    content_type = getattr(serializer, "content_type", None)
    if not isinstance(content_type, str) or not content_type:
        raise TypeError(f"serializer.content_type must be a non-empty str, not {content_type!r}")
    if not callable(getattr(serializer, "dumps", None)) or not callable(getattr(serializer, "loads", None)):
        raise TypeError(f"a serializer needs dumps(value) -> bytes and loads(bytes) methods: {serializer!r}")
    return serializer


def dump(serializer: Serializer, value: object, what: str) -> bytes:
    """``value`` (``what``: "message 3", "the result") as the bytes ``serializer`` makes of it."""
    try:
        body = serializer.dumps(value)
    except Exception as e:
        if hasattr(e, "add_note"):  # Python 3.11+
            e.add_note(f"pgmq: encoding {what} ({type(value).__name__}, not bytes) with {serializer!r}")
        raise
    if type(body) is bytes:
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"{serializer!r}.dumps() returned {type(body).__name__}, not bytes")


def encode_value(value: object, serializer: Optional[Serializer], what: str) -> Tuple[bytes, Optional[Serializer]]:
    """One body (or result) by the rule of this module's docstring: its bytes, and the serializer that
    encoded it (``None`` for bytes and text, sent as they are), whose content type labels them."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), None
    if isinstance(value, str) and serializer is None:
        return value.encode("utf-8"), None
    encoder = JSON if serializer is None else serializer
    return dump(encoder, value, what), encoder


def encode(
    messages: Sequence[object], serializer: Optional[Serializer]
) -> Tuple[List[bytes], Optional[List[Optional[Dict[str, Any]]]], Optional[List[Optional[Tuple[int, ...]]]]]:
    """The bodies of a send, their attributes and the earlier entries each depends on (``None``: no
    message has any), by the rule of this module's docstring: what ``queue.send()`` and
    ``pgmq.sql.send()`` send. Each message is a body or an :class:`OutgoingMessage`; a ``content-type``
    attribute given with a body the serializer encodes must be the serializer's
    (:class:`pgmq.InvalidOption` otherwise: the bytes are its, so is their label)."""
    bodies: List[bytes] = []
    attributes: Optional[List[Optional[Dict[str, Any]]]] = None
    after: Optional[List[Optional[Tuple[int, ...]]]] = None
    for i, message in enumerate(messages):
        if type(message) is bytes:  # the common case first
            bodies.append(message)
            continue
        if isinstance(message, OutgoingMessage):
            body, given = message.body, message.attributes
            if message.after:
                if after is None:
                    after = [None] * len(messages)
                after[i] = tuple(message.after)
        else:
            body, given = message, None
        labels: Optional[Dict[str, Any]] = dict(given) if given else None
        encoded, encoder = encode_value(body, serializer, f"message {i}")
        bodies.append(encoded)
        if encoder is not None:
            content_type = encoder.content_type
            if labels is None:
                labels = {CONTENT_TYPE_ATTRIBUTE: content_type}
            elif labels.setdefault(CONTENT_TYPE_ATTRIBUTE, content_type) != content_type:
                raise InvalidOption(
                    f"message {i}: attribute {CONTENT_TYPE_ATTRIBUTE}={labels[CONTENT_TYPE_ATTRIBUTE]!r}, but "
                    f"its body is encoded by {encoder!r} as {content_type!r}; send bytes to label them yourself"
                )
        if labels:
            if attributes is None:
                attributes = [None] * len(messages)
            attributes[i] = labels
    return bodies, attributes, after


def encode_result(
    value: object, content_type: Optional[str], serializer: Optional[Serializer]
) -> Tuple[bytes, Optional[str]]:
    """A worker's result (``message.ack(result)``, ``message.set_result(result)``) as its bytes and content
    type, by the rule of a body: bytes and text as they are, labelled ``content_type`` if given (else
    unlabelled); any other value encoded by the serializer of the queue handle it was received through
    (JSON without one) and labelled with its content type, which a ``content_type`` given must equal
    (:class:`pgmq.InvalidOption` otherwise, as for a send)."""
    if content_type is not None and not isinstance(content_type, str):
        raise TypeError(f"content_type must be a str or None, not {type(content_type).__name__}")
    encoded, encoder = encode_value(value, serializer, "the result")
    if encoder is None:
        return encoded, content_type
    if content_type is not None and content_type != encoder.content_type:
        raise InvalidOption(
            f"content_type={content_type!r}, but the result is encoded by {encoder!r} as "
            f"{encoder.content_type!r}; give bytes to label them yourself"
        )
    return encoded, encoder.content_type


def decode_json(body: bytes, content_type: Optional[str], what: str = "message") -> Any:
    """``message.json()`` (``reply.json()``: ``what`` is ``"reply"``): a body without a content type is
    parsed too (bytes sent as JSON text)."""
    if not _pgmq.is_json_content_type(content_type):  # the core's rule, as every language's
        raise ContentTypeError(
            f"{what}.json(): the {what}'s {CONTENT_TYPE_ATTRIBUTE} is {content_type!r}, not {JSON_CONTENT_TYPE!r}",
            content_type,
            JSON_CONTENT_TYPE,
        )
    return json.loads(body)


def decode(
    body: bytes, content_type: Optional[str], serializer: Optional[Serializer], what: str = "message"
) -> Any:
    """``message.decode()`` (``reply.decode()``: ``what`` is ``"reply"``): by the queue handle's serializer
    (``None``: JSON)."""
    if serializer is None:
        return decode_json(body, content_type, what)
    expected = serializer.content_type
    if content_type is not None and not (
        _pgmq.is_json_content_type(content_type) if expected == JSON_CONTENT_TYPE else content_type == expected
    ):
        raise ContentTypeError(
            f"{what}.decode(): the {what}'s {CONTENT_TYPE_ATTRIBUTE} is {content_type!r}, "
            f"not {expected!r} ({serializer!r})",
            content_type,
            expected,
        )
    return serializer.loads(body)
