"""`make bench`, Python rows: the cost of the binding beside the Rust core's figures of the same run.

Figures (the Rust bench's, through the Python API):
  send_batch    `await queue.send(*1000 bodies)`, 100 times (messages/s)
  receive_ack   8 workers, each a `queue.receive(batch_size=100)` stream consumed by 100 tasks that run
                `async for handle in stream: async with handle.acquire(): ...` (messages/s)
  latency_p50/p99  send -> start of the `acquire()` block with an idle worker, 1,000 samples (ms)
  completion_p50/p99  `await queue.send(body)` -> `await completion()` returns, the idle worker's block
                exiting cleanly (a plain ack), 1,000 samples (ms)
  request_p50/p99  `await queue.request(body)` -> its reply, the worker acking with a small JSON result
                (`message.set_result({"ok": True})`), 1,000 samples interleaved with completion's (ms)

Each Python figure is printed beside the Rust figure of the same run (the last `"lang": "rust"` line of
target/bench/summary.jsonl, written by the Rust bench just before) and appended there as
{"figure", "lang": "python", "value", "unit", "ceiling"}, the ceiling being that Rust figure.
Sizes scale with PGMQ_BENCH_SCALE (default 1.0); PGMQ_BENCH_ONLY=receive_ack,latency runs a subset.

    DATABASE_URL=postgres://... .venv/bin/python bindings-python/bench/bench.py
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pgmq

PAYLOAD = b'{"job":"resize","id":123456,"size":"large"}'
SUMMARY = Path("target/bench/summary.jsonl")


@dataclass
class Figure:
    name: str
    value: float
    unit: str


def scale(n: int) -> int:
    return max(1, int(n * float(os.environ.get("PGMQ_BENCH_SCALE", "1"))))


def wanted(name: str) -> bool:
    only = os.environ.get("PGMQ_BENCH_ONLY", "")
    return not only or any(name.startswith(o) for o in only.split(","))


async def fresh_queue(client: pgmq.Client, name: str) -> None:
    await pgmq.delete_queue(name, client)
    await pgmq.create_queue(name, client, dlq_options=None)


async def send_batch(client: pgmq.Client, batches: int) -> float:
    await fresh_queue(client, "bench-py-send-batch")
    async with pgmq.connect_to_queue("bench-py-send-batch", client) as queue:
        start = time.perf_counter()
        for _ in range(batches):
            await queue.send(*[PAYLOAD] * 1000)
        elapsed = time.perf_counter() - start
    await pgmq.delete_queue("bench-py-send-batch", client)
    return batches * 1000 / elapsed


def vacuum_analyze_messages() -> None:
    """As the Rust bench does before its receive_ack: freshly inserted rows, vacuumed and analyzed.
    pgmq runs no SQL of the caller's, so this goes through psql (skipped if there is none)."""
    search = [os.environ.get("PGMQ_PG_BIN"), os.environ.get("PATH")]
    psql = shutil.which("psql", path=os.pathsep.join(p for p in search if p))
    if psql is None:
        print("bench (python): no psql: the queue is not vacuumed before receive_ack", file=sys.stderr)
        return
    subprocess.run([psql, "-q", os.environ["DATABASE_URL"], "-c", "VACUUM ANALYZE pgmq.messages"], check=True)


