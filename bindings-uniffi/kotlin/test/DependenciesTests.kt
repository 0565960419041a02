// Dependencies between messages: a diamond across two queues runs its last message once, after both
// middles; a failed first entry of an in-batch chain cancels the rest with reasons; cancelling a waiting
// message cancels what depends on it; a completed dependency counts as met; peek shows WAITING; bad
// dependencies are refused with InvalidOption, nothing written; the Kotlin side's options and printing.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import java.time.Instant
import java.util.UUID
import kotlin.time.Duration.Companion.hours
import kotlin.time.Duration.Companion.seconds

private fun after(vararg ids: String) = sendOptions(dependsOn = ids.toList())

/** When a waiting message reads as available: it has no time yet. */
private val NEVER: Instant = Instant.parse("9999-12-31T23:59:59Z")

/** Claims the next message of [queue], which must come within 5 s, on a receiver of its own. */
private suspend fun take(queue: Queue): Message {
    val receiver = queue.receiver()
    try {
        return receiver.nextWithin()
    } finally {
        receiver.stop()
    }
}

val dependenciesTests = suite {
    test("dependencies: a diamond across two queues runs its last message once, after both middles") {
        // Arrange: A in q1; B and C in q2 depend on A; D in q1 depends on B and C.
        val q1 = newQueue("dep-diamond-1")
        val q2 = newQueue("dep-diamond-2")
        val a = q1.send("A")
        val middle = q2.sendBatch(listOf(outgoing("B"), outgoing("C")), after(a.id()))
        val d = q1.send("D", sendOptions(dependsOn = middle.ids()))

        // Assert: only A is claimable.
        assertEquals(QueueStats(2u, 0u, 2u, 0u, 0u), q2.stats(), "B and C wait (counted as scheduled)")
        assertEquals(1uL, q1.stats().ready, "only A is ready in q1")
        assertEquals(middle.ids(), q2.peek(PeekOptions(state = MessageState.WAITING)).map { it.id }, "q2 waiting")
        val first = take(q1)
        assertEquals("A", first.text, "the first message claimed")
        first.ack()

        // Act: B and C become ready once A has completed; D only after both.
        val receiver = q2.receiver(receiveOptions(batchSize = 2u))
        val middles = mutableListOf<Message>()
        while (middles.size < 2) middles += withTimeout(FIVE_S) { receiver.nextBatch() }
        receiver.stop()
        assertEquals(setOf("B", "C"), middles.map { it.text }.toSet(), "the middle messages")
        middles[0].ack()
        assertEquals(0uL, q1.stats().ready, "D still waits for the other middle message")
        middles[1].ack()
        val last = take(q1)
        assertEquals(d.id(), last.id, "D comes last")
        assertEquals(1u, last.deliveryAttempt, "D is delivered once")
        last.ack()

        // Assert: every outcome completed, nothing left in the queues.
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { d.completed() }, "D")
        assertEquals(setOf(Outcome.COMPLETED), middle.completed().values.toSet(), "B and C")
        assertEquals(Outcome.COMPLETED, a.completed(), "A")
        assertEquals(0uL, q1.stats().messages + q2.stats().messages, "messages left in the two queues")
    }

    test("dependencies: a failed first entry of an in-batch chain cancels the rest, each with its reason") {
        // Arrange: A <- B <- C in one batch, one attempt each.
        val q = newQueue("dep-chain", queueOptions(maxDeliveryAttempts = 1u))
        val chain = listOf(
            outgoing("A"),
            OutgoingMessage(bytes("B"), emptyMap(), after = listOf(0)),
            outgoing("C", after = listOf(1)),
        )
        val sent = q.sendBatch(chain)
        val (a, b, c) = sent.ids()

        // Act: A fails on its only attempt, and is dead-lettered.
        val m = take(q)
        assertEquals(a, m.id, "A is the only claimable message")
        m.nack(error = "boom")

        // Assert
        val replies = withTimeout(FIVE_S) { sent.replies() }
        assertEquals(Reply(Outcome.DEAD_LETTERED, null, null, null), replies[a], "A's reply")
        assertEquals(Reply(Outcome.CANCELLED, null, null, "dependency $a was dead_lettered"), replies[b], "B's reply")
        assertEquals(Reply(Outcome.CANCELLED, null, null, "dependency $b was cancelled"), replies[c], "C's reply")
        assertEquals(0uL, q.stats().messages, "messages left in the queue")
    }

    test("dependencies: cancelling a waiting message cancels what depends on it; completing the first releases nothing") {
        val q = newQueue("dep-cancel")
        val sent = q.sendBatch(listOf(outgoing("A"), outgoing("B", after = listOf(0)), outgoing("C", after = listOf(0, 1))))
        val (a, b, c) = sent.ids()

        assertEquals(listOf(b), q.cancel(listOf(b)), "B is found while it waits")
        take(q).ack()

        val replies = withTimeout(FIVE_S) { sent.replies() }
        assertEquals(Outcome.COMPLETED, replies.getValue(a).outcome, "A")
        assertEquals(Reply(Outcome.CANCELLED, null, null, null), replies[b], "B: cancelled by the caller, no reason")
        assertEquals("dependency $b was cancelled", replies.getValue(c).reason, "C's reason")
        assertEquals(0uL, q.stats().messages, "messages left in the queue")
    }

    test("dependencies: a completed dependency counts as met; a released message still keeps its delay") {
        val q = newQueue("dep-done")
        val done = q.send("done")
        take(q).ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { done.completed() }, "the dependency")
        val now = q.send("now", after(done.id()))
        assertEquals(now.id(), take(q).also { it.ack() }.id, "available at once")

        val open = q.send("open")
        val later = q.send("later", sendOptions(delay = 1.hours, dependsOn = listOf(open.id())))
        take(q).ack()
        assertEquals(QueueStats(1u, 0u, 1u, 0u, 0u), q.stats(), "the dependent is released, as scheduled")
        assertEquals(listOf(later.id() to MessageState.SCHEDULED), q.peek().map { it.id to it.state }, "peek")
    }

    test("dependencies: peek shows a waiting message in state WAITING, available at 9999-12-31T23:59:59Z") {
        val q = newQueue("dep-peek")
        val first = q.send("first")
        val waiting = q.send("waiting", after(first.id()))

        val peeked = q.peek(PeekOptions(state = MessageState.WAITING))
        assertEquals(listOf(waiting.id()), peeked.map { it.id }, "state = WAITING")
        assertEquals(MessageState.WAITING, peeked[0].state, "its state")
        assertEquals(NEVER, peeked[0].availableAt, "its availableAt")
        assertEquals(listOf(MessageState.READY, MessageState.WAITING), q.peek().map { it.state }, "every state, in claim order")
        assertEquals(QueueStats(2u, 1u, 1u, 0u, 0u), q.stats(), "stats counts it as scheduled")
    }

    test("dependencies: bad dependencies are InvalidOption and write nothing") {
        val q = newQueue("dep-refuse")
        val untracked = q.send("u", sendOptions(track = false)).id()
        val cancelled = q.send("c").id()
        q.cancel(listOf(cancelled))
        val tracked = q.send("t").id()
        val before = q.stats().messages

        suspend fun refused(needle: String, send: suspend () -> Unit) {
            val e = assertThrows<PgmqException.InvalidOption>(needle) { send() }
            assertEquals("invalid_option", e.code, "$needle: code")
            assertTrue(needle in e.reason, "$needle: the reason says why: ${e.reason}")
        }
        refused("is unknown") { q.send("x", after(UUID.randomUUID().toString())) }
        refused("is not tracked") { q.send("x", after(untracked)) }
        refused("has already finished as cancelled") { q.send("x", after(cancelled)) }
        refused("entry 0 cannot depend on entry 1: only on an earlier entry of the same send") {
            q.sendBatch(listOf(outgoing("0", after = listOf(1)), outgoing("1")))
        }
        refused("entry 0 cannot depend on entry 0") { q.sendBatch(listOf(outgoing("0", after = listOf(0)))) }
        refused("drop track = false") { q.send("x", sendOptions(track = false, dependsOn = listOf(tracked))) }
        val tooMany = (0..DEFAULTS.limits.maxDependencies.toInt()).map { UUID.randomUUID().toString() }
        refused("at most ${DEFAULTS.limits.maxDependencies} per message") { q.send("x", sendOptions(dependsOn = tooMany)) }
        // Refused by this binding before the core: an id that is not a UUID, a negative position.
        refused("\"job-1\" is not a message id (a UUID)") { q.sendBatch(listOf(outgoing("x")), after("job-1")) }
        refused("entry 1 cannot depend on entry -1: only on an earlier entry") {
            q.sendBatch(listOf(outgoing("0"), outgoing("1", after = listOf(-1))))
        }
        // A request is a send of one: it has no earlier entry to wait for.
        refused("entry 0 cannot depend on entry 0") { q.request(outgoing("x", after = listOf(0)), 1.seconds) }

        assertEquals(before, q.stats().messages, "nothing was written")
    }

    test("dependencies: the Kotlin options and printing (dependsOn, after, Reply.reason, toString)") {
        assertEquals(emptyList<String>(), SendOptions().dependsOn, "SendOptions(): no dependencies")
        assertEquals(SendOptions(dependsOn = listOf("a")), sendOptions(dependsOn = listOf("a")), "sendOptions(dependsOn)")
        assertEquals(emptyList<Int>(), OutgoingMessage(bytes("x")).after, "OutgoingMessage(body): no dependencies")
        assertEquals(listOf(0, 2), outgoing("x", "k" to 1, after = listOf(0, 2)).after, "outgoing(..., after)")
        assertEquals(listOf(1), outgoing("{}", JsonText, after = listOf(1)).after, "outgoing(value, serializer, after)")
        assertEquals(null, Reply(Outcome.COMPLETED, null, null).reason, "Reply(): no reason")
        val id = "0193c5a8-0000-7000-8000-000000000000"
        assertEquals(
            "Reply(outcome=cancelled, result=null, contentType=null, reason=dependency $id was expired)",
            Reply(Outcome.CANCELLED, null, null, "dependency $id was expired").toString(),
            "toString() shows the reason",
        )
    }
}
