"""A throwaway PostgreSQL cluster from the local server binaries, for demos (``python -m pgmq demo``).

The same recipe as the repository's ``tests/with-postgres.sh``: ``initdb`` into a temporary directory,
TCP on 127.0.0.1 only (plus a unix socket in that directory), a free port, and everything stopped and
deleted when the ``with`` block ends, however it ends. PostgreSQL refuses to run as root, so as root the
server runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

__all__ = ["ClusterError", "throwaway_cluster"]


class ClusterError(RuntimeError):
    """The throwaway cluster could not be started (binaries missing, initdb or startup failed)."""


def _server_bin() -> Path:
    """The directory of initdb/pg_ctl/postgres: PATH first, else the newest /usr/lib/postgresql/N/bin."""
    found = [shutil.which(name) for name in ("initdb", "pg_ctl", "postgres")]
    if all(found):
        return Path(os.path.realpath(found[0] or "")).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(part) if part.isdigit() else 0 for part in Path(p).parent.name.split(".")],
    )
    for directory in reversed(candidates):
        if all(os.access(Path(directory) / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    raise ClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin; "
        "install them or pass a DSN"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Runner:
    """Runs the server's commands as the current user, or as ``postgres`` when we are root."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.user: Optional[str] = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            import pwd

            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterError("running as root, but there is no 'postgres' user to run the server") from None
            self.user = "postgres"

    def command(self, args: List[str]) -> List[str]:
        if self.user is None:
            return args
        if shutil.which("runuser"):
            return ["runuser", "-u", self.user, "--", *args]
        return ["su", self.user, "-s", "/bin/sh", "-c", 'exec "$0" "$@"', "--", *args]

    def run(self, args: List[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(args),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextlib.contextmanager
def throwaway_cluster(fast: bool = False) -> Iterator[str]:
    """Starts a private PostgreSQL cluster and yields its DSN; stops and deletes it on exit.

    ``fast=True`` turns off fsync and synchronous commit (for tests: durability is not measured there).
    Raises :class:`ClusterError` if it cannot start.
    """
    bin_dir = _server_bin()
    tmp = Path(tempfile.mkdtemp(prefix="pgmq-pg."))
    data = tmp / "data"
    log = tmp / "postgres.log"
    runner = _Runner(tmp)
    started = False
    try:
        if runner.user is not None:
            shutil.chown(tmp, user=runner.user)
        init = runner.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            timeout=120,
        )  # fmt: skip
        if init.returncode != 0:
            raise ClusterError(f"initdb failed:\n{init.stdout}{init.stderr}")
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{tmp}'",
            "max_connections = 300",
        ]
        if fast:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(settings) + "\n")
        port = 0
        for _ in range(3):
            port = _free_port()
            pg_ctl_start = [str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "30"]
            start = runner.run([*pg_ctl_start, "-o", f"-p {port}"], timeout=60)
            if start.returncode == 0:
                started = True
                break
            # Someone took the port between choosing and binding it: try another one.
            text = log.read_text(errors="replace") if log.exists() else ""
            if not any(s in text for s in ("could not bind", "already in use", "could not create any TCP/IP")):
                raise ClusterError(f"postgres failed to start:\n{start.stdout}{start.stderr}\n{text[-3000:]}")
        if not started:
            raise ClusterError("postgres failed to start: no free port")
        _wait_ready(port)
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started or (data / "postmaster.pid").exists():
            # Immediate: no checkpoint, the data is deleted right after.
            pg_ctl_stop = [str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w", "-t", "20"]
            stop = runner.run(pg_ctl_stop, timeout=30)
            if stop.returncode != 0:
                _kill_postmaster(data)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_ready(port: int, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise ClusterError(f"postgres is not accepting connections on port {port}") from None
            time.sleep(0.1)


def _kill_postmaster(data: Path) -> None:
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 9)
    except (OSError, ValueError, IndexError):
        pass
