// Receiving goes on across connection loss: a claim cut off mid-flight, every backend of the receiving
// client terminated. The error is reported to `onError` (ReceiveOptions.onError, or the lambda of
// messages(onError = ...)), never the end of next() or of the Flow: the Kotlin side of Python's
// test_resilience.py and Node's resilience.test.ts.
//
// The server side is driven with psql, never through pgmq: a lock on pgmq.messages for a claim to block
// on (a psql session kept open), and pg_terminate_backend of the receiving client's backends, told apart
// by an application_name of their own (`pgmq-kt-...`; the suite's shared client is left alone). A
// cut-off claim is reported once as a rule, but may be twice (a retry that comes before the client has
// seen the end of the terminated backend's socket takes that pooled connection again), so the tests ask
// for at least one report, every one a connection error. Terminating idle backends may be recovered
// without a report (the pool drops a closed connection before a claim takes it): there only delivery is
// asserted.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import kotlinx.coroutines.channels.Channel
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

private const val TEN_S = 10_000L

val resilienceTests = suite {
    test("a claim cut off mid-flight is reported to onError as a Connection error; the same next() delivers") {
        if (noPsql()) return@test
        val reports = Channel<PgmqException>(Channel.UNLIMITED)

        val (sent, received) = receiveAcrossACutOffClaim(ReceiveOptions(onError = ReceiveErrorHandler { reports.trySend(it) }))

        assertEquals(sent, received, "the message sent before the cut")
        assertConnectionErrors(listOf(withTimeout(TEN_S) { reports.receive() }) + reports.drain())
    }

    test("an onError that throws (uniffi: a panic in Rust, printed) ends that call only: the receiver goes on and delivers") {
        if (noPsql()) return@test
        val called = CompletableDeferred<PgmqException>()
        val throwing = object : ReceiveErrorHandler {
            override fun onError(error: PgmqException) {
                called.complete(error)
                throw IllegalStateException("onError itself failed (expected in this test)")
            }
        }

        val (sent, received) = receiveAcrossACutOffClaim(ReceiveOptions(onError = throwing))

        assertEquals(sent, received, "the message sent before the cut")
        assertConnectionErrors(listOf(withTimeout(TEN_S) { called.await() }))
    }

    test("an onError that blocks holds up no receiver: next() delivers while it is still blocked") {
        if (noPsql()) return@test
        val entered = CompletableDeferred<PgmqException>()
        val unblock = CountDownLatch(1)
        val blocking = ReceiveErrorHandler { e ->
            entered.complete(e)
            unblock.await(60, TimeUnit.SECONDS)
        }
        try {
            val (sent, received) = receiveAcrossACutOffClaim(ReceiveOptions(onError = blocking)) {
                // Blocked before the lock goes: the delivery below happens while it still is.
                assertConnectionErrors(listOf(withTimeout(TEN_S) { entered.await() }))
            }

            assertEquals(sent, received, "the message sent before the cut, delivered while onError blocks")
        } finally {
            unblock.countDown()
        }
    }

    test("messages(onError) goes on across a cut-off claim and the termination of every backend of its client") {
        if (noPsql()) return@test
        val app = "pgmq-" + unique("flowcut")
        val receiving = connect(ClientOptions(applicationName = app))
        val q = newQueue("flowcut")
        val before = q.send("sent before the cut")
        val reports = Channel<PgmqException>(Channel.UNLIMITED)
        val got = Channel<Message>(Channel.UNLIMITED)

        val collecting = lockMessages(dsn).use { lock ->
            val job = launch(Dispatchers.Default) {
                receiving.queue(q.name()).messages(onError = { reports.trySend(it) }).collect { m -> m.ack(); got.send(m) }
            }
            lock.terminateTheClaimOf(app)
            terminate(dsn, backendsOf(dsn, app))
            job
        }
        val first = withTimeout(TEN_S) { got.receive() }
        val after = q.send("sent after the cut")
        val second = withTimeout(TEN_S) { got.receive() }
        val firstReport = withTimeout(TEN_S) { reports.receive() }
        collecting.cancelAndJoin()

        assertEquals(listOf(before.id(), after.id()), listOf(first.id, second.id), "both messages, in order")
        assertConnectionErrors(listOf(firstReport) + reports.drain())
    }

    test("messages() survives the termination of every backend of its client: N sent before, N after, each once") {
        if (noPsql()) return@test
        val n = 5
        val app = "pgmq-" + unique("flowkill")
        val receiving = connect(ClientOptions(applicationName = app))
        val q = newQueue("flowkill")
        val reports = Channel<PgmqException>(Channel.UNLIMITED)
        val got = Channel<Message>(Channel.UNLIMITED)
        val collecting = launch(Dispatchers.Default) {
            receiving.queue(q.name()).messages(onError = { reports.trySend(it) }).collect { m -> m.ack(); got.send(m) }
        }
        val before = q.sendBatch((1..n).map { outgoing("before $it") }).ids()
        val delivered = (1..n).map { withTimeout(TEN_S) { got.receive() } }.toMutableList()
        // Every ack committed, so none can be lost with the connections.
        eventually("the first $n acked", TEN_S) { q.stats().messages == 0uL }

        val pids = backendsOf(dsn, app)
        assertTrue(pids.size >= 2, "a pool and a LISTEN backend: $pids")
        terminate(dsn, pids)
        val after = q.sendBatch((1..n).map { outgoing("after $it") }).ids()
        repeat(n) { delivered += withTimeout(TEN_S) { got.receive() } }
        collecting.cancelAndJoin()

        assertEquals((before + after).sorted(), delivered.map { it.id }.sorted(), "each of the ${2 * n} delivered once")
        assertEquals(List(2 * n) { 1u }, delivered.map { it.deliveryAttempt }, "no redelivery")
        eventually("all acked", TEN_S) { q.stats().messages == 0uL }
        reports.drain().forEach { assertEquals("connection", it.code, "a report: $it") }
    }

    test("ReceiveErrorHandler { } calls the lambda; an exception it throws is printed, not thrown") {
        val seen = mutableListOf<PgmqException>()
        val error = PgmqException.Connection("cut")
        ReceiveErrorHandler { seen += it }.onError(error)
        assertEquals(listOf<PgmqException>(error), seen, "the lambda got the error")
        ReceiveErrorHandler { throw IllegalStateException("onError itself failed (expected in this test)") }.onError(error)
    }

    test("ReceiveOptions: onError is not compared (equal options with and without a handler)") {
        val handler = ReceiveErrorHandler {}
        val withHandler = ReceiveOptions(batchSize = 2u, onError = handler)
        assertEquals(ReceiveOptions(batchSize = 2u), withHandler, "equals")
        assertEquals(ReceiveOptions(batchSize = 2u).hashCode(), withHandler.hashCode(), "hashCode")
        assertTrue(withHandler.onError === handler, "the handler is kept")
    }
}

