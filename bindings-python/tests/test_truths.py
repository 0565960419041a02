"""One table of truths: every default and limit of `pgmq` and its error-code map are the core's
(`pgmq_core::DEFAULTS`, `ERROR_CODES`, compared here through the core's own `truths_json()`), and
docs/errors.md names, for each code, the Python class that raises it."""

from __future__ import annotations

import builtins
import inspect
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import pgmq
from pgmq import _defaults, _errors, _pgmq
from support import BINDING_DIR, REPO_DIR

TRUTHS: dict[str, Any] = json.loads(_pgmq._truths_json())


def core_value(path: str) -> Any:
    """The core's value at `path` ("defaults.queue.ack_deadline"), a timedelta where the core gives
    milliseconds (`..._ms`)."""
    *sections, field = path.split(".")
    table = TRUTHS
    for section in sections:
        table = table[section]
    if field in table:
        return table[field]
    return timedelta(milliseconds=table[f"{field}_ms"])


def as_python(section: dict[str, Any]) -> dict[str, Any]:
    """A section of the core's JSON as the native table writes it: `x_ms` milliseconds as timedelta `x`."""
    return {
        (key[: -len("_ms")] if key.endswith("_ms") else key): (
            timedelta(milliseconds=value) if key.endswith("_ms") else value
        )
        for key, value in section.items()
    }


# Every default a signature or a dataclass of `pgmq` shows, and the core's value it must be.
CORE_DEFAULTS = {
    ("connect", "pool_size"): "defaults.client.pool_size",
    ("create_queue", "ack_deadline"): "defaults.queue.ack_deadline",
    ("create_queue", "max_delivery_attempts"): "defaults.queue.max_delivery_attempts",
    ("create_queue", "retention_period"): "defaults.queue.retention_period",
    ("QueueOptions", "ack_deadline"): "defaults.dead_letter_queue.ack_deadline",
    ("QueueOptions", "max_delivery_attempts"): "defaults.dead_letter_queue.max_delivery_attempts",
    ("QueueOptions", "retention_period"): "defaults.dead_letter_queue.retention_period",
    ("Backoff", "base"): "defaults.backoff.base",
    ("Backoff", "factor"): "defaults.backoff.factor",
    ("Backoff", "max"): "defaults.backoff.max",
    ("Backoff", "jitter"): "defaults.backoff.jitter",
    ("Queue.send", "track"): "defaults.send.track",
    ("Queue.send", "wait_for_room"): "defaults.send.wait_for_room",
    ("Queue.receive", "batch_size"): "defaults.receive.batch_size",
    ("Queue.receive", "poll_interval"): "defaults.receive.poll_interval",
    ("Queue.wait_for_completion", "poll_interval"): "defaults.completion.poll_interval",
    ("Queue.request", "timeout"): "defaults.request.timeout",
    ("Queue.peek", "limit"): "defaults.peek.limit",
}

# Defaults that are not values of the core's table, and why.
NOT_THE_CORES = {
    ("create_queue", "dlq_options"): "QueueOptions(), whose fields are checked against the core's above",
    ("OutgoingMessage", "after"): "(): no earlier entry to wait for, as the core's OutgoingMessage::new",
}


def public_callables() -> list[tuple[str, Callable[..., Any]]]:
    """Every function of `pgmq.__all__`, every method of its classes (by name), and each dataclass itself."""
    found: list[tuple[str, Callable[..., Any]]] = []
    for name in pgmq.__all__:
        obj = getattr(pgmq, name)
        if inspect.isclass(obj):
            if hasattr(obj, "__dataclass_fields__"):
                found.append((name, obj))
                continue
            found += [(f"{name}.{attr}", member) for attr, member in vars(obj).items() if inspect.isfunction(member)]
        elif inspect.isfunction(obj):
            found.append((name, obj))
    return found


