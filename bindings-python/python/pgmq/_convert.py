"""Python values to what the native layer takes: seconds, microseconds since the epoch, group ids, lists
of message ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, List, Optional, Union
from uuid import UUID

Duration = Union[timedelta, int, float]
"""A duration: a ``timedelta`` or a number of seconds."""

Body = Union[bytes, bytearray, memoryview]
"""A body sent as it is: any bytes-like object (a ``str`` is sent as its UTF-8 text, other values as JSON,
unless the queue handle has a serializer)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def seconds(value: Duration, name: str) -> float:
    """A duration in seconds. Negative or non-finite values are left to the core (``InvalidOption``)."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int beyond any float: out of range, like infinity
            return float("inf") if value > 0 else float("-inf")
    raise TypeError(f"{name} must be a timedelta or a number of seconds, not {type(value).__name__}")


_I64_MAX = 2**63 - 1


def count(value: int, name: str) -> int:
    """An int for the native layer: bools and other types are a TypeError; values beyond 64 bits are
    clamped, so the core rejects them with its own InvalidOption instead of an OverflowError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return max(-_I64_MAX, min(value, _I64_MAX))


def queue_bound(value: Optional[int], name: str) -> Optional[int]:
    """A queue's bound for the native layer: ``None``, or an int (not a bool) passed on whole, so that the
    core's range check, not an ``OverflowError``, answers a value beyond 64 bits."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    return value


def group_id(value: str, name: str) -> str:
    """A job group id for the native layer: a ``str`` (else ``TypeError``); its length and characters are
    the core's to check (``InvalidOption``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


def message_ids(value: Iterable[Union[UUID, str]], name: str) -> List[Union[UUID, str]]:
    """A list of message ids for the native layer, which parses text and checks each item (``TypeError``
    for other types, ``InvalidOption`` for text that is not a UUID); one id or text given for the list is
    a ``TypeError``, not a list of characters."""
    if isinstance(value, (str, bytes, bytearray, memoryview, UUID)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of message ids, not {type(value).__name__}")
    return list(value)


def optional_seconds(value: Optional[Duration], name: str) -> Optional[float]:
    return None if value is None else seconds(value, name)


def epoch_micros(value: datetime, name: str) -> int:
    """Microseconds since the epoch; an aware datetime is converted to UTC, a naive one is taken as UTC."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - _EPOCH) // _MICROSECOND


def datetime_from_micros(micros: int) -> datetime:
    """The aware UTC datetime ``micros`` microseconds after the epoch (used by the native layer)."""
    return _EPOCH + timedelta(microseconds=micros)

