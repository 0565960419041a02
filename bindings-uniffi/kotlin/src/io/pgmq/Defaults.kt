// Hand-written Kotlin over the generated bindings: the core's table of defaults (`DEFAULTS`), and the
// options as builders that take `kotlin.time.Duration`s, whose defaults are read from that table (uniffi
// gives the generated records literal defaults only; the tests hold those to the table too).
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

import java.time.Instant
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/**
 * Every default and limit of the public API, read once from the core (`pgmq_core::DEFAULTS`, the same
 * table Python's `pgmq.DEFAULTS` and Node's `DEFAULTS` come from): `DEFAULTS.queue.ackDeadlineMs`,
 * `DEFAULTS.completion.pollIntervalMs`, `DEFAULTS.limits.maxQueueNameLen`, ...
 */
val DEFAULTS: Defaults by lazy { defaults() }

/** The attribute that says how a body is encoded, `content-type`: the core's name in every language. */
val CONTENT_TYPE_ATTRIBUTE: String get() = DEFAULTS.conventions.contentTypeAttribute

/** Its value for a body of UTF-8 JSON text, `application/json`: what every language's JSON send sets. */
val JSON_CONTENT_TYPE: String get() = DEFAULTS.conventions.jsonContentType

/** Whole milliseconds of a duration given for [what]: `IllegalArgumentException` if negative or infinite. */
internal fun Duration.wholeMs(what: String): ULong {
    require(!isNegative() && isFinite()) { "$what must be a finite duration >= 0, got $this" }
    return inWholeMilliseconds.toULong()
}

private fun ms(value: ULong): Duration = value.toLong().milliseconds

/**
 * [QueueOptions] with durations; every default is the core's ([DEFAULTS]`.queue`): a 10 s ack deadline,
 * 10 deliveries, 7 days' retention, a dead-letter queue `dlq@<name>` ([deadLetterQueue]: its settings,
 * `null` for the defaults), no backoff, unbounded. [maxMessages] bounds the queue: at most that many
 * messages, ready, scheduled and leased together (a send that would exceed it waits for room or fails
 * with `PgmqException.QueueFull`: see [sendOptions]' `waitForRoom`; `Queue.setMaxMessages` changes it).
 * An ack deadline under 1 s, a bound of 0 and other out-of-range values are `InvalidOption` from
 * `createQueue`; a negative duration is `IllegalArgumentException` here.
 *
 * ```
 * client.createQueue("emails", queueOptions(ackDeadline = 30.seconds, backoff = backoff(max = 5.minutes)))
 * client.createQueue("thumbnails", queueOptions(maxMessages = 10_000u))
 * ```
 */
fun queueOptions(
    ackDeadline: Duration = ms(DEFAULTS.queue.ackDeadlineMs),
    maxDeliveryAttempts: UInt = DEFAULTS.queue.maxDeliveryAttempts,
    retentionPeriod: Duration = ms(DEFAULTS.queue.retentionPeriodMs),
    deadLetterQueue: DeadLetterQueueOptions? = null,
    createDeadLetterQueue: Boolean = DEFAULTS.queue.deadLetterQueue,
    backoff: Backoff? = if (DEFAULTS.queue.backoff) backoff() else null,
    maxMessages: ULong? = DEFAULTS.queue.maxMessages,
): QueueOptions = QueueOptions(
    ackDeadlineMs = ackDeadline.wholeMs("ackDeadline"),
    maxDeliveryAttempts = maxDeliveryAttempts,
    retentionPeriodMs = retentionPeriod.wholeMs("retentionPeriod"),
    deadLetterQueue = deadLetterQueue,
    createDeadLetterQueue = createDeadLetterQueue,
    backoff = backoff,
    maxMessages = maxMessages,
)