def shown_defaults() -> dict[tuple[str, str], Any]:
    """(callable, parameter) -> default, for every parameter whose default is not None."""
    shown = {}
    for label, target in public_callables():
        for parameter in inspect.signature(target).parameters.values():
            if parameter.default is not inspect.Parameter.empty and parameter.default is not None:
                shown[(label, parameter.name)] = parameter.default
    return shown


def test_the_native_table_is_the_cores_every_default_and_limit() -> None:
    expected = {section: as_python(values) for section, values in TRUTHS["defaults"].items()}
    expected["limits"] = as_python(TRUTHS["limits"])
    expected["conventions"] = TRUTHS["conventions"]

    assert _pgmq.DEFAULTS == expected


def test_every_default_the_package_shows_is_the_cores() -> None:
    shown = shown_defaults()

    unexplained = sorted(set(shown) - CORE_DEFAULTS.keys() - NOT_THE_CORES.keys())
    gone = sorted((CORE_DEFAULTS.keys() | NOT_THE_CORES.keys()) - set(shown))
    differing = {
        f"{label}({name}=)": (shown[(label, name)], core_value(path))
        for (label, name), path in CORE_DEFAULTS.items()
        if (label, name) in shown and shown[(label, name)] != core_value(path)
    }

    assert not unexplained, f"defaults that are neither the core's nor explained: {unexplained}"
    assert not gone, f"listed defaults the package no longer shows: {gone}"
    assert not differing, f"(Python's, the core's): {differing}"
    assert shown[("create_queue", "dlq_options")] == pgmq.QueueOptions()


def test_the_limits_and_names_the_package_shows_are_the_cores() -> None:
    assert _defaults.PEEK_MAX_LIMIT == TRUTHS["defaults"]["peek"]["max_limit"]
    assert TRUTHS["defaults"]["client"]["application_name_prefix"] + "python" == "pgmq-python"
    assert pgmq.CONTENT_TYPE_ATTRIBUTE == TRUTHS["conventions"]["content_type_attribute"]
    assert pgmq.JSON_CONTENT_TYPE == TRUTHS["conventions"]["json_content_type"]
    assert pgmq.get_dlq_name("jobs") == TRUTHS["conventions"]["dlq_prefix"] + "jobs"
    assert _defaults.MAX_MESSAGES is TRUTHS["defaults"]["queue"]["max_messages"] is None
    # The docstrings of create_queue and Queue.set_max_messages say "2**63 - 1".
    assert TRUTHS["limits"]["max_messages"] == 2**63 - 1


def test_the_error_classes_cover_exactly_the_cores_codes_one_class_per_code() -> None:
    core_codes = [e["code"] for e in TRUTHS["error_codes"]]
    exported = [getattr(pgmq, name) for name in pgmq.__all__]
    error_classes = {obj for obj in exported if inspect.isclass(obj) and issubclass(obj, pgmq.PgmqError)}
    raised = {**_errors.CLASSES, **_errors.PYTHON_CLASSES}

    # Each class carries its one code as `.code`, at class level and on its instances.
    wrong_code = {code: cls.code for code, cls in raised.items() if cls.code != code or cls(code).code != code}

    assert sorted(_errors.CLASSES) == sorted(core_codes)
    assert len(set(_errors.CLASSES.values())) == len(_errors.CLASSES), "two codes share a class"
    assert not set(_errors.PYTHON_CLASSES) & set(core_codes), "a code of the Python layer is the core's too"
    assert not set(_errors.PYTHON_CLASSES.values()) & set(_errors.CLASSES.values())
    assert not wrong_code, wrong_code
    # The rest are the bases, for `except`: never raised themselves.
    assert error_classes - set(raised.values()) == {pgmq.PgmqError, pgmq.HandleError}
    assert [(c, t, d) for c, t, d in _pgmq.ERROR_CODES] == [
        (e["code"], e["transient"], e["description"]) for e in TRUTHS["error_codes"]
    ]


