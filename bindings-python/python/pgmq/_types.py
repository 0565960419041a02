"""Plain values of the API: options, outgoing messages, outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import Dict, Mapping, Optional, Union

from ._convert import Body, Duration

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
    """It was cancelled with ``queue.cancel()``."""
    EXPIRED = "expired"
    """Nobody consumed it within the queue's retention period; it moved to the dead-letter queue."""


@dataclass(frozen=True)
class QueueOptions:
    """The settings of the dead-letter queue created with a queue (``create_queue(..., dlq_options=)``).

    Durations are ``timedelta`` or seconds. A dead-letter queue has no dead-letter queue of its own: a
    message that exhausts its attempts there is dropped.
    """

    ack_deadline: Duration = timedelta(seconds=10)
    """How long a delivered message stays leased without a heartbeat (>= 1 s)."""
    max_delivery_attempts: int = 10
    """Deliveries before a message is dropped (>= 1)."""
    retention_period: Duration = timedelta(days=7)
    """How long an unconsumed message is kept."""


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send with attributes: ``OutgoingMessage(b"...", attributes={"color": "red"})``."""

    body: Body
    attributes: Optional[Mapping[str, AttributeValue]] = None

    def __post_init__(self) -> None:
        if not isinstance(self.body, (bytes, bytearray, memoryview)):
            kind = type(self.body).__name__
            raise TypeError(f"a message body must be bytes, bytearray or memoryview, not {kind}")
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
