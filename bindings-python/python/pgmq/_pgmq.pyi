"""Typed stub of the native module `pgmq._pgmq` (bindings-python/src). Use the `pgmq` package instead:
it wraps these classes in context managers and typed helpers."""

from asyncio import Future
from collections.abc import Callable
from datetime import datetime
from typing import Any, Optional, Union, final
from uuid import UUID

from ._errors import PgmqError

_AttributeValue = Union[str, int, float, bool, None]

__all__ = [
    "Attribute",
    "CancelWatch",
    "Client",
    "Completion",
    "Filter",
    "LATEST_SCHEMA_VERSION",
    "Message",
    "Queue",
    "QueueStatistics",
    "Receiver",
    "ack_all",
    "connect",
    "dlq_name",
    "_shutdown",
    "_panic_for_tests",
    "__version__",
]

LATEST_SCHEMA_VERSION: int
__version__: str

def connect(
    dsn: str,
    *,
    listen_dsn: Optional[str] = None,
    pool_size: int = 10,
    connect_timeout: Optional[float] = None,
    statement_timeout: Optional[float] = None,
    statement_cache: Optional[bool] = None,
    connect_retry: Optional[float] = None,
    application_name: Optional[str] = None,
    schema: Optional[str] = None,
) -> Future[Client]: ...
def dlq_name(name: str) -> str: ...
def ack_all(messages: list[Message], futures: list[Future[None]]) -> None: ...
def _shutdown() -> None: ...
def _panic_for_tests(in_runtime: bool) -> Future[None]:
    """Test hook, not API: panics (now, or in a task when ``in_runtime``); raises ``InternalError``."""
@final
class Client:
    @property
    def closed(self) -> bool: ...
    def migrate(self) -> Future[int]: ...
    def schema_version(self) -> Future[int]: ...
    def create_queue(
        self,
        name: str,
        *,
        ack_deadline: float,
        max_delivery_attempts: int,
        retention_period: float,
        dlq: Optional[tuple[float, int, float]],
    ) -> Future[bool]: ...
    def delete_queue(self, name: str) -> Future[bool]: ...
    def redrive(self, source: str, target: str) -> Future[int]: ...
    def queue(self, name: str) -> Queue: ...
    def close(self) -> Future[None]: ...

@final
class Queue:
    @property
    def name(self) -> str: ...
    def send(
        self,
        bodies: list[bytes],
        attributes_list: Optional[list[Optional[dict[str, Any]]]] = None,
        *,
        schedule_at: Optional[int] = None,
        delay: Optional[float] = None,
        track: bool = True,
    ) -> Future[Completion]: ...
    def receiver(
        self,
        *,
        batch_size: int = 1,
        poll_interval: Optional[float] = None,
        filter: Optional[Filter] = None,
        on_error: Optional[Callable[[PgmqError], object]] = None,
    ) -> Receiver:
        """`on_error(exception)` is called on the thread of the event loop running now with each error the
        receiver recovered from (it retries). Needs a running event loop when given."""
    def cancel(self, ids: list[UUID]) -> Future[list[UUID]]: ...
    def statistics(self) -> Future[QueueStatistics]: ...
    def completion(self, ids: list[UUID]) -> Future[Completion]: ...

@final
class QueueStatistics:
    """Counts of one queue's messages at one instant."""

    @property
    def messages(self) -> int:
        """Every message in the queue: ready, scheduled and leased."""
    @property
    def ready(self) -> int:
        """Available for delivery now."""
    @property
    def scheduled(self) -> int:
        """Waiting for their scheduled time (or a nack delay)."""
    @property
    def leased(self) -> int:
        """Held by a worker under a live lease."""
    @property
    def dead_lettered(self) -> int:
        """Messages in this queue's dead-letter queue."""

@final
class Receiver:
    @property
    def closed(self) -> bool: ...
    def next_batch(self) -> Future[list[Message]]: ...
    def close(self) -> None: ...

@final
class Message:
    """A message leased to this worker."""

    @property
    def id(self) -> UUID:
        """The message id (a time-ordered UUIDv7 assigned at send)."""
    @property
    def queue(self) -> str:
        """The queue it was received from."""
    @property
    def body(self) -> bytes:
        """The payload."""
    @property
    def attributes(self) -> dict[str, _AttributeValue]:
        """The attributes it was sent with (a new dict; `{}` when there are none)."""
    @property
    def delivery_attempt(self) -> int:
        """1 on the first delivery, +1 for every redelivery."""
    @property
    def sent_at(self) -> datetime:
        """When it was sent (aware, UTC)."""
    @property
    def last_error(self) -> Optional[str]:
        """The error given to the last failed attempt, if any."""
    @property
    def dead_letter_attempts(self) -> Optional[int]:
        """For a message in a dead-letter queue: the attempts it used in its original queue."""
    @property
    def cancelled(self) -> bool:
        """Whether `queue.cancel()` was called on it while held."""
    @property
    def finished(self) -> bool:
        """Whether it was acked, nacked or released through this handle."""
    def ack(self) -> Future[None]: ...
    def nack(self, error: Optional[str] = None, delay: Optional[float] = None) -> Future[None]: ...
    def extend(self, seconds: float) -> Future[None]: ...
    def release(self) -> None: ...
    def watch_cancelled(self, callback: Callable[[], object]) -> CancelWatch: ...

@final
class CancelWatch:
    def disarm(self) -> None: ...

@final
class Completion:
    @property
    def ids(self) -> tuple[UUID, ...]: ...
    @property
    def tracked(self) -> bool: ...
    def wait(self, poll_interval: Optional[float] = None) -> Future[dict[UUID, str]]: ...

@final
class Attribute:
    """Starts a condition on one message attribute: `Attribute("color").eq("red")`."""

    def __new__(cls, key: str) -> Attribute: ...
    @property
    def key(self) -> str: ...
    def eq(self, value: _AttributeValue) -> Filter:
        """Equal to `value` (numbers compare numerically, strings textually)."""
    def ne(self, value: _AttributeValue) -> Filter:
        """Present and not equal to `value`."""
    def lt(self, value: _AttributeValue) -> Filter:
        """Less than `value` (same type only)."""
    def gt(self, value: _AttributeValue) -> Filter:
        """Greater than `value` (same type only)."""
    def le(self, value: _AttributeValue) -> Filter:
        """Less than or equal to `value` (same type only)."""
    def ge(self, value: _AttributeValue) -> Filter:
        """Greater than or equal to `value` (same type only)."""
    def is_null(self) -> Filter:
        """Present and `None`."""
    def is_not_null(self) -> Filter:
        """Present and not `None`."""
    def is_like(self, pattern: str) -> Filter:
        """A string matching the SQL `LIKE` pattern (`%` and `_` wildcards)."""
    def is_not_like(self, pattern: str) -> Filter:
        """A string not matching the SQL `LIKE` pattern."""
    def exists(self) -> Filter:
        """Present, whatever its value."""
    def does_not_exist(self) -> Filter:
        """Absent."""

@final
class Filter:
    """A condition on message attributes; combine with `&` (and) and `|` (or). Combining raises
    `pgmq.InvalidOption` instead of nesting deeper than 100 levels (the core's MAX_FILTER_DEPTH)."""

    def __and__(self, other: Filter, /) -> Filter: ...
    def __or__(self, other: Filter, /) -> Filter: ...
    def __rand__(self, other: Filter, /) -> Filter: ...
    def __ror__(self, other: Filter, /) -> Filter: ...
