// Hand-written Kotlin over the generated bindings: an error's code, `onError` as a lambda.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

/**
 * A [ReceiveErrorHandler] that calls [block]: `ReceiveOptions(onError = ReceiveErrorHandler { e -> ... })`.
 * [block] gets each connection error the receiver recovered from (a [PgmqException.Connection], code
 * `connection`). It runs on a thread of pgmq's own, one report at a time, not in the receiver's
 * coroutine: hand what it needs over with `Channel.trySend`, or block (`runBlocking`) if it must; that
 * holds up only later reports. An exception it throws is printed to stderr and the receiver goes on.
 */
fun ReceiveErrorHandler(block: (PgmqException) -> Unit): ReceiveErrorHandler = object : ReceiveErrorHandler {
    override fun onError(error: PgmqException) {
        // Not to the thread's uncaught-exception handler: Android's ends the process.
        try {
            block(error)
        } catch (e: Exception) {
            System.err.println("pgmq: onError threw (the receiver goes on): ${e.stackTraceToString()}")
        }
    }
}

/**
 * The core's stable snake_case code of this error (`errorCode()`, from the core's table
 * [errorCodes]): `queue_not_found`, `invalid_queue_name`, `invalid_option`, `lease_lost`,
 * `already_finished`, `not_tracked`, `message_not_found`, `request_failed`, `queue_full`,
 * `schema_missing`, `schema_conflict`, `connection`, `timeout`, `database`, `closed` or `internal`; the
 * same codes as every other language's.
 */
val PgmqException.code: String get() = errorCode()