def test_an_error_of_each_code_is_its_class_with_the_cores_code_and_transience() -> None:
    for row in TRUTHS["error_codes"]:
        error = _errors.error("what happened", row["code"])

        assert type(error) is _errors.CLASSES[row["code"]]
        assert (error.code, error.transient, str(error)) == (row["code"], row["transient"], "what happened")
    unknown = _errors.error("from a newer core", "some_new_code")
    assert (type(unknown), unknown.code, unknown.transient) == (pgmq.PgmqError, "some_new_code", False)


def test_the_sqlstate_map_of_pgmq_sql_is_the_cores_and_names_a_class_for_each_state() -> None:
    assert _errors.SQLSTATES == TRUTHS["sqlstates"]
    for state, code in TRUTHS["sqlstates"].items():
        error = _errors.from_sqlstate(state, "pgmq: what happened")

        assert type(error) is _errors.CLASSES[code], state
        assert (error.code, str(error)) == (code, "pgmq: what happened")
    assert _errors.from_sqlstate("23505", "duplicate key") is None  # not pgmq's: the driver's own error


SQL_FUNCTIONS = [pgmq.sql.send, pgmq.sql.send_json, pgmq.sql.send_batch, pgmq.sql.send_json_batch]


@pytest.mark.parametrize("function", SQL_FUNCTIONS, ids=[f.__name__ for f in SQL_FUNCTIONS])
def test_every_default_pgmq_sql_shows_is_the_cores(function: Callable[..., Any]) -> None:
    shown = {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not inspect.Parameter.empty and parameter.default is not None
    }

    assert shown == {"track": core_value("defaults.send.track")}


def test_the_outcome_and_message_state_enums_are_the_cores_names() -> None:
    assert [o.value for o in pgmq.Outcome] == TRUTHS["outcomes"]
    assert [s.value for s in pgmq.MessageState] == TRUTHS["message_states"]


# ---- docstrings ----


def human(value: Any) -> str:
    """A value as the docstrings write it: 7 days, 10 min (from 10 minutes up), 60 s, 50 ms, 0; 10,000."""
    if isinstance(value, timedelta):
        if value and value % timedelta(days=1) == timedelta(0):
            return f"{value.days} days"
        if value >= timedelta(minutes=10) and value % timedelta(minutes=1) == timedelta(0):
            return f"{value // timedelta(minutes=1)} min"
        if value and value % timedelta(seconds=1) == timedelta(0):
            return f"{value // timedelta(seconds=1)} s"
        return f"{value // timedelta(milliseconds=1)} ms" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


STUB = BINDING_DIR / "python" / "pgmq" / "_pgmq.pyi"
README = BINDING_DIR / "README.md"

