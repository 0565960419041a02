"""A stream keeps receiving across connection loss: a claim cut off mid-flight, every backend of its client
terminated. The error it recovered from is reported (a warning of the core on the ``pgmq.core`` logger, and to
``on_error`` if given), never the end of ``receive()``: the same call delivers the message.

A cut-off claim is reported once as a rule, but may be twice: a retry that comes before the client has
seen the end of the terminated backend's socket takes that pooled connection again and fails the same way.
So the tests ask for at least one report, every one of them a connection error.

The server side is driven with psycopg, never through pgmq: a lock on pgmq.messages for a claim to block
on, and pg_terminate_backend of the client's backends, told apart by an application_name of their own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

import anyio
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import pgmq
from support import core_records, eventually, send_ids, unique

pytestmark = pytest.mark.anyio

TEN_S = 10.0

Admin = psycopg.AsyncConnection[Any]


def with_application_name(dsn: str, app: str) -> str:
    return make_conninfo(dsn, application_name=app)


@asynccontextmanager
async def admin_connection(dsn: str) -> AsyncIterator[Admin]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        yield conn


async def backends_of(admin: Admin, app: str) -> list[int]:
    cursor = await admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,))
    return [pid for (pid,) in await cursor.fetchall()]


async def terminate(admin: Admin, pid: int) -> None:
    """Terminates backend `pid` and waits until it is gone."""
    cursor = await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert await cursor.fetchone() == (True,), f"pg_terminate_backend({pid}) found no such backend"

    async def gone() -> bool:
        cursor = await admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        return await cursor.fetchone() == (0,)

    await eventually(gone, f"backend {pid} gone after pg_terminate_backend", TEN_S)


class MessagesLock:
    """pgmq.messages locked ACCESS EXCLUSIVE by a session of its own, so that a claim blocks in the server."""

    def __init__(self, admin: Admin, locker_pid: int) -> None:
        self._admin = admin
        self._locker_pid = locker_pid

    async def terminate_the_claim_of(self, app: str) -> None:
        """Waits until a backend of `app` is blocked on this lock, then terminates it."""
        blocked: list[int] = []

        async def claim_blocked() -> bool:
            cursor = await self._admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND %s = ANY(pg_blocking_pids(pid))",
                (app, self._locker_pid),
            )
            blocked[:] = [pid for (pid,) in await cursor.fetchall()]
            return len(blocked) == 1

        await eventually(claim_blocked, "the receiver's claim blocked on the lock", TEN_S)
        await terminate(self._admin, blocked[0])


@asynccontextmanager
async def messages_locked(dsn: str) -> AsyncIterator[MessagesLock]:
    """Locks pgmq.messages for the block; the lock is rolled back when it ends, however it ends."""
    async with admin_connection(dsn) as admin, await psycopg.AsyncConnection.connect(dsn) as locker:
        await locker.execute("LOCK TABLE pgmq.messages IN ACCESS EXCLUSIVE MODE")
        try:
            yield MessagesLock(admin, locker.info.backend_pid)
        finally:
            await locker.rollback()


async def receive_across_a_cut_off_claim(
    dsn: str, on_error: Any = None, body: bytes = b"survives"
) -> tuple[uuid.UUID, uuid.UUID]:
    """Sends a message, locks pgmq.messages, and receives with a stream whose claim is terminated while it
    waits on the lock; then lets the lock go. Returns (sent id, received id); the message is acked."""
    app = unique("cut-claim")
    options = {} if on_error is None else {"on_error": on_error}
    async with pgmq.connect(with_application_name(dsn, app)) as client:
        name = unique("cut-claim")
        await pgmq.create_queue(name, client)
        async with pgmq.connect_to_queue(name, client) as queue:
            [sent] = await send_ids(queue, body)
            async with queue.receive(**options) as stream:
                receiving: Optional[asyncio.Future[pgmq.MessageHandle]] = None
                try:
                    async with messages_locked(dsn) as lock:
                        receiving = asyncio.ensure_future(stream.receive())
                        await lock.terminate_the_claim_of(app)
                    with anyio.fail_after(TEN_S):
                        handle = await receiving
                finally:
                    if receiving is not None:
                        receiving.cancel()
                async with handle.acquire() as message:
                    received = message.id
        await pgmq.delete_queue(name, client)
    return sent, received


async def test_a_claim_cut_off_mid_flight_is_reported_to_on_error_and_the_same_receive_delivers(
    migrated: str,
) -> None:
    seen: list[tuple[pgmq.PgmqError, int]] = []

    sent, received = await receive_across_a_cut_off_claim(
        migrated, on_error=lambda e: seen.append((e, threading.get_ident()))
    )

    assert received == sent
    assert seen, "on_error was not called"
    assert {(type(e), e.code) for e, _ in seen} == {(pgmq.ConnectionError, "connection")}
    # Called on the event loop's thread, where asyncio objects may be touched.
    assert {thread for _, thread in seen} == {threading.get_ident()}


async def test_a_recovered_error_is_a_warning_of_the_core_on_pgmq_core_and_not_repeated_on_pgmq(
    migrated: str,
) -> None:
    with core_records(logging.WARNING) as records:
        sent, received = await receive_across_a_cut_off_claim(migrated)
        warning = await records.wait_for(
            lambda r: r.__dict__.get("rust_target") == "pgmq_core::receiver", "from the receiver"
        )

    assert received == sent
    assert warning.levelno == logging.WARNING
    assert "cut-claim-" in warning.getMessage() and "retrying" in warning.getMessage()
    assert "connection" in warning.getMessage()
    # The Python layer adds no warning of its own for the same error (pgmq.core propagates to pgmq).
    assert all(r.name == "pgmq.core" for r in records.records)


async def test_an_on_error_that_raises_is_logged_and_the_stream_goes_on(
    migrated: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pgmq")

    def on_error(error: pgmq.PgmqError) -> None:
        raise RuntimeError("on_error itself failed")

    sent, received = await receive_across_a_cut_off_claim(migrated, on_error=on_error)

    assert received == sent
    logged = [r for r in caplog.records if r.name == "pgmq"]
    assert logged, "nothing was logged"
    for record in logged:
        assert record.levelno == logging.ERROR
        assert record.exc_info is not None and record.exc_info[0] is RuntimeError


async def test_a_waiting_stream_survives_the_termination_of_every_backend_of_its_client(migrated: str) -> None:
    # Arrange: a stream asleep on an empty queue (its claim came back empty).
    app = unique("kill-all")
    seen: list[pgmq.PgmqError] = []
    async with pgmq.connect(with_application_name(migrated, app)) as client, admin_connection(migrated) as admin:
        name = unique("kill-all")
        await pgmq.create_queue(name, client)
        async with pgmq.connect_to_queue(name, client) as queue, queue.receive(on_error=seen.append) as stream:
            receiving = asyncio.ensure_future(stream.receive())
            try:

                async def claim_came_back_empty() -> bool:
                    cursor = await admin.execute(
                        "SELECT 1 FROM pg_stat_activity"
                        " WHERE application_name = %s AND state = 'idle' AND query LIKE %s",
                        (app, "%SKIP LOCKED%"),
                    )
                    return await cursor.fetchone() is not None

                await eventually(claim_came_back_empty, "the receiver's first claim found nothing", TEN_S)

                # Act: every backend of the client goes, then another client sends.
                pids = await backends_of(admin, app)
                assert len(pids) >= 2, f"a pool and a LISTEN backend: {pids}"
                for pid in pids:
                    await terminate(admin, pid)
                async with pgmq.connect(migrated) as other, pgmq.connect_to_queue(name, other) as sender:
                    [sent] = await send_ids(sender, b"after")

                # Assert: the receive() that was waiting delivers it.
                with anyio.fail_after(TEN_S):
                    handle = await receiving
            finally:
                receiving.cancel()
            async with handle.acquire() as message:
                assert message.id == sent
        assert all(isinstance(e, pgmq.ConnectionError) for e in seen), seen
        await pgmq.delete_queue(name, client)
