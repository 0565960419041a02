"""Bodies that are not bytes: the :class:`Serializer` of a queue handle, JSON by default.

A value sent with ``queue.send(value)`` that is not bytes-like is turned into bytes by the queue's
serializer, and the message gets the attribute ``content-type`` (:data:`pgmq.CONTENT_TYPE_ATTRIBUTE`) set
to the serializer's content type, so that a reader in any language knows how to decode it. A reader gets
the value back with ``message.json()`` (always JSON) or ``message.decode()`` (the serializer of the queue
handle it received through). Bytes stay bytes: sent as they are, with no content type, read as
``message.body``.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, Protocol, runtime_checkable

from . import _pgmq

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
    serializer=...)``. ``dumps`` must return bytes; what it or ``loads`` raises reaches the caller of
    ``send()`` or ``decode()``.

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
    """The default serializer: compact UTF-8 JSON (``json.dumps`` without spaces, non-ASCII characters
    as they are), content type ``application/json``. NaN and infinities are refused (``ValueError``):
    JSON has no such numbers and other languages' parsers reject them. ``default`` is passed to
    ``json.dumps`` for types it does not know (``default=str`` writes a ``datetime`` as text, say)."""

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


def checked(serializer: Optional[Serializer]) -> Serializer:
    """The serializer of a queue handle: ``JSON`` for ``None``; a ``TypeError`` for what does not fit."""
    if serializer is None:
        return JSON
    content_type = getattr(serializer, "content_type", None)
    if not isinstance(content_type, str) or not content_type:
        raise TypeError(f"serializer.content_type must be a non-empty str, not {content_type!r}")
    if not callable(getattr(serializer, "dumps", None)) or not callable(getattr(serializer, "loads", None)):
        raise TypeError(f"a serializer needs dumps(value) -> bytes and loads(bytes) methods: {serializer!r}")
    return serializer


def dump(serializer: Serializer, value: object, index: int) -> bytes:
    """Message ``index`` of a send, as the bytes ``serializer`` makes of it."""
    try:
        body = serializer.dumps(value)
    except Exception as e:
        if hasattr(e, "add_note"):  # Python 3.11+
            e.add_note(f"pgmq: encoding message {index} ({type(value).__name__}, not bytes) with {serializer!r}")
        raise
    if type(body) is bytes:
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"{serializer!r}.dumps() returned {type(body).__name__}, not bytes")


def _is_json(content_type: object) -> bool:
    """``application/json``, with parameters (``; charset=utf-8``) or as a ``+json`` suffix type."""
    if not isinstance(content_type, str):
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON_CONTENT_TYPE or (media.startswith("application/") and media.endswith("+json"))


def decode_json(body: bytes, content_type: object) -> Any:
    """``message.json()``: a body without a content type is parsed too (bytes sent as JSON text)."""
    if content_type is not None and not _is_json(content_type):
        raise ContentTypeError(
            f"message.json(): the message's {CONTENT_TYPE_ATTRIBUTE} is {content_type!r}, not {JSON_CONTENT_TYPE!r}",
            content_type,
            JSON_CONTENT_TYPE,
        )
    return json.loads(body)


def decode(body: bytes, content_type: object, serializer: Optional[Serializer]) -> Any:
    """``message.decode()``: by the queue handle's serializer (``None``: JSON)."""
    if serializer is None or serializer is JSON:
        return decode_json(body, content_type)
    expected = serializer.content_type
    if content_type is not None and not (
        _is_json(content_type) if expected == JSON_CONTENT_TYPE else content_type == expected
    ):
        raise ContentTypeError(
            f"message.decode(): the message's {CONTENT_TYPE_ATTRIBUTE} is {content_type!r}, "
            f"not {expected!r} ({serializer!r})",
            content_type,
            expected,
        )
    return serializer.loads(body)