/** [DeadLetterQueueOptions] with durations; the defaults are the core's ([DEFAULTS]`.deadLetterQueue`). */
fun deadLetterQueueOptions(
    ackDeadline: Duration = ms(DEFAULTS.deadLetterQueue.ackDeadlineMs),
    maxDeliveryAttempts: UInt = DEFAULTS.deadLetterQueue.maxDeliveryAttempts,
    retentionPeriod: Duration = ms(DEFAULTS.deadLetterQueue.retentionPeriodMs),
): DeadLetterQueueOptions = DeadLetterQueueOptions(
    ackDeadlineMs = ackDeadline.wholeMs("ackDeadline"),
    maxDeliveryAttempts = maxDeliveryAttempts,
    retentionPeriodMs = retentionPeriod.wholeMs("retentionPeriod"),
)

/**
 * A queue's [Backoff] with durations: the delay of a nack that gives none is
 * `min(base * factor^(attempt - 1), max)`, scaled by a random factor in `[0.5, 1]` with [jitter]. The
 * defaults are the core's ([DEFAULTS]`.backoff`): 1 s, doubling, up to 10 min, jittered.
 */
fun backoff(
    base: Duration = ms(DEFAULTS.backoff.baseMs),
    factor: Double = DEFAULTS.backoff.factor,
    max: Duration = ms(DEFAULTS.backoff.maxMs),
    jitter: Boolean = DEFAULTS.backoff.jitter,
): Backoff = Backoff(baseMs = base.wholeMs("base"), factor = factor, maxMs = max.wholeMs("max"), jitter = jitter)

/**
 * [ClientOptions] with durations; the defaults are the core's ([DEFAULTS]`.client`, as
 * [defaultClientOptions]): 10 pooled connections, a 10 s connect timeout, a 60 s statement timeout, no
 * connect retry, housekeeping offered every second. See [ClientOptions] for what each one does.
 */
fun clientOptions(
    listenDsn: String? = null,
    poolSize: UInt = DEFAULTS.client.poolSize.toUInt(),
    connectTimeout: Duration = ms(DEFAULTS.client.connectTimeoutMs),
    applicationName: String? = null,
    statementTimeout: Duration = ms(DEFAULTS.client.statementTimeoutMs),
    statementCache: Boolean? = null,
    connectRetry: Duration = ms(DEFAULTS.client.connectRetryMs),
    schema: String? = null,
    maintenanceInterval: Duration = ms(DEFAULTS.client.maintenanceIntervalMs),
): ClientOptions = ClientOptions(
    listenDsn = listenDsn,
    poolSize = poolSize,
    connectTimeoutMs = connectTimeout.wholeMs("connectTimeout"),
    applicationName = applicationName,
    statementTimeoutMs = statementTimeout.wholeMs("statementTimeout"),
    statementCache = statementCache,
    connectRetryMs = connectRetry.wholeMs("connectRetry"),
    schema = schema,
    maintenanceIntervalMs = maintenanceInterval.wholeMs("maintenanceInterval"),
)

/**
 * [ReceiveOptions] with durations; the defaults are the core's ([DEFAULTS]`.receive`): one message at a
 * time, a 30 s safety-net re-read. [onError] is told of each connection error the receiver recovered
 * from (see [ReceiveErrorHandler]).
 */
fun receiveOptions(
    batchSize: UInt = DEFAULTS.receive.batchSize.toUInt(),
    filter: Filter? = null,
    pollInterval: Duration = ms(DEFAULTS.receive.pollIntervalMs),
    onError: ((PgmqException) -> Unit)? = null,
): ReceiveOptions = ReceiveOptions(
    batchSize = batchSize,
    filter = filter,
    pollIntervalMs = pollInterval.wholeMs("pollInterval"),
    onError = onError?.let(::ReceiveErrorHandler),
)

