// Hand-written Kotlin on top of the generated bindings (target/uniffi/kotlin/io/pgmq/pgmq_uniffi.kt):
// message shortcuts that delegate to its lease, `Queue.messages()` as a cold Flow, `onError` as a
// lambda, `PgmqException.code`, and small builders for attributes and filters. No logic of the queue
// lives here.
@file:JvmName("PgmqExtras")

package io.pgmq

import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow

// ---------------------------------------------------------------------------------------------------
// Message: finish it through its lease

/** Completes the message (`lease.ack()`). `AlreadyFinished` if already acked, nacked or released. */
suspend fun Message.ack() = lease.ack()

/**
 * Fails this delivery (`lease.nack()`): redelivered after [delayMs] (or the queue's backoff, or at once),
 * or dead-lettered on the last attempt, keeping [error] as its `lastError`.
 */
suspend fun Message.nack(delayMs: ULong? = null, error: String? = null) =
    lease.nack(NackOptions(delayMs = delayMs, error = error))

/** Fails this delivery with [options] (`lease.nack(options)`). */
suspend fun Message.nack(options: NackOptions) = lease.nack(options)

/** Extends the lease to [ms] from now (`lease.extend(ms)`). */
suspend fun Message.extend(ms: ULong) = lease.extend(ms)

/** Hands the message back unfinished for prompt redelivery (`lease.release()`); nothing once finished. */
fun Message.release() = lease.release()

/** Whether this handle can no longer ack or nack (finished, released or lost). */
val Message.isFinished: Boolean get() = lease.isFinished()

/** Whether `queue.cancel()` was called on the message while it was held. */
val Message.isCancelled: Boolean get() = lease.isCancelled()

/**
 * Suspends until the message is cancelled while held (true), or until it is finished or released
 * (false). Cancel the calling coroutine to stop waiting.
 */
suspend fun Message.awaitCancelled(): Boolean = lease.cancelled()

/** The body decoded as UTF-8. */
val Message.text: String get() = body.decodeToString()

// ---------------------------------------------------------------------------------------------------
// Queue

/** Sends a UTF-8 text body. */
suspend fun Queue.send(body: String, options: SendOptions? = null): SentMessage =
    send(body.encodeToByteArray(), options)

/**
 * The queue's messages as a cold [Flow]: each collection creates its own receiver (with [options]) and
 * emits one message at a time. A message the collector has not acked or nacked is released for prompt
 * redelivery when the next one is requested, and when collection ends (completion, an exception, or
 * cancellation of the collecting coroutine), which also stops the receiver and releases what it had
 * leased but not yet emitted. The flow completes when the client is closed.
 *
 * A lost connection never ends the flow: the receiver retries, and tells [onError] (when given, in place
 * of `options.onError`; see [ReceiveErrorHandler]) of each error it recovered from.
 *
 * ```
 * queue.messages(onError = { e -> log.warn("pgmq: ${e.code}: ${e.reason}") }).collect { msg -> handle(msg.body); msg.ack() }
 * ```
 */
