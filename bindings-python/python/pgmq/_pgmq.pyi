"""Typed stub of the native module `pgmq._pgmq` (bindings-python/src). Use the `pgmq` package instead:
it wraps these classes in context managers and typed helpers."""

from asyncio import Future
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Optional, Union, final
from uuid import UUID

from ._errors import PgmqError
from ._serializers import Serializer
from ._types import Backoff, MessageState, Outcome

_AttributeValue = Union[str, int, float, bool, None]

__all__ = [
    "Attribute",
    "CONTENT_TYPE_ATTRIBUTE",
    "CancelWatch",
    "Client",
    "Completion",
    "DEFAULTS",
    "ERROR_CODES",
    "Filter",
    "GroupStatistics",
    "JSON_CONTENT_TYPE",
    "LATEST_SCHEMA_VERSION",
    "Message",
    "PeekedMessage",
    "Queue",
    "QueueInfo",
    "QueueOverview",
    "QueueStatistics",
    "Receiver",
    "Reply",
    "ack_all",
    "connect",
    "dlq_name",
    "is_json_content_type",
    "outbox_attributes_json",
    "outbox_statement",
    "redact_dsn",
    "_shutdown",
    "_truths_json",
    "_panic_for_tests",
    "__version__",
]

LATEST_SCHEMA_VERSION: int
CONTENT_TYPE_ATTRIBUTE: str
"""The core's `CONTENT_TYPE_ATTRIBUTE`: `"content-type"`."""
JSON_CONTENT_TYPE: str
"""The core's `JSON_CONTENT_TYPE`: `"application/json"`."""
DEFAULTS: dict[str, dict[str, Any]]
"""The core's `pgmq_core::DEFAULTS`: `{section: {field: value}}` by the core's names (`"queue"`,
`"ack_deadline"`), durations as timedeltas. Read through `pgmq._defaults`."""
ERROR_CODES: tuple[tuple[str, bool, str], ...]
"""The core's `pgmq_core::ERROR_CODES`: `(code, transient, description)` of every error code."""
__version__: str

def connect(
    dsn: str,
    *,
    listen_dsn: Optional[str] = None,
    pool_size: Optional[int] = None,
    connect_timeout: Optional[float] = None,
    statement_timeout: Optional[float] = None,
    statement_cache: Optional[bool] = None,
    connect_retry: Optional[float] = None,
    application_name: Optional[str] = None,
    schema: Optional[str] = None,
    maintenance_interval: Optional[float] = None,
) -> Future[Client]: ...
def dlq_name(name: str) -> str: ...
def redact_dsn(dsn: str, /) -> str:
    """The core's `redact_dsn`: the DSN with its password masked; `<unparsable DSN>` if it does not parse."""
def is_json_content_type(content_type: Optional[str], /) -> bool:
    """The core's `is_json_content_type`: whether a body with this `content-type` attribute (`None`: none)
    reads as JSON: no label, `application/json` with or without parameters, or an `application/*+json`
    type, case-insensitively."""
def outbox_attributes_json(attributes: dict[str, _AttributeValue], /) -> str: ...
def outbox_statement(function: str, schema: Optional[str], style: str, /) -> str:
    """The core's statement (`pgmq_core::outbox::statement`) calling pgmq's SQL function `function`
    (`"send"`, `"send_json"`, `"send_batch"`, `"send_json_batch"`) with placeholders of `style`
    (`"dollar"`: `$1`, `"format"`: `%s`, `"named"`: `:queue`, `"qmark"`: `?`), for pgmq in `schema`
    (`None`: the default). `InvalidOption` for an unknown function or style, or a schema name the core
    refuses. Read through `pgmq.sql`."""
