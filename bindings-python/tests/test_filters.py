"""Attribute filters: every operator, & and |, numeric vs textual comparison, bound parameters."""

from __future__ import annotations

from typing import Union

import anyio
import pytest

import pgmq
from support import QUIET, assert_nothing_within, receive_within, send_ids, unique

pytestmark = pytest.mark.anyio

Value = Union[str, int, float, bool, None]
A = pgmq.Attribute

# Messages named by their body, with attributes covering every value type, a missing key and null.
FIXTURE: list[tuple[str, dict[str, Value]]] = [
    ("a", {"n": 3, "s": "apple", "flag": True}),
    ("b", {"n": 5, "s": "banana", "flag": False}),
    ("c", {"n": 10, "s": "cherry", "x": None}),
    ("d", {"n": 5.5, "s": "date"}),
    ("e", {"n": "10", "s": "Apple pie"}),
    ("f", {}),
    ("g", {"n": None, "s": None}),
    ("h", {"n": -2, "s": "a%b_c"}),
    ("i", {"n": 5.0, "s": "9"}),
    ("j", {"flag": 1}),  # the number 1, not the boolean true
]


async def select(client: pgmq.Client, filter: pgmq.Filter, messages: list[tuple[str, dict[str, Value]]]) -> set[str]:
    """Sends `messages` to a fresh queue and returns the bodies that one receiver with `filter` leases,
    checking that it leased them in one claim and left every other message ready."""
    name = unique("filter")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, *[pgmq.OutgoingMessage(body.encode(), attributes=attrs) for body, attrs in messages])
        picked: list[str] = []
        async with queue.receive(batch_size=100, filter=filter) as stream:
            handles = []
            with anyio.move_on_after(QUIET):
                handles.append(await stream.receive())
            stats = await queue.get_statistics()
            for _ in range(stats.leased - len(handles)):
                handles.append(await receive_within(stream, 1))  # already claimed with the first
            for handle in handles:
                async with handle.acquire() as message:
                    picked.append(message.body.decode())
    assert stats.leased == len(handles), (filter, stats)
    assert stats.ready == len(messages) - len(handles), f"{filter}: the others must stay ready ({stats})"
    return set(picked)


async def check(client: pgmq.Client, cases: list[tuple[pgmq.Filter, str]]) -> None:
    failures = []
    for filter, expected in cases:
        got = await select(client, filter, FIXTURE)
        if got != set(expected):
            failures.append(f"{filter!r}: expected {sorted(expected)}, got {sorted(got)}")
    assert not failures, "\n".join(failures)


async def test_equality_operators_pick_exactly_the_matching_messages(client: pgmq.Client) -> None:
    await check(
        client,
        [
            (A("n").eq(5), "bi"),
            (A("n").eq(5.5), "d"),
            (A("n").eq("10"), "e"),
            (A("s").eq("apple"), "a"),
            (A("flag").eq(True), "a"),
            (A("flag").eq(False), "b"),
            (A("flag").eq(1), "j"),
            (A("missing").eq(1), ""),
            (A("n").ne(5), "acdegh"),  # ne: the attribute must exist
            (A("flag").ne(True), "bj"),
        ],
    )


async def test_ordering_operators_compare_numbers_numerically(client: pgmq.Client) -> None:
    await check(
        client,
        [
            (A("n").gt(5), "cd"),
            (A("n").ge(5), "bcdi"),
            (A("n").lt(5), "ah"),
            (A("n").le(5), "abhi"),
            (A("n").gt(-3.5), "abcdhi"),
            (A("n").lt(0), "h"),
            (A("n").gt(9), "c"),  # 10 > 9 as a number; the string "10" is not a number
        ],
    )


async def test_ordering_operators_compare_strings_textually(client: pgmq.Client) -> None:
    await check(
        client,
        [
            (A("s").gt("b"), "bcd"),
            (A("s").le("banana"), "abehi"),
            (A("n").lt("5"), "e"),  # "10" < "5" as text; numbers are not compared with strings
            (A("n").gt("5"), ""),
        ],
    )


