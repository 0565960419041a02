// Hand-written Kotlin over the generated bindings: the transactional send (outbox) on the application's
// own JDBC connection, with the core's statements (`outboxStatement`) and its SQLSTATE map.
@file:JvmName("PgmqExtras")
@file:JvmMultifileClass

package io.pgmq

import java.sql.Connection
import java.sql.PreparedStatement
import java.sql.SQLException
import java.sql.Types
import java.time.Instant
import java.time.OffsetDateTime
import java.time.ZoneOffset
import java.util.UUID
import kotlin.time.Duration
import kotlin.time.DurationUnit

/**
 * Sends messages inside the application's own database transaction (the transactional outbox): the
 * message is written by the same `java.sql.Connection` that writes the application's rows, so it is
 * delivered if and only if that transaction commits. Receivers are woken at commit (PostgreSQL holds a
 * transaction's notifications until then, and folds the identical ones into one: a thousand sends in one
 * transaction wake a receiver once); a rollback leaves no message and no wake-up.
 *
 * Each call is one `PreparedStatement` calling pgmq's SQL function (`pgmq.send`, `pgmq.send_json`,
 * `pgmq.send_batch`, `pgmq.send_json_batch`) with `?` placeholders; the statement text is the core's
 * ([outboxStatement]), the same in every language. Only `java.sql` is used: any JDBC driver for
 * PostgreSQL works (pgjdbc, or a pool's wrapper of its connections), and pgmq does not depend on one.
 * The connection's user needs pgmq's producer grant (`pgmq.grant_producer`); the schema must be
 * migrated (`client.migrate()`, or the migrations run by your deployment).
 *
 * Errors: [PgmqException.QueueNotFound] for an unknown queue, [PgmqException.InvalidOption] for an
 * option the SQL function refuses (both a [delay] and a [scheduleAt], a negative delay, a body over the
 * core's `maxSendBytes`, a `content-type` that is not JSON on a JSON send), [PgmqException.QueueFull]
 * for a bounded queue without room for the whole send (the SQL send never waits for room); nothing is
 * written, the original `SQLException` is the cause, and, as after any failed statement, the transaction
 * is aborted until the caller rolls it back (or to a savepoint). Other `SQLException`s pass through as
 * they are.
 *
 * ```
 * // not run: needs the application's JDBC connection
 * connection.autoCommit = false
 * connection.prepareStatement("INSERT INTO orders (id, total) VALUES (?, ?)").use { it.setLong(1, 42); it.setDouble(2, 9.5); it.executeUpdate() }
 * val id = Outbox.sendJson(connection, "order-events", """{"order": 42}""")
 * connection.commit()   // the order and its event, or neither
 * ```
 */
object Outbox {
    /**
     * The SQLSTATEs pgmq's SQL functions raise, with the core's error code of each
     * (`{"PQ001": "queue_not_found", "PQ002": "invalid_option", "PQ003": "queue_full"}`): read from the core
     * ([outboxSqlstates]), as every language's outbox helper reads them.
     */
    val SQLSTATES: Map<String, String> by lazy { outboxSqlstates() }

    /**
     * Sends [body] to [queue] in [connection]'s current transaction and returns the message's id (a
     * UUIDv7: ids of later sends sort after earlier ones). [attributes]: as `SendOptions.attributes`.
     * [delay] (to the microsecond; infinite: `IllegalArgumentException`) or [scheduleAt], not both: when
     * the message becomes ready. [track]:
     * record its outcome so that it can be awaited by id (`queue.waitForCompletion(listOf(id.toString()))`).
     * [schema]: the schema pgmq lives in, when a client's `ClientOptions.schema` chose another than `pgmq`.
     *
     * With auto-commit on, the message is committed by this call alone.
     */
    fun send(
        connection: Connection,
        queue: String,
        body: ByteArray,
        attributes: Map<String, AttributeValue> = emptyMap(),
        delay: Duration? = null,
        scheduleAt: Instant? = null,
        track: Boolean = DEFAULTS.send.track,
        schema: String? = null,
    ): UUID = one(connection, OutboxKind.SEND, queue, schema) { st ->
        st.setBytes(2, body)
        st.setString(3, attributesJson(attributes))
        bindTiming(st, delay, scheduleAt, track)
    }

    /**
     * Sends [value] encoded by [serializer], labelled with the serializer's content type (as
     * `queue.send(value, serializer)` does); [attributes] naming another content type are
     * [PgmqException.InvalidOption] and nothing is sent. Otherwise as [send].
     */
    fun <T> send(
        connection: Connection,
        queue: String,
        value: T,
        serializer: Serializer<T>,
        attributes: Map<String, AttributeValue> = emptyMap(),
        delay: Duration? = null,
        scheduleAt: Instant? = null,
        track: Boolean = DEFAULTS.send.track,
        schema: String? = null,
    ): UUID = send(connection, queue, serializer.encode(value), withContentType(attributes, serializer), delay, scheduleAt, track, schema)

    /**
     * Sends JSON text (stored as its UTF-8 bytes, labelled `content-type: application/json`, so that
     * `message.json()` reads it in every language). The server parses it: text that is not JSON is an
     * `SQLException` (SQLSTATE 22P02). Otherwise as [send].
     */
    fun sendJson(
        connection: Connection,
        queue: String,
        json: String,
        attributes: Map<String, AttributeValue> = emptyMap(),
        delay: Duration? = null,
        scheduleAt: Instant? = null,
        track: Boolean = DEFAULTS.send.track,
        schema: String? = null,
    ): UUID = one(connection, OutboxKind.SEND_JSON, queue, schema) { st ->
        st.setString(2, json)
        st.setString(3, attributesJson(attributes))
        bindTiming(st, delay, scheduleAt, track)
    }

