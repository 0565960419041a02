"""The core's defaults and limits as this package uses them, read from ``pgmq_core::DEFAULTS`` through the
native module: every default of a signature or a dataclass of ``pgmq`` is one of these names, so none is
written out twice. tests/test_truths.py compares them, and the native table, with the core's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Dict, Optional

from . import _pgmq

_TABLE: Dict[str, Dict[str, Any]] = _pgmq.DEFAULTS

# A new queue: create_queue(ack_deadline=, max_delivery_attempts=, retention_period=, max_messages=).
ACK_DEADLINE: timedelta = _TABLE["queue"]["ack_deadline"]
MAX_DELIVERY_ATTEMPTS: int = _TABLE["queue"]["max_delivery_attempts"]
RETENTION_PERIOD: timedelta = _TABLE["queue"]["retention_period"]
MAX_MESSAGES: Optional[int] = _TABLE["queue"]["max_messages"]

# The dead-letter queue created with it: QueueOptions().
DLQ_ACK_DEADLINE: timedelta = _TABLE["dead_letter_queue"]["ack_deadline"]
DLQ_MAX_DELIVERY_ATTEMPTS: int = _TABLE["dead_letter_queue"]["max_delivery_attempts"]
DLQ_RETENTION_PERIOD: timedelta = _TABLE["dead_letter_queue"]["retention_period"]

# Backoff().
BACKOFF_BASE: timedelta = _TABLE["backoff"]["base"]
BACKOFF_FACTOR: float = _TABLE["backoff"]["factor"]
BACKOFF_MAX: timedelta = _TABLE["backoff"]["max"]
BACKOFF_JITTER: bool = _TABLE["backoff"]["jitter"]

# queue.send(track=, wait_for_room=).
TRACK: bool = _TABLE["send"]["track"]
WAIT_FOR_ROOM: timedelta = _TABLE["send"]["wait_for_room"]

# queue.receive(batch_size=, poll_interval=).
BATCH_SIZE: int = _TABLE["receive"]["batch_size"]
RECEIVE_POLL_INTERVAL: timedelta = _TABLE["receive"]["poll_interval"]

# queue.wait_for_completion(poll_interval=).
COMPLETION_POLL_INTERVAL: timedelta = _TABLE["completion"]["poll_interval"]

# queue.request(timeout=).
REQUEST_TIMEOUT: timedelta = _TABLE["request"]["timeout"]

# queue.peek(limit=), and the largest limit accepted.
PEEK_LIMIT: int = _TABLE["peek"]["limit"]
PEEK_MAX_LIMIT: int = _TABLE["peek"]["max_limit"]

# connect(pool_size=).
POOL_SIZE: int = _TABLE["client"]["pool_size"]
