"""Plain values of the API: options, outgoing messages, outcomes, message states."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _defaults
from ._convert import Duration

AttributeValue = Union[str, int, float, bool, None]
"""An attribute value: a JSON scalar."""

Attributes = Dict[str, AttributeValue]
"""Message attributes: a flat map from keys to scalars, which receivers can filter on."""


class Outcome(enum.Enum):
    """How a sent message finished."""

    COMPLETED = "completed"
    """A worker acked it."""
    DEAD_LETTERED = "dead_lettered"
    """Its delivery attempts ran out; it moved to the dead-letter queue (or was dropped, without one)."""
    CANCELLED = "cancelled"
    """It was cancelled with ``queue.cancel()`` (or a group cancel, or a purge), or because a message it
    depended on did not complete: then ``reply.reason`` says which."""
    EXPIRED = "expired"
    """Nobody consumed it within the queue's retention period; it moved to the dead-letter queue."""


class MessageState(enum.Enum):
    """Where a message stands, as ``queue.peek()`` read it (``PeekedMessage.state``). The five are
    disjoint and cover every message of a queue."""

    READY = "ready"
    """Available for delivery now: the next receive may lease it."""
    SCHEDULED = "scheduled"
    """Waiting for its scheduled time or a nack delay (``available_at`` says when it becomes ready)."""
    LEASED = "leased"
    """Held by a worker under a live lease (``available_at`` is when the lease expires)."""
    LAPSED = "lapsed"
    """Its lease ran out on its last delivery attempt, or while it was being cancelled: housekeeping
    dead-letters (or drops) it within a maintenance interval. It is never delivered again."""
    WAITING = "waiting"
    """Waiting for the messages it depends on (``queue.send(..., depends_on=)``, ``OutgoingMessage(...,
    after=)``) to complete: never delivered before. ``available_at`` reads 9999-12-31T23:59:59 (UTC): it
    has no time yet. ``get_statistics()`` counts it as scheduled."""


@dataclass(frozen=True)
class QueueOptions:
    """The settings of the dead-letter queue created with a queue (``create_queue(..., dlq_options=)``).

    Durations are ``timedelta`` or seconds. A dead-letter queue has no dead-letter queue of its own: a
    message that exhausts its attempts there is dropped.
    """

    ack_deadline: Duration = _defaults.DLQ_ACK_DEADLINE
    """How long a delivered message stays leased without a heartbeat (>= 1 s; default 10 s)."""
    max_delivery_attempts: int = _defaults.DLQ_MAX_DELIVERY_ATTEMPTS
    """Deliveries before a message is dropped (>= 1; default 10)."""
    retention_period: Duration = _defaults.DLQ_RETENTION_PERIOD
    """How long an unconsumed message is kept (default 7 days)."""


@dataclass(frozen=True)
class Backoff:
    """When a nack without an explicit ``delay`` makes its message available again
    (``create_queue(..., backoff=pgmq.Backoff())``): after ``min(base * factor ** (attempt - 1), max)``,
    scaled by a random factor in ``[0.5, 1]`` when ``jitter`` is on. The defaults are the core's.

    Durations are ``timedelta`` or seconds. :class:`pgmq.InvalidOption` from ``create_queue`` for a
    ``factor`` under 1 (or not finite), a ``max`` under ``base``, a negative duration or one over 100
    years.
    """

    base: Duration = _defaults.BACKOFF_BASE
    """The delay after the first failed attempt (default 1 s)."""
    factor: float = _defaults.BACKOFF_FACTOR
    """Growth per attempt, >= 1 (default 2)."""
    max: Duration = _defaults.BACKOFF_MAX
    """The longest delay (default 10 min)."""
    jitter: bool = _defaults.BACKOFF_JITTER
    """Spread retries so that failures do not come back in lockstep (default on)."""


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send with attributes: ``OutgoingMessage(b"...", attributes={"color": "red"})``, or
    after earlier entries of the same send: ``OutgoingMessage(b"...", after=[0])``.

    The body is bytes-like, sent as it is; a ``str``, sent as its UTF-8 text; or any other value, encoded
    as JSON and labelled with the ``content-type`` attribute. A serializer given to the queue handle
    encodes (and labels) every body that is not bytes, ``str`` included.

    ``after`` lists the positions (from 0) of earlier entries of the same ``queue.send(...)`` that this
    message depends on: it waits, never delivered, until they have all completed, and is cancelled if one
    of them does not (docs/dependencies.md). Kept as a tuple; :class:`pgmq.InvalidOption` from the send
    for the entry's own position or a later one."""

    body: object
    attributes: Optional[Mapping[str, AttributeValue]] = None
    after: Sequence[int] = ()

    def __post_init__(self) -> None:
        if self.after != ():  # the default needs no check
            object.__setattr__(self, "after", _positions(self.after))
        if self.attributes is None:
            return
        if not isinstance(self.attributes, Mapping):
            raise TypeError(f"attributes must be a dict, not {type(self.attributes).__name__}")
        for key, value in self.attributes.items():
            if not isinstance(key, str):
                raise TypeError(f"attribute keys must be str, not {type(key).__name__}")
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise TypeError(
                    f"attribute {key!r}: values must be str, int, float, bool or None, not {type(value).__name__}"
                )


def _positions(after: object) -> Tuple[int, ...]:
    """``OutgoingMessage.after`` as a tuple of ints; ``TypeError`` for anything else (a single int, text)."""
    if isinstance(after, (str, bytes, bytearray, memoryview)) or not isinstance(after, Iterable):
        raise TypeError(f"after must be a list of entry positions, not {type(after).__name__}")
    positions = tuple(after)
    for position in positions:
        if isinstance(position, bool) or not isinstance(position, int):
            raise TypeError(f"after: entry positions must be int, not {type(position).__name__}")
    return positions
