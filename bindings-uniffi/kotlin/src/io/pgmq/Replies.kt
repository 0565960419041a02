// Hand-written Kotlin over the generated bindings: results and request/reply. A worker finishes a message
// with a result (`msg.ack(result)`, `msg.ackJson(json)`, `msg.ack(value, serializer)`); whoever waits for
// its completion gets it in a `Reply` (`sent.reply()`, `batch.replies()`); `queue.request()` sends and
// waits in one call.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

// ---------------------------------------------------------------------------------------------------
// Message: finish it with a result

/**
 * Completes the message with [result] (`lease.ackWithResult`): as [ack], and the outcome record keeps
 * the bytes and their [contentType] (`null`: unlabelled) for the queue's retention period, for whoever
 * waits for the completion ([SentMessage.reply], [Queue.request], in any language).
 *
 * Only a tracked message keeps a result: for one sent with `track = false` this is a plain ack, and one
 * cancelled while held keeps its `CANCELLED` outcome and no result. Errors as for [ack], and
 * `PgmqException.InvalidOption` for a result over `DEFAULTS.limits.maxSendBytes` or a content type that
 * is empty or holds a NUL character: nothing is done, and the message stays held (ack it again).
 *
 * ```
 * msg.ack(thumbnail, contentType = "image/png")
 * ```
 */
suspend fun Message.ack(result: ByteArray, contentType: String? = null) = lease.ackWithResult(result, contentType)

/** Completes the message with [result] as its UTF-8 bytes, labelled [contentType] (`null`: unlabelled), as `ack(ByteArray)`. */
suspend fun Message.ack(result: String, contentType: String? = null) =
    lease.ackWithResult(result.encodeToByteArray(), contentType)

/**
 * Completes the message with [value] encoded by [serializer] as its result, labelled with the
 * serializer's content type (see [Serializer]); otherwise as `ack(ByteArray)`. What the serializer
 * throws reaches the caller, and the message stays held.
 */
suspend fun <T> Message.ack(value: T, serializer: Serializer<T>) =
    lease.ackWithResult(serializer.encode(value), serializer.contentType)

/**
 * Completes the message with JSON text (its UTF-8 bytes, which must be JSON) as its result, labelled
 * `application/json`, which `reply.json()` reads in every language: `msg.ackJson("""{"total": 42}""")`.
 * Otherwise as `ack(ByteArray)`.
 */
suspend fun Message.ackJson(json: String) = ack(json, JsonText)

// ---------------------------------------------------------------------------------------------------
// Reply: read the result

/** The result decoded as UTF-8 (malformed bytes become U+FFFD); `null` when there is none. */
val Reply.text: String? get() = result?.decodeToString()

/**
 * The result decoded by [serializer], under the rule of `message.decode()`: an unlabelled result is
 * decoded too, one labelled with another content type is [ContentTypeException], undecoded.
 * `PgmqException.InvalidOption` when there is no result (acked without one, or [Reply.outcome] is not
 * `COMPLETED`).
 */
fun <T> Reply.decode(serializer: Serializer<T>): T {
    val bytes = result
        ?: throw PgmqException.InvalidOption("invalid option: reply.decode(): the message finished (${outcome.name.lowercase()}) without a result")
    val label = contentType?.let { mapOf(CONTENT_TYPE_ATTRIBUTE to AttributeValue.Text(it)) } ?: emptyMap()
    return decoded(bytes, label, serializer, "reply.decode()")
}

/**
 * The result as JSON text, for the JSON library of your choice: one given as JSON by any language
 * (`msg.ackJson()`, Python's `message.ack(result={...})`, Node's `msg.ackJson(value)`), or unlabelled.
 * [ContentTypeException] if it is labelled as another encoding, `CharacterCodingException` if it is not
 * UTF-8, `PgmqException.InvalidOption` if there is no result.
 */
fun Reply.json(): String = decode(JsonText)

// ---------------------------------------------------------------------------------------------------
// Waiting for replies

/**
 * Waits for the message's reply, re-reading every [pollInterval] in case a notification was lost (see
 * [SentMessage.completed]).
 */
suspend fun SentMessage.reply(pollInterval: Duration): Reply = reply(pollInterval.wholeMs("pollInterval"))

