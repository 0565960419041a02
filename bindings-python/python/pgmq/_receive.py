"""Receiving: the stream of message handles, and ``acquire()``, which acks, nacks or releases a message
depending on how its block ends."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from types import TracebackType
from typing import Any, Callable, Deque, Dict, Generator, List, Optional, Type

from . import _pgmq
from ._errors import AlreadyAcquired, AlreadyFinished, ClientClosed, PgmqError, StreamClosed

Message = _pgmq.Message

_logger = logging.getLogger("pgmq")

# Handle states. A ready handle of a closed stream was released with it.
_READY = 0  # handed out by the stream, not acquired yet
_ACQUIRED = 1  # inside its acquire() block
_FINISHED = 2  # acked, nacked or released by its acquire() block

_HAS_UNCANCEL = sys.version_info >= (3, 11)

# How often the running acquire() blocks of a stream are looked at: a block starts being watched for
# cancellation after 1 to 2 of these, so queue.cancel() interrupts it within 2 (+ a few ms).
_WATCH_AFTER = 0.02


class _Checkpoint:
    """``await _checkpoint`` lets the event loop run once: a cheaper ``asyncio.sleep(0)``."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield


_checkpoint = _Checkpoint()


def _stream_closed() -> StreamClosed:
    return StreamClosed("the queue.receive() block was left: this stream is closed")


def error_reporter(
    queue: str, on_error: Optional[Callable[[PgmqError], object]]
) -> Optional[Callable[[PgmqError], None]]:
    """What a stream calls, on the event loop's thread, with each error it recovered from: ``on_error``, or
    nothing (the core logs each one as a warning on ``pgmq.core`` anyway). An exception ``on_error`` raises
    is logged on the ``pgmq`` logger and goes no further: reporting must never stop the stream."""
    if on_error is None:
        return None
    if not callable(on_error):
        raise TypeError(f"on_error must be callable, not {type(on_error).__name__}")

    def report(error: PgmqError) -> None:
        try:
            on_error(error)
        except Exception:
            _logger.exception("the on_error callback of queue.receive() on %r raised", queue)

    return report


class Receiving:
    """What ``queue.receive(...)`` returns: ``async with`` it to get a :class:`MessageHandleStream`.
    Leaving the block closes the stream."""

    __slots__ = ("_stream",)

    def __init__(self, receiver: _pgmq.Receiver) -> None:
        self._stream = MessageHandleStream(receiver)

    async def __aenter__(self) -> MessageHandleStream:
        return self._stream

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._stream._close()


