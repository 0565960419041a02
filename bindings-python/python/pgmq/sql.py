"""Sending inside your own transaction (the transactional outbox): pgmq's SQL functions on your connection.

A message sent with ``queue.send()`` is committed by pgmq's own connection, so it cannot be part of the
transaction that writes your rows. The builders of this module return the SQL statement of one call of
``pgmq.send``, ``pgmq.send_json``, ``pgmq.send_batch`` or ``pgmq.send_json_batch`` (functions of the pgmq
schema, migration 7) with its parameters, to run on the connection you already have. The message then
exists exactly when your transaction commits: receivers are woken at commit (NOTIFY is transactional, and
a transaction's sends wake them once), and a rollback leaves no trace::

    async with pool.acquire() as conn, conn.transaction():          # asyncpg
        await conn.execute("INSERT INTO orders ...")
        order_event = await pgmq.sql.execute(conn, pgmq.sql.send_json("orders", {"id": 42}))

    with psycopg.connect(dsn) as conn:                               # psycopg 3, sync
        conn.execute("INSERT INTO orders ...")
        order_event = pgmq.sql.execute_sync(conn, pgmq.sql.send("orders", b"..."))

:func:`execute` (asyncio) and :func:`execute_sync` run a statement on an asyncpg connection, a psycopg 3
connection or cursor, or an SQLAlchemy connection or session, and return the id (a :class:`uuid.UUID`, or
a list of them for the batch forms), which ``queue.wait_for_completion(id)`` follows like any other. Any
other driver runs the statement itself: :class:`Statement` has its text in each placeholder style
(``$1``, ``%s``, ``:name``) and its parameters.

The statements are the core's (``pgmq_core::outbox``), the same text in every language; the SQL functions
validate everything and raise SQLSTATE ``PQ001`` for an unknown queue, ``PQ002`` for an invalid option and
``PQ003`` when a bounded queue has no room for the whole send (SQL cannot wait for room: it fails at once),
which :func:`execute` raises as :class:`pgmq.QueueNotFound`, :class:`pgmq.InvalidOption` and
:class:`pgmq.QueueFull` (the driver's exception is their ``__cause__``; your transaction is aborted, as
after any failed statement). The role running them needs ``pgmq.grant_producer``.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Generic, Iterable, Iterator, List, Mapping, Optional, Tuple, TypeVar, cast
from uuid import UUID

from . import _defaults, _pgmq
from ._convert import Duration, optional_seconds
from ._errors import InvalidOption, PgmqError, from_sqlstate
from ._serializers import JSON, dump, encode
from ._types import AttributeValue, OutgoingMessage

__all__ = [
    "Statement",
    "execute",
    "execute_sync",
    "send",
    "send_batch",
    "send_json",
    "send_json_batch",
    "translate_error",
]

_Ids = TypeVar("_Ids", UUID, List[UUID])


# A named placeholder of the core's `Named` style (`:queue`); its casts are written `CAST(x AS t)`.
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Statement(Generic[_Ids]):
    """One call of a pgmq SQL function, ready for any driver: the same statement in three placeholder
    styles, and its parameters. Run it with :func:`execute` / :func:`execute_sync`, or yourself::

        await asyncpg_conn.fetchval(stmt.dollar, *stmt.parameters)             # one id (batch: a list)
        psycopg_conn.execute(stmt.format, stmt.parameters).fetchone()[0]
        session.execute(sqlalchemy.text(stmt.named), stmt.named_parameters).scalar_one()

    The statement returns one row with one column: a ``uuid`` (``send``, ``send_json``) or a ``uuid[]``
    (the batch forms).
    """

    function: str
    """The SQL function it calls: ``"send"``, ``"send_json"``, ``"send_batch"`` or ``"send_json_batch"``."""
    dollar: str
    """The text with ``$1``...``$6`` placeholders: asyncpg (and psycopg's raw cursors)."""
    format: str
    """The text with ``%s`` placeholders: psycopg 3 (and any ``format``-style DB-API driver)."""
    named: str
    """The text with ``:name`` placeholders: SQLAlchemy's ``text()``."""
    parameters: Tuple[Any, ...]
    """The parameters, in placeholder order: queue name (``str``), body (``bytes``; for ``send_json``
    its JSON text, a ``str``; for the batch forms a list of them), attributes (JSON text or ``None``;
    for the batch forms a list of them, or ``None``), delay in seconds (``float`` or ``None``),
    schedule_at (an aware ``datetime`` or ``None``), track (``bool``)."""
    names: Tuple[str, ...] = field(repr=False)
    """The names of the parameters in :attr:`named`, in the same order."""

    @property
    def batch(self) -> bool:
        """Whether it sends a list of messages (and returns a list of ids)."""
        return self.function.endswith("_batch")

    @property
    def named_parameters(self) -> Dict[str, Any]:
        """The parameters by the names :attr:`named` uses (``queue``, ``body`` or ``bodies``,
        ``attributes``, ``delay_seconds``, ``schedule_at``, ``track``)."""
        return dict(zip(self.names, self.parameters))

    def ids(self, value: Any) -> _Ids:
        """The id(s) from what the statement returned (a driver's ``uuid`` or ``uuid[]``), as
        :class:`uuid.UUID`: what :func:`execute` returns."""
        ids: object = [_uuid(v) for v in value] if self.batch else _uuid(value)
        return cast(_Ids, ids)


def _uuid(value: Any) -> UUID:
    """asyncpg returns its own UUID class (a subclass); psycopg a UUID; either may come as text."""
    if type(value) is UUID:
        return value
    if isinstance(value, UUID):
        return UUID(int=value.int)
    return UUID(str(value))


@functools.lru_cache(maxsize=64)
def _texts(function: str, schema: Optional[str]) -> Tuple[str, str, str, Tuple[str, ...]]:
    """The core's statement for ``function`` in each style, and the names of its named parameters."""
    dollar, format_, named = (_pgmq.outbox_statement(function, schema, s) for s in ("dollar", "format", "named"))
    return dollar, format_, named, tuple(_NAMED.findall(named))


def _statement(function: str, schema: Optional[str], parameters: Tuple[Any, ...]) -> Statement[Any]:
    if schema is not None and not isinstance(schema, str):
        raise TypeError(f"schema must be a str, not {type(schema).__name__}")
    dollar, format_, named, names = _texts(function, schema)
    assert len(names) == len(parameters), (names, parameters)
    return Statement(function, dollar, format_, named, parameters, names)


def _queue(queue: str) -> str:
    if not isinstance(queue, str):
        raise TypeError(f"queue must be a str, not {type(queue).__name__}")
    return queue


def _when(
    delay: Optional[Duration], schedule_at: Optional[datetime], track: bool
) -> Tuple[Optional[float], Optional[datetime], bool]:
    """Parameters 4 to 6. Delay and schedule_at together, or a negative delay, are the SQL function's
    ``InvalidOption``; a delay that is not a finite number cannot be sent as one, so it is refused here."""
    seconds = optional_seconds(delay, "delay")
    if seconds is not None and not math.isfinite(seconds):
        raise InvalidOption(f"delay must be a finite, non-negative number of seconds, got {seconds}")
    if schedule_at is not None:
        if not isinstance(schedule_at, datetime):
            raise TypeError(f"schedule_at must be a datetime, not {type(schedule_at).__name__}")
        if schedule_at.tzinfo is None or schedule_at.utcoffset() is None:
            schedule_at = schedule_at.replace(tzinfo=timezone.utc)  # naive: UTC, as everywhere in pgmq
    if not isinstance(track, bool):
        raise TypeError(f"track must be a bool, not {type(track).__name__}")
    return seconds, schedule_at, track


def _attributes_json(attributes: Optional[Mapping[str, AttributeValue]]) -> Optional[str]:
    """Attributes as the JSON object text the SQL functions take (``None``: none), written by the core's
    writer, the one every send uses. Keys must be ``str`` and values scalars (``TypeError``); NaN,
    infinities, integers beyond 64 bits and NUL characters are refused as ``queue.send()`` refuses them
    (:class:`pgmq.InvalidOption`)."""
    if attributes is None:
        return None
    OutgoingMessage(b"", attributes)  # the types: TypeError, as queue.send() raises
    return _pgmq.outbox_attributes_json(dict(attributes))


def _json_text(value: object, index: int) -> str:
    """Value ``index`` as JSON text, by the package's JSON rule (compact, UTF-8, no NaN)."""
    return dump(JSON, value, f"message {index}").decode("utf-8")


def send(
    queue: str,
    body: object,
    *,
    attributes: Optional[Mapping[str, AttributeValue]] = None,
    delay: Optional[Duration] = None,
    schedule_at: Optional[datetime] = None,
    track: bool = _defaults.TRACK,
    schema: Optional[str] = None,
) -> Statement[UUID]:
    """The statement sending one message (``pgmq.send``), to run in your transaction.

    ``body`` as ``queue.send()`` takes it: bytes-like, sent as it is; a ``str``, as its UTF-8 text; any
    other value as compact JSON labelled ``content-type: application/json`` (a ``content-type`` in
    ``attributes`` must then be JSON's: :class:`pgmq.InvalidOption`). ``attributes``: a flat dict of
    scalars. The message becomes available at commit, or at ``schedule_at`` (an aware ``datetime``, or a
    naive one taken as UTC), or ``delay`` (a ``timedelta`` or seconds) after the transaction began
    (PostgreSQL's ``now()``), never both.
    ``track=False`` keeps no outcome record. ``schema``: where pgmq's tables live, if not ``pgmq``
    (``connect(schema=)``).
    """
    bodies, labels, _ = encode((OutgoingMessage(body, attributes),), None)
    return _statement(
        "send",
        schema,
        (_queue(queue), bodies[0], _attributes_json(labels[0] if labels else None), *_when(delay, schedule_at, track)),
    )


def send_json(
    queue: str,
    value: object,
    *,
    attributes: Optional[Mapping[str, AttributeValue]] = None,
    delay: Optional[Duration] = None,
    schedule_at: Optional[datetime] = None,
    track: bool = _defaults.TRACK,
    schema: Optional[str] = None,
) -> Statement[UUID]:
    """The statement sending one JSON value (``pgmq.send_json``), to run in your transaction.

    ``value`` is encoded as compact UTF-8 JSON (``TypeError`` or ``ValueError`` if it cannot be: NaN and
    infinities are refused), a ``str`` included, as a JSON string. PostgreSQL checks it as ``jsonb``
    and stores its text; the message gets the attribute ``content-type: application/json``, so
    ``message.json()`` reads it in every language (a ``content-type`` of your own that is not JSON is an
    :class:`pgmq.InvalidOption`). The other arguments are :func:`send`'s.
    """
    return _statement(
        "send_json",
        schema,
        (_queue(queue), _json_text(value, 0), _attributes_json(attributes), *_when(delay, schedule_at, track)),
    )


def _listed(items: Iterable[object], name: str) -> List[object]:
    """The messages of a batch; bytes or a ``str`` given as the batch itself is a mistake, not a list."""
    if isinstance(items, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"{name} must be a list of messages, not {type(items).__name__} (one message: send())")
    return list(items)


def _dependencies_refused(position: int, after: Iterable[int]) -> InvalidOption:
    """The SQL send functions take no dependencies (docs/dependencies.md): an entry with ``after`` is
    refused rather than sent without them."""
    return InvalidOption(
        f"message {position} has after={list(after)}: the SQL sends of pgmq.sql take no dependencies; "
        "send it with queue.send()"
    )


def _batch_attributes(labels: Iterable[Optional[Mapping[str, AttributeValue]]]) -> Optional[List[Optional[str]]]:
    texts = [_attributes_json(a) for a in labels]
    return None if all(t is None for t in texts) else texts


def send_batch(
    queue: str,
    messages: Iterable[object],
    *,
    delay: Optional[Duration] = None,
    schedule_at: Optional[datetime] = None,
    track: bool = _defaults.TRACK,
    schema: Optional[str] = None,
) -> Statement[List[UUID]]:
    """The statement sending several messages at once (``pgmq.send_batch``): one statement, one
    ``available_at``, ids in the order of ``messages``. Each message is a body (as :func:`send` takes
    it) or a :class:`pgmq.OutgoingMessage` with attributes. An empty list sends nothing and returns
    ``[]``. The other arguments are :func:`send`'s. A message with ``after`` raises
    :class:`pgmq.InvalidOption`: dependencies are :meth:`pgmq.Queue.send`'s."""
    bodies, labels, after = encode(_listed(messages, "messages"), None)
    if after is not None:
        position, positions = next((i, a) for i, a in enumerate(after) if a)
        raise _dependencies_refused(position, positions)
    attributes = None if labels is None else _batch_attributes(labels)
    return _statement("send_batch", schema, (_queue(queue), bodies, attributes, *_when(delay, schedule_at, track)))


def send_json_batch(
    queue: str,
    values: Iterable[object],
    *,
    delay: Optional[Duration] = None,
    schedule_at: Optional[datetime] = None,
    track: bool = _defaults.TRACK,
    schema: Optional[str] = None,
) -> Statement[List[UUID]]:
    """The statement sending several JSON values at once (``pgmq.send_json_batch``), each encoded as
    :func:`send_json` encodes one; a :class:`pgmq.OutgoingMessage` gives a value its attributes (one with
    ``after`` raises :class:`pgmq.InvalidOption`, as in :func:`send_batch`). The other arguments are
    :func:`send_batch`'s."""
    texts: List[str] = []
    labels: List[Optional[Mapping[str, AttributeValue]]] = []
    for i, item in enumerate(_listed(values, "values")):
        value, given = (item.body, item.attributes) if isinstance(item, OutgoingMessage) else (item, None)
        if isinstance(item, OutgoingMessage) and item.after:
            raise _dependencies_refused(i, item.after)
        texts.append(_json_text(value, i))
        labels.append(given)
    return _statement(
        "send_json_batch",
        schema,
        (_queue(queue), texts, _batch_attributes(labels), *_when(delay, schedule_at, track)),
    )


# ---- running a statement on a driver's connection ----


def _module(obj: object) -> str:
    return type(obj).__module__.partition(".")[0]


def _is(obj: object, module: str, *names: str) -> bool:
    """Whether ``obj`` is an instance of one of the classes ``module.name`` (looked up only if the
    module is loaded: a driver the caller does not use is never imported)."""
    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    for name in names:
        cls: Any = loaded
        for part in name.split("."):
            cls = getattr(cls, part, None)
        if isinstance(cls, type) and isinstance(obj, cls):
            return True
    return False


def _raw(cursor: object) -> bool:
    """psycopg's raw cursors take PostgreSQL's own ``$n`` placeholders."""
    return _is(cursor, "psycopg", "RawCursor", "AsyncRawCursor", "RawServerCursor", "AsyncRawServerCursor")


_SUPPORTED = (
    "an asyncpg Connection, a psycopg AsyncConnection or AsyncCursor, or an SQLAlchemy AsyncConnection or "
    "AsyncSession"
)
_SUPPORTED_SYNC = "a psycopg Connection or Cursor, or an SQLAlchemy Connection or Session"


def _sqlalchemy_text(statement: Statement[Any]) -> Any:
    import sqlalchemy

    return sqlalchemy.text(statement.named)


async def _run_async(connection: object, statement: Statement[Any]) -> Any:
    if _module(connection) == "asyncpg":
        return await connection.fetchval(statement.dollar, *statement.parameters)  # type: ignore[attr-defined]
    if _is(connection, "psycopg", "AsyncConnection"):
        cursor: Any = connection.cursor()  # type: ignore[attr-defined]
        async with cursor:
            return await _fetch_psycopg_async(cursor, statement)
    if _is(connection, "psycopg", "AsyncCursor", "AsyncServerCursor"):
        return await _fetch_psycopg_async(connection, statement)
    if _is(connection, "sqlalchemy", "ext.asyncio.AsyncConnection", "ext.asyncio.AsyncSession"):
        result = await connection.execute(  # type: ignore[attr-defined]
            _sqlalchemy_text(statement), statement.named_parameters
        )
        return result.scalar_one()
    synchronous = _is(connection, "psycopg", "Connection", "Cursor")
    if synchronous or _is(connection, "sqlalchemy", "engine.Connection", "orm.Session"):
        raise TypeError(f"{type(connection).__name__} is synchronous: use pgmq.sql.execute_sync()")
    raise TypeError(f"pgmq.sql.execute() takes {_SUPPORTED}, not {type(connection).__name__}")


async def _fetch_psycopg_async(cursor: Any, statement: Statement[Any]) -> Any:
    with _tuple_rows(cursor):
        await cursor.execute(statement.dollar if _raw(cursor) else statement.format, statement.parameters)
        row = await cursor.fetchone()
    return row[0]


@contextmanager
def _tuple_rows(cursor: Any) -> Iterator[None]:
    """The cursor's rows as tuples for the block (the caller's may make dicts or objects), then its own
    row factory again."""
    from psycopg.rows import tuple_row

    own = cursor.row_factory
    cursor.row_factory = tuple_row
    try:
        yield
    finally:
        cursor.row_factory = own


def _run_sync(connection: object, statement: Statement[Any]) -> Any:
    if _is(connection, "psycopg", "Connection"):
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            return _fetch_psycopg(cursor, statement)
    if _is(connection, "psycopg", "Cursor", "ServerCursor"):
        return _fetch_psycopg(connection, statement)
    if _is(connection, "sqlalchemy", "engine.Connection", "orm.Session"):
        result = connection.execute(  # type: ignore[attr-defined]
            _sqlalchemy_text(statement), statement.named_parameters
        )
        return result.scalar_one()
    if (
        _module(connection) == "asyncpg"
        or _is(connection, "psycopg", "AsyncConnection", "AsyncCursor")
        or _is(connection, "sqlalchemy", "ext.asyncio.AsyncConnection", "ext.asyncio.AsyncSession")
    ):
        raise TypeError(f"{type(connection).__name__} is asynchronous: use `await pgmq.sql.execute()`")
    raise TypeError(f"pgmq.sql.execute_sync() takes {_SUPPORTED_SYNC}, not {type(connection).__name__}")


def _fetch_psycopg(cursor: Any, statement: Statement[Any]) -> Any:
    with _tuple_rows(cursor):
        cursor.execute(statement.dollar if _raw(cursor) else statement.format, statement.parameters)
        row = cursor.fetchone()
    return row[0]


def translate_error(exc: BaseException) -> Optional[PgmqError]:
    """The pgmq exception for a driver's exception raised by one of pgmq's SQL functions (SQLSTATE
    ``PQ001``: :class:`pgmq.QueueNotFound`, ``PQ002``: :class:`pgmq.InvalidOption`, ``PQ003``:
    :class:`pgmq.QueueFull`, the core's map), or
    ``None`` for any other: what :func:`execute` raises, for those who run a :class:`Statement` with
    another driver (``raise pgmq.sql.translate_error(e) or e``). Reads ``sqlstate`` (asyncpg, psycopg 3)
    or ``pgcode`` (psycopg 2) along the exception's chain (SQLAlchemy wraps the driver's exception in
    ``.orig``)."""
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str):
            inner = _innermost_with_sqlstate(current)
            return from_sqlstate(state, _server_message(inner))
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return None


