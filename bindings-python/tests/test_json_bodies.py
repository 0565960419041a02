"""Bodies that are not bytes: a value is sent as compact UTF-8 JSON labelled with the core's content-type
attribute, and read back parsed (`message.json()`, `message.decode()`); a str is its UTF-8 text,
unlabelled, as in every language; a serializer given to a queue handle replaces JSON and takes str too
(the pydantic recipe of `pgmq.Serializer`'s docstring, run as written); bytes stay bytes. Which labels
read as JSON is the core's rule.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pydantic
import pytest

import pgmq
from pgmq import _pgmq, _serializers
from support import FIVE_S, receive_within, unique

pytestmark = pytest.mark.anyio

JSON = {pgmq.CONTENT_TYPE_ATTRIBUTE: pgmq.JSON_CONTENT_TYPE}


async def fresh_queue(client: pgmq.Client, prefix: str) -> str:
    name = unique(prefix)
    await pgmq.create_queue(name, client)
    return name


async def receive_all(queue: pgmq.Queue, n: int) -> list[tuple[bytes, dict[str, Any], Any]]:
    """Receives `n` messages and acks them: (body, attributes, what decode() returned or raised) of each,
    in send order."""
    got = []
    async with queue.receive(batch_size=n) as stream:
        for _ in range(n):
            async with (await receive_within(stream)).acquire() as message:
                try:
                    decoded = message.decode()
                except ValueError as e:
                    decoded = e
                got.append((message.body, message.attributes, decoded))
    return got


def test_the_content_type_constants_are_the_cores() -> None:
    assert (pgmq.CONTENT_TYPE_ATTRIBUTE, pgmq.JSON_CONTENT_TYPE) == ("content-type", "application/json")
    assert pgmq.CONTENT_TYPE_ATTRIBUTE is pgmq._pgmq.CONTENT_TYPE_ATTRIBUTE
    assert pgmq.JSON_CONTENT_TYPE is pgmq._pgmq.JSON_CONTENT_TYPE


async def test_a_dict_is_sent_as_compact_utf8_json_with_the_content_type_and_read_back_parsed(
    client: pgmq.Client,
) -> None:
    name = await fresh_queue(client, "json")
    value = {"resize": 42, "name": "tête 日本", "sizes": [1, 2.5], "ok": True, "none": None}

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(value) as completion:
            async with queue.receive() as stream:
                async with (await receive_within(stream)).acquire() as message:
                    body, attributes = message.body, message.attributes
                    parsed, decoded = message.json(), message.decode()
            with anyio.fail_after(FIVE_S):
                assert list((await completion()).values()) == [pgmq.Outcome.COMPLETED]

    assert body == '{"resize":42,"name":"tête 日本","sizes":[1,2.5],"ok":true,"none":null}'.encode()
    assert attributes == JSON
    assert parsed == decoded == value


async def test_every_json_value_travels_in_one_batch_beside_bytes_which_stay_unlabelled(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "json-batch")
    values: list[Any] = [{"a": {"b": [1]}}, [1, "two", None], 7, -1.5, False, None]

    async with pgmq.connect_to_queue(name, client) as queue:
        await queue.send(*values, b"raw \xff bytes", bytearray(b"[1]"))
        got = await receive_all(queue, len(values) + 2)

    assert [decoded for _, _, decoded in got[: len(values)]] == values
    compact = [json.dumps(v, separators=(",", ":")).encode() for v in values]
    assert [body for body, _, _ in got[: len(values)]] == compact
    assert all(attributes == JSON for _, attributes, _ in got[: len(values)])
    (raw_body, raw_attributes, raw), (array_body, array_attributes, array) = got[len(values) :]
    assert (raw_body, raw_attributes) == (b"raw \xff bytes", {})
    assert isinstance(raw, ValueError)  # not JSON: decode() raises, the body is there as it was sent
    assert (array_body, array_attributes, array) == (b"[1]", {}, [1])  # json() parses unlabelled bytes too


async def test_a_str_is_sent_as_its_utf8_text_unlabelled_and_its_attributes_are_kept_as_given(
    client: pgmq.Client,
) -> None:
    name = await fresh_queue(client, "text")
    text = "grüße ✓ 日本"

    async with pgmq.connect_to_queue(name, client) as queue:
        assert queue.serializer is None
        await queue.send(
            text,
            '{"n": 1}',
            pgmq.OutgoingMessage("red", attributes={"color": "red"}),
            pgmq.OutgoingMessage("plain", attributes={pgmq.CONTENT_TYPE_ATTRIBUTE: "text/plain"}),
        )
        got = await receive_all(queue, 4)

    (body, attributes, decoded), (json_text, json_attributes, parsed) = got[:2]
    assert (body, attributes) == (text.encode("utf-8"), {})
    assert isinstance(decoded, json.JSONDecodeError)  # text, not JSON: read it as message.body.decode()
    assert (json_text, json_attributes, parsed) == (b'{"n": 1}', {}, {"n": 1})  # as it was, not re-encoded
    assert got[2][:2] == (b"red", {"color": "red"})
    assert got[3][:2] == (b"plain", {pgmq.CONTENT_TYPE_ATTRIBUTE: "text/plain"})
    assert isinstance(got[3][2], pgmq.ContentTypeError)


async def test_a_str_goes_through_a_serializer_given_explicitly_even_the_json_one(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "text-json")
    serializer = pgmq.JsonSerializer()

    async with pgmq.connect_to_queue(name, client, serializer=serializer) as queue:
        assert queue.serializer is serializer
        await queue.send("text")
        got = await receive_all(queue, 1)

    assert got == [(b'"text"', JSON, "text")]


async def test_a_str_that_is_not_valid_unicode_is_refused_before_anything_is_sent(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "text-bad")

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(UnicodeEncodeError):
            await queue.send("ok", "lone \ud800 surrogate")
        assert (await queue.get_statistics()).messages == 0


async def test_attributes_given_with_a_value_are_kept_beside_the_content_type_and_can_be_filtered_on(
    client: pgmq.Client,
) -> None:
    name = await fresh_queue(client, "json-attrs")

    async with pgmq.connect_to_queue(name, client) as queue:
        await queue.send(b"not json", pgmq.OutgoingMessage({"n": 1}, attributes={"color": "red"}))
        json_only = pgmq.Attribute(pgmq.CONTENT_TYPE_ATTRIBUTE).eq(pgmq.JSON_CONTENT_TYPE)
        async with queue.receive(filter=json_only) as stream:
            async with (await receive_within(stream)).acquire() as message:
                attributes, value = message.attributes, message.json()

    assert attributes == {"color": "red", **JSON}
    assert value == {"n": 1}


async def test_a_content_type_other_than_the_serializers_given_with_a_value_is_invalid_and_nothing_is_sent(
    client: pgmq.Client,
) -> None:
    name = await fresh_queue(client, "json-ct")

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption) as refused:
            await queue.send(b"ok", pgmq.OutgoingMessage({"n": 1}, attributes={"content-type": "text/plain"}))
        await queue.send(pgmq.OutgoingMessage({"n": 2}, attributes=dict(JSON)))  # the same label is fine
        got = await receive_all(queue, 1)

    assert refused.value.code == "invalid_option" and "text/plain" in str(refused.value)
    assert got == [(b'{"n":2}', JSON, {"n": 2})]


async def test_json_of_a_message_labelled_otherwise_raises_content_type_error_and_bytes_keep_their_label(
    client: pgmq.Client,
) -> None:
    name = await fresh_queue(client, "json-other")

    async with pgmq.connect_to_queue(name, client) as queue:
        await queue.send(
            pgmq.OutgoingMessage(b'{"x": 1}', attributes={"content-type": "text/plain"}),
            pgmq.OutgoingMessage(b'{"x": 2}', attributes={"content-type": "application/cloudevents+json; charset=x"}),
            b"\xff not json",
        )
        async with queue.receive(batch_size=3) as stream:
            async with (await receive_within(stream)).acquire() as plain:
                with pytest.raises(pgmq.ContentTypeError) as wrong:
                    plain.json()
                with pytest.raises(ValueError):
                    plain.decode()
                plain_attributes = plain.attributes
            async with (await receive_within(stream)).acquire() as cloud_event:
                assert cloud_event.json() == {"x": 2}
            async with (await receive_within(stream)).acquire() as garbage:
                with pytest.raises(ValueError):
                    garbage.json()

    assert isinstance(wrong.value, ValueError)
    assert (wrong.value.content_type, wrong.value.expected) == ("text/plain", pgmq.JSON_CONTENT_TYPE)
    assert plain_attributes == {"content-type": "text/plain"}


def test_which_labels_read_as_json_is_the_cores_rule() -> None:
    readable = [None, "application/json", "Application/JSON; charset=utf-8", "application/cloudevents+json"]
    unreadable = ["text/plain", "application/octet-stream", "text/json+xml", "", "json"]

    assert [_pgmq.is_json_content_type(label) for label in readable] == [True] * len(readable)
    assert [_pgmq.is_json_content_type(label) for label in unreadable] == [False] * len(unreadable)
    assert not hasattr(_serializers, "_is_json")  # no copy of the rule in Python


async def test_a_content_type_attribute_that_is_not_a_string_labels_nothing(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "json-label")

    async with pgmq.connect_to_queue(name, client) as queue:
        await queue.send(pgmq.OutgoingMessage(b'{"x": 1}', attributes={pgmq.CONTENT_TYPE_ATTRIBUTE: 5}))
        (peeked,) = await queue.peek()
        got = await receive_all(queue, 1)

    assert peeked.json() == {"x": 1}
    assert got == [(b'{"x": 1}', {pgmq.CONTENT_TYPE_ATTRIBUTE: 5}, {"x": 1})]


async def test_values_json_cannot_hold_are_refused_before_anything_is_sent(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "json-nan")

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(ValueError):
            await queue.send({"ratio": float("nan")})
        with pytest.raises(TypeError):
            await queue.send(b"ok", {"when": object()})
        assert (await queue.get_statistics()).messages == 0


# ---- serializers ----


class Order(pydantic.BaseModel):
    id: int
    items: list[str]


class OrderSerializer:
    """The pydantic recipe of pgmq.Serializer's docstring."""

    content_type = pgmq.JSON_CONTENT_TYPE

    def dumps(self, value: Any) -> bytes:
        return Order.model_validate(value).model_dump_json().encode()

    def loads(self, data: bytes) -> Order:
        return Order.model_validate_json(data)