def ack_all(messages: list[Message], futures: list[Future[None]]) -> None: ...
def _shutdown() -> None: ...
def _truths_json() -> str:
    """The core's `truths_json()`, its defaults, limits, codes and names as JSON: what the tests compare
    the package with, and where `pgmq._errors.SQLSTATES` is read from (not API)."""
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
        backoff: Optional[tuple[float, float, float, bool]] = None,
        max_messages: Optional[int] = None,
    ) -> Future[bool]:
        """`max_messages`: the queue's bound (`None`: unbounded). `InvalidOption` for one under 1 or over
        2**63 - 1."""
    def delete_queue(self, name: str) -> Future[bool]: ...
    def list_queues(self) -> Future[list[QueueInfo]]: ...
    def list_queues_with_stats(self) -> Future[list[QueueOverview]]: ...
    def redrive(self, source: str, target: str) -> Future[int]: ...
    def cancel_group(self, group: str) -> Future[list[UUID]]:
        """The core's `Client::cancel_group`: cancels the group's messages in every queue."""
    def wait_for_group(self, group: str) -> Future[dict[UUID, str]]:
        """The core's `Client::wait_for_group`: `{id: outcome name}` once every member has an outcome."""
    def group_stats(self, group: str) -> Future[GroupStatistics]:
        """The core's `Client::group_stats`: the group's counts across every queue."""
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
        after_list: Optional[list[Optional[tuple[int, ...]]]] = None,
        schedule_at: Optional[int] = None,
        delay: Optional[float] = None,
        track: bool,
        wait_for_room: float,
        group: Optional[str] = None,
        depends_on: Optional[list[Union[UUID, str]]] = None,
    ) -> Future[Completion]:
        """To a bounded queue without room for every body: waits up to `wait_for_room` seconds (0: not at
        all) for room, then `QueueFull`, having written nothing. Cancelling the future sends nothing.
        `group`: the job group every message joins (`InvalidOption` for an invalid id, or with
        `track=False`). `after_list[i]`: the earlier entries body i depends on; `depends_on`: the sent
        messages every body depends on (`UUID`s or their text: `InvalidOption` for text that is not one,
        `TypeError` for another type); the core refuses what cannot be (`InvalidOption`)."""
    def receiver(
        self,
        *,
        batch_size: int,
        poll_interval: Optional[float] = None,
        filter: Optional[Filter] = None,
        on_error: Optional[Callable[[PgmqError], object]] = None,
        serializer: Optional[Serializer] = None,
    ) -> Receiver:
        """`on_error(exception)` is called on the thread of the event loop running now with each error the
        receiver recovered from (it retries). Needs a running event loop when given. `serializer` is what
        `Message.decode()` of its messages uses (`None`: JSON)."""
    def peek(
        self,
        *,
        limit: int,
        filter: Optional[Filter] = None,
        state: Optional[str] = None,
        serializer: Optional[Serializer] = None,
    ) -> Future[list[PeekedMessage]]:
        """`state`: `"ready"`, `"scheduled"`, `"leased"`, `"lapsed"` or `"waiting"` (`None`: any).
        `serializer` is what `PeekedMessage.decode()` uses (`None`: JSON)."""
    def request(
        self,
        body: bytes,
        message_attributes: Optional[dict[str, Any]] = None,
        *,
        after: Optional[tuple[int, ...]] = None,
        timeout: float,
        serializer: Optional[Serializer] = None,
    ) -> Future[Reply]:
        """Sends `body` tracked and waits for its reply (the core's `Queue::request`), at most `timeout`
        seconds. `serializer` is what `Reply.decode()` uses (`None`: JSON). `after` is passed on for the
        core to refuse (a request is the only entry of its send)."""
    def cancel(self, ids: list[UUID]) -> Future[list[UUID]]: ...
    def purge(self) -> Future[int]: ...
    def statistics(self) -> Future[QueueStatistics]: ...
    def set_max_messages(self, max_messages: Optional[int]) -> Future[None]:
        """The core's `Queue::set_max_messages`: bounds the queue, or with `None` lifts its bound."""
    def cancel_group(self, group: str) -> Future[list[UUID]]:
        """The core's `Queue::cancel_group`: cancels the group's messages in this queue."""
    def wait_for_group(self, group: str) -> Future[dict[UUID, str]]:
        """The core's `Queue::wait_for_group`: `{id: outcome name}` once every member in this queue has an
        outcome."""
    def group_stats(self, group: str) -> Future[GroupStatistics]:
        """The core's `Queue::group_stats`: the group's counts in this queue."""
    def completion(self, ids: list[UUID]) -> Future[Completion]: ...

