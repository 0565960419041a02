// The core's log events reach java.util.logging (logger `pgmq`), installed by the first Client.connect:
// real events (a migration applied, a LISTEN connection lost) caught by a JUL Handler, awaited, never
// slept for.
package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.receiveAsFlow
import java.util.UUID
import java.util.logging.Handler
import java.util.logging.Level
import java.util.logging.LogRecord

val loggingTests = suite {
    test("log levels map to java.util.logging: error SEVERE, warn WARNING, info INFO, debug FINE, trace FINEST") {
        assertEquals(
            listOf(Level.SEVERE, Level.WARNING, Level.INFO, Level.FINE, Level.FINEST),
            LogLevel.entries.map { it.julLevel },
            "julLevel",
        )
    }

    test("a migration on a fresh database logs at INFO to the JUL logger pgmq, with the Rust module as source") {
        if (PSQL == null || !dsn.startsWith("postgres")) {
            println("    (no psql or no URL DSN: skipped)")
            return@test
        }
        val db = "kt_logs_" + UUID.randomUUID().toString().replace("-", "").take(8)
        psql(listOf(dsn), "CREATE DATABASE $db")
        try {
            val record = capturingPgmqLogs { records ->
                Client.connect(dsnOfDatabase(dsn, db)).useAsync { it.migrate() }
                records.first { it.message.contains("applied migration") }
            }
            assertEquals(Level.INFO, record.level, "level")
            assertEquals("pgmq", record.loggerName, "logger")
            assertTrue(record.sourceClassName.startsWith("pgmq_core"), "source: ${record.sourceClassName}")
        } finally {
            withContext(NonCancellable) { psql(listOf(dsn), "DROP DATABASE IF EXISTS $db WITH (FORCE)") }
        }
    }

    test("the LISTEN connection terminated (pg_terminate_backend) logs a WARNING to the JUL logger pgmq") {
        if (PSQL == null) {
            println("    (no psql: skipped)")
            return@test
        }
        val app = "pgmq-kt-logs-" + UUID.randomUUID().toString().take(8)
        val c = connect(ClientOptions(applicationName = app))
        val record = capturingPgmqLogs { records ->
            val pids = psql(listOf(dsn), "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'").lines().filter { it.isNotEmpty() }
            assertTrue(pids.isNotEmpty(), "the client's backends")
            psql(listOf(dsn), "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[${pids.joinToString(",")}]) AS pid")
            records.first { it.level == Level.WARNING && it.message.contains("listener") }
        }
        assertEquals("pgmq", record.loggerName, "logger")
        assertTrue(record.sourceClassName.startsWith("pgmq_core"), "source: ${record.sourceClassName}")
        c.closeAsync()
    }

    test("setLogHandler(handler) sends the events there instead; JavaLogging is a handler like any other") {
        if (PSQL == null) {
            println("    (no psql: skipped)")
            return@test
        }
        val events = Channel<Triple<LogLevel, String, String>>(Channel.UNLIMITED)
        setLogHandler(object : LogHandler {
            override fun log(level: LogLevel, target: String, message: String) {
                events.trySend(Triple(level, target, message))
            }
        })
        try {
            val app = "pgmq-kt-logs-" + UUID.randomUUID().toString().take(8)
            val c = connect(ClientOptions(applicationName = app))
            psql(listOf(dsn), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$app'")
            val (level, target, _) = withTimeout(FIVE_S) { events.receiveAsFlow().first { it.third.contains("listener") } }
            assertEquals(LogLevel.WARN, level, "level")
            assertTrue(target.startsWith("pgmq_core"), "target: $target")
            c.closeAsync()
        } finally {
            setLogHandler(JavaLogging)
        }
        assertTrue(!setDefaultLogHandler(JavaLogging), "a default never replaces a handler that was set")
    }
}

/**
 * Runs [block] with the records the logger `pgmq` publishes from now on (a Handler of its own, removed
 * afterwards) and returns what it returns, within [FIVE_S].
 */
private suspend fun <T> capturingPgmqLogs(block: suspend (kotlinx.coroutines.flow.Flow<LogRecord>) -> T): T {
    val records = Channel<LogRecord>(Channel.UNLIMITED)
    val handler = object : Handler() {
        override fun publish(record: LogRecord) {
            records.trySend(record)
        }

        override fun flush() {}

        override fun close() {}
    }
    JavaLogging.logger.addHandler(handler)
    try {
        return withTimeout(FIVE_S) { block(records.receiveAsFlow()) }
    } finally {
        JavaLogging.logger.removeHandler(handler)
    }
}