class Utf8Text:
    """A serializer of another content type: str as UTF-8 text."""

    content_type = "text/plain; charset=utf-8"

    def dumps(self, value: Any) -> bytes:
        return str(value).encode()

    def loads(self, data: bytes) -> str:
        return data.decode()


def test_the_pydantic_recipe_is_the_one_documented_and_satisfies_the_protocol() -> None:
    doc = pgmq.Serializer.__doc__ or ""
    for line in ["content_type = pgmq.JSON_CONTENT_TYPE", "Order.model_validate(value).model_dump_json().encode()",
                 "Order.model_validate_json(data)"]:  # fmt: skip
        assert line in doc
    assert isinstance(OrderSerializer(), pgmq.Serializer)
    assert isinstance(pgmq.JsonSerializer(), pgmq.Serializer)


async def test_a_pydantic_serializer_sends_models_that_decode_reads_back_and_json_reads_as_dicts(
    client: pgmq.Client,
) -> None:
    name = await fresh_queue(client, "json-model")
    order = Order(id=7, items=["lamp", "chair"])

    async with pgmq.connect_to_queue(name, client, serializer=OrderSerializer()) as queue:
        assert isinstance(queue.serializer, OrderSerializer)
        await queue.send(order, {"id": 8, "items": []})  # a dict is validated into an Order too
        with pytest.raises(pydantic.ValidationError):
            await queue.send({"id": "not a number", "items": []})
        async with queue.receive(batch_size=2) as stream:
            async with (await receive_within(stream)).acquire() as first:
                decoded, parsed, attributes = first.decode(), first.json(), first.attributes
            async with (await receive_within(stream)).acquire() as second:
                second_decoded = second.decode()

    assert decoded == order and isinstance(decoded, Order)
    assert second_decoded == Order(id=8, items=[])
    assert parsed == {"id": 7, "items": ["lamp", "chair"]}
    assert attributes == JSON


