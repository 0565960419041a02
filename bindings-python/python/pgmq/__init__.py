"""pgmq: a message queue inside PostgreSQL, for asyncio (and anyio on asyncio).

::

    import pgmq

    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue("jobs", client)
        async with pgmq.connect_to_queue("jobs", client) as queue:
            async with queue.send(b"resize image 42") as completion:
                async with queue.receive() as stream:
                    async with (await stream.receive()).acquire() as message:
                        print(message.body)          # clean exit: acked
                print(await completion())            # {UUID(...): Outcome.COMPLETED}

Bodies are bytes, sent and received as they are; a ``str``, sent as its UTF-8 text; or any other value
(``queue.send({"resize": 42})``), sent as JSON labelled ``content-type: application/json`` and read back
with ``message.json()`` or ``message.decode()``. A serializer given to ``connect_to_queue(...,
serializer=)`` encodes every body that is not bytes, ``str`` included.

A worker can answer a message: ``await message.ack(result)`` (or ``message.set_result(result)`` before the
clean exit of its ``acquire()`` block) keeps the result with the outcome, ``await completion.replies()``
reads it, and ``reply = await queue.request(body, timeout=5)`` sends and waits for the reply in one call.

To send inside your own transaction (the outbox pattern), :mod:`pgmq.sql` runs pgmq's SQL send functions
on your asyncpg, psycopg or SQLAlchemy connection: ``await pgmq.sql.execute(conn, pgmq.sql.send("jobs",
b"..."))``; the message exists if and when your transaction commits.

For operators: ``queue.peek()`` reads messages (of a queue or a dead-letter queue) without leasing them,
``queue.purge()`` deletes those no worker holds, ``client.list_queues_with_stats()`` surveys every queue.

Backpressure: a queue created with ``max_messages=`` holds at most that many messages; a send that does not
fit waits up to ``wait_for_room=`` for workers to make room, then raises :class:`QueueFull`.

Job groups: ``queue.send(..., group="import-42")`` puts messages, in one queue or several, in a group that
``client.cancel_group()``, ``client.wait_for_group()`` and ``client.get_group_statistics()`` (or the same
methods of a queue, for its part of the group) act on together.

Dependencies: ``queue.send(..., depends_on=completion.ids)`` (messages of any queue) and
``OutgoingMessage(body, after=[0])`` (earlier entries of the same send) make messages wait until those
have completed; if one does not, they are cancelled, and ``reply.reason`` says why.

The core logs through :mod:`logging`: logger ``pgmq.core`` (``record.rust_target`` names the Rust module),
levels ``ERROR`` to ``DEBUG`` and :data:`TRACE`; the Python layer logs on ``pgmq``.

The Rust core (``pgmq-core``) does all the work; this package adapts it to Python.
"""

from __future__ import annotations

import atexit

from . import _pgmq
from ._client import (
    Client,
    Connecting,
    QueueContext,
    QueueInfo,
    QueueOverview,
    connect,
    connect_to_queue,
    create_queue,
    delete_queue,
    get_dlq_name,
    migrate_to_latest_version,
    redact_dsn,
)
from ._convert import Body, Duration
from ._log import TRACE
from ._errors import (
    AlreadyAcquired,
    AlreadyFinished,
    ClientClosed,
    ConnectionError,
    DatabaseError,
    HandleError,
    InternalError,
    InvalidOption,
    InvalidQueueName,
    LeaseLost,
    MessageNotFound,
    NotTracked,
    PgmqError,
    QueueFull,
    QueueNotFound,
    RequestFailed,
    SchemaConflict,
    SchemaMissing,
    StreamClosed,
    Timeout,
)
from ._queue import CompletionHandle, GroupStatistics, PeekedMessage, Queue, Reply, Sending, WaitingForCompletion
from ._receive import Acquisition, MessageHandle, MessageHandleStream, Receiving
from ._serializers import (
    CONTENT_TYPE_ATTRIBUTE,
    JSON_CONTENT_TYPE,
    ContentTypeError,
    JsonSerializer,
    Serializer,
)
from ._types import AttributeValue, Attributes, Backoff, MessageState, OutgoingMessage, Outcome, QueueOptions
from . import sql

Attribute = _pgmq.Attribute
Filter = _pgmq.Filter
Message = _pgmq.Message
QueueStatistics = _pgmq.QueueStatistics

LATEST_SCHEMA_VERSION: int = _pgmq.LATEST_SCHEMA_VERSION
__version__: str = _pgmq.__version__

# Stop the Rust runtime before the interpreter finalizes (see bindings-python/src/runtime.rs).
atexit.register(_pgmq._shutdown)

__all__ = [
    "Acquisition",
    "AlreadyAcquired",
    "AlreadyFinished",
    "Attribute",
    "AttributeValue",
    "Attributes",
    "Backoff",
    "Body",
    "CONTENT_TYPE_ATTRIBUTE",
    "Client",
    "ClientClosed",
    "CompletionHandle",
    "Connecting",
    "ConnectionError",
    "ContentTypeError",
    "DatabaseError",
    "Duration",
    "Filter",
    "GroupStatistics",
    "HandleError",
    "InternalError",
    "InvalidOption",
    "InvalidQueueName",
    "JSON_CONTENT_TYPE",
    "JsonSerializer",
    "LATEST_SCHEMA_VERSION",
    "LeaseLost",
    "Message",
    "MessageHandle",
    "MessageHandleStream",
    "MessageNotFound",
    "MessageState",
    "NotTracked",
    "OutgoingMessage",
    "Outcome",
    "PeekedMessage",
    "PgmqError",
    "Queue",
    "QueueContext",
    "QueueFull",
    "QueueInfo",
    "QueueNotFound",
    "QueueOptions",
    "QueueOverview",
    "QueueStatistics",
    "Receiving",
    "Reply",
    "RequestFailed",
    "SchemaConflict",
    "SchemaMissing",
    "Sending",
    "Serializer",
    "StreamClosed",
    "TRACE",
    "Timeout",
    "WaitingForCompletion",
    "connect",
    "connect_to_queue",
    "create_queue",
    "delete_queue",
    "get_dlq_name",
    "migrate_to_latest_version",
    "redact_dsn",
    "sql",
]
