// Hand-written Kotlin over the generated bindings: the core's log events in java.util.logging.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

import java.util.concurrent.atomic.AtomicBoolean
import java.util.logging.Level
import java.util.logging.LogRecord
import java.util.logging.Logger

/**
 * The `java.util.logging` level of a core event: error `SEVERE`, warn `WARNING`, info `INFO`, debug
 * `FINE`, trace `FINEST`.
 */
val LogLevel.julLevel: Level
    get() = when (this) {
        LogLevel.ERROR -> Level.SEVERE
        LogLevel.WARN -> Level.WARNING
        LogLevel.INFO -> Level.INFO
        LogLevel.DEBUG -> Level.FINE
        LogLevel.TRACE -> Level.FINEST
    }

/**
 * The [LogHandler] that [Client.connect] installs (unless [setLogHandler] chose another before): every
 * event of the core goes to the logger `pgmq` ([logger]) at its [julLevel], with the Rust module that
 * emitted it (`pgmq_core::listener`, ...) as the record's source class. So warnings (a lost LISTEN
 * connection, a failed heartbeat or housekeeping run, a receiver retrying) show on the console by
 * default, and `Logger.getLogger("pgmq").level = Level.FINE` shows the debug events too; SLF4J's
 * `jul-to-slf4j` bridge carries them on to Logback or Log4j.
 *
 * Called on a thread of pgmq's own, one event at a time; a slow `java.util.logging` handler delays only
 * later events. To send the events elsewhere: `setLogHandler(object : LogHandler { ... })`; to drop
 * them: `setLogHandler(null)`.
 */
object JavaLogging : LogHandler {
    /** The logger every event goes to: `Logger.getLogger("pgmq")` (held here, so its level sticks). */
    val logger: Logger = Logger.getLogger("pgmq")

    private val installed = AtomicBoolean(false)

    /** Hands one event to [logger], if it is loggable at the event's level. */
    override fun log(level: LogLevel, target: String, message: String) {
        val jul = level.julLevel
        if (!logger.isLoggable(jul)) return
        try {
            val record = LogRecord(jul, message)
            record.loggerName = logger.name
            record.sourceClassName = target
            record.sourceMethodName = null
            logger.log(record)
        } catch (e: Exception) {
            System.err.println("pgmq: a java.util.logging handler threw: ${e.stackTraceToString()}")
        }
    }

    /** Makes this the log handler unless one was set before (by [setLogHandler] or an earlier call). */
    internal fun installUnlessSet() {
        if (installed.compareAndSet(false, true)) setDefaultLogHandler(this)
    }
}
