// Client lifecycle and options (application_name, statement cache through PgBouncer, connect retry, masked
// passwords), queue management and every error class.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import java.io.IOException
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import java.util.UUID
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread

val clientTests = suite {
    test("connect with default options, migrate twice returns the same version") {
        val c = connect()
        val v1 = c.migrate()
        val v2 = c.migrate()
        assertTrue(v1 >= 1, "schema version >= 1, got $v1")
        assertEquals(v1, v2, "migrating twice is a no-op")
        assertEquals(false, c.isClosed(), "isClosed() before shutdown")
        c.shutdown()
    }

    test("connect with listenDsn, poolSize and connectTimeoutMs gives a working client") {
        val c = connect(ClientOptions(listenDsn = dsn, poolSize = 2u, connectTimeoutMs = 5_000uL))
        val name = unique("opts")
        deleteAfter(name)
        assertTrue(c.createQueue(name, QueueOptions()), "createQueue")
        val q = c.queue(name)
        val sent = q.send(bytes("x"))
        val r = q.receiver()
        val m = r.nextWithin()
        assertEquals(sent.id(), m.id, "received id")
        m.ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
        c.shutdown()
    }

    test("schema: a client of its own schema migrates into it and works; a bad name is InvalidOption") {
        val schema = "pgmq_kt_" + unique("s").filter { it.isLetterOrDigit() }.lowercase()
        val c = Client.connect(dsn, ClientOptions(schema = schema))
        try {
            assertTrue(c.migrate() >= 5, "migrated into $schema")
            roundTrip(c, "in its own schema")
            assertEquals("t", psql(listOf(dsn), "SELECT to_regclass('$schema.messages') IS NOT NULL"), "tables in $schema")
        } finally {
            c.shutdown()
            withContext(NonCancellable) { psql(listOf(dsn), "DROP SCHEMA $schema CASCADE") }
        }
        assertThrows<PgmqException.InvalidOption>("schema = Not Valid") {
            Client.connect(dsn, ClientOptions(schema = "Not Valid")).close()
        }
    }

    test("ClientOptions() has the core's defaults") {
        assertEquals(defaultClientOptions(), ClientOptions(), "ClientOptions() against the core's ClientOptions::default()")
    }

    test("statementCache = false: a send, receive and ack round trip through transaction-pooling PgBouncer") {
        val bouncer = System.getenv("PGMQ_PGBOUNCER_URL") ?: run {
            if (System.getenv("PGMQ_REQUIRE_PGBOUNCER_TESTS") == "1") {
                fail("PGMQ_REQUIRE_PGBOUNCER_TESTS=1 but PGMQ_PGBOUNCER_URL is not set: run the tests with PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh")
            }
            println("    (skipped: no PgBouncer; PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh starts one)")
            return@test
        }
        // Work through the pooler, LISTEN direct: named statements would leak between the pooler's clients.
        val c = connect(ClientOptions(listenDsn = dsn, poolSize = 2u, statementCache = false))
        roundTrip(c, "through pgbouncer")
    }

    test("connectRetryMs waits for a server that hangs up while it starts") {
        if (!dsn.startsWith("postgres")) {
            println("    (skipped: DATABASE_URL is not a URL, whose host and port the front would take)")
            return@test
        }
        val server = URI(dsn)
        HangingUpFront(server, hangUps = 2).use { front ->
            val frontDsn = URI(server.scheme, server.userInfo, "127.0.0.1", front.port, server.path, server.query, null).toString()
            val withoutRetry = assertThrows<PgmqException.Connection>("connect without a retry") {
                Client.connect(frontDsn, ClientOptions(poolSize = 1u)).close()
            }
            Client.connect(frontDsn, ClientOptions(poolSize = 1u, connectRetryMs = 10_000uL)).use { c ->
                roundTrip(c, "after the retry")
            }
            assertEquals("connection", withoutRetry.code, "code without a retry")
            // The first two were hung up on (one each); the retry got through on the third.
            assertTrue(front.accepted.get() >= 3, "${front.accepted.get()} connections")
        }
    }

    test("maintenanceIntervalMs = 0 is InvalidOption; clientOptions(maintenanceInterval = ...) gives a working client") {
        assertThrows<PgmqException.InvalidOption>("maintenanceIntervalMs = 0") { connect(ClientOptions(maintenanceIntervalMs = 0uL)) }
        val c = connect(clientOptions(maintenanceInterval = kotlin.time.Duration.parse("250ms")))
        assertEquals(client.schemaVersion(), c.schemaVersion(), "it works")
        c.closeAsync()
    }

    test("statementTimeoutMs = 0 is InvalidOption") {
        val e = assertThrows<PgmqException.InvalidOption>("statementTimeoutMs = 0") {
            Client.connect(dsn, ClientOptions(statementTimeoutMs = 0uL)).close()
        }
        assertTrue("statement_timeout" in e.reason, "the reason names the option: ${e.reason}")
    }

    test("client.use {} closes the client: its pending receiver returns null, later sends fail with Closed") {
        val name = unique("use")
        val c = Client.connect(dsn)
        c.use {
            assertTrue(it.createQueue(name, QueueOptions()), "createQueue")
        }
        deleteAfter(name)
        // A second client, closed by `use` while one of its receivers waits.
        val c2 = Client.connect(dsn)
        val (q, pending) = c2.use {
            val q = it.queue(name)
            q.send("sent inside use")
            val r = q.receiver(ReceiveOptions(filter = attr("never").exists()))
            q to async(Dispatchers.Default) { r.next() }
        }
        assertEquals(null, withTimeout(FIVE_S) { pending.await() }, "pending next() after close")
        val e = assertThrows<PgmqException.Closed>("send through a queue of a closed client") { q.send(bytes("late")) }
        assertEquals("closed", e.code, "code")
        // The message sent inside `use` is durable and reaches another client.
        val m = client.queue(name).receiver().nextWithin()
        assertEquals("sent inside use", m.text, "body")
        m.ack()
    }

    test("a queue keeps working after its Client object is no longer referenced and collected (GC)") {
        // The README and client.rs: close a client with close()/use {}, "or let it go when unreferenced".
        // A Queue obtained from it still references it, so it must not be closed under the queue.
        val name = newQueue("gc").name()
        val (q, ref) = queueOfUnreferencedClient(dsn, name)
        var collected = false
        for (i in 0 until 40) {
            System.gc()
            delay(50)
            if (ref.get() == null) {
                collected = true
                break
            }
        }
        if (!collected) {
            println("    (the JVM did not collect the Client object: nothing to check)")
            return@test
        }
        delay(500) // the cleaner thread frees the native handle
        val sent = try {
            q.send(bytes("after gc"))
        } catch (e: PgmqException) {
            fail("send through a queue whose Client object was collected: $e")
        }
        val m = client.queue(name).receiver().nextWithin()
        assertEquals(sent.id(), m.id, "id")
        m.ack()
    }

    test("shutdown(): isClosed() turns true, a waiting receiver gets null, sends fail with Closed") {
        val c = connect()
        val name = unique("shut")
        deleteAfter(name)
        c.createQueue(name, QueueOptions())
        val q = c.queue(name)
        val r = q.receiver()
        val pending = async(Dispatchers.Default) { r.next() }
        c.shutdown()
        assertEquals(true, c.isClosed(), "isClosed() after shutdown")
        assertEquals(null, withTimeout(FIVE_S) { pending.await() }, "pending next() after shutdown")
        assertEquals(null, withTimeout(FIVE_S) { r.next() }, "next() after shutdown")
        assertThrows<PgmqException.Closed>("send after shutdown") { q.send(bytes("x")) }
        assertThrows<PgmqException.Closed>("createQueue after shutdown") { c.createQueue(unique("x"), QueueOptions()) }
    }

    test("createQueue returns true then false; deleteQueue true then false; the name can be created again") {
        val name = unique("cq")
        deleteAfter(name)
        assertEquals(true, client.createQueue(name, QueueOptions()), "first create")
        assertEquals(false, client.createQueue(name, QueueOptions()), "second create")
        assertEquals(true, client.deleteQueue(name), "first delete")
        assertEquals(false, client.deleteQueue(name), "second delete")
        assertEquals(true, client.createQueue(name, QueueOptions()), "create again")
        assertEquals(false, client.deleteQueue(unique("never")), "delete of an unknown queue")
    }

    test("deleteQueue removes the queue, its messages and its DLQ") {
        val q = newQueue("del")
        val name = q.name()
        q.send(bytes("a"))
        client.queue(dlqName(name)).stats() // the DLQ exists
        assertTrue(client.deleteQueue(name), "deleteQueue")
        assertThrows<PgmqException.QueueNotFound>("stats of the deleted queue") { q.stats() }
        assertThrows<PgmqException.QueueNotFound>("stats of its DLQ") { client.queue(dlqName(name)).stats() }
        assertTrue(client.createQueue(name, QueueOptions()), "recreate")
        assertEquals(0uL, q.stats().messages, "recreated queue is empty")
    }

    test("dlqName prefixes dlq@ and queue.name() is the name") {
        assertEquals("dlq@orders", dlqName("orders"))
        assertEquals("orders-1", client.queue("orders-1").name())
    }

    test("createDeadLetterQueue = false: no DLQ; an exhausted message is dropped as DEAD_LETTERED") {
        val q = newQueue("nodlq", QueueOptions(maxDeliveryAttempts = 1u, createDeadLetterQueue = false))
        assertThrows<PgmqException.QueueNotFound>("stats of the DLQ") { client.queue(dlqName(q.name())).stats() }
        val sent = q.send(bytes("doomed"))
        val r = q.receiver()
        r.nextWithin().nack(error = "no")
        assertEquals(Outcome.DEAD_LETTERED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
        assertEquals(QueueStats(0uL, 0uL, 0uL, 0uL, 0uL), q.stats(), "stats")
        r.assertNothingWithin(QUIET_MS, "dropped message")
    }

    test("max delivery attempts of the queue and of its DLQ (deadLetterQueue options) are applied") {
        val q = newQueue(
            "dlqopts",
            QueueOptions(
                maxDeliveryAttempts = 2u,
                deadLetterQueue = DeadLetterQueueOptions(ackDeadlineMs = 2_000uL, maxDeliveryAttempts = 1u),
            ),
        )
        val sent = q.send(bytes("p"))
        val r = q.receiver()
        r.nextWithin().nack(error = "first")
        val second = r.nextWithin()
        assertEquals(2u, second.deliveryAttempt, "second delivery")
        second.nack(error = "second")
        assertEquals(Outcome.DEAD_LETTERED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
        val dlq = client.queue(dlqName(q.name()))
        val dm = dlq.receiver().nextWithin(what = "the message in the DLQ")
        assertEquals(2u, dm.deadLetterAttempts, "deadLetterAttempts")
        assertEquals("second", dm.lastError, "lastError carried into the DLQ")
        dm.nack(error = "dlq once")
        // One attempt in the DLQ: the nack drops it.
        eventually("DLQ empty") { dlq.stats().messages == 0uL }
        assertEquals(0uL, q.stats().deadLettered, "deadLettered of the queue")
    }

    // ---------------------------------------------------------------------------------------------
    // Errors

    test("InvalidQueueName from queue(), createQueue() (empty, bad characters, dlq@) and deleteQueue()") {
        for (bad in listOf("", "has space", "semi;colon", "x".repeat(200))) {
            val e = assertThrows<PgmqException.InvalidQueueName>("queue(\"$bad\")") { client.queue(bad) }
            assertEquals("invalid_queue_name", e.code, "code")
            assertTrue(e.reason.isNotEmpty(), "reason is set")
        }
        assertThrows<PgmqException.InvalidQueueName>("createQueue(\"a b\")") { client.createQueue("a b", QueueOptions()) }
        assertThrows<PgmqException.InvalidQueueName>("createQueue(dlq@)") { client.createQueue(dlqName(unique("d")), QueueOptions()) }
        assertThrows<PgmqException.InvalidQueueName>("deleteQueue(\"a b\")") { client.deleteQueue("a b") }
    }

    test("InvalidOption: ackDeadlineMs 500, maxDeliveryAttempts 0, DLQ ackDeadlineMs 500, nothing created") {
        val name = unique("inv")
        deleteAfter(name)
        val cases = listOf(
            "ackDeadlineMs = 500" to QueueOptions(ackDeadlineMs = 500uL),
            "maxDeliveryAttempts = 0" to QueueOptions(maxDeliveryAttempts = 0u),
            "retentionPeriodMs = 0" to QueueOptions(retentionPeriodMs = 0uL),
            "DLQ ackDeadlineMs = 500" to QueueOptions(deadLetterQueue = DeadLetterQueueOptions(ackDeadlineMs = 500uL)),
            "DLQ maxDeliveryAttempts = 0" to QueueOptions(deadLetterQueue = DeadLetterQueueOptions(maxDeliveryAttempts = 0u)),
        )
        for ((what, options) in cases) {
            val e = assertThrows<PgmqException.InvalidOption>(what) { client.createQueue(name, options) }
            assertEquals("invalid_option", e.code, "code")
        }
        assertThrows<PgmqException.QueueNotFound>("nothing was created") { client.queue(name).stats() }
    }

    test("InvalidOption: batchSize 0, pollIntervalMs 0, poolSize 0, delay with scheduleAt, NaN attribute, bad id") {
        val q = newQueue("inv2")
        assertThrows<PgmqException.InvalidOption>("batchSize = 0") { q.receiver(ReceiveOptions(batchSize = 0u)) }
        assertThrows<PgmqException.InvalidOption>("pollIntervalMs = 0") { q.receiver(ReceiveOptions(pollIntervalMs = 0uL)) }
        assertThrows<PgmqException.InvalidOption>("poolSize = 0") { Client.connect(dsn, ClientOptions(poolSize = 0u)).close() }
        assertThrows<PgmqException.InvalidOption>("delayMs and scheduleAt") {
            q.send(bytes("x"), SendOptions(delayMs = 10uL, scheduleAt = java.time.Instant.now()))
        }
        assertThrows<PgmqException.InvalidOption>("NaN attribute") {
            q.send(bytes("x"), SendOptions(attributes = mapOf("f" to AttributeValue.Float(Double.NaN))))
        }
        assertThrows<PgmqException.InvalidOption>("cancel(\"not-a-uuid\")") { q.cancel(listOf("not-a-uuid")) }
        assertThrows<PgmqException.InvalidOption>("waitForCompletion(\"nope\")") { q.waitForCompletion(listOf("nope")) }
        assertEquals(0uL, q.stats().messages, "nothing was written")
    }

    test("QueueNotFound: send, sendBatch, stats, cancel on an unknown queue") {
        val q = client.queue(unique("missing"))
        val e = assertThrows<PgmqException.QueueNotFound>("send") { q.send(bytes("x")) }
        assertEquals("queue_not_found", e.code, "code")
        assertThrows<PgmqException.QueueNotFound>("sendBatch") { q.sendBatch(listOf(OutgoingMessage(bytes("x")))) }
        assertThrows<PgmqException.QueueNotFound>("stats") { q.stats() }
        assertThrows<PgmqException.QueueNotFound>("cancel") { q.cancel(listOf(UUID.randomUUID().toString())) }
    }

    test("AlreadyFinished: ack twice, nack after ack, ack after release") {
        val q = newQueue("fin")
        q.sendBatch(listOf(OutgoingMessage(bytes("a")), OutgoingMessage(bytes("b"))))
        val r = q.receiver()
        val a = r.nextWithin()
        a.ack()
        val e = assertThrows<PgmqException.AlreadyFinished>("second ack") { a.ack() }
        assertEquals("already_finished", e.code, "code")
        assertThrows<PgmqException.AlreadyFinished>("nack after ack") { a.nack() }
        assertThrows<PgmqException.AlreadyFinished>("extend after ack") { a.extend(5_000uL) }
        val b = r.nextWithin()
        b.release()
        assertTrue(b.isFinished, "released message isFinished")
        assertThrows<PgmqException.AlreadyFinished>("ack after release") { b.ack() }
    }

    test("NotTracked: completed() of a message sent with track = false; the message is still delivered") {
        val q = newQueue("untracked")
        val sent = q.send(bytes("fire and forget"), SendOptions(track = false))
        val e = assertThrows<PgmqException.NotTracked>("completed()") { sent.completed() }
        assertEquals("not_tracked", e.code, "code")
        val m = q.receiver().nextWithin()
        assertEquals(sent.id(), m.id, "id")
        m.ack()
        val b = q.sendBatch(listOf(OutgoingMessage(bytes("x"))), SendOptions(track = false))
        assertThrows<PgmqException.NotTracked>("batch completed()") { b.completed() }
    }

    test("MessageNotFound: waitForCompletion of an unknown id") {
        val q = newQueue("mnf")
        val e = assertThrows<PgmqException.MessageNotFound>("waitForCompletion") {
            q.waitForCompletion(listOf(UUID.randomUUID().toString()))
        }
        assertEquals("message_not_found", e.code, "code")
    }

    test("LeaseLost: ack of a message whose queue was deleted while it was held") {
        val q = newQueue("lost")
        q.send(bytes("x"))
        val m = q.receiver().nextWithin()
        assertTrue(client.deleteQueue(q.name()), "deleteQueue")
        val e = assertThrows<PgmqException.LeaseLost>("ack") { m.ack() }
        assertEquals("lease_lost", e.code, "code")
    }

    test("Connection: unreachable port fails fast; connectTimeoutMs bounds the wait") {
        val start = System.nanoTime()
        val e = assertThrows<PgmqException.Connection>("connect to port 1") {
            Client.connect("postgres://postgres@127.0.0.1:1/postgres", ClientOptions(connectTimeoutMs = 1_000uL)).close()
        }
        assertEquals("connection", e.code, "code")
        assertTrue(elapsedMs(start) < FIVE_S, "refused connect took ${elapsedMs(start)} ms")
        // A blackholed address (or an unreachable network): either way Connection, within the timeout.
        val start2 = System.nanoTime()
        assertThrows<PgmqException.Connection>("connect to 10.255.255.1 with connectTimeoutMs = 300") {
            Client.connect("postgres://postgres@10.255.255.1:5432/postgres", ClientOptions(connectTimeoutMs = 300uL)).close()
        }
        assertTrue(elapsedMs(start2) < 3_000, "short connect timeout took ${elapsedMs(start2)} ms")
        assertThrows<PgmqException.Connection>("unreachable listenDsn") {
            Client.connect(dsn, ClientOptions(listenDsn = "postgres://postgres@127.0.0.1:1/postgres", connectTimeoutMs = 1_000uL)).close()
        }
    }

    test("SchemaMissing: a database without the pgmq schema (created with psql, skipped without it)") {
        if (PSQL == null || !dsn.startsWith("postgres")) {
            println("    (no psql or no URL DSN: only the code of a constructed SchemaMissing is checked)")
            assertEquals("schema_missing", PgmqException.SchemaMissing("x").code)
            return@test
        }
        val db = "kt_nomigrate_" + UUID.randomUUID().toString().replace("-", "").take(8)
        psql(listOf(dsn), "CREATE DATABASE $db")
        try {
            Client.connect(dsnOfDatabase(dsn, db)).use { c ->
                val e = assertThrows<PgmqException.SchemaMissing>("createQueue without migrate") { c.createQueue("q", QueueOptions()) }
                assertEquals("schema_missing", e.code, "code")
                assertThrows<PgmqException.SchemaMissing>("send without migrate") { c.queue("q").send(bytes("x")) }
            }
        } finally {
            withContext(NonCancellable) { psql(listOf(dsn), "DROP DATABASE IF EXISTS $db WITH (FORCE)") }
        }
    }

    test("the client's backends report application_name pgmq-kotlin, or ClientOptions.applicationName when set") {
        if (PSQL == null) {
            println("    (skipped: no psql to read pg_stat_activity with)")
            return@test
        }
        // The backends of one client are those of a login role of its own.
        val (defaultRole, namedRole) = unique("app").replace('-', '_') to unique("app").replace('-', '_')
        val password = UUID.randomUUID().toString()
        psql(listOf(dsn), "CREATE ROLE $defaultRole LOGIN PASSWORD '$password'; CREATE ROLE $namedRole LOGIN PASSWORD '$password'")
        try {
            Client.connect(dsnAs(dsn, defaultRole, password)).use { assertBackendsNamed(defaultRole, "pgmq-kotlin") }
            Client.connect(dsnAs(dsn, namedRole, password), ClientOptions(applicationName = "kt-billing")).use {
                assertBackendsNamed(namedRole, "kt-billing")
            }
        } finally {
            withContext(NonCancellable) { psql(listOf(dsn), "DROP ROLE IF EXISTS $defaultRole; DROP ROLE IF EXISTS $namedRole") }
        }
    }

    test("ClientOptions.toString() masks the listenDsn password; redactDsn masks both DSN forms") {
        val secret = "kt-Secret-" + UUID.randomUUID().toString().take(8)
        val url = ClientOptions(listenDsn = "postgres://app:$secret@db.example:5432/orders?sslmode=verify-full", poolSize = 3u)
        val shown = url.toString()
        assertTrue(secret !in shown, "the password in $shown")
        assertTrue("postgres://app:***@db.example:5432/orders?sslmode=verify-full" in shown, "the masked DSN in $shown")
        assertTrue("poolSize=3" in shown, "the other options in $shown")
        val keyValue = ClientOptions(listenDsn = "host=db.example user=app password=$secret dbname=orders")
        assertTrue(secret !in keyValue.toString(), "the password in $keyValue")
        assertTrue(secret !in "${listOf(url, keyValue)}", "the password in a list of options")
        // Still a data class: equality and copy() see the real DSN.
        assertEquals(url, url.copy(), "copy() equals the original")
        assertTrue(secret in url.listenDsn!!, "listenDsn keeps the password")
        assertEquals("host=db.example user=app password=*** dbname=orders", redactDsn(keyValue.listenDsn!!), "redactDsn of key=value")
    }

    test("InvalidOption for a malformed DSN never shows its password, in message or toString()") {
        val secret = "kt-Secret-" + UUID.randomUUID().toString().take(8)
        for (bad in listOf("postgres://app:$secret@127.0.0.1:notaport/postgres", "host=127.0.0.1 password=$secret bogus=1")) {
            val e = assertThrows<PgmqException.InvalidOption>("connect with ${redactDsn(bad)}") { Client.connect(bad).close() }
            assertTrue(secret !in e.toString() && secret !in e.message.orEmpty() && secret !in e.reason, "the password in $e")
            val listen = assertThrows<PgmqException.InvalidOption>("listenDsn ${redactDsn(bad)}") {
                Client.connect(dsn, ClientOptions(listenDsn = bad)).close()
            }
            assertTrue(secret !in listen.toString(), "the password in $listen")
        }
    }

    test("closeAsync() suspends while the close waits for a blocked ack: the dispatcher's one thread runs other coroutines meanwhile") {
        if (PSQL == null) {
            println("    (no psql: skipped)")
            return@test
        }
        val c = connect()
        val q = c.queue(newQueue("closeasync").name())
        val sent = q.send("x")
        val m = q.receiver().nextWithin()
        PsqlSession(dsn).use { session ->
            // A lock on the message's row: the ack's statement waits for it, and so does the close's flush.
            val pid = session.query("BEGIN; SELECT pg_backend_pid() FROM pgmq.messages WHERE id = '${m.id}' FOR UPDATE;")
            val ack = async(Dispatchers.Default) { runCatching { m.ack() } }
            eventually("the ack is blocked on the row lock") {
                psql(listOf(dsn), "SELECT count(*) FROM pg_stat_activity WHERE $pid = ANY(pg_blocking_pids(pid))") != "0"
            }
            val single = java.util.concurrent.Executors.newSingleThreadExecutor().asCoroutineDispatcher()
            single.use {
                val closing = launch(single) { c.closeAsync() }
                // Runs on the same (only) thread: it gets there only if closeAsync() suspended.
                val stillClosing = withTimeout(FIVE_S) { withContext(single) { closing.isActive } }
                assertTrue(stillClosing, "another coroutine ran on the dispatcher's thread while the close waited")
                session.send("ROLLBACK;")
                withTimeout(FIVE_S) { closing.join() }
            }
            assertTrue(ack.await().isSuccess, "the ack went through once the lock was released: ${ack.await()}")
        }
        assertThrows<PgmqException.Closed>("a send after closeAsync()") { q.send("y") }
        assertEquals(mapOf(sent.id() to Outcome.COMPLETED), withTimeout(FIVE_S) { client.queue(q.name()).waitForCompletion(listOf(sent.id())) }, "outcome")
    }

    test("useAsync {} closes the client when the block ends, without blocking") {
        val c = connect()
        val q = c.queue(newQueue("useasync").name())
        val sent = c.useAsync { q.send("x") }
        assertThrows<PgmqException.Closed>("a send after the block") { q.send("y") }
        val m = client.queue(q.name()).receiver().nextWithin()
        assertEquals(sent.id(), m.id, "the send of the block went through")
        m.ack()
    }
}

/** [dsn] (a URL or key=value) with its user and password replaced. */
private fun dsnAs(dsn: String, user: String, password: String): String {
    val url = Regex("^(postgres(?:ql)?://)(?:[^@/]*@)?")
    return if (url.containsMatchIn(dsn)) dsn.replaceFirst(url, "$1$user:$password@") else "$dsn user=$user password=$password"
}

/** Creates a queue, sends [text], receives and acks it, waits for its outcome, deletes the queue. */
private suspend fun roundTrip(c: Client, text: String) {
    val name = unique("conn")
    assertTrue(c.createQueue(name, QueueOptions()), "createQueue($name)")
    try {
        val q = c.queue(name)
        val sent = q.send(text)
        val m = q.receiver().nextWithin()
        assertEquals(text, m.text, "body")
        m.ack()
        assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "outcome")
    } finally {
        withContext(NonCancellable) { c.deleteQueue(name) }
    }
}

/**
 * A TCP front on 127.0.0.1 for the server of [upstream] (a `postgres://` URL) that hangs up on its first
 * [hangUps] connections, as a server that is still starting does, and forwards the ones after them.
 */
private class HangingUpFront(upstream: URI, hangUps: Int) : AutoCloseable {
    private val listener = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val open = ConcurrentLinkedQueue<Socket>()
    val accepted = AtomicInteger()
    val port: Int get() = listener.localPort

    private val acceptor = thread(isDaemon = true, name = "hanging-up-front") {
        while (true) {
            val client = try { listener.accept() } catch (e: IOException) { break }
            if (accepted.incrementAndGet() <= hangUps) {
                client.close()
                continue
            }
            val server = Socket(upstream.host ?: "localhost", if (upstream.port > 0) upstream.port else 5432)
            open += client
            open += server
            forward(client, server)
            forward(server, client)
        }
    }

    /** Copies [from] to [to] until either side closes, then closes both. */
    private fun forward(from: Socket, to: Socket) = thread(isDaemon = true, name = "hanging-up-front-pipe") {
        try {
            from.getInputStream().copyTo(to.getOutputStream())
        } catch (e: IOException) {
            // The other direction closed the sockets.
        }
        runCatching { from.close() }
        runCatching { to.close() }
    }

    override fun close() {
        listener.close()
        acceptor.join()
        for (s in open) runCatching { s.close() }
    }
}

/** pg_stat_activity shows a pool and a LISTEN backend for [role], each with application_name [expected]. */
private suspend fun TestContext.assertBackendsNamed(role: String, expected: String) {
    val names = psql(listOf(dsn), "SELECT application_name FROM pg_stat_activity WHERE usename = '$role'").lines()
    assertTrue(names.size >= 2, "a pool and a LISTEN backend for $role: $names")
    assertTrue(names.all { it == expected }, "application_name of every backend of $role is $expected: $names")
}

/** A queue handle of a client that nothing else references (and a weak reference to that client). */
private suspend fun queueOfUnreferencedClient(dsn: String, name: String): Pair<Queue, java.lang.ref.WeakReference<Client>> {
    val c = Client.connect(dsn)
    return c.queue(name) to java.lang.ref.WeakReference(c)
}
