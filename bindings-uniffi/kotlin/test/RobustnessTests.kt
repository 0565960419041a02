// Hostile and out-of-range arguments, and panics: values the core cannot hold are typed
// PgmqExceptions (wrong Kotlin values for attributes an IllegalArgumentException) and write nothing;
// hostile text is stored verbatim; a panic in Rust is PgmqException.Internal (or uniffi's
// InternalException where a call cannot fail), never a crash of the JVM.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.withTimeout

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

    test("filters nest up to 100 levels: used as a filter; and / or one level more is InvalidOption") {
        assertEquals(100, MAX_FILTER_DEPTH, "MAX_FILTER_DEPTH")
        val q = newQueue("deep")
        q.send(bytes("deep"), SendOptions(attributes = attributes("a" to 1)))
        q.send(bytes("other"), SendOptions(attributes = attributes("a" to 2)))
        var chain: Filter = attr("a") eq 1
        repeat(99) { chain = chain and attr("a").exists() }
        val r = q.receiver(ReceiveOptions(batchSize = 10u, filter = chain))
        val got = withTimeout(FIVE_S) { r.nextBatch() }
        assertEquals(listOf("deep"), got.map { it.text }, "what the 100-level filter leased")
        got.forEach { it.ack() }
        r.stop()
        for ((what, build) in listOf<Pair<String, () -> Filter>>(
            "chain and x" to { chain and attr("a").exists() },
            "x or chain" to { attr("a").exists() or chain },
            "Filter.and(chain, chain)" to { Filter.and(chain, chain) },
            "Filter.or(x, chain)" to { Filter.or(attr("a").exists(), chain) },
        )) {
            val e = assertThrows<PgmqException.InvalidOption>(what) { build() }
            assertTrue("at most 100 levels" in e.reason, "$what: reason names the limit: ${e.reason}")
        }
        // The refused combinations left the chain usable.
        q.send(bytes("deep2"), SendOptions(attributes = attributes("a" to 1)))
        val again = q.receiver(ReceiveOptions(filter = chain)).nextWithin()
        assertEquals("deep2", again.text, "the chain, used again")
        again.ack()
    }

    test("a filter 10,000 levels deep with the raw Filter.and / Filter.or: InvalidOption at level 101, the JVM goes on") {
        val leaf = Filter.exists("a")
        var filter = leaf
        var level = 1
        var firstRefused = 0
        var refused = 0
        for (attempt in 2..10_000) {
            try {
                filter = if (attempt % 2 == 0) Filter.and(filter, leaf) else Filter.or(leaf, filter)
                level = attempt
            } catch (e: PgmqException.InvalidOption) {
                if (firstRefused == 0) {
                    firstRefused = attempt
                    assertTrue("at most 100 levels" in e.reason, "reason names the limit: ${e.reason}")
                    assertEquals("invalid_option", e.code, "code")
                }
                refused++
            }
        }
        assertEquals(101, firstRefused, "the level first refused")
        assertEquals(100, level, "the deepest filter built")
        assertEquals(10_000 - 100, refused, "every deeper attempt refused")
        // Still alive, and the deepest filter works.
        val q = newQueue("deepraw")
        q.send(bytes("x"), SendOptions(attributes = attributes("a" to true)))
        val m = q.receiver(ReceiveOptions(filter = filter)).nextWithin()
        assertEquals("x", m.text, "body")
        m.ack()
        System.gc() // the Cleaner drops the refused and intermediate filters (each at most 100 deep)
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
