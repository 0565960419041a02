"""A queue: send (with completion tracking and replies), request, receive, peek, cancel, purge,
statistics, its bound, its part of job groups."""

from __future__ import annotations

import warnings
from datetime import datetime
from types import TracebackType
from typing import Any, Callable, Coroutine, Dict, Generator, Iterable, List, Optional, Tuple, Type, Union
from uuid import UUID

from . import _defaults, _pgmq
from ._convert import Duration, count, epoch_micros, group_id, message_ids, optional_seconds, queue_bound, seconds
from ._errors import PgmqError
from ._receive import MessageHandleStream, Receiving, error_reporter
from ._serializers import Serializer, encode
from ._types import MessageState, Outcome

QueueStatistics = _pgmq.QueueStatistics
GroupStatistics = _pgmq.GroupStatistics
PeekedMessage = _pgmq.PeekedMessage
Filter = _pgmq.Filter
Reply = _pgmq.Reply


class CompletionHandle:
    """The ids of sent messages and a way to wait for their outcomes, and for their results.

    ``await completion()`` (or ``await completion.wait()``) waits until every message has finished and
    returns ``{id: Outcome}``; ``await completion.replies()`` returns ``{id: Reply}``, each outcome with
    the result its worker acked it with (``message.ack(result)``), and ``await completion.reply()`` the
    one reply of a send of one message. Woken by NOTIFY and confirmed from the durable outcome records,
    so it also learns outcomes that happened before it started waiting. Messages sent with
    ``track=False`` raise :class:`pgmq.NotTracked` (a :class:`pgmq.HandleError`).
    """

    __slots__ = ("_native", "_poll_interval", "_serializer", "_ids")

    def __init__(
        self,
        native: _pgmq.Completion,
        poll_interval: Optional[float] = None,
        serializer: Optional[Serializer] = None,
    ) -> None:
        self._native = native
        self._poll_interval = poll_interval
        self._serializer = serializer
        self._ids: Optional[Tuple[UUID, ...]] = None

    @property
    def tracked(self) -> bool:
        """Whether the messages were sent with tracking (``track=True``), so that waiting works."""
        return self._native.tracked

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

    async def replies(self) -> Dict[UUID, Reply]:
        """Waits as :meth:`wait` does and returns each message's :class:`pgmq.Reply`: its outcome, and the
        result its worker gave it (``reply.result``, ``reply.json()``, ``reply.decode()`` by this queue
        handle's serializer), if any. Results are kept as long as outcomes: the queue's retention period.
        """
        return await self._native.wait_replies(self._poll_interval, self._serializer)

    async def reply(self) -> Reply:
        """The reply of the one message this handle is for (``await (await queue.send(body)).reply()``),
        as :meth:`replies` gives it; ``ValueError`` for a handle of several messages."""
        if len(self.ids) != 1:
            raise ValueError(f"reply() is for a send of one message, not {len(self.ids)}: use replies()")
        return (await self.replies())[self.ids[0]]

    def __repr__(self) -> str:
        return f"<pgmq.CompletionHandle ids={list(self.ids)!r}>"


