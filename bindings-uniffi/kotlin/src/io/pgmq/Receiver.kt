// Hand-written Kotlin over the generated bindings: `Receiver.next()` and `Receiver.nextBatch()`, which
// interrupt their native call when the caller is cancelled, so that nothing stays leased on its behalf.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.async
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.withContext

/**
 * Suspends until a message is leased; `null` once the receiver or its client is closed. Cancelling the
 * caller releases what the call had leased: the message is redelivered at once. With `batchSize` > 1
 * the rest of a claim is kept for the next calls.
 */
suspend fun Receiver.next(): Message? = interruptible({ nextNative(it) }) { it?.release() }

/**
 * Suspends until at least one message is leased and returns every message of that claim (empty once
 * the receiver or its client is closed). Cancelling the caller releases what the call had leased.
 */
suspend fun Receiver.nextBatch(): List<Message> =
    interruptible({ nextBatchNative(it) }) { batch -> batch.forEach { it.release() } }

/**
 * Runs [call] in a job of its own that is never cancelled, and returns its result. uniffi hands a
 * native call's result over once the Rust call has finished, and a coroutine cancelled in that moment
 * drops it unread: the leases in it would stay held, extended by the heartbeat, for as long as the
 * client is open. So a cancelled caller interrupts the call instead (it returns at once; a claim in
 * flight is released in Rust), waits for it, and [release]s whatever it still returned, before
 * rethrowing.
 */
private suspend fun <T> interruptible(call: suspend (Interrupt) -> T, release: (T) -> Unit): T =
    Interrupt().use { interrupt ->
        // UNDISPATCHED: the native call has started when the caller first suspends.
        val native = CoroutineScope(currentCoroutineContext().minusKey(Job))
            .async(start = CoroutineStart.UNDISPATCHED) { call(interrupt) }
        try {
            native.await()
        } catch (e: CancellationException) {
            interrupt.interrupt()
            withContext(NonCancellable) { runCatching { native.await() }.onSuccess(release) }
            throw e
        }
    }
