"""The Node child processes of the interop suite (node_worker.mjs, node_sender.mjs): started with
DATABASE_URL set, they report each step as one JSON line on stdout, which `NodeProcess.expect` reads.

The scripts import the npm package `pgmq`, which resolves to this repository (its package.json is the
package root, and the scripts live inside it); `make node` builds the addon.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

INTEROP_DIR = Path(__file__).resolve().parent
REPO_DIR = INTEROP_DIR.parent.parent


class NodeProcess:
    """A Node child process of this suite, reporting events as JSON lines on stdout.

    ``await expect("event")`` reads lines until that event (failing on an early exit, with the child's
    stderr). Leaving ``async with`` kills the child if it is still running.
    """

    def __init__(self, process: Process, stderr_path: Path, what: str) -> None:
        assert process.stdout is not None
        self.process = process
        self.stderr_path = stderr_path
        self.what = what
        self.events: List[Dict[str, Any]] = []
        self._stdout = BufferedByteReceiveStream(process.stdout)

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    async def _next_line(self) -> Optional[bytes]:
        try:
            return await self._stdout.receive_until(b"\n", 1 << 20)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return None

    async def expect(self, event: str, timeout: float = 15.0) -> Dict[str, Any]:
        """The next `event` line of the child (earlier lines of other events are kept in `events`)."""
        with anyio.fail_after(timeout):
            while True:
                line = await self._next_line()
                if line is None:
                    code = await self.process.wait()
                    raise AssertionError(
                        f"{self.what} exited ({code}) before reporting {event!r}; "
                        f"events: {self.events}\nstderr:\n{self.stderr()}"
                    )
                try:
                    parsed: Dict[str, Any] = json.loads(line)
                except ValueError:
                    raise AssertionError(f"{self.what} printed a line that is not JSON: {line!r}") from None
                if not isinstance(parsed, dict):
                    raise AssertionError(f"{self.what} printed a line that is not a JSON object: {line!r}")
                self.events.append(parsed)
                if parsed.get("event") == event:
                    return parsed

    async def send_line(self, line: str) -> None:
        """Writes one line to the child's stdin."""
        assert self.process.stdin is not None
        await self.process.stdin.send(line.encode() + b"\n")

    async def exit_code(self, timeout: float = 15.0) -> int:
        """Waits for the child to exit (after reading whatever it still prints)."""
        with anyio.fail_after(timeout):
            while await self._next_line() is not None:
                pass
            return await self.process.wait()

    async def assert_exits_cleanly(self, timeout: float = 15.0) -> None:
        code = await self.exit_code(timeout)
        assert code == 0, f"{self.what} exited with {code}\nstderr:\n{self.stderr()}"


class NodeRunner:
    """Starts Node scripts of tests/interop with DATABASE_URL set: ``async with run(script, *args) as p``."""

    def __init__(self, node: str, dsn: str, tmp_path: Path) -> None:
        self._node = node
        self._dsn = dsn
        self._tmp = tmp_path
        self._started = 0

    def __call__(self, script: str, *args: str) -> "RunningChild":
        self._started += 1
        return RunningChild(
            [self._node, str(INTEROP_DIR / script), *args],
            self._dsn,
            self._tmp / f"{Path(script).stem}-{self._started}.stderr",
            f"node {script}",
        )


class RunningChild:
    """``async with``: starts ``command`` (a peer of this suite, in any language) from the repository root
    with DATABASE_URL set, gives its :class:`NodeProcess` (JSON events on stdout), and kills it on exit."""

    def __init__(self, command: List[str], dsn: str, stderr_path: Path, what: str) -> None:
        self._command = command
        self._dsn = dsn
        self._stderr_path = stderr_path
        self._what = what
        self._child: Optional[NodeProcess] = None

    async def __aenter__(self) -> NodeProcess:
        env = dict(os.environ)
        env["DATABASE_URL"] = self._dsn
        with open(self._stderr_path, "wb") as stderr:
            process = await anyio.open_process(
                self._command, cwd=REPO_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
            )
        self._child = NodeProcess(process, self._stderr_path, self._what)
        return self._child

    async def __aexit__(self, *exc: object) -> None:
        assert self._child is not None
        process = self._child.process
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                try:
                    process.kill()
                except ProcessLookupError:
                    pass  # it had exited, not reaped yet
            await process.aclose()