async def test_a_serializer_of_another_content_type_labels_its_bodies_so_json_and_other_handles_refuse_them(
    client: pgmq.Client,
) -> None:
    name = await fresh_queue(client, "json-text")

    async with pgmq.connect_to_queue(name, client, serializer=Utf8Text()) as text_queue:
        await text_queue.send("grüße", 42)
        got = await receive_all(text_queue, 2)
        await text_queue.send("again")
    async with pgmq.connect_to_queue(name, client) as json_queue:
        async with json_queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                with pytest.raises(pgmq.ContentTypeError):
                    message.decode()
                with pytest.raises(pgmq.ContentTypeError):
                    message.json()

    assert got == [
        ("grüße".encode(), {"content-type": "text/plain; charset=utf-8"}, "grüße"),
        (b"42", {"content-type": "text/plain; charset=utf-8"}, "42"),
    ]


async def test_a_serializer_must_have_a_content_type_and_return_bytes(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "json-bad")

    class ReturnsStr(Utf8Text):
        def dumps(self, value: Any) -> bytes:
            return str(value)  # type: ignore[return-value]

    class NoContentType:
        content_type = ""

        def dumps(self, value: Any) -> bytes:
            return b""

        def loads(self, data: bytes) -> Any:
            return data

    with pytest.raises(TypeError):
        pgmq.connect_to_queue(name, client, serializer=NoContentType())
    with pytest.raises(TypeError):
        pgmq.connect_to_queue(name, client, serializer=object())  # type: ignore[arg-type]
    async with pgmq.connect_to_queue(name, client, serializer=ReturnsStr()) as queue:
        with pytest.raises(TypeError):
            await queue.send("x")
        await queue.send(b"bytes never meet the serializer")
        assert (await queue.get_statistics()).messages == 1


def test_json_serializer_writes_compact_utf8_and_takes_a_default_for_unknown_types() -> None:
    from datetime import date

    assert pgmq.JsonSerializer().dumps({"a": ["é", 1]}) == '{"a":["é",1]}'.encode()
    assert pgmq.JsonSerializer(default=str).dumps({"on": date(2030, 1, 2)}) == b'{"on":"2030-01-02"}'
    assert pgmq.JsonSerializer().loads(b'{"a":1}') == {"a": 1}
    assert pgmq.JsonSerializer.content_type == pgmq.JSON_CONTENT_TYPE
