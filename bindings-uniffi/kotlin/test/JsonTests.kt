// Bodies that are values: a Serializer (here a tiny hand-written one; no JSON library is on this
// classpath), the content-type attribute every language sets and checks, JSON text both ways.
package io.pgmq.tests

import io.pgmq.*

/** A value and its hand-written JSON serializer. */
private data class Point(val x: Long, val y: Long)

private object PointJson : Serializer<Point> {
    override val contentType = JSON_CONTENT_TYPE

    override fun encode(value: Point) = """{"x":${value.x},"y":${value.y}}""".encodeToByteArray()

    override fun decode(bytes: ByteArray): Point {
        val map = parseJson(bytes.decodeToString()) as Map<*, *>
        return Point(map["x"] as Long, map["y"] as Long)
    }
}

/** A serializer of another encoding: text with its own content type. */
private object Csv : Serializer<List<String>> {
    override val contentType = "text/csv"

    override fun encode(value: List<String>) = value.joinToString(",").encodeToByteArray()

    override fun decode(bytes: ByteArray) = bytes.decodeToString().split(",")
}

val jsonTests = suite {
    test("send(value, serializer) labels the body with the core's content type; decode() and json() read it back") {
        val q = newQueue("json")
        q.send(Point(1, -2), PointJson, SendOptions(attributes = attributes("kind" to "point")))
        val m = q.receiver().nextWithin()
        assertEquals(attributes("kind" to "point", "content-type" to "application/json"), m.attributes, "attributes")
        assertEquals(Point(1, -2), m.decode(PointJson), "decode()")
        assertEquals("""{"x":1,"y":-2}""", m.json(), "json(): the UTF-8 JSON text")
        m.ack()
    }

    test("sendJson(text), outgoing(value, serializer) in a batch, and PeekedMessage.json()") {
        val q = newQueue("jsonbatch")
        q.sendJson("""{"name":"ünïcödé ✓"}""")
        q.sendBatch(listOf(outgoing(Point(3, 4), PointJson, "n" to 1), outgoing(listOf("a", "b"), Csv)))
        val peeked = q.peek()
        assertEquals("""{"name":"ünïcödé ✓"}""", peeked[0].json(), "PeekedMessage.json()")
        assertEquals(Point(3, 4), peeked[1].decode(PointJson), "PeekedMessage.decode()")
        val r = q.receiver(ReceiveOptions(batchSize = 3u))
        val got = buildList { while (size < 3) addAll(r.nextBatch()) }
        assertEquals(mapOf("name" to "ünïcödé ✓"), parseJson(got[0].json()), "sendJson: JSON text, labelled")
        assertEquals(AttributeValue.Text(JSON_CONTENT_TYPE), got[0].attributes[CONTENT_TYPE_ATTRIBUTE], "sendJson's label")
        assertEquals(attributes("n" to 1, CONTENT_TYPE_ATTRIBUTE to JSON_CONTENT_TYPE), got[1].attributes, "outgoing(): its attributes and the label")
        assertEquals(listOf("a", "b"), got[2].decode(Csv), "another content type")
        got.forEach { it.ack() }
    }

    test("json() of a message labelled otherwise is ContentTypeException, undecoded; without a label the body is read as JSON") {
        val q = newQueue("jsonlabel")
        q.send(listOf("a", "b"), Csv)
        q.send(bytes("""[1,2]"""))
        q.send(bytes("{}"), SendOptions(attributes = attributes(CONTENT_TYPE_ATTRIBUTE to "application/vnd.api+json; charset=utf-8")))
        val r = q.receiver(ReceiveOptions(batchSize = 3u))
        val (csv, plain, vendor) = buildList { while (size < 3) addAll(r.nextBatch()) }
        val e = assertThrows<ContentTypeException>("json() of text/csv") { csv.json() }
        assertEquals(AttributeValue.Text("text/csv"), e.contentType, "the message's content type")
        assertEquals(JSON_CONTENT_TYPE, e.expected, "the one asked for")
        assertThrows<ContentTypeException>("decode(PointJson) of text/csv") { csv.decode(PointJson) }
        assertThrows<ContentTypeException>("decode(Csv) of a JSON-labelled body") { vendor.decode(Csv) }
        assertEquals("[1,2]", plain.json(), "no label: read as JSON")
        assertEquals("{}", vendor.json(), "application/<x>+json with parameters is JSON")
        listOf(csv, plain, vendor).forEach { it.ack() }
    }

    test("a value whose attributes name another content type is InvalidOption, and nothing is sent; the same one is kept") {
        val q = newQueue("jsonclash")
        val csv = SendOptions(attributes = attributes(CONTENT_TYPE_ATTRIBUTE to "text/csv", "kind" to "point"))
        val e = assertThrows<PgmqException.InvalidOption>("send(value, serializer) labelled text/csv") { q.send(Point(1, 2), PointJson, csv) }
        assertEquals("invalid_option", e.code, "its code")
        assertTrue("text/csv" in e.reason && JSON_CONTENT_TYPE in e.reason, "the reason names both content types: ${e.reason}")
        assertThrows<PgmqException.InvalidOption>("sendJson(text) labelled text/csv") { q.sendJson("{}", csv) }
        assertThrows<PgmqException.InvalidOption>("outgoing(value, serializer) labelled text/csv") {
            outgoing(Point(1, 2), PointJson, CONTENT_TYPE_ATTRIBUTE to "text/csv")
        }
        assertEquals(0uL, q.stats().messages, "nothing was sent")

        q.send(Point(5, 6), PointJson, SendOptions(attributes = attributes(CONTENT_TYPE_ATTRIBUTE to JSON_CONTENT_TYPE)))
        val m = q.receiver().nextWithin()
        assertEquals(attributes(CONTENT_TYPE_ATTRIBUTE to JSON_CONTENT_TYPE), m.attributes, "the serializer's own label, given, is kept")
        m.ack()
    }
}