# Where a docstring (or the stub, or the package's README) states a default or a limit in words: (what, the
# phrase with {} for the values, the values).
DOCUMENTED: list[tuple[object, str, tuple[str, ...]]] = [
    (pgmq.connect, "``pool_size`` (default {})", ("defaults.client.pool_size",)),
    (pgmq.connect, "``connect_timeout`` ({})", ("defaults.client.connect_timeout",)),
    (pgmq.connect, "``statement_timeout`` ({})", ("defaults.client.statement_timeout",)),
    (pgmq.connect, "``connect_retry`` ({})", ("defaults.client.connect_retry",)),
    (pgmq.connect, '``schema`` (``"{}"``)', ("defaults.client.schema",)),
    (pgmq.connect, "``maintenance_interval`` ({})", ("defaults.client.maintenance_interval",)),
    (pgmq.migrate_to_latest_version, "after waiting {} for a lock", ("limits.migrate_lock_timeout",)),
    (
        pgmq.create_queue,
        "``ack_deadline`` (>= {}, default {})",
        ("limits.min_ack_deadline", "defaults.queue.ack_deadline"),
    ),
    (pgmq.create_queue, "``max_delivery_attempts`` (default {})", ("defaults.queue.max_delivery_attempts",)),
    (pgmq.create_queue, "``retention_period`` (default {})", ("defaults.queue.retention_period",)),
    (
        pgmq.QueueOptions,
        "heartbeat (>= {}; default {})",
        ("limits.min_ack_deadline", "defaults.dead_letter_queue.ack_deadline"),
    ),
    (pgmq.QueueOptions, "dropped (>= 1; default {})", ("defaults.dead_letter_queue.max_delivery_attempts",)),
    (pgmq.QueueOptions, "is kept (default {})", ("defaults.dead_letter_queue.retention_period",)),
    (pgmq.Backoff, "first failed attempt (default {})", ("defaults.backoff.base",)),
    (pgmq.Backoff, "Growth per attempt, >= 1 (default {})", ("defaults.backoff.factor",)),
    (pgmq.Backoff, "The longest delay (default {})", ("defaults.backoff.max",)),
    (pgmq.Queue.receive, "default {}, at most {}", ("defaults.receive.batch_size", "defaults.receive.max_batch_size")),
    (pgmq.Queue.receive, "default {}, the core's", ("defaults.receive.poll_interval",)),
    (pgmq.Queue.peek, "(default {}, at most {})", ("defaults.peek.limit", "defaults.peek.max_limit")),
    (pgmq.Queue.wait_for_completion, "default {}, the core's", ("defaults.completion.poll_interval",)),
    (pgmq.Queue.request, "default {}, the core's", ("defaults.request.timeout",)),
    (pgmq.Queue.request, "it waits up to {} for room", ("defaults.send.wait_for_room",)),
    (pgmq.Queue.send, "default {}, the core's", ("defaults.send.wait_for_room",)),
    (pgmq.Queue.send, "``group`` (a ``str`` of 1 to {} bytes in UTF-8", ("limits.max_group_len",)),
    (pgmq.Queue.send, "or more than {} dependencies for one message", ("limits.max_dependencies",)),
    (pgmq.Timeout, "migrating sets {} for its own", ("limits.migrate_lock_timeout",)),
    (pgmq.InvalidQueueName, "``^[a-zA-Z0-9_-]{{1,{}}}$``", ("limits.max_queue_name_len",)),
    (STUB, "deeper than {} levels", ("limits.max_filter_depth",)),
    (README, "pool_size={},", ("defaults.client.pool_size",)),
    (README, "`connect_timeout` {} per host, `statement_timeout` {},",
     ("defaults.client.connect_timeout", "defaults.client.statement_timeout")),
    (README, "`maintenance_interval` {} (how often", ("defaults.client.maintenance_interval",)),
    (
        README,
        "ack_deadline={}, max_delivery_attempts={}, retention_period={},",
        ("defaults.queue.ack_deadline", "defaults.queue.max_delivery_attempts", "defaults.queue.retention_period"),
    ),
    (README, "queue.receive(batch_size={}, poll_interval={}, filter=None, on_error=None)",
     ("defaults.receive.batch_size", "defaults.receive.poll_interval")),
    (README, "`await queue.peek(limit={}, filter=None, state=None)` | up to `limit` (at most {})",
     ("defaults.peek.limit", "defaults.peek.max_limit")),
    (README, "poll_interval={}) as handle`", ("defaults.completion.poll_interval",)),
    (README, "`await queue.request(body, timeout={})`", ("defaults.request.timeout",)),
    (README, "track=True, wait_for_room={}, group=None, depends_on=None) as completion`", ("defaults.send.wait_for_room",)),
    (README, "more than {} for one message)", ("limits.max_dependencies",)),
    (README, "(any `str` of 1 to {} bytes)", ("limits.max_group_len",)),
    (README, "waits up to `wait_for_room` (a `timedelta` or seconds; default {})", ("defaults.send.wait_for_room",)),
]  # fmt: skip


def backoff_phrase() -> str:
    """The README's words for the default backoff: its first three delays, then its cap."""
    base, factor = core_value("defaults.backoff.base"), core_value("defaults.backoff.factor")
    delays = ", ".join(human(base * factor**n) for n in range(3))
    return f"a nack without a delay waits {delays}… up to {human(core_value('defaults.backoff.max'))}"


