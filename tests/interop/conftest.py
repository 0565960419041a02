"""Fixtures of the cross-language suite: a real PostgreSQL from DATABASE_URL (migrated once per session),
the `node` executable, and a fresh queue per test.

The Node side runs as child processes: see node_children.py.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import pgmq
from node_children import REPO_DIR, NodeRunner


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def dsn() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.fail(
            "DATABASE_URL is not set: run the suite through tests/with-postgres.sh "
            "(e.g. `tests/with-postgres.sh .venv/bin/python -m pytest tests/interop`)"
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


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with the addon of the npm package built."""
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not on PATH: the interop suite runs the Node binding in a child process")
    if not (REPO_DIR / "bindings-node" / "native.cjs").exists():
        pytest.fail("the Node addon is not built: run `make node` first")
    return path


@pytest.fixture
async def client(migrated: str) -> AsyncIterator[pgmq.Client]:
    async with pgmq.connect(migrated) as client:
        yield client


@pytest.fixture
async def queue_name(client: pgmq.Client) -> AsyncIterator[str]:
    """A fresh queue of this test (random name), deleted afterwards."""
    name = f"interop-{uuid.uuid4().hex[:16]}"
    assert await pgmq.create_queue(name, client)
    yield name
    await pgmq.delete_queue(name, client)


@pytest.fixture
def run_node(node: str, migrated: str, tmp_path: Path) -> NodeRunner:
    return NodeRunner(node, migrated, tmp_path)
