"""Connecting, the schema, creating and deleting queues, opening them."""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Any, Generator, Optional, Type

from . import _pgmq
from ._convert import Duration, count, optional_seconds, seconds
from ._queue import Queue
from ._types import QueueOptions


class Client:
    """A connection to a database holding the ``pgmq`` schema: a pool of work connections plus one
    LISTEN connection shared by every receiver and completion waiter. Create one per process and share
    it; close it with ``await client.close()`` (or use ``async with pgmq.connect(dsn) as client``)."""

    __slots__ = ("_native",)

    def __init__(self, native: _pgmq.Client) -> None:
        self._native = native

    async def close(self) -> None:
        """Flushes pending acks, then closes every connection. Waiting receivers and completion waiters
        fail with :class:`pgmq.ClientClosed`."""
        await self._native.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    async def redrive(self, source: str, target: str) -> int:
        """Moves every unleased message of queue ``source`` (typically a dead-letter queue) to
        ``target`` as fresh messages (same ids, bodies and attributes; attempts reset). Returns how
        many moved. :class:`pgmq.QueueNotFound` if either queue is unknown."""
        return await self._native.redrive(source, target)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<pgmq.Client closed={self.closed}>"


class Connecting:
    """What :func:`connect` returns: await it for a :class:`Client`, or use it as ``async with``
    (the client is closed when the block ends)."""

    __slots__ = ("_dsn", "_options", "_client")

    def __init__(self, dsn: str, options: dict[str, Any]) -> None:
        self._dsn = dsn
        self._options = options
        self._client: Optional[Client] = None

    async def _connect(self) -> Client:
        native = await _pgmq.connect(self._dsn, **self._options)
        return Client(native)

    def __await__(self) -> Generator[Any, None, Client]:
        return self._connect().__await__()

    async def __aenter__(self) -> Client:
        self._client = await self._connect()
        return self._client

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def connect(
    dsn: str,
    *,
    listen_dsn: Optional[str] = None,
    pool_size: int = 10,
    connect_timeout: Optional[Duration] = None,
    statement_timeout: Optional[Duration] = None,
    statement_cache: Optional[bool] = None,
    connect_retry: Optional[Duration] = None,
    application_name: Optional[str] = None,
    schema: Optional[str] = None,
) -> Connecting:
    """Connects to PostgreSQL: ``async with pgmq.connect(dsn) as client`` or
    ``client = await pgmq.connect(dsn)``.

    ``dsn`` is a libpq URL (``postgres://user@host:5432/db``) or key=value string, read as libpq reads
    it: the ``PG*`` environment variables and ``~/.pgpass`` fill what it leaves out (``""`` takes
    everything from them), ``sslmode=verify-full`` with ``sslrootcert=/path/to/ca.crt`` sets up TLS.
    ``listen_dsn`` is a separate DSN for the LISTEN connection (e.g. direct to PostgreSQL while ``dsn``
    goes through a transaction-pooling PgBouncer). ``pool_size`` is the number of work connections.

    Durations are ``timedelta`` or seconds; ``None`` leaves the core's default:

    - ``connect_timeout`` (10 s): how long one host may take to accept a connection before the next host
      of the DSN is tried, unless the DSN or ``PGCONNECT_TIMEOUT`` sets ``connect_timeout``.
    - ``statement_timeout`` (60 s): the longest a statement may run (it then raises
      :class:`pgmq.ConnectionError` and its connection is closed) or a call may wait for a free pool
      connection (:class:`pgmq.Timeout`). Migrations are not bounded by it.
    - ``statement_cache``: ``True`` prepares statements once per connection; ``False`` sends them
      unnamed, as a transaction-pooling PgBouncer before 1.21 needs. ``None``: cached unless
      ``listen_dsn`` is given.
    - ``connect_retry`` (0): how long to keep trying a server that cannot be reached yet (one starting
      beside this service), with a capped, jittered backoff. A refused login is never retried.
    - ``application_name`` (``"pgmq-python"``): what ``pg_stat_activity`` shows, unless the DSN or
      ``PGAPPNAME`` names one.
    - ``schema`` (``"pgmq"``): the schema pgmq's tables and functions live in; another name (a
      lower-case identifier) lets pgmq share a database with Tembo's pgmq extension, which uses
      ``pgmq``. Every client of one installation must use the same schema.

    Raises :class:`pgmq.ConnectionError` if the server cannot be reached, its certificate is not
    trusted or the login is refused, :class:`pgmq.InvalidOption` for a malformed DSN, a pool size under
    1, a timeout that is not positive or a negative duration; ``TypeError`` for an argument of the wrong
    type. No error shows the password.
    """
    if not isinstance(dsn, str):
        raise TypeError(f"dsn must be a str, not {type(dsn).__name__}")
    if listen_dsn is not None and not isinstance(listen_dsn, str):
        raise TypeError(f"listen_dsn must be a str, not {type(listen_dsn).__name__}")
    if statement_cache is not None and not isinstance(statement_cache, bool):
        raise TypeError(f"statement_cache must be a bool or None, not {type(statement_cache).__name__}")
    if application_name is not None and not isinstance(application_name, str):
        raise TypeError(f"application_name must be a str or None, not {type(application_name).__name__}")
    if schema is not None and not isinstance(schema, str):
        raise TypeError(f"schema must be a str or None, not {type(schema).__name__}")
    options: dict[str, Any] = {
        "listen_dsn": listen_dsn,
        "pool_size": count(pool_size, "pool_size"),
        "connect_timeout": optional_seconds(connect_timeout, "connect_timeout"),
        "statement_timeout": optional_seconds(statement_timeout, "statement_timeout"),
        "statement_cache": statement_cache,
        "connect_retry": optional_seconds(connect_retry, "connect_retry"),
        "application_name": application_name,
        "schema": schema,
    }
    return Connecting(dsn, options)


