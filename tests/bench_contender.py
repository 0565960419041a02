#!/usr/bin/env python3
"""pgmq (this repository's Python package) as a contender of the peer benchmark harness
(../shared/bench-peers: procrastinate, graphile-worker, pg-boss and Tembo's PGMQ on one workload).

It follows the harness's contract (bench-peers/README.md): sub-commands ``info``, ``setup``,
``enqueue --n N --batch B``, ``process --n N --concurrency C`` and ``latency --k K --concurrency C
--gap-ms G``, the database in ``$BENCH_DSN``, one JSON line on stdout. Run it with the interpreter of
the project's .venv (``make python``): the ``pgmq`` of the harness's own venv is Tembo's PyPI client.

The library is used as its README shows, with its defaults (``pgmq.connect(dsn)``: a pool of 10
connections plus one LISTEN connection; queue ``bench`` with the default options; ``track=True``, so
every send also writes the outcome record a sender can wait on):

- enqueue: ``await queue.send(body)`` per job, sequentially; bulk: ``await queue.send(*bodies)``,
  one statement per call.
- process: one ``queue.receive(batch_size=C)`` stream, and a task per message that runs
  ``async with handle.acquire() as message: handler(message)`` (what Node's ``queue.process(handler,
  { concurrency: C })`` does). The stream holds at most C unfinished messages, so at most C handlers run
  at once; it claims up to its free capacity in one statement. A message stops counting once its ack is
  handed to the library, which commits the acks of one event-loop turn together in the background (its
  task waits for that commit: a lost lease would raise there). Every handler runs (it decodes the JSON
  payload) and every message is acked.
- latency: the same worker, idle; t0 before ``await queue.send(body)``, t1 at the start of the
  ``acquire()`` block.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Set

import pgmq

DSN = os.environ.get("BENCH_DSN", "")
QUEUE = "bench"


def body(i: int) -> bytes:
    return json.dumps({"i": i}).encode()


async def cmd_setup(a: argparse.Namespace) -> Dict[str, Any]:
    async with pgmq.connect(DSN) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client)
    return {"ok": True}


async def cmd_enqueue(a: argparse.Namespace) -> Dict[str, Any]:
    async with pgmq.connect(DSN) as client:
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            t0 = time.perf_counter()
            if a.batch <= 1:
                for i in range(a.n):
                    await queue.send(body(i))
            else:
                for s in range(0, a.n, a.batch):
                    await queue.send(*[body(j) for j in range(s, min(a.n, s + a.batch))])
            seconds = time.perf_counter() - t0
    return {"n": a.n, "seconds": seconds, "api": "send(body)" if a.batch <= 1 else "send(*bodies)"}


async def worker(queue: pgmq.Queue, concurrency: int, handler: Callable[[pgmq.Message], None]) -> None:
    """The worker a user would write: one stream leasing up to `concurrency` messages and a task per
    message, so at most `concurrency` handlers run at once. Runs until cancelled."""

    async def run(handle: pgmq.MessageHandle) -> None:
        async with handle.acquire() as message:  # clean exit: ack
            handler(message)

    running: Set["asyncio.Task[None]"] = set()
    async with queue.receive(batch_size=concurrency) as stream:
        try:
            async for handle in stream:
                task = asyncio.ensure_future(run(handle))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)


async def stop(task: "asyncio.Task[None]") -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def cmd_process(a: argparse.Namespace) -> Dict[str, Any]:
    count = 0
    done = asyncio.Event()

    def handler(message: pgmq.Message) -> None:
        nonlocal count
        json.loads(message.body)  # the job's payload, as the peers' handlers get it
        count += 1
        if count == a.n:
            done.set()

    async with pgmq.connect(DSN) as client:
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            t0 = time.perf_counter()
            task = asyncio.ensure_future(worker(queue, a.concurrency, handler))
            await done.wait()
            seconds = time.perf_counter() - t0
            await stop(task)
    return {"n": a.n, "seconds": seconds, "concurrency": a.concurrency}


async def cmd_latency(a: argparse.Namespace) -> Dict[str, Any]:
    loop = asyncio.get_running_loop()
    waiting: Dict[int, "asyncio.Future[float]"] = {}

    def handler(message: pgmq.Message) -> None:
        t = time.perf_counter()
        fut = waiting.pop(json.loads(message.body)["i"], None)
        if fut is not None and not fut.done():
            fut.set_result(t)

    samples: List[float] = []
    async with pgmq.connect(DSN) as client:
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            task = asyncio.ensure_future(worker(queue, a.concurrency, handler))
            await asyncio.sleep(0.5)
            for i in range(a.k + a.warmup):
                fut = waiting[i] = loop.create_future()
                t0 = time.perf_counter()
                await queue.send(body(i))
                t1 = await asyncio.wait_for(fut, 30)
                if i >= a.warmup:
                    samples.append((t1 - t0) * 1000)
                await asyncio.sleep(a.gap_ms / 1000)
            await stop(task)
    return {"samples_ms": samples}


def info() -> Dict[str, Any]:
    return {
        "name": "pgmq (this repo, Python)",
        "version": pgmq.__version__,
        "driver": f"Rust core (tokio-postgres) via pyo3, CPython {sys.version.split()[0]}",
        "notes": "pgmq.connect(dsn) defaults (pool of 10 + 1 LISTEN connection); send() per job / "
        "send(*1000 bodies) per call, track=True (default); process: one receive(batch_size=C) stream "
        "and a task per message running async with handle.acquire() (at most C handlers at once; a "
        "claim takes up to the free capacity in one statement; a message frees its slot when its ack "
        "is handed over, and the acks of one event-loop turn commit together in the background); "
        "latency: same worker idle on LISTEN/NOTIFY",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info")
    sub.add_parser("setup")
    p = sub.add_parser("enqueue")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--batch", type=int, default=1)
    p = sub.add_parser("process")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=10)
    p = sub.add_parser("latency")
    p.add_argument("--k", type=int, default=200)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--gap-ms", type=float, default=20)
    p.add_argument("--concurrency", type=int, default=10)
    a = ap.parse_args()
    if a.cmd == "info":
        out = info()
    else:
        if not DSN:
            sys.exit("BENCH_DSN is not set (the harness sets it)")
        out = asyncio.run(globals()["cmd_" + a.cmd](a))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
