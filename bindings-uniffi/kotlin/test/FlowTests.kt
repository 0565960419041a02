// The hand-written layer (bindings-uniffi/kotlin/src/io/pgmq): Queue.messages() as a Flow whose
// messages belong to the collector (handed to other coroutines through buffer(), flowOn(),
// flatMapMerge), the Duration overloads, the attribute and filter builders.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.*
import java.util.concurrent.ConcurrentLinkedQueue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

val flowTests = suite {
    test("first() hands over a message that stays leased to the caller: acked after the flow ended") {
        val q = newQueue("flowfirst")
        val sent = q.send("x")
        val m = withTimeout(FIVE_S) { q.messages().first() }
        assertTrue(!m.isFinished, "still held after collection ended")
        assertEquals(1uL, q.stats().leased, "leased while the caller holds it")
        m.ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
    }

    test("buffer().first() gets a message already released: behind buffer() the upstream ends by cancellation") {
        val q = newQueue("flowbufferfirst")
        val sent = q.send("x")
        val m = withTimeout(FIVE_S) { q.messages().buffer(1).first() }
        assertEquals(sent.id(), m.id, "the message")
        assertTrue(m.isFinished, "released when first() cancelled the buffered upstream")
        assertThrows<PgmqException.AlreadyFinished>("ack() of the released message") { m.ack() }
        val again = q.receiver().nextWithin()
        assertEquals(2u, again.deliveryAttempt, "redelivered as attempt 2")
        again.ack()
    }

    test("buffer(10) with acks in other coroutines: every message delivered once, none redelivered") {
        val q = newQueue("flowbuffer")
        val batch = q.sendBatch((1..30).map { outgoing("m$it") })
        val delivered = ConcurrentLinkedQueue<Message>()
        val acked = Channel<String>(Channel.UNLIMITED)
        val worker = launch(Dispatchers.Default) {
            q.messages(ReceiveOptions(batchSize = 10u)).buffer(10).collect { m ->
                delivered += m
                // Finished in a coroutine of its own, after the flow has gone on to the next message.
                launch { m.ack(); acked.send(m.id) }
            }
        }
        val ids = withTimeout(FIVE_S) { List(30) { acked.receive() } }
        worker.cancelAndJoin()
        assertEquals(batch.ids().sorted(), ids.sorted(), "each message acked once")
        assertEquals(batch.ids().sorted(), delivered.map { it.id }.sorted(), "each message delivered once")
        assertEquals(listOf(1u), delivered.map { it.deliveryAttempt }.distinct(), "no redelivery")
        assertEquals(batch.ids().associateWith { Outcome.COMPLETED }, withTimeout(FIVE_S) { batch.completed() }, "outcomes")
        assertEquals(0uL, q.stats().messages, "nothing left")
    }

    test("flowOn(Dispatchers.IO) and flatMapMerge(4): messages acked downstream, each delivered once") {
        val q = newQueue("flowmerge")
        val batch = q.sendBatch((1..20).map { outgoing("m$it") })
        @OptIn(ExperimentalCoroutinesApi::class)
        val attempts = withTimeout(FIVE_S) {
            q.messages(ReceiveOptions(batchSize = 4u))
                .flowOn(Dispatchers.IO)
                .flatMapMerge(concurrency = 4) { m -> flow { m.ack(); emit(m.id to m.deliveryAttempt) } }
                .take(20)
                .toList()
        }
        assertEquals(batch.ids().sorted(), attempts.map { it.first }.sorted(), "each message once")
        assertEquals(listOf(1u), attempts.map { it.second }.distinct(), "no redelivery")
        assertEquals(batch.ids().associateWith { Outcome.COMPLETED }, withTimeout(FIVE_S) { batch.completed() }, "outcomes")
    }

    test("messages() emits every message in send order; acked in the collector, all complete") {
        val q = newQueue("flow")
        val batch = q.sendBatch(listOf(outgoing("a"), outgoing("b"), outgoing("c")))
        val got = withTimeout(FIVE_S) { q.messages().take(3).onEach { it.ack() }.toList() }
        assertEquals(listOf("a", "b", "c"), got.map { it.text }, "bodies")
        assertEquals(batch.ids().associateWith { Outcome.COMPLETED }, withTimeout(FIVE_S) { batch.completed() }, "outcomes")
        q.awaitNothingLeased("after the flow")
    }

    test("messages() is cold: each collection has its own receiver") {
        val q = newQueue("cold")
        q.sendBatch(listOf(outgoing("a"), outgoing("b")))
        val flow = q.messages()
        val first = withTimeout(FIVE_S) { flow.onEach { it.ack() }.first() }
        val second = withTimeout(FIVE_S) { flow.onEach { it.ack() }.first() }
        assertEquals(listOf("a", "b"), listOf(first.text, second.text), "bodies")
        q.awaitNothingLeased("after two collections")
        assertEquals(0uL, q.stats().messages, "both acked")
    }

    test("messages(): a message the collector keeps unfinished stays leased while the next ones come; release() frees it") {
        val q = newQueue("flowkeep")
        val batch = q.sendBatch(listOf(outgoing("a"), outgoing("b"), outgoing("c")))
        val (a, b, c) = batch.ids()
        val seen = mutableListOf<Message>()
        withTimeout(FIVE_S) {
            q.messages(ReceiveOptions(batchSize = 2u)).take(3).collect { m ->
                if (seen.isNotEmpty()) assertTrue(!seen[0].isFinished, "the kept message is still held when the next comes")
                seen += m
                if (m.id != a) m.ack()
            }
        }
        assertEquals(listOf(a, b, c), seen.map { it.id }, "each once, in order")
        assertEquals(1uL, q.stats().leased, "the kept one is still leased after the flow ended")
        seen[0].release()
        val again = q.receiver().nextWithin()
        assertEquals(a, again.id, "released, redelivered")
        assertEquals(2u, again.deliveryAttempt, "as attempt 2")
        again.ack()
    }

    test("cancelling the collecting coroutine releases the held message; it is delivered to another receiver") {
        val q = newQueue("flowcancel")
        val sent = q.send("held by the collector")
        val holding = CompletableDeferred<Message>()
        val job = launch(Dispatchers.Default) {
            q.messages().collect { m ->
                holding.complete(m)
                awaitCancellation()
            }
        }
        val held = withTimeout(FIVE_S) { holding.await() }
        assertEquals(1uL, q.stats().leased, "leased while held")
        job.cancelAndJoin()
        assertTrue(held.isFinished, "released on cancellation")
        q.awaitNothingLeased("after cancelAndJoin")
        val m = q.receiver().nextWithin()
        assertEquals(sent.id(), m.id, "id")
        assertEquals(2u, m.deliveryAttempt, "deliveryAttempt")
        m.ack()
    }

    test("cancelling a collector waiting for the first message leaves nothing leased") {
        val q = newQueue("flowwait")
        // UNDISPATCHED: launch returns at the collector's first suspension, which is inside receiver.next()
        // once the Rust call has started; so the cancellation below reaches a pending next().
        val job = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            q.messages().collect { fail("nothing was sent") }
        }
        assertTrue(job.isActive, "the collector is waiting for its first message")
        job.cancelAndJoin()
        val sent = q.send("after")
        q.awaitNothingLeased("after cancelAndJoin")
        val m = q.receiver().nextWithin()
        assertEquals(sent.id(), m.id, "id")
        m.ack()
    }

    test("an exception in the collector propagates and releases the message") {
        val q = newQueue("flowexc")
        val sent = q.send("x")
        val e = assertThrows<IllegalStateException>("collect") {
            withTimeout(FIVE_S) { q.messages().collect { error("handler failed") } }
        }
        assertEquals("handler failed", e.message, "message")
        q.awaitNothingLeased("after the exception")
        val m = q.receiver().nextWithin()
        assertEquals(sent.id(), m.id, "id")
        m.ack()
    }

    test("messages(batchSize = 3) ended after one message releases the two prefetched ones") {
        val q = newQueue("flowbatch")
        q.sendBatch(listOf(outgoing("a"), outgoing("b"), outgoing("c")))
        val first = withTimeout(FIVE_S) { q.messages(ReceiveOptions(batchSize = 3u)).onEach { it.ack() }.first() }
        assertEquals("a", first.text, "first")
        q.awaitNothingLeased("after first()")
        val r = q.receiver(ReceiveOptions(batchSize = 3u))
        val rest = mutableListOf<Message>()
        while (rest.size < 2) rest += withTimeout(FIVE_S) { r.nextBatch() }
        assertEquals(listOf("b", "c"), rest.map { it.text }.sorted(), "the prefetched two")
        rest.forEach { it.ack() }
    }

    test("messages() with a filter, nack(delayMs, error) and extend() through the Message shortcuts") {
        val q = newQueue("flowfilter")
        q.send("blue", SendOptions(attributes = attributes("color" to "blue")))
        val red = q.send("red", SendOptions(attributes = attributes("color" to "red")))
        val got = mutableListOf<Message>()
        withTimeout(FIVE_S) {
            q.messages(ReceiveOptions(filter = attr("color") eq "red")).take(2).collect { m ->
                got += m
                if (m.deliveryAttempt == 1u) {
                    m.extend(5_000uL)
                    m.nack(delayMs = 10uL, error = "once more")
                } else {
                    m.ack()
                }
            }
        }
        assertEquals(listOf(red.id(), red.id()), got.map { it.id }, "only the red message, twice")
        assertEquals("once more", got[1].lastError, "lastError")
        assertEquals(1uL, q.stats().messages, "the blue one is left")
    }

    test("messages() completes when the client is closed") {
        val c = connect()
        val q = newQueue("flowclose")
        // UNDISPATCHED: async returns once the collector is suspended in receiver.next() (see above), so
        // the shutdown ends a pending next(), not a receiver yet to be made.
        val collected = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) { c.queue(q.name()).messages().toList() }
        assertTrue(collected.isActive, "the collector is waiting for a message")
        c.shutdown()
        assertEquals(emptyList<Message>(), withTimeout(FIVE_S) { collected.await() }, "the flow completed empty")
    }

    test("Duration overloads: nack(delay), extend(by), completed(pollInterval), and the option builders") {
        val q = newQueue("flowdur", queueOptions(ackDeadline = 2.seconds))
        assertEquals(2_000uL, client.listQueues().first { it.name == q.name() }.ackDeadlineMs, "queueOptions(ackDeadline)")
        val sent = q.send(bytes("x"), sendOptions(delay = 50.milliseconds))
        assertEquals(1uL, q.stats().scheduled, "sendOptions(delay) schedules")
        val r = q.receiver(receiveOptions(pollInterval = 1.seconds))
        val m = r.nextWithin()
        m.extend(5.seconds)
        m.lease.extend(5.seconds)
        val nacked = System.nanoTime()
        m.nack(200.milliseconds, error = "later")
        val again = r.nextWithin()
        assertTrue(elapsedMs(nacked) >= 190, "not redelivered before the nack's delay (${elapsedMs(nacked)} ms)")
        assertEquals("later", again.lastError, "lastError")
        again.ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed(pollInterval = 1.seconds) }, "completed(pollInterval)")
        assertEquals(mapOf(sent.id() to Outcome.COMPLETED), withTimeout(FIVE_S) { q.waitForCompletion(listOf(sent.id()), 1.seconds) }, "waitForCompletion")
        assertThrows<IllegalArgumentException>("a negative delay") { m.nack((-1).seconds) }
        assertEquals(30_000uL, clientOptions(connectTimeout = 30.seconds).connectTimeoutMs, "clientOptions(connectTimeout)")
        assertEquals(Backoff(baseMs = 500uL, factor = 3.0, maxMs = 60_000uL, jitter = false), backoff(500.milliseconds, 3.0, 60.seconds, false), "backoff()")
    }

    test("attributeValue / attributes / raw convert Kotlin values") {
        assertEquals(AttributeValue.Null, attributeValue(null))
        assertEquals(AttributeValue.Bool(true), attributeValue(true))
        assertEquals(AttributeValue.Int(3), attributeValue(3))
        assertEquals(AttributeValue.Int(3), attributeValue(3L))
        assertEquals(AttributeValue.Int(3), attributeValue(3.toShort()))
        assertEquals(AttributeValue.Float(2.5), attributeValue(2.5))
        assertEquals(AttributeValue.Float(2.5), attributeValue(2.5f))
        assertEquals(AttributeValue.Text("s"), attributeValue("s"))
        assertEquals(AttributeValue.Text("s"), attributeValue(AttributeValue.Text("s")))
        assertThrows<IllegalArgumentException>("a list") { attributeValue(listOf(1)) }
        assertEquals(
            mapOf("a" to AttributeValue.Int(1), "b" to AttributeValue.Null, "c" to AttributeValue.Text("x")),
            attributes("a" to 1, "b" to null, "c" to "x"),
        )
        assertEquals(listOf(null, true, 3L, 2.5, "s"), listOf(null, true, 3L, 2.5, "s").map { attributeValue(it).raw })
        val o = outgoing("body", "k" to 1)
        assertEquals("body", o.body.decodeToString())
        assertEquals(mapOf("k" to AttributeValue.Int(1)), o.attributes)
    }

    test("attr() builders call the Filter constructors; and / or nest left to right; equality, hashCode, toString") {
        assertEquals(Filter.eq("c", AttributeValue.Text("red")), attr("c") eq "red")
        assertEquals(Filter.ne("c", AttributeValue.Null), attr("c") ne null)
        assertEquals(Filter.lt("n", AttributeValue.Int(1)), attr("n") lt 1)
        assertEquals(Filter.gt("n", AttributeValue.Float(1.5)), attr("n") gt 1.5)
        assertEquals(Filter.le("n", AttributeValue.Int(2)), attr("n") le 2L)
        assertEquals(Filter.ge("b", AttributeValue.Bool(false)), attr("b") ge false)
        assertEquals(Filter.isLike("c", "r%"), attr("c") like "r%")
        assertEquals(Filter.isNotLike("c", "r%"), attr("c") notLike "r%")
        assertEquals(Filter.isNull("c"), attr("c").isNull())
        assertEquals(Filter.isNotNull("c"), attr("c").isNotNull())
        assertEquals(Filter.exists("c"), attr("c").exists())
        assertEquals(Filter.doesNotExist("c"), attr("c").doesNotExist())
        val a = attr("a").exists()
        val b = attr("b").exists()
        val c = attr("c").exists()
        assertEquals(Filter.or(Filter.and(a, b), c), a and b or c)
        assertEquals(Filter.and(a, Filter.or(b, c)), a and (b or c))
        assertTrue(a and b or c != a and (b or c), "different nesting is a different filter")
        assertTrue(attr("n") eq 1 != attr("n") eq 1.0, "an Int is not a Float")
        assertEquals((attr("x") eq 0.0).hashCode(), (attr("x") eq -0.0).hashCode(), "equal filters hash alike")
        assertEquals(setOf(a and b), setOf(attr("a").exists() and attr("b").exists()), "sets of filters")
        assertEquals(
            "And(Exists(\"a\"), Compare { key: \"n\", op: Gt, value: Int(3) })",
            (a and (attr("n") gt 3)).toString(),
            "toString",
        )
        assertEquals(
            ReceiveOptions(filter = attr("a") eq 1),
            ReceiveOptions(filter = attr("a") eq 1),
            "ReceiveOptions with equal filters",
        )
    }
}