def _innermost_with_sqlstate(exc: BaseException) -> BaseException:
    """The driver's own exception behind an adapter's (SQLAlchemy's asyncpg adapter raises from it)."""
    found = exc
    current = exc.__cause__
    while current is not None:
        if isinstance(getattr(current, "sqlstate", None), str):
            found = current
        current = current.__cause__
    return found


def _server_message(exc: BaseException) -> str:
    """The server's primary message (``pgmq: queue "x" does not exist``), without a driver's decoration."""
    diag = getattr(exc, "diag", None)  # psycopg 3
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if not isinstance(primary, str):
        primary = getattr(exc, "message", None)  # asyncpg
    return primary if isinstance(primary, str) else str(exc)


async def execute(connection: object, statement: Statement[_Ids]) -> _Ids:
    """Runs ``statement`` on ``connection``, in its current transaction, and returns the id (a
    :class:`uuid.UUID`; a list of them, in order, for the batch forms).

    ``connection``: an asyncpg ``Connection`` (a pool's too), a psycopg 3 ``AsyncConnection`` or
    ``AsyncCursor``, or an SQLAlchemy ``AsyncConnection`` or ``AsyncSession``. Nothing is committed
    here: the message exists when the caller's transaction commits (with asyncpg or psycopg in autocommit
    mode, at once). :class:`pgmq.QueueNotFound` for an unknown queue and :class:`pgmq.InvalidOption`
    for an invalid option (the driver's exception is the ``__cause__``; the transaction is aborted); the
    driver's other exceptions (a permission denied without ``pgmq.grant_producer``, say) propagate as
    they are. ``TypeError`` for a connection of another kind (a synchronous one: :func:`execute_sync`).
    """
    try:
        value = await _run_async(connection, statement)
    except Exception as e:
        mapped = translate_error(e)
        if mapped is None:
            raise
        raise mapped from e
    return statement.ids(value)


def execute_sync(connection: object, statement: Statement[_Ids]) -> _Ids:
    """:func:`execute` for synchronous connections: a psycopg 3 ``Connection`` or ``Cursor``, or an
    SQLAlchemy ``Connection`` or ``Session``."""
    try:
        value = _run_sync(connection, statement)
    except Exception as e:
        mapped = translate_error(e)
        if mapped is None:
            raise
        raise mapped from e
    return statement.ids(value)

