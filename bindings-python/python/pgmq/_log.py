"""The core's log events in :mod:`logging` (see bindings-python/src/log.rs).

They go to the logger ``pgmq.core`` (a child of ``pgmq``, where the Python layer logs), at the level the
core gave them: error -> ``ERROR``, warn -> ``WARNING``, info -> ``INFO``, debug -> ``DEBUG``, trace ->
:data:`TRACE` (5). Each record names the Rust module that emitted it in ``record.rust_target`` (and in
``pathname``, so ``%(pathname)s`` shows it), e.g. ``pgmq_core::listener``. Records come from a thread of
their own, ``pgmq-log`` (never the event loop's), or at interpreter exit from the exiting thread.
"""

from __future__ import annotations

import logging

TRACE = 5
"""The level of the core's trace events, below ``logging.DEBUG``."""

if logging.getLevelName(TRACE) == f"Level {TRACE}":
    logging.addLevelName(TRACE, "TRACE")

core_logger = logging.getLogger("pgmq.core")


def emit(level: int, target: str, text: str) -> None:
    """Called by the native layer with each event, in order."""
    logger = core_logger
    if logger.isEnabledFor(level):
        logger.handle(logger.makeRecord(logger.name, level, target, 0, text, (), None, extra={"rust_target": target}))


def emit_dropped(count: int) -> None:
    """Called by the native layer when events came faster than ``logging`` took them."""
    core_logger.warning("%d log events of the pgmq core were dropped: they came faster than logging took them", count)