async def receive_ack(client: pgmq.Client, total: int) -> float:
    name = "bench-py-receive-ack"
    await fresh_queue(client, name)
    target = (total // 1000) * 1000
    async with pgmq.connect_to_queue(name, client) as queue:
        for _ in range(total // 1000):
            await queue.send(*[PAYLOAD] * 1000, track=False)
        vacuum_analyze_messages()
        done = errors = 0
        finished = asyncio.Event()

        async def consume(stream: pgmq.MessageHandleStream) -> None:
            nonlocal done, errors
            async for handle in stream:
                try:
                    async with handle.acquire() as message:
                        message.body  # the work would start here
                except pgmq.PgmqError:
                    errors += 1  # e.g. a lost lease: the message comes back, and is counted then
                    continue
                done += 1
                if done >= target:
                    finished.set()

        async def worker() -> None:
            # One receiver leasing up to 100 messages, processed by 100 tasks at once.
            async with queue.receive(batch_size=100) as stream:
                await asyncio.gather(*(consume(stream) for _ in range(100)))

        start = time.perf_counter()
        workers = [asyncio.ensure_future(worker()) for _ in range(8)]
        try:
            await asyncio.wait_for(finished.wait(), timeout=60 + target / 1000)
        except asyncio.TimeoutError:
            print(f"bench (python): receive_ack timed out after {done} of {target} messages", file=sys.stderr)
        elapsed = time.perf_counter() - start
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if errors:
            print(f"bench (python): receive_ack: {errors} acks failed", file=sys.stderr)
    await pgmq.delete_queue(name, client)
    return done / elapsed


async def latency(client: pgmq.Client, samples: int) -> Tuple[float, float]:
    name = "bench-py-latency"
    await fresh_queue(client, name)
    started: asyncio.Queue[float] = asyncio.Queue()
    async with pgmq.connect_to_queue(name, client) as queue:

        async def worker() -> None:
            async with queue.receive() as stream:
                async for handle in stream:
                    async with handle.acquire():
                        started.put_nowait(time.perf_counter())  # handler start

        task = asyncio.ensure_future(worker())
        lat: List[float] = []
        for _ in range(samples):
            t0 = time.perf_counter()
            await queue.send(PAYLOAD, track=False)
            lat.append((await started.get() - t0) * 1e3)
            await asyncio.sleep(0.002)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await pgmq.delete_queue(name, client)
    lat.sort()
    return percentile(lat, 0.5), percentile(lat, 0.99)


async def round_trips(client: pgmq.Client, samples: int) -> Tuple[Tuple[float, float], Tuple[float, float]]:
    """Send -> completion and request -> reply with one idle worker, the samples of both interleaved (as
    the Rust bench does) so that they share the machine's conditions: ((p50, p99), (p50, p99)) in ms."""
    name = "bench-py-round-trip"
    await fresh_queue(client, name)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def worker() -> None:
            async with queue.receive() as stream:
                async for handle in stream:
                    async with handle.acquire() as message:
                        if message.body == b"request":
                            message.set_result({"ok": True})

        task = asyncio.ensure_future(worker())
        completion: List[float] = []
        request: List[float] = []
        for _ in range(samples):
            t0 = time.perf_counter()
            await (await queue.send(PAYLOAD)).wait()
            completion.append((time.perf_counter() - t0) * 1e3)
            await asyncio.sleep(0.002)
            t0 = time.perf_counter()
            reply = await queue.request(b"request")
            request.append((time.perf_counter() - t0) * 1e3)
            assert reply.result is not None
            await asyncio.sleep(0.002)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await pgmq.delete_queue(name, client)
    completion.sort()
    request.sort()
    return (
        (percentile(completion, 0.5), percentile(completion, 0.99)),
        (percentile(request, 0.5), percentile(request, 0.99)),
    )


def percentile(ordered: List[float], p: float) -> float:
    return ordered[round((len(ordered) - 1) * p)]


def rust_figures() -> Dict[str, float]:
    """The Rust figures of this run: the last rust line per figure."""
    figures: Dict[str, float] = {}
    if SUMMARY.exists():
        for line in SUMMARY.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if row.get("lang") == "rust":
                figures[row["figure"]] = float(row["value"])
    return figures


async def run(dsn: str) -> List[Figure]:
    figures: List[Figure] = []
    async with pgmq.connect(dsn, pool_size=16) as client:
        await pgmq.migrate_to_latest_version(client)
        if wanted("send_batch"):
            n = scale(100)
            print(f"bench (python): send_batch ({n} x 1000)...", file=sys.stderr)
            figures.append(Figure("send_batch", await send_batch(client, n), "msg/s"))
        if wanted("receive_ack"):
            n = scale(200_000)
            print(f"bench (python): receive_ack ({n} msgs)...", file=sys.stderr)
            figures.append(Figure("receive_ack", await receive_ack(client, n), "msg/s"))
        if wanted("latency"):
            n = scale(1_000)
            print(f"bench (python): latency ({n} samples)...", file=sys.stderr)
            p50, p99 = await latency(client, n)
            figures += [Figure("latency_p50", p50, "ms"), Figure("latency_p99", p99, "ms")]
        if wanted("completion") or wanted("request"):
            n = scale(1_000)
            print(f"bench (python): completion and request ({n} samples each)...", file=sys.stderr)
            (c50, c99), (r50, r99) = await round_trips(client, n)
            if wanted("completion"):
                figures += [Figure("completion_p50", c50, "ms"), Figure("completion_p99", c99, "ms")]
            if wanted("request"):
                figures += [Figure("request_p50", r50, "ms"), Figure("request_p99", r99, "ms")]
    return figures


def main() -> None:
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        sys.exit("set DATABASE_URL (make bench does)")
    figures = asyncio.run(run(dsn))
    rust = rust_figures()
    print()
    print("| figure | pgmq (python) | pgmq (rust), same run | python / rust |")
    print("|---|---:|---:|---:|")
    for f in figures:
        ceiling: Optional[float] = rust.get(f.name)
        if ceiling is None:
            ratio = "n/a"
            shown = "n/a"
        else:
            ratio = f"{(ceiling / f.value if f.unit == 'ms' else f.value / ceiling) * 100:.0f}%"
            shown = f"{ceiling:.2f} {f.unit}"
        print(f"| {f.name} | {f.value:.2f} {f.unit} | {shown} | {ratio} |")
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    with SUMMARY.open("a") as out:
        for f in figures:
            row = {"figure": f.name, "lang": "python", "value": f.value, "unit": f.unit}
            row["ceiling"] = rust.get(f.name)
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