fun Queue.messages(options: ReceiveOptions = ReceiveOptions(), onError: ((PgmqException) -> Unit)? = null): Flow<Message> = flow {
    val receiver = receiver(if (onError == null) options else options.copy(onError = ReceiveErrorHandler(onError)))
    var current: Message? = null
    try {
        while (true) {
            current?.lease?.release()
            current = null
            val message = receiver.next() ?: break
            current = message
            emit(message)
        }
    } finally {
        current?.lease?.release()
        receiver.stop()
        receiver.close()
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

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
 * The core's stable snake_case code of this error: `queue_not_found`, `invalid_queue_name`,
 * `invalid_option`, `lease_lost`, `already_finished`, `not_tracked`, `message_not_found`,
 * `schema_missing`, `schema_conflict`, `connection`, `timeout`, `database`, `closed` or `internal` (the
 * same codes as Python's and Node's).
 */
val PgmqException.code: String
    get() = when (this) {
        is PgmqException.QueueNotFound -> "queue_not_found"
        is PgmqException.InvalidQueueName -> "invalid_queue_name"
        is PgmqException.InvalidOption -> "invalid_option"
        is PgmqException.LeaseLost -> "lease_lost"
        is PgmqException.AlreadyFinished -> "already_finished"
        is PgmqException.NotTracked -> "not_tracked"
        is PgmqException.MessageNotFound -> "message_not_found"
        is PgmqException.SchemaMissing -> "schema_missing"
        is PgmqException.SchemaConflict -> "schema_conflict"
        is PgmqException.Connection -> "connection"
        is PgmqException.Timeout -> "timeout"
        is PgmqException.Database -> "database"
        is PgmqException.Closed -> "closed"
        is PgmqException.Internal -> "internal"
    }

// ---------------------------------------------------------------------------------------------------
// Attributes

/**
 * An [AttributeValue] from a Kotlin value: `null`, `Boolean`, integers (`Int`, `Long`, `Short`, `Byte`),
 * `Double` / `Float` (finite), `String`; an `AttributeValue` is returned as is.
 * Anything else is `IllegalArgumentException`.
 */
fun attributeValue(value: Any?): AttributeValue = when (value) {
    null -> AttributeValue.Null
    is AttributeValue -> value
    is Boolean -> AttributeValue.Bool(value)
    is kotlin.Int -> AttributeValue.Int(value.toLong())
    is Long -> AttributeValue.Int(value)
    is Short -> AttributeValue.Int(value.toLong())
    is Byte -> AttributeValue.Int(value.toLong())
    is Double -> AttributeValue.Float(value)
    is kotlin.Float -> AttributeValue.Float(value.toDouble())
    is String -> AttributeValue.Text(value)
    else -> throw IllegalArgumentException("not an attribute value (null, Boolean, integer, Double, String): ${value::class}")
}

/** Attributes from Kotlin values: `attributes("color" to "red", "size" to 3)`. */
fun attributes(vararg pairs: Pair<String, Any?>): Map<String, AttributeValue> =
    pairs.associate { (key, value) -> key to attributeValue(value) }

/** The Kotlin value of an attribute: `null`, `Boolean`, `Long`, `Double` or `String`. */
val AttributeValue.raw: Any?
    get() = when (this) {
        is AttributeValue.Null -> null
        is AttributeValue.Bool -> value
        is AttributeValue.Int -> value
        is AttributeValue.Float -> value
        is AttributeValue.Text -> value
    }

/** One message of a batch with a UTF-8 text body and attributes from Kotlin values. */
fun outgoing(body: String, vararg attributes: Pair<String, Any?>): OutgoingMessage =
    OutgoingMessage(body.encodeToByteArray(), attributes(*attributes))

// ---------------------------------------------------------------------------------------------------
// Filters: `attr("color") eq "red" and (attr("size") gt 3 or attr("rush").exists())`

/** Builds [Filter]s on one attribute key with the [Filter] constructors; start with [attr]. */
class AttributeKey(val key: String) {
    infix fun eq(value: Any?): Filter = Filter.eq(key, attributeValue(value))
    infix fun ne(value: Any?): Filter = Filter.ne(key, attributeValue(value))
    infix fun lt(value: Any?): Filter = Filter.lt(key, attributeValue(value))
    infix fun gt(value: Any?): Filter = Filter.gt(key, attributeValue(value))
    infix fun le(value: Any?): Filter = Filter.le(key, attributeValue(value))
    infix fun ge(value: Any?): Filter = Filter.ge(key, attributeValue(value))
    infix fun like(pattern: String): Filter = Filter.isLike(key, pattern)
    infix fun notLike(pattern: String): Filter = Filter.isNotLike(key, pattern)
    fun isNull(): Filter = Filter.isNull(key)
    fun isNotNull(): Filter = Filter.isNotNull(key)
    fun exists(): Filter = Filter.exists(key)
    fun doesNotExist(): Filter = Filter.doesNotExist(key)
}

/** The attribute [key], to build a filter: `attr("color") eq "red"`. */
fun attr(key: String): AttributeKey = AttributeKey(key)

/**
 * How deeply `and` / `or` may nest in one filter (a chain `a and b and c ...` nests one level per `and`;
 * combine long lists pairwise): the core's limit, 100. `Filter.and` / `Filter.or` refuse to build a deeper
 * filter (`PgmqException.InvalidOption`).
 */
val MAX_FILTER_DEPTH: Int get() = maxFilterDepth().toInt()

/** Both filters hold: `Filter.and(this, other)`, `PgmqException.InvalidOption` past [MAX_FILTER_DEPTH] levels. */
infix fun Filter.and(other: Filter): Filter = Filter.and(this, other)

/** Either filter holds: `Filter.or(this, other)`, `PgmqException.InvalidOption` past [MAX_FILTER_DEPTH] levels. */
infix fun Filter.or(other: Filter): Filter = Filter.or(this, other)

/**
 * Runs [block] with this client, then closes the client (flushing its acks and notifications), also when
 * [block] throws. This is what `use {}` means on a pgmq [Client]: it takes precedence over `kotlin.io.use`,
 * which would only drop this handle (the client then stays open while queues, receivers, messages or
 * sent-message handles made from it are still referenced, and closes when they are collected).
 */
inline fun <R> Client.use(block: (Client) -> R): R {
    try {
        return block(this)
    } finally {
        shutdownBlocking()
        close()
    }
}