def where_label(where: object) -> str:
    return where.name if isinstance(where, Path) else getattr(where, "__qualname__", repr(where))


@pytest.mark.parametrize(
    ("where", "phrase", "paths"),
    DOCUMENTED,
    ids=[f"{where_label(where)}: {phrase}" for where, phrase, _ in DOCUMENTED],
)
def test_each_default_a_docstring_states_is_the_cores(where: object, phrase: str, paths: tuple[str, ...]) -> None:
    source = where.read_text() if isinstance(where, Path) else inspect.getsource(where)  # type: ignore[arg-type]

    expected = phrase.format(*(human(core_value(path)) for path in paths))

    assert expected in " ".join(source.split()), f"{expected!r} is not what the docstring says"


def test_the_package_readme_states_the_cores_default_backoff() -> None:
    assert backoff_phrase() in " ".join(README.read_text().split())


# ---- docs/errors.md ----

ERRORS_MD = REPO_DIR / "docs" / "errors.md"
PYTHON_COLUMN = "Python `pgmq.`"
# A Python cell: the class, and the built-in exception it also is, if any: "`QueueNotFound` (a `LookupError`)".
PYTHON_CELL = re.compile(r"`(\w+)`(?: \(an? `(\w+)`\))?")


def generated_table(text: str, name: str) -> list[dict[str, str]]:
    """The rows of the Markdown table between `<!-- generated: NAME -->` and `<!-- end -->`, by header."""
    start = text.index(f"<!-- generated: {name} -->")
    lines = [line for line in text[start : text.index("<!-- end -->", start)].splitlines() if line.startswith("|")]

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    header = cells(lines[0])
    return [dict(zip(header, cells(line))) for line in lines[2:]]


def test_docs_errors_md_names_for_each_code_the_python_class_that_raises_it() -> None:
    rows = generated_table(ERRORS_MD.read_text(), "error-codes")
    documented: dict[str, str] = {}
    wrong: list[str] = []

    for row in rows:
        code, cell = row["code"].strip("`"), row[PYTHON_COLUMN]
        documented[code] = cell
        named = PYTHON_CELL.fullmatch(cell)
        if named is None or code not in _errors.CLASSES:
            wrong.append(f"{code}: {cell!r}")
            continue
        cls, builtin = getattr(pgmq, named[1], None), named[2]
        if cls is not _errors.CLASSES[code]:
            wrong.append(f"{code}: the docs name {named[1]}, Python raises {_errors.CLASSES[code].__name__}")
        elif builtin is not None and not issubclass(cls, getattr(builtins, builtin)):
            wrong.append(f"{code}: {named[1]} is not a {builtin}")

    assert sorted(documented) == sorted(e["code"] for e in TRUTHS["error_codes"])
    assert not wrong, wrong


RAISED = sorted(set(_errors.CLASSES.values()), key=lambda c: c.__name__)


def builtin_bases(cls: type[pgmq.PgmqError]) -> set[str]:
    """The built-in exceptions a class is, directly or through a base of pgmq's (HandleError's RuntimeError)."""
    found = set()
    for base in cls.__bases__:
        if base.__module__ == "builtins":
            found.add(base.__name__)
        elif base is not pgmq.PgmqError and issubclass(base, pgmq.PgmqError):
            found |= builtin_bases(base)
    return found


@pytest.mark.parametrize("cls", RAISED, ids=[c.__name__ for c in RAISED])
def test_docs_errors_md_names_every_builtin_base_of_each_class(cls: type[pgmq.PgmqError]) -> None:
    rows = generated_table(ERRORS_MD.read_text(), "error-codes")
    cells = [row[PYTHON_COLUMN] for row in rows if _errors.CLASSES.get(row["code"].strip("`")) is cls]
    bases = builtin_bases(cls)

    said = {m[2] for m in (PYTHON_CELL.fullmatch(c) for c in cells) if m is not None and m[2] is not None}

    assert said == bases, f"{cls.__name__}: the docs say {said or 'nothing'}, the class is also {bases or 'nothing'}"
