"""The core's log events reach Python's `logging`: logger ``pgmq.core``, at the core's level, with the Rust
module in ``record.rust_target``, emitted from the ``pgmq-log`` thread (not the event loop's); and an
interpreter may exit while they stream.

Records arrive on a thread of their own, so the tests wait for the record they expect (a handler that
notifies a condition), never for a fixed time. Events the logger's level filters out are checked by order:
the core hands its events over in the order it emitted them, so a record of a later event has arrived only
after every earlier one would have.
"""

from __future__ import annotations

import logging
import textwrap
import threading

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import pgmq
from support import FIVE_S, core_records, fresh_database, run_python, unique

pytestmark = pytest.mark.anyio


def terminate_backends_of(dsn: str, application_name: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_each_migration_applied_to_a_fresh_database_is_an_info_record_of_pgmq_core(migrated: str) -> None:
    latest = pgmq.LATEST_SCHEMA_VERSION
    with fresh_database(migrated) as dsn, core_records(logging.INFO) as records:
        # Act
        async with pgmq.connect(dsn) as client:
            await pgmq.migrate_to_latest_version(client)
        await records.wait_for(lambda r: f"applied migration {latest} " in r.getMessage(), f"for migration {latest}")

    # Assert: one record per migration, in order, at INFO, named for the core's module, off the event loop.
    applied = [r for r in records.records if "applied migration" in r.getMessage()]
    versions = [int(r.getMessage().split("applied migration ")[1].split()[0]) for r in applied]
    assert versions == list(range(1, latest + 1))
    for record in applied:
        assert (record.name, record.levelno, record.levelname) == ("pgmq.core", logging.INFO, "INFO")
        assert record.__dict__["rust_target"] == "pgmq_core::migrate"
        assert record.pathname == "pgmq_core::migrate"
        assert record.thread != threading.get_ident()  # the pgmq-log thread, not the event loop's


async def test_a_lost_listen_connection_is_a_warning_and_what_the_level_filters_out_never_arrives(
    migrated: str,
) -> None:
    app = unique("log-cut")
    with fresh_database(migrated) as dsn, core_records(logging.WARNING) as records:
        async with pgmq.connect(make_conninfo(dsn, application_name=app)) as client:
            await pgmq.migrate_to_latest_version(client)  # info events, under the logger's level

            # Act: cut every connection of the client, its LISTEN connection among them.
            assert terminate_backends_of(dsn, app) >= 1
            lost = await records.wait_for(
                lambda r: r.__dict__.get("rust_target") == "pgmq_core::listener", "from the listener"
            )

    # Assert: a warning; nothing below WARNING came before it (the migrations' info events were earlier).
    assert lost.levelno == logging.WARNING and "connection lost" in lost.getMessage()
    assert records.records, "nothing was logged"
    assert all(r.levelno >= logging.WARNING for r in records.records), [r.getMessage() for r in records.records]


def test_trace_is_level_5_below_debug() -> None:
    assert pgmq.TRACE == 5 < logging.DEBUG
    assert logging.getLevelName(pgmq.TRACE) == "TRACE"


# A program that logs everything of the core through a slow handler, cuts its own connections so that the
# core logs while it exits, and exits with its client open while a record is being handled.
EXIT_WHILE_LOGGING = textwrap.dedent(
    """
    import logging, os, sys, threading, time
    import anyio, psycopg, pgmq

    handled = threading.Event()

    class Slow(logging.Handler):
        def emit(self, record):
            time.sleep(0.05)  # sleeps without the GIL: the interpreter goes on exiting meanwhile
            handled.set()

    logging.getLogger("pgmq").addHandler(Slow())
    logging.getLogger("pgmq").setLevel(pgmq.TRACE)
    app = sys.argv[1]
    dsn = os.environ["DATABASE_URL"]

    async def main():
        client = await pgmq.connect(dsn, application_name=app)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
            )
        await anyio.to_thread.run_sync(handled.wait, 10)
        print("exiting", flush=True)

    anyio.run(main)
    """
)


def test_the_interpreter_exits_cleanly_while_the_core_logs_through_a_slow_handler(migrated: str) -> None:
    for _ in range(3):
        result = run_python(["-c", EXIT_WHILE_LOGGING, unique("log-exit")], migrated, timeout=FIVE_S * 6)

        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["exiting"], result.stdout + result.stderr
        assert "Fatal Python error" not in result.stderr and "panicked" not in result.stderr, result.stderr
