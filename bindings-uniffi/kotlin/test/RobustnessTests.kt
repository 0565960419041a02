// Hostile and out-of-range arguments, and panics: values the core cannot hold are typed
// PgmqExceptions (wrong Kotlin values for attributes an IllegalArgumentException) and write nothing;
// hostile text is stored verbatim; a panic in Rust is PgmqException.Internal (or uniffi's
// InternalException where a call cannot fail), never a crash of the JVM.
package io.pgmq.tests

import io.pgmq.*

private val HOSTILE = listOf("x'); DROP TABLE pgmq.messages; --", "'", "\"", ";", "$$", "\$1", "--", "/*", "\\\\", "é 中文 🎉", "")

val robustnessTests = suite {
    test("out-of-range queue options are InvalidOption and create nothing") {
        val name = unique("range")
        deleteAfter(name)
        val cases = listOf(
            "ackDeadlineMs = ULong.MAX" to QueueOptions(ackDeadlineMs = ULong.MAX_VALUE),
            "retentionPeriodMs = ULong.MAX" to QueueOptions(retentionPeriodMs = ULong.MAX_VALUE),
            "retentionPeriodMs beyond 100 years" to QueueOptions(retentionPeriodMs = 4_000_000_000_000uL),
            "maxDeliveryAttempts = UInt.MAX" to QueueOptions(maxDeliveryAttempts = UInt.MAX_VALUE),
            "maxDeliveryAttempts = 2^31" to QueueOptions(maxDeliveryAttempts = 2_147_483_648u),
            "DLQ retentionPeriodMs = 0" to QueueOptions(deadLetterQueue = DeadLetterQueueOptions(retentionPeriodMs = 0uL)),
            "DLQ maxDeliveryAttempts = UInt.MAX" to QueueOptions(deadLetterQueue = DeadLetterQueueOptions(maxDeliveryAttempts = UInt.MAX_VALUE)),
        )
        for ((what, options) in cases) {
            val e = assertThrows<PgmqException.InvalidOption>(what) { client.createQueue(name, options) }
            assertEquals("invalid_option", e.code, what)
        }
        assertThrows<PgmqException.QueueNotFound>("nothing was created") { client.queue(name).stats() }
    }

    test("out-of-range sends, receives, nacks and extends are InvalidOption; nothing is written") {
        val q = newQueue("range2")
        assertThrows<PgmqException.InvalidOption>("batchSize = UInt.MAX") { q.receiver(ReceiveOptions(batchSize = UInt.MAX_VALUE)) }
        assertThrows<PgmqException.InvalidOption>("batchSize = 100001") { q.receiver(ReceiveOptions(batchSize = 100_001u)) }
        assertThrows<PgmqException.InvalidOption>("delayMs = ULong.MAX") { q.send(bytes("x"), SendOptions(delayMs = ULong.MAX_VALUE)) }
        assertThrows<PgmqException.InvalidOption>("+Infinity attribute") {
            q.send(bytes("x"), SendOptions(attributes = mapOf("f" to AttributeValue.Float(Double.POSITIVE_INFINITY))))
        }
        assertThrows<PgmqException.InvalidOption>("NUL in a key") { q.send(bytes("x"), SendOptions(attributes = attributes("a\u0000" to 1))) }
        assertThrows<PgmqException.InvalidOption>("NUL in a value") { q.send(bytes("x"), SendOptions(attributes = attributes("a" to "\u0000"))) }
        assertThrows<PgmqException.InvalidOption>("batch with one bad message") {
            q.sendBatch(listOf(outgoing("ok"), outgoing("bad", "f" to Double.NaN)))
        }
        assertEquals(0uL, q.stats().messages, "nothing was written")
        assertThrows<IllegalArgumentException>("a list as attribute value") { attributeValue(listOf(1)) }
        assertThrows<IllegalArgumentException>("a ByteArray as attribute value") { attributes("k" to bytes("x")) }

        q.send(bytes("held"))
        val m = q.receiver().nextWithin()
        assertThrows<PgmqException.InvalidOption>("nack delayMs = ULong.MAX") { m.nack(delayMs = ULong.MAX_VALUE) }
        assertThrows<PgmqException.InvalidOption>("extend ULong.MAX") { m.extend(ULong.MAX_VALUE) }
        assertTrue(!m.isFinished, "the refused nack left the message held")
        m.ack()
    }

    test("unusable filters are InvalidOption from receiver(): NaN, NUL, a LIKE pattern ending in a lone escape") {
        val q = newQueue("badfilter")
        val filters = listOf(
            "NaN" to (attr("f") eq Double.NaN),
            "-Infinity" to (attr("f") lt Double.NEGATIVE_INFINITY),
            "NUL key" to attr("k\u0000").exists(),
            "NUL pattern" to (attr("k") like "a\u0000%"),
            "lone escape" to (attr("k") notLike "abc\\"),
        )
        for ((what, f) in filters) {
            assertThrows<PgmqException.InvalidOption>(what) { q.receiver(ReceiveOptions(filter = attr("ok").exists() or f)) }
        }
    }

    test("filters nest up to 100 levels (deeper: InvalidOption, or IllegalArgumentException from and/or)") {
        val q = newQueue("deep")
        q.send(bytes("deep"), SendOptions(attributes = attributes("a" to 1)))
        var chain: Filter = attr("a") eq 1
        repeat(99) { chain = chain and attr("a").exists() }
        val m = q.receiver(ReceiveOptions(filter = chain)).nextWithin()
        assertEquals("deep", m.text, "body")
        m.ack()
        assertThrows<IllegalArgumentException>("and() past 100 levels") { chain and attr("a").exists() }
        assertThrows<IllegalArgumentException>("or() past 100 levels") { attr("a").exists() or chain }
        // Built with the generated constructors, a filter skips that check: the core refuses it.
        val raw = Filter.And(chain, attr("a").exists())
        assertThrows<PgmqException.InvalidOption>("101 levels") { q.receiver(ReceiveOptions(filter = raw)) }
    }

    test("names, keys, values and filters with quotes, \$\$ and unicode: refused, or stored verbatim") {
        for (bad in listOf("q'; DROP TABLE pgmq.queues; --", "\$\$", "a\u0000b", "é", "x".repeat(49))) {
            assertThrows<PgmqException.InvalidQueueName>("createQueue(${bad.take(20)})") { client.createQueue(bad, QueueOptions()) }
        }
        val q = newQueue("hostile")
        for (text in HOSTILE) {
            val attrs = attributes(text to text, "k" to text, "n" to 4.611686018427388e18, "i" to Long.MIN_VALUE)
            q.sendBatch(listOf(outgoing("plain"), OutgoingMessage(bytes(text), attrs)))
            val f = (attr(text) eq text) and (attr("k") like text.replace("\\", "\\\\"))
            val m = q.receiver(ReceiveOptions(filter = f)).nextWithin(what = "the hostile message")
            m.ack()
            assertEquals(text, m.text, "body")
            assertEquals(attrs, m.attributes, "attributes of ${text.take(20)}")
            val plain = q.receiver().nextWithin(what = "the plain message")
            plain.ack()
            assertEquals("plain", plain.text, "plain body")
        }
        assertEquals(0uL, q.stats().messages, "all consumed")
    }

    test("a panic is PgmqException.Internal (or uniffi's InternalException), and the JVM goes on") {
        repeat(3) {
            val e = assertThrows<PgmqException.Internal>("guarded panic") { panicForTests(true) }
            assertEquals("internal", e.code, "code")
            assertTrue("test hook" in e.reason, "reason: ${e.reason}")
            val u = assertThrows<InternalException>("panic uniffi catches") { panicForTests(false) }
            assertTrue("test hook" in (u.message ?: ""), "message: ${u.message}")
            val a = assertThrows<PgmqException.Internal>("panic in a task") { panicForTestsAsync() }
            assertEquals("internal", a.code, "async code")
        }
        val q = newQueue("afterpanic")
        val sent = q.send(bytes("still works"))
        q.receiver().nextWithin().ack()
        assertEquals(Outcome.COMPLETED, sent.completed(), "outcome")
    }
}
