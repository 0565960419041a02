"""Helpers shared by the test modules: unique queue names, bounded waits, the core's log records.

Waits are bounded by `anyio.fail_after`/`move_on_after` around the awaited event. Where there is no event
to wait on (counts changed by another worker or by housekeeping), `eventually` re-reads every 20 ms up to a
limit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import anyio
import psycopg
from psycopg.conninfo import make_conninfo

import pgmq

FIVE_S = 5.0
# How long a receiver that must get nothing is watched.
QUIET = 0.3

TESTS_DIR = Path(__file__).resolve().parent
BINDING_DIR = TESTS_DIR.parent
REPO_DIR = BINDING_DIR.parent


def unique(prefix: str) -> str:
    """A queue name of its own for one test (prefix + 16 random hex digits; keep the prefix short)."""
    name = f"{prefix}-{uuid.uuid4().hex[:16]}"
    assert len(name) <= 48, name
    return name


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = FIVE_S) -> None:
    """Re-runs `check` every 20 ms until it returns True; fails the test after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: still not true after {limit} s")
        await anyio.sleep(0.02)


async def receive_within(stream: pgmq.MessageHandleStream, limit: float = FIVE_S) -> pgmq.MessageHandle:
    with anyio.fail_after(limit):
        return await stream.receive()


async def assert_nothing_within(stream: pgmq.MessageHandleStream, limit: float, what: str) -> None:
    """Watches `stream` for `limit` seconds; fails if it delivers anything."""
    with anyio.move_on_after(limit):
        await stream.receive()
        raise AssertionError(f"{what}: a message was delivered")


async def leased(queue: pgmq.Queue) -> int:
    return (await queue.get_statistics()).leased


async def nothing_leased(queue: pgmq.Queue) -> bool:
    return (await queue.get_statistics()).leased == 0


async def send_ids(queue: pgmq.Queue, *bodies: bytes | pgmq.OutgoingMessage) -> tuple[uuid.UUID, ...]:
    """Sends and returns the ids without waiting for any outcome."""
    async with queue.send(*bodies) as completion:
        return completion.ids


def other_tasks() -> set[asyncio.Task[object]]:
    """The asyncio tasks running besides the current one (to prove a cancelled call left none behind)."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current}


def median(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2]


def python_env(dsn: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python process: this one's, with DATABASE_URL and unbuffered output."""
    env = dict(os.environ)
    env["DATABASE_URL"] = dsn
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_python(
    args: list[str], dsn: str, timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `python ARGS` (this interpreter) to completion and returns its output; fails after `timeout`."""
    return subprocess.run(
        [sys.executable, *args],
        env=python_env(dsn),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# How long a test waits for a log record of the core (they arrive from the pgmq-log thread).
RECORD_WAIT = 10.0


class CoreRecords(logging.Handler):
    """The records of the ``pgmq.core`` logger, as they arrive (from the pgmq-log thread)."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []
        self._arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._arrived:
            self.records.append(record)
            self._arrived.notify_all()

    async def wait_for(self, matches: Callable[[logging.LogRecord], bool], what: str) -> logging.LogRecord:
        """The first record that `matches`, waiting for it (at most 10 s)."""

        def wait() -> logging.LogRecord:
            with self._arrived:
                found = self._arrived.wait_for(lambda: [r for r in self.records if matches(r)], timeout=RECORD_WAIT)
                if not found:
                    got = [r.getMessage() for r in self.records]
                    raise AssertionError(f"no record {what} within {RECORD_WAIT} s; got {got}")
                return found[0]

        return await anyio.to_thread.run_sync(wait)


@contextmanager
def core_records(level: int) -> Iterator[CoreRecords]:
    """Collects what ``pgmq.core`` emits at `level` or above during the block."""
    logger = logging.getLogger("pgmq.core")
    handler = CoreRecords()
    previous = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextmanager
def fresh_database(dsn: str) -> Iterator[str]:
    """A new, empty database for the block (dropped afterwards): its DSN."""
    database = unique("pgmq_fresh").replace("-", "_")
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        yield make_conninfo(dsn, dbname=database)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {database} WITH (FORCE)")
