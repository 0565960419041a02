// Hand-written Kotlin over the generated bindings: `Client.connect` (which routes the core's log events
// to java.util.logging first), and closing a client from blocking code (`use {}`) or from a coroutine
// (`closeAsync()`, `useAsync {}`).
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.withContext

/**
 * Connects with a libpq DSN (`postgres://user@host:port/db?sslmode=verify-full` or
 * `host=... user=... sslmode=...`; TLS, `PG*` variables and `~/.pgpass` as libpq reads them); the pool's
 * first connection and the LISTEN connection are opened now. `PgmqException.Connection` if the server
 * cannot be reached or TLS fails (the reason says what failed), `InvalidOption` for a malformed DSN;
 * neither error shows the password. [options]: `null` for the core's defaults, or built with
 * [clientOptions] (durations as `kotlin.time.Duration`) or `ClientOptions(...)` (milliseconds).
 *
 * The first call also sends the core's log events (a lost connection, a failed heartbeat, a migration
 * applied) to `java.util.logging.Logger.getLogger("pgmq")` ([JavaLogging]), unless [setLogHandler] chose
 * another handler before.
 *
 * ```
 * val client = Client.connect("postgres://app@db/orders", clientOptions(connectTimeout = 3.seconds))
 * ```
 */
suspend fun Client.Companion.connect(dsn: String, options: ClientOptions? = null): Client {
    JavaLogging.installUnlessSet()
    return connectNative(dsn, options)
}

/**
 * Closes the client without blocking a thread: suspends while its pending acks and notifications are
 * flushed and its connections close (receivers return `null`, pending waits fail with `Closed`), then
 * frees this handle. Not cancellable once started (a cancelled caller would otherwise leave the close to
 * `close()`, which blocks). Use it in coroutines where `close()` and [use] would block their thread for
 * the flush (up to 5 s).
 */
suspend fun Client.closeAsync() {
    withContext(NonCancellable) { shutdown() }
    close()
}

/**
 * Runs [block] with this client, then closes the client (flushing its acks and notifications), also when
 * [block] throws. This is what `use {}` means on a pgmq [Client]: it takes precedence over `kotlin.io.use`,
 * which would only drop this handle (the client then stays open while queues, receivers, messages or
 * sent-message handles made from it are still referenced, and closes when they are collected). The
 * close blocks the calling thread (at most 5 s): in a coroutine, prefer [useAsync].
 */
inline fun <R> Client.use(block: (Client) -> R): R {
    try {
        return block(this)
    } finally {
        shutdownBlocking()
        close()
    }
}

/**
 * Runs [block] with this client, then closes it with [closeAsync] (suspending, never blocking the
 * thread), also when [block] throws or the caller is cancelled.
 *
 * ```
 * Client.connect(dsn).useAsync { client -> client.queue("jobs").send("hello") }
 * ```
 */
suspend inline fun <R> Client.useAsync(block: (Client) -> R): R {
    try {
        return block(this)
    } finally {
        closeAsync()
    }
}