async def test_null_existence_and_like_operators_pick_exactly_the_matching_messages(client: pgmq.Client) -> None:
    await check(
        client,
        [
            (A("n").is_null(), "g"),
            (A("x").is_null(), "c"),
            (A("n").is_not_null(), "abcdehi"),
            (A("x").exists(), "c"),
            (A("flag").exists(), "abj"),
            (A("n").does_not_exist(), "fj"),
            (A("s").is_like("app%"), "a"),
            (A("s").is_like("%pp%"), "ae"),
            (A("s").is_like("a\\%b\\_c"), "h"),
            (A("s").is_not_like("%a%"), "cei"),  # LIKE is case-sensitive: "Apple pie" has no "a"
        ],
    )


async def test_and_or_combinations_pick_exactly_the_matching_messages(client: pgmq.Client) -> None:
    await check(
        client,
        [
            (A("n").gt(4) & A("s").is_like("%an%"), "b"),
            (A("n").lt(0) | A("s").eq("cherry"), "ch"),
            ((A("flag").eq(True) | A("flag").eq(False)) & A("n").le(3), "a"),
            (A("n").does_not_exist() | A("s").is_null() | A("x").exists(), "cfgj"),
            (A("n").gt(0) & A("n").lt(10) & A("s").ne("date"), "abi"),
        ],
    )


async def test_like_filter_skips_bad_messages_and_or_adds_the_ones_without_baz(client: pgmq.Client) -> None:
    # Original test 33 (test_receive_filter_attributes).
    name = unique("filter-orig")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, pgmq.OutgoingMessage(b"", attributes={"foo": "VERY BAD", "baz": None}))
        await send_ids(queue, pgmq.OutgoingMessage(b"", attributes={"baz": 1, "foo": "..."}))
        (very_bad,) = await send_ids(queue, pgmq.OutgoingMessage(b"", attributes={"foo": "VERY BAD"}))
        good_only = A("foo").is_like("GOOD%")

        async with queue.receive(filter=good_only) as stream:
            await assert_nothing_within(stream, QUIET, "no message is GOOD yet")
            (good,) = await send_ids(queue, pgmq.OutgoingMessage(b"", attributes={"foo": "GOOD!"}))
            async with (await receive_within(stream)).acquire() as message:
                assert (message.id, message.attributes) == (good, {"foo": "GOOD!"})

        widened = good_only | (A("baz").does_not_exist() & A("foo").is_not_null())
        async with queue.receive(batch_size=10, filter=widened) as stream:
            async with (await receive_within(stream)).acquire() as message:
                stats = await queue.get_statistics()
                assert (message.id, message.attributes) == (very_bad, {"foo": "VERY BAD"})
            await assert_nothing_within(stream, QUIET, "only one message matches the widened filter")

    assert (stats.leased, stats.ready) == (1, 2), "the two with baz are left"


async def test_filter_keys_and_values_are_bound_parameters_not_sql(client: pgmq.Client) -> None:
    evil_key = "k'); DROP TABLE pgmq.messages; --"
    evil_value = "v' OR '1'='1'; $$ DELETE FROM pgmq.queues; $$ \" \\"
    messages: list[tuple[str, dict[str, Value]]] = [
        ("evil", {evil_key: evil_value, "ключ 🚀": "значение"}),
        ("near", {evil_key: "v", "ключ 🚀": "значение!"}),
        ("other", {"k": evil_value}),
    ]

    assert await select(client, A(evil_key).eq(evil_value), messages) == {"evil"}
    assert await select(client, A(evil_key).exists(), messages) == {"evil", "near"}
    assert await select(client, A("ключ 🚀").eq("значение"), messages) == {"evil"}
    assert await select(client, A("k").is_like("v' OR%"), messages) == {"other"}
    assert await select(client, A("k' OR true --").exists(), messages) == set()
    # The schema survived: a new queue still works end to end.
    assert await select(client, A("k").exists(), messages) == {"other"}


async def test_filtered_receiver_leaves_non_matching_messages_to_others(client: pgmq.Client) -> None:
    name = unique("filter-others")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        red, blue = await send_ids(
            queue,
            pgmq.OutgoingMessage(b"red", attributes={"color": "red"}),
            pgmq.OutgoingMessage(b"blue", attributes={"color": "blue"}),
        )
        async with queue.receive(filter=A("color").eq("blue")) as blue_stream, queue.receive() as any_stream:
            async with (await receive_within(blue_stream)).acquire() as got_blue:
                async with (await receive_within(any_stream)).acquire() as got_other:
                    pass

    assert (got_blue.id, got_other.id) == (blue, red)