/** Waits until every message has an outcome: id -> its [Reply], re-reading every [pollInterval]. */
suspend fun SentBatch.replies(pollInterval: Duration): Map<String, Reply> = replies(pollInterval.wholeMs("pollInterval"))

// ---------------------------------------------------------------------------------------------------
// Queue.request()

/** How long a request waits for its reply by default: the core's `DEFAULTS.request.timeout`, 30 s. */
val RequestDefaults.timeout: Duration get() = timeoutMs.toLong().milliseconds

/**
 * Sends [message] (tracked) and waits for its reply: request/reply over a queue. A worker in any language
 * answers with `msg.ack(result)` / `msg.ackJson(json)` (Python `message.ack(result=...)`, Node
 * `msg.ack(result)`); the [Reply]'s outcome is then `COMPLETED` and its result the worker's (`null` if
 * it acked without one).
 *
 * Errors, besides those of `send`:
 * - `PgmqException.RequestFailed` (with the request's `id` and its `outcome`) when the request was
 *   dead-lettered, cancelled or expired instead;
 * - `PgmqException.Timeout` when no reply came within [timeout] (default `DEFAULTS.request.timeout`,
 *   30 s): the request was then cancelled, so no worker starts it later, and a worker holding it is
 *   signalled (`msg.awaitCancelled()`) and its late reply dropped. A request that finished meanwhile
 *   returns its reply instead;
 * - `PgmqException.InvalidOption` for a zero timeout (or one under a millisecond) or one over 100 years,
 *   before anything is sent; `IllegalArgumentException` for a negative or infinite one.
 *
 * Cancelling the calling coroutine (`withTimeout`, `job.cancel()`) stops the wait but leaves the request
 * queued: a worker may still process it, and nobody reads its reply. Bound the wait with [timeout]
 * instead, which cancels the request; or send and wait yourself (`queue.send()`, `sent.reply()`) to
 * keep the id and `queue.cancel()` it.
 *
 * ```
 * val reply = queue.requestJson("""{"a": 2, "b": 3}""", timeout = 5.seconds)
 * println(reply.json()) // what the worker acked with, e.g. {"sum": 5}
 * ```
 */
suspend fun Queue.request(message: OutgoingMessage, timeout: Duration): Reply =
    request(message, timeout.wholeMs("timeout"))

/** Sends [body] as it is (with [attributes]) and waits for its reply, as `request(OutgoingMessage, timeout)`. */
suspend fun Queue.request(
    body: ByteArray,
    timeout: Duration = DEFAULTS.request.timeout,
    attributes: Map<String, AttributeValue> = emptyMap(),
): Reply = request(OutgoingMessage(body, attributes), timeout)

/** Sends [body] as its UTF-8 bytes, unlabelled (as `send(String)`), and waits for its reply, as `request(OutgoingMessage, timeout)`. */
suspend fun Queue.request(
    body: String,
    timeout: Duration = DEFAULTS.request.timeout,
    attributes: Map<String, AttributeValue> = emptyMap(),
): Reply = request(OutgoingMessage(body.encodeToByteArray(), attributes), timeout)

/**
 * Sends [value] encoded by [serializer], labelled with its content type (as `send(value, serializer)`:
 * `PgmqException.InvalidOption` if [attributes] name another one, and nothing is sent), and waits for
 * its reply, as `request(OutgoingMessage, timeout)`.
 */
suspend fun <T> Queue.request(
    value: T,
    serializer: Serializer<T>,
    timeout: Duration = DEFAULTS.request.timeout,
    attributes: Map<String, AttributeValue> = emptyMap(),
): Reply = request(OutgoingMessage(serializer.encode(value), withContentType(attributes, serializer)), timeout)

/**
 * Sends JSON text labelled `application/json` (as `sendJson`) and waits for its reply, as
 * `request(OutgoingMessage, timeout)`: `queue.requestJson("""{"n": 2}""").json()`.
 */
suspend fun Queue.requestJson(
    json: String,
    timeout: Duration = DEFAULTS.request.timeout,
    attributes: Map<String, AttributeValue> = emptyMap(),
): Reply = request(json, JsonText, timeout, attributes)
