// The operations the core gained for operators and the parity table: peek, purge, listQueues(WithStats),
// schemaVersion, redrive, a queue's backoff, completion handles by id, a message's queue, lease token and
// lost lease, and the name checks.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*

val operatorTests = suite {
    test("peek reads messages without leasing them: every state, in claim order, with limit, state and filter") {
        val q = newQueue("peek")
        val ready = q.sendBatch(listOf(outgoing("a", "color" to "red"), outgoing("b", "color" to "blue")))
        val later = q.send(bytes("later"), SendOptions(delayMs = 3_600_000uL))
        val held = q.receiver().nextWithin() // "a", leased now
        val all = q.peek()
        assertEquals(listOf(ready.ids()[1], held.id, later.id()), all.map { it.id }, "ready first, then by when they fall due")
        assertEquals(listOf(MessageState.READY, MessageState.LEASED, MessageState.SCHEDULED), all.map { it.state }, "states")
        val b = all[0]
        assertEquals(q.name(), b.queue, "queue")
        assertEquals("b", b.body.decodeToString(), "body")
        assertEquals(attributes("color" to "blue"), b.attributes, "attributes")
        assertEquals(0u, b.deliveryAttempts, "never delivered")
        assertEquals(1u, all[1].deliveryAttempts, "the held one, once")
        assertEquals(1uL, q.stats().leased, "peek leased nothing more")
        assertEquals(listOf(later.id()), q.peek(PeekOptions(state = MessageState.SCHEDULED)).map { it.id }, "state = SCHEDULED")
        assertEquals(listOf(held.id), q.peek(PeekOptions(filter = attr("color") eq "red")).map { it.id }, "filter")
        assertEquals(1, q.peek(PeekOptions(limit = 1u)).size, "limit")
        held.ack()
    }

    test("peek of a DLQ shows why each message is there; peek of an unknown queue is QueueNotFound; limit 0 is InvalidOption") {
        val q = newQueue("peekdlq", QueueOptions(maxDeliveryAttempts = 1u))
        val sent = q.send("poison")
        q.receiver().nextWithin().nack(error = "cannot parse")
        val dead = client.queue(dlqName(q.name()))
        var peeked = emptyList<PeekedMessage>()
        eventually("the message is in the DLQ") { peeked = dead.peek(); peeked.isNotEmpty() }
        assertEquals(listOf(sent.id()), peeked.map { it.id }, "in the DLQ")
        assertEquals("cannot parse", peeked[0].lastError, "lastError")
        assertEquals(1u, peeked[0].deadLetterAttempts, "deadLetterAttempts")
        assertThrows<PgmqException.QueueNotFound>("peek of an unknown queue") { client.queue(unique("nope")).peek() }
        assertThrows<PgmqException.InvalidOption>("limit 0") { q.peek(PeekOptions(limit = 0u)) }
    }

    test("purge deletes what no worker holds and returns how many; their outcome is CANCELLED; a held message stays") {
        val q = newQueue("purge")
        val held = q.send("held")
        val m = q.receiver().nextWithin()
        assertEquals(held.id(), m.id, "the first one is held")
        val waiting = q.sendBatch(listOf(outgoing("a"), outgoing("b")))
        val scheduled = q.send(bytes("s"), SendOptions(delayMs = 3_600_000uL))
        assertEquals(3uL, q.purge(), "ready and scheduled ones")
        assertEquals(
            (waiting.ids() + scheduled.id()).associateWith { Outcome.CANCELLED },
            withTimeout(FIVE_S) { q.waitForCompletion(waiting.ids() + scheduled.id()) },
            "outcomes",
        )
        assertEquals(QueueStats(messages = 1uL, ready = 0uL, scheduled = 0uL, leased = 1uL, deadLettered = 0uL), q.stats(), "the held one stays")
        m.ack()
        assertEquals(0uL, q.purge(), "nothing left")
        assertThrows<PgmqException.QueueNotFound>("purge of an unknown queue") { client.queue(unique("nope")).purge() }
    }

    test("listQueues and listQueuesWithStats: settings with the backoff, DLQs, counts and the oldest ready age") {
        val policy = Backoff(baseMs = 2_000uL, factor = 3.0, maxMs = 60_000uL, jitter = false)
        val q = newQueue("list", QueueOptions(ackDeadlineMs = 20_000uL, maxDeliveryAttempts = 4u, backoff = policy))
        q.sendBatch(listOf(outgoing("a"), outgoing("b")))
        val info = client.listQueues().associateBy { it.name }
        val mine = info[q.name()] ?: fail("listQueues lacks ${q.name()}")
        assertEquals(
            QueueInfo(q.name(), 20_000uL, 4u, DEFAULTS.queue.retentionPeriodMs, dlqName(q.name()), policy),
            mine,
            "its settings",
        )
        assertEquals(kotlin.time.Duration.parse("20s"), mine.ackDeadline, "ackDeadline as a Duration")
        assertTrue(dlqName(q.name()) in info, "its DLQ is listed too")
        val overview = client.listQueuesWithStats().first { it.info.name == q.name() }
        assertEquals(mine, overview.info, "the same settings")
        assertEquals(QueueStats(messages = 2uL, ready = 2uL, scheduled = 0uL, leased = 0uL, deadLettered = 0uL), overview.stats, "counts")
        assertTrue(overview.oldestReadyAge != null, "a ready message has an age")
        val dlq = client.listQueuesWithStats().first { it.info.name == dlqName(q.name()) }
        assertEquals(null, dlq.oldestReadyAgeMs, "nothing ready in the DLQ")
    }

    test("schemaVersion is the version migrate returned") {
        assertEquals(client.migrate(), client.schemaVersion(), "schemaVersion()")
    }

    test("redrive moves a DLQ's messages back as fresh ones: same id, body and attributes, attempts reset") {
        val q = newQueue("redrive", QueueOptions(maxDeliveryAttempts = 1u))
        val sent = q.send(bytes("retry me"), SendOptions(attributes = attributes("k" to 1)))
        q.receiver().nextWithin().nack(error = "down")
        val dlq = dlqName(q.name())
        eventually("dead-lettered") { client.queue(dlq).stats().messages == 1uL }
        assertEquals(1uL, client.redrive(dlq, q.name()), "moved")
        val m = q.receiver().nextWithin()
        assertEquals(listOf(sent.id(), "retry me", 1u), listOf(m.id, m.text, m.deliveryAttempt), "the same message, fresh")
        assertEquals(attributes("k" to 1), m.attributes, "attributes")
        m.ack()
        assertThrows<PgmqException.QueueNotFound>("redrive from an unknown queue") { client.redrive(unique("nope"), q.name()) }
    }

    test("a queue's backoff delays a nack that gives no delay") {
        val q = newQueue("backoff", QueueOptions(backoff = Backoff(baseMs = 300uL, factor = 2.0, maxMs = 1_000uL, jitter = false)))
        q.send("x")
        val r = q.receiver()
        val first = r.nextWithin()
        val nacked = System.nanoTime()
        first.nack()
        val again = r.nextWithin()
        assertTrue(elapsedMs(nacked) >= 290, "redelivered after the backoff's 300 ms, not at once (${elapsedMs(nacked)} ms)")
        assertEquals(2u, again.deliveryAttempt, "attempt 2")
        again.ack()
        assertThrows<PgmqException.InvalidOption>("factor < 1") {
            client.createQueue(unique("badbackoff"), QueueOptions(backoff = Backoff(factor = 0.5)))
        }
    }

    test("a message carries its queue and a lease token of its delivery; isLeaseLost once its queue is deleted") {
        val name = newQueue("token", QueueOptions(ackDeadlineMs = 1_000uL)).name()
        val q = client.queue(name)
        q.send("x")
        val r = q.receiver()
        val first = r.nextWithin()
        assertEquals(name, first.queue, "queue")
        first.release()
        val second = r.nextWithin()
        assertTrue(first.leaseToken != second.leaseToken, "each delivery has its own token")
        assertEquals(java.util.UUID.fromString(second.leaseToken).toString(), second.leaseToken, "a UUID")
        assertTrue(!second.isLeaseLost, "not lost while held")
        client.deleteQueue(name)
        // The heartbeat (every third of the 1 s ack deadline) finds the row gone: no event to wait on.
        eventually("isLeaseLost after the queue was deleted") { second.isLeaseLost }
        assertThrows<PgmqException.LeaseLost>("ack of a lost lease") { second.ack() }
    }

    test("completion(ids) waits for messages sent earlier; isTracked tells tracked sends apart") {
        val q = newQueue("completion")
        val tracked = q.send("t")
        val untracked = q.sendBatch(listOf(outgoing("u")), SendOptions(track = false))
        assertTrue(tracked.isTracked(), "tracked by default")
        assertTrue(!untracked.isTracked(), "track = false")
        val handle = q.completion(listOf(tracked.id()))
        assertEquals(listOf(tracked.id()), handle.ids(), "ids")
        val r = q.receiver()
        repeat(2) { r.nextWithin().ack() }
        assertEquals(mapOf(tracked.id() to Outcome.COMPLETED), withTimeout(FIVE_S) { handle.completed() }, "outcome")
        assertThrows<PgmqException.NotTracked>("completed() of an untracked batch") { untracked.completed() }
        assertThrows<PgmqException.InvalidOption>("a poll interval of 0") { tracked.completed(pollIntervalMs = 0uL) }
    }

    test("validateQueueName, validateNewQueueName and validateSchemaName check names as the calls do") {
        validateQueueName("jobs")
        validateQueueName(dlqName("jobs"))
        validateNewQueueName("jobs")
        validateSchemaName("pgmq_app")
        assertThrows<PgmqException.InvalidQueueName>("a space") { validateQueueName("no spaces") }
        assertThrows<PgmqException.InvalidQueueName>("too long") { validateQueueName("x".repeat(DEFAULTS.limits.maxQueueNameLen.toInt() + 1)) }
        assertThrows<PgmqException.InvalidQueueName>("dlq@ on create") { validateNewQueueName(dlqName("jobs")) }
        assertThrows<PgmqException.InvalidOption>("an upper-case schema") { validateSchemaName("Pgmq") }
    }
}

