// Results and request/reply: a worker acks with a result (bytes, text, JSON, a Serializer's value), the
// sender's reply() and replies() carry it; queue.request() sends and waits in one call, and fails with
// RequestFailed (the outcome) or Timeout (the request cancelled); results refused before anything is done.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import kotlin.time.Duration
import kotlin.time.Duration.Companion.days
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** A serializer of an encoding other than JSON: a list as comma-separated text. */
private object CsvList : Serializer<List<String>> {
    override val contentType = "text/csv"

    override fun encode(value: List<String>) = value.joinToString(",").encodeToByteArray()

    override fun decode(bytes: ByteArray) = bytes.decodeToString().split(",")
}

/** Every byte value, as a binary result. */
private val BINARY = ByteArray(256) { it.toByte() }

/**
 * A worker on [queue] answering [count] requests: JSON ones with `{"echo": <the body>}`, others with their
 * bytes reversed, labelled `application/octet-stream`.
 */
private fun CoroutineScope.echoWorker(queue: Queue, count: Int): Job = launch {
    val receiver = queue.receiver()
    repeat(count) {
        val msg = receiver.next() ?: return@launch
        if (CONTENT_TYPE_ATTRIBUTE in msg.attributes) {
            msg.ackJson("""{"echo": ${msg.json()}}""")
        } else {
            msg.ack(msg.body.reversedArray(), contentType = "application/octet-stream")
        }
    }
    receiver.stop()
}

