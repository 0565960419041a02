"""The exceptions of pgmq.

Every one is a :class:`PgmqError` carrying ``.code``, the core's stable snake_case code (the same in every
language pgmq speaks). Where a built-in exception means the same thing, the class is one of those too, so
``except LookupError`` or ``except ValueError`` work as a Python user expects. :data:`CLASSES` says which
class each of the core's codes raises, one class per code; the codes themselves, and whether each is
transient, are the core's (``pgmq_core::ERROR_CODES``, read from the native module). Two more codes are the
Python layer's own (:data:`PYTHON_CLASSES`): misuses of the handles of ``receive()`` and ``acquire()``,
which the core never sees.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type, Union
from uuid import UUID

from . import _pgmq
from ._types import Outcome

__all__ = [
    "PgmqError",
    "InvalidQueueName",
    "InvalidOption",
    "QueueNotFound",
    "MessageNotFound",
    "RequestFailed",
    "QueueFull",
    "LeaseLost",
    "HandleError",
    "AlreadyFinished",
    "NotTracked",
    "StreamClosed",
    "AlreadyAcquired",
    "SchemaMissing",
    "SchemaConflict",
    "ConnectionError",
    "Timeout",
    "DatabaseError",
    "ClientClosed",
    "InternalError",
]


class PgmqError(Exception):
    """Base class of every pgmq error. ``code`` is the stable code of the failure."""

    code: str = "pgmq"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed: ``True`` for ``connection``, ``timeout`` and
        ``queue_full`` (the core's ``Error::is_transient``), ``False`` for every other code."""
        return _TRANSIENT.get(self.code, False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.code))


class InvalidQueueName(PgmqError, ValueError):
    """A queue name does not match ``^[a-zA-Z0-9_-]{1,48}$`` (or uses the reserved ``dlq@`` prefix
    where a plain name is required). Nothing was written."""

    code = "invalid_queue_name"


class InvalidOption(PgmqError, ValueError):
    """An option or argument is out of range or malformed (an ack deadline under one second, a batch
    size of 0, a negative duration, a NaN attribute...). Nothing was written."""

    code = "invalid_option"


class QueueNotFound(PgmqError, LookupError):
    """No queue has this name."""

    code = "queue_not_found"


class MessageNotFound(PgmqError, LookupError):
    """Completion was asked of a message that is neither queued nor has an outcome record."""

    code = "message_not_found"


class RequestFailed(PgmqError):
    """A request (``queue.request()``) finished without a reply: it was dead-lettered, cancelled or expired
    instead of completed. ``outcome`` says which (a :class:`pgmq.Outcome`), ``message_id`` is the
    request's id; both are set when pgmq raises it."""

    code = "request_failed"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        message_id: Optional[UUID] = None,
        outcome: Union[Outcome, str, None] = None,
    ) -> None:
        super().__init__(message, code)
        self.message_id = message_id
        self.outcome: Optional[Outcome] = None if outcome is None else Outcome(outcome)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.code), {"message_id": self.message_id, "outcome": self.outcome})


class QueueFull(PgmqError):
    """A bounded queue (``create_queue(..., max_messages=)``) had no room for the whole send, at once
    (``wait_for_room=0``, or the SQL send of :mod:`pgmq.sql`) or within the send's ``wait_for_room``.
    Nothing was written; sending again once workers have finished messages may succeed
    (:attr:`transient`)."""

    code = "queue_full"


class LeaseLost(PgmqError):
    """The lease on the message was lost (it expired and the message went to another worker, or it was
    dead-lettered): the ack or nack changed nothing."""

    code = "lease_lost"


class HandleError(PgmqError, RuntimeError):
    """A handle was used in a way its state does not allow: ``except pgmq.HandleError`` catches the four
    misuses, each a class of its own with its own code. Never raised itself, so it has no code of its own:

    - :class:`AlreadyFinished` (``already_finished``): acking, nacking or acquiring a message that was
      already acked, nacked or released;
    - :class:`NotTracked` (``not_tracked``): waiting for the completion of messages sent with
      ``track=False``;
    - :class:`StreamClosed` (``stream_closed``, the Python layer's): acquiring a message after its
      ``receive()`` block was left, or receiving from a closed stream;
    - :class:`AlreadyAcquired` (``already_acquired``, the Python layer's): acquiring a message that is
      being processed.
    """


class AlreadyFinished(HandleError):
    """The message was already acked, nacked or released through this handle: nothing changed."""

    code = "already_finished"


class NotTracked(HandleError):
    """Waiting for the outcome of a message sent with ``track=False``, which keeps no outcome record."""

    code = "not_tracked"


