// Hand-written Kotlin over the generated bindings: a delivered message's shortcuts (finish it through
// its lease) and `Queue.messages()`, the queue as a cold Flow whose messages belong to the collector.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

import java.lang.ref.WeakReference
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.isActive
import kotlin.time.Duration

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

/**
 * Fails this delivery: redelivered no earlier than [delay] from now (whole milliseconds), or
 * dead-lettered on the last attempt, keeping [error] as its `lastError`. A negative or infinite [delay]
 * is `IllegalArgumentException`.
 *
 * ```
 * msg.nack(30.seconds, error = "the payment service is down")
 * ```
 */
suspend fun Message.nack(delay: Duration, error: String? = null) =
    lease.nack(NackOptions(delayMs = delay.wholeMs("delay"), error = error))

/** Fails this delivery with [options] (`lease.nack(options)`). */
suspend fun Message.nack(options: NackOptions) = lease.nack(options)

/** Extends the lease to [ms] from now (`lease.extend(ms)`). */
suspend fun Message.extend(ms: ULong) = lease.extend(ms)

/**
 * Extends the lease to [by] from now (whole milliseconds; the heartbeat keeps extending it afterwards).
 * A negative or infinite [by] is `IllegalArgumentException`.
 */
suspend fun Message.extend(by: Duration) = lease.extend(by.wholeMs("extend"))

/** Extends the lease to [by] from now (whole milliseconds), as `extend(ms)` does. */
suspend fun Lease.extend(by: Duration) = extend(by.wholeMs("extend"))

/** Hands the message back unfinished for prompt redelivery (`lease.release()`); nothing once finished. */
fun Message.release() = lease.release()

/** Whether this handle can no longer ack or nack (finished, released or lost). */
val Message.isFinished: Boolean get() = lease.isFinished()

/** Whether `queue.cancel()` was called on the message while it was held. */
val Message.isCancelled: Boolean get() = lease.isCancelled()

/**
 * Whether the heartbeat found the lease lost (it expired and the message went to another worker, or the
 * message was dead-lettered or deleted): an ack or nack now fails with `LeaseLost`. Stop working on it.
 */
val Message.isLeaseLost: Boolean get() = lease.isLeaseLost()

/**
 * Suspends until the message is cancelled while held (true), or until it is finished or released
 * (false). Cancel the calling coroutine to stop waiting.
 */
suspend fun Message.awaitCancelled(): Boolean = lease.cancelled()

/** The body decoded as UTF-8 (malformed bytes become U+FFFD). */
val Message.text: String get() = body.decodeToString()

// ---------------------------------------------------------------------------------------------------
// Queue.messages()

/**
 * The queue's messages as a cold [Flow]: each collection creates its own receiver (with [options]) and
 * emits one message at a time. The flow completes when the client is closed.
 *
 * **Each message it emits belongs to whoever receives it** until it is acked, nacked or released (or its
 * lease is lost): the flow never releases a message because the next one was requested, so the collector
 * may hand it to another coroutine (`buffer()`, `flowOn()`, `flatMapMerge`, `launch`) and finish it there.
 * At most `options.batchSize` messages are unfinished at once: the flow waits for one to be finished
 * before it emits another, so set `batchSize` to the concurrency you want downstream. A message nobody
 * finishes (its handle dropped) is released when the garbage collector reclaims it, and holds a slot of
 * `batchSize` until then.
 *
 * When collection ends, the flow stops its receiver and releases what it had leased but not emitted. If
 * it ends by an exception or by the cancellation of the coroutine that runs it (the collecting job
 * cancelled; behind `buffer()` or `flowOn()`, also the downstream ending early), it also releases every
 * message it emitted that is still unfinished, for prompt redelivery. Ended early by `first()` or
 * `take(n)` directly on it, it leaves the messages they took to the caller.
 *
 * A lost connection never ends the flow: the receiver retries, and tells [onError] (when given, in place
 * of `options.onError`; see [ReceiveErrorHandler]) of each error it recovered from.
 *
 * ```
 * queue.messages(onError = { e -> log.warn("pgmq: ${e.code}: ${e.reason}") }).collect { msg -> handle(msg.body); msg.ack() }
 *
 * // Four at a time, each finished in a coroutine of its own:
 * queue.messages(ReceiveOptions(batchSize = 4u)).buffer(4).collect { msg -> scope.launch { handle(msg); msg.ack() } }
 * ```
 */
fun Queue.messages(options: ReceiveOptions = ReceiveOptions(), onError: ((PgmqException) -> Unit)? = null): Flow<Message> = flow {
    val receiver = receiver(if (onError == null) options else options.copy(onError = ReceiveErrorHandler(onError)))
    // What this flow emitted and may have to release; weakly, so that a message the collector dropped
    // unfinished can still be collected (its release then frees the receiver's slot).
    val emitted = ArrayList<WeakReference<Lease>>()
    try {
        while (true) {
            val message = receiver.next() ?: break
            emitted.removeAll { ref -> ref.get()?.let { runCatching { it.isFinished() }.getOrDefault(true) } ?: true }
            emitted += WeakReference(message.lease)
            emit(message)
        }
    } catch (e: Throwable) {
        // `first()` / `take()` end the collection with a CancellationException while the collecting
        // coroutine is still active: what they took is the caller's. Any other end hands back what was
        // not finished.
        if (e !is CancellationException || !currentCoroutineContext().isActive) {
            for (ref in emitted) ref.get()?.let { runCatching { it.release() } }
        }
        throw e
    } finally {
        receiver.stop()
        receiver.close()
    }
}
