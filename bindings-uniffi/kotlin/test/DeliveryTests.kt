// Delivery behaviour: exactly-one delivery, redelivery, dead letters, leases, completion latency,
// coroutine cancellation, stop(), and a 10,000-message run with 4 concurrent receivers.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.CoroutineContext
import kotlin.random.Random

val deliveryTests = suite {
    test("two receivers racing for one message: exactly one gets it") {
        repeat(3) { round ->
            val q = newQueue("race")
            val r1 = q.receiver()
            val r2 = q.receiver()
            val a = async(Dispatchers.Default) { r1.next() }
            val b = async(Dispatchers.Default) { r2.next() }
            val sent = q.send(bytes("only one"))
            val (winner, loserCall) = withTimeout(FIVE_S) { select2(a, b) }
            assertEquals(sent.id(), winner.id, "round $round: delivered id")
            // The other receiver gets nothing while the winner holds it, and nothing after the ack.
            delay(QUIET_MS)
            assertTrue(!(a.isCompleted && b.isCompleted), "round $round: both receivers got a message")
            winner.ack()
            delay(QUIET_MS)
            assertTrue(!(a.isCompleted && b.isCompleted), "round $round: the acked message was delivered again")
            r1.stop()
            r2.stop()
            val loser = withTimeout(FIVE_S) { loserCall.await() }
            if (loser != null) fail("round $round: the loser's next() returned ${loser.id} (attempt ${loser.deliveryAttempt})")
            assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
        }
    }

    test("nack: redelivered with deliveryAttempt 2 and lastError; nack with delayMs is not redelivered early") {
        val q = newQueue("nack")
        val sent = q.send(bytes("retry me"))
        val r = q.receiver()
        val first = r.nextWithin()
        assertEquals(1u, first.deliveryAttempt, "first attempt")
        first.nack(error = "boom")
        val second = r.nextWithin()
        assertEquals(sent.id(), second.id, "same message")
        assertEquals(2u, second.deliveryAttempt, "second attempt")
        assertEquals("boom", second.lastError, "lastError")
        val start = System.nanoTime()
        second.nack(NackOptions(delayMs = 600uL, error = "later"))
        val third = r.nextWithin()
        val waited = elapsedMs(start)
        assertTrue(waited >= 600, "redelivered after $waited ms, before the 600 ms nack delay")
        assertEquals(3u, third.deliveryAttempt, "third attempt")
        assertEquals("later", third.lastError, "lastError")
        third.ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
    }

    test("dead letter after maxDeliveryAttempts failures: the message is in dlqName(q), completed() is DEAD_LETTERED") {
        val q = newQueue("dlq", QueueOptions(maxDeliveryAttempts = 3u))
        val sent = q.send(bytes("poison"), SendOptions(attributes = attributes("kind" to "poison", "n" to 7)))
        val done = async(Dispatchers.Default) { sent.completed() }
        val r = q.receiver()
        for (attempt in 1u..3u) {
            val m = r.nextWithin(what = "attempt $attempt")
            assertEquals(attempt, m.deliveryAttempt, "deliveryAttempt")
            m.nack(error = "failure $attempt")
        }
        assertEquals(Outcome.DEAD_LETTERED, withTimeout(FIVE_S) { done.await() }, "outcome")
        r.assertNothingWithin(QUIET_MS, "a dead-lettered message")
        assertEquals(1uL, q.stats().deadLettered, "stats().deadLettered")
        val dm = client.queue(dlqName(q.name())).receiver().nextWithin(what = "the DLQ message")
        assertEquals("poison", dm.text, "body in the DLQ")
        assertEquals(mapOf("kind" to AttributeValue.Text("poison"), "n" to AttributeValue.Int(7)), dm.attributes, "attributes")
        assertEquals(3u, dm.deadLetterAttempts, "deadLetterAttempts")
        assertEquals("failure 3", dm.lastError, "lastError")
        assertEquals(1u, dm.deliveryAttempt, "first delivery in the DLQ")
        dm.ack()
        eventually("DLQ emptied") { q.stats().deadLettered == 0uL }
    }

    test("release(): the message is redelivered at once to another receiver with the next attempt number") {
        val q = newQueue("rel")
        q.send(bytes("x"))
        val m = q.receiver().nextWithin()
        val other = q.receiver()
        val pending = async(Dispatchers.Default) { other.next() }
        m.release()
        m.release() // nothing once released
        val again = withTimeout(2_000) { pending.await() } ?: fail("null")
        assertEquals(m.id, again.id, "same message")
        assertEquals(2u, again.deliveryAttempt, "release counts as an attempt")
        again.ack()
    }

    test("a held message is kept leased past its ack deadline (heartbeat) and extend() works") {
        val q = newQueue("hold", QueueOptions(ackDeadlineMs = 1_000uL))
        val sent = q.send(bytes("long job"))
        val m = q.receiver().nextWithin()
        m.extend(3_000uL)
        q.receiver().assertNothingWithin(2_500, "a message held for 2.5 ack deadlines")
        assertEquals(1uL, q.stats().leased, "still leased")
        m.ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
    }

    test("completion latency: median of 10 rounds from ack to completed() < 100 ms") {
        val q = newQueue("lat")
        val r = q.receiver()
        val samples = mutableListOf<Long>()
        repeat(10) {
            val sent = q.send(bytes("ping"))
            val waiter = async(Dispatchers.Default) { sent.completed() to System.nanoTime() }
            val m = r.nextWithin()
            delay(20) // let the waiter start waiting
            val start = System.nanoTime()
            m.ack()
            val (outcome, at) = withTimeout(FIVE_S) { waiter.await() }
            assertEquals(Outcome.COMPLETED, outcome, "outcome")
            samples += (at - start) / 1_000_000
        }
        println("    ack -> completed() latencies (ms): $samples, median ${median(samples)}")
        assertTrue(median(samples) < 100, "median latency ${median(samples)} ms")
    }

    test("a coroutine suspended in receiver.next() cancelled with cancelAndJoin() leaves 0 leased; another receiver gets the message") {
        // Cancelled while waiting on an empty queue, and while a message arrives (the claim may be in flight).
        // Odd rounds: nextBatch() of a receiver with batchSize 3.
        for (round in 0 until 8) {
            val q = newQueue("cnext")
            val r1 = q.receiver(ReceiveOptions(batchSize = if (round % 2 == 1) 3u else 1u))
            var got: List<Message> = emptyList()
            val job = launch(Dispatchers.Default) { got = if (round % 2 == 1) r1.nextBatch() else listOfNotNull(r1.next()) }
            delay(50) // let next() start waiting
            val sent = if (round == 0) null else q.send(bytes("m$round"))
            if (round > 1) delay((round - 2) * 2L)
            job.cancelAndJoin()
            // next() may have returned before the cancel landed: then the coroutine holds the message.
            got.forEach { it.release() }
            q.awaitNothingLeased("round $round")
            val sentNow = sent ?: q.send(bytes("m$round"))
            val m = q.receiver().nextWithin(what = "round $round: the message to another receiver")
            assertEquals(sentNow.id(), m.id, "round $round: id")
            m.ack()
            assertEquals(0uL, q.stats().leased, "round $round: leased after ack")
        }
    }

    test("next() and nextBatch() cancelled as the Rust call returns leave nothing leased") {
        // uniffi hands a native call's result over once the Rust call has finished: a coroutine cancelled in
        // that moment used to drop it unread, and with it the leases of the messages in it. This dispatcher
        // cancels the caller as the Rust call wakes it (its result is ready then), 0-300 µs into the
        // resumption that follows.
        val q = newQueue("cresume", QueueOptions(maxDeliveryAttempts = 1_000_000u))
        q.sendBatch((1..3).map { OutgoingMessage(bytes("m$it")) })
        val r = q.receiver(ReceiveOptions(batchSize = 3u))
        val threads = Executors.newFixedThreadPool(2)
        try {
            for (round in 0 until 200) {
                val caller = Job()
                val cancelOnResume = object : CoroutineDispatcher() {
                    override fun dispatch(context: CoroutineContext, block: Runnable) {
                        threads.execute(block)
                        threads.execute {
                            val at = System.nanoTime() + Random.nextLong(300_000)
                            while (System.nanoTime() < at) Thread.onSpinWait()
                            caller.cancel()
                        }
                    }
                }
                var got: List<Message> = emptyList()
                val call = launch(caller + cancelOnResume, start = CoroutineStart.UNDISPATCHED) {
                    got = if (round % 2 == 0) r.nextBatch() else listOfNotNull(r.next())
                }
                // Nothing within 5 s: every message is leased to nobody, which the assertion below reports.
                if (withTimeoutOrNull(FIVE_S) { call.join() } == null) break
                got.forEach { it.release() }
            }
        } finally {
            threads.shutdown()
        }
        r.stop() // releases the rest of a claim that next() kept
        q.awaitNothingLeased("after 200 calls cancelled as they returned")
    }

    test("a coroutine suspended in sent.completed() cancelled with cancelAndJoin(): nothing leased, the message is delivered, completed() works again") {
        val q = newQueue("ccomp")
        val sent = q.send(bytes("x"))
        val job = launch(Dispatchers.Default) { sent.completed() }
        delay(50)
        job.cancelAndJoin()
        assertTrue(job.isCancelled, "the waiter was cancelled")
        assertEquals(0uL, q.stats().leased, "leased")
        val m = q.receiver().nextWithin()
        assertEquals(sent.id(), m.id, "id")
        m.ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
        q.awaitNothingLeased("after ack")
    }

    test("batchSize 5: withTimeout around next() leaves nothing leased; stop() releases the buffered rest of a claim") {
        val q = newQueue("ctimeout")
        val r = q.receiver(ReceiveOptions(batchSize = 5u))
        assertEquals(null, withTimeoutOrNull(200) { r.next() }, "nothing on an empty queue")
        assertEquals(0uL, q.stats().leased, "leased after the timed-out next()")
        q.sendBatch((1..5).map { OutgoingMessage(bytes("m$it")) })
        val m = r.nextWithin()
        // Four more are buffered for this receiver; stopping it releases them.
        r.stop()
        eventually("buffered messages released") { q.stats().leased == 1uL }
        m.ack()
        val other = q.receiver(ReceiveOptions(batchSize = 10u))
        val rest = mutableListOf<Message>()
        while (rest.size < 4) rest += withTimeout(FIVE_S) { other.nextBatch() }
        assertEquals(listOf("m2", "m3", "m4", "m5"), rest.map { it.text }.sorted(), "the released four")
        rest.forEach { it.ack() }
    }

    test("receiver.stop() makes a pending next() return null; later next() and nextBatch() return null / empty") {
        val q = newQueue("stop")
        val r = q.receiver()
        val pending = async(Dispatchers.Default) { r.next() }
        delay(50)
        assertEquals(false, r.isClosed(), "isClosed() before stop")
        r.stop()
        assertEquals(true, r.isClosed(), "isClosed() after stop")
        assertEquals(null, withTimeout(FIVE_S) { pending.await() }, "pending next()")
        assertEquals(null, withTimeout(FIVE_S) { r.next() }, "next() after stop")
        assertEquals(emptyList<Message>(), withTimeout(FIVE_S) { r.nextBatch() }, "nextBatch() after stop")
        q.send(bytes("after stop"))
        val m = q.receiver().nextWithin()
        m.ack()
        assertEquals(0uL, q.stats().messages, "nothing left")
    }

    test("10,000 messages in one sendBatch consumed by 4 concurrent receivers: none duplicated, none missing", timeoutMs = 90_000) {
        val q = newQueue("tenk", QueueOptions(createDeadLetterQueue = false))
        val total = 10_000
        val start = System.nanoTime()
        val batch = q.sendBatch((0 until total).map { OutgoingMessage(bytes("m$it")) })
        val ids = batch.ids()
        assertEquals(total, ids.size, "ids")
        assertEquals(total, ids.toSet().size, "distinct ids")
        val sentMs = elapsedMs(start)
        val seen = ConcurrentHashMap<String, Int>()
        val bodies = ConcurrentHashMap.newKeySet<String>()
        val count = AtomicInteger()
        val allIn = CompletableDeferred<Unit>()
        val receivers = (1..4).map { q.receiver(ReceiveOptions(batchSize = 100u)) }
        val perWorker = IntArray(4)
        val workers = receivers.mapIndexed { i, r ->
            launch(Dispatchers.Default) {
                while (true) {
                    val claim = r.nextBatch()
                    if (claim.isEmpty()) break
                    for (m in claim) {
                        seen.merge(m.id, 1, Int::plus)
                        bodies += m.text
                    }
                    // The acks of one claim concurrently (the core writes them together).
                    claim.map { m -> async { m.ack() } }.awaitAll()
                    perWorker[i] += claim.size
                    if (count.addAndGet(claim.size) >= total) allIn.complete(Unit)
                }
            }
        }
        withTimeout(75_000) { allIn.await() }
        receivers.forEach { it.stop() }
        workers.joinAll()
        val outcomes = withTimeout(FIVE_S * 4) { batch.completed() }
        println("    sent in $sentMs ms, consumed in ${elapsedMs(start) - sentMs} ms; per receiver ${perWorker.toList()}")
        val dupes = seen.filterValues { it > 1 }
        assertEquals(emptyMap<String, Int>(), dupes, "duplicated deliveries")
        assertEquals(ids.toSet(), seen.keys.toSet(), "delivered ids")
        assertEquals((0 until total).map { "m$it" }.toSet(), bodies.toSet(), "bodies")
        assertEquals(total, count.get(), "deliveries")
        assertEquals(total, outcomes.size, "outcomes")
        assertTrue(outcomes.values.all { it == Outcome.COMPLETED }, "every outcome COMPLETED")
        assertEquals(0uL, q.stats().messages, "queue empty")
        assertTrue(perWorker.count { it > 0 } >= 2, "the work was shared: ${perWorker.toList()}")
    }
}

/** The first of two pending next() calls to return a message, and the other call. */
private suspend fun select2(a: Deferred<Message?>, b: Deferred<Message?>): Pair<Message, Deferred<Message?>> =
    kotlinx.coroutines.selects.select {
        a.onAwait { (it ?: fail("next() returned null")) to b }
        b.onAwait { (it ?: fail("next() returned null")) to a }
    }
