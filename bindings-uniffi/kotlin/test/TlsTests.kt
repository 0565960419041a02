// TLS against the second cluster tests/with-postgres.sh starts with PGMQ_PG_TLS=1, set up like a managed
// server (ssl=on with its own CA, `hostssl ... scram-sha-256`, `hostssl ... cert` for one role,
// `hostnossl ... reject`): the Kotlin side of core/tests/integration/tls.rs. What the server saw is read
// with psql over that cluster's unix socket, which needs neither TLS nor a password.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.withTimeout
import java.util.UUID

/** The connect timeout of the connections that must fail: each failure must come before it. */
private const val TLS_TIMEOUT_MS = 3_000L

/** The TLS cluster, from the PGMQ_TLS_* variables tests/with-postgres.sh exports. */
private class TlsServer(private val env: Map<String, String>) {
    private fun need(key: String) = env[key] ?: fail("PGMQ_TLS_PORT is set but $key is not")
    val port = need("PGMQ_TLS_PORT")
    val user = need("PGMQ_TLS_USER")
    val password = need("PGMQ_TLS_PASSWORD")
    val certUser = need("PGMQ_TLS_CERT_USER")
    private val dir = need("PGMQ_TLS_DIR")
    private val socketDir = need("PGMQ_TLS_SOCKET_DIR")

    /** The verify-full URL (`postgres://user:password@localhost:port/postgres?sslmode=verify-full&sslrootcert=...`). */
    val url = need("PGMQ_TLS_URL")

    fun file(name: String) = "$dir/$name"

    /** A key=value DSN as the password user to [host], plus [extra] pairs. */
    fun dsn(host: String, extra: String) = "host=$host port=$port user=$user password=$password dbname=postgres $extra"

    /** Whether each backend with [applicationName] is encrypted, as pg_stat_ssl shows it. */
    suspend fun sslOfBackends(applicationName: String): List<Boolean> =
        psql(
            listOf("-h", socketDir, "-p", port, "-U", "postgres", "-d", "postgres"),
            "SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = '$applicationName'",
        ).lines().filter { it.isNotEmpty() }.map { it == "t" }
}

/**
 * The TLS cluster, or null (with the reason printed: the test is skipped) when it was not started, i.e.
 * the tests run against an outside DATABASE_URL. `make test` sets PGMQ_REQUIRE_TLS_TESTS=1: there a
 * missing cluster fails the test instead.
 */
private fun tlsServer(): TlsServer? {
    val env = System.getenv()
    if (env["PGMQ_TLS_PORT"] != null) return TlsServer(env)
    if (env["PGMQ_REQUIRE_TLS_TESTS"] == "1") {
        fail("PGMQ_REQUIRE_TLS_TESTS=1 but PGMQ_TLS_PORT is not set: run the tests with PGMQ_PG_TLS=1 tests/with-postgres.sh")
    }
    println("    (skipped: no TLS server; PGMQ_PG_TLS=1 tests/with-postgres.sh starts one)")
    return null
}

/** Connecting with [dsn] fails with `PgmqException.Connection` before the connect timeout; returns it. */
private suspend fun connectionFailure(dsn: String, what: String): PgmqException.Connection {
    val start = System.nanoTime()
    val e = assertThrows<PgmqException.Connection>(what) {
        Client.connect(dsn, ClientOptions(connectTimeoutMs = TLS_TIMEOUT_MS.toULong())).close()
    }
    val took = elapsedMs(start)
    assertTrue(took < TLS_TIMEOUT_MS, "$what: failed after $took ms, not within the $TLS_TIMEOUT_MS ms connect timeout")
    assertEquals("connection", e.code, "$what: code")
    return e
}

