"""Every public operation of the core's handles (Client, Queue, Message, Receiver, Completion, Reply...)
has a Python counterpart, named in COUNTERPARTS; a new core operation fails this suite until it is bound
here or said to need none. docs/parity.md's Python column says the same, and every name it gives exists."""

from __future__ import annotations

import re

import pgmq
from support import REPO_DIR

CORE_SRC = REPO_DIR / "core" / "src"
PARITY_MD = REPO_DIR / "docs" / "parity.md"
HANDLES = {"Client", "Queue", "Message", "Receiver", "SharedReceiver", "Completion", "SentMessage", "Reply"}

# core operation -> the `pgmq` attribute path that does it.
COUNTERPARTS = {
    "Client::connect": "connect",
    "Client::connect_with": "connect",
    "Client::migrate": "migrate_to_latest_version",
    "Client::schema_version": "Client.schema_version",
    "Client::create_queue": "create_queue",
    "Client::delete_queue": "delete_queue",
    "Client::queue": "connect_to_queue",
    "Client::list_queues": "Client.list_queues",
    "Client::list_queues_with_stats": "Client.list_queues_with_stats",
    "Client::redrive": "Client.redrive",
    "Client::cancel_group": "Client.cancel_group",
    "Client::wait_for_group": "Client.wait_for_group",
    "Client::group_stats": "Client.get_group_statistics",
    "Client::close": "Client.close",
    "Client::is_closed": "Client.closed",
    "Queue::name": "Queue.name",
    "Queue::send": "Queue.send",
    "Queue::send_batch": "Queue.send",
    "Queue::receiver": "Queue.receive",
    "Queue::cancel": "Queue.cancel",
    "Queue::peek": "Queue.peek",
    "Queue::purge": "Queue.purge",
    "Queue::stats": "Queue.get_statistics",
    "Queue::completion": "Queue.wait_for_completion",
    "Queue::wait_for_completion": "Queue.wait_for_completion",
    "Queue::request": "Queue.request",
    "Queue::set_max_messages": "Queue.set_max_messages",
    "Queue::cancel_group": "Queue.cancel_group",
    "Queue::wait_for_group": "Queue.wait_for_group",
    "Queue::group_stats": "Queue.get_group_statistics",
    "Message::id": "Message.id",
    "Message::queue": "Message.queue",
    "Message::body": "Message.body",
    "Message::attributes": "Message.attributes",
    "Message::json": "Message.json",
    "Message::delivery_attempt": "Message.delivery_attempt",
    "Message::sent_at": "Message.sent_at",
    "Message::last_error": "Message.last_error",
    "Message::dead_letter_attempts": "Message.dead_letter_attempts",
    "Message::lease_token": "Message.lease_token",
    "Message::is_cancelled": "Message.cancelled",
    "Message::cancelled": "Acquisition",  # a cancellation interrupts the acquire() block
    "Message::is_lease_lost": "Message.lease_lost",
    "Message::is_finished": "Message.finished",
    "Message::ack": "Message.ack",
    "Message::ack_with_result": "Message.ack",  # ack(result, content_type=...); also Message.set_result
    "Message::ack_with_json": "Message.ack",  # ack(value): JSON unless the queue handle has a serializer
    "Message::nack": "Message.nack",
    "Message::extend": "Message.extend",
    "Receiver::next": "MessageHandleStream.receive",
    "Receiver::close": "Receiving.__aexit__",
    "Receiver::is_closed": "MessageHandleStream.closed",
    "SharedReceiver::next": "MessageHandleStream.receive",
    "SharedReceiver::close": "Receiving.__aexit__",
    "SharedReceiver::is_closed": "MessageHandleStream.closed",
    "Completion::ids": "CompletionHandle.ids",
    "Completion::is_tracked": "CompletionHandle.tracked",
    "Completion::with_poll_interval": "Queue.wait_for_completion",  # poll_interval=
    "Completion::wait": "CompletionHandle.wait",
    "Completion::wait_replies": "CompletionHandle.replies",
    "SentMessage::id": "CompletionHandle.ids",  # send() of one message gives a handle of one id
    "SentMessage::wait": "CompletionHandle.wait",
    "SentMessage::wait_reply": "CompletionHandle.reply",
    "Reply::outcome": "Reply.outcome",
    "Reply::result": "Reply.result",
    "Reply::content_type": "Reply.content_type",
    "Reply::reason": "Reply.reason",
    "Reply::json": "Reply.json",
}