class StreamClosed(HandleError):
    """The ``queue.receive()`` block was left: its stream hands out nothing more, and the handles it
    handed out can no longer be acquired (their messages were released). A code of the Python layer."""

    code = "stream_closed"


class AlreadyAcquired(HandleError):
    """The message is being processed by an ``acquire()`` block already. A code of the Python layer."""

    code = "already_acquired"


class SchemaMissing(PgmqError):
    """The ``pgmq`` schema is missing or outdated: run :func:`pgmq.migrate_to_latest_version`."""

    code = "schema_missing"


class SchemaConflict(PgmqError):
    """:func:`pgmq.migrate_to_latest_version` found a ``pgmq`` schema that is not pgmq's: it belongs to
    an extension (Tembo's pgmq extension, which Supabase Queues enables, uses the same schema name), or it
    holds objects but no ``pgmq.schema_migrations`` table. The message names the schema's owner and the
    extension or objects, and what to do. Nothing was changed."""

    code = "schema_conflict"


class ConnectionError(PgmqError):  # noqa: A001 - pgmq.ConnectionError, as the API names it
    """The server could not be reached, refused the login, or the connection broke (:attr:`transient`:
    trying again later may succeed)."""

    code = "connection"


class Timeout(PgmqError, TimeoutError):
    """Something ran out of time: a lock wait hit ``lock_timeout`` (migrating sets 5 s for its own
    transaction), the server's ``statement_timeout`` cancelled a statement, or no pool connection came
    free within the client's ``statement_timeout``. Nothing changed, and trying again later is safe
    (:attr:`transient`). Also a ``queue.request()`` that got no reply within its ``timeout``: the request
    was cancelled. A :class:`TimeoutError` too, so ``except TimeoutError`` catches it."""

    code = "timeout"


class DatabaseError(PgmqError):
    """PostgreSQL reported an error that is none of the above."""

    code = "database"


class ClientClosed(PgmqError):
    """The client was closed (or pgmq was shut down at interpreter exit, or the client was created in
    the parent of a forked process)."""

    code = "closed"


class InternalError(PgmqError):
    """A bug in pgmq: a panic in its Rust core, caught and raised here instead of crashing the process
    (or, inside an awaitable, instead of leaving it pending forever). The operation did not complete;
    whether it had taken effect is unknown. The interpreter and other pgmq objects keep working."""

    code = "internal"


CLASSES: Dict[str, Type[PgmqError]] = {
    **{
        cls.code: cls
        for cls in (
            InvalidQueueName,
            InvalidOption,
            QueueNotFound,
            LeaseLost,
            AlreadyFinished,
            NotTracked,
            MessageNotFound,
            RequestFailed,
            QueueFull,
            SchemaMissing,
            SchemaConflict,
            ConnectionError,
            Timeout,
            DatabaseError,
            ClientClosed,
            InternalError,
        )
    }
}
"""The class raised for each of the core's error codes, one class per code (tests/test_truths.py checks
that it names every code of the core, and only those)."""

PYTHON_CLASSES: Dict[str, Type[PgmqError]] = {cls.code: cls for cls in (StreamClosed, AlreadyAcquired)}
"""The class of each code of the Python layer: misuses of a handle that never reach the core."""

_TRANSIENT: Dict[str, bool] = {code: transient for code, transient, _ in _pgmq.ERROR_CODES}


SQLSTATES: Dict[str, str] = json.loads(_pgmq._truths_json())["sqlstates"]
"""The SQLSTATEs pgmq's SQL functions raise (class ``PQ``, pgmq's own) and the core's code each stands
for: ``{"PQ001": "queue_not_found", "PQ002": "invalid_option", "PQ003": "queue_full"}``, read from the
core's table of truths.
``pgmq.sql`` raises the class of that code for a driver's exception with one of these states."""


def from_sqlstate(sqlstate: str, message: str) -> Optional[PgmqError]:
    """The exception for an error a pgmq SQL function raised with ``sqlstate`` and the server's
    ``message`` (``pgmq: queue "x" does not exist``); ``None`` for a state that is not pgmq's."""
    code = SQLSTATES.get(sqlstate)
    return None if code is None else error(message, code)


def error(message: str, code: str, **details: Any) -> PgmqError:
    """The exception for an error of the core: of the class :data:`CLASSES` names for ``code``
    (:class:`PgmqError` for a code this package does not know yet), given the ``details`` of its variant
    (``RequestFailed``'s ``message_id`` and ``outcome``)."""
    cls = CLASSES.get(code, PgmqError)
    return cls(message, code, **details) if details else cls(message, code)