val tlsTests = suite {
    test("verify-full (URL and key=value): a working client whose every backend pg_stat_ssl shows encrypted") {
        val server = tlsServer() ?: return@test
        val app = unique("tls-app")
        val keyValue = server.dsn("localhost", "sslmode=verify-full sslrootcert=${server.file("ca.crt")} application_name=$app")
        for (tlsDsn in listOf("${server.url}&application_name=$app", keyValue)) {
            val what = redactDsn(tlsDsn)
            Client.connect(tlsDsn, ClientOptions(poolSize = 2u)).use { c ->
                c.migrate()
                val name = unique("tls")
                assertTrue(c.createQueue(name, QueueOptions()), "$what: createQueue")
                try {
                    val q = c.queue(name)
                    val sent = q.send("over tls")
                    val m = q.receiver().nextWithin(what = "$what: the message sent over TLS")
                    assertEquals("over tls", m.text, "$what: body")
                    m.ack()
                    assertEquals(Outcome.COMPLETED, withTimeout(FIVE_S) { sent.completed() }, "$what: outcome")
                    val ssl = server.sslOfBackends(app)
                    assertTrue(ssl.size >= 2, "$what: a pool and a LISTEN backend with application_name $app: $ssl")
                    assertTrue(ssl.all { it }, "$what: pg_stat_ssl.ssl of every backend: $ssl")
                } finally {
                    c.deleteQueue(name)
                }
            }
        }
    }

    test("an unrelated CA fails verify-full with Connection saying the certificate is not trusted") {
        val server = tlsServer() ?: return@test
        val e = connectionFailure(server.dsn("localhost", "sslmode=verify-full sslrootcert=${server.file("other-ca.crt")}"), "an unrelated CA")
        assertTrue("not trusted" in e.reason, "the reason says what failed: ${e.reason}")
        assertTrue(server.password !in e.toString(), "the password in $e")
    }

    test("a host name the certificate does not name fails verify-full with Connection saying so") {
        val server = tlsServer() ?: return@test
        val e = connectionFailure(
            server.dsn("pgmq-wrong-name.invalid", "hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=${server.file("ca.crt")}"),
            "host pgmq-wrong-name.invalid at 127.0.0.1",
        )
        assertTrue("does not match the host name" in e.reason, "the reason says what failed: ${e.reason}")
    }

    test("sslmode=require against a server without TLS fails with Connection saying it does not support TLS") {
        tlsServer() ?: return@test
        val plain = if ("://" in dsn) dsn + (if ('?' in dsn) "&" else "?") + "sslmode=require" else "$dsn sslmode=require"
        val e = connectionFailure(plain, "sslmode=require to the cluster of DATABASE_URL")
        assertTrue("does not support TLS" in e.reason, "the reason says what failed: ${e.reason}")
    }

    test("a client certificate logs in where the server asks for one; without it, Connection") {
        val server = tlsServer() ?: return@test
        val base = "host=localhost port=${server.port} user=${server.certUser} dbname=postgres sslmode=verify-full sslrootcert=${server.file("ca.crt")}"
        Client.connect("$base sslcert=${server.file("client.crt")} sslkey=${server.file("client.key")}").use { c ->
            assertTrue(c.migrate() >= 1, "migrate() as ${server.certUser}")
        }
        connectionFailure(base, "${server.certUser} without a certificate")
    }

    test("a wrong password fails with Connection whose message and toString() never show that password") {
        val server = tlsServer() ?: return@test
        val wrong = "kt-Wrong-" + UUID.randomUUID().toString().take(8)
        val ca = server.file("ca.crt")
        for (bad in listOf(
            "postgres://${server.user}:$wrong@localhost:${server.port}/postgres?sslmode=verify-full&sslrootcert=$ca",
            "host=localhost port=${server.port} user=${server.user} password=$wrong dbname=postgres sslmode=verify-full sslrootcert=$ca",
        )) {
            val e = assertThrows<PgmqException.Connection>(redactDsn(bad)) { Client.connect(bad).close() }
            assertTrue("password authentication failed" in e.reason, "the reason says what failed: $e")
            assertTrue(wrong !in e.toString() && wrong !in e.message.orEmpty(), "the password in $e")
        }
    }
}
