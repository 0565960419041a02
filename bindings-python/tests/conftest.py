"""Fixtures of the pgmq Python suite: a real PostgreSQL from DATABASE_URL, migrated once per session.

Every test makes its own queues (names with a random suffix, see `support.unique`), so the whole suite
shares one database and leaves nothing that another test could see.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import anyio
import pytest

import pgmq


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def dsn() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.fail(
            "DATABASE_URL is not set: run the suite through tests/with-postgres.sh "
            "(e.g. `bash tests/with-postgres.sh .venv/bin/python -m pytest bindings-python/tests`)"
        )
    return url


@pytest.fixture(scope="session")
def migrated(dsn: str) -> str:
    """The DSN of a database with the pgmq schema at the latest version (migrated once per session)."""

    async def migrate() -> None:
        async with pgmq.connect(dsn) as client:
            await pgmq.migrate_to_latest_version(client)

    anyio.run(migrate)
    return dsn


@pytest.fixture
async def client(migrated: str) -> AsyncIterator[pgmq.Client]:
    """A client of its own for one test, closed at the end of it."""
    async with pgmq.connect(migrated) as client:
        yield client
