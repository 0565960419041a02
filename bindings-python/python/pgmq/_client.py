"""Connecting, the schema, creating, listing and deleting queues, redrive, job groups across queues,
opening queues."""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any, Dict, Generator, List, Optional, Type
from uuid import UUID

from . import _defaults, _pgmq
from ._convert import Duration, count, group_id, optional_seconds, queue_bound, seconds
from ._queue import GroupStatistics, Queue
from ._serializers import Serializer, checked
from ._types import Backoff, Outcome, QueueOptions

QueueInfo = _pgmq.QueueInfo
QueueOverview = _pgmq.QueueOverview


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

    async def schema_version(self) -> int:
        """The version of the pgmq schema in the database: 0 before the first migration,
        :data:`pgmq.LATEST_SCHEMA_VERSION` once :func:`pgmq.migrate_to_latest_version` ran."""
        return await self._native.schema_version()

    async def list_queues(self) -> List[QueueInfo]:
        """Every queue, dead-letter queues included, by name: their settings as :class:`pgmq.QueueInfo`
        (``.name``, ``.ack_deadline`` and ``.retention_period`` as timedeltas, ``.max_delivery_attempts``,
        ``.dead_letter_queue``: its name or ``None``, ``.backoff``: a :class:`pgmq.Backoff` or ``None``,
        ``.max_messages``: its bound or ``None``)."""
        return await self._native.list_queues()

    async def list_queues_with_stats(self) -> List[QueueOverview]:
        """Every queue, dead-letter queues included, by name, with its counts, all read at one instant in
        one statement: a :class:`pgmq.QueueOverview` each (``.info``: its :class:`pgmq.QueueInfo`,
        ``.stats``: its :class:`pgmq.QueueStatistics`, ``.oldest_ready_age``: how long its oldest ready
        message has waited since it became available, a timedelta, or ``None`` when none is ready).

        It reads every message row once, as a ``count(*)`` of the messages would: fine for a dashboard
        refreshed every few seconds, not for a hot loop."""
        return await self._native.list_queues_with_stats()

    async def redrive(self, source: str, target: str) -> int:
        """Moves every unleased message of queue ``source`` (typically a dead-letter queue) to
        ``target`` as fresh messages (same ids, bodies and attributes; attempts reset). Returns how
        many moved. :class:`pgmq.QueueNotFound` if either queue is unknown."""
        return await self._native.redrive(source, target)

    async def cancel_group(self, group: str) -> List[UUID]:
        """Cancels every queued and held message of job group ``group`` (``queue.send(..., group=group)``)
        in every queue, as :meth:`pgmq.Queue.cancel` does for each: a queued or scheduled message is never
        delivered, a held one's ``acquire()`` block is interrupted and its ack changes nothing. Returns
        the ids found, held messages still being cancelled included. An unknown group is an empty one;
        :class:`pgmq.InvalidOption` for an invalid group id."""
        return await self._native.cancel_group(group_id(group, "group"))

    async def wait_for_group(self, group: str) -> Dict[UUID, Outcome]:
        """Waits until every message of job group ``group``, in every queue, has an outcome (messages sent
        to it meanwhile count too) and returns them, ``{id: Outcome}``. Woken by NOTIFY, not by polling;
        an empty or unknown group returns ``{}`` at once. A finished message leaves its group when its
        outcome expires (its queue's retention period).

        Cancelling the awaiting task only stops the wait. :class:`pgmq.InvalidOption` for an invalid
        group id."""
        outcomes = await self._native.wait_for_group(group_id(group, "group"))
        return {id_: Outcome(outcome) for id_, outcome in outcomes.items()}

    async def get_group_statistics(self, group: str) -> GroupStatistics:
        """Counts of job group ``group``'s messages in every queue, as a :class:`pgmq.GroupStatistics`
        (see :meth:`pgmq.Queue.get_group_statistics`). :class:`pgmq.InvalidOption` for an invalid group
        id."""
        return await self._native.group_stats(group_id(group, "group"))

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
    pool_size: int = _defaults.POOL_SIZE,
    connect_timeout: Optional[Duration] = None,
    statement_timeout: Optional[Duration] = None,
    statement_cache: Optional[bool] = None,
    connect_retry: Optional[Duration] = None,
    application_name: Optional[str] = None,
    schema: Optional[str] = None,
    maintenance_interval: Optional[Duration] = None,
) -> Connecting:
    """Connects to PostgreSQL: ``async with pgmq.connect(dsn) as client`` or
    ``client = await pgmq.connect(dsn)``.

    ``dsn`` is a libpq URL (``postgres://user@host:5432/db``) or key=value string, read as libpq reads
    it: the ``PG*`` environment variables and ``~/.pgpass`` fill what it leaves out (``""`` takes
    everything from them), ``sslmode=verify-full`` with ``sslrootcert=/path/to/ca.crt`` sets up TLS.
    ``listen_dsn`` is a separate DSN for the LISTEN connection (e.g. direct to PostgreSQL while ``dsn``
    goes through a transaction-pooling PgBouncer). ``pool_size`` (default 10) is the number of work
    connections.

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
    - ``maintenance_interval`` (1 s): how often this client offers to run housekeeping (retention expiry,
      lapsed last attempts, outcome pruning); one client at a time does it.

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
        "maintenance_interval": optional_seconds(maintenance_interval, "maintenance_interval"),
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
    ack_deadline: Duration = _defaults.ACK_DEADLINE,
    max_delivery_attempts: int = _defaults.MAX_DELIVERY_ATTEMPTS,
    retention_period: Duration = _defaults.RETENTION_PERIOD,
    dlq_options: Optional[QueueOptions] = QueueOptions(),
    backoff: Optional[Backoff] = None,
    max_messages: Optional[int] = _defaults.MAX_MESSAGES,
) -> bool:
    """Creates a queue and, unless ``dlq_options`` is ``None``, its dead-letter queue ``dlq@<name>``,
    in one transaction. Returns ``False`` (changing nothing) if the queue already exists.

    ``ack_deadline`` (>= 1 s, default 10 s) is how long a delivered message stays leased without a
    heartbeat (the client extends it while a worker holds the message); after ``max_delivery_attempts``
    (default 10) deliveries a message moves to the dead-letter queue; an unconsumed message moves there
    after ``retention_period`` (default 7 days). ``backoff`` (a :class:`pgmq.Backoff`) delays the
    redelivery after a nack that gives no delay of its own; ``None``: at once. Durations are ``timedelta``
    or seconds.

    ``max_messages`` bounds the queue: it holds at most that many messages, ready, scheduled and leased
    together (1 to 2**63 - 1; default ``None``: unbounded). A send that does not fit waits for room, or
    fails with :class:`pgmq.QueueFull` (see ``wait_for_room`` of :meth:`pgmq.Queue.send`); its dead-letter
    queue is never bounded. :meth:`pgmq.Queue.set_max_messages` changes it later.

    Raises :class:`pgmq.InvalidQueueName` or :class:`pgmq.InvalidOption` before writing anything.
    ``client.list_queues()`` shows the settings a queue was created with.
    """
    native = _native(client)
    policy = None
    if backoff is not None:
        if not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a pgmq.Backoff or None, not {type(backoff).__name__}")
        factor = backoff.factor
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            raise TypeError(f"backoff.factor must be a number, not {type(factor).__name__}")
        if not isinstance(backoff.jitter, bool):
            raise TypeError(f"backoff.jitter must be a bool, not {type(backoff.jitter).__name__}")
        try:
            factor = float(factor)
        except OverflowError:  # an int beyond any float: not finite, as the core says
            factor = math.inf
        policy = (seconds(backoff.base, "backoff.base"), factor, seconds(backoff.max, "backoff.max"), backoff.jitter)
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
        backoff=policy,
        max_messages=queue_bound(max_messages, "max_messages"),
    )


async def delete_queue(name: str, client: Client) -> bool:
    """Deletes a queue with its messages, outcome records and the dead-letter queue created with it.
    Returns ``False`` if there is no such queue."""
    return await _native(client).delete_queue(name)


def get_dlq_name(name: str) -> str:
    """The name of the dead-letter queue created with queue ``name``: ``"dlq@" + name``."""
    return _pgmq.dlq_name(name)


def redact_dsn(dsn: str) -> str:
    """``dsn`` with its password masked, for your own logs: ``postgres://app:***@db/jobs``,
    ``host=db password=***``. The core's rule, as in every language; a string that does not parse as a
    DSN is shown as ``<unparsable DSN>``, since where its password is cannot be told. pgmq's own errors
    and reprs never show a password anyway."""
    if not isinstance(dsn, str):
        raise TypeError(f"dsn must be a str, not {type(dsn).__name__}")
    return _pgmq.redact_dsn(dsn)


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


def connect_to_queue(name: str, client: Client, *, serializer: Optional[Serializer] = None) -> QueueContext:
    """Opens queue ``name`` (or a dead-letter queue, ``"dlq@" + name``):
    ``async with pgmq.connect_to_queue("jobs", client) as queue``. Nothing is read from the database:
    sending to a queue that does not exist raises :class:`pgmq.QueueNotFound`, receiving waits for it
    to exist. :class:`pgmq.InvalidQueueName` for a malformed name.

    ``serializer`` (a :class:`pgmq.Serializer`) encodes every body this handle sends that is not bytes,
    ``str`` included, and decodes for ``message.decode()`` of what it receives. Without one (``None``), a
    ``str`` is sent as its UTF-8 text, unlabelled, other values as JSON (:class:`pgmq.JsonSerializer`), and
    ``message.decode()`` parses JSON."""
    return QueueContext(Queue(_native(client).queue(name), checked(serializer)))
