"""A queue: send (with completion tracking), receive, cancel, statistics."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Callable, Coroutine, Dict, Generator, List, Optional, Tuple, Type, Union
from uuid import UUID

from . import _pgmq
from ._convert import Body, Duration, body_bytes, count, epoch_micros, optional_seconds
from ._errors import PgmqError
from ._receive import MessageHandleStream, Receiving, error_reporter
from ._types import OutgoingMessage, Outcome

QueueStatistics = _pgmq.QueueStatistics
Filter = _pgmq.Filter


class CompletionHandle:
    """The ids of sent messages and a way to wait for their outcomes.

    ``await completion()`` (or ``await completion.wait()``) waits until every message has finished and
    returns ``{id: Outcome}``. Woken by NOTIFY and confirmed from the durable outcome records, so it
    also learns outcomes that happened before it started waiting. Messages sent with ``track=False``
    raise :class:`pgmq.HandleError` (code ``not_tracked``).
    """

    __slots__ = ("_native", "_poll_interval", "_ids")

    def __init__(self, native: _pgmq.Completion, poll_interval: Optional[float] = None) -> None:
        self._native = native
        self._poll_interval = poll_interval
        self._ids: Optional[Tuple[UUID, ...]] = None

    @property
    def ids(self) -> Tuple[UUID, ...]:
        """The messages' ids, in the order they were sent. Made on first use: a ``UUID`` object costs
        about a microsecond, which a bulk send that never looks at its ids should not pay."""
        if self._ids is None:
            self._ids = self._native.ids
        return self._ids

    async def wait(self) -> Dict[UUID, Outcome]:
        outcomes = await self._native.wait(self._poll_interval)
        return {id_: Outcome(outcome) for id_, outcome in outcomes.items()}

    def __call__(self) -> Coroutine[Any, Any, Dict[UUID, Outcome]]:
        return self.wait()

    def __repr__(self) -> str:
        return f"<pgmq.CompletionHandle ids={list(self.ids)!r}>"


class Sending:
    """What ``queue.send(...)`` returns: use it as ``async with`` (the send runs on entry) or await it."""

    __slots__ = ("_queue", "_bodies", "_attributes", "_schedule_at", "_delay", "_track")

    def __init__(
        self,
        queue: _pgmq.Queue,
        bodies: List[bytes],
        attributes: Optional[List[Optional[Dict[str, Any]]]],
        schedule_at: Optional[int],
        delay: Optional[float],
        track: bool,
    ) -> None:
        self._queue = queue
        self._bodies = bodies
        self._attributes = attributes
        self._schedule_at = schedule_at
        self._delay = delay
        self._track = track

    async def _send(self) -> CompletionHandle:
        native = await self._queue.send(
            self._bodies, self._attributes, schedule_at=self._schedule_at, delay=self._delay, track=self._track
        )
        return CompletionHandle(native)

    def __await__(self) -> Generator[Any, None, CompletionHandle]:
        return self._send().__await__()

    async def __aenter__(self) -> CompletionHandle:
        return await self._send()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        pass


class WaitingForCompletion:
    """What ``queue.wait_for_completion(...)`` returns: an async context manager giving a
    :class:`CompletionHandle` for messages sent earlier, possibly by another process."""

    __slots__ = ("_queue", "_ids", "_poll_interval")

    def __init__(self, queue: _pgmq.Queue, ids: List[UUID], poll_interval: Optional[float]) -> None:
        self._queue = queue
        self._ids = ids
        self._poll_interval = poll_interval

    async def __aenter__(self) -> CompletionHandle:
        return CompletionHandle(await self._queue.completion(self._ids), self._poll_interval)

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        pass


class Queue:
    """A queue of a client, opened with ``async with pgmq.connect_to_queue(name, client) as queue``."""

    __slots__ = ("_native",)

    def __init__(self, native: _pgmq.Queue) -> None:
        self._native = native

    @property
    def name(self) -> str:
        """The queue's name."""
        return self._native.name

    def send(
        self,
        *messages: Union[Body, OutgoingMessage],
        schedule_at: Optional[datetime] = None,
        delay: Optional[Duration] = None,
        track: bool = True,
    ) -> Sending:
        """Sends one or more messages atomically, in one statement, with one NOTIFY.

        ``async with queue.send(b"a", b"b") as completion:`` sends on entry; ``await queue.send(...)``
        works too. Each message is bytes-like or an :class:`OutgoingMessage` with attributes. They become
        available at ``schedule_at`` (an aware datetime, or a naive one taken as UTC) or after ``delay``
        (a timedelta or seconds), never both; ``track=False`` skips the outcome record (fire and
        forget). :class:`pgmq.QueueNotFound` if the queue does not exist (nothing is written).
        """
        bodies: List[bytes] = []
        attributes: Optional[List[Optional[Dict[str, Any]]]] = None
        for i, message in enumerate(messages):
            if isinstance(message, OutgoingMessage):
                bodies.append(body_bytes(message.body))
                if message.attributes:
                    if attributes is None:
                        attributes = [None] * len(messages)
                    attributes[i] = dict(message.attributes)
            else:
                bodies.append(body_bytes(message))
        if not isinstance(track, bool):
            raise TypeError(f"track must be a bool, not {type(track).__name__}")
        at = None if schedule_at is None else epoch_micros(schedule_at, "schedule_at")
        return Sending(self._native, bodies, attributes, at, optional_seconds(delay, "delay"), track)

    def receive(
        self,
        *,
        batch_size: int = 1,
        poll_interval: Optional[Duration] = None,
        filter: Optional[Filter] = None,  # noqa: A002 - the API's name
        on_error: Optional[Callable[[PgmqError], object]] = None,
    ) -> Receiving:
        """Opens a stream of message handles: ``async with queue.receive() as stream``.

        The stream leases up to ``batch_size`` messages at once (claimed in one statement) and never
        holds more unfinished ones than that. While idle it sleeps on NOTIFY; ``poll_interval`` (a
        timedelta or seconds; default 30 s) is only the safety-net re-read. ``filter`` keeps messages
        whose attributes match (``pgmq.Attribute("color").eq("red")``). Leaving the block releases the
        messages whose handles were not acquired, for prompt redelivery.

        A lost connection never ends the stream: it retries (with a capped, jittered backoff) until the
        server answers, and reports each error it recovered from (a :class:`pgmq.ConnectionError`, say) to
        ``on_error(error)``, called on the thread of the event loop ``receive()`` is called in; by default
        a warning on the ``pgmq`` logger. An exception ``on_error`` raises is logged there and does not
        stop the stream.
        """
        if filter is not None and not isinstance(filter, Filter):
            raise TypeError(f"filter must be a pgmq.Filter (from pgmq.Attribute), not {type(filter).__name__}")
        receiver = self._native.receiver(
            batch_size=count(batch_size, "batch_size"),
            poll_interval=optional_seconds(poll_interval, "poll_interval"),
            filter=filter,
            on_error=error_reporter(self.name, on_error),
        )
        return Receiving(receiver)

    async def cancel(self, message_id: UUID, *more: UUID) -> List[UUID]:
        """Cancels messages; returns the ids that existed (unknown ids are no error).

        A queued or scheduled message is removed and never delivered. A message being processed is
        marked: its ``acquire()`` block is interrupted (it exits without raising), its ack does nothing,
        and it is never redelivered. Either way its outcome becomes ``Outcome.CANCELLED``.
        """
        return await self._native.cancel([message_id, *more])

    async def get_statistics(self) -> QueueStatistics:
        """Counts of this queue's messages: ``.messages``, ``.ready``, ``.scheduled``, ``.leased``,
        ``.dead_lettered``. :class:`pgmq.QueueNotFound` for an unknown queue."""
        return await self._native.statistics()

    def wait_for_completion(
        self,
        message_id: UUID,
        *more: UUID,
        poll_interval: Optional[Duration] = timedelta(seconds=10),
    ) -> WaitingForCompletion:
        """A completion handle for messages sent earlier (by anyone):
        ``async with queue.wait_for_completion(id1, id2) as handle: outcomes = await handle()``.
        ``poll_interval`` is the safety-net re-read (NOTIFY does the waking)."""
        interval = optional_seconds(poll_interval, "poll_interval")
        return WaitingForCompletion(self._native, [message_id, *more], interval)

    def __repr__(self) -> str:
        return f"<pgmq.Queue {self.name!r}>"


__all__ = [
    "CompletionHandle",
    "Filter",
    "MessageHandleStream",
    "Queue",
    "QueueStatistics",
    "Sending",
    "WaitingForCompletion",
]