    /**
     * Sends [messages] in one statement and returns their ids in the same order (increasing). The
     * options apply to every message; an empty list sends nothing and returns an empty list.
     */
    fun sendBatch(
        connection: Connection,
        queue: String,
        messages: List<OutgoingMessage>,
        delay: Duration? = null,
        scheduleAt: Instant? = null,
        track: Boolean = DEFAULTS.send.track,
        schema: String? = null,
    ): List<UUID> = many(connection, OutboxKind.SEND_BATCH, queue, schema) { st ->
        st.setArray(2, connection.createArrayOf("bytea", messages.map { it.body }.toTypedArray()))
        bindAttributesArray(connection, st, messages.map { it.attributes }.takeUnless { all -> all.all { it.isEmpty() } })
        bindTiming(st, delay, scheduleAt, track)
    }

    /**
     * Sends JSON texts in one statement (each as [sendJson] does), with [attributes] per message (`null`:
     * none; else one map per text, `InvalidOption` otherwise). Returns the ids in order.
     */
    fun sendJsonBatch(
        connection: Connection,
        queue: String,
        json: List<String>,
        attributes: List<Map<String, AttributeValue>>? = null,
        delay: Duration? = null,
        scheduleAt: Instant? = null,
        track: Boolean = DEFAULTS.send.track,
        schema: String? = null,
    ): List<UUID> = many(connection, OutboxKind.SEND_JSON_BATCH, queue, schema) { st ->
        st.setArray(2, connection.createArrayOf("text", json.toTypedArray()))
        bindAttributesArray(connection, st, attributes)
        bindTiming(st, delay, scheduleAt, track)
    }

    /**
     * The pgmq error an `SQLException` from pgmq's SQL functions stands for: [PgmqException.QueueNotFound],
     * [PgmqException.InvalidOption] or [PgmqException.QueueFull] by its SQLSTATE ([SQLSTATES]), with [e] as its cause; `null` for
     * any other. For callers that run the statements themselves (`outboxStatement`).
     */
    fun exceptionOf(e: SQLException): PgmqException? {
        val state = generateSequence<Throwable>(e) { it.cause }.filterIsInstance<SQLException>()
            .firstNotNullOfOrNull { it.sqlState?.takeIf(SQLSTATES::containsKey) } ?: return null
        val text = e.message.orEmpty()
        // pgjdbc prefixes the server's text ("ERROR: pgmq: ...") and appends its context lines.
        val reason = text.substring(text.indexOf("pgmq: ").coerceAtLeast(0)).lineSequence().first()
        return try {
            outboxError(state, reason)
            null
        } catch (p: PgmqException) {
            p.initCause(e)
            p
        }
    }

    private fun <R> execute(connection: Connection, kind: OutboxKind, queue: String, schema: String?, bind: (PreparedStatement) -> Unit, read: (Any?) -> R): R {
        val sql = statements.getOrPut(kind to schema) { outboxStatement(kind, schema, ParamStyle.QUESTION_MARK) }
        try {
            connection.prepareStatement(sql).use { st ->
                st.setString(1, queue)
                bind(st)
                st.executeQuery().use { rs ->
                    check(rs.next()) { "pgmq: ${kind.name.lowercase()} returned no row" }
                    return read(rs.getObject(1))
                }
            }
        } catch (e: SQLException) {
            throw exceptionOf(e) ?: e
        }
    }

    private fun one(connection: Connection, kind: OutboxKind, queue: String, schema: String?, bind: (PreparedStatement) -> Unit): UUID =
        execute(connection, kind, queue, schema, bind) { uuid(it) }

    private fun many(connection: Connection, kind: OutboxKind, queue: String, schema: String?, bind: (PreparedStatement) -> Unit): List<UUID> =
        execute(connection, kind, queue, schema, bind) { value ->
            val array = value as? java.sql.Array ?: error("pgmq: expected an array of ids, got $value")
            try {
                (array.array as Array<*>).map(::uuid)
            } finally {
                runCatching { array.free() }
            }
        }

    /** A statement per kind and schema, built once by the core. */
    private val statements = java.util.concurrent.ConcurrentHashMap<Pair<OutboxKind, String?>, String>()

    private fun uuid(value: Any?): UUID = value as? UUID ?: UUID.fromString(value.toString())

    /** Parameters 4 to 6: the delay in seconds, the instant, tracking. */
    private fun bindTiming(st: PreparedStatement, delay: Duration?, scheduleAt: Instant?, track: Boolean) {
        require(delay == null || delay.isFinite()) { "delay must be a finite duration, got $delay" }
        if (delay == null) st.setNull(4, Types.DOUBLE) else st.setDouble(4, delay.toDouble(DurationUnit.SECONDS))
        if (scheduleAt == null) {
            st.setNull(5, Types.TIMESTAMP_WITH_TIMEZONE)
        } else {
            st.setObject(5, OffsetDateTime.ofInstant(scheduleAt, ZoneOffset.UTC), Types.TIMESTAMP_WITH_TIMEZONE)
        }
        st.setBoolean(6, track)
    }

    /** Parameter 3 of a batch: each message's attributes as JSON text, or NULL (none has any). */
    private fun bindAttributesArray(connection: Connection, st: PreparedStatement, attributes: List<Map<String, AttributeValue>>?) {
        if (attributes == null) {
            st.setNull(3, Types.ARRAY)
        } else {
            st.setArray(3, connection.createArrayOf("text", attributes.map(::attributesJson).toTypedArray()))
        }
    }
}