# core operations Python needs no counterpart of, and why.
NOT_NEEDED = {
    "Queue::client": "a queue handle is opened from a client its caller already holds",
    "Message::take_body": "Message.body is made once, without a copy of its own",
    "Receiver::queue": "a stream is opened from a queue its caller already holds",
    "Receiver::next_batch": "the stream claims batch_size= messages in one statement and hands them out one by one",
    "SharedReceiver::next_batch": "as Receiver::next_batch",
    "SharedReceiver::new": "the binding's own plumbing (Receiving wraps one)",
    "SentMessage::completion": "send() returns one CompletionHandle for all its messages",
    "SentMessage::into_completion": "as SentMessage::completion",
    "Reply::into_result": "Reply.result is made once, without a copy of its own",
}

# New in the core and not bound yet (to be bound with their own change); empty when Python is level.
PENDING: set[str] = set()


def public_core_operations() -> set[str]:
    """`Type::name` of every `pub fn` in an inherent `impl` of a handle type, except `#[doc(hidden)]` ones."""
    found: set[str] = set()
    for path in CORE_SRC.glob("*.rs"):
        handle = None
        hidden = False
        for line in path.read_text().splitlines():
            if opened := re.match(r"impl (\w+) \{", line):
                handle = opened[1] if opened[1] in HANDLES else None
            elif line == "}":
                handle = None
            elif handle and line.strip() == "#[doc(hidden)]":
                hidden = True
            elif handle and (fn := re.match(r" {4}pub (?:async )?fn (\w+)", line)):
                if not hidden:
                    found.add(f"{handle}::{fn[1]}")
                hidden = False
            elif handle and line.startswith("    ") and not line.strip().startswith(("#", "///")):
                hidden = False
    return found


def resolves(path: str) -> bool:
    target: object = pgmq
    for part in path.split("."):
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


def test_every_public_core_operation_has_a_python_counterpart_or_a_reason() -> None:
    operations = public_core_operations()
    assert {"Client::create_queue", "Queue::send_batch", "Message::ack"} <= operations, "the scan found too little"

    unaccounted = sorted(operations - COUNTERPARTS.keys() - NOT_NEEDED.keys() - PENDING)

    assert not unaccounted, f"core operations without a Python counterpart in COUNTERPARTS: {unaccounted}"


def test_every_named_counterpart_exists_and_every_listed_operation_still_exists_in_the_core() -> None:
    operations = public_core_operations()

    missing = sorted(f"{op} -> pgmq.{path}" for op, path in COUNTERPARTS.items() if not resolves(path))
    gone = sorted((COUNTERPARTS.keys() | NOT_NEEDED.keys() | PENDING) - operations)

    assert not missing, f"named counterparts that pgmq does not have: {missing}"
    assert not gone, f"listed operations the core no longer has: {gone}"


# ---- docs/parity.md ----


def parity_rows() -> dict[str, list[str]]:
    """Rust operation -> the Python names docs/parity.md's Python column gives it ([] for "—")."""
    lines = [line for line in PARITY_MD.read_text().splitlines() if line.startswith("| `")]
    header = next(line for line in PARITY_MD.read_text().splitlines() if line.startswith("| Rust |"))
    columns = [cell.strip() for cell in header.strip().strip("|").split("|")]
    rust, python = columns.index("Rust"), columns.index("Python")
    rows: dict[str, list[str]] = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[rust].strip("`")] = re.findall(r"`([^`]+)`", cells[python])
    return rows


def test_every_python_name_in_docs_parity_md_exists_in_the_public_api() -> None:
    rows = parity_rows()
    assert len(rows) > 50, "the table was not found"

    # `pgmq.function`, or `Class.member` of a public class.
    missing = sorted(
        f"{op}: {name}"
        for op, names in rows.items()
        for name in names
        if (name.split(".")[0] != "pgmq" and name.split(".")[0] not in pgmq.__all__)
        or not resolves(name.removeprefix("pgmq."))
    )

    assert not missing, f"docs/parity.md names what pgmq does not have: {missing}"


def test_docs_parity_md_and_counterparts_agree_on_each_operation() -> None:
    rows = parity_rows()

    undocumented = sorted(
        f"{op} -> {path}"
        for op, path in COUNTERPARTS.items()
        if path not in {name.removeprefix("pgmq.") for name in rows.get(op, [])}
    )
    dashed = sorted(op for op, names in rows.items() if not names and op in COUNTERPARTS)
    claimed = sorted(op for op, names in rows.items() if names and op in NOT_NEEDED.keys() | PENDING)

    assert not undocumented, f"counterparts docs/parity.md's Python column does not name: {undocumented}"
    assert not dashed, f"operations with a counterpart that docs/parity.md marks —: {dashed}"
    assert not claimed, f"operations docs/parity.md names a counterpart of, listed as needing none: {claimed}"
