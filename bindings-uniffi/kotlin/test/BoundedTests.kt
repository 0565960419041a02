// Bounded queues: a full queue refuses a send at once (waitForRoom = ZERO) or after its wait, with
// QueueFull and nothing written; a batch fits whole or not at all; a waiting send is woken by an ack
// (another client's); a cancelled waiting send sends nothing; the bound is set, lowered, lifted and
// listed; 8 racing senders never overfill the queue, as the table itself shows.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import java.sql.Connection
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** Never wait for room: fail at once. */
private val AT_ONCE = sendOptions(waitForRoom = Duration.ZERO)

/** The rows of pgmq.messages for [queue], counted by [c]: what the table holds, not what pgmq reports. */
private fun rowsOf(c: Connection, queue: String): Long =
    c.prepareStatement("SELECT count(*) FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = ?").use { st ->
        st.setString(1, queue)
        st.executeQuery().use { rs -> rs.next(); rs.getLong(1) }
    }

private fun TestContext.rows(queue: Queue): Long = jdbc().use { rowsOf(it, queue.name()) }

private fun info(infos: List<QueueInfo>, queue: Queue): QueueInfo = infos.first { it.name == queue.name() }

val boundedTests = suite {
    test("bounded: a full queue refuses a send at once (waitForRoom = ZERO) with QueueFull, transient; nothing is written") {
        val q = newQueue("bounded-full", queueOptions(maxMessages = 2u))
        q.send("one")
        q.send("two")
        val e = assertThrows<PgmqException.QueueFull>("a send to a full queue") { q.send("three", AT_ONCE) }
        assertEquals("queue_full", e.code, "code")
        assertTrue(e.isTransient(), "queue_full is transient: room comes back")
        assertTrue(q.name() in e.reason, "the reason names the queue: ${e.reason}")
        assertEquals(2L, rows(q), "rows in pgmq.messages")
        assertEquals(2uL, q.stats().messages, "stats().messages")

        val unbounded = newQueue("bounded-none")
        repeat(3) { unbounded.send("x", AT_ONCE) }
        assertEquals(3L, rows(unbounded), "an unbounded queue ignores waitForRoom")
    }

    test("bounded: a batch fits whole or not at all") {
        val q = newQueue("bounded-batch", queueOptions(maxMessages = 3u))
        q.sendBatch(listOf(outgoing("a"), outgoing("b")))
        assertThrows<PgmqException.QueueFull>("a batch of 2 with room for 1") {
            q.sendBatch(listOf(outgoing("c"), outgoing("d")), AT_ONCE)
        }
        assertEquals(2L, rows(q), "nothing of the refused batch was written")
        q.sendBatch(listOf(outgoing("c")), AT_ONCE)
        assertEquals(3L, rows(q), "a batch that fits is written whole")
    }

    test("bounded: a send waiting for room is woken by another client's ack, and completes") {
        val q = newQueue("bounded-wake", queueOptions(maxMessages = 1u))
        q.send("first")
        val waiting = async(start = CoroutineStart.UNDISPATCHED) { q.send("second", sendOptions(waitForRoom = 30.seconds)) }
        assertTrue(!waiting.isCompleted, "the send waits: the queue is full")

        val other = connect()
        val receiver = other.queue(q.name()).receiver()
        val msg = receiver.nextWithin()
        assertEquals("first", msg.text, "the message that filled the queue")
        msg.ack()
        val sent = withTimeout(FIVE_S) { waiting.await() }
        receiver.stop()
        assertEquals(1L, rows(q), "the waiting send took the room the ack made")
        assertEquals(sent.id(), q.peek().single().id, "and it is the second message")
    }

    test("bounded: a send that finds no room within waitForRoom fails with QueueFull; nothing is written") {
        val q = newQueue("bounded-timeout", queueOptions(maxMessages = 1u))
        q.send("first")
        val start = System.nanoTime()
        val e = assertThrows<PgmqException.QueueFull>("no room within 300 ms") { q.send("late", sendOptions(waitForRoom = 300.milliseconds)) }
        assertTrue(elapsedMs(start) >= 300, "it waited the 300 ms (${elapsedMs(start)} ms)")
        assertEquals("queue_full", e.code, "code")
        assertEquals(1L, rows(q), "rows in pgmq.messages")
    }

    test("bounded: a coroutine cancelled while its send waits for room sends nothing") {
        val q = newQueue("bounded-cancel", queueOptions(maxMessages = 1u))
        q.send("first")
        // UNDISPATCHED: the native send has started (and been refused: the queue is full) when launch returns.
        val job = launch(start = CoroutineStart.UNDISPATCHED) { q.send("never", sendOptions(waitForRoom = 30.seconds)) }
        job.cancelAndJoin()
        assertTrue(job.isCancelled, "the sender was cancelled")

        // Room for one: had the cancelled send still been waiting, it would have taken it.
        val receiver = q.receiver()
        receiver.nextWithin().ack()
        q.send("second", AT_ONCE)
        assertEquals(listOf("second"), q.peek().map { it.body.decodeToString() }, "the queue holds the later send only")
        assertEquals(1L, rows(q), "rows in pgmq.messages")
        receiver.stop()
    }

    test("bounded: setMaxMessages lowers, raises and lifts the bound; listQueues shows it; bad bounds are InvalidOption") {
        val q = newQueue("bounded-set", queueOptions(maxMessages = 2u))
        assertEquals(2uL, info(client.listQueues(), q).maxMessages, "listQueues() shows the bound")
        assertEquals(null, info(client.listQueues(), client.queue(dlqName(q.name()))).maxMessages, "its dead-letter queue is unbounded")
        q.send("a")
        q.send("b")

        q.setMaxMessages(1u)
        assertEquals(1uL, info(client.listQueues(), q).maxMessages, "lowered")
        assertEquals(2L, rows(q), "the messages beyond a lower bound stay")
        assertThrows<PgmqException.QueueFull>("over the lowered bound") { q.send("c", AT_ONCE) }

        q.setMaxMessages(3u)
        q.send("c", AT_ONCE)
        assertThrows<PgmqException.QueueFull>("at the raised bound") { q.send("d", AT_ONCE) }
        assertEquals(3uL, client.listQueuesWithStats().first { it.info.name == q.name() }.info.maxMessages, "listQueuesWithStats() shows it")

        q.setMaxMessages(null)
        q.send("d", AT_ONCE)
        assertEquals(null, info(client.listQueues(), q).maxMessages, "lifted")
        assertEquals(4L, rows(q), "rows in pgmq.messages")

        val bad = listOf(
            "setMaxMessages(0)" to suspend { q.setMaxMessages(0u) },
            "setMaxMessages(limits.maxMessages + 1)" to suspend { q.setMaxMessages(DEFAULTS.limits.maxMessages + 1u) },
            "a dead-letter queue's bound" to suspend { client.queue(dlqName(q.name())).setMaxMessages(5u) },
            "createQueue(maxMessages = 0)" to suspend { client.createQueue(unique("bounded-zero"), queueOptions(maxMessages = 0u)); Unit },
        )
        for ((what, call) in bad) assertEquals("invalid_option", assertThrows<PgmqException.InvalidOption>(what) { call() }.code, what)
        assertThrows<PgmqException.QueueNotFound>("an unknown queue") { client.queue(unique("absent")).setMaxMessages(1u) }
        q.setMaxMessages(DEFAULTS.limits.maxMessages)
        assertEquals(DEFAULTS.limits.maxMessages, info(client.listQueues(), q).maxMessages, "the largest bound is taken")
    }

    test("bounded: the outbox's SQL send to a full queue is QueueFull at once (SQLSTATE PQ003); nothing is written") {
        val q = newQueue("bounded-outbox", queueOptions(maxMessages = 1u))
        q.send("first")
        jdbc().use { c ->
            val e = assertThrows<PgmqException.QueueFull>("Outbox.send") { Outbox.send(c, q.name(), bytes("x")) }
            assertEquals("PQ003", (e.cause as java.sql.SQLException).sqlState, "the server's SQLSTATE, kept as the cause")
            assertEquals("queue_full", Outbox.SQLSTATES["PQ003"], "the core's map")
        }
        assertEquals(1L, rows(q), "rows in pgmq.messages")
    }

    test("bounded: 8 racing senders never overfill the queue (counted from the table), and every message arrives", timeoutMs = 60_000) {
        val bound = 4L
        val q = newQueue("bounded-race", queueOptions(maxMessages = bound.toULong()))
        val perSender = 12
        val sent = (0 until 8).map { s ->
            async(Dispatchers.Default) {
                // Half of them send batches of two, which must fit whole.
                if (s % 2 == 0) {
                    (0 until perSender step 2).flatMap { i -> q.sendBatch(listOf(outgoing("$s-$i"), outgoing("$s-${i + 1}"))).ids() }
                } else {
                    (0 until perSender).map { i -> q.send("$s-$i").id() }
                }
            }
        }
        val done = CompletableDeferred<Unit>()
        val most = async(Dispatchers.IO) {
            jdbc().use { c ->
                var most = 0L
                while (!done.isCompleted && isActive) most = maxOf(most, rowsOf(c, q.name()))
                most
            }
        }
        val received = mutableSetOf<String>()
        val receiver = q.receiver(receiveOptions(batchSize = 2u))
        try {
            while (received.size < 8 * perSender) {
                val msg = receiver.nextWithin(what = "message ${received.size + 1} of ${8 * perSender}")
                received += msg.id
                msg.ack()
            }
        } finally {
            done.complete(Unit)
            receiver.stop()
        }
        val ids = sent.awaitAll().flatten()
        assertEquals(ids.toSet(), received, "every message sent arrived, once")
        val seen = most.await()
        assertTrue(seen <= bound, "the table never held more than $bound messages (at most $seen)")
        assertTrue(seen >= 1, "the counter saw the queue at work")
    }
}
