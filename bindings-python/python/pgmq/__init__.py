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

The Rust core (``pgmq-core``) does all the work; this package adapts it to Python.
"""

from __future__ import annotations

import atexit

from . import _pgmq
from ._client import (
    Client,
    Connecting,
    QueueContext,
    connect,
    connect_to_queue,
    create_queue,
    delete_queue,
    get_dlq_name,
    migrate_to_latest_version,
)
from ._convert import Body, Duration
from ._errors import (
    ClientClosed,
    ConnectionError,
    DatabaseError,
    HandleError,
    InternalError,
    InvalidOption,
    InvalidQueueName,
    LeaseLost,
    MessageNotFound,
    PgmqError,
    QueueNotFound,
    SchemaConflict,
    SchemaMissing,
    Timeout,
)
from ._queue import CompletionHandle, Queue, Sending, WaitingForCompletion
from ._receive import Acquisition, MessageHandle, MessageHandleStream, Receiving
from ._types import AttributeValue, Attributes, OutgoingMessage, Outcome, QueueOptions

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
    "Attribute",
    "AttributeValue",
    "Attributes",
    "Body",
    "Client",
    "ClientClosed",
    "CompletionHandle",
    "Connecting",
    "ConnectionError",
    "DatabaseError",
    "Duration",
    "Filter",
    "HandleError",
    "InternalError",
    "InvalidOption",
    "InvalidQueueName",
    "LATEST_SCHEMA_VERSION",
    "LeaseLost",
    "Message",
    "MessageHandle",
    "MessageHandleStream",
    "MessageNotFound",
    "OutgoingMessage",
    "Outcome",
    "PgmqError",
    "Queue",
    "QueueContext",
    "QueueNotFound",
    "QueueOptions",
    "QueueStatistics",
    "Receiving",
    "SchemaConflict",
    "SchemaMissing",
    "Sending",
    "Timeout",
    "WaitingForCompletion",
    "connect",
    "connect_to_queue",
    "create_queue",
    "delete_queue",
    "get_dlq_name",
    "migrate_to_latest_version",
]