@final
class QueueInfo:
    """A queue and its settings, as `Client.list_queues` lists it."""

    @property
    def name(self) -> str:
        """The queue's name (`dlq@...` for a dead-letter queue)."""
    @property
    def ack_deadline(self) -> timedelta:
        """How long a delivered message stays leased without a heartbeat."""
    @property
    def max_delivery_attempts(self) -> int:
        """Deliveries before a message is dead-lettered."""
    @property
    def retention_period(self) -> timedelta:
        """How long an unconsumed message is kept."""
    @property
    def dead_letter_queue(self) -> Optional[str]:
        """The name of its dead-letter queue, if it has one."""
    @property
    def backoff(self) -> Optional[Backoff]:
        """Its delay policy for nacks without a delay of their own (durations as timedeltas); `None`:
        such nacks retry at once."""
    @property
    def max_messages(self) -> Optional[int]:
        """The most messages it holds (ready, scheduled and leased together), if it is bounded."""

@final
class QueueOverview:
    """A queue, its settings and its counts, as `Client.list_queues_with_stats` lists it."""

    @property
    def info(self) -> QueueInfo:
        """Its name and settings."""
    @property
    def stats(self) -> QueueStatistics:
        """Its counts by state, and its dead-letter queue's depth."""
    @property
    def oldest_ready_age(self) -> Optional[timedelta]:
        """How long its oldest ready message has waited since it became available; `None` when none is
        ready."""

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
        """Waiting for their scheduled time (or a nack delay), or for messages they depend on."""
    @property
    def leased(self) -> int:
        """Held by a worker under a live lease."""
    @property
    def dead_lettered(self) -> int:
        """Messages in this queue's dead-letter queue."""

@final
class GroupStatistics:
    """Counts of one job group's messages at one instant: those still in a queue by state, the finished
    ones by outcome (kept for their queue's retention period)."""

    @property
    def messages(self) -> int:
        """Messages of the group still in a queue: ready, scheduled and leased."""
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
    def completed(self) -> int:
        """Finished: acked."""
    @property
    def dead_lettered(self) -> int:
        """Finished: their delivery attempts ran out."""
    @property
    def cancelled(self) -> int:
        """Finished: cancelled."""
    @property
    def expired(self) -> int:
        """Finished: their retention period ran out before anyone consumed them."""

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
    def lease_token(self) -> UUID:
        """The fencing token of this lease: an ack or nack under an older token changes nothing."""
    @property
    def lease_lost(self) -> bool:
        """Whether the heartbeat found the lease lost while it was held (expired and taken, or
        dead-lettered): an ack or nack would raise `LeaseLost`."""
    @property
    def cancelled(self) -> bool:
        """Whether `queue.cancel()` was called on it while held."""
    @property
    def finished(self) -> bool:
        """Whether it was acked, nacked or released through this handle."""
    def json(self) -> Any:
        """The body parsed as JSON. `pgmq.ContentTypeError` (a `ValueError`) if its `content-type`
        attribute names another encoding (a body without one is parsed too); `json.JSONDecodeError` (a
        `ValueError`) if it is not JSON."""
    def decode(self) -> Any:
        """The body decoded by the serializer of the queue handle it was received through (JSON unless
        `connect_to_queue(..., serializer=)` gave another). `pgmq.ContentTypeError` if its `content-type`
        attribute is not the serializer's."""
    def ack(self, result: object = None, *, content_type: Optional[str] = None) -> Future[None]:
        """Completes the message. `result` (not `None`) is kept with its outcome for whoever awaits it
        (`CompletionHandle.replies()`, `Queue.request()`), encoded as a body is: bytes-like as they are
        and a `str` as UTF-8 text (unless the queue handle has a serializer), labelled `content_type` if
        given; any other value by the queue handle's serializer (JSON without one), labelled with its
        content type. Without `result`, the one `set_result()` gave, if any. `pgmq.InvalidOption` (the
        message stays held) for a result over the send limit, an empty `content_type` or one with a NUL
        character, or a `content_type` that is not the serializer's for a value it encodes."""
    def set_result(self, result: object, *, content_type: Optional[str] = None) -> None:
        """Sets the result of the ack that ends the message without one of its own: the clean exit of its
        `acquire()` block (an exception still nacks it, and the result is dropped), or `ack()`. Encoded as
        `ack(result)` encodes it, and checked now: `pgmq.InvalidOption` as for `ack`, `AlreadyFinished` if
        the message was finished. `None` clears it."""
    def nack(self, error: Optional[str] = None, delay: Optional[Union[timedelta, float]] = None) -> Future[None]:
        """Fails this delivery: redelivered after `delay` (a timedelta or seconds; default: the queue's
        backoff, or at once), or dead-lettered on the last attempt, keeping `error` as its last error."""
    def extend(self, seconds: Union[timedelta, float]) -> Future[None]:
        """Extends the lease to `seconds` (or a timedelta) from now."""
    def release(self) -> None: ...
    def watch_cancelled(self, callback: Callable[[], object]) -> CancelWatch: ...