/** True (with the reason printed: the test is skipped) when there is no psql to drive the server with. */
private fun noPsql(): Boolean {
    if (PSQL != null) return false
    println("    (skipped: no psql to lock tables and terminate backends with)")
    return true
}

/** What the channel holds now. */
private fun <T> Channel<T>.drain(): List<T> = generateSequence { tryReceive().getOrNull() }.toList()

private fun assertConnectionErrors(reports: List<PgmqException>) {
    assertTrue(reports.isNotEmpty(), "nothing was reported")
    for (e in reports) {
        assertTrue(e is PgmqException.Connection, "expected PgmqException.Connection, got $e")
        assertEquals("connection", e.code, "code of $e")
    }
}

/**
 * Sends a message and receives it with a receiver of [options] whose claim is terminated while it is
 * blocked on a lock on pgmq.messages; runs [whileLocked], then lets the lock go. Returns (sent id,
 * received id); the message is acked.
 */
private suspend fun TestContext.receiveAcrossACutOffClaim(
    options: ReceiveOptions,
    whileLocked: suspend () -> Unit = {},
): Pair<String, String> {
    val app = "pgmq-" + unique("cutclaim")
    val receiving = connect(ClientOptions(applicationName = app))
    val q = newQueue("cutclaim")
    val sent = q.send("survives")
    val receiver = receiving.queue(q.name()).receiver(options)
    try {
        val next = lockMessages(dsn).use { lock ->
            val next = async(Dispatchers.Default) { receiver.next() }
            lock.terminateTheClaimOf(app)
            whileLocked()
            next
        }
        val m = withTimeout(TEN_S) { next.await() } ?: fail("next() returned null: the receiver ended instead of recovering")
        m.ack()
        return sent.id() to m.id
    } finally {
        receiver.stop()
    }
}

/** The pids of the backends whose application_name is [app]. */
private suspend fun backendsOf(dsn: String, app: String): List<Int> =
    psql(listOf(dsn), "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'").lines().filter { it.isNotEmpty() }.map { it.toInt() }

/** Terminates the backends [pids] and waits until they are gone. */
private suspend fun terminate(dsn: String, pids: List<Int>) {
    if (pids.isEmpty()) return
    val list = pids.joinToString(",")
    val killed = psql(listOf(dsn), "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[$list]) AS pid").lines()
    assertEquals(pids.map { "t" }, killed, "pg_terminate_backend of $pids")
    eventually("backends $pids gone after pg_terminate_backend", TEN_S) {
        psql(listOf(dsn), "SELECT count(*) FROM pg_stat_activity WHERE pid IN ($list)") == "0"
    }
}

/** Takes [MessagesLock] (blocking psql I/O, off the test's thread). */
private suspend fun lockMessages(dsn: String): MessagesLock = withContext(Dispatchers.IO) { MessagesLock(dsn) }

/**
 * pgmq.messages locked ACCESS EXCLUSIVE by a psql session of its own, so that a claim blocks in the
 * server; [close] rolls the lock back (the server does too if psql dies).
 */
private class MessagesLock(private val dsn: String) : AutoCloseable {
    private val session = ProcessBuilder(PSQL!!, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", dsn).redirectErrorStream(true).start()
    private val input = session.outputStream.bufferedWriter()
    private val output = session.inputStream.bufferedReader()

    /** The backend holding the lock. */
    private val pid: Int

    init {
        input.write("SET lock_timeout = '5s'; BEGIN; LOCK TABLE pgmq.messages IN ACCESS EXCLUSIVE MODE; SELECT pg_backend_pid();\n")
        input.flush()
        val line = output.readLine()
        pid = line?.toIntOrNull() ?: run {
            session.destroyForcibly()
            fail("psql could not lock pgmq.messages: $line")
        }
    }

    /** Waits until the claim of a backend of [app] is blocked on this lock, then terminates that backend. */
    suspend fun terminateTheClaimOf(app: String) {
        var blocked = emptyList<Int>()
        eventually("the receiver's claim blocked on the lock", TEN_S) {
            blocked = psql(
                listOf(dsn),
                "SELECT pid FROM pg_stat_activity WHERE application_name = '$app' AND query LIKE '%SKIP LOCKED%' " +
                    "AND $pid = ANY(pg_blocking_pids(pid))",
            ).lines().filter { it.isNotEmpty() }.map { it.toInt() }
            blocked.size == 1
        }
        terminate(dsn, blocked)
    }

    override fun close() {
        runCatching {
            input.write("ROLLBACK;\n\\q\n")
            input.close()
        }
        if (!session.waitFor(5, TimeUnit.SECONDS)) session.destroyForcibly()
    }
}
