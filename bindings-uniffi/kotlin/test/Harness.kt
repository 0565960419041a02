// A small test harness (no JUnit, no Gradle): suites are lists of named suspend tests, each run with a
// time bound against the PostgreSQL of DATABASE_URL, each on queues of its own (deleted afterwards).
// Waits are bounded: on an event (withTimeout around the awaited call) or, where there is no event to
// wait on (counts changed by another worker or by housekeeping), `eventually` re-reads every 20 ms.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import java.util.UUID

/** How long a waited-for event may take before the test fails. */
const val FIVE_S = 5_000L

/** How long a receiver that must get nothing is watched. */
const val QUIET_MS = 300L

class TestCase(val name: String, val timeoutMs: Long, val body: suspend TestContext.() -> Unit)

class Suite {
    val tests = mutableListOf<TestCase>()

    fun test(name: String, timeoutMs: Long = 30_000, body: suspend TestContext.() -> Unit) {
        tests += TestCase(name, timeoutMs, body)
    }
}

fun suite(build: Suite.() -> Unit): List<TestCase> = Suite().apply(build).tests

/**
 * What a test gets: the DSN, a shared migrated client, queues of its own, and a coroutine scope (the
 * test's `coroutineScope {}`: `launch` / `async` in a test are its children).
 */
class TestContext(val dsn: String, val client: Client) : CoroutineScope {
    internal lateinit var scope: CoroutineScope
    override val coroutineContext get() = scope.coroutineContext
    private val created = mutableListOf<String>()
    private val closeables = mutableListOf<AutoCloseable>()

    /** Cleanups a test registers (dropping a table, a role), run after it before its queues are deleted. */
    val deferred = mutableListOf<suspend () -> Unit>()

    /** Creates a queue named `prefix-<random>` (deleted after the test) and returns its handle. */
    suspend fun newQueue(prefix: String, options: QueueOptions = QueueOptions()): Queue {
        val name = unique(prefix)
        assertTrue(client.createQueue(name, options), "createQueue($name) returns true")
        created += name
        return client.queue(name)
    }

    /** Deletes [name] after the test. */
    fun deleteAfter(name: String) {
        created += name
    }

    /** A client of the test's own, closed after the test if it is still open. */
    suspend fun connect(options: ClientOptions? = null): Client =
        Client.connect(dsn, options).also { closeables += it }

    internal suspend fun cleanup() {
        for (c in closeables.asReversed()) runCatching { c.close() }
        for (d in deferred.asReversed()) runCatching { d() }
        for (name in created) runCatching { client.deleteQueue(name) }
    }
}

class AssertionFailed(message: String) : AssertionError(message)

fun fail(message: String): Nothing = throw AssertionFailed(message)

fun assertTrue(condition: Boolean, what: String) {
    if (!condition) fail(what)
}

fun <T> assertEquals(expected: T, actual: T, what: String = "") {
    if (expected != actual) fail("${if (what.isEmpty()) "" else "$what: "}expected <$expected>, got <$actual>")
}

/** Runs [block] and returns the exception of type [E] it throws; fails if it returns or throws another. */
suspend inline fun <reified E : Throwable> assertThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        if (e is CancellationException) throw e
        fail("$what: expected ${E::class.simpleName}, got $e")
    }
    fail("$what: expected ${E::class.simpleName}, nothing was thrown")
}

/** A queue name of its own for one test (prefix + 12 random hex digits). */
fun unique(prefix: String): String = "kt-$prefix-" + UUID.randomUUID().toString().replace("-", "").take(12)

fun Long.ms(): String = "$this ms"

/** Milliseconds since [startNanos] (from System.nanoTime()). */
fun elapsedMs(startNanos: Long): Long = (System.nanoTime() - startNanos) / 1_000_000

fun median(samples: List<Long>): Long = samples.sorted()[samples.size / 2]

