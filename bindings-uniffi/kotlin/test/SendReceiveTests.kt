// Sending (attributes, delay, scheduleAt, tracking, batches), receiving (batchSize, filters), stats,
// cancel and completion.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import java.time.Instant
import java.util.UUID

val sendReceiveTests = suite {
    test("send returns once durable; the message arrives with body, id, attempt 1, sentAt; ack completes it") {
        val q = newQueue("send")
        val before = Instant.now().minusSeconds(1)
        val sent = q.send(byteArrayOf(0, 1, 2, -1, 127))
        assertTrue(UUID.fromString(sent.id()) != null, "id is a UUID")
        val m = q.receiver().nextWithin()
        assertEquals(sent.id(), m.id, "id")
        assertEquals(listOf<Byte>(0, 1, 2, -1, 127), m.body.toList(), "binary body")
        assertEquals(1u, m.deliveryAttempt, "deliveryAttempt")
        assertEquals(null, m.lastError, "lastError")
        assertEquals(null, m.deadLetterAttempts, "deadLetterAttempts")
        assertEquals(emptyMap<String, AttributeValue>(), m.attributes, "attributes")
        assertTrue(m.sentAt >= before && m.sentAt <= Instant.now().plusSeconds(1), "sentAt ${m.sentAt} is about now")
        assertEquals(false, m.isFinished, "isFinished before ack")
        m.ack()
        assertEquals(true, m.isFinished, "isFinished after ack")
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
    }

    test("attributes of every value type round trip") {
        val q = newQueue("attrs")
        val attrs = mapOf(
            "none" to AttributeValue.Null,
            "flag" to AttributeValue.Bool(true),
            "count" to AttributeValue.Int(-42L),
            "big" to AttributeValue.Int(Long.MAX_VALUE),
            "ratio" to AttributeValue.Float(0.25),
            "name" to AttributeValue.Text("zoë \"quoted\" ✓"),
        )
        q.send(bytes("x"), SendOptions(attributes = attrs))
        val m = q.receiver().nextWithin()
        assertEquals(attrs, m.attributes, "attributes")
        m.ack()
    }

    test("sendBatch: ids in order, received in send order with their own attributes, completed() maps every id") {
        val q = newQueue("batch")
        val batch = q.sendBatch(
            listOf(
                OutgoingMessage(bytes("one"), mapOf("n" to AttributeValue.Int(1))),
                OutgoingMessage(bytes("two")),
                outgoing("three", "n" to 3, "tag" to "t"),
            ),
        )
        val ids = batch.ids()
        assertEquals(3, ids.size, "ids")
        assertEquals(ids.sorted(), ids, "time-ordered ids in send order")
        val r = q.receiver()
        val got = (1..3).map { r.nextWithin().also { m -> m.ack() } }
        assertEquals(ids, got.map { it.id }, "received ids")
        assertEquals(listOf("one", "two", "three"), got.map { it.text }, "bodies")
        assertEquals(mapOf("n" to AttributeValue.Int(1)), got[0].attributes, "first's attributes")
        assertEquals(emptyMap<String, AttributeValue>(), got[1].attributes, "second's attributes")
        assertEquals(mapOf("n" to AttributeValue.Int(3), "tag" to AttributeValue.Text("t")), got[2].attributes, "third's")
        assertEquals(ids.associateWith { Outcome.COMPLETED }, withTimeout(FIVE_S) { batch.completed() }, "outcomes")
    }

    test("delayMs: never delivered early, arrives promptly; stats count it as scheduled meanwhile") {
        val q = newQueue("delay")
        val r = q.receiver()
        val start = System.nanoTime()
        val sent = q.send(bytes("later"), SendOptions(delayMs = 800uL))
        assertEquals(1uL, q.stats().scheduled, "scheduled")
        val m = r.nextWithin()
        val waited = elapsedMs(start)
        assertEquals(sent.id(), m.id, "id")
        assertTrue(waited >= 800, "delivered after $waited ms, before the 800 ms delay")
        assertTrue(waited < 800 + 2_000, "delivered after $waited ms (delay 800 ms)")
        m.ack()
    }

    test("scheduleAt: never delivered before the instant; an instant in the past is delivered at once") {
        val q = newQueue("sched")
        val r = q.receiver()
        val at = Instant.now().plusMillis(700)
        val sent = q.send(bytes("at"), SendOptions(scheduleAt = at))
        val m = r.nextWithin()
        val now = Instant.now()
        assertEquals(sent.id(), m.id, "id")
        assertTrue(!now.isBefore(at), "delivered at $now, before $at")
        m.ack()
        val start = System.nanoTime()
        val past = q.send(bytes("past"), SendOptions(scheduleAt = Instant.now().minusSeconds(3600)))
        val p = r.nextWithin(1_000, "a message scheduled in the past")
        assertEquals(past.id(), p.id, "id")
        assertTrue(elapsedMs(start) < 1_000, "past schedule took ${elapsedMs(start)} ms")
        p.ack()
    }

    test("batchSize 3: nextBatch returns one claim of up to 3, the rest comes with the next claim") {
        val q = newQueue("bsz")
        val sent = q.sendBatch((1..5).map { OutgoingMessage(bytes("m$it")) })
        val r = q.receiver(ReceiveOptions(batchSize = 3u))
        val first = withTimeout(FIVE_S) { r.nextBatch() }
        assertEquals(3, first.size, "first claim")
        assertEquals(3uL, q.stats().leased, "leased")
        first.forEach { it.ack() }
        val second = withTimeout(FIVE_S) { r.nextBatch() }
        assertEquals(2, second.size, "second claim")
        second.forEach { it.ack() }
        assertEquals(sent.ids(), (first + second).map { it.id }, "every id once, in order")
    }

    test("batchSize 2 with next(): the rest of a claim is served from the buffer; at most batchSize held") {
        val q = newQueue("bsz2")
        q.sendBatch((1..3).map { OutgoingMessage(bytes("m$it")) })
        val r = q.receiver(ReceiveOptions(batchSize = 2u))
        val a = r.nextWithin()
        assertEquals(2uL, q.stats().leased, "one claim leased two")
        val b = r.nextWithin()
        // Both held: a third next() waits for capacity.
        val third = async { r.next() }
        delay(QUIET_MS)
        assertTrue(third.isActive, "third next() waits while batchSize messages are held")
        a.ack()
        val c = withTimeout(FIVE_S) { third.await() } ?: fail("third next() returned null")
        assertEquals(listOf("m1", "m2", "m3"), listOf(a, b, c).map { it.text }, "bodies")
        b.ack()
        c.ack()
    }

    test("filters built with attr(): each operator leases exactly the matching messages") {
        val messages = listOf(
            outgoing("red3", "color" to "red", "size" to 3),
            outgoing("blue5", "color" to "blue", "size" to 5),
            outgoing("red10", "color" to "red", "size" to 10, "rush" to true),
            outgoing("nullcolor", "color" to null, "size" to 1.5),
            outgoing("bare"),
        )
        val cases = listOf(
            attr("color") eq "red" to setOf("red3", "red10"),
            attr("color") ne "red" to setOf("blue5", "nullcolor"),
            attr("size") lt 5 to setOf("red3", "nullcolor"),
            attr("size") gt 3 to setOf("blue5", "red10"),
            attr("size") le 5 to setOf("red3", "blue5", "nullcolor"),
            attr("size") ge 5 to setOf("blue5", "red10"),
            attr("color").isNull() to setOf("nullcolor"),
            attr("color").isNotNull() to setOf("red3", "blue5", "red10"),
            attr("color") like "b%" to setOf("blue5"),
            attr("color") notLike "r%" to setOf("blue5"),
            attr("rush").exists() to setOf("red10"),
            attr("color").doesNotExist() to setOf("bare"),
            (attr("color") eq "red" and (attr("size") gt 5)) to setOf("red10"),
            (attr("color") eq "blue" or attr("color").isNull()) to setOf("blue5", "nullcolor"),
            (attr("rush") eq true or (attr("size") lt 2 and attr("color").isNull())) to setOf("red10", "nullcolor"),
            Filter.eq("size", AttributeValue.Int(3)) to setOf("red3"),
            // The raw constructors: "blue" matches %e% too, but neither has rush nor is size <= 3.0.
            Filter.and(Filter.isLike("color", "%e%"), Filter.or(Filter.exists("rush"), Filter.le("size", AttributeValue.Float(3.0)))) to
                setOf("red3", "red10"),
        )
        for ((filter, expected) in cases) {
            val q = newQueue("flt", QueueOptions(createDeadLetterQueue = false))
            q.sendBatch(messages)
            val r = q.receiver(ReceiveOptions(batchSize = 50u, filter = filter))
            val got = withTimeout(FIVE_S) { r.nextBatch() }
            assertEquals(expected, got.map { it.text }.toSet(), "filter $filter")
            r.stop()
            got.forEach { it.release() }
            client.deleteQueue(q.name())
        }
    }

    test("a filtered receiver leaves non-matching messages to others") {
        val q = newQueue("fltx")
        q.sendBatch(listOf(outgoing("blue", "color" to "blue"), outgoing("red", "color" to "red")))
        val reds = q.receiver(ReceiveOptions(filter = attr("color") eq "red"))
        val red = reds.nextWithin()
        assertEquals("red", red.text, "filtered receiver")
        red.ack()
        reds.assertNothingWithin(QUIET_MS, "no more red messages")
        val any = q.receiver().nextWithin()
        assertEquals("blue", any.text, "unfiltered receiver gets the blue one")
        any.ack()
    }

    test("stats count messages by state: ready, scheduled, leased, dead-lettered") {
        val q = newQueue("stats", QueueOptions(maxDeliveryAttempts = 1u))
        assertEquals(QueueStats(0uL, 0uL, 0uL, 0uL, 0uL), q.stats(), "empty")
        q.sendBatch(listOf(OutgoingMessage(bytes("a")), OutgoingMessage(bytes("b")), OutgoingMessage(bytes("c"))))
        q.send(bytes("later"), SendOptions(delayMs = 60_000uL))
        assertEquals(QueueStats(4uL, 3uL, 1uL, 0uL, 0uL), q.stats(), "3 ready, 1 scheduled")
        val r = q.receiver()
        val a = r.nextWithin()
        assertEquals(QueueStats(4uL, 2uL, 1uL, 1uL, 0uL), q.stats(), "1 leased")
        a.nack(error = "x")
        eventually("one dead-lettered") { q.stats() == QueueStats(3uL, 2uL, 1uL, 0uL, 1uL) }
        r.nextWithin().ack()
        assertEquals(QueueStats(2uL, 1uL, 1uL, 0uL, 1uL), q.stats(), "after one ack")
    }

    test("cancel of a queued and of a scheduled message: CANCELLED, never delivered; unknown ids are not returned") {
        val q = newQueue("cancelq")
        val queued = q.send(bytes("queued"))
        val scheduled = q.send(bytes("scheduled"), SendOptions(delayMs = 300uL))
        val unknown = UUID.randomUUID().toString()
        val found = q.cancel(listOf(queued.id(), scheduled.id(), unknown))
        assertEquals(setOf(queued.id(), scheduled.id()), found.toSet(), "cancel returns the ids found")
        assertEquals(Outcome.CANCELLED, withTimeout(FIVE_S) { queued.completed() }, "queued outcome")
        assertEquals(Outcome.CANCELLED, withTimeout(FIVE_S) { scheduled.completed() }, "scheduled outcome")
        q.receiver().assertNothingWithin(600, "cancelled messages")
        assertEquals(0uL, q.stats().messages, "no message left")
        assertEquals(emptyList<String>(), q.cancel(listOf(queued.id())), "cancelling again finds nothing")
    }

    test("cancel of a held message: cancelled() returns true promptly, ack succeeds and changes nothing, CANCELLED") {
        val q = newQueue("cancelh")
        val sent = q.send(bytes("held"))
        val r = q.receiver()
        val m = r.nextWithin()
        assertEquals(false, m.isCancelled, "isCancelled before cancel")
        val waiter = async(Dispatchers.Default) { m.awaitCancelled() to System.nanoTime() }
        val start = System.nanoTime()
        assertEquals(listOf(sent.id()), q.cancel(listOf(sent.id())), "cancel finds the held message")
        val (cancelled, at) = withTimeout(FIVE_S) { waiter.await() }
        val latency = (at - start) / 1_000_000
        println("    cancelled() returned $latency ms after cancel()")
        assertEquals(true, cancelled, "cancelled()")
        assertTrue(latency < 1_000, "cancelled() took $latency ms")
        assertEquals(true, m.isCancelled, "isCancelled")
        m.ack()
        assertEquals(Outcome.CANCELLED, withTimeout(FIVE_S) { sent.completed() }, "outcome stays CANCELLED")
        q.receiver().assertNothingWithin(QUIET_MS, "a cancelled message")
        assertEquals(0uL, q.stats().messages, "no message left")
    }

    test("cancelled() returns false once the message is acked, and at once when already finished") {
        val q = newQueue("cancelf")
        q.send(bytes("x"))
        val m = q.receiver().nextWithin()
        val waiter = async(Dispatchers.Default) { m.awaitCancelled() }
        m.ack()
        assertEquals(false, withTimeout(FIVE_S) { waiter.await() }, "cancelled() after ack")
        assertEquals(false, withTimeout(FIVE_S) { m.awaitCancelled() }, "cancelled() of a finished message")
    }

    test("cancelled() pending while the message is released: returns false, and the release takes effect") {
        // Lease.cancelled() documents: false once finished or released. A release while a cancelled()
        // call is pending must hand the message back at once, as it does without the waiter.
        val q = newQueue("cancelrel")
        val sent = q.send(bytes("x"))
        val m = q.receiver().nextWithin()
        val waiter = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) { m.awaitCancelled() }
        delay(100) // the waiter is inside cancelled()
        m.release()
        val result = withTimeoutOrNull(3_000) { waiter.await() }
        // The release itself is handed to the core's committer: wait for it (bounded) over stats().
        val released = runCatching { eventually("leased == 0 after release()", 3_000) { q.stats().leased == 0uL } }
        val redelivered = withTimeoutOrNull(2_000) { q.receiver().next() }
        waiter.cancel()
        redelivered?.ack()
        assertEquals(false, result, "cancelled() after release() (null: still pending after 3 s)")
        assertEquals(true, released.isSuccess, "stats().leased back to 0 within 3 s of release() with a cancelled() waiter")
        assertEquals(sent.id(), redelivered?.id, "the released message to another receiver within 2 s")
    }

    test("a receiver of a queue that does not exist yet delivers once it is created") {
        val name = unique("later")
        deleteAfter(name)
        val q = client.queue(name)
        val pending = async(Dispatchers.Default) { q.receiver().next() }
        delay(100)
        assertTrue(client.createQueue(name, QueueOptions()), "createQueue")
        val sent = q.send(bytes("first"))
        val m = withTimeout(FIVE_S) { pending.await() } ?: fail("null")
        assertEquals(sent.id(), m.id, "id")
        m.ack()
    }

    test("a waiting receiver gets a new message within 100 ms (median of 5)") {
        val q = newQueue("wake")
        val r = q.receiver()
        val samples = mutableListOf<Long>()
        repeat(5) {
            val pending = async(Dispatchers.Default) { r.next() }
            delay(50) // the receiver is idle, waiting
            val start = System.nanoTime()
            q.send(bytes("ping"))
            val m = withTimeout(FIVE_S) { pending.await() } ?: fail("null")
            samples += elapsedMs(start)
            m.ack()
        }
        println("    send -> next() latencies (ms): $samples")
        assertTrue(median(samples) < 100, "median ${median(samples)} ms")
    }

    test("a 1 MiB binary body and an empty body round trip") {
        val q = newQueue("big")
        val big = ByteArray(1 shl 20) { (it * 31 + 7).toByte() }
        q.sendBatch(listOf(OutgoingMessage(big), OutgoingMessage(ByteArray(0))))
        val r = q.receiver()
        val m = r.nextWithin()
        assertTrue(big.contentEquals(m.body), "1 MiB body intact")
        m.ack()
        val e = r.nextWithin()
        assertEquals(0, e.body.size, "empty body")
        e.ack()
    }

    test("completed() awaited twice concurrently: both get the outcome") {
        val q = newQueue("twice")
        val sent = q.send(bytes("x"))
        val w1 = async(Dispatchers.Default) { sent.completed() }
        val w2 = async(Dispatchers.Default) { sent.completed() }
        q.receiver().nextWithin().ack()
        assertEquals(listOf(Outcome.COMPLETED, Outcome.COMPLETED), withTimeout(FIVE_S) { listOf(w1.await(), w2.await()) }, "outcomes")
    }

    test("waitForCompletion reports outcomes finished earlier and later") {
        val q = newQueue("wfc")
        val batch = q.sendBatch(listOf(OutgoingMessage(bytes("early")), OutgoingMessage(bytes("late"))))
        val (early, late) = batch.ids()
        val r = q.receiver()
        r.nextWithin().ack()
        val waiting = async(Dispatchers.Default) { q.waitForCompletion(listOf(early, late)) }
        val m = r.nextWithin()
        assertEquals(late, m.id, "second message")
        m.ack()
        assertEquals(mapOf(early to Outcome.COMPLETED, late to Outcome.COMPLETED), withTimeout(FIVE_S) { waiting.await() }, "outcomes")
        assertEquals(mapOf(early to Outcome.COMPLETED), withTimeout(1_000) { q.waitForCompletion(listOf(early)) }, "finished earlier: at once")
    }
}