@final
class PeekedMessage:
    """A message as `queue.peek()` read it: a copy of its row, holding no lease."""

    @property
    def id(self) -> UUID:
        """The message id."""
    @property
    def queue(self) -> str:
        """The queue it was read from."""
    @property
    def body(self) -> bytes:
        """The payload."""
    @property
    def attributes(self) -> dict[str, _AttributeValue]:
        """The attributes it was sent with (a new dict; `{}` when there are none)."""
    @property
    def state(self) -> MessageState:
        """Where it stood when read."""
    @property
    def delivery_attempts(self) -> int:
        """Deliveries so far (leases taken, a current one included)."""
    @property
    def sent_at(self) -> datetime:
        """When it was sent (aware, UTC)."""
    @property
    def available_at(self) -> datetime:
        """When it became or becomes ready; for a leased message, when its lease expires; for a waiting
        one, 9999-12-31T23:59:59 (it has no time yet: its dependencies decide). Aware, UTC."""
    @property
    def last_error(self) -> Optional[str]:
        """The error given to the last failed attempt, if any (in a dead-letter queue: the error that
        dead-lettered it)."""
    @property
    def dead_letter_attempts(self) -> Optional[int]:
        """For a message in a dead-letter queue: the attempts it used in its original queue."""
    def json(self) -> Any:
        """The body parsed as JSON, as `Message.json()`."""
    def decode(self) -> Any:
        """The body decoded by the serializer of the queue handle it was peeked through, as
        `Message.decode()`."""

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
    def wait_replies(
        self, poll_interval: Optional[float] = None, serializer: Optional[Serializer] = None
    ) -> Future[dict[UUID, Reply]]: ...

@final
class Reply:
    """How a sent message finished, the result its worker gave it (`message.ack(result)` in any
    language), and why it was cancelled if a dependency failed. Its repr shows the result's length, never
    its bytes."""

    @property
    def outcome(self) -> Outcome:
        """How the message finished."""
    @property
    def result(self) -> Optional[bytes]:
        """The result's bytes; `None` if the worker acked without one, or the message finished otherwise."""
    @property
    def content_type(self) -> Optional[str]:
        """The result's content type (`"application/json"` for a JSON result); `None` if unlabelled."""
    @property
    def reason(self) -> Optional[str]:
        """Why the message finished the way it did, when pgmq knows: for a message cancelled because a
        message it depended on did not complete, `"dependency <id> was <outcome>"` (`dead_lettered`,
        `cancelled`, `expired`). `None` otherwise."""
    def json(self) -> Any:
        """The result parsed as JSON, under the rule of `Message.json()` (unlabelled or labelled JSON).
        `pgmq.InvalidOption` if there is no result, `pgmq.ContentTypeError` if it is labelled with
        another encoding, `json.JSONDecodeError` if it is not JSON."""
    def decode(self) -> Any:
        """The result decoded by the serializer of the queue handle that waited for it (JSON unless
        `connect_to_queue(..., serializer=)` gave another), as `Message.decode()`. `pgmq.InvalidOption`
        if there is no result."""

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