class MessageHandleStream:
    """Leased messages, one handle at a time: ``handle = await stream.receive()`` or
    ``async for handle in stream``. Process a message with ``async with handle.acquire() as message``.

    The stream holds at most ``batch_size`` unfinished messages: when that many are out, ``receive()``
    waits until one finishes. Several tasks may receive from one stream. Cancelling a task waiting in
    ``receive()`` leaves nothing leased. Leaving the ``receive()`` block releases the messages whose
    handles were not acquired, for prompt redelivery.
    """

    __slots__ = (
        "_receiver", "_buffer", "_unacquired", "_delivered", "_closed", "_fetch", "_waiters",
        "_acks", "_ack_futures", "_running", "_watch_timer",
    )  # fmt: skip

    def __init__(self, receiver: _pgmq.Receiver) -> None:
        self._receiver = receiver
        # Leased, not handed out yet.
        self._buffer: Deque[_pgmq.Message] = deque()
        # Messages whose handles were handed out but not acquired, in delivery order: released when the
        # stream closes (a handle dropped before that releases its own message at once).
        self._unacquired: Dict[int, _pgmq.Message] = {}
        self._delivered = 0
        self._closed = False
        # The one claim in flight, and the tasks waiting in receive() (first come, first served).
        self._fetch: Optional[asyncio.Future[List[_pgmq.Message]]] = None
        self._waiters: Deque[asyncio.Future[_pgmq.Message]] = deque()
        # Acks asked for during this turn of the event loop, handed to the core together at its end.
        self._acks: List[_pgmq.Message] = []
        self._ack_futures: List[asyncio.Future[None]] = []
        # Blocks of acquire() running now, and the timer that starts watching them for cancellation.
        self._running: Dict[int, Acquisition] = {}
        self._watch_timer: Optional[asyncio.TimerHandle] = None

    async def receive(self) -> MessageHandle:
        """Waits for the next message. :class:`pgmq.StreamClosed` (a :class:`pgmq.HandleError`) once the
        stream is closed, :class:`pgmq.ClientClosed` if the client closes."""
        if self._closed:
            raise _stream_closed()
        if self._buffer:
            message = self._buffer.popleft()
        else:
            waiter: asyncio.Future[_pgmq.Message] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            if self._fetch is None:
                self._start_fetch()
            try:
                message = await waiter
            except asyncio.CancelledError:
                self._abandon(waiter)
                raise
            except ClientClosed:
                if self._closed:
                    raise _stream_closed() from None
                raise
        self._delivered = order = self._delivered + 1
        self._unacquired[order] = message
        return MessageHandle(message, self, order)

    def _ack(self, message: _pgmq.Message) -> asyncio.Future[None]:
        """Acks `message` together with the others acked during this turn of the event loop: the
        core then commits them in one statement instead of a trickle of small ones."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._acks:
            future.get_loop().call_soon(self._flush_acks)
        self._acks.append(message)
        self._ack_futures.append(future)
        return future

    def _started(self, acquisition: Acquisition, order: int) -> None:
        self._running[order] = acquisition
        if self._watch_timer is None:
            self._watch_timer = asyncio.get_running_loop().call_later(_WATCH_AFTER, self._watch_running)

    def _watch_running(self) -> None:
        """Watches for cancellation the blocks that have run for a while. Most blocks are over sooner
        and never cost a watch (a task in the runtime, started and stopped for every message)."""
        self._watch_timer = None
        for acquisition in list(self._running.values()):
            acquisition._tick()
        if self._running:
            self._watch_timer = asyncio.get_running_loop().call_later(_WATCH_AFTER, self._watch_running)

    def _flush_acks(self) -> None:
        messages, futures = self._acks, self._ack_futures
        self._acks, self._ack_futures = [], []
        _pgmq.ack_all(messages, futures)

    def _start_fetch(self) -> None:
        fetch = self._fetch = self._receiver.next_batch()
        fetch.add_done_callback(self._fetched)

    def _fetched(self, fetch: asyncio.Future[List[_pgmq.Message]]) -> None:
        """Hands a claimed batch to the waiting tasks in order; the rest waits in the buffer."""
        if fetch is not self._fetch:
            return
        self._fetch = None
        if fetch.cancelled():
            return
        error = fetch.exception()
        if error is not None:
            # Every waiter learns it: an error the receiver does not retry by itself (it does a lost
            # connection, reporting it to on_error). The stream stays usable: they may try again.
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
            return
        if self._closed:
            for message in fetch.result():
                message.release()
            return
        self._buffer.extend(fetch.result())
        self._serve()

    def _serve(self) -> None:
        buffer, waiters = self._buffer, self._waiters
        while buffer and waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(buffer.popleft())
        if waiters and self._fetch is None:
            self._start_fetch()

    def _abandon(self, waiter: asyncio.Future[_pgmq.Message]) -> None:
        """A waiting task was cancelled. If others wait, they get what it may have been handed; if
        nobody waits any more, the claim in flight is stopped and what the stream had leased for the
        waiters is handed back, so a cancelled receive() leaves nothing leased."""
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            self._buffer.appendleft(waiter.result())
        if self._waiters:
            self._serve()
            return
        if self._fetch is not None:
            fetch, self._fetch = self._fetch, None
            fetch.cancel()
        while self._buffer:
            self._buffer.popleft().release()

    def __aiter__(self) -> MessageHandleStream:
        return self

    async def __anext__(self) -> MessageHandle:
        """The next handle; the iteration ends when the stream is closed."""
        try:
            return await self.receive()
        except StreamClosed:
            raise StopAsyncIteration from None

    @property
    def closed(self) -> bool:
        """Whether the ``receive()`` block was left."""
        return self._closed

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._receiver.close()  # a claim in flight fails with ClientClosed: its waiters get stream_closed
        # In delivery order, so that the released messages keep their order in the queue.
        for message in self._unacquired.values():
            message.release()
        self._unacquired.clear()
        for message in self._buffer:
            message.release()
        self._buffer.clear()
        if self._fetch is None:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(_stream_closed())

    def __repr__(self) -> str:
        return f"<pgmq.MessageHandleStream closed={self._closed} buffered={len(self._buffer)}>"


class MessageHandle:
    """A message leased to this worker, not yet being processed. ``async with handle.acquire() as
    message`` processes it: a clean exit acks it (with the result ``message.set_result()`` gave, if
    any), an exception nacks it (with the exception's text as the error) and propagates, a cancellation
    releases it for prompt redelivery and propagates. A block that finishes the message itself (``await
    message.nack(delay=...)``, ``await message.ack()``, ``message.release()``) has decided: its exit then
    does nothing more, however it ends."""

    __slots__ = ("_message", "_stream", "_state", "_order")

    def __init__(self, message: _pgmq.Message, stream: MessageHandleStream, order: int) -> None:
        self._message = message
        self._stream = stream
        self._state = _READY
        self._order = order

    def acquire(self) -> Acquisition:
        """Starts processing the message. A :class:`pgmq.HandleError` if it cannot:
        :class:`pgmq.AlreadyAcquired` (it is being processed), :class:`pgmq.AlreadyFinished` (it was
        processed) or :class:`pgmq.StreamClosed` (its stream was closed first, which released it)."""
        if self._state != _READY:
            if self._state == _ACQUIRED:
                raise AlreadyAcquired("this message is already being processed by acquire()")
            raise AlreadyFinished("this message was already processed (acked, nacked or released)")
        stream = self._stream
        if stream._closed:
            raise _stream_closed()
        self._state = _ACQUIRED
        del stream._unacquired[self._order]
        return Acquisition(self)

    def __del__(self) -> None:
        # Dropped without being acquired: release now, even if something else (the result of the
        # receive's awaitable, say) still refers to the native message for a while.
        if self._state == _READY and self._stream._unacquired.pop(self._order, None) is not None:
            self._message.release()

    def __repr__(self) -> str:
        state = ("ready", "acquired", "finished")[self._state]
        return f"<pgmq.MessageHandle id={self._message.id} {state}>"


class Acquisition:
    """The ``async with`` of ``handle.acquire()``: gives the :class:`pgmq.Message`, then finishes it.

    While the block runs, a cancellation of the message (``queue.cancel()``) interrupts the block's task
    within milliseconds; the block then exits without raising, and the message is not redelivered.
    """

    __slots__ = ("_handle", "_watch", "_task", "_interrupted", "_active", "_seen")

    def __init__(self, handle: MessageHandle) -> None:
        self._handle = handle
        self._watch: Optional[_pgmq.CancelWatch] = None
        self._task: Optional[asyncio.Task[Any]] = None
        self._interrupted = False
        self._active = False
        self._seen = False

    async def __aenter__(self) -> _pgmq.Message:
        handle = self._handle
        message = handle._message
        try:
            # A checkpoint, as every async call should be: a task cancelled before processing starts
            # hands the message back instead of running the block.
            await _checkpoint
        except BaseException:
            handle._state = _FINISHED
            message.release()
            raise
        self._task = asyncio.current_task()
        if self._task is not None:
            self._active = True
            handle._stream._started(self, handle._order)
        return message

    def _tick(self) -> None:
        # Seen by one tick of the stream's timer: still running at the next, it gets watched.
        if not self._seen:
            self._seen = True
        elif self._watch is None and self._active:
            self._watch = self._handle._message.watch_cancelled(self._interrupt)

    def _interrupt(self) -> None:
        # On the event loop's thread: the message was cancelled while its block runs.
        if self._active and self._task is not None:
            self._active = False
            self._interrupted = True
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        self._active = False
        if self._watch is not None:
            self._watch.disarm()
            self._watch = None
        handle = self._handle
        handle._state = _FINISHED
        stream = handle._stream
        stream._running.pop(handle._order, None)
        message = handle._message
        if self._interrupted:
            # Cancelled by queue.cancel(): releasing drops it for good (its outcome is already recorded).
            message.release()
            return await self._end_interruption(exc_type)
        if message.finished:
            # The block acked, nacked or released it itself: that was the decision, however the block ends.
            return False
        if exc_type is None:
            try:
                await stream._ack(message)
            except AlreadyFinished:
                pass  # an ack or nack the block started without awaiting it got there first
            return False
        if issubclass(exc_type, Exception):
            try:
                await message.nack(error=f"{exc_type.__name__}: {exc}")
            except PgmqError:
                pass  # the lease was lost or the client closed: the message comes back anyway
            return False
        # Cancelled (or KeyboardInterrupt, SystemExit): hand it back now rather than when the lease expires.
        message.release()
        return False

    async def _end_interruption(self, exc_type: Optional[Type[BaseException]]) -> bool:
        """Takes back the task cancellation that interrupted the block. Returns whether to swallow the
        exception the block ended with."""
        task = self._task
        others = task.uncancel() if _HAS_UNCANCEL and task is not None else 0
        if exc_type is not None:
            return issubclass(exc_type, asyncio.CancelledError) and others == 0
        # The block ended before our cancellation reached it: it would hit the next await after the block.
        try:
            await _checkpoint
        except asyncio.CancelledError:
            if others or (_HAS_UNCANCEL and task is not None and task.cancelling()):
                raise
        return False
