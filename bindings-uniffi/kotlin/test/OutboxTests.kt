// The transactional send (io.pgmq.Outbox) through the PostgreSQL JDBC driver (Debian's pgjdbc, on the
// test classpath only): a message commits and rolls back with the application's own rows, wakes a
// receiver once per transaction, and the SQL functions' SQLSTATEs become pgmq's typed errors.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import org.postgresql.PGConnection
import java.io.File
import java.net.URI
import java.net.URLDecoder
import java.net.URLEncoder
import java.sql.Connection
import java.sql.DriverManager
import java.sql.SQLException
import java.time.Instant
import java.util.UUID
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

val outboxTests = suite {
    test("outbox: committed with the app's insert, the message reaches a receiver and its completion is observed by id") {
        val q = newQueue("outbox-commit")
        val table = appTable()
        val r = q.receiver()
        val id = jdbc().use { c ->
            c.autoCommit = false
            c.prepareStatement("INSERT INTO $table (note) VALUES (?)").use { it.setString(1, "order 42"); it.executeUpdate() }
            val id = Outbox.send(c, q.name(), bytes("order 42 placed"), attributes("order" to 42, "max" to Double.MAX_VALUE, "whole" to 2.0))
            r.assertNothingWithin(QUIET_MS, "before the commit")
            c.commit()
            id
        }
        val m = r.nextWithin(what = "the committed message")
        assertEquals(id.toString(), m.id, "the id Outbox.send returned")
        assertEquals("order 42 placed", m.text, "body")
        val sent = mapOf("order" to AttributeValue.Int(42), "max" to AttributeValue.Float(Double.MAX_VALUE), "whole" to AttributeValue.Float(2.0))
        assertEquals(sent, m.attributes, "attributes, floats kept floats")
        assertEquals(1L, count("SELECT count(*) FROM $table"), "the app's row committed with it")
        m.ack()
        val outcomes = withTimeout(FIVE_S) { connect().queue(q.name()).waitForCompletion(listOf(id.toString())) }
        assertEquals(mapOf(id.toString() to Outcome.COMPLETED), outcomes, "completion seen by another client")
    }

    test("outbox: a Python receiver gets the message of a committed JDBC transaction, acks it, and Kotlin sees it completed") {
        val python = File(".venv/bin/python").takeIf { it.canExecute() && pythonHasPgmq(it) } ?: run {
            println("    (skipped: no .venv/bin/python with pgmq; `make python` builds it)")
            return@test
        }
        val q = newQueue("outbox-python")
        val receiver = ProcessBuilder(python.path, "-c", PYTHON_RECEIVER, q.name())
            .also { it.environment()["DATABASE_URL"] = dsn }
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        try {
            val id = jdbc().use { c ->
                c.autoCommit = false
                val id = Outbox.sendJson(c, q.name(), """{"from": "kotlin"}""", attributes("lang" to "kotlin"))
                c.commit()
                id
            }
            val line = withTimeout(30_000) { runInterruptible(Dispatchers.IO) { receiver.inputStream.bufferedReader().readLine() } }
                ?: fail("the Python receiver printed nothing (exit ${receiver.waitFor()})")
            val got = parseJson(line) as Map<*, *>
            assertEquals(id.toString(), got["id"], "the id Python received")
            assertEquals(mapOf("from" to "kotlin"), got["json"], "message.json() in Python (the decoded value)")
            assertEquals(mapOf("content-type" to JSON_CONTENT_TYPE, "lang" to "kotlin"), got["attributes"], "attributes in Python")
            val outcomes = withTimeout(FIVE_S) { q.waitForCompletion(listOf(id.toString())) }
            assertEquals(Outcome.COMPLETED, outcomes[id.toString()], "the outcome Python's ack recorded")
        } finally {
            receiver.destroy()
        }
    }

    test("outbox: rolled back, nothing is delivered and no message row is left") {
        val q = newQueue("outbox-rollback")
        val table = appTable()
        val r = q.receiver()
        jdbc().use { c ->
            c.autoCommit = false
            c.prepareStatement("INSERT INTO $table (note) VALUES ('never')").use { it.executeUpdate() }
            Outbox.send(c, q.name(), bytes("never"))
            Outbox.sendJsonBatch(c, q.name(), listOf("1", "2"))
            assertEquals(3L, messagesOf(c, q.name()), "visible inside the transaction")
            c.rollback()
        }
        r.assertNothingWithin(QUIET_MS, "after the rollback")
        assertEquals(0L, count("SELECT count(*) FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = '${q.name()}'"), "message rows")
        assertEquals(0L, count("SELECT count(*) FROM $table"), "the app's rows")
    }

    test("outbox: 1,000 sends in one transaction wake a LISTEN connection once and leave 1,000 messages in order") {
        val q = newQueue("outbox-thousand")
        val channel = readyChannel(q.name())
        val listener = jdbc()
        try {
            listener.createStatement().use { it.execute("LISTEN \"$channel\"") }
            val ids = jdbc().use { c ->
                c.autoCommit = false
                val ids = (1..1_000).map { i -> Outbox.send(c, q.name(), bytes("m$i")) }
                c.commit()
                // A marker committed after the sends: notifications arrive in commit order, so once it is
                // in, every notification of the sends' transaction is in too.
                c.createStatement().use { it.execute("NOTIFY \"$channel\", 'test-marker'") }
                c.commit()
                ids
            }
            val payloads = notificationsUntil(listener, "test-marker")
            assertEquals(1, payloads.size, "notifications before the marker (payloads $payloads)")
            assertEquals(1_000, ids.toSet().size, "distinct ids")
            assertEquals(ids.sortedWith(compareBy { it.toString() }), ids, "ids increase in send order")
            assertEquals(1_000uL, q.stats().ready, "ready messages")
        } finally {
            listener.close()
        }
    }

    test("outbox: sendJson, a Serializer, sendBatch and sendJsonBatch deliver in order, JSON labelled for json()") {
        val q = newQueue("outbox-kinds")
        val ids = jdbc().use { c ->
            c.autoCommit = false
            val ids = listOf(Outbox.sendJson(c, q.name(), """{"n": 1}""")) +
                Outbox.send(c, q.name(), """{"n": 2}""", JsonText, attributes("k" to "v")) +
                Outbox.sendBatch(c, q.name(), listOf(outgoing("three"), outgoing("four", "n" to 4))) +
                Outbox.sendJsonBatch(c, q.name(), listOf("5", """"six""""), listOf(attributes("n" to 5), emptyMap()))
            c.commit()
            ids
        }
        assertEquals(6, ids.size, "ids")
        val r = q.receiver(ReceiveOptions(batchSize = 6u))
        val got = (1..6).map { r.nextWithin() }
        assertEquals(ids.map { it.toString() }, got.map { it.id }, "received in send order")
        val json = mapOf("content-type" to AttributeValue.Text(JSON_CONTENT_TYPE))
        assertEquals("""{"n": 1}""", got[0].json(), "sendJson body (jsonb's text)")
        assertEquals(json, got[0].attributes, "sendJson labels the body")
        assertEquals("""{"n": 2}""", got[1].json(), "serializer body")
        assertEquals(json + ("k" to AttributeValue.Text("v")), got[1].attributes, "serializer label and attributes")
        assertEquals(listOf("three", "four"), got.subList(2, 4).map { it.text }, "batch bodies")
        assertEquals(emptyMap<String, AttributeValue>(), got[2].attributes, "batch attributes (none)")
        assertEquals(mapOf("n" to AttributeValue.Int(4)), got[3].attributes, "batch attributes")
        assertEquals(listOf("5", "\"six\""), got.subList(4, 6).map { it.json() }, "JSON batch bodies")
        assertEquals(json + ("n" to AttributeValue.Int(5)), got[4].attributes, "JSON batch attributes")
        got.forEach { it.ack() }
        assertEquals(emptyList<UUID>(), jdbc().use { Outbox.sendBatch(it, q.name(), emptyList()) }, "an empty batch")
    }

    test("outbox: delay and scheduleAt make the message scheduled; track = false cannot be awaited") {
        val q = newQueue("outbox-timing")
        val untracked = jdbc().use { c ->
            Outbox.send(c, q.name(), bytes("later"), delay = 1.seconds + 500.milliseconds)
            Outbox.sendJson(c, q.name(), "{}", scheduleAt = Instant.now().plusSeconds(3600))
            Outbox.send(c, q.name(), bytes("untracked"), track = false)
        }
        val stats = q.stats()
        assertEquals(2uL, stats.scheduled, "scheduled")
        assertEquals(1uL, stats.ready, "ready")
        assertThrows<PgmqException.NotTracked>("waiting on an untracked send") { q.completion(listOf(untracked.toString())).completed() }
    }

    test("outbox: unknown queue is QueueNotFound, bad options InvalidOption (the SQLException the cause); nothing written") {
        val q = newQueue("outbox-errors")
        jdbc().use { c ->
            val missing = assertThrows<PgmqException.QueueNotFound>("unknown queue") { Outbox.send(c, unique("absent"), bytes("x")) }
            assertEquals("queue_not_found", missing.code, "code")
            assertTrue(missing.reason.startsWith("pgmq: "), "reason is the server's text: ${missing.reason}")
            assertEquals(Outbox.SQLSTATES.entries.first { it.value == "queue_not_found" }.key, (missing.cause as SQLException).sqlState, "cause")
            val invalid = listOf(
                "delay and scheduleAt" to { Outbox.send(c, q.name(), bytes("x"), delay = 1.seconds, scheduleAt = Instant.now()) },
                "a negative delay" to { Outbox.send(c, q.name(), bytes("x"), delay = (-1).seconds) },
                "a content-type that is not JSON" to { Outbox.sendJson(c, q.name(), "{}", attributes("content-type" to "text/plain")) },
                "attributes for 1 of 2 bodies" to { Outbox.sendJsonBatch(c, q.name(), listOf("1", "2"), listOf(emptyMap())) },
                "an attribute that is not a finite number" to { Outbox.send(c, q.name(), bytes("x"), attributes("f" to Double.NaN)) },
            )
            for ((what, call) in invalid) {
                val e = assertThrows<PgmqException.InvalidOption>(what) { call() }
                assertEquals("invalid_option", e.code, "$what: code")
            }
            val clash = assertThrows<PgmqException.InvalidOption>("a serializer's label against another") {
                Outbox.send(c, q.name(), "{}", JsonText, attributes("content-type" to "text/plain"))
            }
            assertTrue(clash.reason.contains("content-type"), "reason: ${clash.reason}")
        }
        assertEquals(0L, jdbc().use { messagesOf(it, q.name()) }, "messages written")
    }

    test("outbox: a failed send aborts only until a rollback to a savepoint; the transaction can go on and commit") {
        val q = newQueue("outbox-savepoint")
        jdbc().use { c ->
            c.autoCommit = false
            val sp = c.setSavepoint()
            assertThrows<PgmqException.QueueNotFound>("unknown queue") { Outbox.send(c, unique("absent"), bytes("x")) }
            c.rollback(sp)
            Outbox.send(c, q.name(), bytes("after the savepoint"))
            c.commit()
        }
        val m = q.receiver().nextWithin()
        assertEquals("after the savepoint", m.text, "body")
        m.ack()
    }

    test("outbox: a producer role (pgmq.grant_producer) can send; a role without the grant gets permission denied") {
        val q = newQueue("outbox-roles")
        val producer = unique("producer").replace('-', '_')
        val stranger = unique("stranger").replace('-', '_')
        jdbc().use { c ->
            c.createStatement().use { st ->
                st.execute("CREATE ROLE $producer LOGIN")
                st.execute("CREATE ROLE $stranger LOGIN")
                st.execute("SELECT pgmq.grant_producer('$producer')")
            }
        }
        try {
            jdbc(user = producer).use { c -> Outbox.send(c, q.name(), bytes("from a producer")) }
            val denied = assertThrows<SQLException>("without the grant") { jdbc(user = stranger).use { c -> Outbox.send(c, q.name(), bytes("x")) } }
            assertEquals("42501", denied.sqlState, "SQLSTATE (insufficient_privilege): ${denied.message}")
            val m = q.receiver().nextWithin()
            assertEquals("from a producer", m.text, "the producer's message")
            m.ack()
        } finally {
            jdbc().use { c ->
                c.createStatement().use { st ->
                    for (role in listOf(producer, stranger)) {
                        st.execute("DROP OWNED BY $role")
                        st.execute("DROP ROLE $role")
                    }
                }
            }
        }
    }

    test("outbox: the statements are the core's, in JDBC's ? style, for the default and a custom schema") {
        for (kind in OutboxKind.entries) {
            val sql = outboxStatement(kind, null, ParamStyle.QUESTION_MARK)
            assertEquals(6, sql.count { it == '?' }, "$kind: six ? placeholders in $sql")
            assertTrue('$' !in sql, "$kind: no \$n left in $sql")
            val dollar = outboxStatement(kind, null, ParamStyle.DOLLAR)
            assertEquals(sql, Regex("\\$[1-6]").replace(dollar, "?"), "$kind: ? is \$n rewritten")
            val custom = outboxStatement(kind, "jobs_pgmq", ParamStyle.QUESTION_MARK)
            assertEquals(sql.replace("pgmq.", "\"jobs_pgmq\"."), custom, "$kind: in a custom schema")
            assertEquals(sql, outboxStatement(kind, "pgmq", ParamStyle.QUESTION_MARK), "$kind: schema pgmq is the default")
        }
        assertThrows<PgmqException.InvalidOption>("an invalid schema name") { outboxStatement(OutboxKind.SEND, "Bad Schema", ParamStyle.QUESTION_MARK) }
    }

    test("outbox: schema = a client's custom schema sends into it") {
        val schema = "pgmq_kt_" + unique("ob").filter { it.isLetterOrDigit() }.lowercase()
        val c = connect(clientOptions(schema = schema))
        try {
            c.migrate()
            val name = unique("outbox-schema")
            c.createQueue(name, QueueOptions())
            val id = jdbc().use { Outbox.send(it, name, bytes("in $schema"), schema = schema) }
            val m = c.queue(name).receiver().nextWithin()
            assertEquals(id.toString(), m.id, "id")
            m.ack()
            assertThrows<PgmqException.QueueNotFound>("a queue of the default schema only") {
                jdbc().use { Outbox.send(it, name, bytes("x")) }
            }
        } finally {
            c.shutdown()
            withContext(NonCancellable) { jdbc().use { j -> j.createStatement().use { it.execute("DROP SCHEMA $schema CASCADE") } } }
        }
    }

    test("outbox: Outbox.SQLSTATES is the core's map (truthsJson), and each code is one of the core's error codes") {
        val core = (parseJson(truthsJson()) as Map<*, *>)["sqlstates"] as Map<*, *>
        assertEquals(core, Outbox.SQLSTATES, "SQLSTATE -> code")
        assertEquals(setOf("queue_not_found", "invalid_option", "queue_full"), core.values.toSet(), "the codes the SQL functions raise")
        val codes = errorCodes().map { it.code }.toSet()
        assertTrue(codes.containsAll(Outbox.SQLSTATES.values), "codes of ${Outbox.SQLSTATES} among $codes")
        for ((state, code) in Outbox.SQLSTATES) {
            val e = Outbox.exceptionOf(SQLException("ERROR: pgmq: made up\n  Where: here", state))
            assertEquals(code, e?.code, "$state maps to")
            assertEquals("pgmq: made up", e?.javaClass?.getMethod("getReason")?.invoke(e), "$state: the reason is the server's first line")
        }
        assertEquals(null, Outbox.exceptionOf(SQLException("not pgmq's", "23505")), "another SQLSTATE is not pgmq's")
    }
}

// ---- a receiver in Python ---------------------------------------------------------------------------

/** Receives one message from the queue argv[1] with the Python package, acks it and prints it as JSON. */
private const val PYTHON_RECEIVER = """
import asyncio, json, os, sys
import pgmq

async def main():
    async with pgmq.connect(os.environ["DATABASE_URL"]) as client:
        async with pgmq.connect_to_queue(sys.argv[1], client) as queue:
            async with queue.receive() as stream:
                handle = await stream.receive()
                async with handle.acquire() as message:  # acked when the block ends
                    line = {"id": str(message.id), "json": message.json(), "attributes": message.attributes}
    print(json.dumps(line), flush=True)

asyncio.run(asyncio.wait_for(main(), 60))
"""

private fun pythonHasPgmq(python: File): Boolean =
    runCatching { ProcessBuilder(python.path, "-c", "import pgmq").start().waitFor() == 0 }.getOrDefault(false)

// ---- JDBC ------------------------------------------------------------------------------------------

/** DATABASE_URL (a libpq URL) as a pgjdbc URL: `jdbc:postgresql://host:port/db?user=...&password=...`. */
private fun jdbcUrl(dsn: String, user: String? = null): String {
    val uri = URI(dsn)
    val (dsnUser, password) = (uri.rawUserInfo ?: "").split(":", limit = 2).map { URLDecoder.decode(it, "UTF-8") } + listOf("", "")
    val params = listOfNotNull(
        "user" to (user ?: dsnUser.ifEmpty { "postgres" }),
        password.takeIf { it.isNotEmpty() && user == null }?.let { "password" to it },
    ).joinToString("&") { (k, v) -> "$k=${URLEncoder.encode(v, "UTF-8")}" }
    val port = if (uri.port > 0) ":${uri.port}" else ""
    return "jdbc:postgresql://${uri.host}$port${uri.rawPath.ifEmpty { "/postgres" }}?$params"
}

/** A JDBC connection to the test database (as [user], with no password, when given; trust auth). */
internal fun TestContext.jdbc(user: String? = null): Connection = DriverManager.getConnection(jdbcUrl(dsn, user))

/** The single number [sql] selects, on a connection of its own. */
private fun TestContext.count(sql: String): Long = jdbc().use { c ->
    c.createStatement().use { st -> st.executeQuery(sql).use { rs -> rs.next(); rs.getLong(1) } }
}

/** The rows of pgmq.messages for [queue], as [c] sees them (inside its transaction). */
private fun messagesOf(c: Connection, queue: String): Long =
    c.prepareStatement("SELECT count(*) FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = ?").use { st ->
        st.setString(1, queue)
        st.executeQuery().use { rs -> rs.next(); rs.getLong(1) }
    }

/** An application table of the test's own (dropped after the test, as its queues are). */
private fun TestContext.appTable(): String {
    val name = unique("orders").replace('-', '_')
    jdbc().use { c -> c.createStatement().use { it.execute("CREATE TABLE $name (id bigserial PRIMARY KEY, note text NOT NULL)") } }
    dropAfter(name)
    return name
}

private fun TestContext.dropAfter(table: String) {
    deferred += { jdbc().use { c -> c.createStatement().use { it.execute("DROP TABLE IF EXISTS $table") } } }
}

/** The channel a send to [queue] notifies: the core's prefix (truthsJson) and the queue's id. */
private fun TestContext.readyChannel(queue: String): String {
    val prefix = ((parseJson(truthsJson()) as Map<*, *>)["protocol"] as Map<*, *>)["ready_channel_prefix"] as String
    return prefix + count("SELECT id FROM pgmq.queues WHERE name = '$queue'")
}

/** The payloads of the notifications [listener] gets before the one whose payload is [marker]. */
private suspend fun notificationsUntil(listener: Connection, marker: String): List<String> = withContext(Dispatchers.IO) {
    val pg = listener.unwrap(PGConnection::class.java)
    val payloads = mutableListOf<String>()
    val deadline = System.nanoTime() + FIVE_S * 1_000_000
    while (true) {
        val left = (deadline - System.nanoTime()) / 1_000_000
        if (left <= 0) fail("no marker notification within $FIVE_S ms (got $payloads)")
        for (n in pg.getNotifications(left.toInt()) ?: emptyArray()) {
            if (n.parameter == marker) return@withContext payloads
            payloads += n.parameter
        }
    }
    @Suppress("UNREACHABLE_CODE") payloads
}