def _native(client: Client) -> _pgmq.Client:
    if not isinstance(client, Client):
        raise TypeError(f"expected a pgmq.Client (from pgmq.connect), not {type(client).__name__}")
    return client._native


async def migrate_to_latest_version(client: Client) -> None:
    """Creates or upgrades the ``pgmq`` schema. Idempotent, and safe from many processes at once.

    Raises :class:`pgmq.Timeout` (nothing changed; run it again later) after waiting 5 s for a lock that
    a long transaction holds on pgmq's tables, and :class:`pgmq.SchemaConflict` if a ``pgmq`` schema
    exists that is not pgmq's (an extension's, or one holding other objects)."""
    await _native(client).migrate()


async def create_queue(
    name: str,
    client: Client,
    *,
    ack_deadline: Duration = timedelta(seconds=10),
    max_delivery_attempts: int = 10,
    retention_period: Duration = timedelta(days=7),
    dlq_options: Optional[QueueOptions] = QueueOptions(),
) -> bool:
    """Creates a queue and, unless ``dlq_options`` is ``None``, its dead-letter queue ``dlq@<name>``,
    in one transaction. Returns ``False`` (changing nothing) if the queue already exists.

    ``ack_deadline`` (>= 1 s) is how long a delivered message stays leased without a heartbeat (the
    client extends it while a worker holds the message); after ``max_delivery_attempts`` deliveries a
    message moves to the dead-letter queue; an unconsumed message moves there after
    ``retention_period``. Durations are ``timedelta`` or seconds. Raises
    :class:`pgmq.InvalidQueueName` or :class:`pgmq.InvalidOption` before writing anything.
    """
    native = _native(client)
    dlq = None
    if dlq_options is not None:
        if not isinstance(dlq_options, QueueOptions):
            raise TypeError(f"dlq_options must be a pgmq.QueueOptions or None, not {type(dlq_options).__name__}")
        dlq = (
            seconds(dlq_options.ack_deadline, "dlq_options.ack_deadline"),
            count(dlq_options.max_delivery_attempts, "dlq_options.max_delivery_attempts"),
            seconds(dlq_options.retention_period, "dlq_options.retention_period"),
        )
    return await native.create_queue(
        name,
        ack_deadline=seconds(ack_deadline, "ack_deadline"),
        max_delivery_attempts=count(max_delivery_attempts, "max_delivery_attempts"),
        retention_period=seconds(retention_period, "retention_period"),
        dlq=dlq,
    )


async def delete_queue(name: str, client: Client) -> bool:
    """Deletes a queue with its messages, outcome records and the dead-letter queue created with it.
    Returns ``False`` if there is no such queue."""
    return await _native(client).delete_queue(name)


def get_dlq_name(name: str) -> str:
    """The name of the dead-letter queue created with queue ``name``: ``"dlq@" + name``."""
    return _pgmq.dlq_name(name)


class QueueContext:
    """What :func:`connect_to_queue` returns: ``async with`` it to get the :class:`Queue`."""

    __slots__ = ("_queue",)

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    async def __aenter__(self) -> Queue:
        return self._queue

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        pass


def connect_to_queue(name: str, client: Client) -> QueueContext:
    """Opens queue ``name`` (or a dead-letter queue, ``"dlq@" + name``):
    ``async with pgmq.connect_to_queue("jobs", client) as queue``. Nothing is read from the database:
    sending to a queue that does not exist raises :class:`pgmq.QueueNotFound`, receiving waits for it
    to exist. :class:`pgmq.InvalidQueueName` for a malformed name."""
    return QueueContext(Queue(_native(client).queue(name)))