/** Re-runs [check] every 20 ms until it returns true; fails after [limitMs]. */
suspend fun eventually(what: String, limitMs: Long = FIVE_S, check: suspend () -> Boolean) {
    val start = System.nanoTime()
    while (!check()) {
        if (elapsedMs(start) >= limitMs) fail("$what: still not true after $limitMs ms")
        delay(20)
    }
}

/** The next message, which must arrive within [limitMs]. */
suspend fun Receiver.nextWithin(limitMs: Long = FIVE_S, what: String = "a message"): Message =
    withTimeoutOrNull(limitMs) { next() ?: fail("$what: next() returned null (receiver closed)") }
        ?: fail("$what: nothing delivered within $limitMs ms")

/** Watches the receiver for [limitMs]; fails (releasing it) if it delivers anything. */
suspend fun Receiver.assertNothingWithin(limitMs: Long, what: String) {
    val m = withTimeoutOrNull(limitMs) { next() }
    if (m != null) {
        m.lease.release()
        fail("$what: message ${m.id} (attempt ${m.deliveryAttempt}) was delivered")
    }
}

/** Waits until the queue holds no leased message. */
suspend fun Queue.awaitNothingLeased(what: String, limitMs: Long = FIVE_S) =
    eventually("$what: stats().leased == 0", limitMs) { stats().leased == 0uL }

fun bytes(s: String): ByteArray = s.encodeToByteArray()

/** psql from the test cluster's binaries (PGMQ_PG_BIN) or PATH; null when there is none. */
val PSQL: String? by lazy {
    (listOfNotNull(System.getenv("PGMQ_PG_BIN")) + System.getenv("PATH").orEmpty().split(':'))
        .map { "$it/psql" }
        .firstOrNull { java.io.File(it).canExecute() }
}

/**
 * Runs [sql] with psql, connected by [connection] (a DSN, or psql's `-h`/`-p`/`-U`/`-d` arguments), and
 * returns its unaligned, tuples-only output (rows on lines, columns split by `|`). Fails the test when
 * psql is missing or the statement fails. The tests use it to see what the server saw, through a
 * connection that is not pgmq's.
 */
suspend fun psql(connection: List<String>, sql: String): String = withContext(Dispatchers.IO) {
    val exe = PSQL ?: fail("psql is needed (on PATH, or in PGMQ_PG_BIN)")
    val p = ProcessBuilder(listOf(exe, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1") + connection + listOf("-c", sql))
        .redirectErrorStream(true)
        .start()
    val out = p.inputStream.bufferedReader().readText()
    if (p.waitFor() != 0) fail("psql -c '$sql': $out")
    out.trim()
}

/**
 * A psql session of its own, kept open so that a test can hold a transaction (and its locks) while pgmq
 * works; [close] rolls back whatever is open and ends it (the server rolls back too if psql dies).
 */
class PsqlSession(dsn: String) : AutoCloseable {
    private val process = ProcessBuilder(PSQL ?: fail("psql is needed"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", dsn)
        .redirectErrorStream(true)
        .start()
    private val input = process.outputStream.bufferedWriter()
    private val output = process.inputStream.bufferedReader()

    /** Sends [sql], which must print one line (end it with a SELECT), and returns that line. */
    suspend fun query(sql: String): String = withContext(Dispatchers.IO) {
        input.write(sql + "\n")
        input.flush()
        output.readLine() ?: fail("psql ended: $sql")
    }

    /** Sends [sql], which prints nothing, without waiting for it. */
    suspend fun send(sql: String) = withContext(Dispatchers.IO) {
        input.write(sql + "\n")
        input.flush()
    }

    override fun close() {
        runCatching {
            input.write("ROLLBACK;\n\\q\n")
            input.close()
        }
        if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly()
    }
}

/** [dsn] (a URL) pointing at database [db] instead of its own. */
fun dsnOfDatabase(dsn: String, db: String): String = dsn.replace(Regex("/[^/?]*(\\?|$)"), "/$db$1")