class Sending:
    """What ``queue.send(...)`` returns: use it as ``async with`` (the send runs on entry) or await it.

    Like a coroutine, it does nothing until then: one that is dropped unused sent nothing, and says so
    with a ``RuntimeWarning`` ("... was never awaited") when it is garbage-collected."""

    __slots__ = (
        "_queue",
        "_serializer",
        "_bodies",
        "_attributes",
        "_after",
        "_schedule_at",
        "_delay",
        "_track",
        "_wait_for_room",
        "_group",
        "_depends_on",
        "_used",
    )

    def __init__(
        self,
        queue: _pgmq.Queue,
        serializer: Optional[Serializer],
        bodies: List[bytes],
        attributes: Optional[List[Optional[Dict[str, Any]]]],
        after: Optional[List[Optional[Tuple[int, ...]]]],
        schedule_at: Optional[int],
        delay: Optional[float],
        track: bool,
        wait_for_room: float,
        group: Optional[str],
        depends_on: Optional[List[Union[UUID, str]]],
    ) -> None:
        self._queue = queue
        self._serializer = serializer
        self._bodies = bodies
        self._attributes = attributes
        self._after = after
        self._schedule_at = schedule_at
        self._delay = delay
        self._track = track
        self._wait_for_room = wait_for_room
        self._group = group
        self._depends_on = depends_on
        self._used = False

    def __del__(self) -> None:
        if not self._used:
            n = len(self._bodies)
            warnings.warn(
                f"queue.send() of {n} message{'' if n == 1 else 's'} to {self._queue.name!r} was never awaited: "
                "nothing was sent (write `await queue.send(...)` or `async with queue.send(...) as completion`)",
                RuntimeWarning,
                stacklevel=2,
                source=self,
            )

    async def _send(self) -> CompletionHandle:
        native = await self._queue.send(
            self._bodies,
            self._attributes,
            after_list=self._after,
            schedule_at=self._schedule_at,
            delay=self._delay,
            track=self._track,
            wait_for_room=self._wait_for_room,
            group=self._group,
            depends_on=self._depends_on,
        )
        return CompletionHandle(native, serializer=self._serializer)

    def __await__(self) -> Generator[Any, None, CompletionHandle]:
        self._used = True
        return self._send().__await__()

    async def __aenter__(self) -> CompletionHandle:
        self._used = True
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

    __slots__ = ("_queue", "_ids", "_poll_interval", "_serializer")

    def __init__(
        self, queue: _pgmq.Queue, ids: List[UUID], poll_interval: Optional[float], serializer: Optional[Serializer]
    ) -> None:
        self._queue = queue
        self._ids = ids
        self._poll_interval = poll_interval
        self._serializer = serializer

    async def __aenter__(self) -> CompletionHandle:
        return CompletionHandle(await self._queue.completion(self._ids), self._poll_interval, self._serializer)

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        pass


