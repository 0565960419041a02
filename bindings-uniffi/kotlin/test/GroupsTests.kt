// Job groups: messages sent with SendOptions(group) in two queues, counted per queue and across queues;
// cancelled in one queue, then everywhere; a held member's holder signalled; waitForGroup woken when the
// last member finishes; a cancelled wait leaving the client working; untracked and bad group ids refused;
// an unknown group empty.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import kotlin.time.Duration.Companion.minutes

/** A group id of the test's own. */
private fun group(): String = unique("group")

private fun grouped(g: String) = sendOptions(group = g)

val groupsTests = suite {
    test("groups: a group across two queues is counted per queue and across them, cancelled in one queue, then everywhere") {
        val a = newQueue("groups-a")
        val b = newQueue("groups-b")
        val g = group()
        val inA = a.sendBatch(listOf(outgoing("a1"), outgoing("a2"), outgoing("a3")), grouped(g)).ids()
        val readyB = b.send("b1", grouped(g)).id()
        val laterB = b.send("b2", sendOptions(delay = 10.minutes, group = g)).id()
        b.send("not in the group")

        assertEquals(GroupStats(3u, 3u, 0u, 0u, 0u, 0u, 0u, 0u), a.groupStats(g), "queue a's members")
        assertEquals(GroupStats(2u, 1u, 1u, 0u, 0u, 0u, 0u, 0u), b.groupStats(g), "queue b's members")
        assertEquals(GroupStats(5u, 4u, 1u, 0u, 0u, 0u, 0u, 0u), client.groupStats(g), "across queues")

        assertEquals(inA.toSet(), a.cancelGroup(g).toSet(), "a.cancelGroup: queue a's members")
        assertEquals(GroupStats(0u, 0u, 0u, 0u, 0u, 0u, 3u, 0u), a.groupStats(g), "queue a: cancelled")
        assertEquals(2uL, b.groupStats(g).messages, "queue b's members are left alone")
        assertEquals(3uL, b.stats().messages, "queue b")

        assertEquals(setOf(readyB, laterB), client.cancelGroup(g).toSet(), "client.cancelGroup: the rest, everywhere")
        assertEquals(GroupStats(0u, 0u, 0u, 0u, 0u, 0u, 5u, 0u), client.groupStats(g), "every member cancelled")
        assertEquals(1uL, b.stats().messages, "the message outside the group stays")
        assertEquals(
            (inA + readyB + laterB).associateWith { Outcome.CANCELLED },
            withTimeout(FIVE_S) { client.waitForGroup(g) },
            "waitForGroup() of a finished group returns at once",
        )
    }

    test("groups: cancelGroup signals the holder of a held member, which is never redelivered") {
        val q = newQueue("groups-held")
        val g = group()
        val id = q.send("held", grouped(g)).id()
        val receiver = q.receiver()
        val msg = receiver.nextWithin()
        val signalled = async(start = CoroutineStart.UNDISPATCHED) { msg.awaitCancelled() }

        assertEquals(listOf(id), client.cancelGroup(g), "the held member is found")
        assertEquals(true, withTimeout(FIVE_S) { signalled.await() }, "its holder is signalled")
        assertTrue(msg.isCancelled, "isCancelled")
        msg.release()
        receiver.assertNothingWithin(QUIET_MS, "a cancelled member")
        receiver.stop()
        assertEquals(mapOf(id to Outcome.CANCELLED), withTimeout(FIVE_S) { q.waitForGroup(g) }, "its outcome")
    }

    test("groups: waitForGroup, started before, is woken when the last member finishes") {
        val q = newQueue("groups-wait")
        val other = newQueue("groups-wait-other", queueOptions(maxDeliveryAttempts = 1u))
        val g = group()
        val first = q.send("first", grouped(g)).id()
        val last = other.send("last", grouped(g)).id()
        val everywhere = async(start = CoroutineStart.UNDISPATCHED) { client.waitForGroup(g) }
        val inQ = async(start = CoroutineStart.UNDISPATCHED) { q.waitForGroup(g) }

        val r = q.receiver()
        r.nextWithin().ack()
        assertEquals(mapOf(first to Outcome.COMPLETED), withTimeout(FIVE_S) { inQ.await() }, "q's members are done")
        assertEquals(null, withTimeoutOrNull(QUIET_MS) { everywhere.await() }, "the group is not: the wait across queues goes on")

        val ro = other.receiver()
        ro.nextWithin().nack(error = "gave up") // its last attempt: dead-lettered
        assertEquals(
            mapOf(first to Outcome.COMPLETED, last to Outcome.DEAD_LETTERED),
            withTimeout(FIVE_S) { everywhere.await() },
            "woken by the last member's outcome",
        )
        r.stop()
        ro.stop()
        assertEquals(GroupStats(0u, 0u, 0u, 0u, 1u, 1u, 0u, 0u), client.groupStats(g), "counted by outcome")
    }

    test("groups: a cancelled waitForGroup leaves nothing broken: the group, and later waits, go on") {
        val q = newQueue("groups-cancel-wait")
        val g = group()
        val id = q.send("member", grouped(g)).id()
        for (wait in listOf<suspend () -> Map<String, Outcome>>({ client.waitForGroup(g) }, { q.waitForGroup(g) })) {
            val job = launch(start = CoroutineStart.UNDISPATCHED) { wait() }
            job.cancelAndJoin()
            assertTrue(job.isCancelled, "the waiter was cancelled")
        }
        assertEquals(GroupStats(1u, 1u, 0u, 0u, 0u, 0u, 0u, 0u), q.groupStats(g), "the group is untouched")

        val waiting = async(start = CoroutineStart.UNDISPATCHED) { client.waitForGroup(g) }
        val r = q.receiver()
        r.nextWithin().ack()
        r.stop()
        assertEquals(mapOf(id to Outcome.COMPLETED), withTimeout(FIVE_S) { waiting.await() }, "a later wait is woken")
    }

    test("groups: untracked members and bad group ids are InvalidOption (nothing sent); an unknown group is empty") {
        val q = newQueue("groups-invalid")
        val maxLen = DEFAULTS.limits.maxGroupLen.toInt()
        val refused = listOf(
            "track = false with a group" to sendOptions(track = false, group = group()),
            "an empty group" to sendOptions(group = ""),
            "${maxLen + 1} bytes" to sendOptions(group = "g".repeat(maxLen + 1)),
            "${maxLen + 1} bytes of UTF-8 in fewer characters" to sendOptions(group = "é".repeat(maxLen / 2 + 1)),
            "a NUL character" to sendOptions(group = "a\u0000b"),
        )
        for ((what, options) in refused) {
            val e = assertThrows<PgmqException.InvalidOption>(what) { q.send("x", options) }
            assertEquals("invalid_option", e.code, what)
            assertThrows<PgmqException.InvalidOption>("$what, sendBatch") { q.sendBatch(listOf(outgoing("x")), options) }
        }
        assertEquals(0uL, q.stats().messages, "nothing was sent")
        q.send("x", sendOptions(group = "g".repeat(maxLen)))
        for (bad in listOf("", "g".repeat(maxLen + 1), "a\u0000b")) {
            assertThrows<PgmqException.InvalidOption>("client.cancelGroup(${bad.length} chars)") { client.cancelGroup(bad) }
            assertThrows<PgmqException.InvalidOption>("client.groupStats(${bad.length} chars)") { client.groupStats(bad) }
            assertThrows<PgmqException.InvalidOption>("q.waitForGroup(${bad.length} chars)") { q.waitForGroup(bad) }
        }

        val unknown = group()
        assertEquals(emptyMap<String, Outcome>(), withTimeout(FIVE_S) { client.waitForGroup(unknown) }, "client.waitForGroup")
        assertEquals(emptyMap<String, Outcome>(), withTimeout(FIVE_S) { q.waitForGroup(unknown) }, "q.waitForGroup")
        assertEquals(emptyList<String>(), client.cancelGroup(unknown), "client.cancelGroup")
        assertEquals(GroupStats(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u), client.groupStats(unknown), "client.groupStats")
        assertThrows<PgmqException.QueueNotFound>("a group in an unknown queue") { client.queue(unique("absent")).cancelGroup(unknown) }
    }
}