val repliesTests = suite {
    test("ack(result, contentType) and ackJson(): reply() carries the bytes and their label; a plain ack has none") {
        val q = newQueue("replies")
        val binary = q.send(bytes("binary"))
        val json = q.send(bytes("json"))
        val plain = q.send(bytes("plain"))
        val r = q.receiver()
        r.nextWithin().ack(BINARY, contentType = "application/octet-stream")
        r.nextWithin().ackJson("""{"total": 42, "name": "zoë ✓"}""")
        r.nextWithin().ack()

        val b = withTimeout(FIVE_S) { binary.reply() }
        assertEquals(Outcome.COMPLETED, b.outcome, "outcome")
        assertTrue(BINARY.contentEquals(b.result), "every byte value round trips")
        assertEquals("application/octet-stream", b.contentType, "its content type")

        val j = withTimeout(FIVE_S) { json.reply() }
        assertEquals(JSON_CONTENT_TYPE, j.contentType, "ackJson labels the result application/json")
        assertEquals(mapOf("total" to 42L, "name" to "zoë ✓"), parseJson(j.json()), "reply.json()")

        val p = withTimeout(FIVE_S) { plain.reply() }
        assertEquals(Reply(Outcome.COMPLETED, null, null), p, "a plain ack: completed, no result, no label")
        assertEquals(null, p.text, "no text")
        val e = assertThrows<PgmqException.InvalidOption>("json() of a reply without a result") { p.json() }
        assertTrue("without a result" in e.reason, "the reason says why: ${e.reason}")
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { json.completed() }, "completed() is unchanged")
    }

    test("SentBatch.replies(): id -> Reply; ack(value, serializer), ack(text) and Lease.ackWithResult; queue.completion(ids) reads them later") {
        val q = newQueue("batchreplies")
        val batch = q.sendBatch(listOf(outgoing("one"), outgoing("two"), outgoing("three")))
        val ids = batch.ids()
        val r = q.receiver()
        r.nextWithin().ack(listOf("a", "b"), CsvList)
        r.nextWithin().ack("plain text")
        r.nextWithin().lease.ackWithResult(bytes("raw"), null)

        val replies = withTimeout(FIVE_S) { batch.replies(pollInterval = 1.seconds) }
        assertEquals(ids.toSet(), replies.keys, "one reply per id")
        val (csv, text, raw) = ids.map { replies.getValue(it) }
        assertEquals("text/csv", csv.contentType, "the serializer's content type")
        assertEquals(listOf("a", "b"), csv.decode(CsvList), "reply.decode(serializer)")
        assertThrows<ContentTypeException>("json() of a text/csv result") { csv.json() }
        assertEquals(Reply(Outcome.COMPLETED, bytes("plain text"), null), text, "ack(String): UTF-8, unlabelled")
        assertEquals("raw", raw.text, "Lease.ackWithResult")
        assertEquals("raw", raw.json(), "an unlabelled result reads as JSON text")

        val later = client.queue(q.name()).completion(ids)
        assertEquals(replies, withTimeout(FIVE_S) { later.replies() }, "a waiter that starts after the acks reads the same replies")
    }

    test("a message sent with track = false: reply() is NotTracked, and its ack with a result is a plain ack") {
        val q = newQueue("untracked")
        val sent = q.send(bytes("fire and forget"), SendOptions(track = false))
        val e = assertThrows<PgmqException.NotTracked>("reply() of an untracked send") { sent.reply() }
        assertEquals("not_tracked", e.code, "its code")
        q.receiver().nextWithin().ackJson("{}")
        assertEquals(0uL, q.stats().messages, "the ack completed it")
        assertThrows<PgmqException.NotTracked>("replies() of an untracked batch") {
            q.sendBatch(listOf(outgoing("x")), SendOptions(track = false)).replies()
        }
    }

    test("request(): answered by a worker, as JSON (requestJson, a serializer's value) and as bytes with attributes") {
        val q = newQueue("request")
        val worker = echoWorker(q, 3)
        val json = q.requestJson("""{"n": 2}""", timeout = 5.seconds)
        assertEquals(Outcome.COMPLETED, json.outcome, "outcome")
        assertEquals(mapOf("echo" to mapOf("n" to 2L)), parseJson(json.json()), "the worker's JSON result")

        val bytes = q.request(byteArrayOf(1, 2, 3), timeout = 5.seconds, attributes = attributes("kind" to "bytes"))
        assertEquals(listOf<Byte>(3, 2, 1), bytes.result?.toList(), "the worker's bytes")
        assertEquals("application/octet-stream", bytes.contentType, "their label")

        val labelled = q.request(listOf("x", "y"), JsonListOfStrings, timeout = 5.seconds)
        assertEquals(mapOf("echo" to listOf("x", "y")), parseJson(labelled.json()), "request(value, serializer) is labelled JSON")
        withTimeout(FIVE_S) { worker.join() }
        assertEquals(0uL, q.stats().messages, "every request was completed")
    }

    test("request() dead-lettered: RequestFailed with the request's id and outcome DEAD_LETTERED") {
        val q = newQueue("reqdlq", QueueOptions(maxDeliveryAttempts = 1u))
        val held = CompletableDeferred<String>()
        launch {
            val msg = q.receiver().nextWithin()
            held.complete(msg.id)
            msg.nack(error = "cannot answer")
        }
        val e = assertThrows<PgmqException.RequestFailed>("a request whose last attempt failed") { q.request("question", timeout = 5.seconds) }
        assertEquals(held.await(), e.id, "the error names the request")
        assertEquals(Outcome.DEAD_LETTERED, e.outcome, "and how it finished")
        assertEquals("request_failed", e.code, "its code")
        assertEquals(false, e.isTransient(), "not transient: asking again gets the same answer")
    }

    test("request() without a reply in time: Timeout, the request is cancelled, its holder signalled and its late reply dropped") {
        val q = newQueue("reqtimeout")
        val held = CompletableDeferred<Message>()
        launch { held.complete(q.receiver().nextWithin()) }
        val e = assertThrows<PgmqException.Timeout>("a request nobody answers in 300 ms") { q.request("slow", timeout = 300.milliseconds) }
        assertEquals("timeout", e.code, "its code")
        val msg = held.await()
        assertTrue(msg.id in e.reason, "the reason names the request: ${e.reason}")
        assertEquals(true, withTimeout(FIVE_S) { msg.awaitCancelled() }, "the worker holding it is signalled")
        msg.ackJson("""{"late": true}""")
        val reply = withTimeout(FIVE_S) { q.completion(listOf(msg.id)).replies() }.getValue(msg.id)
        assertEquals(Reply(Outcome.CANCELLED, null, null), reply, "the outcome stays CANCELLED, the late result is dropped")

        assertThrows<PgmqException.Timeout>("a request on a queue without workers") { q.request("alone", timeout = 100.milliseconds) }
        assertEquals(0uL, q.stats().messages, "the unanswered request was removed")
    }

    test("request() timeouts: zero and over 100 years are InvalidOption, negative is IllegalArgumentException; nothing is sent") {
        val q = newQueue("reqbounds")
        assertThrows<PgmqException.InvalidOption>("a zero timeout") { q.request("x", timeout = Duration.ZERO) }
        assertThrows<PgmqException.InvalidOption>("timeoutMs = 0") { q.request(OutgoingMessage(bytes("x")), timeoutMs = 0uL) }
        assertThrows<PgmqException.InvalidOption>("a timeout over 100 years") { q.request("x", timeout = (101 * 366).days) }
        assertThrows<IllegalArgumentException>("a negative timeout") { q.request("x", timeout = (-1).seconds) }
        assertEquals(0uL, q.stats().messages, "nothing was sent")
        assertEquals(30.seconds, DEFAULTS.request.timeout, "the default timeout is the core's")
    }

    test("cancelling the coroutine awaiting request() stops the wait and leaves the request queued; the client goes on") {
        val q = newQueue("reqcancel")
        val waiting = launch { q.request("abandoned") }
        eventually("the request is sent") { q.peek().isNotEmpty() }
        waiting.cancelAndJoin()
        val queued = q.peek()
        assertEquals(listOf("abandoned"), queued.map { it.body.decodeToString() }, "the request is still queued")
        val worker = echoWorker(q, 2)
        val reply = q.request("again", timeout = 5.seconds)
        assertEquals("niaga", reply.text, "a later request is answered")
        withTimeout(FIVE_S) { worker.join() }
        val abandoned = withTimeout(FIVE_S) { q.completion(listOf(queued[0].id)).replies() }.getValue(queued[0].id)
        assertEquals("denodnaba", abandoned.text, "the abandoned request was processed, its reply kept unread")
    }

    test("a result with an empty content type or a NUL is InvalidOption: the message stays held, can be cancelled, and acks afterwards") {
        val q = newQueue("badresult")
        val first = q.send(bytes("first"))
        val second = q.send(bytes("second"))
        val r = q.receiver(ReceiveOptions(batchSize = 2u))
        val a = r.nextWithin()
        val b = r.nextWithin()

        val cancelled = async(Dispatchers.Default) { a.awaitCancelled() }
        assertThrows<PgmqException.InvalidOption>("an empty content type") { a.ack(bytes("r"), contentType = "") }
        assertThrows<PgmqException.InvalidOption>("a content type with a NUL") { a.ack(bytes("r"), contentType = "text/plain\u0000") }
        assertEquals(false, a.isFinished, "the message is still held")
        q.cancel(listOf(a.id))
        assertEquals(true, withTimeout(FIVE_S) { cancelled.await() }, "a pending awaitCancelled() still learns of the cancel")
        a.ack("too late", contentType = "text/plain")
        assertEquals(Reply(Outcome.CANCELLED, null, null), withTimeout(FIVE_S) { first.reply() }, "cancelled while held: no result")

        assertThrows<PgmqException.InvalidOption>("an empty content type") { b.ack(bytes("r"), contentType = "") }
        b.ack("done", contentType = "text/plain; charset=utf-8")
        val reply = withTimeout(FIVE_S) { second.reply() }
        assertEquals(Reply(Outcome.COMPLETED, bytes("done"), "text/plain; charset=utf-8"), reply, "acked after the refusal")
        assertThrows<PgmqException.AlreadyFinished>("acking twice") { b.ack("again") }
    }

    test("Reply: toString() shows the result's length, never its bytes; equality compares contents") {
        val reply = Reply(Outcome.COMPLETED, bytes("secret token"), JSON_CONTENT_TYPE)
        assertEquals(
            "Reply(outcome=completed, result=12 bytes, contentType=application/json, reason=null)",
            reply.toString(),
            "toString()",
        )
        assertEquals(
            "Reply(outcome=expired, result=null, contentType=null, reason=null)",
            Reply(Outcome.EXPIRED, null, null).toString(),
            "no result",
        )
        assertEquals(Reply(Outcome.COMPLETED, bytes("secret token"), JSON_CONTENT_TYPE), reply, "equal contents, another array")
        assertEquals(reply.hashCode(), Reply(Outcome.COMPLETED, bytes("secret token"), JSON_CONTENT_TYPE).hashCode(), "hashCode()")
        assertTrue(reply != Reply(Outcome.COMPLETED, bytes("secret tokeN"), JSON_CONTENT_TYPE), "another result differs")
        val e = assertThrows<ContentTypeException>("json() of a text/csv result") { Reply(Outcome.COMPLETED, bytes("a"), "text/csv").json() }
        assertEquals(AttributeValue.Text("text/csv"), e.contentType, "the result's label")
        assertEquals("[1]", Reply(Outcome.COMPLETED, bytes("[1]"), "application/vnd.x+json").json(), "a +json label is JSON")
    }
}

/** A list of strings as JSON (enough for the tests: no escaping). */
private object JsonListOfStrings : Serializer<List<String>> {
    override val contentType = JSON_CONTENT_TYPE

    override fun encode(value: List<String>) = value.joinToString(",", "[", "]") { "\"$it\"" }.encodeToByteArray()

    @Suppress("UNCHECKED_CAST")
    override fun decode(bytes: ByteArray) = parseJson(bytes.decodeToString()) as List<String>
}