class Queue:
    """A queue of a client, opened with ``async with pgmq.connect_to_queue(name, client) as queue``."""

    __slots__ = ("_native", "_serializer")

    def __init__(self, native: _pgmq.Queue, serializer: Optional[Serializer] = None) -> None:
        self._native = native
        self._serializer = serializer

    @property
    def name(self) -> str:
        """The queue's name."""
        return self._native.name

    @property
    def serializer(self) -> Optional[Serializer]:
        """The serializer ``connect_to_queue(..., serializer=)`` gave this handle, or ``None``: then a
        ``str`` is sent as its UTF-8 text, other values that are not bytes as JSON
        (:class:`pgmq.JsonSerializer`), and ``message.decode()`` parses JSON."""
        return self._serializer

    def send(
        self,
        *messages: object,
        schedule_at: Optional[datetime] = None,
        delay: Optional[Duration] = None,
        track: bool = _defaults.TRACK,
        wait_for_room: Duration = _defaults.WAIT_FOR_ROOM,
        group: Optional[str] = None,
        depends_on: Optional[Iterable[Union[UUID, str]]] = None,
    ) -> Sending:
        """Sends one or more messages atomically, in one statement, with one NOTIFY.

        ``async with queue.send(b"a", b"b") as completion:`` sends on entry; ``await queue.send(...)``
        works too. Not awaited, it sends nothing (and warns, as a coroutine does).

        Each message is a body or an :class:`OutgoingMessage` (a body with attributes). A bytes-like body
        is sent as it is, and so is a ``str``, as its UTF-8 text, both unlabelled (a ``str`` goes through
        the serializer instead when ``connect_to_queue`` was given one: the rule of every language). Any
        other value (a ``dict``, ``list``, number, ``None``...) is encoded by the queue's serializer
        (compact UTF-8 JSON without one; ``TypeError`` or ``ValueError`` if it cannot) and gets the
        attribute ``content-type`` with the serializer's content type, so that ``message.json()`` in any
        language reads it. A ``content-type`` given in the attributes of such a message must equal the
        serializer's (:class:`pgmq.InvalidOption` otherwise: the bytes are the serializer's, so is their
        label); one given with bytes or text is sent as it is.

        They become available at ``schedule_at`` (an aware datetime, or a naive one taken as UTC) or after
        ``delay`` (a timedelta or seconds), never both; ``track=False`` skips the outcome record (fire and
        forget). :class:`pgmq.QueueNotFound` if the queue does not exist (nothing is written).

        A bounded queue (``create_queue(..., max_messages=)``) takes the messages all together or none of
        them. Without room for them all, the send waits up to ``wait_for_room`` (a timedelta or seconds;
        default 30 s, the core's) for workers to finish messages, woken by their acks, then raises
        :class:`pgmq.QueueFull` (nothing is written); ``wait_for_room=0`` raises it at once, to shed load.
        Cancelling the awaiting task while it waits sends nothing. Unbounded queues ignore it.

        ``group`` (a ``str`` of 1 to 255 bytes in UTF-8, without NUL) puts every message of the send in
        that job group, which may span queues: :meth:`cancel_group`, :meth:`wait_for_group` and
        :meth:`get_group_statistics` here, and the same methods of :class:`pgmq.Client` across queues,
        then act on them together. A grouped message is tracked: ``track=False`` with a group raises
        :class:`pgmq.InvalidOption`, as does an invalid group id (nothing is sent).

        ``depends_on`` (ids of messages sent earlier, to any queue, as ``UUID`` objects or their text,
        ``completion.ids`` for instance) makes every message of the send wait, never delivered, until each
        of them has completed; and an :class:`OutgoingMessage` with ``after=[0, 1]`` waits for those
        earlier entries of the same send, by position. If a dependency is dead-lettered, cancelled or expires
        instead, its waiting dependents are cancelled, and their dependents in turn: ``reply.reason``
        then says which (``"dependency <id> was dead_lettered"``). A waiting message peeks as
        :attr:`pgmq.MessageState.WAITING` and counts as scheduled (docs/dependencies.md).
        :class:`pgmq.InvalidOption` (nothing is sent) for an id that is unknown, not tracked or already
        finished other than completed, text that is not a UUID, an ``after`` naming its own entry or a
        later one, ``track=False`` with dependencies, or more than 10,000 dependencies for one message.
        """
        bodies, attributes, after = encode(messages, self._serializer)
        if not isinstance(track, bool):
            raise TypeError(f"track must be a bool, not {type(track).__name__}")
        at = None if schedule_at is None else epoch_micros(schedule_at, "schedule_at")
        delay_seconds = optional_seconds(delay, "delay")
        wait = seconds(wait_for_room, "wait_for_room")
        grouped = None if group is None else group_id(group, "group")
        dependencies = None if depends_on is None else message_ids(depends_on, "depends_on")
        return Sending(
            self._native, self._serializer, bodies, attributes, after, at, delay_seconds, track, wait, grouped,
            dependencies,
        )  # fmt: skip

    async def request(self, body: object, *, timeout: Duration = _defaults.REQUEST_TIMEOUT) -> Reply:
        """Sends ``body`` and waits for its reply: request/reply over the queue, answered by a worker in
        any language with ``await message.ack(result)`` (Python) or its counterpart.

        ``body`` is what :meth:`send` takes (bytes, text, a JSON value, an :class:`OutgoingMessage`),
        encoded the same way; the message is always tracked. Returns the :class:`pgmq.Reply` of the
        completed message: ``reply.json()``, ``reply.decode()`` (by this handle's serializer),
        ``reply.result`` (bytes, ``None`` if the worker acked without a result), ``reply.content_type``.

        :class:`pgmq.RequestFailed` if the request was dead-lettered, cancelled or expired instead
        (``error.outcome`` says which, ``error.message_id`` is its id). :class:`pgmq.Timeout` if no reply
        came within ``timeout`` (a timedelta or seconds; default 30 s, the core's): the request is then
        cancelled, so no worker starts it any more, one holding it is interrupted, and a late reply is
        dropped. :class:`pgmq.InvalidOption` for a timeout of zero or over 100 years (nothing is sent).

        Cancelling the awaiting task (``asyncio.wait_for``, an anyio cancel scope) only stops the wait:
        the request stays queued and a worker may still answer it, for nobody. Give ``timeout`` instead
        to bound a request.

        To a full bounded queue, the request is sent as :meth:`send` sends by default: it waits up to
        30 s for room before ``timeout`` starts, then raises :class:`pgmq.QueueFull`.
        """
        bodies, attributes, after = encode((body,), self._serializer)
        return await self._native.request(
            bodies[0],
            None if attributes is None else attributes[0],
            after=None if after is None else after[0],
            timeout=seconds(timeout, "timeout"),
            serializer=self._serializer,
        )

    def receive(
        self,
        *,
        batch_size: int = _defaults.BATCH_SIZE,
        poll_interval: Optional[Duration] = _defaults.RECEIVE_POLL_INTERVAL,
        filter: Optional[Filter] = None,  # noqa: A002 - the API's name
        on_error: Optional[Callable[[PgmqError], object]] = None,
    ) -> Receiving:
        """Opens a stream of message handles: ``async with queue.receive() as stream``.

        The stream leases up to ``batch_size`` messages at once (claimed in one statement; default 1, at
        most 100,000) and never holds more unfinished ones than that. While idle it sleeps on NOTIFY;
        ``poll_interval`` (a timedelta or seconds; default 30 s, the core's) is only the safety-net
        re-read. ``filter`` keeps messages
        whose attributes match (``pgmq.Attribute("color").eq("red")``). Leaving the block releases the
        messages whose handles were not acquired, for prompt redelivery.

        A lost connection never ends the stream: it retries (with a capped, jittered backoff) until the
        server answers. Each error it recovered from (a :class:`pgmq.ConnectionError`, say) is a warning of
        the core on the ``pgmq.core`` logger, and is also given to ``on_error(error)`` if set, called on
        the thread of the event loop ``receive()`` is called in. An exception ``on_error`` raises is logged
        on the ``pgmq`` logger and does not stop the stream.

        ``message.decode()`` of the messages received decodes with this queue handle's serializer.
        """
        if filter is not None and not isinstance(filter, Filter):
            raise TypeError(f"filter must be a pgmq.Filter (from pgmq.Attribute), not {type(filter).__name__}")
        receiver = self._native.receiver(
            batch_size=count(batch_size, "batch_size"),
            poll_interval=optional_seconds(poll_interval, "poll_interval"),
            filter=filter,
            on_error=error_reporter(self.name, on_error),
            serializer=self._serializer,
        )
        return Receiving(receiver)

    async def peek(
        self,
        *,
        limit: int = _defaults.PEEK_LIMIT,
        filter: Optional[Filter] = None,  # noqa: A002 - the API's name
        state: Union[MessageState, str, None] = None,
    ) -> List[PeekedMessage]:
        """Reads up to ``limit`` (default 100, at most 10,000) of this queue's messages without leasing
        or changing them: for looking into a queue, or into a dead-letter queue (open it as
        ``pgmq.get_dlq_name(name)``), where ``last_error`` and ``dead_letter_attempts`` say why each
        message is there.

        The messages come as :class:`pgmq.PeekedMessage` objects, in the order receivers would take them:
        ready ones oldest first, then the others by when they fall due. ``filter`` keeps those whose
        attributes match (as in :meth:`receive`); ``state`` (a :class:`pgmq.MessageState` or its value,
        ``"ready"``, ``"scheduled"``, ``"leased"``, ``"lapsed"`` or ``"waiting"``) those in that state. A
        plain read of one snapshot: it takes no lock, so it neither waits for workers nor holds them up, and
        what it returns may have changed by the time you look at it. ``message.decode()`` decodes with this queue
        handle's serializer.

        :class:`pgmq.InvalidOption` for a ``limit`` out of range or an unknown ``state``,
        :class:`pgmq.QueueNotFound` for an unknown queue.
        """
        if filter is not None and not isinstance(filter, Filter):
            raise TypeError(f"filter must be a pgmq.Filter (from pgmq.Attribute), not {type(filter).__name__}")
        if isinstance(state, MessageState):
            state = state.value
        elif state is not None and not isinstance(state, str):
            raise TypeError(f"state must be a pgmq.MessageState, a str or None, not {type(state).__name__}")
        return await self._native.peek(
            limit=count(limit, "limit"),
            filter=filter,
            state=state,
            serializer=self._serializer,
        )

    async def purge(self) -> int:
        """Deletes this queue's messages that no worker holds (ready and scheduled ones) and returns how
        many it deleted. Their outcome becomes :attr:`pgmq.Outcome.CANCELLED`, as if :meth:`cancel` had
        been called on each: waiters on them, in any process, learn it at once. Messages under a live
        lease are left to their workers; :meth:`cancel` their ids to stop those too. One transaction,
        whatever the number of messages; works on a dead-letter queue too.

        :class:`pgmq.QueueNotFound` for an unknown queue; :class:`pgmq.DatabaseError` (permission denied)
        for a role that may only send (``pgmq.grant_producer``)."""
        return await self._native.purge()

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

    async def set_max_messages(self, max_messages: Optional[int]) -> None:
        """Bounds this queue to ``max_messages`` (ready, scheduled and leased together), or with ``None``
        lifts its bound; the new bound holds for every client's next send. Lowering it below the queue's
        depth removes nothing: sends fit again once workers have drained it below the bound.

        :class:`pgmq.InvalidOption` for a bound under 1 or over 2**63 - 1, or any bound on a dead-letter
        queue (never bounded); :class:`pgmq.QueueNotFound` for an unknown queue."""
        await self._native.set_max_messages(queue_bound(max_messages, "max_messages"))

    async def cancel_group(self, group: str) -> List[UUID]:
        """Cancels every queued and held message of job group ``group`` in this queue (sent with
        ``send(..., group=group)``), as :meth:`cancel` does for each, and returns the ids found; held
        messages still being cancelled are found again by a second call, as by :meth:`cancel`. The group's
        messages in other queues are left alone: :meth:`pgmq.Client.cancel_group` cancels them too.

        :class:`pgmq.InvalidOption` for an invalid group id, :class:`pgmq.QueueNotFound` for an unknown
        queue. An unknown group is an empty one."""
        return await self._native.cancel_group(group_id(group, "group"))

    async def wait_for_group(self, group: str) -> Dict[UUID, Outcome]:
        """Waits until every message of job group ``group`` in this queue has an outcome (messages sent
        to it meanwhile count too) and returns them, ``{id: Outcome}`` as ``await completion()`` does.
        Woken by NOTIFY, not by polling; an empty or unknown group returns ``{}`` at once. A finished
        message leaves its group when its outcome expires (the queue's retention period).

        Cancelling the awaiting task (``asyncio.wait_for``, an anyio cancel scope) only stops the wait.
        :class:`pgmq.InvalidOption` for an invalid group id, :class:`pgmq.QueueNotFound` for an unknown
        queue."""
        outcomes = await self._native.wait_for_group(group_id(group, "group"))
        return {id_: Outcome(outcome) for id_, outcome in outcomes.items()}

    async def get_group_statistics(self, group: str) -> GroupStatistics:
        """Counts of job group ``group``'s messages in this queue, as a :class:`pgmq.GroupStatistics`: those
        still queued by state (``.messages`` = ``.ready`` + ``.scheduled`` + ``.leased``) and the finished
        ones by outcome (``.completed``, ``.dead_lettered``, ``.cancelled``, ``.expired``).
        :class:`pgmq.InvalidOption` for an invalid group id, :class:`pgmq.QueueNotFound` for an unknown
        queue."""
        return await self._native.group_stats(group_id(group, "group"))

    def wait_for_completion(
        self,
        message_id: UUID,
        *more: UUID,
        poll_interval: Optional[Duration] = _defaults.COMPLETION_POLL_INTERVAL,
    ) -> WaitingForCompletion:
        """A completion handle for messages sent earlier (by anyone):
        ``async with queue.wait_for_completion(id1, id2) as handle: outcomes = await handle()`` (or
        ``await handle.replies()``, with their results). ``poll_interval`` (a timedelta or seconds; default
        10 s, the core's) is the safety-net re-read: NOTIFY does the waking."""
        interval = optional_seconds(poll_interval, "poll_interval")
        return WaitingForCompletion(self._native, [message_id, *more], interval, self._serializer)

    def __repr__(self) -> str:
        return f"<pgmq.Queue {self.name!r}>"


__all__ = [
    "CompletionHandle",
    "Filter",
    "GroupStatistics",
    "MessageHandleStream",
    "PeekedMessage",
    "Queue",
    "QueueStatistics",
    "Reply",
    "Sending",
    "WaitingForCompletion",
]