/**
 * [SendOptions] with a [delay] (whole milliseconds) or a [scheduleAt] instant (not both:
 * `InvalidOption` from the send); [track] defaults to the core's ([DEFAULTS]`.send.track`, true).
 *
 * [waitForRoom]: for a bounded queue (`queueOptions(maxMessages = ...)`) without room for the whole send,
 * how long to wait for room (woken as soon as workers finish messages) before the send fails with
 * `PgmqException.QueueFull`, having written nothing. `null`: the core's default,
 * [DEFAULTS]`.send.waitForRoom` (30 s); `Duration.ZERO`: fail at once (shed the load). Cancelling the
 * sending coroutine while it waits sends nothing (a send the cancellation finds already written stays
 * sent, as with any call cancelled after it took effect). Unbounded queues ignore it.
 *
 * [group]: the job group the messages join (every message of a batch): 1 to
 * [DEFAULTS]`.limits.maxGroupLen` bytes of UTF-8 without NUL, else `InvalidOption` from the send. The
 * group's messages, in any queue, are then cancelled, awaited and counted together
 * (`client.cancelGroup(g)`, `waitForGroup(g)`, `groupStats(g)`, and the same on a queue for its own). A
 * grouped message is tracked: `track = false` with a group is `InvalidOption`, and nothing is sent.
 *
 * [dependsOn]: ids of messages already sent (`sent.id()`, `batch.ids()`; in any queue) that every message
 * of this send depends on. Each waits, never claimed (`MessageState.WAITING` in `peek`), until all of
 * them have completed; if one is dead-lettered, cancelled or expires instead, it is cancelled, with
 * `Reply.reason` `dependency <id> was <outcome>`, and so is whatever depends on it. Within one
 * `sendBatch`, entries depend on earlier entries with `OutgoingMessage.after`. `InvalidOption` from the
 * send, nothing written: an id that is not a UUID, unknown, untracked or already finished other than
 * completed; `track = false`; more than [DEFAULTS]`.limits.maxDependencies` per message.
 *
 * ```
 * queue.send("photo-3.jpg", sendOptions(waitForRoom = Duration.ZERO)) // QueueFull at once if full
 * val sent = queue.sendBatch(pages, sendOptions(group = importId))
 * report.send("summary", sendOptions(dependsOn = sent.ids())) // once every page has completed
 * ```
 */
fun sendOptions(
    delay: Duration? = null,
    scheduleAt: Instant? = null,
    attributes: Map<String, AttributeValue> = emptyMap(),
    track: Boolean = DEFAULTS.send.track,
    waitForRoom: Duration? = null,
    group: String? = null,
    dependsOn: List<String> = emptyList(),
): SendOptions = SendOptions(
    delayMs = delay?.wholeMs("delay"),
    scheduleAt = scheduleAt,
    attributes = attributes,
    track = track,
    waitForRoomMs = waitForRoom?.wholeMs("waitForRoom"),
    group = group,
    dependsOn = dependsOn,
)

/**
 * How long a send to a full bounded queue waits for room by default (`SendOptions.waitForRoomMs` left
 * `null`): the core's `DEFAULTS.send.wait_for_room`, 30 s.
 */
val SendDefaults.waitForRoom: Duration get() = ms(waitForRoomMs)

/** How long [SendOptions.waitForRoomMs] waits when set, as a `Duration` (`null`: the default, [SendDefaults.waitForRoom]). */
val SendOptions.waitForRoom: Duration? get() = waitForRoomMs?.let(::ms)

/** The queue's lease length. */
val QueueInfo.ackDeadline: Duration get() = ms(ackDeadlineMs)

/** How long the queue keeps an unconsumed message. */
val QueueInfo.retentionPeriod: Duration get() = ms(retentionPeriodMs)

/** How long the queue's oldest ready message has waited (`null`: none is ready). */
val QueueOverview.oldestReadyAge: Duration? get() = oldestReadyAgeMs?.let(::ms)

/**
 * Waits for the message's outcome, re-reading every [pollInterval] in case a notification was lost
 * (NOTIFY does the real waking; the default is `DEFAULTS.completion.pollIntervalMs`, 10 s).
 */
suspend fun SentMessage.completed(pollInterval: Duration): Outcome = completed(pollInterval.wholeMs("pollInterval"))

/** Waits until every message has an outcome, re-reading every [pollInterval] (see [SentMessage.completed]). */
suspend fun SentBatch.completed(pollInterval: Duration): Map<String, Outcome> = completed(pollInterval.wholeMs("pollInterval"))

/** Waits until every message of [ids] has an outcome, re-reading every [pollInterval] (see [SentMessage.completed]). */
suspend fun Queue.waitForCompletion(ids: List<String>, pollInterval: Duration): Map<String, Outcome> =
    waitForCompletion(ids, pollInterval.wholeMs("pollInterval"))
